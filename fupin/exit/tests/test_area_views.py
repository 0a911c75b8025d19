"""Village and county exit pages (issue 7 item 4): the village page item by item with the
drill-down to the households behind a figure, the list of villages (sortable, xlsx), the
county page with the national thresholds, Guangxi's ranking with its chart and xlsx, the
facts form and import; area scoping of every page (404 outside the user's area)."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from fupin.core.models import Area
from fupin.exit import services
from fupin.exit.models import AreaFacts
from fupin.exit.tests.conftest import GUANGXI_VILLAGE, GUANGXI_VILLAGE_2
from fupin.exit.tests.test_areas import BAD_HOUSEHOLD, BAD_VILLAGE, GOOD_VILLAGE, bad_members
from fupin.registry.models import Household

YEAR = 2017


def client(user: Any, language: str = "en") -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=language)
    c.force_login(user)
    return c


def enter(user: Any, code: str, **values: Any) -> None:
    services.save_area_facts(user, services.FactsInput(code, YEAR, values, "村级台账"))


@pytest.fixture
def villages(admin: Any, registered: Any) -> Any:
    """三塘村 meets every item; 四塘村 meets none. Both are poor villages."""
    registered(admin, GUANGXI_VILLAGE, paired=False)
    registered(admin, GUANGXI_VILLAGE_2, members=bad_members(), paired=False, **BAD_HOUSEHOLD)
    enter(admin, GUANGXI_VILLAGE, **GOOD_VILLAGE)
    enter(admin, GUANGXI_VILLAGE_2, **BAD_VILLAGE)
    Area.objects.filter(code__in=[GUANGXI_VILLAGE, GUANGXI_VILLAGE_2]).update(is_poor_village=True)
    return admin


def test_village_page_items_evidence_and_drill_down(villages: Any) -> None:
    """Every item of 十一有一低于 with its outcome and data; a registry figure links to the
    household list filtered by the village and the poor statuses."""
    page = client(villages).get(reverse("exit:village", args=[GUANGXI_VILLAGE_2]) + "?year=2017")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="exit-item outcome-not_met"') == 12
    assert 'data-item="housing"' in html and "poor households in a dilapidated house" in html
    assert "4.00%" in html  # 2 poor people of 50
    drill = (
        reverse("registry:household_list")
        + f"?area={GUANGXI_VILLAGE_2}&amp;status=registered&amp;status=exit_proposed"
        + "&amp;status=returned"
    )
    assert drill in html
    households = client(villages).get(drill.replace("&amp;", "&")).content.decode()
    inside = Household.objects.get(village_id=GUANGXI_VILLAGE_2)
    outside = Household.objects.get(village_id=GUANGXI_VILLAGE)
    assert inside.code in households and outside.code not in households
    good = client(villages).get(reverse("exit:village", args=[GUANGXI_VILLAGE]) + "?year=2017")
    assert "Meets the exit standard" in good.content.decode()


def test_village_page_in_chinese(villages: Any) -> None:
    html = (
        client(villages, "zh-hans")
        .get(reverse("exit:village", args=[GUANGXI_VILLAGE]) + "?year=2017")
        .content.decode()
    )
    assert "十一有一低于" in html and "有好的“两委”班子" in html


def test_village_list_sorts_and_exports(villages: Any) -> None:
    """The township's villages with incidence, items met and exit-ready; sorted by
    incidence, hardest first; the xlsx has every village with each item's outcome."""
    url = reverse("exit:village_list") + "?area=450102100&year=2017"
    page = client(villages).get(url + "&sort=-incidence")
    assert page.status_code == 200
    order = re.findall(r'data-village="(\d+)"', page.content.decode())
    assert order == [GUANGXI_VILLAGE_2, GUANGXI_VILLAGE]
    assert page.context["summary"]["ready"] == 1 and page.context["summary"]["blocked"] == 1
    order = re.findall(r'data-village="(\d+)"', client(villages).get(url + "&sort=incidence")
                       .content.decode())  # fmt: skip
    assert order == [GUANGXI_VILLAGE, GUANGXI_VILLAGE_2]
    export = client(villages).get(
        reverse("exit:village_export") + "?area=450102100&year=2017&sort=code"
    )
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [GUANGXI_VILLAGE, GUANGXI_VILLAGE_2]
    header = rows[0]
    assert rows[1][header.index("Items met")] == 12
    assert rows[2][header.index("Poverty incidence (%)")] == pytest.approx(4.0)
    assert rows[2][header.index("Television")] == "Not met"


