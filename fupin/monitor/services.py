"""Every change to monitoring goes through these functions (一个入口), and the lists the
pages show are drawn here.

The education aid exchange (Anhui, seed 004): `create_exchange` → `export_exchange` (the
children are taken from the registry once, as rows with a row key) → `write_exchange_file`
(the file for the education department, xlsx or CSV, full resident IDs) →
`import_answer` (every row checked, then all written or none) → `unaided_rows` and
`unaided_by_county_and_school` (the 应助未助 list). Health: `uninsured_members` and
`uninsured_by_area` (registered poor people without basic medical or serious-illness
insurance). Each change checks the right and the area, validates first, writes in one
transaction and appends its audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fupin.core import audit, jobs
from fupin.core.models import CODE_LENGTH, Area, AreaLevel
from fupin.core.services import require, require_area
from fupin.core.validators import mask_id_number, normalize_id_number
from fupin.monitor import exchange_file, policy
from fupin.monitor.models import EducationExchange, ExchangeChild, ExchangeState
from fupin.registry.enums import STUDENT_SCHOOLING, Education, Schooling
from fupin.registry.exports import BOM
from fupin.registry.models import Member
from fupin.registry.validation import FALSE_WORDS, TRUE_WORDS, as_text, lookup_key

VIEW = "monitor.view_monitor"
MANAGE = "monitor.manage_monitor"
FULL_ID = "registry.view_full_id"
#: Rows written per UPDATE batch and reported per progress step.
BATCH = 2000

Progress = Callable[[str, int, int | None], None]


def _no_progress(phase: str, done: int, total: int | None = None) -> None:
    return None


# ======================================================================================
# The education exchange: creating and drawing the list
# ======================================================================================


def default_school_year(today: dt.date) -> int:
    """The school year in progress: one that begins in the aid year's first month."""
    month, day = policy.education().aid_year_starts
    return today.year if (today.month, today.day) >= (month, day) else today.year - 1


@transaction.atomic
def create_exchange(
    user: Any, area_code: str, school_year: int, reason: str = ""
) -> EducationExchange:
    """Open the year's exchange of an area (年度教育资助数据比对); one per area and year."""
    require(user, MANAGE)
    errors: dict[str, list[str]] = {}
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        errors["area"] = [_("No area has the code %(code)s.") % {"code": area_code}]
    else:
        require_area(user, area.code)
    this_year = timezone.localdate().year
    if not 2014 <= school_year <= this_year + 1:
        errors["school_year"] = [
            _("The school year must lie between %(first)d and %(last)d.")
            % {"first": 2014, "last": this_year + 1}
        ]
    elif (
        area is not None
        and EducationExchange.objects.filter(area=area, school_year=school_year).exists()
    ):
        errors["school_year"] = [_already(area, school_year)]
    if errors or area is None:
        raise ValidationError(errors)
    try:
        # A savepoint: a colleague who created the same exchange since the check above makes
        # the insert fail on the unique constraint, which is the same refusal, not an error.
        with transaction.atomic():
            exchange = EducationExchange.objects.create(
                area=area, school_year=school_year, created_by=user
            )
    except IntegrityError as exc:
        raise ValidationError({"school_year": [_already(area, school_year)]}) from exc
    audit.record(
        user=user,
        action="monitor.exchange.create",
        obj=exchange,
        area_code=exchange.area_id,
        after={"area": exchange.area_id, "school_year": school_year},
        reason=reason,
    )
    return exchange


def _already(area: Area, school_year: int) -> str:
    return _("%(area)s already has an exchange for the school year %(year)d.") % {
        "area": area.name,
        "year": school_year,
    }


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def eligible_children(user: Any, area_code: str, on: dt.date) -> models.QuerySet[Member]:
    """The children the education department is sent (policy/education.toml): current
    members of the area's registered poor households who are students (学前 to 大专及以上),
    or of compulsory-school age on `on` and not in school — except a child at the top age
    whose education is junior secondary or above, who has done the nine years."""
    rules = policy.education()
    low, high = rules.compulsory_ages
    # Age ≥ low ⇔ born on or before `on` less low years; age ≤ high ⇔ born after `on`
    # less high + 1 years.
    oldest_birth = _years_before(on, high + 1)
    compulsory_age = Q(birth_date__lte=_years_before(on, low), birth_date__gt=oldest_birth)
    at_top_age = Q(birth_date__lte=_years_before(on, high))
    completed = at_top_age & Q(
        education__in=[Education.JUNIOR, Education.SENIOR, Education.COLLEGE]
    )
    out_of_school = compulsory_age & Q(schooling=Schooling.NOT_IN_SCHOOL) & ~completed
    return (
        Member.objects.for_user(user)
        .in_area(area_code)
        .filter(household__status__in=rules.household_statuses, left_on__isnull=True)
        .filter(Q(schooling__in=STUDENT_SCHOOLING) | out_of_school)
    )


def _lock(exchange: EducationExchange) -> EducationExchange:
    return EducationExchange.objects.select_for_update().get(pk=exchange.pk)


def _require_full_id(user: Any) -> None:
    if not user.has_perm(FULL_ID):
        raise PermissionDenied(
            _(
                "The education department needs full resident IDs to match the children, "
                "and you may not see full IDs: ask a colleague who may (an administrator "
                "or data officer) to export this exchange."
            )
        )


@transaction.atomic
def export_exchange(
    user: Any, exchange: EducationExchange, on: dt.date | None = None, reason: str = ""
) -> EducationExchange:
    """Draw the list (every eligible child, one row each with its row key) and mark the
    exchange as sent. The list is drawn once: the answer is matched against these rows."""
    require(user, MANAGE)
    require_area(user, exchange.area_id)
    _require_full_id(user)
    current = _lock(exchange)
    if current.state != ExchangeState.CREATED:
        raise ValidationError(
            _("The list of this exchange was drawn on %(date)s; download its file again instead.")
            % {"date": current.exported_on}
        )
    on = on or timezone.localdate()
    children = (
        eligible_children(user, current.area_id, on)
        .select_related("household")
        .order_by("household__village_id", "household__code", "relation", "birth_date", "pk")
    )
    # Written a batch at a time, so a province's list does not sit in memory at once.
    batch: list[ExchangeChild] = []
    n = 0
    for n, member in enumerate(children.iterator(chunk_size=BATCH), start=1):
        household = member.household
        batch.append(
            ExchangeChild(
                exchange=current,
                row_key=f"E{current.pk}-{n:06d}",
                member=member,
                household=household,
                village_id=household.village_id,
                household_code=household.code,
                head_name=household.head_name,
                name=member.name,
                id_number=member.id_number,
                sex=member.sex,
                birth_date=member.birth_date,
                schooling=member.schooling,
            )
        )
        if len(batch) == BATCH:
            ExchangeChild.objects.bulk_create(batch)
            batch.clear()
    ExchangeChild.objects.bulk_create(batch)
    before = audit.snapshot(current)
    current.state = ExchangeState.EXPORTED
    current.exported_on = on
    current.exported_at = timezone.now()
    current.exported_by = user
    current.children = n
    current.version += 1
    current.save()
    old, new = audit.diff(before, audit.snapshot(current))
    audit.record(
        user=user,
        action="monitor.exchange.export",
        obj=current,
        area_code=current.area_id,
        before=old,
        after=new,
        reason=reason,
    )
    return current


def _names(exchange: EducationExchange) -> exchange_file.Names:
    villages = set(
        ExchangeChild.objects.filter(exchange=exchange)
        .values_list("village_id", flat=True)
        .distinct()
    )
    codes = (
        villages
        | {c[: exchange_file.COUNTY] for c in villages}
        | {c[: exchange_file.TOWNSHIP] for c in villages}
    )
    names = Area.objects.filter(code__in=codes).values_list("code", "name")
    return exchange_file.Names(dict(names))


