"""A columnar snapshot of the registry for the engine jobs (DESIGN.md "Data flow" 3).

    write_snapshot(user, "450102", out_dir)  # -> {"households": n, "members": m}

writes `out_dir/households.parquet` and `out_dir/members.parquet` in the layout
engine/synth.py writes and `fupin load` reads (fupin/registry/loading.py): the same column
names and Arrow types, so `engine.score.run_score(out_dir, card, ...)` — `member_facts`
included — runs on the registry exactly as on a generated province. The mapping is
loading's, in reverse: a household's fields under their own names, its village as
`village_code` (and `county_code`, the village code's first six digits), `people`, and
one year's income by source as `income_year`, `wage`, ..., `business_cost` and
`per_capita_income`; a member's fields, sex and birth date under their own names.

After synth's columns, households.parquet carries the life cycle (`LIFE_CYCLE`: status,
status_date, identification_year, exit_year), and a third file, `incomes.parquet`, every
recorded year of each household's income with its net and per-person figures — what the
exit and return-to-poverty jobs read (issue 7).

What differs from a generated directory: `household_id` is the registry's primary key and
`person_id` the member's (so a job's results can be written back by key), and only
current members are written (those who left the household are not in `people` either; with
`on=`, those present that day).

**Which income.** By default each household's latest year — the year the registry's own
`income_year` and `per_capita_income` describe, so the snapshot agrees with the household
pages. With `year=`, that year's income for every household: a household without income
for it has nulls there (a scorecard gives a null its default points), and its
`per_capita_income` is computed as the services compute it (net ÷ people, to the fen,
half up).

**Scope.** Every household in `area_code`'s subtree that `user` may see:
`Household.objects.for_user(user).in_area(area_code)` and the same for members — an area
outside the user's own gives an empty snapshot (with every column), never someone else's
households. `statuses=` keeps the households at those stages of the life cycle.

**As of a day.** With `on=` the snapshot describes the registry on that day (DOMAIN.md
§2: every transition is dated), so a past year's poor people are that year's:

- A household's status on the day is the `to_status` of its last StatusChange dated on or
  before it (ties: the later recorded, highest primary key); `status_date` is that change's
  date. A household whose changes all come after the day had no status on record yet (it
  was at most surveyed, perhaps not even that): its life-cycle columns are null and it is
  never among `statuses=`. A household with no StatusChange at all has today's status
  and status date: the services record a change for every move along the life cycle
  (`transition_household`, `transition_many`; the demo goes through them), and only
  creation (`create_household`, `import_households`, `fupin load`) writes a status
  without one — "surveyed", the start of the cycle — so such a household has had its
  status since it was recorded. Rows written straight to the table without history (old
  data, fixtures) are read the same way: as they stand.
- `identification_year` is the stored year once the household's first identifying step
  (a transition with `sets_identification_year` in policy/lifecycle.toml) lies on or before
  the day, else null; `exit_year` is the year of its last exiting step (`sets_exit_year`)
  on or before the day, null when its exits all come later. Without such steps in its
  history (or without history), the stored year if not after the day's year.
- Members are those present on the day: not left (`left_on` null or after the day) and
  born by then (`birth_date`, from the resident ID). The registry keeps no date a member
  joined, so someone added later who was born before the day is counted as present.
  `people` is the count of members written for the household, in households.parquet
  and incomes.parquet alike.
- incomes.parquet keeps the years up to the day's year. The income of households.parquet
  is still the `year=` asked (pass the day's year) or else each household's latest.
- Every other field — living conditions, causes, relocation, the members' health and
  insurance — is as it stands today: the registry keeps no history of them.

Without `on` nothing of this applies and the files are those of today's registry.

**Size.** The rows of a `values_list` queryset (one LEFT JOIN for the income) are read
through Django's chunked cursor as the driver returns them, `CHUNK` at a time — no model
instances, no per-value converters — turned column by column into Arrow arrays and
written as one row group each, so memory stays bounded whatever the area's size (100,000
households and 360,000 people of a generated Guangxi: 7–12 s on SQLite on a busy two-core
machine, half of it SQLite's own reading, and 150 MB more resident memory). Files are
written under temporary names and renamed at the end; their key-value metadata say
`fupin.snapshot_area`, `fupin.snapshot_at` (ISO time, UTC) and `fupin.households`.

**Consistency.** On PostgreSQL both files are read in one REPEATABLE READ, READ ONLY
transaction, so households and members are the same moment's. On SQLite a transaction
would be BEGIN IMMEDIATE (settings), holding every writer off for the whole snapshot, so
the two reads run on their own; members of households added after the households were read
are left out, but a member changed in between is written as he is by then.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.db import connection, models, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from fupin.registry.lifecycle import transitions
from fupin.registry.loading import H_FIELDS, HOUSEHOLDS_FILE, INCOME_FIELDS, M_FIELDS, MEMBERS_FILE
from fupin.registry.models import Household, HouseholdIncome, Member, StatusChange

#: Rows per read from the database and per Parquet row group.
CHUNK = 20_000

#: Same signature as the engine's (engine/score.py Progress): phase, done, total.
Progress = Callable[[str, int, int | None], None]

#: Member fields in the model's order (synth's order), sex and birth date included.
M_SNAPSHOT = [f.name for f in Member._meta.concrete_fields if f.name in set(M_FIELDS)]
#: Columns as engine/synth.py writes them and loading reads them.
H_COLUMNS = [
    "household_id",
    "county_code",
    "village_code",
    "people",
    *H_FIELDS,
    "income_year",
    *INCOME_FIELDS,
    "per_capita_income",
]
M_COLUMNS = ["person_id", "household_id", *M_SNAPSHOT]

#: The life cycle (DOMAIN.md §2), which synth's survey files do not have: where a household
#: stands, since when, and the years it was registered and exited (exit and monitoring jobs).
LIFE_CYCLE = ["status", "status_date", "identification_year", "exit_year"]
H_SNAPSHOT = [*H_COLUMNS, *LIFE_CYCLE]
#: Every year's income of the households written: the history a fall in income is seen in.
INCOMES_FILE = "incomes.parquet"
I_COLUMNS = ["household_id", "year", "people", *INCOME_FIELDS, "net_income", "per_capita_income"]

#: Narrower than the model's small integers, as engine/synth.py writes them (≤ 12).
NARROW = {"disability_grade": pa.int8(), "migrant_months": pa.int8()}
COUNTY_DIGITS = 6


def _arrow_type(model: type[models.Model], name: str) -> pa.DataType:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    if name in NARROW:
        return NARROW[name]
    if isinstance(field, models.BooleanField):
        return pa.bool_()
    if isinstance(field, models.DecimalField):
        assert field.max_digits is not None and field.decimal_places is not None
        return pa.decimal128(field.max_digits, field.decimal_places)
    if isinstance(field, models.SmallIntegerField | models.PositiveSmallIntegerField):
        return pa.int16()
    if isinstance(field, models.DateField):
        return pa.date32()
    if isinstance(field, models.CharField):
        return pa.string()
    raise TypeError(f"no snapshot type for {field!r}")  # a new kind of field: decide its type


def _schemas() -> tuple[pa.Schema, pa.Schema]:
    households = pa.schema(
        [
            ("household_id", pa.int64()),
            ("county_code", pa.string()),
            ("village_code", pa.string()),
            ("people", _arrow_type(Household, "people")),
            *((name, _arrow_type(Household, name)) for name in H_FIELDS),
            ("income_year", _arrow_type(Household, "income_year")),
            *((name, _arrow_type(HouseholdIncome, name)) for name in INCOME_FIELDS),
            ("per_capita_income", _arrow_type(Household, "per_capita_income")),
            *((name, _arrow_type(Household, name)) for name in LIFE_CYCLE),
        ]
    )
    members = pa.schema(
        [
            ("person_id", pa.int64()),
            ("household_id", pa.int64()),
            *((name, _arrow_type(Member, name)) for name in M_SNAPSHOT),
        ]
    )
    assert households.names == H_SNAPSHOT and members.names == M_COLUMNS
    return households, members


def _incomes_schema() -> pa.Schema:
    money = _arrow_type(Household, "per_capita_income")
    return pa.schema(
        [
            ("household_id", pa.int64()),
            ("year", _arrow_type(HouseholdIncome, "year")),
            ("people", _arrow_type(Household, "people")),
            *((name, _arrow_type(HouseholdIncome, name)) for name in INCOME_FIELDS),
            ("net_income", pa.decimal128(14, 2)),
            ("per_capita_income", money),
        ]
    )


def _raw_rows(queryset: models.QuerySet[Any], chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    """The queryset's rows as the database driver returns them, `chunk` at a time.

    Django's per-value converters (a Decimal built and quantized for every amount, a bool
    for every flag) cost most of the time of a `values_list` read; Arrow converts whole
    columns instead (`_array`). The cursor is Django's chunked one: server-side on
    PostgreSQL, so memory stays bounded there too.
    """
    sql, params = queryset.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            yield rows


def _array(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """One column in the file's type. SQLite returns amounts as float or int, flags as 0/1
    and dates as text; PostgreSQL returns Decimal, bool and date. Arrow's casts take either
    to the file's type; a float is rounded to the column's places, as Django's converter
    rounds it."""
    try:
        return pa.array(values, type=type_)  # the driver's values are already of the type
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        array = pa.array(values)
    if pa.types.is_decimal(type_) and pa.types.is_integer(array.type):
        # Arrow refuses int64 → decimal(9, 2) by type (it could overflow); whole yuan or mu
        # below 2^53 go through float64 exactly.
        array = array.cast(pa.float64())
    return array.cast(type_)


def _fen(array: pa.Array) -> npt.NDArray[np.int64]:
    """Whole fen of an amount column (null as 0): exact, amounts have two places."""
    yuan = array.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
    return np.rint(yuan * 100).astype(np.int64)


def _per_capita(columns: dict[str, pa.Array]) -> pa.Array:
    """Net income per person as `services._refresh_computed` computes it: (all income −
    business costs) ÷ people, to the fen, half away from zero; null without income or
    without people."""
    net = sum((_fen(columns[name]) for name in HouseholdIncome.SOURCES), np.int64(0))
    net = net - _fen(columns["business_cost"])
    people = columns["people"].fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    known = columns["income_year"].is_valid().to_numpy(zero_copy_only=False) & (people > 0)
    divisor = np.where(known, people, 1)
    fen = np.sign(net) * ((2 * np.abs(net) + divisor) // (2 * divisor))
    values = [
        Decimal(int(f)).scaleb(-2) if k else None
        for f, k in zip(fen.tolist(), known.tolist(), strict=True)
    ]
    return pa.array(values, type=columns["per_capita_income"].type)


@contextmanager
def _consistent_read() -> Iterator[None]:
    """One REPEATABLE READ, READ ONLY transaction on PostgreSQL (see the module's docstring);
    nothing on SQLite, or inside a caller's transaction (which has already begun)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _present(on: dt.date) -> Q:
    """Members present on `on`: not left by then (left on a later day or not at all) and born
    by then."""
    return (Q(left_on__isnull=True) | Q(left_on__gt=on)) & Q(birth_date__lte=on)


def _people_on(on: dt.date, household: str) -> Coalesce:
    """The members present on `on` of the household `household` (an OuterRef path) names."""
    present = (
        Member.objects.filter(_present(on), household_id=OuterRef(household))
        .order_by()
        .values("household_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(
        Subquery(present, output_field=models.PositiveSmallIntegerField()),
        Value(0),
        output_field=models.PositiveSmallIntegerField(),
    )


def _status_on(on: dt.date, household: str, stored: str) -> Case:
    """The status on `on` of the household `household` (an OuterRef path) names: the
    `to_status` of its last change on or before the day; null when its changes all come
    later; its stored status (`stored`) when it has no change at all (module docstring)."""
    history = StatusChange.objects.filter(household_id=OuterRef(household))
    last = history.filter(date__lte=on).order_by("-date", "-pk")
    return Case(
        When(~Exists(history), then=F(stored)),
        default=Subquery(last.values("to_status")[:1]),
        output_field=models.CharField(),
    )


def _life_cycle_on(on: dt.date) -> dict[str, Any]:
    """LIFE_CYCLE as of `on`, as expressions over a household queryset (module docstring,
    "As of a day"); which steps set the years is the life cycle's policy."""
    history = StatusChange.objects.filter(household_id=OuterRef("pk"))
    last = history.filter(date__lte=on).order_by("-date", "-pk")
    steps = transitions().values()
    identifying = [t.name for t in steps if t.sets_identification_year]
    exiting = [t.name for t in steps if t.sets_exit_year]
    year = models.PositiveSmallIntegerField()
    exit_year = Cast(ExtractYear("date"), models.SmallIntegerField())
    return {
        "status": _status_on(on, "pk", "status"),
        "status_date": Case(
            When(~Exists(history), then=F("status_date")),
            default=Subquery(last.values("date")[:1]),
            output_field=models.DateField(),
        ),
        "identification_year": Case(
            When(Exists(last.filter(transition__in=identifying)), then=F("identification_year")),
            When(
                ~Exists(history.filter(transition__in=identifying))
                & Q(identification_year__lte=on.year),
                then=F("identification_year"),
            ),
            default=Value(None),
            output_field=year,
        ),
        "exit_year": Case(
            When(
                Exists(history.filter(transition__in=exiting)),
                then=Subquery(last.filter(transition__in=exiting).values(y=exit_year)[:1]),
            ),
            When(exit_year__lte=on.year, then=F("exit_year")),
            default=Value(None),
            output_field=year,
        ),
    }


def write_snapshot(
    user: Any,
    area_code: str,
    out_dir: Path | str,
    progress: Progress | None = None,
    *,
    year: int | None = None,
    statuses: Iterable[str] | None = None,
    on: dt.date | None = None,
    chunk: int = CHUNK,
) -> dict[str, int]:
    """Write the snapshot of `area_code`'s households visible to `user` (module docstring),
    only those whose status is one of `statuses` if given; returns the number of households
    and members written.

    With `on`, the registry as it stood that day ("As of a day"): the households whose
    status on the day is one of `statuses` (a household whose first change comes after the
    day had none then, and is left out), their life cycle of that day, the members present
    that day and `people` counted over them."""
    # Any: annotated as of a day, the querysets carry the snapshot_ names.
    households_in: models.QuerySet[Any] = Household.objects.for_user(user).in_area(area_code)
    members_in: models.QuerySet[Any] = Member.objects.for_user(user).in_area(area_code)
    incomes_in: models.QuerySet[Any] = HouseholdIncome.objects.for_user(user).in_area(area_code)
    wanted = None if statuses is None else [str(s) for s in statuses]
    # The names read for `people` and the life cycle: the stored fields, or as of `on`.
    people, life, income_people = "people", list(LIFE_CYCLE), "household__people"
    if on is None:
        members_in = members_in.filter(left_on__isnull=True)
        if wanted is not None:
            households_in = households_in.filter(status__in=wanted)
            members_in = members_in.filter(household__status__in=wanted)
            incomes_in = incomes_in.filter(household__status__in=wanted)
    else:
        cycle = _life_cycle_on(on)
        as_of = {f"snapshot_{name}": cycle[name] for name in LIFE_CYCLE}
        households_in = households_in.annotate(snapshot_people=_people_on(on, "pk"), **as_of)
        members_in = members_in.filter(_present(on))
        incomes_in = incomes_in.filter(year__lte=on.year).annotate(
            snapshot_people=_people_on(on, "household_id")
        )
        people, life, income_people = "snapshot_people", list(as_of), "snapshot_people"
        if wanted is not None:
            households_in = households_in.filter(snapshot_status__in=wanted)
            status = _status_on(on, "household_id", "household__status")
            members_in = members_in.annotate(snapshot_status=status).filter(
                snapshot_status__in=wanted
            )
            incomes_in = incomes_in.annotate(snapshot_status=status).filter(
                snapshot_status__in=wanted
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h_schema, m_schema = _schemas()
    meta = {
        "fupin.snapshot_area": area_code,
        "fupin.snapshot_at": timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    if on is not None:
        meta["fupin.snapshot_on"] = on.isoformat()
    files = (HOUSEHOLDS_FILE, MEMBERS_FILE, INCOMES_FILE)
    tmp = {name: out / f".{name}.part" for name in files}
    try:
        with _consistent_read():
            households, last_id, people_sum = _write_households(
                households_in,
                tmp[HOUSEHOLDS_FILE],
                h_schema,
                meta,
                (year, people, life),
                chunk,
                progress,
            )
            members = _write_members(
                members_in,
                tmp[MEMBERS_FILE],
                m_schema,
                meta,
                (last_id, households, people_sum),
                chunk,
                progress,
            )
            _write_incomes(incomes_in, tmp[INCOMES_FILE], meta, (last_id, income_people), chunk)
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    for name, path in tmp.items():
        os.replace(path, out / name)
    return {"households": households, "members": members}


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    # Without the serialised Arrow schema (whose metadata is fixed when the writer opens),
    # readers take the file's key-value metadata as the schema's, so the count of
    # households, known only at the end, is there for them. Every type here maps back to
    # itself from Parquet's logical types.
    return pq.ParquetWriter(path, schema, compression="zstd", store_schema=False)


def _write_households(
    scoped: models.QuerySet[Household],
    path: Path,
    schema: pa.Schema,
    meta: dict[str, str],
    read_as: tuple[int | None, str, list[str]],
    chunk: int,
    progress: Progress | None,
) -> tuple[int, int, int]:
    """households.parquet; returns the households written, the last primary key and the
    sum of `people` (the members to expect). `read_as`: the income year, and the names
    `people` and the life cycle are read under (the stored fields, or as of a day)."""
    year, people_as, life_as = read_as
    # One LEFT JOIN to the year's income: the household's own latest year by default.
    same_year = Q(incomes__year=year) if year is not None else Q(incomes__year=F("income_year"))
    total = scoped.count()
    queryset = (
        scoped.annotate(snapshot_income=FilteredRelation("incomes", condition=same_year))
        .order_by("pk")
        .values_list(
            "pk",
            "village_id",
            people_as,
            *H_FIELDS,
            "snapshot_income__year",
            *(f"snapshot_income__{name}" for name in INCOME_FIELDS),
            "per_capita_income",
            *life_as,
        )
    )
    read = [name for name in H_SNAPSHOT if name != "county_code"]
    label = _("Reading households")
    done = last_id = people = 0
    if progress:
        progress(label, 0, total)
    writer = _writer(path, schema)
    try:
        for rows in _raw_rows(queryset, chunk):
            columns = {
                name: _array(values, schema.field(name).type)
                for name, values in zip(read, zip(*rows, strict=True), strict=True)
            }
            villages = columns["village_code"]
            columns["county_code"] = pc.utf8_slice_codeunits(villages, 0, COUNTY_DIGITS)
            # Stored as ",3,7," for the database's LIKE; the files carry "3,7".
            columns["other_causes"] = pc.utf8_trim(columns["other_causes"], ",")
            if year is not None:
                columns["per_capita_income"] = _per_capita(columns)
            writer.write_table(pa.table([columns[name] for name in H_SNAPSHOT], schema=schema))
            done += len(rows)
            last_id = int(rows[-1][0])
            people += int(pc.sum(columns["people"]).as_py() or 0)
            if progress:
                progress(label, done, max(total, done))
        if not done:
            writer.write_table(schema.empty_table())
        writer.add_key_value_metadata({**meta, "fupin.households": str(done)})
    finally:
        writer.close()
    return done, last_id, people


def _write_members(
    scoped: models.QuerySet[Member],
    path: Path,
    schema: pa.Schema,
    meta: dict[str, str],
    written: tuple[int, int, int],
    chunk: int,
    progress: Progress | None,
) -> int:
    """members.parquet: the members in `scoped` (current ones, or those present on a day) of
    the households written, by household."""
    last_id, households, expected = written
    queryset = (
        scoped.filter(household_id__lte=last_id)
        .order_by("household_id", "relation", "birth_date", "pk")
        .values_list("pk", "household_id", *M_SNAPSHOT)
    )
    label = _("Reading members")
    done = 0
    if progress:
        progress(label, 0, expected)
    writer = _writer(path, schema)
    try:
        for rows in _raw_rows(queryset, chunk) if last_id else ():
            arrays = [
                _array(values, field.type)
                for values, field in zip(zip(*rows, strict=True), schema, strict=True)
            ]
            writer.write_table(pa.table(arrays, schema=schema))
            done += len(rows)
            if progress:
                progress(label, done, max(expected, done))
        if not done:
            writer.write_table(schema.empty_table())
        writer.add_key_value_metadata({**meta, "fupin.households": str(households)})
    finally:
        writer.close()
    if progress:
        progress(label, done, done)
    return done


def _write_incomes(
    scoped: models.QuerySet[HouseholdIncome],
    path: Path,
    meta: dict[str, str],
    read_as: tuple[int, str],
    chunk: int,
) -> None:
    """incomes.parquet: every recorded year of the households written, net and per person
    as the services compute them (per person of the household's current size, or its size
    on the snapshot's day: the registry keeps no size per year). `read_as`: the last
    household written and the name `people` is read under."""
    last_id, people_as = read_as
    schema = _incomes_schema()
    queryset = (
        scoped.filter(household_id__lte=last_id)
        .order_by("household_id", "year")
        .values_list("household_id", "year", people_as, *INCOME_FIELDS)
    )
    read = ["household_id", "year", "people", *INCOME_FIELDS]
    writer = _writer(path, schema)
    written = 0
    try:
        for rows in _raw_rows(queryset, chunk) if last_id else ():
            columns = {
                name: _array(values, schema.field(name).type)
                for name, values in zip(read, zip(*rows, strict=True), strict=True)
            }
            columns["income_year"] = columns["year"]
            columns["per_capita_income"] = pa.nulls(
                len(rows), schema.field("per_capita_income").type
            )
            per_capita = _per_capita(columns)
            net = sum((_fen(columns[name]) for name in HouseholdIncome.SOURCES), np.int64(0))
            net = net - _fen(columns["business_cost"])
            columns["net_income"] = pa.array(
                [Decimal(int(f)).scaleb(-2) for f in net.tolist()], schema.field("net_income").type
            )
            columns["per_capita_income"] = per_capita
            writer.write_table(pa.table([columns[name] for name in I_COLUMNS], schema=schema))
            written += len(rows)
        if not written:
            writer.write_table(schema.empty_table())
        writer.add_key_value_metadata(meta)
    finally:
        writer.close()
