"""The registry's field rules, declared once and run by two executors (DOMAIN.md §9).

Every rule a value must pass on its way into the registry — its type, closed list, length,
decimal places, sign, whether it is required, the resident ID (which also gives sex and
birth date) and the rules between fields — is compiled here from the models' own field
definitions plus the cross-field rules below. Two executors run the same compiled rules:

- `RecordRules.clean_one` checks one record: the services' `_clean_household`,
  `_clean_member` and `_clean_income`, behind the pages, the API and the demo;
- `RecordRules.clean_columns` + `check_columns` check many records at once (imports, bulk
  loads): each column's *distinct* raw values are converted once and mapped back, and the
  cross-field rules run over zipped columns — a 100,000-household file costs one
  conversion per distinct value, not one per cell.

Grassroots files are taken as they come: numbers typed as text, full-width digits, stray
spaces, 是/否/√/yes/1 for yes-no, and for a closed list its Chinese label (zh-Hans), its
English label or its code ("因病", "Illness" or "1"; "壮族", "08" or 8). A message names
the field by its verbose name and says what is wrong and what is allowed.

Empty means "the field's default": a blank cell of a field with a default (a yes-no, an
amount, the form's default choice) takes it; a blank required field (no default, not
blank-able: head of household, name, resident ID, relation, income year) is an error.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from fupin.core.fields import CodeListField
from fupin.core.models import Area, AreaLevel
from fupin.core.validators import ResidentId, parse_resident_id
from fupin.registry import enums
from fupin.registry.models import Household, HouseholdIncome, Member

# -- which fields are typed (everything else is computed or set by a service) -------------

HOUSEHOLD_FIELDS = [
    f.name
    for f in Household._meta.concrete_fields
    if f.editable
    and f.name
    not in {
        "id",
        "code",
        "status",
        "status_date",
        "people",
        "income_year",
        "per_capita_income",
        "version",
        "identification_year",
        "exit_year",
        "created_at",
        "updated_at",
    }
]
MEMBER_FIELDS = [
    f.name
    for f in Member._meta.concrete_fields
    if f.editable and f.name not in {"id", "household", "left_on", "left_reason"}
]
INCOME_FIELDS = [*HouseholdIncome.SOURCES, "business_cost"]

# -- messages ------------------------------------------------------------------------------

REQUIRED = _("%(field)s is required.")
NOT_ALLOWED = _("%(field)s: “%(value)s” is not one of the allowed values: %(allowed)s.")
LISTED_TWICE = _("%(field)s: “%(value)s” is listed twice.")
NOT_YES_NO = _("%(field)s: “%(value)s” is not yes or no; write 是 or 否.")
NOT_NUMBER = _("%(field)s: “%(value)s” is not a number.")
NOT_WHOLE = _("%(field)s: “%(value)s” is not a whole number.")
NEGATIVE = _("%(field)s cannot be negative (it is %(value)s).")
TOO_MANY_PLACES = _("%(field)s has at most %(places)d decimal places (it is %(value)s).")
TOO_LARGE = _("%(field)s is at most %(max)s (it is %(value)s).")
OUT_OF_RANGE = _("%(field)s must be between %(min)s and %(max)s (it is %(value)s).")
TOO_LONG = _("%(field)s has at most %(max)d characters (this one has %(n)d).")
NOT_DATE = _("%(field)s: “%(value)s” is not a date.")
ID_AS_NUMBER = _(
    "%(field)s was stored as a number in the spreadsheet and lost its last digits; format "
    "the column as text and type the ID again."
)
DISAGREES_WITH_ID = _(
    "%(field)s “%(value)s” does not agree with the resident ID, which gives %(expected)s."
)
CHOOSE_VILLAGE = _("Choose a village.")
NO_SUCH_VILLAGE = _("No village has the code %(code)s.")


class Invalid:
    """A value that broke a field rule; rendered in the language active when reported.

    Returned, not raised, by `FieldRule.convert`: a file with many bad cells is not a storm
    of exceptions, and a memoised result can be reused for every cell holding that value.
    """

    __slots__ = ("message", "params")

    def __init__(self, message: Any, **params: Any) -> None:
        self.message = message
        self.params = params

    def render(self, label: Any) -> str:
        if isinstance(self.message, ValidationError):
            return " ".join(str(m) for m in self.message.messages)
        params = {k: str(v) if isinstance(v, _Allowed) else v for k, v in self.params.items()}
        return str(self.message) % {"field": capfirst(str(label)), **params}


class _Missing:
    """A column the source did not have: an update keeps the recorded value."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# -- normalising raw input ------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