def write_exchange_file(
    user: Any, exchange: EducationExchange, fmt: str, path: Path, reason: str = ""
) -> int:
    """Write the exchange file (EXCHANGE.md) to `path`; returns its rows. The file carries
    full resident IDs, so it is refused to a user who may not see them, and each file made
    is on the audit trail."""
    require(user, MANAGE)
    require_area(user, exchange.area_id)
    _require_full_id(user)
    if fmt not in exchange_file.CONTENT_TYPES:
        raise ValueError(f"unknown format {fmt!r}")
    if exchange.state == ExchangeState.CREATED:
        raise ValidationError(_("Draw the list of this exchange first."))
    rows = exchange_file.iter_rows(
        ExchangeChild.objects.filter(exchange=exchange).order_by("row_key").iterator(BATCH),
        _names(exchange),
    )
    if fmt == "xlsx":
        n = exchange_file.write_xlsx(str(path), rows, exchange.school_year)
    else:
        with path.open("w", encoding="utf-8", newline="") as out:
            n = exchange_file.write_csv(out, rows)
    with transaction.atomic():
        audit.record(
            user=user,
            action="monitor.exchange.file",
            obj=exchange,
            area_code=exchange.area_id,
            after={"format": fmt, "rows": n, "full_id": True},
            reason=reason,
        )
    return n


# ======================================================================================
# The education exchange: the answer
# ======================================================================================


@dataclass(frozen=True)
class AnswerError:
    """A problem of an answer file: its row (0: the file as a whole), the column's title in
    the layout ("" for the row as a whole) and what is wrong."""

    row: int
    column: str
    message: str


@dataclass
class AnswerResult:
    rows: int = 0
    answered: int = 0
    aided: int = 0
    not_aided: int = 0
    #: Rows of the file whose 是否资助 was left blank (still unanswered, or kept).
    blank: int = 0
    errors: list[AnswerError] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


_SEPARATORS = re.compile(r"[,，、;；/|\s]+")
_ROW_KEY = re.compile(r"^E(\d+)-\d+$")
#: Largest amount accepted: max_digits 10, 2 places.
MAX_AMOUNT = Decimal("99999999.99")


def _stage_lookup() -> dict[str, str]:
    from django.utils import translation

    found: dict[str, str] = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, label in Schooling.choices:
                found[lookup_key(label)] = code
    for code in Schooling.values:
        found[lookup_key(code)] = code
    found.update(policy.education().stage_aliases)
    return found


def _kind_lookup() -> dict[str, str]:
    found: dict[str, str] = {}
    for kind in policy.education().aid_kinds.values():
        for spelling in (kind.code, kind.label_zh, kind.label_en):
            found[lookup_key(spelling)] = kind.code
        if kind.code.isdigit():
            found[str(int(kind.code))] = kind.code
    return found


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _shown(raw: Any) -> str:
    text = as_text(raw)
    return text if len(text) <= 40 else text[:39] + "…"


class _Bad(Exception):
    pass