def test_village_list_defaults_to_poor_villages(villages: Any) -> None:
    page = client(villages).get(reverse("exit:village_list") + "?area=450102&year=2017")
    assert page.context["summary"]["shown"] == 2 and page.context["summary"]["villages"] == 3
    page = client(villages).get(reverse("exit:village_list") + "?area=450102&scope=all")
    assert page.context["summary"]["shown"] == 3


def test_county_page_with_national_thresholds(villages: Any, make_user_in: Any) -> None:
    """九有一低于 and the national thresholds (west: 3%) with the evaluation's figures (the
    evaluator's, DOMAIN.md §10)."""
    enter(
        villages,
        "450102",
        rural_population=10000,
        has_special_industry=True,
        dibao_line=Decimal("3000"),
    )
    evaluator = make_user_in("pinggu", "45", "evaluator")
    enter(evaluator, "450102", sample_exited_people=1000, sample_wrongly_exited_people=5)
    page = client(villages).get(reverse("exit:county", args=["450102"]) + "?year=2017")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-standard="guangxi-county"' in html and 'data-standard="national-county"' in html
    assert "West" in html and "3.00%" in html
    assert "0.50%" in html  # wrong-exit rate 5 of 1,000
    assert "entered for the county" in html
    assert page.context["check"].row["villages_without_hardened_road"] is None  # 五塘村 unknown


def test_ranking_page_chart_and_export(admin: Any, make_user_in: Any, registered: Any) -> None:
    """Guangxi's ranking for 南宁市: the table, an ECharts bar chart as JSON (no inline JS)
    and the xlsx."""
    boss = make_user_in("nanning", "4501", "administrator")
    registered(boss, GUANGXI_VILLAGE, paired=False)
    registered(boss, "450103100201", paired=False, farmland_mu=Decimal("3"))
    for code, hard in (("450102", True), ("450103", False)):
        enter(
            boss,
            code,
            rural_population=100 if hard else 10000,
            cutoff_score=40 if hard else 60,
            rural_income_per_capita=Decimal("5000" if hard else "9000"),
            special_funds=Decimal("1000" if hard else "90000"),
            fiscal_revenue_per_person=Decimal("300" if hard else "3000"),
        )
    page = client(boss).get(reverse("exit:ranking") + "?area=4501&year=2017")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.findall(r'data-county="(\d+)" data-rank="(\d*)"', html) == [
        ("450102", "1"),
        ("450103", "2"),
    ]
    option = json.loads(re.search(r'id="difficulty-chart-option"[^>]*>(.*?)</script>', html,
                                  re.S).group(1))  # type: ignore[union-attr]  # fmt: skip
    assert option["yAxis"]["data"] == ["1. 兴宁区", "2. 青秀区"]
    # Equal poor people and no relocation in both: 6 of the 8 indicators tell them apart.
    assert option["series"][0]["data"][0]["value"] == 0.75
    export = client(boss).get(reverse("exit:ranking_export") + "?area=4501&year=2017")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert [(r[0], r[1]) for r in rows[1:]] == [(1, "450102"), (2, "450103")]


def test_facts_form_saves_and_reports_errors(admin: Any) -> None:
    url = reverse("exit:facts_edit", args=[GUANGXI_VILLAGE]) + "?year=2017"
    page = client(admin).get(url)
    assert page.status_code == 200 and "dibao_line" not in page.context["form"].fields
    bad = client(admin).post(url, {"year": "2017", "rural_population": "-3", "source": ""})
    assert bad.status_code == 200
    form_errors = bad.context["form"].errors
    assert form_errors["rural_population"] == ["The value cannot be negative."]
    assert "source" in form_errors and not AreaFacts.objects.exists()
    ok = client(admin).post(
        url, {"year": "2017", "rural_population": "900", "has_clinic": "true", "source": "台账"}
    )
    assert ok.status_code == 302
    record = AreaFacts.objects.get(area_id=GUANGXI_VILLAGE, year=2017)
    assert record.rural_population == 900 and record.has_clinic is True
    assert record.road_hardened is None


def test_facts_import_page_all_or_nothing(admin: Any) -> None:
    url = reverse("exit:facts_import")
    data = (
        "区划代码,年度,农村户籍人口（人）,数据来源\n"
        f"{GUANGXI_VILLAGE},2017,900,台账\n"
        f"{GUANGXI_VILLAGE_2},2017,abc,台账\n"
    ).encode()
    page = client(admin).post(url, {"file": SimpleUploadedFile("f.csv", data)})
    assert page.status_code == 200
    assert "Row 3, 农村户籍人口（人）: “abc” is not a whole number." in page.context["problems"]
    assert not AreaFacts.objects.exists()
    fixed = data.replace(b"abc", b"800")
    done = client(admin).post(url, {"file": SimpleUploadedFile("f.csv", fixed)})
    assert done.status_code == 302 and AreaFacts.objects.count() == 2
    template = client(admin).get(reverse("exit:facts_template") + "?area=450102&year=2017")
    assert template.status_code == 200
    listing = client(admin).get(reverse("exit:facts_list") + "?area=450102&year=2017")
    assert listing.context["entered"] == 2 and listing.context["total"] == 4


