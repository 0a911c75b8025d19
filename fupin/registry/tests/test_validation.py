"""The field rules, declared once in `registry.validation` (DOMAIN.md §9; issue 3 "through the
same validation"): what grassroots input they accept, and the messages they give."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from fupin.core.testing import person
from fupin.core.validators import build_resident_id
from fupin.registry import validation
from fupin.registry.validation import HOUSEHOLD, INCOME, MEMBER, MISSING, Invalid


def convert(rules, name, raw):
    return rules[name].convert(raw)


def message(rules, name, raw, language="en"):
    value = convert(rules, name, raw)
    assert isinstance(value, Invalid), value
    with translation.override(language):
        return value.render(rules[name].label)


@pytest.mark.parametrize(
    ("name", "raw", "code"),
    [
        ("main_cause", "因病", "1"),  # zh-Hans label
        ("main_cause", "Illness", "1"),  # English label
        ("main_cause", " 1 ", "1"),  # code with stray spaces
        ("main_cause", "１", "1"),  # full-width digit
        ("main_cause", 1.0, "1"),  # a number cell from Excel
        ("attribute", "低保贫困户", "dibao"),
        ("attribute", "五保户", "tekun"),  # a common spelling
        ("identification_standard", "NATIONAL", "national"),
    ],
)
def test_household_enumerations_take_labels_codes_and_spellings(name, raw, code):
    assert convert(HOUSEHOLD, name, raw) == code


@pytest.mark.parametrize(
    ("name", "raw", "code"),
    [
        ("ethnicity", "壮族", "08"),
        ("ethnicity", "08", "08"),
        ("ethnicity", 8, "08"),  # Excel dropped the leading zero
        ("ethnicity", "Zhuang", "08"),
        ("relation", "户主", "01"),
        ("relation", "配偶", "02"),
        ("relation", "儿子", "03"),
        ("disability_grade", "二级", 2),
        ("disability_grade", "2", 2),
        ("education", "小学", "primary"),
    ],
)
def test_member_enumerations(name, raw, code):
    assert convert(MEMBER, name, raw) == code


@pytest.mark.parametrize("raw", ["是", "yes", "Y", "1", 1, "√", "✓", True, " 是 "])
def test_yes(raw):
    assert convert(HOUSEHOLD, "is_dilapidated", raw) is True


@pytest.mark.parametrize("raw", ["否", "no", "0", 0.0, "×", False])
def test_no(raw):
    assert convert(HOUSEHOLD, "is_dilapidated", raw) is False


def test_blank_takes_the_default_and_a_required_field_says_so():
    assert convert(HOUSEHOLD, "has_household_power", "") is True
    assert convert(HOUSEHOLD, "farmland_mu", None) == 0
    assert convert(MEMBER, "ethnicity", " ") == "01"
    assert message(HOUSEHOLD, "head_name", "  ") == "Head of household is required."
    assert message(INCOME, "year", "", "zh-hans").startswith("年度")


def test_numbers_as_text_full_width_and_floats():
    assert convert(HOUSEHOLD, "farmland_mu", "１２.５") == Decimal("12.50")
    assert convert(HOUSEHOLD, "farmland_mu", "1,200") == Decimal("1200.00")
    assert convert(HOUSEHOLD, "farmland_mu", 0.1 + 0.2) == Decimal("0.30")  # binary noise
    assert convert(HOUSEHOLD, "cars", "2.0") == 2
    assert convert(MEMBER, "migrant_months", 6.0) == 6


def test_messages_name_the_field_say_what_is_wrong_and_what_is_allowed():
    assert message(HOUSEHOLD, "farmland_mu", "-1") == "Farmland (mu) cannot be negative (it is -1)."
    assert message(HOUSEHOLD, "farmland_mu", "1.234") == (
        "Farmland (mu) has at most 2 decimal places (it is 1.234)."
    )
    assert message(HOUSEHOLD, "farmland_mu", "lots") == "Farmland (mu): “lots” is not a number."
    assert message(MEMBER, "migrant_months", "13") == (
        "Migrant work months must be between 0 and 12 (it is 13)."
    )
    assert message(HOUSEHOLD, "cars", "1.5") == "Cars: “1.5” is not a whole number."
    text = message(HOUSEHOLD, "is_dilapidated", "maybe")
    assert text.startswith("Dilapidated house: “maybe” is not yes or no")
    text = message(HOUSEHOLD, "main_cause", "因穷")
    assert text.startswith("Main cause of poverty: “因穷” is not one of the allowed values: 1 ")
    assert "2 Disability" in text
    with translation.override("zh-hans"):
        assert "因残" in message(HOUSEHOLD, "main_cause", "因穷", "zh-hans")
    assert message(HOUSEHOLD, "phone", "1" * 21) == (
        "Phone has at most 20 characters (this one has 21)."
    )


def test_other_causes_take_several_labels_or_codes():
    assert convert(HOUSEHOLD, "other_causes", "缺技术、缺资金") == ["7", "9"]
    assert convert(HOUSEHOLD, "other_causes", "7,9") == ["7", "9"]
    assert convert(HOUSEHOLD, "other_causes", ["7", "9"]) == ["7", "9"]
    assert "listed twice" in message(HOUSEHOLD, "other_causes", "缺技术、7")


def test_resident_id_full_width_15_digits_and_number_cells():
    """DOMAIN.md §2: the ID gives birth date and sex; old and mistyped forms are normalised."""
    number = build_resident_id("450102", dt.date(1968, 3, 4), 123)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    assert convert(MEMBER, "id_number", full_width).number == number
    old = number[:6] + number[8:17]  # the 15-digit first-generation form
    rid = convert(MEMBER, "id_number", old)
    assert (rid.number, rid.birth_date, rid.sex) == (number, dt.date(1968, 3, 4), "M")
    assert "lost its last digits" in message(MEMBER, "id_number", float(number[:17] + "0"))
    bad = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert message(MEMBER, "id_number", bad).startswith("The check digit")


def test_columns_convert_each_distinct_value_once_and_keep_missing():
    rule = HOUSEHOLD["main_cause"]
    column = rule.convert_column(["因病", "因病", MISSING, "9", "bad"])
    assert column[:4] == ["1", "1", MISSING, "9"]
    assert isinstance(column[4], Invalid)


def test_cross_field_rules_skip_fields_that_failed():
    errors: dict[str, list[str]] = {}
    HOUSEHOLD.clean_one({"irrigated_mu": "x", "farmland_mu": "1"}, errors)
    assert list(errors) == ["irrigated_mu"]  # reported once, not again by the rule


def test_column_check_equals_the_single_record_check():
    """The two executors give the same errors for the same input."""
    rows = [
        {**person(), "is_disabled": "否", "disability_grade": "2"},
        {**person("02", male=False), "migrant_months": "3"},
        {**person("03"), "schooling": "小学", "dropout_reason": "因病"},
    ]
    single = []
    for i, row in enumerate(rows):
        errors: dict[str, list[str]] = {}
        # A service checks every field of the instance; a blank one takes its default.
        MEMBER.clean_one({n: row.get(n, "") for n in validation.MEMBER_FIELDS}, errors, f"{i}.")
        single.append(errors)
    check = MEMBER.clean_columns(
        {name: [r.get(name, MISSING) for r in rows] for name in validation.MEMBER_FIELDS}, 3
    )
    MEMBER.fill_missing(check, 3, range(3))
    MEMBER.check_columns(check, 3)
    columnar = [
        {
            f"{i}.{name}": [m for n, m in check.errors.get(i, []) if n == name]
            for name, _m in check.errors.get(i, [])
        }
        for i in range(3)
    ]
    assert single == columnar
    assert all(single)


def test_sex_and_birth_date_given_with_a_member_must_agree_with_the_id():
    rid = convert(MEMBER, "id_number", build_resident_id("450102", dt.date(1970, 5, 1), 11))
    assert list(validation.id_agreement(rid, {"sex": "男", "birth_date": "1970-05-01"})) == []
    with translation.override("en"):
        problems = dict(validation.id_agreement(rid, {"sex": "女", "birth_date": "19700502"}))
    assert problems["sex"] == "Sex “女” does not agree with the resident ID, which gives Male."
    assert "1970-05-01" in problems["birth_date"]