def _amount(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise _Bad(_("“%(value)s” is not an amount of money.") % {"value": _shown(raw)})
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise _Bad(_("“%(value)s” is not an amount of money.") % {"value": _shown(raw)})
        # A spreadsheet's binary float is read as the decimal it shows.
        rounded = round(raw, 2)
        number = Decimal(repr(rounded if abs(raw - rounded) < 1e-9 else raw))
    elif isinstance(raw, int):
        number = Decimal(raw)
    else:
        text = unicodedata.normalize("NFKC", as_text(raw)).replace(",", "").replace(" ", "")
        text = text.removesuffix("元")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _Bad(
                _("“%(value)s” is not an amount of money.") % {"value": _shown(raw)}
            ) from None
    if not number.is_finite():
        raise _Bad(_("“%(value)s” is not an amount of money.") % {"value": _shown(raw)})
    if number < 0:
        raise _Bad(_("An amount cannot be negative (it is %(value)s).") % {"value": _shown(raw)})
    if number != number.quantize(Decimal("0.01")):
        raise _Bad(
            _("An amount has at most two decimal places (it is %(value)s).")
            % {"value": _shown(raw)}
        )
    if number > MAX_AMOUNT:
        raise _Bad(_("%(value)s yuan is too large an amount.") % {"value": _shown(raw)})
    return number.quantize(Decimal("0.01"))


def _date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    digits = re.findall(r"\d+", unicodedata.normalize("NFKC", as_text(raw)))
    try:
        if len(digits) == 1 and len(digits[0]) == 8:
            d = digits[0]
            return dt.date(int(d[:4]), int(d[4:6]), int(d[6:]))
        if len(digits) == 3 and len(digits[0]) == 4:
            return dt.date(int(digits[0]), int(digits[1]), int(digits[2]))
    except ValueError:
        pass
    raise _Bad(_("“%(value)s” is not a date; write it as 2025-03-01.") % {"value": _shown(raw)})


def _text(raw: Any, limit: int) -> str:
    text = as_text(raw)
    if len(text) > limit:
        raise _Bad(
            _("At most %(max)d characters (this has %(n)d).") % {"max": limit, "n": len(text)}
        )
    return text


@dataclass
class _Answer:
    pk: int
    aided: bool | None
    fields: dict[str, Any]


class _RowChecker:
    """Checks the rows of one answer against the exchange's rows; collects every problem."""

    def __init__(self, exchange: EducationExchange) -> None:
        self.exchange = exchange
        self.rows: dict[str, tuple[int, str]] = {
            key: (pk, id_number)
            for key, pk, id_number in ExchangeChild.objects.filter(exchange=exchange).values_list(
                "row_key", "pk", "id_number"
            )
        }
        self.seen: dict[str, int] = {}
        self.stages = _stage_lookup()
        self.kinds = _kind_lookup()
        self.aid_year = policy.education().aid_year(exchange.school_year)
        self.errors: list[AnswerError] = []

    def error(self, row: int, key: str, message: str) -> None:
        title = exchange_file.BY_KEY[key].title if key else ""
        self.errors.append(AnswerError(row, title, message))

    def check(self, line: exchange_file.AnswerRow) -> _Answer | None:
        n, cells = line.row, line.cells
        key = as_text(cells.get("row_key")).upper()
        if not key:
            self.error(n, "row_key", _("The row key is missing: rows cannot be added."))
            return None
        if key in self.seen:
            self.error(
                n,
                "row_key",
                _("The row key %(key)s is also on row %(row)d.")
                % {"key": key, "row": self.seen[key]},
            )
            return None
        self.seen[key] = n
        found = self.rows.get(key)
        if found is None:
            other = _ROW_KEY.match(key)
            if other and int(other.group(1)) != self.exchange.pk:
                message = _(
                    "The row key %(key)s belongs to another exchange (no. %(other)s), not "
                    "to this one: import the file into its own exchange."
                ) % {"key": key, "other": other.group(1)}
            else:
                message = _(
                    "No row of this exchange has the row key %(key)s: rows cannot be added, "
                    "and row keys must not be changed."
                ) % {"key": key}
            self.error(n, "row_key", message)
            return None
        pk, exported_id = found
        raw_id = cells.get("id_number")
        if isinstance(raw_id, float):
            self.error(
                n,
                "id_number",
                _(
                    "The resident ID was stored as a number and lost its last digits; "
                    "format the column as text and copy the IDs from the exported file."
                ),
            )
        elif normalize_id_number(as_text(raw_id)) != exported_id:
            self.error(
                n,
                "id_number",
                _(
                    "The resident ID is not the one exported on row %(key)s (%(id)s): the "
                    "rows may have been sorted or edited separately."
                )
                % {"key": key, "id": mask_id_number(exported_id)},
            )
        return self._answer(n, pk, cells)

    def _answer(self, n: int, pk: int, cells: dict[str, Any]) -> _Answer | None:
        ok = True
        values: dict[str, Any] = {}

        def take(key: str, convert: Callable[[Any], Any], empty: Any) -> None:
            nonlocal ok
            raw = cells.get(key)
            if _blank(raw):
                values[key] = empty
                return
            try:
                values[key] = convert(raw)
            except _Bad as exc:
                self.error(n, key, str(exc))
                ok = False

        take("aided", self._yes_no, None)
        take("school_name", lambda raw: _text(raw, 100), "")
        take("school_code", lambda raw: _text(raw, 20), "")
        take("stage", self._stage, "")
        take("in_province", self._in_province, None)
        take("aid_kinds", self._kinds, [])
        take("amount", _amount, None)
        take("aid_date", self._aid_date, None)
        take("note", lambda raw: _text(raw, 200), "")
        if not ok:
            return None
        aided = values["aided"]
        amount = values["amount"]
        if aided is True and not values["aid_kinds"]:
            self.error(n, "aid_kinds", _("Give the aid kind(s) of an aided child."))
            ok = False
        if aided is False and values["aid_kinds"]:
            self.error(
                n,
                "aid_kinds",
                _("A child not aided has no aid kinds: clear the cell or write 是 (yes)."),
            )
            ok = False
        if aided is False and amount:
            self.error(
                n,
                "amount",
                _("A child not aided has no aid amount: clear the cell or write 是 (yes)."),
            )
            ok = False
        if aided is None and (values["aid_kinds"] or amount is not None or values["aid_date"]):
            self.error(
                n,
                "aided",
                _("This row gives aid kinds, an amount or a date: write 是 or 否 (yes or no)."),
            )
            ok = False
        if not ok:
            return None
        return _Answer(pk, aided, values)

    @staticmethod
    def _yes_no(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        word = lookup_key(raw)
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _Bad(
            _("“%(value)s” is not yes or no; write 是 or 否 (yes or no).") % {"value": _shown(raw)}
        )

    @staticmethod
    def _in_province(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        word = lookup_key(raw)
        if word in exchange_file.IN_PROVINCE_WORDS:
            return exchange_file.IN_PROVINCE_WORDS[word]
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _Bad(
            _("“%(value)s” is not yes or no; write 是 (in the province) or 否 (outside it).")
            % {"value": _shown(raw)}
        )

    def _stage(self, raw: Any) -> str:
        code = self.stages.get(lookup_key(raw))
        if code is None:
            from django.utils import translation

            with translation.override("zh-hans"):
                allowed = "、".join(str(label) for _code, label in Schooling.choices)
            raise _Bad(
                _("“%(value)s” is not a known stage; write one of %(allowed)s.")
                % {"value": _shown(raw), "allowed": allowed}
            )
        return code

    def _kinds(self, raw: Any) -> list[str]:
        codes: list[str] = []
        for part in _SEPARATORS.split(as_text(raw)):
            if not part:
                continue
            code = self.kinds.get(lookup_key(part))
            if code is None:
                raise _Bad(
                    _("“%(value)s” is not an aid kind; write its code (see the sheet %(sheet)s).")
                    % {"value": _shown(part), "sheet": exchange_file.NOTES_TITLE}
                )
            if code not in codes:
                codes.append(code)
        return codes

    def _aid_date(self, raw: Any) -> dt.date:
        day = _date(raw)
        start, end = self.aid_year
        if not start <= day <= end:
            raise _Bad(
                _(
                    "The aid date %(date)s lies outside the aid year of this exchange "
                    "(%(start)s to %(end)s)."
                )
                % {"date": day.isoformat(), "start": start.isoformat(), "end": end.isoformat()}
            )
        return day


ANSWER_FIELDS = (
    "school_name",
    "school_code",
    "in_province",
    "stage",
    "aided",
    "aid_kinds",
    "amount",
    "aid_date",
    "note",
    "answered_at",
)
#: What a row whose 是否资助 is blank still records (the match, without a decision), and
#: 是否省内就读 when the cell is filled.
MATCH_FIELDS = ("school_name", "school_code", "stage", "note")


def import_answer(
    user: Any,
    exchange: EducationExchange,
    filename: str,
    data: bytes,
    reason: str = "",
    progress: Progress | None = None,
) -> AnswerResult:
    """Read the education department's answer (xlsx or CSV in the layout of EXCHANGE.md),
    check every row, and write all rows or none.

    A row whose 是否资助 is filled gets the file's answer in full (a later answer replaces
    an earlier one); a row whose 是否资助 is blank keeps its answer and records only the
    school, code, stage and note the file gives. Rows of the exchange that the file does not
    carry are left as they are."""
    require(user, MANAGE)
    require_area(user, exchange.area_id)
    progress = progress or _no_progress
    if exchange.state == ExchangeState.CREATED:
        raise ValidationError(_("Draw the list of this exchange and send it first."))
    progress(_("Reading the file"), 0, None)
    parsed = exchange_file.read_answer(data)
    result = AnswerResult(rows=len(parsed.rows), unknown_columns=parsed.unknown)
    if parsed.problems:
        result.errors = [AnswerError(0, "", p) for p in parsed.problems]
        return result
    checker = _RowChecker(exchange)
    answers: list[_Answer] = []
    total = len(parsed.rows)
    for i, line in enumerate(parsed.rows, start=1):
        answer = checker.check(line)
        if answer is not None:
            answers.append(answer)
        if i % BATCH == 0:
            progress(_("Checking every row"), i, total)
    result.errors = checker.errors
    if result.errors:
        return result
    now = timezone.now()
    with transaction.atomic():
        current = _lock(exchange)
        by_pk = {a.pk: a for a in answers}
        done = 0
        pks = list(by_pk)
        for start in range(0, len(pks), BATCH):
            chunk = ExchangeChild.objects.filter(pk__in=pks[start : start + BATCH])
            changed = []
            for row in chunk:
                answer = by_pk[row.pk]
                in_province = answer.fields["in_province"]
                if answer.aided is None:
                    for name in MATCH_FIELDS:
                        if answer.fields[name]:
                            setattr(row, name, answer.fields[name])
                    if in_province is not None:
                        row.in_province = in_province
                else:
                    for name, value in answer.fields.items():
                        setattr(row, name, value)
                    # Blank is in the province (EXCHANGE.md).
                    row.in_province = in_province is not False
                    row.answered_at = now
                changed.append(row)
            ExchangeChild.objects.bulk_update(changed, ANSWER_FIELDS)
            done += len(changed)
            progress(_("Writing"), done, len(pks))
        result.answered = sum(1 for a in answers if a.aided is not None)
        result.aided = sum(1 for a in answers if a.aided is True)
        result.not_aided = sum(1 for a in answers if a.aided is False)
        result.blank = len(answers) - result.answered
        before = audit.snapshot(current)
        counts = ExchangeChild.objects.filter(exchange=current).aggregate(
            n_answered=Count("pk", filter=Q(aided__isnull=False)),
            n_aided=Count("pk", filter=Q(aided=True)),
        )
        current.answered = counts["n_answered"]
        current.aided = counts["n_aided"]
        current.state = ExchangeState.ANSWERED
        current.answered_at = now
        current.answered_by = user
        current.imports += 1
        current.version += 1
        current.save()
        old, new = audit.diff(before, audit.snapshot(current))
        audit.record(
            user=user,
            action="monitor.exchange.answer",
            obj=current,
            area_code=current.area_id,
            before=old,
            after={
                **new,
                "file": filename,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": result.rows,
                "answered_in_file": result.answered,
                "aided_in_file": result.aided,
            },
            reason=reason,
        )
    exchange.refresh_from_db()
    return result


# ======================================================================================
# The 应助未助 list
# ======================================================================================

#: The sections of the 应助未助 page (EXCHANGE.md), each child not aided in exactly one:
#: the list itself — answered 否, studying in the province (the default); the children the
#: answer did not cover (perhaps not found: kept in sight, apart from 答否); the children not
#: in school (控辍保学: the answer's stage 非在校生, or no stage and not in school on the
#: registry); the children the answer places in a school outside the province (seed 004
#: aids those “在省内各级各类学校就读”). Before the answer there is no list.
SECTIONS = ("unaided", "not_answered", "not_in_school", "outside")
SECTION_LABELS = {
    "unaided": gettext_lazy("Should be aided and are not (应助未助)"),
    "not_answered": gettext_lazy("Not answered"),
    "not_in_school": gettext_lazy("Not in school (控辍保学)"),
    "outside": gettext_lazy("Studying outside the province"),
}

#: What a row of each section shows in its answer column.
ROW_LABELS = {
    "unaided": gettext_lazy("Answered no"),
    "not_answered": gettext_lazy("Not answered"),
    "not_in_school": gettext_lazy("Not in school (控辍保学)"),
    "outside": gettext_lazy("Studying outside the province"),
}


def _sections() -> dict[str, Q]:
    none = Schooling.NOT_IN_SCHOOL
    outside = Q(in_province=False)
    not_in_school = ~outside & (Q(stage=none) | Q(stage="", schooling=none))
    rest = ~outside & ~(Q(stage=none) | Q(stage="", schooling=none))
    return {
        "unaided": rest & Q(aided=False),
        "not_answered": rest & Q(aided__isnull=True),
        "not_in_school": not_in_school,
        "outside": outside,
    }


def section_filter(section: str) -> Q:
    """The condition of one section of the 应助未助 page (SECTIONS) on not-aided rows."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}")
    return _sections()[section]


def not_aided_rows(
    user: Any,
    exchange: EducationExchange,
    *,
    area: str = "",
    school: str = "",
    stage: str = "",
) -> models.QuerySet[ExchangeChild]:
    """The exchange's rows in the user's area not answered 是, whose household is still a
    registered poor household (one excluded since the list was drawn is not owed aid) —
    none until the education department's answer is in (the 应助未助 list is made of its
    answer, seed 004). Filters: an area code below the user's, a school name (part of it;
    "-" for rows without a school), the schooling stage sent."""
    if exchange.state != ExchangeState.ANSWERED:
        return ExchangeChild.objects.none()
    statuses = policy.education().household_statuses
    rows = (
        ExchangeChild.objects.for_user(user)
        .filter(exchange=exchange, household__status__in=statuses)
        .exclude(aided=True)
    )
    if area:
        rows = rows.in_area(area)
    if school == "-":
        rows = rows.filter(school_name="")
    elif school:
        rows = rows.filter(school_name__icontains=school.strip())
    if stage:
        rows = rows.filter(schooling=stage)
    return rows


def unaided_rows(
    user: Any,
    exchange: EducationExchange,
    *,
    section: str = "unaided",
    area: str = "",
    school: str = "",
    stage: str = "",
) -> models.QuerySet[ExchangeChild]:
    """The children of one section of the 应助未助 page (SECTIONS); by default the list
    itself: children who should be aided and are not (应助未助), answered 否 while in school
    in the province."""
    rows = not_aided_rows(user, exchange, area=area, school=school, stage=stage)
    return rows.filter(section_filter(section))


def scoped_counts(user: Any, exchanges: list[EducationExchange]) -> dict[int, dict[str, int]]:
    """One aggregate query: per exchange, its children in the user's area (a village cadre
    sees the county's exchange, and counts his village's children), answered and aided."""
    # Aggregates named apart from the fields: a filter on `aided` after an aggregate called
    # "aided" would read the aggregate.
    found = {
        g["exchange"]: g
        for g in ExchangeChild.objects.for_user(user)
        .filter(exchange__in=[e.pk for e in exchanges])
        .values("exchange")
        .annotate(
            n_children=Count("pk"),
            n_answered=Count("pk", filter=Q(aided__isnull=False)),
            n_aided=Count("pk", filter=Q(aided=True)),
        )
        .order_by()
    }
    empty = {"n_children": 0, "n_answered": 0, "n_aided": 0}
    return {
        e.pk: {
            "children": found.get(e.pk, empty)["n_children"],
            "answered": found.get(e.pk, empty)["n_answered"],
            "aided": found.get(e.pk, empty)["n_aided"],
        }
        for e in exchanges
    }


def section_counts(rows: models.QuerySet[ExchangeChild]) -> dict[str, int]:
    """One aggregate query: the children of `rows` (not_aided_rows) in each section."""
    counts = rows.aggregate(**{f"n_{k}": Count("pk", filter=q) for k, q in _sections().items()})
    return {k: counts[f"n_{k}"] for k in SECTIONS}


def unaided_by_county_and_school(rows: models.QuerySet[ExchangeChild]) -> list[dict[str, Any]]:
    """One aggregate query: the children of `rows` per county (县) and school, with the
    county's name (seed 004: 按月发布县（市、区）、学校应助未助学生名单)."""
    county_length = CODE_LENGTH[AreaLevel.COUNTY]
    groups: list[dict[str, Any]] = [
        dict(g)
        for g in rows.annotate(county=Substr("village_id", 1, county_length))
        .values("county", "school_name")
        .annotate(children=Count("pk"))
        .order_by("county", "school_name")
    ]
    names = dict(
        Area.objects.filter(code__in={g["county"] for g in groups}).values_list("code", "name")
    )
    for group in groups:
        group["county_name"] = names.get(group["county"], group["county"])
    return groups