def test_every_page_is_scoped_to_the_users_area(villages: Any, make_user_in: Any) -> None:
    """DOMAIN.md §1: a user of 青秀区 finds none of 兴宁区's pages (404, existence not
    leaked); a village cadre sees his village's page, not the county's or the township's."""
    outsider = make_user_in("qingxiu", "450103", "administrator")
    urls = [
        reverse("exit:village", args=[GUANGXI_VILLAGE]),
        reverse("exit:village_list") + "?area=450102",
        reverse("exit:village_export") + "?area=450102",
        reverse("exit:county", args=["450102"]),
        reverse("exit:ranking") + "?area=4501",
        reverse("exit:ranking_export") + "?area=4501",
        reverse("exit:facts_list") + "?area=450102",
        reverse("exit:facts_template") + "?area=450102",
        reverse("exit:facts_edit", args=["450102"]),
    ]
    for url in urls:
        assert client(outsider).get(url).status_code == 404, url
    cadre = make_user_in("santang", GUANGXI_VILLAGE, "data_officer")
    assert client(cadre).get(urls[0]).status_code == 200
    assert client(cadre).get(reverse("exit:county", args=["450102"])).status_code == 404
    assert client(cadre).get(reverse("exit:village_list") + "?area=450102100").status_code == 404
    assert client(cadre).get(reverse("exit:facts_edit", args=[GUANGXI_VILLAGE])).status_code == 403


def test_menu_links_land_each_user_on_his_level(villages: Any, make_user_in: Any) -> None:
    """The menu's links carry no area: a village cadre lands on his village's page, a
    county user asking for the ranking (a city's or province's) on his county's page."""
    cadre = make_user_in("santang", GUANGXI_VILLAGE, "data_officer")
    page = client(cadre).get(reverse("exit:village_list"))
    assert page.status_code == 302 and page["Location"].startswith(
        reverse("exit:village", args=[GUANGXI_VILLAGE])
    )
    page = client(villages).get(reverse("exit:ranking"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("exit:county", args=["450102"]))
    assert client(villages).get(reverse("exit:village_list")).status_code == 200


def test_pages_open_on_the_latest_year_with_facts(villages: Any) -> None:
    """Without a year asked for, the village, list, county and facts pages judge the latest
    year (not after this one) for which the area's facts are entered — a county working on
    2017's figures sees 2017, not an empty current year; a year asked for wins."""
    c = client(villages)
    for url in (
        reverse("exit:village", args=[GUANGXI_VILLAGE]),
        reverse("exit:village_list") + "?area=450102",
        reverse("exit:county", args=["450102"]),
        reverse("exit:facts_list") + "?area=450102",
    ):
        assert c.get(url).context["year"] == YEAR, url
    asked = c.get(reverse("exit:village", args=[GUANGXI_VILLAGE]) + "?year=2018")
    assert asked.context["year"] == 2018
    AreaFacts.objects.all().delete()
    this_year = c.get(reverse("exit:village", args=[GUANGXI_VILLAGE])).context["year"]
    assert this_year == timezone.localdate().year


def test_a_judged_list_is_computed_once_until_something_changes(
    villages: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sorting, paging and exporting the village list reuse the judged list instead of a
    registry snapshot per click; entering facts (an audited change) computes it again."""
    from fupin.exit import areas as exit_areas

    calls: list[str] = []
    real = exit_areas.judge_villages

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("judge")
        return real(*args, **kwargs)

    monkeypatch.setattr(exit_areas, "judge_villages", counting)
    c = client(villages)
    base = reverse("exit:village_list") + "?area=450102&year=2017"
    first = c.get(base)
    assert c.get(base + "&sort=-incidence").status_code == 200
    assert c.get(reverse("exit:village_export") + "?area=450102&year=2017").status_code == 200
    assert calls == ["judge"]
    enter(villages, GUANGXI_VILLAGE, rural_population=40)
    again = c.get(base)
    assert calls == ["judge", "judge"]
    assert first.context["board"].get(GUANGXI_VILLAGE) is not None
    assert again.context["board"].get(GUANGXI_VILLAGE).row["rural_population"] == 40
