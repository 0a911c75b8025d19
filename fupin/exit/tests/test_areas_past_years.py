"""Village and county exit of a past year, counted as the registry stood on its 31 December
(fupin/exit/areas.py, "Past years").

DOMAIN.md §2 (status history: every transition dated, so a household's status on a day is
its last change on or before it) and §5 (village and county exit: poverty incidence below
3%, Guangxi's county difficulty ranking by poor people, incidence …): a past year's
incidence and ranking count that year's poor people, not today's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fupin.core.models import Area
from fupin.core.testing import person
from fupin.exit import areas, guards
from fupin.exit.tests.conftest import GUANGXI_VILLAGE
from fupin.exit.tests.test_areas import enter
from fupin.registry import services as registry
from fupin.registry.models import Household, Member

pytestmark = pytest.mark.django_db

OTHER_COUNTY_VILLAGE = "450103100201"  # 长塘村, 青秀区


def household(
    user: Any,
    village: str,
    registered: dt.date,
    *,
    people: int = 2,
    exited: dt.date | None = None,
) -> Household:
    """Surveyed on 1 March 2015, registered from `registered` (three steps ten days apart),
    and exited on `exited` if given (proposed a month before)."""
    county = village[:6]
    rows = [person(area=county), person("02", male=False, area=county)]
    rows += [person("03", area=county, born=dt.date(1995, 1, 1)) for _ in range(people - 2)]
    made = registry.create_household(
        user,
        {"village": village, "head_name": "户主", "main_cause": "9"},
        rows,
        {"year": 2015, "wage": 3000},
        surveyed_on=dt.date(2015, 3, 1),
    )
    day = registered
    steps = [("propose", day), ("start_notice", day + dt.timedelta(days=10))]
    steps.append(("register", day + dt.timedelta(days=20)))
    if exited is not None:
        steps += [("propose_exit", exited - dt.timedelta(days=30)), ("exit", exited)]
    for name, on in steps:
        with guards.outside_procedure("test: a past year's exit"):
            registry.transition_household(user, made, name, reason="测试", date=on)
        made.refresh_from_db()
    return made


def poor(board: areas.Board, code: str) -> tuple[int, float | None]:
    check = board.get(code)
    assert check is not None
    return check.poor_people, check.incidence


def test_a_village_counts_the_poor_of_the_years_31_december(admin: Any) -> None:
    """§2 + §5: registered in 2015 and exited in 2017 — poor for 2016, not for 2018; a
    household whose first change is in 2018 does not count in 2016. The current year is
    today's registry."""
    household(admin, GUANGXI_VILLAGE, dt.date(2015, 4, 1), exited=dt.date(2017, 11, 1))
    household(admin, GUANGXI_VILLAGE, dt.date(2018, 2, 1), people=3)
    for year in (2016, 2018):
        enter(admin, GUANGXI_VILLAGE, year, rural_population=100)
    village = Area.objects.get(code=GUANGXI_VILLAGE)
    in_2016 = areas.judge_villages(admin, village, 2016)
    in_2018 = areas.judge_villages(admin, village, 2018)
    assert poor(in_2016, GUANGXI_VILLAGE) == (2, 0.02)
    assert poor(in_2018, GUANGXI_VILLAGE) == (3, 0.03)
    assert (in_2016.households, in_2018.households) == (1, 1)
    assert in_2016.past_year and in_2016.as_of == dt.date(2016, 12, 31)
    this_year = timezone.localdate().year
    today = areas.judge_villages(admin, village, this_year)
    assert today.as_of is None and poor(today, GUANGXI_VILLAGE)[0] == 3


def test_a_member_who_left_counts_in_the_years_before(admin: Any) -> None:
    """§5 counts people: a member who left the household in 2017 is a poor person on
    31 December 2016, not on 31 December 2018 (the household is still registered)."""
    made = household(admin, GUANGXI_VILLAGE, dt.date(2015, 4, 1), people=3)
    son = Member.objects.get(household=made, relation="03")
    registry.remove_member(admin, son, dt.date(2017, 6, 1), "death")
    village = Area.objects.get(code=GUANGXI_VILLAGE)
    assert poor(areas.judge_villages(admin, village, 2016), GUANGXI_VILLAGE)[0] == 3
    assert poor(areas.judge_villages(admin, village, 2018), GUANGXI_VILLAGE)[0] == 2
    county = Area.objects.get(code="450102")
    assert poor(areas.judge_counties(admin, county, 2016), "450102")[0] == 3


def _statistics(user: Any, code: str, year: int) -> None:
    enter(
        user,
        code,
        year,
        rural_population=1000,
        cutoff_score=50,
        rural_income_per_capita=6000,
        special_funds=10000,
        fiscal_revenue_per_person=1000,
    )


def test_the_ranking_of_a_past_year_uses_that_years_poor_people(make_user_in: Any) -> None:
    """§5 (Guangxi's ranking by 8 indicators, seed 000 line 142; poor people and incidence
    from the registry) on §2's history: in 2016 兴宁区's household, exited in 2017, is poor
    and both counties are ranked; in 2018 兴宁区 has no poor people and is not ranked."""
    gx = make_user_in("gx", "45", "administrator")
    household(gx, GUANGXI_VILLAGE, dt.date(2015, 4, 1), exited=dt.date(2017, 11, 1))
    household(gx, OTHER_COUNTY_VILLAGE, dt.date(2015, 4, 1), people=4)
    for year in (2016, 2018):
        _statistics(gx, "450102", year)
        _statistics(gx, "450103", year)
    city = Area.objects.get(code="4501")
    in_2016 = {c.check.code: c for c in areas.rank(gx, city, 2016).counties}
    in_2018 = {c.check.code: c for c in areas.rank(gx, city, 2018).counties}
    assert in_2016["450102"].values["poor_people"] == 2.0
    assert in_2016["450102"].values["poverty_incidence"] == pytest.approx(0.002)
    assert in_2016["450102"].rank is not None and in_2016["450103"].rank is not None
    assert in_2018["450102"].values["poor_people"] == 0.0
    assert (in_2018["450102"].rank, in_2018["450102"].unranked) == (None, "no_poor")
    assert in_2018["450103"].values["poor_people"] == 4.0


def test_past_year_pages_say_whose_poor_people_they_count(admin: Any) -> None:
    """The pages of a village and a county for a past year carry one line: poor people as
    of 31 December of the year, from the status history (§2); the current year's do not."""
    household(admin, GUANGXI_VILLAGE, dt.date(2015, 4, 1), exited=dt.date(2017, 11, 1))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    note = "Poor people as of 31 December 2016, from the status history."
    this_year = timezone.localdate().year
    for url in (
        reverse("exit:village", args=[GUANGXI_VILLAGE]),
        reverse("exit:county", args=["450102"]),
    ):
        page = client.get(url + "?year=2016").content.decode()
        assert note in page and "registry stands today" not in page
        current = client.get(url + f"?year={this_year}").content.decode()
        assert "from the status history" not in current