# ======================================================================================
# Health: registered poor people without insurance
# ======================================================================================

#: Insurance kinds of the health list → the Member field that says the person has it.
INSURANCE_FIELDS = {
    "basic": "has_medical_insurance",
    "serious": "has_serious_illness_insurance",
}
INSURANCE_LABELS = {
    "basic": gettext_lazy("basic medical insurance"),
    "serious": gettext_lazy("serious-illness insurance"),
}
#: Grouping levels of the health list.
GROUP_LEVELS = {
    "county": AreaLevel.COUNTY,
    "township": AreaLevel.TOWNSHIP,
    "village": AreaLevel.VILLAGE,
}


def registered_people(user: Any, area_code: str = "") -> models.QuerySet[Member]:
    """Current members of registered poor households (policy/health.toml) in the user's area."""
    people = Member.objects.for_user(user).filter(
        household__status__in=policy.health().household_statuses, left_on__isnull=True
    )
    return people.in_area(area_code) if area_code else people


def uninsured_members(user: Any, kind: str, area_code: str = "") -> models.QuerySet[Member]:
    if kind not in INSURANCE_FIELDS:
        raise ValueError(f"unknown insurance {kind!r}")
    return registered_people(user, area_code).filter(**{INSURANCE_FIELDS[kind]: False})


def uninsured_by_area(
    user: Any, kind: str, level: str, area_code: str = ""
) -> list[dict[str, Any]]:
    """One aggregate query: per area at `level` (county, township or village), the
    registered poor people, those without the insurance, and their households; areas with
    no one uninsured are left out. With each area's name."""
    if kind not in INSURANCE_FIELDS or level not in GROUP_LEVELS:
        raise ValueError(f"unknown insurance {kind!r} or level {level!r}")
    uninsured = Q(**{INSURANCE_FIELDS[kind]: False})
    length = CODE_LENGTH[GROUP_LEVELS[level]]
    groups: list[dict[str, Any]] = [
        dict(g)
        for g in registered_people(user, area_code)
        .annotate(code=Substr("household__village_id", 1, length))
        .values("code")
        .annotate(
            people=Count("pk"),
            uninsured=Count("pk", filter=uninsured),
            households=Count("household", filter=uninsured, distinct=True),
        )
        .filter(uninsured__gt=0)
        .order_by("code")
    ]
    names = dict(
        Area.objects.filter(code__in={g["code"] for g in groups}).values_list("code", "name")
    )
    for group in groups:
        group["name"] = names.get(group["code"], group["code"])
    return groups


# ======================================================================================
# Background jobs: a big exchange's file and a big answer
# ======================================================================================


def _file_permissions(job: Any) -> list[str]:
    return [MANAGE, FULL_ID]