_INTEGRAL = re.compile(r"^[+-]?\d+\.0*$")
_CODE_SEPARATORS = re.compile(r"[,，、;；/|\s]+")


def as_text(raw: Any) -> str:
    """What a cell says, as text: numbers without a spurious ".0", ends stripped."""
    if raw.__class__ is str:
        return raw.strip()
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, dt.datetime | dt.date):
        return raw.isoformat()
    return str(raw).strip()


def lookup_key(raw: Any) -> str:
    """The form in which labels and codes are compared: NFKC (full-width → ASCII), no
    whitespace at all, case-folded, "8.0" → "8"."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", as_text(raw))).casefold()
    if _INTEGRAL.match(text):
        text = text.split(".")[0]
    return text


def _shown(raw: Any) -> str:
    text = as_text(raw)
    return text if len(text) <= 40 else text[:39] + "…"


TRUE_WORDS = {"1", "是", "yes", "y", "true", "t", "√", "✓", "✔", "有", "对", "☑"}
FALSE_WORDS = {"0", "否", "no", "n", "false", "f", "×", "✗", "✘", "无", "没有", "不是", "☐"}

#: Spellings seen in grassroots files besides the labels of the national form.
ALIASES: dict[str, dict[str, Any]] = {
    "attribute": {"一般户": "general", "低保户": "dibao", "五保户": "tekun", "特困户": "tekun"},
    "relation": {
        "本人": "01",
        "户主": "01",
        "妻子": "02",
        "丈夫": "02",
        "妻": "02",
        "夫": "02",
        "儿子": "03",
        "子": "03",
        "长子": "03",
        "次子": "03",
        "女儿": "04",
        "女": "04",
        "长女": "04",
        "次女": "04",
        "儿媳": "05",
        "女婿": "06",
        "孙子": "07",
        "孙女": "08",
        "外孙": "09",
        "外孙子": "09",
        "外孙女": "10",
        "父亲": "11",
        "母亲": "11",
        "父母": "11",
        "岳父": "12",
        "岳母": "12",
        "公公": "13",
        "婆婆": "13",
        "祖父": "14",
        "祖母": "14",
        "外祖父": "15",
        "外祖母": "15",
        "兄弟姐妹": "16",
        "兄": "16",
        "弟": "16",
        "姐": "16",
        "妹": "16",
    },
    "disability_grade": {"1级": 1, "2级": 2, "3级": 3, "4级": 4},
    "dilapidation_grade": {"C级危房": "C", "D级危房": "D"},
    "sex": {"男性": "M", "女性": "F", "1": "M", "2": "F"},
}


class _Allowed:
    """The allowed labels of a closed list, rendered in the language of the message."""

    def __init__(self, choices: Sequence[tuple[Any, Any]]) -> None:
        self.choices = choices

    def __str__(self) -> str:
        shown = [
            f"{code} {label}" if str(code).isdigit() else str(label)
            for code, label in self.choices[:20]
        ]
        return " / ".join(shown) + (" …" if len(self.choices) > 20 else "")


# -- one field ------------------------------------------------------------------------------


def _is_empty(raw: Any) -> bool:
    if raw is None:
        return True
    if raw.__class__ is str:
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return not raw
    return False


class FieldRule:
    """Everything a single value of one field must satisfy, compiled from the model field."""

    #: How many distinct raw values a rule remembers (enumerations need a few dozen; amounts
    #: repeat often enough to be worth it, but memory must stay bounded).
    MEMO_LIMIT = 200_000

    def __init__(self, model_field: models.Field, *, kind: str | None = None) -> None:
        f = model_field
        self.name: str = f.name
        self.attname: str = f.attname
        self.label: Any = f.verbose_name
        self.kind = kind or self._kind_of(f)
        self.choices: list[tuple[Any, Any]] = list(f.flatchoices) if f.choices else []
        self.required = not f.blank and not f.has_default()
        if f.has_default():
            self.default: Any = f.get_default()
        elif isinstance(f, CodeListField):
            self.default = []
        elif f.null:
            self.default = None
        else:
            self.default = ""
        if self.kind == "village":
            # An empty village is "Choose a village.", said by the existence check.
            self.required, self.default = False, ""
        self.max_length: int | None = getattr(f, "max_length", None)
        self.max_digits: int | None = getattr(f, "max_digits", None)
        self.decimal_places: int | None = getattr(f, "decimal_places", None)
        self.min_value: Any = None
        self.max_value: Any = None
        #: Whether the upper bound is a rule of the form (months 0–12), shown as a range,
        #: rather than the column's capacity.
        self.ranged = False
        if isinstance(
            f,
            models.PositiveSmallIntegerField
            | models.PositiveIntegerField
            | models.PositiveBigIntegerField,
        ):
            self.min_value = 0
        if isinstance(f, models.PositiveSmallIntegerField):
            self.max_value = 32767
        for v in f.validators:
            if isinstance(v, MinValueValidator):
                self.min_value = v.limit_value
            elif isinstance(v, MaxValueValidator):
                self.max_value = v.limit_value
                self.ranged = True
        self._lookup: dict[str, Any] | None = None
        self._memo: dict[Any, Any] | None = (
            {} if self.kind in ("choice", "codes", "bool", "decimal", "int") else None
        )
        self._convert: Callable[[Any], Any] = getattr(self, f"_to_{self.kind}")

    @staticmethod
    def _kind_of(f: models.Field) -> str:
        if isinstance(f, CodeListField):
            return "codes"
        if isinstance(f, models.ForeignKey):
            return "village"
        if f.choices:
            return "choice"
        if isinstance(f, models.BooleanField):
            return "bool"
        if isinstance(f, models.DecimalField):
            return "decimal"
        if isinstance(f, models.IntegerField):
            return "int"
        if isinstance(f, models.DateField):
            return "date"
        return "text"

    def __repr__(self) -> str:
        return f"<FieldRule {self.name} {self.kind}>"

    # The one entry point of both executors.
    def convert(self, raw: Any) -> Any:
        """The stored value for a raw input, or an `Invalid`."""
        memo = self._memo
        if memo is not None:
            try:
                return memo[raw]
            except KeyError:
                pass
            except TypeError:  # unhashable (a list of codes): no memo
                return self._convert_uncached(raw)
            value = self._convert_uncached(raw)
            if len(memo) >= self.MEMO_LIMIT:
                memo.clear()
            memo[raw] = value
            return value
        return self._convert_uncached(raw)

    def _convert_uncached(self, raw: Any) -> Any:
        if _is_empty(raw):
            return Invalid(REQUIRED) if self.required else self.default
        try:
            return self._convert(raw)
        except _Reject as exc:
            return exc.invalid

    def convert_column(self, raws: Sequence[Any]) -> list[Any]:
        """`convert` over a column: each distinct value converted once; MISSING kept."""
        if self._memo is None:
            convert = self._convert_uncached
            return [MISSING if r is MISSING else convert(r) for r in raws]
        try:
            distinct = set(raws)
        except TypeError:
            return [MISSING if r is MISSING else self.convert(r) for r in raws]
        table = {r: (MISSING if r is MISSING else self.convert(r)) for r in distinct}
        return [table[r] for r in raws]

    # -- kinds --
    def lookup(self) -> dict[str, Any]:
        """Code, zh-Hans label, English label (and known aliases) → code."""
        if self._lookup is None:
            table: dict[str, Any] = {}

            def add(text: Any, code: Any) -> None:
                key = lookup_key(text)
                if key and key not in table:
                    table[key] = code

            for code, _label in self.choices:
                add(code, code)
                if str(code).isdigit():
                    add(str(int(code)), code)
            for language in ("zh-hans", "en"):
                with translation.override(language):
                    for code, label in self.choices:
                        add(str(label), code)
            for text, code in ALIASES.get(self.name, {}).items():
                add(text, code)
            self._lookup = table
        return self._lookup

    def allowed(self) -> _Allowed:
        return _Allowed(self.choices)

    def _to_choice(self, raw: Any) -> Any:
        code = self.lookup().get(lookup_key(raw), MISSING)
        if code is MISSING:
            raise _Reject(NOT_ALLOWED, value=_shown(raw), allowed=self.allowed())
        return code

    def _to_codes(self, raw: Any) -> list[Any]:
        if isinstance(raw, list | tuple):
            items = [i for i in raw if not _is_empty(i)]
        else:
            text = unicodedata.normalize("NFKC", as_text(raw))
            items = [i for i in _CODE_SEPARATORS.split(text) if i]
        codes = [self._to_choice(i) for i in items]
        seen: set[Any] = set()
        for item, code in zip(items, codes, strict=True):
            if code in seen:
                raise _Reject(LISTED_TWICE, value=_shown(item))
            seen.add(code)
        return codes

    def _to_bool(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        key = lookup_key(raw)
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
        raise _Reject(NOT_YES_NO, value=_shown(raw))

    def _number(self, raw: Any) -> Decimal:
        if isinstance(raw, bool):
            return Decimal(int(raw))
        if isinstance(raw, int):
            return Decimal(raw)
        if isinstance(raw, Decimal):
            number = raw
        elif isinstance(raw, float):
            if raw != raw or raw in (float("inf"), float("-inf")):
                raise _Reject(NOT_NUMBER, value=_shown(raw))
            # A spreadsheet's binary float (0.1 + 0.2) is read as the decimal it shows.
            places = self.decimal_places if self.decimal_places is not None else 0
            rounded = round(raw, places)
            number = Decimal(repr(rounded if abs(raw - rounded) < 1e-9 else raw))
        else:
            text = unicodedata.normalize("NFKC", as_text(raw))
            text = _SPACE.sub("", text).replace(",", "")
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise _Reject(NOT_NUMBER, value=_shown(raw)) from None
        if not number.is_finite():
            raise _Reject(NOT_NUMBER, value=_shown(raw))
        return number

    def _bounds(self, number: Decimal | int, raw: Any) -> None:
        low, high = self.min_value, self.max_value
        if self.ranged and low is not None and not low <= number <= high:
            raise _Reject(OUT_OF_RANGE, min=low, max=high, value=_shown(raw))
        if low is not None and number < low:
            if low == 0:
                raise _Reject(NEGATIVE, value=_shown(raw))
            raise _Reject(OUT_OF_RANGE, min=low, max=high, value=_shown(raw))
        if high is not None and number > high:
            raise _Reject(TOO_LARGE, max=high, value=_shown(raw))

    def _to_decimal(self, raw: Any) -> Decimal:
        number = self._number(raw)
        places = self.decimal_places or 0
        step = Decimal(1).scaleb(-places)
        quantized = number.quantize(step) if number.adjusted() < 25 else number
        if quantized != number:
            raise _Reject(TOO_MANY_PLACES, places=places, value=_shown(raw))
        if self.max_digits is not None:
            largest = Decimal(10) ** (self.max_digits - places) - step
            if abs(quantized) > largest:
                raise _Reject(TOO_LARGE, max=largest, value=_shown(raw))
        self._bounds(quantized, raw)
        return quantized

    def _to_int(self, raw: Any) -> int:
        number = self._number(raw)
        if number != number.to_integral_value():
            raise _Reject(NOT_WHOLE, value=_shown(raw))
        value = int(number)
        self._bounds(value, raw)
        return value

    def _to_text(self, raw: Any) -> str:
        text = as_text(raw)
        if self.name in DIGIT_TEXT_FIELDS:
            # Phone and account numbers: full-width digits and inner spaces are typing noise.
            text = _SPACE.sub("", unicodedata.normalize("NFKC", text))
        if not text:
            if self.required:
                raise _Reject(REQUIRED)
            return ""
        if self.max_length is not None and len(text) > self.max_length:
            raise _Reject(TOO_LONG, max=self.max_length, n=len(text))
        return text

    def _to_village(self, raw: Any) -> str:
        if isinstance(raw, Area):
            return raw.code
        return _SPACE.sub("", unicodedata.normalize("NFKC", as_text(raw)))

    def _to_resident_id(self, raw: Any) -> ResidentId:
        if isinstance(raw, float) and raw >= 1e14:
            raise _Reject(ID_AS_NUMBER)
        try:
            return parse_resident_id(as_text(raw))
        except ValidationError as exc:
            raise _Reject(exc) from None

    def _to_date(self, raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        text = unicodedata.normalize("NFKC", as_text(raw))
        digits = re.findall(r"\d+", text)
        try:
            if len(digits) == 1 and len(digits[0]) == 8:
                d = digits[0]
                return dt.date(int(d[:4]), int(d[4:6]), int(d[6:]))
            if len(digits) == 3:
                return dt.date(int(digits[0]), int(digits[1]), int(digits[2]))
        except ValueError:
            pass
        raise _Reject(NOT_DATE, value=_shown(raw))


class _Reject(Exception):
    def __init__(self, message: Any, **params: Any) -> None:
        self.invalid = Invalid(message, **params)


#: Text fields holding numbers: full-width digits and spaces are normalised away.
DIGIT_TEXT_FIELDS = frozenset({"phone", "bank_account"})


# -- rules between fields -------------------------------------------------------------------


@dataclass(frozen=True)
class CrossRule:
    """A rule between fields: `broken(*values of needs, **context)` is true when it fails.

    Checked only when every field it needs has a valid value, so a bad cell is reported
    once, not again by every rule that reads it. `context` is computed once per check
    (e.g. this year), not once per record.
    """

    key: str
    needs: tuple[str, ...]
    broken: Callable[..., bool]
    message: Any
    context: Callable[[], dict[str, Any]] | None = None

    def render(self, ctx: Mapping[str, Any]) -> str:
        return str(self.message) % ctx if ctx else str(self.message)


def _this_year() -> dict[str, Any]:
    return {"year": timezone.localdate().year}


HOUSEHOLD_RULES = [
    CrossRule(
        "other_causes",
        ("main_cause", "other_causes"),
        lambda main, others: bool(main) and main in others,
        _("The main cause must not be repeated among the other causes."),
    ),
    CrossRule(
        "dilapidation_grade",
        ("dilapidation_grade", "is_dilapidated"),
        lambda grade, dilapidated: bool(grade) and not dilapidated,
        _("Only a dilapidated house has a dilapidation grade."),
    ),
    CrossRule(
        "dilapidation_grade",
        ("dilapidation_grade", "is_dilapidated"),
        lambda grade, dilapidated: dilapidated and not grade,
        _("Give the grade (C or D) of the dilapidated house."),
    ),
    CrossRule(
        "irrigated_mu",
        ("irrigated_mu", "farmland_mu"),
        lambda irrigated, farmland: irrigated > farmland,
        _("Irrigated farmland cannot exceed the farmland."),
    ),
    CrossRule(
        "relocation_type",
        ("relocation_type", "relocation_mode", "relocation_place"),
        lambda *r: any(r) and not all(r),
        _("A relocated household needs its relocation type, mode and place."),
    ),
]

MEMBER_RULES = [
    CrossRule(
        "disability_grade",
        ("disability_grade", "is_disabled"),
        lambda grade, disabled: bool(grade) and not disabled,
        _("Only a disabled member has a disability grade."),
    ),
    CrossRule(
        "disability_grade",
        ("disability_grade", "is_disabled"),
        lambda grade, disabled: disabled and not grade,
        _("Give the grade of the disability."),
    ),
    CrossRule(
        "dropout_reason",
        ("dropout_reason", "schooling"),
        lambda reason, schooling: bool(reason) and schooling != enums.Schooling.NOT_IN_SCHOOL,
        _("A member in school has no dropout reason."),
    ),
    CrossRule(
        "migrant_place",
        ("migrant_months", "migrant_place"),
        lambda months, place: bool(months) and not place,
        _("Say where the member works away from home."),
    ),
]

INCOME_RULES = [
    CrossRule(
        "year",
        ("year",),
        lambda y, year: bool(y) and not 2000 <= y <= year,
        _("The income year must be between 2000 and %(year)d."),
        context=_this_year,
    ),
]


# -- a record's rules and the two executors -------------------------------------------------


@dataclass
class ColumnCheck:
    """The outcome of `clean_columns`: converted columns, and errors by row index."""

    columns: dict[str, list[Any]]
    errors: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, index: int, name: str, message: str) -> None:
        self.errors.setdefault(index, []).append((name, message))


def _field(model: type[models.Model], name: str) -> models.Field:
    f = model._meta.get_field(name)
    assert isinstance(f, models.Field)
    return f


class RecordRules:
    """The field rules of one model's typed fields plus its cross-field rules."""

    def __init__(
        self,
        model: type[models.Model],
        names: Sequence[str],
        cross: Sequence[CrossRule],
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        kinds = kinds or {}
        self.model = model
        self.rules: dict[str, FieldRule] = {
            n: FieldRule(_field(model, n), kind=kinds.get(n)) for n in names
        }
        self.cross = list(cross)

    def __getitem__(self, name: str) -> FieldRule:
        return self.rules[name]

    # -- one record --
    def clean_one(
        self, data: Mapping[str, Any], errors: dict[str, list[str]], prefix: str = ""
    ) -> dict[str, Any]:
        """Convert the fields present in `data`, then check the cross-field rules.

        Returns the converted values of the fields that passed; errors are appended under
        `prefix + field`, as the services key them (`members.1.id_number`).
        """
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for name, rule in self.rules.items():
            if name not in data:
                continue
            value = rule.convert(data[name])
            if value.__class__ is Invalid:
                errors.setdefault(prefix + name, []).append(value.render(rule.label))
                bad.add(name)
            else:
                values[name] = value
        for message_key, message in self.check_one(values, bad):
            errors.setdefault(prefix + message_key, []).append(message)
        return values

    def check_one(self, values: Mapping[str, Any], bad: set[str]) -> Iterable[tuple[str, str]]:
        for rule in self.cross:
            if any(n in bad or n not in values for n in rule.needs):
                continue
            ctx = rule.context() if rule.context else {}
            if rule.broken(*(values[n] for n in rule.needs), **ctx):
                yield rule.key, rule.render(ctx)

    # -- many records --
    def clean_columns(self, columns: Mapping[str, Sequence[Any]], size: int) -> ColumnCheck:
        """Convert whole columns (name → raw values; MISSING where a record lacks the key).

        Invalid values are left in place in the returned columns and listed in `errors`;
        the caller fills MISSING (defaults for new records, recorded values for updates)
        and then runs `check_columns`.
        """
        result = ColumnCheck(columns={})
        for name, raws in columns.items():
            rule = self.rules.get(name)
            if rule is None:
                continue
            converted = rule.convert_column(raws)
            result.columns[name] = converted
            for i, value in enumerate(converted):
                if value.__class__ is Invalid:
                    result.add(i, name, value.render(rule.label))
        return result

    def fill_missing(self, check: ColumnCheck, size: int, rows: Iterable[int]) -> None:
        """Give MISSING values of `rows` their field's default (a new record), or the
        required-field error."""
        rows = list(rows)
        for name, rule in self.rules.items():
            column = check.columns.get(name)
            if column is None:
                column = check.columns[name] = [MISSING] * size
            for i in rows:
                if column[i] is MISSING:
                    if rule.required:
                        invalid = Invalid(REQUIRED)
                        column[i] = invalid
                        check.add(i, name, invalid.render(rule.label))
                    else:
                        column[i] = rule.default

    def check_columns(self, check: ColumnCheck, size: int) -> None:
        """The cross-field rules over every record at once (zipped columns)."""
        for rule in self.cross:
            cols = [check.columns.get(n) for n in rule.needs]
            if any(c is None for c in cols):
                continue
            ctx = rule.context() if rule.context else {}
            broken = rule.broken
            message: str | None = None
            for i, args in enumerate(zip(*cols, strict=True)):  # type: ignore[arg-type]
                if any(a.__class__ is Invalid or a is MISSING for a in args):
                    continue
                if broken(*args, **ctx):
                    message = message or rule.render(ctx)
                    check.add(i, rule.key, message)


HOUSEHOLD = RecordRules(Household, HOUSEHOLD_FIELDS, HOUSEHOLD_RULES)
MEMBER = RecordRules(Member, MEMBER_FIELDS, MEMBER_RULES, kinds={"id_number": "resident_id"})
INCOME = RecordRules(HouseholdIncome, ["year", *INCOME_FIELDS], INCOME_RULES)

#: Given alongside a member, sex and birth date must agree with the resident ID.
SEX = FieldRule(Member._meta.get_field("sex"))
BIRTH_DATE = FieldRule(Member._meta.get_field("birth_date"), kind="date")


def id_agreement(rid: ResidentId, data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Errors for a sex or birth date given with a member that the resident ID contradicts.

    The registry derives both from the ID (DOMAIN.md §2); a file that also carries them is
    checked, so a typo in either the ID or the column is caught.
    """
    checks: tuple[tuple[FieldRule, Any], ...] = ((SEX, rid.sex), (BIRTH_DATE, rid.birth_date))
    for rule, derived in checks:
        raw = data.get(rule.name, None)
        if _is_empty(raw):
            continue
        given = rule.convert(raw)
        if given.__class__ is Invalid:
            yield rule.name, given.render(rule.label)
        elif given != derived:
            expected = dict(enums.Sex.choices)[derived] if rule is SEX else derived.isoformat()
            yield (
                rule.name,
                Invalid(DISAGREES_WITH_ID, value=_shown(raw), expected=expected).render(rule.label),
            )


def known_villages(codes: Iterable[str]) -> set[str]:
    """The codes among `codes` that name a village (one query)."""
    wanted = {c for c in codes if c}
    if not wanted:
        return set()
    return set(
        Area.objects.filter(code__in=wanted, level=AreaLevel.VILLAGE).values_list("code", flat=True)
    )


def village_error(code: str) -> str:
    """The message for a village code that names no village."""
    if not code:
        return str(CHOOSE_VILLAGE)
    return str(NO_SUCH_VILLAGE) % {"code": code}
