"""The 351 calculator (issue 7 item 6): seed 004 (Anhui health rectification, “落实好‘351’兜底”)
and DOMAIN.md §4 — deductibles cut to 100 / 300 / 500 / 1,000 yuan by hospital level, and a
poor patient pays at most 3,000 / 5,000 / 10,000 yuan a year in county / city / province
hospitals, the rest is covered. Worked examples, amounts in yuan to the fen."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from django.urls import reverse

from fupin.monitor import policy
from fupin.monitor.settlement import settle

POLICY = policy.health()


def test_the_shipped_policy_has_the_351_deductibles_and_caps() -> None:
    """Seed 004 351 policy / DOMAIN.md §4: deductibles 100/300/500/1,000, caps 3,000 (county,
    the township health centre with it: our reading) / 5,000 (city) / 10,000 (province)."""
    levels = POLICY.levels
    assert list(levels) == ["township", "county", "city", "province"]
    assert [levels[c].deductible for c in levels] == [D(100), D(300), D(500), D(1000)]
    assert [levels[c].cap for c in levels] == [D(3000), D(3000), D(5000), D(10000)]
    assert "351" in POLICY.source and POLICY.version and POLICY.effective


def test_a_county_bill_above_the_cap() -> None:
    """Seed 004 351 policy: a 20,000-yuan county bill — deductible 300, insurance 75% of
    19,700 = 14,775; the patient's share 5,225 is capped at 3,000, the 351 covers 2,225."""
    s = settle(D("20000"), "county", D("0"), POLICY)
    assert (s.deductible, s.insurance_pays, s.patient_share) == (
        D("300.00"),
        D("14775.00"),
        D("5225.00"),
    )
    assert (s.patient_pays, s.covered_by_351, s.remaining_cap) == (
        D("3000.00"),
        D("2225.00"),
        D("0.00"),
    )
    assert s.bill == s.insurance_pays + s.patient_pays + s.covered_by_351


def test_a_small_bill_below_the_deductible_is_paid_by_the_patient() -> None:
    """Seed 004 351 policy: an 80-yuan bill at a township health centre lies below the 100-yuan
    deductible: insurance pays nothing, the patient pays 80, 2,920 of the cap remain."""
    s = settle(D("80"), "township", D("0"), POLICY)
    assert (s.deductible, s.insurance_pays, s.patient_pays, s.covered_by_351) == (
        D("80.00"),
        D("0.00"),
        D("80.00"),
        D("0.00"),
    )
    assert s.remaining_cap == D("2920.00")


def test_the_cap_is_annual_earlier_payments_count() -> None:
    """Seed 004 351 policy, “a year”: after 2,500 paid this year, a county bill whose share
    is 1,225 costs only the 500 left under the 3,000 cap."""
    s = settle(D("4000"), "county", D("2500"), POLICY)
    assert s.patient_share == D("1225.00")  # 300 + 25% of 3,700
    assert (s.patient_pays, s.covered_by_351, s.remaining_cap) == (
        D("500.00"),
        D("725.00"),
        D("0.00"),
    )
    assert s.paid_this_year == D("3000.00")


def test_a_year_at_several_levels_is_capped_by_the_highest_level_visited() -> None:
    """Seed 004 351 policy, our reading of several levels in a year: 4,000 paid at a city
    hospital leave nothing to pay at a county hospital (cap 3,000); 3,000 paid at county
    hospitals leave 2,000 to pay at a city hospital (cap 5,000) and 7,000 at a provincial one."""
    after_city = settle(D("10000"), "county", D("4000"), POLICY)
    assert (after_city.patient_pays, after_city.remaining_cap) == (D("0.00"), D("0.00"))
    assert after_city.covered_by_351 == after_city.patient_share
    at_city = settle(D("30000"), "city", D("3000"), POLICY)
    assert (at_city.patient_pays, at_city.remaining_cap) == (D("2000.00"), D("0.00"))
    at_province = settle(D("50000"), "province", D("3000"), POLICY)
    # 1,000 deductible + 45% of 49,000 = 23,050 share; 7,000 left under the 10,000 cap.
    assert (at_province.patient_share, at_province.patient_pays) == (D("23050.00"), D("7000.00"))
    assert at_province.covered_by_351 == D("16050.00")


def test_the_township_health_centre_counts_with_the_county_cap() -> None:
    """Seed 004 351 policy (县域内 3,000): a township bill is capped at 3,000 like a county one."""
    s = settle(D("40000"), "township", D("0"), POLICY)
    assert (s.cap, s.patient_pays) == (D("3000.00"), D("3000.00"))


def test_amounts_are_rounded_to_the_fen_half_up() -> None:
    """Seed 004 351 policy, settled in yuan and fen: 75% of 700.01 = 525.0075 → 525.01."""
    s = settle(D("1000.01"), "county", D("0"), POLICY)
    assert s.insurance_pays == D("525.01")
    assert s.patient_share == D("475.00")
    assert settle(D("1000.005"), "county", D("0"), POLICY).bill == D("1000.01")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        settle(D("-1"), "county", D("0"), POLICY)
    with pytest.raises(ValueError):
        settle(D("100"), "county", D("-5"), POLICY)
    with pytest.raises(ValueError, match="no hospital level"):
        settle(D("100"), "clinic", D("0"), POLICY)
    with pytest.raises(TypeError):
        settle(100.0, "county", D("0"), POLICY)  # type: ignore[arg-type]


def test_a_policy_with_float_money_or_a_rate_above_one_is_refused() -> None:
    text = (policy.POLICY_DIR / "health.toml").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="insurance_rate"):
        policy.parse_health(text.replace('insurance_rate = "0.75"', 'insurance_rate = "1.5"'))
    with pytest.raises(ValueError, match="integer or a quoted decimal"):
        policy.parse_health(text.replace("deductible = 300", "deductible = 300.5"))


# -- the page ------------------------------------------------------------------------------


def test_the_calculator_page_shows_the_breakdown(client: Any, county_user: Any) -> None:
    """Seed 004 351 policy on the page: the county example's 3,000 to pay and 2,225 covered."""
    client.force_login(county_user)
    url = reverse("monitor:calculator")
    page = client.get(url)
    assert page.status_code == 200 and "settlement-result" not in page.content.decode()
    page = client.get(url, {"bill": "20000", "level": "county", "paid_this_year": ""})
    html = page.content.decode()
    assert page.status_code == 200
    assert "settlement-result" in html
    amounts = html.replace(",", "")  # grouped or not, as the language formats numbers
    assert "<span>3000.00</span>" in amounts and ">2225.00</span>" in amounts
    assert "<span>14775.00</span>" in amounts
    assert 'name="viewport"' in html  # a phone renders it at its own width


def test_the_calculator_page_refuses_a_negative_bill(client: Any, county_user: Any) -> None:
    client.force_login(county_user)
    page = client.get(reverse("monitor:calculator"), {"bill": "-5", "level": "county"})
    assert page.status_code == 200
    assert "settlement-result" not in page.content.decode()
    assert page.context["form"].errors["bill"]


def test_the_calculator_needs_a_login(client: Any, db: Any) -> None:
    page = client.get(reverse("monitor:calculator"))
    assert page.status_code == 302