@jobs.register(
    "monitor.exchange_file",
    label=gettext_lazy("Education exchange file"),
    permission=MANAGE,
    result_permissions=_file_permissions,
)
def exchange_file_job(job: jobs.JobContext) -> dict[str, int]:
    """params: exchange (pk), format (csv|xlsx)."""
    user = job.user
    if user is None:
        raise ValueError("an exchange file needs the user whose rights it follows")
    exchange = EducationExchange.objects.get_for_user(user, pk=job.params["exchange"])
    fmt = job.params.get("format", "xlsx")
    name = exchange_file.filename(exchange, fmt)
    path = job.workdir / name
    job.progress(_("Writing rows"), 0, exchange.children)
    rows = write_exchange_file(user, exchange, fmt, path)
    job.set_result(name, path)
    return {"rows": rows}


def answer_errors_csv(errors: list[AnswerError]) -> bytes:
    """The problems of a refused answer as a CSV to open next to the file (row, column,
    problem)."""
    import csv
    import io

    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([_("Row"), _("Column"), _("Problem")])
    for error in errors:
        writer.writerow([error.row or "", error.column, error.message])
    return out.getvalue().encode("utf-8")


@jobs.register(
    "monitor.exchange_answer",
    label=gettext_lazy("Import of an education exchange answer"),
    permission=MANAGE,
)
def answer_job(job: jobs.JobContext) -> dict[str, int]:
    """params: exchange (pk), reason. The input file is the answer; a refused answer fails
    the job with the list of problems as its result."""
    user = job.user
    if user is None or job.input_path is None:
        raise ValueError("an answer import needs its user and its file")
    exchange = EducationExchange.objects.get_for_user(user, pk=job.params["exchange"])
    result = import_answer(
        user,
        exchange,
        job.input_name,
        job.input_path.read_bytes(),
        reason=job.params.get("reason", ""),
        progress=job.progress,
    )
    counts = {
        "rows": result.rows,
        "answered": result.answered,
        "aided": result.aided,
        "errors": len(result.errors),
    }
    if result.errors:
        for error in result.errors[:200]:
            job.log(f"{error.row} {error.column}: {error.message}")
        job.set_result(
            "answer-problems.csv", answer_errors_csv(result.errors), also_on_failure=True
        )
        job.counts.update(counts)
        raise ValidationError(
            _("%(n)d problem(s); nothing was imported.") % {"n": len(result.errors)}
        )
    return counts


def iter_unaided(rows: models.QuerySet[ExchangeChild]) -> Iterator[ExchangeChild]:
    return rows.order_by("village_id", "school_name", "row_key").iterator(chunk_size=BATCH)


# ======================================================================================
# Return-to-poverty warnings (返贫预警): risk events
# ======================================================================================
#
# Who may do what (fupin/core/roles.py): record an event, respond to or dismiss a warning,
# start or end monitoring, open a return case — monitor.respond_warning (village cadres,
# data officers, administrators); import a department's file of events and run the
# warnings — monitor.manage_monitor (the county office). Everything is scoped to the
# user's area: a household outside it is not found.

RESPOND = "monitor.respond_warning"
#: Event files: problems listed before "and n more" on the page (the CSV has them all).
EVENT_BATCH = 1000


def event_kind_lookup() -> dict[str, str]:
    """Every accepted spelling of an event kind (lookup_key form) → its code: the code,
    the English and Chinese names, the policy's aliases."""
    from django.utils import translation

    from fupin.monitor.models import EventKind

    found: dict[str, str] = {}
    with translation.override("en"):
        for code, label in EventKind.choices:
            found[lookup_key(label)] = code
    for spelling in policy.warnings().event_kinds:
        for text in (spelling.code, spelling.label_zh, *spelling.aliases):
            found[lookup_key(text)] = spelling.code
    return found


def event_kind_label(code: str) -> str:
    """The kind's name in the active language (Chinese from the policy file)."""
    from django.utils.translation import get_language

    from fupin.monitor.models import EventKind

    spelling = policy.warnings().event_kind(code)
    if spelling is not None and (get_language() or "zh-hans").startswith("zh"):
        return spelling.label_zh
    return str(dict(EventKind.choices).get(code, code))


def _event_errors(
    *,
    kind: str,
    date: dt.date | None,
    amount: Decimal | None,
    source: str,
    note: str,
    household: Any,
    person: Any,
    today: dt.date,
) -> dict[str, list[str]]:
    """The rules of one event, every broken one by field (the form and the file share them)."""
    errors: dict[str, list[str]] = {}
    spelling = policy.warnings().event_kind(kind)
    if spelling is None:
        errors["kind"] = [_("Choose the kind of event.")]
    if date is None:
        errors["date"] = [_("Enter the date of the event.")]
    elif date > today:
        errors["date"] = [_("The date cannot be in the future.")]
    if amount is not None and amount < 0:
        errors["amount"] = [_("An amount cannot be negative.")]
    elif amount is not None and amount > MAX_AMOUNT:
        errors["amount"] = [_("The amount is too large.")]
    elif amount is None and spelling is not None and spelling.amount:
        errors["amount"] = [
            _("Give the amount in yuan: the warning rules compare it with the income.")
        ]
    if not source.strip():
        errors["source"] = [_("Say who reported the event (村报告, 卫健委, 银行, …).")]
    elif len(source.strip()) > 50:
        errors["source"] = [
            _("At most %(max)d characters (this has %(n)d).")
            % {"max": 50, "n": len(source.strip())}
        ]
    if len(note.strip()) > 200:
        errors["note"] = [
            _("At most %(max)d characters (this has %(n)d).") % {"max": 200, "n": len(note.strip())}
        ]
    if person is not None and household is not None and person.household_id != household.pk:
        errors["person"] = [_("This person is not a member of the household.")]
    return errors


def _event_after(event: Any) -> dict[str, Any]:
    return {
        "household": event.household_id,
        "person": event.person_id,
        "kind": event.kind,
        "date": event.date,
        "amount": event.amount,
        "source": event.source,
        "note": event.note,
    }


@transaction.atomic
def record_event(
    user: Any,
    household: Any,
    *,
    kind: str,
    date: dt.date | None,
    source: str,
    amount: Decimal | None = None,
    person: Any = None,
    note: str = "",
) -> Any:
    """Record a risk event of a household (风险事件): checked, then kept and audited.

    Refused: a date in the future, a negative amount, no amount for a kind whose amount
    the rules sum (policy/warnings.toml: medical expense, disaster), a person not of the
    household, no source."""
    from fupin.monitor.models import RiskEvent
    from fupin.registry.models import Household

    require(user, RESPOND)
    require_area(user, household.village_id)
    household = Household.objects.for_user(user).get(pk=household.pk)
    errors = _event_errors(
        kind=kind,
        date=date,
        amount=amount,
        source=source or "",
        note=note or "",
        household=household,
        person=person,
        today=timezone.localdate(),
    )
    if errors or date is None:
        raise ValidationError(errors)
    event = RiskEvent.objects.create(
        household=household,
        person=person,
        kind=kind,
        date=date,
        amount=None if amount is None else Decimal(amount).quantize(Decimal("0.01")),
        source=source.strip(),
        note=note.strip(),
        recorded_by=user,
    )
    audit.record(
        user=user,
        action="monitor.event.record",
        obj=event,
        area_code=household.village_id,
        after=_event_after(event),
    )
    return event


#: At most this many values in one `IN (…)` list.
IN_CHUNK = 5000


def _event_key(
    household: int, kind: str, day: dt.date, amount: Decimal | None, source: str
) -> tuple[Any, ...]:
    """What makes two events the same: household, kind, date, amount and source."""
    return (
        household,
        kind,
        day,
        None if amount is None else Decimal(amount).quantize(Decimal("0.01")),
        source.strip(),
    )


def _stored_event_keys(households: set[int]) -> set[tuple[Any, ...]]:
    from fupin.monitor.models import RiskEvent

    found: set[tuple[Any, ...]] = set()
    pks = sorted(households)
    for start in range(0, len(pks), IN_CHUNK):
        rows = RiskEvent.objects.filter(household_id__in=pks[start : start + IN_CHUNK])
        for hh, kind, day, amount, source in rows.values_list(
            "household_id", "kind", "date", "amount", "source"
        ):
            found.add(_event_key(hh, kind, day, amount, source))
    return found


