"""Validators shared by every form, serializer and importer.

The resident ID (居民身份证号码, GB 11643-1999): 6 digits of issuing area (GB/T 2260),
8 of birth date, 3 of sequence (odd for men, even for women), and an ISO 7064 MOD 11-2
check digit. python-stdnum's `cn.ric` holds the check digit rule and the historical
GB/T 2260 table; this module adds the normalisation a grassroots office needs (full-width
digits, lower-case x, spaces, 15-digit first-generation IDs) and messages a clerk can act on.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError


def normalize_id_number(value: str) -> str:
    """Full-width digits and X become ASCII, spaces and dashes go, x becomes X."""
    text = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in text if not ch.isspace() and ch not in "-_").upper()


def upgrade_15_to_18(value: str) -> str:
    """A first-generation 15-digit ID (born 19xx, no check digit) in its 18-digit form."""
    body = value[:6] + "19" + value[6:]
    return body + ric.calc_check_digit(body + "0")


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F", as the GB/T 2261.1 codes 1 and 2

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)


def parse_resident_id(value: str, *, today: dt.date | None = None) -> ResidentId:
    """Validate a resident ID and derive birth date and sex, or raise a precise error."""
    number = normalize_id_number(value)
    if len(number) == 15 and number.isdigit():
        number = upgrade_15_to_18(number)
    if len(number) != 18:
        raise ValidationError(
            _("A resident ID has 18 characters; this one has %(n)d."),
            code="id_length",
            params={"n": len(number)},
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationError(
            _("A resident ID is 17 digits followed by a digit or X."), code="id_format"
        )
    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        raise ValidationError(
            _("The check digit of this resident ID is wrong (expected %(expected)s)."),
            code="id_checksum",
            params={"expected": expected},
        )
    try:
        birth = ric.get_birth_date(number)
    except StdnumError as exc:
        raise ValidationError(
            _("The birth date %(date)s in this resident ID does not exist."),
            code="id_birth_date",
            params={"date": number[6:14]},
        ) from exc
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise ValidationError(
            _("The birth date %(date)s in this resident ID is impossible."),
            code="id_birth_date",
            params={"date": birth.isoformat()},
        )
    if issuing_area_name(number[:6], birth.year) is None:
        raise ValidationError(
            _("The issuing area %(area)s of this resident ID is not a county code (GB/T 2260)."),
            code="id_area",
            params={"area": number[:6]},
        )
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, birth_date=birth, sex=sex)


@functools.lru_cache(maxsize=8192)
def _county_periods(code: str) -> tuple[tuple[int | None, str], ...]:
    """(last year in use or None if still in use, name) for each county that held `code`.

    Cached: a county has a handful of periods and a registry a few thousand codes, while
    stdnum's table lookup costs about 100 µs — a quarter of a bulk import without it.
    """
    results = numdb.get("cn/loc").info(code)
    info = {k: v for _part, props in results for k, v in props.items()}
    if "county" not in info:
        return ()
    periods: list[tuple[int | None, str]] = []
    for entry in info["county"].split(","):
        if not entry.startswith("["):
            periods.append((None, entry))
            continue
        period, name = entry[1:].split("]")
        _start, end = period.split("-")
        periods.append((int(end) if end else None, name))
    return tuple(periods)


def issuing_area_name(code: str, birth_year: int) -> str | None:
    """The county of a GB/T 2260 code if the code was in use at some time since birth.

    An ID carries the code of the place where it was first issued, which is at or after
    birth — a man born in 1950 in 兴宁区 holds 450102 although the code dates from 1983.
    python-stdnum's `get_birth_place` demands the code be in use in the birth year and so
    refuses such real IDs; this check asks only that its period of use reach past birth.
    """
    for end, name in _county_periods(code):
        if end is None or end >= birth_year:
            return name
    return None


def validate_resident_id(value: str) -> None:
    parse_resident_id(value)


def mask_id_number(number: str) -> str:
    """`450102199001011234` → `450102**********34`: area kept, person hidden."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 8) + number[-2:]


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def build_resident_id(area_code: str, birth_date: dt.date, sequence: int) -> str:
    """A well-formed 18-digit ID: area, birth date, 3-digit sequence (odd = male), check."""
    body = f"{area_code}{birth_date:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
