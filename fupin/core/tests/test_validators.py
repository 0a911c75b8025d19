"""Resident IDs (GB 11643-1999), as DOMAIN.md §2 and DESIGN.md "Validation" require:
check digit, birth date and sex derived from the ID, issuing area a GB/T 2260 county code."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fupin.core.validators import (
    build_resident_id,
    mask_id_number,
    normalize_id_number,
    parse_resident_id,
)

births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@given(born=births, seq=st.integers(0, 999))
# Building an ID reads the division table: slow on a loaded machine, not a test failure.
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_birth_date_and_sex_come_from_the_id(born, seq):
    rid = parse_resident_id(build_resident_id("450102", born, seq), today=dt.date(2026, 1, 1))
    assert rid.birth_date == born
    assert rid.sex == ("M" if seq % 2 else "F")


@given(born=births, seq=st.integers(0, 999), pos=st.integers(0, 16), delta=st.integers(1, 9))
def test_any_single_digit_typo_is_caught(born, seq, pos, delta):
    """MOD 11-2 detects every single-digit substitution, whatever else it breaks."""
    good = build_resident_id("450102", born, seq)
    typo = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1 :]
    with pytest.raises(ValidationError):
        parse_resident_id(typo)


def test_check_digit_message_names_the_expected_digit():
    good = build_resident_id("450102", dt.date(1980, 2, 29), 123)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        parse_resident_id(wrong)
    assert exc.value.code == "id_checksum"
    assert good[17] in str(exc.value.messages[0])


def test_impossible_birth_date_and_unknown_area():
    body = "45010219800230123"  # 30 February
    with pytest.raises(ValidationError) as exc:
        parse_resident_id(body + "X")
    assert exc.value.code in {"id_checksum", "id_birth_date"}
    future = build_resident_id("450102", dt.date(2030, 1, 1), 11)
    with pytest.raises(ValidationError) as exc:
        parse_resident_id(future, today=dt.date(2026, 1, 1))
    assert exc.value.code == "id_birth_date"
    with pytest.raises(ValidationError) as exc:
        parse_resident_id(build_resident_id("459999", dt.date(1980, 1, 1), 11))
    assert exc.value.code == "id_area"


def test_area_code_in_use_after_birth_is_accepted():
    """A person born in 1950 holds 450102 (兴宁区, a code from 1983): a real, valid ID."""
    rid = parse_resident_id(build_resident_id("450102", dt.date(1950, 6, 1), 31))
    assert rid.number.startswith("450102")
    # 450104 (城北区) was abolished in 2004: nobody born after that can hold it.
    with pytest.raises(ValidationError):
        parse_resident_id(build_resident_id("450104", dt.date(2010, 6, 1), 31))


def test_normalisation_full_width_spaces_lower_x_and_15_digits():
    good = build_resident_id("450102", dt.date(1960, 3, 4), 12)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in good)
    assert normalize_id_number(" " + full_width.lower() + " ") == good
    old = good[:6] + good[8:17]  # first-generation: 2-digit year, no check digit
    assert parse_resident_id(old).number == good


def test_mask_keeps_area_and_last_two():
    assert mask_id_number("45010219900101123X") == "450102**********3X"
    assert mask_id_number("") == ""
