"""Rectification lists (整改清单, issue 6 item 5) on a crafted area.

Seed 004 (Anhui): 对脱贫户中没有帮扶联系人、没有安排帮扶项目、帮扶联系人全年没有上门的，要列出任务
清单，限期整改，依单销号 — plus cadres over their limit, teams short of days (Hunan, seed
000) and copied plans (同质化).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from fupin.core.testing import person
from fupin.registry.models import Household
from fupin.support import services
from fupin.support.models import CheckIn, Pairing
from fupin.support.tests.test_pairings import START, cadre_data, register

VILLAGE = "450102100201"  # 三塘村
OTHER_VILLAGE = "450102100202"  # 四塘村
TOWNSHIP = "450102100"  # 三塘镇


def measure(**fields: Any) -> dict[str, Any]:
    return {
        "category": "industry",
        "kind": "industry.livestock",
        "target": "养牛 2 头",
        "amount": Decimal("6000"),
        "funding_source": "财政专项扶贫资金",
        "starts_on": dt.date(2017, 4, 1),
        "responsible": "王干部",
        **fields,
    }


def last_month() -> tuple[int, int]:
    day = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    return day.year, day.month


class Area:
    """The crafted area: who should be on which list, by name."""

    def __init__(self, admin: Any, make_household: Callable[..., Any]) -> None:
        self.admin = admin
        today = timezone.localdate()

        def registered(name: str, village: str = VILLAGE) -> Household:
            return register(admin, make_household(village=village, head_name=name))

        self.full = registered("甲")  # cadre, measure, visit: on no household list
        self.no_cadre = registered("乙")  # a measure, no cadre, no visit
        self.no_measure = registered("丙")  # cadre; plan with a dropped measure; visited last year
        self.copy = registered("丁")  # cadre, measure (same as 甲's), visit
        self.extra = registered("戊")  # cadre, own measure, visit
        self.surveyed = make_household(village=VILLAGE, head_name="己")  # not on any list
        self.elsewhere = registered("庚", OTHER_VILLAGE)  # nothing: other village's lists only

        self.busy = services.create_cadre(admin, cadre_data(name="忙干部"))
        self.freed = services.create_cadre(
            admin, cadre_data(name="闲干部", id_number=person(area="450103")["id_number"])
        )
        for h in (self.full, self.no_cadre, self.no_measure, self.copy):
            # Pairings from before the rule (an import): services.pair refuses a fourth,
            # which is exactly why the list exists — so these rows are written directly.
            Pairing.objects.create(
                cadre=self.freed, household=h, started_on=START, ended_on=START, created_by=admin
            )
        for h in (self.full, self.no_measure, self.copy):
            services.pair(admin, self.busy, h, START)
        Pairing.objects.create(  # the fourth active one, as imported
            cadre=self.busy, household=self.extra, started_on=START, created_by=admin
        )

        for h, data in (
            (self.full, measure()),
            (self.copy, measure()),
            (self.no_cadre, measure(target="养鸡 50 只")),
            (self.extra, measure(kind="industry.planting", target="种植柑橘 3 亩")),
            (self.no_measure, measure(status="dropped", target="未实施")),
        ):
            plan = services.make_plan(admin, h)
            services.add_measure(admin, plan, data, expected_version=None)
        for h in (self.full, self.copy, self.extra):
            services.record_visit(admin, h, date=today, work_done="入户走访", cadre=self.busy)
        services.record_visit(
            admin,
            self.no_measure,
            date=dt.date(today.year - 1, 6, 1),
            work_done="入户走访",
            cadre=self.busy,
        )

        year, month = last_month()
        first = dt.date(year, month, 1)
        team = services.create_team(
            admin, village=VILLAGE, sending_unit="兴宁区财政局", term_start=dt.date(2017, 1, 1)
        )
        self.absent = services.add_member(
            admin, team, cadre=self.busy, role="leader", joined_on=dt.date(2017, 1, 1)
        )
        present = services.add_member(
            admin, team, cadre=self.freed, role="member", joined_on=dt.date(2017, 1, 1)
        )
        # check_in records the present moment only: last month's days are written directly.
        zone = ZoneInfo("Asia/Shanghai")
        for day in range(20):
            at = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(9), tzinfo=zone)
            CheckIn.objects.create(
                member=present, at=at, latitude=22.8, longitude=108.3, inside=True
            )
        for day in range(19):  # one day short, and one outside check-in that does not count
            at = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(9), tzinfo=zone)
            CheckIn.objects.create(
                member=self.absent, at=at, latitude=22.8, longitude=108.3, inside=True
            )
        CheckIn.objects.create(
            member=self.absent,
            at=dt.datetime.combine(first + dt.timedelta(days=25), dt.time(9), tzinfo=zone),
            latitude=23.5,
            longitude=109.0,
            inside=False,
        )


@pytest.fixture
def crafted(county_user: Any, make_household: Callable[..., Any]) -> Area:
    return Area(county_user, make_household)


def heads(qs: Any) -> set[str]:
    return {h.head_name for h in qs}


@pytest.mark.django_db
def test_households_without_a_cadre(crafted: Area, county_user: Any) -> None:
    """Seed 004 (Anhui): 没有帮扶联系人 — only must-be-paired households, active pairings."""
    assert heads(services.households_without_cadre(county_user, VILLAGE)) == {"乙"}
    assert heads(services.households_without_cadre(county_user, TOWNSHIP)) == {"乙", "庚"}


@pytest.mark.django_db
def test_households_without_a_measure(crafted: Area, county_user: Any) -> None:
    """Seed 004 (Anhui): 没有安排帮扶项目 — a dropped measure is no measure."""
    assert heads(services.households_without_measure(county_user, VILLAGE)) == {"丙"}
    assert heads(services.households_without_measure(county_user, TOWNSHIP)) == {"丙", "庚"}


@pytest.mark.django_db
def test_households_not_visited_this_year(crafted: Area, county_user: Any) -> None:
    """Seed 004 (Anhui): 帮扶联系人全年没有上门 — last year's visit does not count."""
    assert heads(services.households_not_visited(county_user, VILLAGE)) == {"乙", "丙"}
    last_year = timezone.localdate().year - 1
    assert heads(services.households_not_visited(county_user, VILLAGE, last_year)) == {
        "甲",
        "乙",
        "丁",
        "戊",
    }