def _already_imported(earlier: Any) -> str:
    return _(
        "This file was already imported for this area: %(file)s, %(rows)d rows, by "
        "%(user)s on %(date)s. Its events are recorded; importing it again would count them "
        "twice."
    ) % {
        "file": earlier.file_name,
        "rows": earlier.rows,
        "user": earlier.imported_by,
        "date": timezone.localtime(earlier.imported_at).strftime("%Y-%m-%d %H:%M"),
    }


@dataclass
class EventImportResult:
    rows: int = 0
    created: int = 0
    errors: list[AnswerError] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


def import_events(
    user: Any,
    area_code: str,
    filename: str,
    data: bytes,
    *,
    source: str = "",
    reason: str = "",
) -> EventImportResult:
    """A department's file of risk events (fupin/monitor/events_file.py), checked whole:
    every problem with its row and column; nothing is written unless every row is right.

    A row finds its household by 身份证号 (a member of a household in the area, the person
    concerned) or by 户编号; given both, they must agree. The row's 来源 is the reporting
    department, else `source` (the upload form's)."""
    from fupin.monitor import events_file
    from fupin.monitor.models import EventImport, RiskEvent
    from fupin.registry.models import Household

    require(user, MANAGE)
    require_area(user, area_code)
    parsed = events_file.read_events(data)
    result = EventImportResult(rows=len(parsed.rows), unknown_columns=parsed.unknown)
    earlier = EventImport.objects.filter(
        area_id=area_code, sha256=hashlib.sha256(data).hexdigest()
    ).first()
    if earlier is not None:
        result.errors = [AnswerError(0, "", _already_imported(earlier))]
        return result
    if parsed.problems:
        result.errors = [AnswerError(0, "", p) for p in parsed.problems]
        return result
    if not parsed.rows:
        result.errors = [AnswerError(0, "", _("The file has no rows."))]
        return result
    errors = result.errors

    def bad(row: int, key: str, message: str) -> None:
        errors.append(AnswerError(row, events_file.title(key) if key else "", message))

    ids: set[str] = set()
    codes: set[str] = set()
    for line in parsed.rows:
        raw_id = normalize_id_number(as_text(line.cells.get("id_number")))
        if raw_id:
            ids.add(raw_id)
        code = as_text(line.cells.get("household_code"))
        if code:
            codes.add(code)
    members: dict[str, Any] = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), IN_CHUNK):
        for m in (
            Member.objects.for_user(user)
            .in_area(area_code)
            .filter(id_number__in=id_list[start : start + IN_CHUNK])
            .order_by("left_on", "pk")  # a current member first (nulls first on both)
        ):
            members.setdefault(m.id_number, m)
    households: dict[str, Any] = {}
    code_list = sorted(codes)
    for start in range(0, len(code_list), IN_CHUNK):
        households.update(
            (h.code, h)
            for h in Household.objects.for_user(user)
            .in_area(area_code)
            .filter(code__in=code_list[start : start + IN_CHUNK])
        )
    by_pk = {h.pk: h for h in households.values()}
    missing = sorted({m.household_id for m in members.values()} - set(by_pk))
    for start in range(0, len(missing), IN_CHUNK):
        by_pk.update(
            {h.pk: h for h in Household.objects.filter(pk__in=missing[start : start + IN_CHUNK])}
        )
    stored = _stored_event_keys(set(by_pk))
    in_file: dict[tuple[Any, ...], int] = {}
    kinds = event_kind_lookup()
    today = timezone.localdate()
    default_source = (source or "").strip()
    events: list[RiskEvent] = []
    for line in parsed.rows:
        n, cells = line.row, line.cells
        ok = True
        raw_id = normalize_id_number(as_text(cells.get("id_number")))
        code = as_text(cells.get("household_code"))
        person = None
        household = None
        if raw_id:
            person = members.get(raw_id)
            if person is None:
                bad(
                    n,
                    "id_number",
                    _("No member of a household in this area has the resident ID %(id)s.")
                    % {"id": mask_id_number(raw_id)},
                )
                ok = False
            else:
                household = by_pk.get(person.household_id)
        if code:
            found = households.get(code)
            if found is None:
                bad(
                    n,
                    "household_code",
                    _("No household in this area has the number %(code)s.") % {"code": code},
                )
                ok = False
            elif household is not None and found.pk != household.pk:
                bad(
                    n,
                    "household_code",
                    _("The person of this ID belongs to household %(code)s, not to this one.")
                    % {"code": household.code},
                )
                ok = False
            else:
                household = found
        if not raw_id and not code:
            bad(n, "", _("Give the resident ID or the household number."))
            ok = False
        kind_raw = cells.get("kind")
        kind = kinds.get(lookup_key(kind_raw)) if not _blank(kind_raw) else None
        if kind is None:
            bad(
                n,
                "kind",
                _("“%(value)s” is not a kind of event; write one of %(allowed)s.")
                % {
                    "value": _shown(kind_raw),
                    "allowed": "、".join(k.label_zh for k in policy.warnings().event_kinds),
                },
            )
            ok = False
        day: dt.date | None = None
        if _blank(cells.get("date")):
            bad(n, "date", _("Enter the date of the event."))
            ok = False
        else:
            try:
                day = _date(cells.get("date"))
            except _Bad as exc:
                bad(n, "date", str(exc))
                ok = False
        amount: Decimal | None = None
        if not _blank(cells.get("amount")):
            try:
                amount = _amount(cells.get("amount"))
            except _Bad as exc:
                bad(n, "amount", str(exc))
                ok = False
        row_source = as_text(cells.get("source")) or default_source
        note = as_text(cells.get("note"))
        if kind is not None:
            problems = _event_errors(
                kind=kind,
                date=day,
                amount=amount,
                source=row_source,
                note=note,
                household=household,
                person=person,
                today=today,
            )
            if day is None:
                problems.pop("date", None)
            if events_file.title("amount") in {e.column for e in errors if e.row == n}:
                problems.pop("amount", None)
            for key, messages in problems.items():
                for message in messages:
                    bad(n, key if key in events_file.BY_KEY else "", message)
            if problems:
                ok = False
        if ok and household is not None and kind is not None and day is not None:
            event_key = _event_key(household.pk, kind, day, amount, row_source)
            if event_key in in_file:
                bad(
                    n,
                    "",
                    _("The same event (household, kind, date, amount, source) as row %(row)d.")
                    % {"row": in_file[event_key]},
                )
                continue
            in_file[event_key] = n
            if event_key in stored:
                bad(
                    n,
                    "",
                    _("This event (household, kind, date, amount, source) is already recorded."),
                )
                continue
            events.append(
                RiskEvent(
                    household=household,
                    person=person,
                    kind=kind,
                    date=day,
                    amount=amount,
                    source=row_source,
                    note=note,
                    file_name=Path(filename).name[:200],
                    recorded_by=user,
                )
            )
    if errors:
        return result
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        earlier = EventImport.objects.filter(area_id=area_code, sha256=digest).first()
        if earlier is not None:
            result.errors = [AnswerError(0, "", _already_imported(earlier))]
            return result
        try:
            with transaction.atomic():
                EventImport.objects.create(
                    area_id=area_code,
                    sha256=digest,
                    file_name=Path(filename).name[:200],
                    rows=result.rows,
                    events=len(events),
                    imported_by=user,
                )
        except IntegrityError:  # the same file imported at the same moment
            earlier = EventImport.objects.get(area_id=area_code, sha256=digest)
            result.errors = [AnswerError(0, "", _already_imported(earlier))]
            return result
        for start in range(0, len(events), EVENT_BATCH):
            RiskEvent.objects.bulk_create(events[start : start + EVENT_BATCH])
        audit.record(
            user=user,
            action="monitor.event.import",
            object_type=RiskEvent._meta.label_lower,
            area_code=area_code,
            after={
                "file": Path(filename).name,
                "sha256": digest,
                "rows": result.rows,
                "events": len(events),
                "by_kind": dict(sorted(Counter(e.kind for e in events).items())),
            },
            reason=reason,
        )
    result.created = len(events)
    return result


