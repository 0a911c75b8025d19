"""Village and county exit computed through the platform (issue 7 item 4): the incidence from
the registry, every item of Guangxi's village standard (十一有一低于) and county standard
(九有一低于) met and not met, the national county thresholds (DOMAIN.md §10) with each
region's limit, and Guangxi's county difficulty ranking (seed 000 line 142) on crafted
counties. Households are real registry households; facts are entered through the service."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from fupin.core.models import Area, AreaLevel
from fupin.core.testing import person
from fupin.exit import areas, guards, services
from fupin.exit.tests.conftest import GUANGXI_OTHER_TOWNSHIP, GUANGXI_VILLAGE, GUANGXI_VILLAGE_2
from fupin.registry import services as registry

YEAR = 2017
#: Every fact a Guangxi village needs to meet the items the registry does not decide.
GOOD_VILLAGE: dict[str, Any] = {
    "rural_population": 1000,
    "has_special_industry": True,
    "road_hardened": True,
    "has_clinic": True,
    "has_service_centre": True,
    "collective_income": Decimal("20000"),
    "committees_good": True,
}
#: The same facts, each failing its item (the population makes 2 poor people 4%).
BAD_VILLAGE: dict[str, Any] = {
    "rural_population": 50,
    "has_special_industry": False,
    "road_hardened": False,
    "has_clinic": False,
    "has_service_centre": False,
    "collective_income": Decimal("0"),
    "committees_good": False,
}
#: A poor household failing every registry-derived village item.
BAD_HOUSEHOLD: dict[str, Any] = {
    "is_dilapidated": True,
    "dilapidation_grade": "D",
    "water_safe": False,
    "has_household_power": False,
    "has_radio_tv": False,
}


@pytest.fixture
def gx(make_user_in: Any) -> Any:
    """An administrator of Guangxi (every county of 南宁市 in reach)."""
    return make_user_in("guangxi", "45", "administrator")


@pytest.fixture
def hn(make_user_in: Any) -> Any:
    return make_user_in("hunan", "43", "administrator")


def bad_members(county: str = "450102") -> list[dict[str, Any]]:
    """A head without basic medical insurance and a child of 10 out of school."""
    return [
        person(area=county, name="户主", has_medical_insurance=False),
        person("03", area=county, born=dt.date(2007, 3, 1), schooling="none"),
    ]


def enter(user: Any, code: str, year: int = YEAR, **values: Any) -> Any:
    return services.save_area_facts(
        user, services.FactsInput(code, year, values, source="2017年村级统计")
    )


def move(user: Any, household: Any, *steps: str) -> None:
    day = dt.date(2017, 6, 1)
    for step in steps:
        with guards.outside_procedure("test: exits and returns as history"):
            registry.transition_household(user, household, step, reason="测试", date=day)
        day += dt.timedelta(days=5)
        household.refresh_from_db()


def outcomes(check: areas.AreaCheck, standard: str) -> dict[str, str]:
    found = next(c for c in check.checks if c.standard.code == standard)
    return {r.item.code: r.outcome for r in found.results}


def test_incidence_counts_poor_statuses_and_not_exited(
    gx: Any, registered: Any, make_household: Any
) -> None:
    """DOMAIN.md §5/§10, engine/standards/FORMAT.md: poor people are the people of households
    registered, proposed for exit or returned to poverty; exited and merely surveyed ones
    are not counted. Incidence = poor people ÷ rural registered population."""
    registered(gx, paired=False)  # 2 people, registered
    move(gx, registered(gx, paired=False), "propose_exit")  # 2, exit proposed
    move(gx, registered(gx, paired=False), "propose_exit", "exit", "return_to_poverty")
    move(gx, registered(gx, paired=False), "propose_exit", "exit")  # exited: not poor
    make_household()  # surveyed only: not poor
    enter(gx, GUANGXI_VILLAGE, rural_population=200)
    board = areas.judge_villages(gx, Area.objects.get(code=GUANGXI_VILLAGE), YEAR)
    check = board.rows[0]
    assert check.poor_people == 6
    assert check.incidence == pytest.approx(0.03)
    assert check.row["poor_households"] == 3
    assert board.households == 3  # only the poor households were read from the registry
    # 6 ÷ 200 = 3%: not below 3%, so the incidence item is not met (seed 000: 低于3%).
    assert outcomes(check, "guangxi-village")["incidence"] == "not_met"


def test_village_without_population_has_no_incidence(gx: Any, registered: Any) -> None:
    """engine/standards/FORMAT.md: an unknown population gives no incidence — "no data",
    never a guess; a village with no facts entered has every entered fact unknown."""
    registered(gx, paired=False)
    check = areas.judge_villages(gx, Area.objects.get(code=GUANGXI_VILLAGE), YEAR).rows[0]
    assert check.incidence is None and check.record is None
    found = outcomes(check, "guangxi-village")
    assert found["incidence"] == "no_data" and found["road"] == "no_data"
    assert found["committees"] == "to_confirm"
    assert check.ready is False and not check.blocked


def test_guangxi_village_items_met_and_not_met(gx: Any, registered: Any) -> None:
    """Seed 000 line 144, 贫困村“十一有一低于”: every item met in one village and not met in
    another, from its facts (特色产业, 路, 卫生室, 公共服务, 集体收入, 两委) and from its poor
    households in the registry (住房, 医保, 义务教育, 饮水, 电, 电视), and the incidence."""
    registered(gx, GUANGXI_VILLAGE, paired=False)
    registered(gx, GUANGXI_VILLAGE_2, members=bad_members(), paired=False, **BAD_HOUSEHOLD)
    enter(gx, GUANGXI_VILLAGE, **GOOD_VILLAGE)
    enter(gx, GUANGXI_VILLAGE_2, **BAD_VILLAGE)
    board = areas.judge_villages(gx, Area.objects.get(code="450102100"), YEAR)
    good, bad = board.get(GUANGXI_VILLAGE), board.get(GUANGXI_VILLAGE_2)
    assert good is not None and bad is not None
    items = [
        "special_industry", "housing", "medical", "education", "road", "water", "power",
        "public_services", "tv", "collective_income", "committees", "incidence",
    ]  # fmt: skip
    assert outcomes(good, "guangxi-village") == dict.fromkeys(items, "met")
    assert outcomes(bad, "guangxi-village") == dict.fromkeys(items, "not_met")
    assert good.ready is True and good.met == good.total == 12
    assert bad.ready is False and bad.blocked and bad.met == 0
    assert bad.incidence == pytest.approx(0.04)
    assert bad.row["uninsured_poor_people"] == 1 and bad.row["out_of_school_poor_children"] == 1


def test_village_medical_needs_insurance_as_well_as_a_clinic(gx: Any, registered: Any) -> None:
    """guangxi-village 有基本医疗保障 (our reading): a clinic AND every poor person insured."""
    registered(gx, members=bad_members(), paired=False)
    enter(gx, GUANGXI_VILLAGE, **GOOD_VILLAGE)
    check = areas.judge_villages(gx, Area.objects.get(code=GUANGXI_VILLAGE), YEAR).rows[0]
    found = next(c for c in check.checks)
    medical = next(r for r in found.results if r.item.code == "medical")
    assert medical.outcome == "not_met"
    assert "has_clinic=true" in medical.evidence and "uninsured_poor_people=1" in medical.evidence


def test_province_without_village_standard_shows_incidence_only(hn: Any) -> None:
    """exit.toml: the national rule sets no village standard (Hunan names none in seed 000):
    the incidence and the facts are shown, no verdict."""
    enter(hn, "430523100201", rural_population=800)
    board = areas.judge_villages(hn, Area.objects.get(code="430523100201"), YEAR)
    assert board.standards == [] and board.rows[0].checks == []
    assert board.rows[0].ready is None and board.rows[0].incidence == 0.0


def test_anhui_village_target_is_policy_data() -> None:
    """Seed 004 line 172: 出列贫困村的贫困发生率降至1%左右 — Anhui's target, as data."""
    from fupin.exit import policy

    rules = policy.area_rules_for("340102001001")
    assert rules.village_target == pytest.approx(0.01) and rules.village_standard == ""
    assert policy.area_rules_for("450102").village_standard == "guangxi-village"


