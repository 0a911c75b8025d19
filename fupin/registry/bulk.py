"""Many households into the registry at once: every row validated first, then one write.

`services.import_households` is the way in (permission, all-or-nothing, one transaction);
it hands the work to `Import`, which runs in two phases:

1. **validate** — records are taken a chunk at a time; each chunk's values are checked
   column by column with the same compiled rules as the single-record services
   (`validation.HOUSEHOLD`, `MEMBER`, `INCOME`: a distinct raw value is converted once per
   column), households are matched against the registry, and every error of every row is
   collected. Nothing is written; the validated data is kept as compact tuples.
2. **write** — only when no row has an error: households, members and incomes are inserted
   or updated with one statement per batch of rows (`_Writer`), computed fields are worked
   out in Python, the data-quality rules run in bulk (`quality.refresh_many`) and one audit
   entry per household created or changed is chained with `audit.record_many`.

Matching, so that importing the same file again updates instead of duplicating:

- a household by its number (`code`) when the record gives one, else by its head's
  resident ID (normalised: full-width digits, 15-digit IDs) among the *current* heads of
  households in the user's area — a head registered outside the area is not matched (the
  user may not see it) and the data-quality rule "registered twice" will list it;
- a member by resident ID within the household (changed or added; members on record but
  absent from the file are left as they are, with a warning);
- income by year.

A column the record does not have (a key absent from its dict) keeps the recorded value of
a matched record and takes the field's default in a new one; an empty cell means the
field's default (see `validation`).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.core import audit
from fupin.core.bulkwrite import TableWriter, batched
from fupin.core.fields import CodeListField
from fupin.core.scoping import user_can_reach
from fupin.core.validators import (
    ResidentId,
    mask_id_number,
    normalize_id_number,
    upgrade_15_to_18,
)
from fupin.registry import enums, quality, validation
from fupin.registry.models import Household, HouseholdIncome, Member
from fupin.registry.validation import (
    HOUSEHOLD,
    HOUSEHOLD_FIELDS,
    INCOME,
    INCOME_FIELDS,
    MEMBER,
    MEMBER_FIELDS,
    MISSING,
    Invalid,
    as_text,
    lookup_key,
)

# -- what callers hand in and get back -------------------------------------------------------


@dataclass
class HouseholdRecord:
    """One household as read from a file or a generator, values still raw.

    `household` holds HOUSEHOLD_FIELDS values plus, optionally, "code" (the household
    number, to update a known household) and "head_id_number" (the head's resident ID, the
    key that links the rows of a file and matches a recorded household). Without
    "head_id_number" the key is the ID of the member whose relation is head (户主).
    """

    row: int  # source row number, for error reports
    household: dict[str, Any]  # HOUSEHOLD_FIELDS values (raw) + optional "code"
    members: list[tuple[int, dict[str, Any]]]  # (source row, MEMBER_FIELDS values)
    income: dict[str, Any] | None  # {"year": ..., INCOME_FIELDS...}
    sheet_rows: dict[str, int] = field(default_factory=dict)  # optional: income row etc.


@dataclass
class RowError:
    """A problem with one row: `sheet` is households, members or income; `field` the
    field name (or "head_id_number", "code"; empty for the row as a whole)."""

    sheet: str
    row: int
    field: str
    message: str


@dataclass
class ImportResult:
    created: int
    updated: int
    members_created: int
    members_updated: int
    errors: list[RowError]
    warnings: list[RowError]
    unchanged: int = 0  # matched households whose data was already as in the file

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[str, int, int], None]
M = TypeVar("M", bound=models.Model)

SHEETS = ("households", "members", "income")

#: Label of the key column (the head's resident ID) in files and messages.
HEAD_ID_LABEL = _("Head's resident ID")
ALREADY_IN_FILE = _("This household is already in the file at row %(row)d.")
MEMBER_TWICE = _("This person is already listed in this household at row %(row)d.")
NO_SUCH_HOUSEHOLD = _("No household in your area has the number %(code)s.")
TWO_HOUSEHOLDS = _(
    "More than one household in your area has the head %(id)s; give the household "
    "number to say which one."
)
SAME_HOUSEHOLD_TWICE = _("Row %(row)d already updates this household.")
OUTSIDE_AREA = _("This village is outside your area.")
MEMBERS_NOT_IN_FILE = _(
    "%(n)d member(s) on record are not in the file and were left as they are: %(names)s."
)

#: Households validated per chunk (queries for matching are per chunk).
CHUNK = 2000
#: Rows per INSERT/UPDATE statement batch.
WRITE_BATCH = 1000

H_TYPED = [HOUSEHOLD[n].attname for n in HOUSEHOLD_FIELDS]  # village → village_id
M_TYPED = list(MEMBER_FIELDS)
#: A validated member's values, in this order: typed fields, then what the ID gives.
M_COLS = [*MEMBER_FIELDS, "sex", "birth_date"]
M_ID = M_COLS.index("id_number")
I_TYPED = ["year", *INCOME_FIELDS]
H_ALL = [f.attname for f in Household._meta.concrete_fields]
M_ALL = [f.attname for f in Member._meta.concrete_fields]
I_ALL = [f.attname for f in HouseholdIncome._meta.concrete_fields]
CENT = Decimal("0.01")


def _empty(value: Any) -> bool:
    return value is None or (value.__class__ is str and not value.strip())


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk run.

    An import holds millions of small objects (cells, converted values, rows); every
    collection walks all of them, and allocating that many triggers collections often:
    measured on 30,000 households, 22 s with the collector running, 15 s without. The
    objects made here hold no reference cycles, so reference counting frees them anyway;
    the collector is resumed (as it was) when the run ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _roomy_sqlite_cache(kib: int = 131_072) -> Iterator[None]:
    """A larger SQLite page cache while a bulk write runs (the default 2 MiB makes every
    index of a 500,000-row insert spill to the WAL and read back); restored afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")