# ======================================================================================
# Return-to-poverty warnings: runs, responses, the overdue list
# ======================================================================================


def start_warning_run(user: Any, area_code: str, on: dt.date | None = None) -> Any:
    """Start the warning run over an area as a background job (the pages' "Run now")."""
    from fupin.monitor import warnings as warning_job

    require(user, MANAGE)
    require_area(user, area_code)
    on = on or timezone.localdate()
    # Refuse at once what the job would refuse: no rules, no line, a day to come.
    if on > timezone.localdate():
        raise ValidationError({"on": [_("The date cannot be in the future.")]})
    warning_job.rules_for(area_code, on)
    warning_job.line_for(on)
    warning_job.refuse_past(area_code, on)
    return jobs.start("monitor.warn", user, area_code, {"area": area_code, "on": on.isoformat()})


def _lock_warning(warning: Any) -> Any:
    from fupin.monitor.models import RiskWarning

    return RiskWarning.objects.select_for_update().get(pk=warning.pk)


def _require_open(current: Any) -> None:
    from fupin.monitor.models import WarningState

    if current.state != WarningState.OPEN:
        raise ValidationError(
            {
                "state": [
                    _("This warning is no longer open (%(state)s).")
                    % {"state": current.get_state_display()}
                ]
            }
        )


def _close(user: Any, current: Any, state: str, action: str, reason: str = "", **more: Any) -> Any:
    before = {"state": current.state}
    current.state = state
    current.closed_by = user
    current.closed_at = timezone.now()
    # Answered after its deadline (the local day of closing is after `due_on`): kept, shown.
    current.late = timezone.localdate(current.closed_at) > current.due_on
    for name, value in more.items():
        setattr(current, name, value)
    current.save()
    audit.record(
        user=user,
        action=action,
        obj=current,
        area_code=current.household.village_id,
        before=before,
        after={
            "state": state,
            "household": current.household_id,
            "rule": current.rule,
            "visit": current.visit_id,
            "measure": current.measure_id,
            "late": current.late,
            **{k: getattr(v, "pk", v) for k, v in more.items() if k not in ("visit", "measure")},
        },
        reason=reason,
    )
    return current


def _require_response_kind(current: Any, *, visit: Any = None, measure: Any = None) -> None:
    """The response the rule asks for (engine/warning_rules: `response`): a return check
    (`assess`) is answered only by opening a return case (or dismissed, with a reason, by a
    township or county user); a `measure` only by a support measure; a `visit` by a visit
    or a measure."""
    from fupin.monitor.models import ResponseKind

    if current.response == ResponseKind.ASSESS:
        raise ValidationError(
            {
                "response": [
                    _(
                        "This warning asks for a return check: answer it by opening the "
                        "household's return case, not by a visit or a measure."
                    )
                ]
            }
        )
    if current.response == ResponseKind.MEASURE and measure is None:
        raise ValidationError(
            {
                "response": [
                    _("This warning asks for a support measure: a visit does not answer it.")
                ]
            }
        )


def may_dismiss(user: Any, warning: Any) -> bool:
    """A red warning, or one asking for a return check, is dismissed only by a user of the
    township or above (superusers too); others by anyone who may respond."""
    from fupin.monitor.models import ResponseKind, WarningLevel

    if not user.has_perm(RESPOND):
        return False
    if warning.level != WarningLevel.RED and warning.response != ResponseKind.ASSESS:
        return True
    code = user.area_id or ""
    return bool(user.is_superuser or (code and len(code) <= 9))


@transaction.atomic
def respond_warning(
    user: Any, warning: Any, *, visit: Any = None, measure: Any = None, note: str = ""
) -> Any:
    """Answer an open warning with a support visit or measure of the household made for it
    (a visit on or after the day the warning was raised; a measure starting, or entered,
    on or after it): the warning becomes `responded` with who, when and what."""
    from fupin.monitor.models import WarningState

    require(user, RESPOND)
    require_area(user, warning.household.village_id)
    current = _lock_warning(warning)
    _require_open(current)
    _require_response_kind(current, visit=visit, measure=measure)
    errors: dict[str, list[str]] = {}
    if (visit is None) == (measure is None):
        errors["response"] = [_("Choose the visit or the measure that answers this warning.")]
    if visit is not None:
        if visit.household_id != current.household_id:
            errors["visit"] = [_("This visit is of another household.")]
        elif visit.date < current.first_raised_on:
            errors["visit"] = [
                _("This visit was made before the warning was raised (%(date)s).")
                % {"date": current.first_raised_on}
            ]
    if measure is not None:
        if measure.plan.household_id != current.household_id:
            errors["measure"] = [_("This measure is of another household.")]
        elif (
            measure.starts_on < current.first_raised_on
            and timezone.localtime(measure.created_at).date() < current.first_raised_on
        ):
            errors["measure"] = [
                _("This measure was taken before the warning was raised (%(date)s).")
                % {"date": current.first_raised_on}
            ]
    if errors:
        raise ValidationError(errors)
    _close(
        user,
        current,
        WarningState.RESPONDED,
        "monitor.warning.respond",
        reason=note.strip(),
        visit=visit,
        measure=measure,
        response_note=note.strip(),
    )
    return current


@transaction.atomic
def respond_with_visit(
    user: Any,
    warning: Any,
    *,
    date: dt.date,
    work_done: str,
    needs: str = "",
    cadre: Any = None,
    note: str = "",
) -> Any:
    """Record the visit through the support services (its own rules: a paired cadre, a
    date not in the future, what was done) and answer the warning with it, together."""
    from fupin.support import services as support

    require(user, RESPOND)
    require_area(user, warning.household.village_id)
    locked = _lock_warning(warning)
    _require_open(locked)
    _require_response_kind(locked, visit=True)
    if cadre is None:
        cadre = active_cadre(warning.household)
    visit = support.record_visit(
        user, warning.household, date=date, work_done=work_done, needs=needs, cadre=cadre
    )
    return respond_warning(user, warning, visit=visit, note=note or work_done)


@transaction.atomic
def respond_with_measure(user: Any, warning: Any, data: dict[str, Any], *, note: str = "") -> Any:
    """Add a measure to the household's plan (opened if it has none) through the support
    services, and answer the warning with it."""
    from fupin.support import services as support
    from fupin.support.models import Plan

    require(user, RESPOND)
    require_area(user, warning.household.village_id)
    locked = _lock_warning(warning)
    _require_open(locked)
    _require_response_kind(locked, measure=True)
    plan = Plan.objects.filter(household=warning.household).first()
    if plan is None:
        plan = support.make_plan(user, warning.household)
    measure = support.add_measure(user, plan, data, expected_version=plan.version)
    return respond_warning(user, warning, measure=measure, note=note or measure.target)


def active_cadre(household: Any) -> Any:
    """The household's cadre today (its one pairing without an end), or None."""
    from fupin.support.models import Pairing

    pairing = (
        Pairing.objects.filter(household=household, ended_on__isnull=True)
        .select_related("cadre")
        .first()
    )
    return pairing.cadre if pairing else None


@transaction.atomic
def dismiss_warning(user: Any, warning: Any, *, reason: str) -> Any:
    """Dismiss an open warning (排除): the reason is required and kept."""
    from fupin.monitor.models import WarningState

    require(user, RESPOND)
    require_area(user, warning.household.village_id)
    current = _lock_warning(warning)
    _require_open(current)
    if not may_dismiss(user, current):
        raise PermissionDenied(
            _(
                "A red warning, or one asking for a return check, is dismissed by a township "
                "or county user."
            )
        )
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Write the reason for dismissing this warning.")]})
    _close(
        user,
        current,
        WarningState.DISMISSED,
        "monitor.warning.dismiss",
        reason=reason.strip(),
        response_note=reason.strip(),
    )
    return current


