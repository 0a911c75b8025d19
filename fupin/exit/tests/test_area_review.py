"""Village and county exit after the review of commit 8be917e: a province-sized import, the
evaluation's figures entered only by the evaluator or above the county (DOMAIN.md §10),
the past-year note, the poor-county flag and the ranking over poor counties only (seed 000
line 142), land unknown as unknown, one message for unknown and unreachable codes, the
concurrent first save, the stored fields' limits, percentages never rounded up to a limit,
and the township link only for who can reach the township."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import ibis
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.query import QuerySet
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from fupin.core.area_services import mark_county_flag
from fupin.core.models import Area, AreaLevel, AuditEntry
from fupin.exit import areas, services
from fupin.exit.area_views import percent
from fupin.exit.facts_import import read_facts, template
from fupin.exit.models import AreaFacts
from fupin.exit.tests.conftest import GUANGXI_VILLAGE
from fupin.exit.tests.test_areas import _county_statistics

YEAR = 2017


def save(user: Any, code: str, **values: Any) -> AreaFacts:
    return services.save_area_facts(user, services.FactsInput(code, YEAR, values, "评估报告"))


def client(user: Any) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


# -- finding 1: a province's import ---------------------------------------------------------


def test_import_of_1200_villages_counts_poor_people_in_one_query(
    admin: Any, registered: Any, django_assert_max_num_queries: Any
) -> None:
    """A province template has ~14,000 rows: one condition per code made SQLite refuse the
    query ("Expression tree is too large") from about 1,000 codes."""
    registered(admin, GUANGXI_VILLAGE, paired=False)  # 2 poor people
    township = Area.objects.get(code="450102100")
    Area.objects.bulk_create(
        Area(code=f"450102100{n:03d}", name=f"村{n}", level=AreaLevel.VILLAGE, parent=township)
        for n in range(300, 999)
    )
    other = Area.objects.create(
        code="450102102", name="新镇", level=AreaLevel.TOWNSHIP, parent_id="450102"
    )
    Area.objects.bulk_create(
        Area(code=f"450102102{n:03d}", name=f"新村{n}", level=AreaLevel.VILLAGE, parent=other)
        for n in range(1, 600)
    )
    codes = [
        *Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith="450102").values_list(
            "code", flat=True
        ),
        "450102",
    ]
    assert len(codes) > 1200
    with django_assert_max_num_queries(1):
        poor = services._poor_people(codes)
    assert poor[GUANGXI_VILLAGE] == 2 and poor["450102"] == 2 and poor["450102102001"] == 0
    rows = ["区划代码,年度,农村户籍人口（人）,数据来源"] + [f"{c},2017,500,统计年报" for c in codes]
    items = read_facts(("\n".join(rows) + "\n").encode("utf-8-sig"))
    saved = services.import_area_facts(admin, items)
    assert len(saved) == len(codes) == AreaFacts.objects.count()


# -- finding 2: the evaluation's figures ------------------------------------------------------


def test_evaluation_permission_is_declared_and_granted(make_user_in: Any) -> None:
    """exit.enter_evaluation exists as a Permission row and is held by the evaluator and the
    administrator roles (fupin.core.roles); the service narrows the administrator's."""
    assert Permission.objects.filter(
        content_type__app_label="exit", codename="enter_evaluation"
    ).exists()
    assert make_user_in("pg", "450102", "evaluator").has_perm(services.ENTER_EVALUATION)
    assert make_user_in("gx", "45", "administrator").has_perm(services.ENTER_EVALUATION)
    assert not make_user_in("v", "450102", "viewer").has_perm(services.ENTER_EVALUATION)