# -- the validated data, compact --------------------------------------------------------------


class _Member:
    """A validated member: `values` in M_COLS order; `before` the recorded row if changed."""

    __slots__ = ("before", "pk", "row", "values")

    def __init__(self, row: int, pk: int | None, values: tuple[Any, ...]) -> None:
        self.row, self.pk, self.values = row, pk, values
        self.before: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(M_COLS, self.values, strict=True))


class _Income:
    """A validated year of income: `values` in I_TYPED order."""

    __slots__ = ("before", "pk", "row", "values")

    def __init__(self, row: int, pk: int | None, values: tuple[Any, ...]) -> None:
        self.row, self.pk, self.values = row, pk, values
        self.before: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(I_TYPED, self.values, strict=True))


class _Household:
    """A validated household: new (pk None until written) or matched to a recorded one."""

    __slots__ = (
        "before",
        "code",
        "computed",
        "income",
        "members",
        "pk",
        "row",
        "state",
        "values",
        "version",
    )

    def __init__(self, row: int, pk: int | None, values: tuple[Any, ...]) -> None:
        self.row = row
        self.pk = pk
        self.values = values  # H_TYPED order
        self.code: str = ""
        self.state = "new"  # new | updated | same
        self.before: dict[str, Any] | None = None  # changed fields' recorded values
        self.version = 1
        self.computed: tuple[int, int | None, Decimal | None] = (0, None, None)
        self.members: list[_Member] = []  # new and changed ones only
        self.income: _Income | None = None  # new or changed only


# -- plain JSON snapshots for the audit trail -------------------------------------------------