def warnings_for(user: Any, area_code: str = "") -> models.QuerySet[Any]:
    from fupin.monitor.models import RiskWarning

    qs = RiskWarning.objects.for_user(user)
    return qs.in_area(area_code) if area_code else qs


def overdue(qs: models.QuerySet[Any], today: dt.date | None = None) -> models.QuerySet[Any]:
    """Open warnings whose response was due before today (逾期未处置)."""
    from fupin.monitor.models import WarningState

    return qs.filter(state=WarningState.OPEN, due_on__lt=today or timezone.localdate())


def counts_by_level(qs: models.QuerySet[Any]) -> dict[str, int]:
    from fupin.monitor.models import WarningLevel

    found = dict(qs.order_by().values_list("level").annotate(n=Count("pk")))
    return {level: found.get(level, 0) for level in WarningLevel.values}


def overdue_by_area(
    user: Any, area_code: str = "", today: dt.date | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """One aggregate query: deadlines missed one level below the area (county → township →
    village), with the areas' names — open overdue warnings (`warnings`, `households`,
    `red`), warnings ended unanswered after their deadline (`lapsed`) and warnings answered
    late (`late`), each its own column; returns the level's name and the groups."""
    from fupin.core.models import Area as AreaModel

    code = area_code or (area_prefix_of(user) or "")
    below = {0: 2, 2: 4, 4: 6, 6: 9, 9: 12, 12: 12}[len(code)]
    from fupin.monitor.models import WarningState

    day = today or timezone.localdate()
    open_overdue = Q(state=WarningState.OPEN, due_on__lt=day)
    missed = open_overdue | Q(state=WarningState.LAPSED) | Q(late=True)
    groups: list[dict[str, Any]] = [
        dict(g)
        for g in warnings_for(user, code)
        .filter(missed)
        .annotate(code=Substr("household__village_id", 1, below))
        .values("code")
        .annotate(
            warnings=Count("pk", filter=open_overdue),
            households=Count("household", distinct=True, filter=open_overdue),
            red=Count("pk", filter=open_overdue & Q(level="red")),
            lapsed=Count("pk", filter=Q(state=WarningState.LAPSED)),
            late=Count("pk", filter=Q(late=True)),
        )
        .order_by("code")
    ]
    names = dict(
        AreaModel.objects.filter(code__in={g["code"] for g in groups}).values_list("code", "name")
    )
    for g in groups:
        g["name"] = names.get(g["code"], g["code"])
    return {2: "province", 4: "city", 6: "county", 9: "township", 12: "village"}[below], groups


def area_prefix_of(user: Any) -> str | None:
    from fupin.core.scoping import area_prefix

    return area_prefix(user)


# ======================================================================================
# Monitored households (防返贫监测对象)
# ======================================================================================


#: Which households each monitoring category is for (DOMAIN.md §10, our reading): an
#: unstable exited household (脱贫不稳定户) has exited (exited, or closed after its
#: consolidation); a marginal household (边缘易致贫户) or one in sudden severe hardship
#: (突发严重困难户) is not registered poor — surveyed, or identified and then excluded, or
#: exited or closed — while one under registration (proposed, in notice, registered,
#: proposed for exit) or returned to poverty is under support already, not monitored.
MONITORED_STATUSES: dict[str, frozenset[str]] = {
    "unstable_exited": frozenset({"exited", "closed"}),
    "marginal": frozenset({"surveyed", "excluded", "exited", "closed"}),
    "sudden_hardship": frozenset({"surveyed", "excluded", "exited", "closed"}),
}


@transaction.atomic
def start_monitoring(
    user: Any,
    household: Any,
    *,
    category: str,
    risk: str,
    started_on: dt.date | None,
    reason: str,
    warning: Any = None,
) -> Any:
    """Put a household under monitoring in a category (脱贫不稳定户, 边缘易致贫户,
    突发严重困难户) with its main risk; from a warning, the warning's category and risk are
    the defaults. At most one open case per household (a database constraint too)."""
    from fupin.monitor.models import MonitoringCase, MonitoringCategory, RiskType
    from fupin.registry.models import Household

    require(user, RESPOND)
    require_area(user, household.village_id)
    household = Household.objects.select_for_update().get(pk=household.pk)
    if warning is not None:
        category = category or warning.category
        risk = risk or warning.risk
    errors: dict[str, list[str]] = {}
    if category not in MonitoringCategory.values:
        errors["category"] = [_("Choose the monitoring category.")]
    elif household.status not in MONITORED_STATUSES[category]:
        errors["category"] = [
            _("A household that is %(status)s cannot be monitored as “%(category)s”.")
            % {
                "status": household.get_status_display(),
                "category": MonitoringCategory(category).label,
            }
        ]
    if risk not in RiskType.values:
        errors["risk"] = [_("Choose the main risk.")]
    if started_on is None:
        errors["started_on"] = [_("Enter the day monitoring starts.")]
    elif started_on > timezone.localdate():
        errors["started_on"] = [_("The date cannot be in the future.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the household is monitored.")]
    if warning is not None and warning.household_id != household.pk:
        errors["warning"] = [_("This warning is of another household.")]
    if MonitoringCase.objects.filter(household=household, ended_on__isnull=True).exists():
        errors["household"] = [_("This household is already monitored: end that case first.")]
    if errors or started_on is None:
        raise ValidationError(errors)
    case = MonitoringCase.objects.create(
        household=household,
        category=category,
        risk=risk,
        started_on=started_on,
        reason=reason.strip(),
        from_warning=warning,
        started_by=user,
    )
    audit.record(
        user=user,
        action="monitor.case.start",
        obj=case,
        area_code=household.village_id,
        after={
            "household": household.pk,
            "category": category,
            "risk": risk,
            "started_on": started_on,
            "warning": warning.pk if warning is not None else None,
        },
        reason=case.reason,
    )
    return case


@transaction.atomic
def end_monitoring(
    user: Any, case: Any, *, ended_on: dt.date | None, end_reason: str, note: str = ""
) -> Any:
    """End a monitoring case (风险消除 …), with the reason; `other` needs a note."""
    from fupin.monitor.models import CaseEnd, MonitoringCase

    require(user, RESPOND)
    require_area(user, case.household.village_id)
    current = MonitoringCase.objects.select_for_update().get(pk=case.pk)
    errors: dict[str, list[str]] = {}
    if current.ended_on is not None:
        raise ValidationError({"ended_on": [_("This case has already ended.")]})
    if end_reason not in CaseEnd.values:
        errors["end_reason"] = [_("Choose why monitoring ends.")]
    elif end_reason == CaseEnd.RETURNED:
        errors["end_reason"] = [
            _(
                "Monitoring ends as returned to poverty only by the county decision of a "
                "return check."
            )
        ]
    elif end_reason == CaseEnd.OTHER and not (note or "").strip():
        errors["end_note"] = [_("Say why monitoring ends.")]
    if ended_on is None:
        errors["ended_on"] = [_("Enter the day monitoring ends.")]
    elif ended_on > timezone.localdate():
        errors["ended_on"] = [_("The date cannot be in the future.")]
    elif ended_on < current.started_on:
        errors["ended_on"] = [_("Monitoring cannot end before it started.")]
    if errors:
        raise ValidationError(errors)
    current.ended_on = ended_on
    current.end_reason = end_reason
    current.end_note = (note or "").strip()
    current.ended_by = user
    current.save(update_fields=["ended_on", "end_reason", "end_note", "ended_by"])
    audit.record(
        user=user,
        action="monitor.case.end",
        obj=current,
        area_code=current.household.village_id,
        before={"ended_on": None},
        after={"ended_on": ended_on, "end_reason": end_reason},
        reason=current.end_note,
    )
    return current