def test_the_county_does_not_enter_its_own_evaluation(admin: Any, make_user_in: Any) -> None:
    """DOMAIN.md §10: 错退率, 漏评率 and 认可度 come from the third-party evaluation; seed 003's
    3342 spreads the sign-off over city and province. The county enters its other facts."""
    with pytest.raises(ValidationError) as exc:
        save(admin, "450102", rural_population=9000, satisfied_households=95)
    found = exc.value.message_dict
    assert list(found) == ["satisfied_households"]
    assert found["satisfied_households"] == [
        "The third-party evaluation's figure “of them satisfied” (认可户数) is entered by the "
        "evaluator or by the city or the province, not by the county it judges."
    ]
    assert not AreaFacts.objects.exists()
    save(admin, "450102", rural_population=9000)
    # The evaluator (at the county or above) and the city or province enter them.
    save(make_user_in("pg", "450102", "evaluator"), "450102", surveyed_households=100)
    save(make_user_in("nn", "4501", "administrator"), "450102", satisfied_households=95)
    record = AreaFacts.objects.get(area_id="450102")
    assert (record.rural_population, record.surveyed_households) == (9000, 100)
    assert record.satisfied_households == 95
    # The evaluator enters nothing else; a village evaluator nothing at all.
    with pytest.raises(ValidationError) as exc:
        save(make_user_in("pg2", "450102", "evaluator"), "450102", rural_population=1)
    assert (
        "is entered by the county's administrators" in exc.value.message_dict["rural_population"][0]
    )
    with pytest.raises(PermissionDenied):
        save(make_user_in("pg3", GUANGXI_VILLAGE, "evaluator"), GUANGXI_VILLAGE, omitted_people=1)


def test_import_refuses_changed_evaluation_figures_but_takes_the_round_trip(
    admin: Any, make_user_in: Any
) -> None:
    save(make_user_in("gx", "45", "administrator"), "450102", sample_exited_people=1000)
    header = "区划代码,年度,农村户籍人口（人）,抽样脱贫人口,数据来源"
    same = read_facts(f"{header}\n450102,2017,9000,1000,统计\n".encode())
    services.import_area_facts(admin, same)  # the stored figure given back as it is
    changed = read_facts(f"{header}\n450102,2017,9000,900,统计\n".encode())
    with pytest.raises(ValidationError) as exc:
        services.import_area_facts(admin, changed)
    assert exc.value.messages == [
        "Row 2, 抽样脱贫人口: The third-party evaluation's figure “exited people in the "
        "evaluation sample” (抽样脱贫人口) is entered by the evaluator or by the city or the "
        "province, not by the county it judges."
    ]
    assert AreaFacts.objects.get(area_id="450102").sample_exited_people == 1000


def test_facts_form_shows_the_evaluation_read_only_to_the_county(
    admin: Any, make_user_in: Any
) -> None:
    save(make_user_in("gx", "45", "administrator"), "450102", sample_exited_people=1000)
    url = reverse("exit:facts_edit", args=["450102"]) + "?year=2017"
    form = client(admin).get(url).context["form"]
    assert form.fields["sample_exited_people"].disabled
    assert not form.fields["rural_population"].disabled
    posted = client(admin).post(
        url,
        {"year": "2017", "rural_population": "9000", "sample_exited_people": "5", "source": "台账"},
    )
    assert posted.status_code == 302  # the disabled figure is not taken from the post
    record = AreaFacts.objects.get(area_id="450102")
    assert (record.rural_population, record.sample_exited_people) == (9000, 1000)
    evaluator = make_user_in("pg", "450102", "evaluator")
    form = client(evaluator).get(url).context["form"]
    assert not form.fields["sample_exited_people"].disabled
    assert form.fields["rural_population"].disabled


# -- finding 3: past years --------------------------------------------------------------------


def test_past_year_pages_and_exports_say_whose_poor_people(admin: Any, make_user_in: Any) -> None:
    """Poor people of a past year are those of its 31 December, from the status history
    (fupin.exit.areas, "Past years"; DOMAIN.md §2): the list, the ranking (at its top) and
    the exports say so in one line; the current year's pages say nothing."""
    note = "Poor people as of 31 December 2017, from the status history."
    page = client(admin).get(reverse("exit:village_list") + "?area=450102&year=2017")
    assert note in page.content.decode()
    assert "registry stands today" not in page.content.decode()
    export = client(admin).get(reverse("exit:village_export") + "?area=450102&year=2017")
    book = load_workbook(io.BytesIO(export.content))
    assert book["Notes"]["A2"].value == note
    boss = make_user_in("nn", "4501", "administrator")
    ranking = client(boss).get(reverse("exit:ranking") + "?area=4501&year=2017").content.decode()
    assert "past-year-note" in ranking and note in ranking
    assert "not that year" not in ranking and "alert-warning past-year-note" not in ranking
    this_year = dt.date.today().year
    current = client(admin).get(reverse("exit:village_list") + f"?area=450102&year={this_year}")
    assert "from the status history" not in current.content.decode()