# -- counties ----------------------------------------------------------------------------


def _good_county(gx: Any, registered: Any) -> None:
    registered(gx, GUANGXI_VILLAGE, paired=False)
    for code in (GUANGXI_VILLAGE, GUANGXI_VILLAGE_2, GUANGXI_OTHER_TOWNSHIP):
        enter(gx, code, **GOOD_VILLAGE)
    enter(gx, "450102", has_special_industry=True, dibao_line=Decimal("3400"))


def test_guangxi_county_items_met_and_not_met(gx: Any, registered: Any) -> None:
    """Seed 000 line 144, 贫困县“九有一低于”: every item met in 兴宁区 and not met in 青秀区;
    the facts about villages (roads, clinics, service centres) come from the villages'
    facts, the rural population from their sum, 有社会救助 from the 低保 line ≥ the poverty
    line (3,335 in 2017)."""
    _good_county(gx, registered)
    registered(gx, "450103100201", members=bad_members("450103"), paired=False, **BAD_HOUSEHOLD)
    enter(gx, "450103100201", **BAD_VILLAGE)
    enter(gx, "450103", has_special_industry=False, dibao_line=Decimal("2900"))
    board = areas.judge_counties(gx, Area.objects.get(code="4501"), YEAR)
    good, bad = board.get("450102"), board.get("450103")
    assert good is not None and bad is not None
    items = [
        "special_industry", "housing", "medical", "education", "road", "water", "power",
        "public_services", "social_assistance", "incidence",
    ]  # fmt: skip
    assert outcomes(good, "guangxi-county") == dict.fromkeys(items, "met")
    assert outcomes(bad, "guangxi-county") == dict.fromkeys(items, "not_met")
    assert good.row["rural_population"] == 3000 and good.provenance["rural_population"] == (
        "villages"
    )
    assert good.row["villages_without_clinic"] == 0 and bad.row["villages_without_clinic"] == 1