def _snapshot_maker(
    model: type[models.Model], exclude: Sequence[str] = ()
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function turning a row {attname: value} into `audit.snapshot`'s plain JSON form,
    converting only the columns whose type needs it (decimals, dates, code lists)."""
    fields = [f for f in model._meta.concrete_fields if f.name not in exclude]
    names = [f.attname for f in fields]
    to_str = [f.attname for f in fields if isinstance(f, models.DecimalField)]
    to_iso = [f.attname for f in fields if isinstance(f, models.DateField)]
    to_list = [f.attname for f in fields if isinstance(f, CodeListField)]

    def make(row: dict[str, Any]) -> dict[str, Any]:
        snap = {n: row[n] for n in names}
        for n in to_str:
            if snap[n] is not None:
                snap[n] = str(snap[n])
        for n in to_iso:
            if snap[n] is not None:
                snap[n] = snap[n].isoformat()
        for n in to_list:
            snap[n] = [str(c) for c in snap[n] or []]
        return snap

    return make


_household_snapshot = _snapshot_maker(Household, exclude=("created_at", "updated_at"))
_member_snapshot_raw = _snapshot_maker(Member)
_income_snapshot = _snapshot_maker(HouseholdIncome)


def _member_snapshot(row: dict[str, Any]) -> dict[str, Any]:
    snap = _member_snapshot_raw(row)
    snap["id_number"] = mask_id_number(row["id_number"])  # as `services._member_snapshot`
    return snap


def _loaded(model: type[M], row: dict[str, Any]) -> M:
    """An instance as if loaded from the database, for the data-quality rules to read.

    Built as `Model.from_db` would but without `__init__`'s per-field descriptor work
    (7 µs a member; 3 s of a 100,000-household import): the row holds every concrete
    field's value by attname, exactly what `__init__` would have set.
    """
    obj = model.__new__(model)
    obj.__dict__.update(row)
    obj._state = ModelState()
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


# -- the import --------------------------------------------------------------------------------


class Import:
    """One import run: `validate` every record, then (if no errors) `write` them all."""

    def __init__(self, user: Any, progress: Progress | None = None) -> None:
        self.user = user
        self.progress = progress or (lambda phase, done, total: None)
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.households: list[_Household] = []
        self.seen: dict[tuple[str, str], int] = {}  # ("code"|"head", key) → first row
        self.seen_pks: dict[int, int] = {}  # matched household pk → row
        self.villages: dict[str, bool] = {}  # village code → names a village
        self.total = 0

    # -- phase 1 -----------------------------------------------------------------------------
    def validate(self, records: Iterable[HouseholdRecord]) -> None:
        total = len(records) if isinstance(records, Sized) else 0
        done = 0
        self.progress("validate", 0, total)
        for chunk in batched(records, CHUNK):
            self._validate_chunk(chunk)
            done += len(chunk)
            self.progress("validate", done, max(total, done))
        self.total = done
        # A file reader's own findings (rows linked to no household, unknown columns) are
        # complete once its records are consumed; they count like the rows' errors.
        self.errors.extend(getattr(records, "errors", ()))
        self.warnings.extend(getattr(records, "warnings", ()))
        order = {s: i for i, s in enumerate(SHEETS)}
        self.errors.sort(key=lambda e: (order.get(e.sheet, 9), e.row))
        self.warnings.sort(key=lambda e: (order.get(e.sheet, 9), e.row))

    def _validate_chunk(self, chunk: list[HouseholdRecord]) -> None:
        n = len(chunk)
        hcheck = HOUSEHOLD.clean_columns(
            {name: [r.household.get(name, MISSING) for r in chunk] for name in HOUSEHOLD_FIELDS},
            n,
        )
        owners: list[int] = []
        mrows: list[int] = []
        mdata: list[dict[str, Any]] = []
        members_of: list[list[int]] = []
        for i, r in enumerate(chunk):
            mine = []
            for row, data in r.members:
                mine.append(len(mdata))
                owners.append(i)
                mrows.append(row)
                mdata.append(data)
            members_of.append(mine)
        m = len(mdata)
        mcheck = MEMBER.clean_columns(
            {name: [d.get(name, MISSING) for d in mdata] for name in MEMBER_FIELDS}, m
        )
        ids: list[Any] = mcheck.columns["id_number"]
        for j, d in enumerate(mdata):
            if ("sex" in d or "birth_date" in d) and isinstance(ids[j], ResidentId):
                for name, message in validation.id_agreement(ids[j], d):
                    mcheck.add(j, name, message)
        inc_owner = [
            i
            for i, r in enumerate(chunk)
            if r.income and any(not _empty(v) for v in r.income.values())
        ]
        icheck = INCOME.clean_columns(
            {name: [chunk[i].income.get(name, MISSING) for i in inc_owner] for name in I_TYPED},  # type: ignore[union-attr]
            len(inc_owner),
        )

        keys, codes = self._keys(chunk, hcheck, members_of, ids, mcheck.columns["relation"])
        pk_of = self._match(chunk, hcheck, keys, codes)
        matched = [pk for pk in pk_of if pk is not None]
        existing_h: dict[int, dict[str, Any]] = {}
        existing_m: dict[int, dict[str, dict[str, Any]]] = {}
        existing_i: dict[int, dict[int, dict[str, Any]]] = {}
        if matched:
            for row in Household.objects.filter(pk__in=matched).values(*H_ALL):
                existing_h[row["id"]] = row
            for row in Member.objects.filter(household_id__in=matched).values(*M_ALL):
                existing_m.setdefault(row["household_id"], {})[row["id_number"]] = row
            for row in HouseholdIncome.objects.filter(household_id__in=matched).values(*I_ALL):
                existing_i.setdefault(row["household_id"], {})[row["year"]] = row

        # Households: a missing column keeps the recorded value, or takes the default.
        for name, attname in zip(HOUSEHOLD_FIELDS, H_TYPED, strict=True):
            column = hcheck.columns[name]
            for i, pk in enumerate(pk_of):
                if pk is not None and column[i] is MISSING:
                    column[i] = existing_h[pk][attname]
        HOUSEHOLD.fill_missing(hcheck, n, [i for i, pk in enumerate(pk_of) if pk is None])
        self._check_villages(hcheck)
        HOUSEHOLD.check_columns(hcheck, n)

        # Members: matched by resident ID within a recorded household, else new.
        member_pk: list[int | None] = [None] * m
        new_members = []
        for j in range(m):
            i = owners[j]
            rid = ids[j]
            on_record = existing_m.get(pk_of[i] or 0, {})
            if isinstance(rid, ResidentId) and rid.number in on_record:
                ex = on_record[rid.number]
                member_pk[j] = ex["id"]
                for name in MEMBER_FIELDS:
                    if mcheck.columns[name][j] is MISSING:
                        mcheck.columns[name][j] = ex[name]
            else:
                new_members.append(j)
        MEMBER.fill_missing(mcheck, m, new_members)
        for mine in members_of:
            first: dict[str, int] = {}
            for j in mine:
                rid = ids[j]
                if isinstance(rid, ResidentId):
                    if rid.number in first:
                        mcheck.add(j, "id_number", str(MEMBER_TWICE) % {"row": first[rid.number]})
                    else:
                        first[rid.number] = mrows[j]
        MEMBER.check_columns(mcheck, m)

        # Income: matched by year.
        income_pk: list[int | None] = [None] * len(inc_owner)
        new_incomes: list[int] = []
        for k, i in enumerate(inc_owner):
            year = icheck.columns["year"][k]
            year_on_record = (
                existing_i.get(pk_of[i] or 0, {}).get(year) if isinstance(year, int) else None
            )
            if year_on_record is not None:
                income_pk[k] = year_on_record["id"]
                for name in I_TYPED:
                    if icheck.columns[name][k] is MISSING:
                        icheck.columns[name][k] = year_on_record[name]
            else:
                new_incomes.append(k)
        INCOME.fill_missing(icheck, len(inc_owner), new_incomes)
        INCOME.check_columns(icheck, len(inc_owner))

        for i, errs in hcheck.errors.items():
            for name, message in errs:
                self.errors.append(RowError("households", chunk[i].row, name, message))
        for j, errs in mcheck.errors.items():
            for name, message in errs:
                self.errors.append(RowError("members", mrows[j], name, message))
        for k, errs in icheck.errors.items():
            r = chunk[inc_owner[k]]
            for name, message in errs:
                row = r.sheet_rows.get("income", r.row)
                self.errors.append(RowError("income", row, name, message))
        if self.errors:
            return  # keep validating the rest for the report, but plan nothing

        income_of = {i: k for k, i in enumerate(inc_owner)}
        mcols = [mcheck.columns[name] for name in MEMBER_FIELDS]
        icols = [icheck.columns[name] for name in I_TYPED]
        for i, r in enumerate(chunk):
            h = _Household(r.row, pk_of[i], tuple(hcheck.columns[n][i] for n in HOUSEHOLD_FIELDS))
            in_file: set[str] = set()
            for j in members_of[i]:
                parsed: ResidentId = ids[j]
                values = [c[j] for c in mcols]
                values[M_ID] = parsed.number
                in_file.add(parsed.number)
                h.members.append(
                    _Member(mrows[j], member_pk[j], (*values, parsed.sex, parsed.birth_date))
                )
            at = income_of.get(i)
            if at is not None:
                row = r.sheet_rows.get("income", r.row)
                h.income = _Income(row, income_pk[at], tuple(c[at] for c in icols))
            if h.pk is None:
                self._plan_new(h)
            else:
                self._plan_update(
                    h, existing_h[h.pk], existing_m.get(h.pk, {}), existing_i.get(h.pk, {})
                )
                absent = [
                    ex
                    for number, ex in existing_m.get(h.pk, {}).items()
                    if number not in in_file and ex["left_on"] is None
                ]
                if absent:
                    names = ", ".join(
                        f"{ex['name']} ({mask_id_number(ex['id_number'])})" for ex in absent[:10]
                    )
                    message = str(MEMBERS_NOT_IN_FILE) % {"n": len(absent), "names": names}
                    self.warnings.append(RowError("households", r.row, "", message))
            self.households.append(h)

    def _keys(
        self,
        chunk: list[HouseholdRecord],
        hcheck: validation.ColumnCheck,
        members_of: list[list[int]],
        ids: list[Any],
        relations: list[Any],
    ) -> tuple[list[str | None], list[str]]:
        """Each record's key: the head's resident ID (given, or the head member's), and
        its household number if given."""
        id_rule = MEMBER["id_number"]
        keys: list[str | None] = []
        codes: list[str] = []
        for i, r in enumerate(chunk):
            key = None
            raw = r.household.get("head_id_number")
            if not _empty(raw):
                # Usually the head is among the members, already parsed: no second parse.
                known = {ids[j].number for j in members_of[i] if isinstance(ids[j], ResidentId)}
                text = normalize_id_number(as_text(raw))
                if len(text) == 15 and text.isdigit():
                    text = upgrade_15_to_18(text)
                if text in known:
                    key = text
                else:
                    rid = id_rule.convert(raw)
                    if rid.__class__ is Invalid:
                        hcheck.add(i, "head_id_number", rid.render(HEAD_ID_LABEL))
                    else:
                        key = rid.number
            else:
                heads = [
                    ids[j].number
                    for j in members_of[i]
                    if relations[j] == enums.Relation.HEAD and isinstance(ids[j], ResidentId)
                ]
                key = heads[0] if len(heads) == 1 else None
            keys.append(key)
            codes.append(lookup_key(r.household.get("code")).upper())
        return keys, codes

    def _match(
        self,
        chunk: list[HouseholdRecord],
        hcheck: validation.ColumnCheck,
        keys: list[str | None],
        codes: list[str],
    ) -> list[int | None]:
        """The recorded household each record updates (None: a new one)."""
        for i, r in enumerate(chunk):
            key = keys[i]
            ident = ("code", codes[i]) if codes[i] else ("head", key) if key else None
            if ident is None:
                continue
            if ident in self.seen:
                where = "code" if ident[0] == "code" else "head_id_number"
                hcheck.add(i, where, str(ALREADY_IN_FILE) % {"row": self.seen[ident]})
            else:
                self.seen[ident] = r.row
        by_code = dict(
            Household.objects.for_user(self.user)
            .filter(code__in=[c for c in codes if c])
            .values_list("code", "pk")
        )
        by_head: dict[str, list[int]] = {}
        for number, household_id in (
            Member.objects.for_user(self.user)
            .filter(
                relation=enums.Relation.HEAD,
                left_on__isnull=True,
                id_number__in=[k for k in keys if k],
            )
            .values_list("id_number", "household_id")
        ):
            by_head.setdefault(number, []).append(household_id)
        pk_of: list[int | None] = []
        for i, r in enumerate(chunk):
            pk: int | None = None
            if codes[i]:
                pk = by_code.get(codes[i])
                if pk is None:
                    hcheck.add(i, "code", str(NO_SUCH_HOUSEHOLD) % {"code": codes[i]})
            elif keys[i] and keys[i] in by_head:
                found = by_head[keys[i]]  # type: ignore[index]
                if len(found) > 1:
                    message = str(TWO_HOUSEHOLDS) % {"id": mask_id_number(keys[i] or "")}
                    hcheck.add(i, "head_id_number", message)
                else:
                    pk = found[0]
            if pk is not None:
                if pk in self.seen_pks:
                    where = "code" if codes[i] else "head_id_number"
                    hcheck.add(i, where, str(SAME_HOUSEHOLD_TWICE) % {"row": self.seen_pks[pk]})
                    pk = None
                else:
                    self.seen_pks[pk] = r.row
            pk_of.append(pk)
        return pk_of

    def _check_villages(self, hcheck: validation.ColumnCheck) -> None:
        column = hcheck.columns["village"]
        unknown = {v for v in column if v.__class__ is str and v not in self.villages}
        if unknown:
            known = validation.known_villages(unknown)
            self.villages.update({code: code in known for code in unknown})
        for i, code in enumerate(column):
            if code.__class__ is not str:
                continue
            if not self.villages.get(code):
                hcheck.add(i, "village", validation.village_error(code))
                column[i] = Invalid(validation.NO_SUCH_VILLAGE)
            elif not user_can_reach(self.user, code):
                hcheck.add(i, "village", str(OUTSIDE_AREA))
                column[i] = Invalid(OUTSIDE_AREA)

    @staticmethod
    def _computed(
        people: int, income: dict[str, Any] | None
    ) -> tuple[int, int | None, Decimal | None]:
        """Household size, income year and per-capita net income (DOMAIN.md §9)."""
        if income is None:
            return people, None, None
        if people == 0:
            return people, income["year"], None
        total = sum((income[s] for s in HouseholdIncome.SOURCES), Decimal(0))
        net = total - income["business_cost"]
        return people, income["year"], (net / people).quantize(CENT, rounding=ROUND_HALF_UP)

    def _plan_new(self, h: _Household) -> None:
        h.computed = self._computed(len(h.members), h.income.as_dict() if h.income else None)

    def _plan_update(
        self,
        h: _Household,
        recorded: dict[str, Any],
        members: dict[str, dict[str, Any]],
        incomes: dict[int, dict[str, Any]],
    ) -> None:
        h.code = recorded["code"]
        h.version = recorded["version"]
        before = {
            a: recorded[a] for a, v in zip(H_TYPED, h.values, strict=True) if v != recorded[a]
        }
        changed_members = []
        for member in h.members:
            if member.pk is None:
                changed_members.append(member)
                continue
            ex = members[member.values[M_ID]]
            if any(ex[k] != v for k, v in zip(M_COLS, member.values, strict=True)):
                member.before = ex
                changed_members.append(member)
        h.members = changed_members
        latest = dict(incomes)
        if h.income is not None:
            inc = h.income
            given = inc.as_dict()
            recorded_income = incomes.get(given["year"])
            if recorded_income is not None and all(
                recorded_income[k] == v for k, v in given.items()
            ):
                h.income = None
            else:
                inc.before = recorded_income
                latest[given["year"]] = given
        people = sum(1 for ex in members.values() if ex["left_on"] is None) + sum(
            1 for mb in h.members if mb.pk is None
        )
        newest = latest[max(latest)] if latest else None
        h.computed = self._computed(people, newest)
        recorded_computed = (
            recorded["people"],
            recorded["income_year"],
            recorded["per_capita_income"],
        )
        if h.computed != recorded_computed:
            before.update(
                zip(("people", "income_year", "per_capita_income"), recorded_computed, strict=True)
            )
        h.before = before
        h.state = "updated" if before or h.members or h.income else "same"

    # -- counts --------------------------------------------------------------------------------
    def result(self) -> ImportResult:
        created = updated = unchanged = members_created = members_updated = 0
        for h in self.households:
            if h.state == "new":
                created += 1
            elif h.state == "updated":
                updated += 1
            else:
                unchanged += 1
            for mb in h.members:
                if mb.before is None:
                    members_created += 1
                else:
                    members_updated += 1
        return ImportResult(
            created=created,
            updated=updated,
            members_created=members_created,
            members_updated=members_updated,
            errors=self.errors,
            warnings=self.warnings,
            unchanged=unchanged,
        )

    # -- phase 2 -------------------------------------------------------------------------------
    def write(self, *, reason: str, source: str = "") -> None:
        """Write everything validated. Must run inside the caller's transaction."""
        assert not self.errors, "an import with errors writes nothing"
        with _roomy_sqlite_cache():
            self._write(reason, source)

    def _write(self, reason: str, source: str) -> None:
        households = TableWriter(Household)
        members_table = TableWriter(Member)
        incomes_table = TableWriter(HouseholdIncome)
        now = timezone.now()
        today = timezone.localdate()
        todo = [h for h in self.households if h.state != "same"]
        new = [h for h in todo if h.state == "new"]
        total = 2 * len(todo)
        done = 0
        self.progress("write", 0, total)

        for h, pk in zip(new, households.reserve_ids(len(new)), strict=True):
            h.pk = pk
        self._assign_codes(new)
        fresh_members = [mb for h in todo for mb in h.members if mb.pk is None]
        for mb, pk in zip(
            fresh_members, members_table.reserve_ids(len(fresh_members)), strict=True
        ):
            mb.pk = pk
        fresh_incomes = [h.income for h in todo if h.income is not None and h.income.pk is None]
        for inc, pk in zip(
            fresh_incomes, incomes_table.reserve_ids(len(fresh_incomes)), strict=True
        ):
            inc.pk = pk  # type: ignore[union-attr]

        for batch in batched(todo, WRITE_BATCH):
            created = [h for h in batch if h.state == "new"]
            updated = [h for h in batch if h.state == "updated"]
            households.insert(self._household_row(h, now, today) for h in created)
            households.update(
                [*H_TYPED, "people", "income_year", "per_capita_income", "updated_at"],
                ((*h.values, *h.computed, now, h.pk) for h in updated),
                also=f"{connection.ops.quote_name('version')} = "
                f"{connection.ops.quote_name('version')} + 1",
            )
            members_table.insert(
                self._member_row(h, mb) for h in batch for mb in h.members if mb.before is None
            )
            members_table.update(
                M_COLS,
                ((*mb.values, mb.pk) for h in batch for mb in h.members if mb.before is not None),
            )
            incomes = [(h, h.income) for h in batch if h.income is not None]
            incomes_table.insert(
                self._income_row(h, inc) for h, inc in incomes if inc.before is None
            )
            incomes_table.update(
                I_TYPED,
                ((*inc.values, inc.pk) for h, inc in incomes if inc.before is not None),
            )
            done += len(batch)
            self.progress("write", done, total)

        def entries() -> Iterator[audit.Entry]:
            nonlocal done
            for batch in batched(todo, WRITE_BATCH):
                self._quality(batch, now, today)
                for h in batch:
                    yield self._audit_entry(h, now, today)
                done += len(batch)
                self.progress("write", done, total)

        # The file (name and digest) goes into every entry's reason: the trail says where
        # the data came from.
        audit.record_many(self.user, entries(), reason=f"{reason} [{source}]" if source else reason)

    def _assign_codes(self, new: list[_Household]) -> None:
        """Household numbers in sequence per village (village code + 4 digits)."""
        from fupin.registry.services import _next_code

        village_at = H_TYPED.index("village_id")
        following: dict[str, int] = {}
        for h in new:
            village = h.values[village_at]
            if village not in following:
                following[village] = int(_next_code(village)[len(village) :])
            h.code = f"{village}{following[village]:04d}"
            following[village] += 1

    def _household_row(self, h: _Household, now: dt.datetime, today: dt.date) -> dict[str, Any]:
        row = dict(zip(H_TYPED, h.values, strict=True))
        people, income_year, per_capita = h.computed
        row.update(
            id=h.pk,
            code=h.code,
            status=enums.HouseholdStatus.SURVEYED.value,
            status_date=today,
            identification_year=None,
            exit_year=None,
            people=people,
            income_year=income_year,
            per_capita_income=per_capita,
            version=h.version,
            created_at=now,
            updated_at=now,
        )
        return row

    @staticmethod
    def _member_row(h: _Household, mb: _Member) -> dict[str, Any]:
        row = {"id": mb.pk, "household_id": h.pk, "left_on": None, "left_reason": ""}
        if mb.before is not None:  # a recorded member keeps the date it left, if it did
            row["left_on"], row["left_reason"] = mb.before["left_on"], mb.before["left_reason"]
        row.update(zip(M_COLS, mb.values, strict=True))
        return row

    @staticmethod
    def _income_row(h: _Household, inc: _Income) -> dict[str, Any]:
        row = {"id": inc.pk, "household_id": h.pk}
        row.update(zip(I_TYPED, inc.values, strict=True))
        return row

    def _quality(self, batch: list[_Household], now: dt.datetime, today: dt.date) -> None:
        """The data-quality rules over the written batch: new households from memory,
        changed ones read back (their members not in the file count too)."""
        created = [h for h in batch if h.state == "new"]
        households = [_loaded(Household, self._household_row(h, now, today)) for h in created]
        members = {
            h.pk: [_loaded(Member, self._member_row(h, mb)) for mb in h.members] for h in created
        }
        incomes = {
            h.pk: _loaded(HouseholdIncome, self._income_row(h, h.income)) if h.income else None
            for h in created
        }
        quality.refresh_many(households, members, incomes)  # type: ignore[arg-type]
        updated = [h.pk for h in batch if h.state == "updated" and h.pk is not None]
        if updated:
            quality.refresh_many(list(Household.objects.filter(pk__in=updated)))

    def _audit_entry(self, h: _Household, now: dt.datetime, today: dt.date) -> audit.Entry:
        """One entry per household, shaped as the single-record services shape theirs."""
        row = self._household_row(h, now, today)
        village = row["village_id"]
        if h.state == "new":
            after: dict[str, Any] = {
                **_household_snapshot(row),
                "members": [_member_snapshot(self._member_row(h, mb)) for mb in h.members],
                "income": _income_snapshot(self._income_row(h, h.income)) if h.income else None,
            }
            return audit.Entry(
                action="registry.household.create",
                object_type="registry.household",
                object_id=str(h.pk),
                area_code=village,
                after=after,
            )
        new_snapshot = _household_snapshot({**row, "version": h.version + 1})
        recorded = h.before or {}
        old_snapshot = _household_snapshot({**row, **recorded, "version": h.version})
        old, new = audit.diff(old_snapshot, new_snapshot)
        if h.members:
            old["members"] = [_member_snapshot(mb.before) for mb in h.members if mb.before]
            new["members"] = [_member_snapshot(self._member_row(h, mb)) for mb in h.members]
        if h.income is not None:
            inc = h.income
            old["income"] = _income_snapshot(inc.before) if inc.before else None
            new["income"] = _income_snapshot(self._income_row(h, inc))
        return audit.Entry(
            action="registry.household.update",
            object_type="registry.household",
            object_id=str(h.pk),
            area_code=village,
            before=old,
            after=new,
        )