@pytest.mark.django_db
def test_cadres_over_their_limit(crafted: Area, county_user: Any) -> None:
    """Seed 004 (Anhui) ≤ 3 households: only active pairings count (闲干部 had 4, ended)."""
    over = list(services.cadres_over_limit(county_user, VILLAGE))
    assert [(c.name, c.households) for c in over] == [("忙干部", 4)]
    assert list(services.cadres_over_limit(county_user, "450102101201")) == []


@pytest.mark.django_db
def test_team_members_short_of_days_last_month(crafted: Area, county_user: Any) -> None:
    """Seed 000 (Hunan): 每月驻村时间不少于20天 — days inside the geofence, local dates."""
    rows = services.members_short_of_days(county_user, VILLAGE, *last_month())
    assert [(r.member.cadre.name, r.days_inside) for r in rows] == [("忙干部", 19)]


@pytest.mark.django_db
def test_plans_that_are_copies(crafted: Area, county_user: Any) -> None:
    """同质化 (seed 004: 帮扶措施单一且同质化): plans identical in every measure, both listed."""
    plans = list(services.copied_plans(county_user, VILLAGE))
    assert sorted((p.household.head_name, p.copies) for p in plans) == [("丁", 2), ("甲", 2)]


# -- the page and its exports --------------------------------------------------------------


def page(client: Client, **params: str) -> Any:
    return client.get(reverse("support:rectification"), params)


@pytest.mark.django_db
def test_page_lists_link_to_households_and_cadres(
    client: Client, crafted: Area, county_user: Any
) -> None:
    """Issue 6 item 5: each row links to the household or the person."""
    client.force_login(county_user)
    response = page(client, area=VILLAGE)
    assert response.status_code == 200
    counts = {item["spec"].key: item["count"] for item in response.context["lists"]}
    assert counts == {
        "no_cadre": 1,
        "no_measure": 1,
        "no_visit": 2,
        "cadre_over_limit": 1,
        "team_short": 1,
        "copied_plan": 2,
    }
    html = response.content.decode()
    assert reverse("registry:household_detail", args=[crafted.no_cadre.pk]) in html
    assert reverse("support:cadre_detail", args=[crafted.busy.pk]) in html


@pytest.mark.django_db
def test_a_village_user_sees_only_the_own_village(
    client: Client, crafted: Area, make_user: Callable[..., Any]
) -> None:
    """Area scoping (DESIGN.md): a village's lists only; another area is a 404."""
    client.force_login(make_user("santang", VILLAGE, "data_officer"))
    response = page(client)
    assert response.context["area"].code == VILLAGE
    lists = {item["spec"].key: item for item in response.context["lists"]}
    assert [r["cells"][1] for r in lists["no_cadre"]["rows"]] == ["乙"]
    # The county's cadres lie outside a village user's area: not listed to him.
    assert lists["cadre_over_limit"]["count"] == 0
    assert page(client, area=OTHER_VILLAGE).status_code == 404
    assert page(client, area=TOWNSHIP).status_code == 404
    assert page(client, area="999999").status_code == 404
    export = reverse("support:rectification_export", args=["no_cadre"])
    assert client.get(export, {"area": OTHER_VILLAGE}).status_code == 404


@pytest.mark.django_db
def test_each_list_exports_to_xlsx(client: Client, crafted: Area, county_user: Any) -> None:
    """Issue 6 item 5: each list exports to xlsx — header, then every row."""
    client.force_login(county_user)
    with translation.override("en"):
        response = client.get(
            reverse("support:rectification_export", args=["no_visit"]),
            {"area": VILLAGE},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'rectification-no_visit-{VILLAGE}.xlsx"')
    sheet = load_workbook(BytesIO(response.content)).active
    assert (sheet.freeze_panes, sheet["A1"].font.bold) == ("A2", True)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Household number", "Head", "Village", "Status")
    assert sorted(r[1] for r in rows[1:]) == ["丙", "乙"]
    assert {r[0] for r in rows[1:]} == {crafted.no_cadre.code, crafted.no_measure.code}
    response = client.get(
        reverse("support:rectification_export", args=["cadre_over_limit"]), {"area": VILLAGE}
    )
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[1:] == [("忙干部", "兴宁区扶贫办", "兴宁区", 4)]
    missing = reverse("support:rectification_export", args=["nothing"])
    assert client.get(missing, {"area": VILLAGE}).status_code == 404


@pytest.mark.django_db
def test_lists_are_a_few_queries_whatever_the_size(
    client: Client, crafted: Area, county_user: Any, django_assert_max_num_queries: Any
) -> None:
    """Queries in the database, not a loop over households (project rule: batch work)."""
    client.force_login(county_user)
    with django_assert_max_num_queries(25):
        assert page(client, area=TOWNSHIP).status_code == 200