# -- findings 4 and 5: the poor-county flag and the ranking ------------------------------------


def test_poor_county_flag_is_the_provinces_and_audited(admin: Any, make_user_in: Any) -> None:
    with pytest.raises(PermissionDenied):
        mark_county_flag(admin, "450102", True, "县自报")
    city = make_user_in("nn", "4501", "administrator")
    with pytest.raises(PermissionDenied):
        mark_county_flag(city, "450102", True, "市定")
    province = make_user_in("gx", "45", "administrator")
    with pytest.raises(ValidationError) as exc:
        mark_county_flag(province, GUANGXI_VILLAGE, True, " ")
    assert set(exc.value.message_dict) == {"code", "reason"}
    mark_county_flag(province, "450102", True, "国开办发〔2012〕号 重点县名单")
    assert Area.objects.get(code="450102").is_poor_county
    entry = AuditEntry.objects.get(action="core.area.county_flag")
    assert entry.after == {"is_poor_county": True} and entry.area_code == "450102"
    mark_county_flag(province, "450102", True, "again")  # unchanged: nothing written
    assert AuditEntry.objects.filter(action="core.area.county_flag").count() == 1
    # The area tree's page for it.
    url = reverse("county_flags", args=["450103"])
    assert client(province).get(url).status_code == 200
    done = client(province).post(url, {"is_poor_county": "on", "reason": "名单"})
    assert done.status_code == 302 and Area.objects.get(code="450103").is_poor_county


def _two_counties(gx: Any, registered: Any) -> None:
    registered(gx, GUANGXI_VILLAGE, paired=False, farmland_mu=Decimal("1"))
    registered(gx, "450103100201", paired=False, farmland_mu=Decimal("8"))
    _county_statistics(gx, "450102", hard=True)
    _county_statistics(gx, "450103", hard=False)


def test_ranking_ranks_only_poor_counties_when_any_is_flagged(
    make_user_in: Any, registered: Any
) -> None:
    """Seed 000 line 142 ranks 贫困县: with a county flagged, only flagged ones; with none,
    every county, and the page says no county is marked."""
    gx = make_user_in("gx", "45", "administrator")
    _two_counties(gx, registered)
    city = Area.objects.get(code="4501")
    ranking = areas.rank(gx, city, YEAR)
    assert not ranking.flagged and ranking.ranked == 2
    assert [c.rank for c in ranking.counties] == [1, 2]
    page = client(gx).get(reverse("exit:ranking") + "?area=4501&year=2017").content.decode()
    assert "No county of the area is marked as a poor county" in page
    assert "over the 2 counties ranked here" in page
    mark_county_flag(gx, "450103", True, "重点县")
    ranking = areas.rank(gx, city, YEAR)
    assert ranking.flagged and [c.check.code for c in ranking.counties] == ["450103"]
    assert ranking.counties[0].rank == 1
    page = client(gx).get(reverse("exit:ranking") + "?area=4501&year=2017").content.decode()
    assert "Only the poor counties (贫困县) of the area are ranked." in page


def test_unknown_land_is_unknown_not_zero() -> None:
    """Land unknown on a poor household is unknown for the county (the engine's strict
    sum), never 0 mu, which made the county look harder (finding 5)."""
    hf = ibis.memtable(
        {
            "county_code": ["450102", "450102", "450103"],
            "status": ["registered", "registered", "registered"],
            "relocation_type": [None, None, None],
            "people": [2, 3, 4],
            "farmland_mu": [1.0, None, 2.0],
            "forest_mu": [0.0, 1.0, 0.5],
        }
    )
    rows = {r["county_code"]: r for r in areas._registry_extras(hf).to_pyarrow().to_pylist()}
    assert rows["450102"]["land_mu"] is None
    assert rows["450103"]["land_mu"] == pytest.approx(2.5)