def test_county_population_entered_wins_over_the_villages_sum(gx: Any, registered: Any) -> None:
    """The county's own figure (the statistics bureau's) is used where entered; a village
    without facts makes the villages' counts unknown (no data), never 0."""
    registered(gx, GUANGXI_VILLAGE, paired=False)
    enter(gx, GUANGXI_VILLAGE, **GOOD_VILLAGE)  # the other two villages have no facts
    enter(gx, "450102", rural_population=40000, has_special_industry=True)
    check = areas.judge_counties(gx, Area.objects.get(code="450102"), YEAR).rows[0]
    assert check.row["rural_population"] == 40000
    assert check.provenance["rural_population"] == "county"
    assert check.incidence == pytest.approx(2 / 40000)
    assert check.row["villages_without_hardened_road"] is None
    assert outcomes(check, "guangxi-county")["road"] == "no_data"


EVALUATION = {
    "sample_exited_people": 1000,
    "sample_wrongly_exited_people": 10,
    "sample_unregistered_people": 2000,
    "sample_omitted_people": 20,
    "surveyed_households": 500,
    "satisfied_households": 480,
}


def estimates(wrongly_exited: int, omitted: int) -> dict[str, int]:
    return {"wrongly_exited_people": wrongly_exited, "omitted_people": omitted}


@pytest.mark.parametrize(
    ("county", "values", "item", "outcome"),
    [
        # Composite incidence: (poor 0 + wrongly exited + omitted) ÷ rural population.
        ("450102", estimates(15, 14), "composite_incidence", "met"),
        ("450102", estimates(15, 15), "composite_incidence", "not_met"),
        ("430523", estimates(10, 9), "composite_incidence", "met"),
        ("430523", estimates(15, 10), "composite_incidence", "not_met"),
        ("450102", {"sample_wrongly_exited_people": 19}, "wrong_exit_rate", "met"),
        ("450102", {"sample_wrongly_exited_people": 20}, "wrong_exit_rate", "not_met"),
        ("430523", {"sample_omitted_people": 39}, "omission_rate", "met"),
        ("430523", {"sample_omitted_people": 40}, "omission_rate", "not_met"),
        ("450102", {"satisfied_households": 450}, "satisfaction", "met"),
        ("450102", {"satisfied_households": 449}, "satisfaction", "not_met"),
    ],
)  # fmt: skip
def test_national_county_thresholds(
    gx: Any, hn: Any, county: str, values: dict[str, Any], item: str, outcome: str
) -> None:
    """DOMAIN.md §10: composite incidence < 3% in the west (广西 450102: 29 of 1,000 met, 30
    not) and < 2% elsewhere (湖南 430523: 19 met, 25 not); 错退率 < 2% (19 of 1,000 wrongly
    exited met, 20 not); 漏评率 < 2% (39 of 2,000 met, 40 not); 认可度 ≥ 90% (450 of 500
    met, 449 not)."""
    user = hn if county.startswith("43") else gx
    facts = {"rural_population": 1000, **EVALUATION, **values}
    enter(user, county, **facts)
    check = areas.judge_counties(user, Area.objects.get(code=county), YEAR).rows[0]
    assert outcomes(check, "national-county")[item] == outcome


def test_national_thresholds_without_evaluation_are_no_data(gx: Any) -> None:
    """Without the evaluation's figures the four items read "no data", not "met"."""
    enter(gx, "450102", rural_population=1000)
    check = areas.judge_counties(gx, Area.objects.get(code="450102"), YEAR).rows[0]
    assert set(outcomes(check, "national-county").values()) == {"no_data"}
    assert check.composite_incidence is None


# -- the ranking -------------------------------------------------------------------------


