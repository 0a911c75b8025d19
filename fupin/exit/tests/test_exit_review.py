"""Household exit, fixes from the review of the exit rounds: the `exit` guard, the data
checked again at the announcement, the judged year's income and line, the county's 低保
line, the acceptance form against the registry, the round's year, the close guard, the
list following the registry, and the dates of the acceptance step and the sign-off."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from fupin.core.models import Area
from fupin.exit import checks, guards, services
from fupin.exit.models import AreaFacts, ExitDecision, RoundHousehold
from fupin.exit.tests.conftest import GUANGXI_VILLAGE, HUNAN_VILLAGE, scan
from fupin.exit.tests.test_procedure import DAY, PROPOSED, accept, messages, record
from fupin.registry import services as registry
from fupin.registry.models import Household, HouseholdIncome, Member

AREA = {12: GUANGXI_VILLAGE, 9: "450102100", 6: "450102"}
HUNAN_AREA = {12: HUNAN_VILLAGE, 9: "430523100", 6: "430523"}


@pytest.fixture
def hunan_admin(make_user_in: Any) -> Any:
    return make_user_in("hunan", "430523", "administrator")


def run_steps(user: Any, round_: Any, areas: dict[int, str], day: dt.date, upto: int) -> dt.date:
    """Record the round's steps 0..upto-1, a notice's successor after its end; before a
    household check (kind "acceptance"), every household still without a form checked with
    every item met the day before."""
    for i, step in enumerate(round_.steps[:upto]):
        if step.kind == "acceptance":
            items = {
                line.key: services.ItemInput(True) for line in services.acceptance_items(round_)
            }
            for rh in RoundHousehold.objects.filter(
                round=round_, on_list=True, acceptance__isnull=True
            ):
                accept(user, rh, items=items, checked_on=day - dt.timedelta(days=1))
        record(user, round_, i, areas[step.code_length], date=day)
        day += dt.timedelta(days=8 if step.kind == "notice" else 1)
    return day


def outcome(check: checks.HouseholdCheck, standard: str, item: str) -> tuple[str, str]:
    found = next(s for s in check.standards if s.standard.code == standard)
    r = next(r for r in found.results if r.item.code == item)
    return r.outcome, r.evidence


# -- 1. the exit guard ---------------------------------------------------------------------


def test_exit_only_by_a_rounds_announcement_seed_000(admin: Any, registered: Any) -> None:
    """Seed 000 line 146 (Guangxi 严程序, 双认定) and issue 7 item 2: `exit` taken on the
    registry page, the API or in bulk is refused, pointing to the exit round; only the
    announcement (or the demo's history, by name) applies it."""
    h = registered(admin, GUANGXI_VILLAGE, road_surface="earth")
    registry.transition_household(admin, h, "propose_exit", reason="x", date=dt.date(2017, 10, 9))
    with pytest.raises(ValidationError, match="announcement of an exit round"):
        registry.transition_household(admin, h, "exit", reason="x", date=dt.date(2017, 10, 10))
    with pytest.raises(ValidationError, match="announcement of an exit round"):
        registry.transition_many(admin, [("exit", {h.pk: dt.date(2017, 10, 10)})], reason="x")
    assert Household.objects.get(pk=h.pk).status == "exit_proposed"
    with guards.outside_procedure("test: history"):
        registry.transition_household(admin, h, "exit", reason="x", date=dt.date(2017, 10, 10))
    assert Household.objects.get(pk=h.pk).status == "exited"


# -- 2. the data again at the announcement; a cadre's proposal ------------------------------


def test_hunan_household_fallen_into_a_situation_does_not_exit_seed_000(
    hunan_admin: Any, registered: Any
) -> None:
    """Seed 000 (Hunan 严格贫困退出标准): 八种情形的贫困户, 一律不得退出 — judged again on the
    announcement day, not only at the proposal: water lost after the proposal refuses the
    announcement, naming the household and the item."""
    h = registered(hunan_admin, HUNAN_VILLAGE)
    HouseholdIncome.objects.filter(household=h).update(year=2018)
    r = services.open_round(hunan_admin, area_code="430523", name="r", year=2018)
    assert services.propose_from_standard(hunan_admin, r, date=dt.date(2018, 10, 9)) == 1
    last = len(r.steps) - 1
    day = run_steps(hunan_admin, r, HUNAN_AREA, dt.date(2018, 10, 15), last)
    # Water lost after the household check (入户核实), before the announcement.
    Household.objects.filter(pk=h.pk).update(water_safe=False)
    with pytest.raises(ValidationError) as exc:
        record(hunan_admin, r, last, "430523", date=day)
    text = messages(exc.value)
    assert h.code in text and "No safe drinking water" in text
    assert Household.objects.get(pk=h.pk).status == "exit_proposed"


def test_hunan_blocking_item_without_data_refuses_the_announcement_seed_000(
    hunan_admin: Any, registered: Any
) -> None:
    """Seed 000 (Hunan): 一律不得退出 — the national procedure has no step checking the
    household, so an item of Hunan's situations without data (here the 2018 income the
    support item compares, with a measure running) refuses the exit."""
    from fupin.support import services as support

    h = registered(hunan_admin, HUNAN_VILLAGE)
    HouseholdIncome.objects.filter(household=h).update(year=2018)
    r = services.open_round(hunan_admin, area_code="430523", name="r", year=2018)
    assert services.propose_from_standard(hunan_admin, r, date=dt.date(2018, 10, 9)) == 1
    HouseholdIncome.objects.filter(household=h).delete()
    plan = support.make_plan(hunan_admin, h, "产业脱贫")
    support.add_measure(
        hunan_admin,
        plan,
        {
            "category": "industry",
            "kind": "industry.livestock",
            "target": "养殖",
            "amount": 2000,
            "funding_source": "财政专项扶贫资金",
            "starts_on": dt.date(2018, 3, 1),
            "responsible": "王干部",
        },
        plan.version,
    )
    last = len(r.steps) - 1
    day = run_steps(hunan_admin, r, HUNAN_AREA, dt.date(2018, 10, 15), last)
    with pytest.raises(ValidationError, match="no data for"):
        record(hunan_admin, r, last, "430523", date=day)


def test_cadre_proposal_of_an_already_proposed_household_is_judged_seed_000(
    hunan_admin: Any, registered: Any
) -> None:
    """Seed 000 (Hunan): a household proposed outside a round (so past the propose_exit
    guard) and then fallen into a situation cannot join a round."""
    h = registered(hunan_admin, HUNAN_VILLAGE)
    registry.transition_household(
        hunan_admin, h, "propose_exit", reason="x", date=dt.date(2018, 10, 9)
    )
    Household.objects.filter(pk=h.pk).update(is_dilapidated=True, dilapidation_grade="D")
    r = services.open_round(hunan_admin, area_code="430523", name="r", year=2018)
    with pytest.raises(ValidationError, match="not met"):
        services.propose_household(hunan_admin, r, h, reason="x", date=dt.date(2018, 10, 10))


# -- 4. the judged year's income and line ----------------------------------------------------


def test_income_of_the_judged_year_and_its_line_domain_10(admin: Any, registered: Any) -> None:
    """DOMAIN.md §10 (lines by year; 2017–2019 the NBS current-price lines, our reading):
    the income of the judged year against that year's line; a year without an income row
    is no data, never an older year's income."""
    h = registered(admin)  # 2017 income, 4,000 a head
    assert outcome(checks.check_household(h, 2017), "guangxi-household", "income") == (
        "met",
        "per_capita_income=4000.0; poverty_line=3335.0",
    )
    assert outcome(checks.check_household(h, 2018), "guangxi-household", "income")[0] == "no_data"
    assert checks.line_of(2018) == 3535 and checks.line_of(2021) is None
    assert outcome(checks.check_household(h, 2021), "national-household", "income")[0] == (
        "no_data"
    )


# -- 3. the county's 低保 line ---------------------------------------------------------------


def test_county_dibao_line_blocks_in_hunan_seed_000(hunan_admin: Any, registered: Any) -> None:
    """Seed 000 (Hunan 情形八): a 低保 household whose county's 低保 line (the county's own
    AreaFacts for the year) is at or below the poverty line may not exit."""
    h = registered(hunan_admin, HUNAN_VILLAGE, attribute="dibao")
    HouseholdIncome.objects.filter(household=h).update(year=2018)
    check = checks.check_household(h, 2018)
    assert outcome(check, "hunan-household", "dibao_below_line")[0] == "no_data"
    AreaFacts.objects.create(
        area=Area.objects.get(code="430523"),
        year=2018,
        dibao_line=Decimal(3000),
        source="县民政局",
        updated_by=hunan_admin,
    )
    check = checks.check_household(h, 2018)
    assert outcome(check, "hunan-household", "dibao_below_line")[0] == "not_met"
    with pytest.raises(ValidationError, match=r"低保|dibao|subsistence"):
        registry.transition_household(
            hunan_admin, h, "propose_exit", reason="x", date=dt.date(2018, 10, 9)
        )


# -- 5. the acceptance form against the registry --------------------------------------------


def test_acceptance_cannot_tick_met_what_the_registry_shows_not_met_seed_000(
    admin: Any, registered: Any
) -> None:
    """Seed 000 (Guangxi 双认定, 逐项入户核实): the form does not overrule the registry: an
    item the data show not met is corrected in the registry first."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    h = registered(admin, GUANGXI_VILLAGE, road_surface="earth")
    rh = services.propose_household(admin, r, h, reason="路已硬化，数据待更新", date=PROPOSED)
    with pytest.raises(ValidationError) as exc:
        accept(admin, rh)
    assert "the registry shows it not met" in messages(exc.value)
    Household.objects.filter(pk=h.pk).update(road_surface="concrete")
    accept(admin, rh)


def test_acceptance_step_reads_the_data_again_seed_000(admin: Any, registered: Any) -> None:
    """Seed 000 (Guangxi 双认定): data gone wrong after the form refuse the step."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    h = registered(admin, GUANGXI_VILLAGE)
    services.propose_from_standard(admin, r, date=PROPOSED)
    accept(admin, RoundHousehold.objects.get(round=r))
    Household.objects.filter(pk=h.pk).update(has_household_power=False)
    with pytest.raises(ValidationError, match="not met"):
        record(admin, r, 0, GUANGXI_VILLAGE)


# -- 7. the round's year ---------------------------------------------------------------------


def test_a_2017_round_announced_in_2018_makes_2017_exits_issue_7(
    admin: Any, registered: Any
) -> None:
    """Issue 7 (exits counted by year): the round's year, not the announcement's."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    h = registered(admin, GUANGXI_VILLAGE)
    services.propose_from_standard(admin, r, date=PROPOSED)
    accept(admin, RoundHousehold.objects.get(round=r))
    day = run_steps(admin, r, AREA, dt.date(2017, 12, 20), len(r.steps) - 1)
    assert day.year == 2018
    record(admin, r, len(r.steps) - 1, "450102", date=day)
    h.refresh_from_db()
    assert h.status == "exited" and h.exit_year == 2017


def test_hunan_proposal_judged_on_the_rounds_year_seed_000(
    hunan_admin: Any, registered: Any
) -> None:
    """Seed 000 (Hunan 情形七, newly registered this year): a 2017 round's proposal dated
    January 2018 is judged on 2017 — registered in 2017, it may not exit in 2017."""
    h = registered(hunan_admin, HUNAN_VILLAGE)
    r = services.open_round(hunan_admin, area_code="430523", name="r", year=2017)
    with pytest.raises(ValidationError, match=r"Newly registered|newly"):
        services.propose_household(hunan_admin, r, h, reason="x", date=dt.date(2018, 1, 5))


# -- 8. the close guard ----------------------------------------------------------------------


def test_close_refused_without_a_recorded_exit_seed_000(admin: Any, registered: Any) -> None:
    """Seed 000 (Guangxi 严销号): without the day of exit the period cannot be told — refused;
    an exit of 2015 takes the national default (from 2014)."""
    h = registered(admin)
    Household.objects.filter(pk=h.pk).update(status="exited", status_date=dt.date(2015, 12, 1))
    h.refresh_from_db()
    with pytest.raises(ValidationError, match="day of exit is not recorded"):
        registry.transition_household(admin, h, "close", reason="x", date=dt.date(2017, 6, 1))


# -- 6. the list follows the registry --------------------------------------------------------


def test_household_excluded_on_the_registry_leaves_the_list_issue_7(
    admin: Any, registered: Any
) -> None:
    """Issue 7 item 2 (a household leaves the list only by a written decision): one excluded
    on the registry during the procedure leaves it by an automatic decision naming the
    registry's step; the announcement goes on for the others."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    h1, h2 = registered(admin, GUANGXI_VILLAGE), registered(admin, GUANGXI_VILLAGE)
    services.propose_from_standard(admin, r, date=PROPOSED)
    for rh in RoundHousehold.objects.filter(round=r):
        accept(admin, rh)
    last = len(r.steps) - 1
    day = run_steps(admin, r, AREA, DAY, last)
    registry.transition_household(
        admin, h1, "exclude", reason="大数据比对：有财政供养人员", date=day, attachments=[scan()]
    )
    record(admin, r, last, "450102", date=day)
    gone = RoundHousehold.objects.get(round=r, household=h1)
    assert not gone.on_list and not gone.exited
    decision = ExitDecision.objects.get(round_household=gone)
    assert "大数据比对" in decision.reason and not decision.on_list
    assert Household.objects.get(pk=h1.pk).status == "excluded"
    assert Household.objects.get(pk=h2.pk).status == "exited"


# -- 12. another round's list ----------------------------------------------------------------


def test_on_another_open_rounds_list_whatever_the_status_issue_7(
    admin: Any, registered: Any
) -> None:
    """Issue 7: one household on one open round's list at a time, even once its exit was
    cancelled on the registry."""
    r1 = services.open_round(admin, area_code="450102", name="r1", year=2017)
    r2 = services.open_round(admin, area_code="450102", name="r2", year=2017)
    h = registered(admin, GUANGXI_VILLAGE)
    services.propose_household(admin, r1, h, reason="x", date=PROPOSED)
    registry.transition_household(admin, h, "cancel_exit", reason="x", date=PROPOSED)
    with pytest.raises(ValidationError, match="another open round"):
        services.propose_household(admin, r2, h, reason="x", date=PROPOSED)


# -- 10. confirmed items -----------------------------------------------------------------------


def test_confirmed_items_only_of_the_years_round_seed_000(admin: Any, registered: Any) -> None:
    """Seed 000 (Guangxi 双认定): the form of a 2017 round confirms 2017, not 2018; one of a
    household taken off the list confirms nothing."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    h = registered(admin, GUANGXI_VILLAGE)
    services.propose_from_standard(admin, r, date=PROPOSED)
    rh = RoundHousehold.objects.get(round=r)
    accept(admin, rh)
    assert services.confirmed_items(h, 2017)
    assert services.confirmed_items(h, 2018) == {}
    RoundHousehold.objects.filter(pk=rh.pk).update(on_list=False)
    assert services.confirmed_items(h, 2017) == {}


# -- 13. dates -----------------------------------------------------------------------------------


def test_acceptance_step_not_before_its_forms_seed_000(admin: Any, registered: Any) -> None:
    """Seed 000 (Guangxi 双认定): the step that closes the acceptance comes after the forms."""
    r = services.open_round(admin, area_code="450102", name="r", year=2017)
    registered(admin, GUANGXI_VILLAGE)
    services.propose_from_standard(admin, r, date=PROPOSED)
    accept(admin, RoundHousehold.objects.get(round=r), checked_on=dt.date(2017, 10, 20))
    with pytest.raises(ValidationError, match="last acceptance form"):
        record(admin, r, 0, GUANGXI_VILLAGE, date=dt.date(2017, 10, 15))
    record(admin, r, 0, GUANGXI_VILLAGE, date=dt.date(2017, 10, 20))


def test_no_members_is_no_data_for_the_three_guarantees_domain_5(
    admin: Any, registered: Any
) -> None:
    """DOMAIN.md §5 三保障: a household with no current member has nobody insured or at
    school to count — no data, not met by default."""
    h = registered(admin)
    Member.objects.filter(household=h).update(left_on=dt.date(2017, 5, 1))
    check = checks.check_household(h, 2017)
    assert outcome(check, "national-household", "medical")[0] == "no_data"
    assert outcome(check, "national-household", "education")[0] == "no_data"