def test_a_county_lacking_an_indicator_is_out_of_the_scale(
    make_user_in: Any, registered: Any
) -> None:
    """A county lacking an indicator is dropped before the min–max scaling: the others'
    parts span 0…1 among themselves, and it is listed with what it lacks."""
    gx = make_user_in("gx", "45", "administrator")
    _two_counties(gx, registered)
    Area.objects.create(code="450105", name="江南区", level=AreaLevel.COUNTY, parent_id="4501")
    Area.objects.create(code="450105100", name="镇", level=AreaLevel.TOWNSHIP, parent_id="450105")
    Area.objects.create(
        code="450105100201", name="村", level=AreaLevel.VILLAGE, parent_id="450105100"
    )
    registered(gx, "450105100201", paired=False, farmland_mu=Decimal("100"))
    save(gx, "450105", rural_population=100, cutoff_score=30)  # no income, funds, revenue
    ranking = areas.rank(gx, Area.objects.get(code="4501"), YEAR)
    by_code = {c.check.code: c for c in ranking.counties}
    lacking = by_code["450105"]
    assert lacking.rank is None and lacking.unranked == "lacking" and lacking.parts == {}
    assert "fiscal_revenue_per_person" in lacking.lacking
    assert ranking.ranked == 2
    # Its 100 mu per poor person (the most) does not stretch the others' land scale.
    assert by_code["450102"].parts["land_per_poor_person_mu"] == pytest.approx(1.0)
    assert by_code["450103"].parts["land_per_poor_person_mu"] == pytest.approx(0.0)


# -- findings 11 and 12: concurrent create, the fields' limits ------------------------------


def test_a_concurrent_first_save_is_a_message_not_a_500(
    admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """select_for_update locks nothing when no row exists yet: a record created meanwhile
    makes the insert fail on the unique (area, year); the save says so."""
    save(admin, GUANGXI_VILLAGE, rural_population=900)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kw: self.none())
    with pytest.raises(ValidationError) as exc:
        save(admin, GUANGXI_VILLAGE, rural_population=950)
    assert "were just saved by someone else" in exc.value.messages[0]
    assert AreaFacts.objects.get().rural_population == 900


def test_values_beyond_the_stored_fields_limits_are_refused(admin: Any) -> None:
    """dibao_line has 9 digits, 2 after the point; counts are 32-bit on PostgreSQL."""
    with pytest.raises(ValidationError) as exc:
        save(
            admin,
            "450102",
            dibao_line=Decimal("12345678"),
            rural_population=2_147_483_648,
            rural_income_per_capita=Decimal("1.234"),
        )
    found = exc.value.message_dict
    assert found["dibao_line"] == ["The value is too large: at most 9,999,999.99."]
    assert found["rural_population"] == ["The value lies outside 0 to 2,147,483,647."]
    assert found["rural_income_per_capita"] == ["Give at most 2 decimal places."]
    record = save(admin, "450102", dibao_line=Decimal("9999999.99"), rural_population=2_147_483_647)
    assert record.dibao_line == Decimal("9999999.99")


# -- findings 13 and 14: the pages ------------------------------------------------------------


def test_percentages_are_truncated_never_rounded_to_a_limit() -> None:
    """2.999% beside "met" for "below 3%" must not read 3.00%."""
    assert percent(0.02999) == "2.999%"
    assert percent(0.03004) == "3.004%"
    assert percent(0.0295) == "2.95%"
    assert percent(0.123456) == "12.34%"
    assert percent(0.03) == "3.00%" and percent(0.9) == "90.00%"
    assert percent(None) == "no data"


def test_township_link_only_for_who_can_reach_the_township(admin: Any, make_user_in: Any) -> None:
    url = reverse("exit:village", args=[GUANGXI_VILLAGE]) + "?year=2017"
    cadre = make_user_in("santang", GUANGXI_VILLAGE, "administrator")
    assert client(cadre).get(url).context["list_url"] == ""
    assert "Villages of the township" not in client(cadre).get(url).content.decode()
    assert "Villages of the township" in client(admin).get(url).content.decode()


def test_template_tells_how_percentages_are_read(admin: Any) -> None:
    """The reader gives no cell format: a percent-formatted 95% (0.95) is read as 0.95, so
    the template's notes say to type 95 (finding 12)."""
    book = load_workbook(io.BytesIO(template(None, YEAR)))
    notes = [r[0] for r in book["说明"].iter_rows(values_only=True) if r and r[0]]
    assert any("type 95 for 95%" in str(n) for n in notes)