def _county_statistics(gx: Any, code: str, hard: bool) -> None:
    enter(
        gx,
        code,
        rural_population=100 if hard else 10000,
        cutoff_score=40 if hard else 60,
        rural_income_per_capita=Decimal("5000" if hard else "9000"),
        special_funds=Decimal("1000" if hard else "900000"),
        fiscal_revenue_per_person=Decimal("300" if hard else "3000"),
    )


def test_guangxi_ranking_orders_crafted_counties(gx: Any, registered: Any) -> None:
    """Seed 000 line 142 (8 个客观指标, 按因素法测算各县脱贫难易程度): a county harder on every
    indicator ranks 1 (exits last) with difficulty 1; the other 0. Poor people, incidence,
    relocation and land per poor person come from the registry; a county without poor
    people is not ranked; one lacking an indicator is listed without a rank."""
    registered(
        gx,
        GUANGXI_VILLAGE,
        paired=False,
        farmland_mu=Decimal("1"),
        relocation_type="individual",
        relocation_mode="concentrated",
        relocation_place="county_town",
        members=[person(area="450102"), person("02", male=False, area="450102"),
                 person("03", area="450102", born=dt.date(2000, 1, 1))],
    )  # fmt: skip
    registered(gx, "450103100201", paired=False, farmland_mu=Decimal("8"),
               forest_mu=Decimal("4"))  # fmt: skip
    _county_statistics(gx, "450102", hard=True)
    _county_statistics(gx, "450103", hard=False)
    Area.objects.create(code="450105", name="江南区", level=AreaLevel.COUNTY,
                        parent=Area.objects.get(code="4501"))  # fmt: skip
    ranking = areas.rank(gx, Area.objects.get(code="4501"), YEAR)
    by_code = {c.check.code: c for c in ranking.counties}
    hard, easy, empty = by_code["450102"], by_code["450103"], by_code["450105"]
    assert hard.values["poor_people"] == 3 and hard.values["relocation_people"] == 3
    assert hard.values["land_per_poor_person_mu"] == pytest.approx(1 / 3)
    assert easy.values["land_per_poor_person_mu"] == pytest.approx(6.0)
    assert hard.values["special_funds_per_person"] == pytest.approx(1000 / 3)
    assert hard.origins["poor_people"] == "registry" and hard.origins["cutoff_score"] == "facts"
    assert (hard.rank, hard.difficulty) == (1, pytest.approx(1.0))
    assert (easy.rank, easy.difficulty) == (2, pytest.approx(0.0))
    assert list(hard.parts.values()) == [pytest.approx(1.0)] * 8
    assert empty.rank is None and empty.unranked == "no_poor"
    assert [c.check.code for c in ranking.counties][:2] == ["450102", "450103"]

    enter(gx, "450103", fiscal_revenue_per_person=None)
    ranking = areas.rank(gx, Area.objects.get(code="4501"), YEAR)
    easy = next(c for c in ranking.counties if c.check.code == "450103")
    assert easy.rank is None and easy.unranked == "lacking"
    assert easy.lacking == ("fiscal_revenue_per_person",)


def test_ranking_takes_the_campaign_cutoff_before_the_entered_one() -> None:
    """The cutoff score is the county's identification line where a campaign drew one
    (registry-derived), else the county's entered figure."""
    area = Area(code="450102", name="兴宁区", level=AreaLevel.COUNTY)
    check = areas.AreaCheck(area, {"cutoff_score": 55, "poor_people": 10}, None)
    values, origins = areas.indicator_values(check, (47, "2016年识别 (2016)"))
    assert values["cutoff_score"] == 47 and origins["cutoff_score"] == "2016年识别 (2016)"
    values, origins = areas.indicator_values(check, None)
    assert values["cutoff_score"] == 55 and origins["cutoff_score"] == "facts"


def test_province_without_ranking_spec(hn: Any) -> None:
    """Only Guangxi's method is in the policy: another province has no ranking."""
    ranking = areas.rank(hn, Area.objects.get(code="43"), YEAR)
    assert ranking.spec is None and ranking.counties == []


def test_snapshot_is_the_users_own(admin: Any, registered: Any, make_user_in: Any) -> None:
    """Area scoping (DOMAIN.md §1): the computation reads only households the user may see —
    a user of 青秀区 judging 兴宁区's village reads none of its households."""
    registered(admin, paired=False)
    outsider = make_user_in("qingxiu", "450103", "administrator")
    board = areas.judge_villages(outsider, Area.objects.get(code=GUANGXI_VILLAGE), YEAR)
    assert board.households == 0 and board.rows[0].poor_people == 0
