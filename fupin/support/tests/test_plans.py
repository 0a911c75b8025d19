"""One plan per household (一户一策, issue 6 item 3): plans from causes, measures by the
catalogue, identical plans flagged (同质化) — all area-scoped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from fupin.core.models import AuditEntry
from fupin.core.services import StaleEdit
from fupin.registry.services import transition_household
from fupin.support import policy, services
from fupin.support.models import Measure, Plan

VILLAGE = "450102100201"  # 三塘村
DAY = dt.date(2017, 1, 5)


def register(user: Any, household: Any) -> Any:
    for step, date in (
        ("propose", dt.date(2016, 12, 10)),
        ("start_notice", dt.date(2016, 12, 11)),
        ("register", dt.date(2016, 12, 20)),
    ):
        transition_household(user, household, step, reason="test", date=date)
    household.refresh_from_db()
    return household


@pytest.fixture
def registered(county_user: Any, make_household: Callable[..., Any]) -> Callable[..., Any]:
    def make(**data: Any) -> Any:
        return register(county_user, make_household(**data))

    return make


def measure(**over: Any) -> dict[str, Any]:
    return {
        "category": "microcredit",
        "kind": "microcredit.loan",
        "target": "发展养牛 5 头",
        "amount": Decimal("50000"),
        "funding_source": "扶贫小额信贷",
        "starts_on": DAY,
        "ends_on": dt.date(2019, 12, 31),
        "responsible": "李四",
        "status": "planned",
        "progress": 0,
        "result": "",
        **over,
    }


def plan_with(user: Any, household: Any, *rows: dict[str, Any]) -> Plan:
    plan = services.make_plan(user, household, "人均纯收入超过 3,000 元")
    for row in rows:
        services.add_measure(user, plan, row, plan.version)
    plan.refresh_from_db()
    return plan


# -- suggestions by cause ------------------------------------------------------------------


def test_suggestions_follow_the_main_cause_then_the_other_causes(registered: Any) -> None:
    """DOMAIN.md §4: 一户一策, a plan made from the household's causes (measures.toml)."""
    household = registered(main_cause="1", other_causes=["3", "7"])
    codes = [k.code for k in services.suggested_measures(household)]
    suggest = policy.measures().suggest
    illness, schooling, skills = list(suggest["1"]), list(suggest["3"]), list(suggest["7"])
    assert codes[: len(illness)] == illness
    rest = [c for c in schooling + skills if c not in illness]
    assert codes[len(illness) :] == list(dict.fromkeys(rest))
    assert "education.rain_dew" in schooling and "education.rain_dew" in skills
    assert codes.count("education.rain_dew") == 1


def test_every_cause_of_the_national_form_has_suggestions() -> None:
    """DOMAIN.md §4 五个一批 / 八个一批: the table covers causes 1–13 of the national form."""
    from fupin.registry.enums import PovertyCause

    catalogue = policy.measures()
    assert set(catalogue.suggest) == set(PovertyCause.values)
    for codes in catalogue.suggest.values():
        assert all(code in catalogue.kinds for code in codes)


def test_a_suggestion_naming_no_measure_is_refused_when_loading() -> None:
    text = (policy.POLICY_DIR / "measures.toml").read_text(encoding="utf-8")
    broken = text.replace('"9" = ["microcredit.loan"', '"9" = ["microcredit.nothing"')
    with pytest.raises(ValueError, match=r"microcredit\.nothing"):
        policy.parse_measures(broken)


# -- the plan ------------------------------------------------------------------------------


def test_one_plan_per_household(county_user: Any, registered: Any) -> None:
    """DOMAIN.md §4 一户一策: one plan per household."""
    household = registered()
    services.make_plan(county_user, household, "")
    with pytest.raises(ValidationError) as err:
        services.make_plan(county_user, household, "")
    assert "一户一策" in str(err.value)  # one plan per household
    assert Plan.objects.filter(household=household).count() == 1


def test_no_plan_for_a_household_only_surveyed(
    county_user: Any, make_household: Callable[..., Any]
) -> None:
    """measures.toml [plan] statuses: proposed, registered and consolidating households."""
    with pytest.raises(ValidationError) as err:
        services.make_plan(county_user, make_household(), "")
    assert "拟识别、建档立卡和巩固期" in str(err.value)  # proposed, registered, consolidating


# -- measures ------------------------------------------------------------------------------


def test_measure_rules_are_all_reported(county_user: Any, registered: Any) -> None:
    """Issue 6 item 3: each measure has a target, an amount, a funding source, dates, a
    responsible person, progress and a result."""
    plan = services.make_plan(county_user, registered(), "")
    bad = measure(
        category="health",  # the loan is not a health measure
        target="  ",
        amount=Decimal("-1"),
        ends_on=DAY - dt.timedelta(days=1),
        responsible="",
        progress=101,
    )
    with pytest.raises(ValidationError) as err:
        services.add_measure(county_user, plan, bad, plan.version)
    assert set(err.value.message_dict) == {
        "kind",
        "target",
        "amount",
        "ends_on",
        "responsible",
        "progress",
    }
    assert not Measure.objects.exists()


def test_unknown_measure_and_missing_funding_are_refused(county_user: Any, registered: Any) -> None:
    plan = services.make_plan(county_user, registered(), "")
    with pytest.raises(ValidationError) as err:
        services.add_measure(
            county_user, plan, measure(kind="loan", category="x", funding_source=""), 1
        )
    assert set(err.value.message_dict) == {"kind", "category", "funding_source"}


def test_a_measure_done_needs_its_result_and_full_progress(
    county_user: Any, registered: Any
) -> None:
    plan = plan_with(county_user, registered(), measure())
    m = plan.measures.get()
    with pytest.raises(ValidationError) as err:
        services.update_measure(county_user, m, {"status": "done", "progress": 80}, plan.version)
    assert set(err.value.message_dict) == {"result", "progress"}
    services.update_measure(
        county_user,
        m,
        {"status": "done", "progress": 100, "result": "养牛 5 头，年增收 8,000 元"},
        plan.version,
    )
    m.refresh_from_db()
    assert (m.status, m.progress) == ("done", 100)
    assert AuditEntry.objects.filter(action="support.measure.update", object_id=str(m.pk)).exists()


def test_plan_edits_are_optimistically_locked(county_user: Any, registered: Any) -> None:
    plan = services.make_plan(county_user, registered(), "")
    stale = plan.version
    services.add_measure(county_user, plan, measure(), stale)
    with pytest.raises(StaleEdit):
        services.add_measure(county_user, plan, measure(kind="microcredit.interest_subsidy"), stale)
    assert Measure.objects.count() == 1


def test_removing_a_measure_is_audited(county_user: Any, registered: Any) -> None:
    plan = plan_with(county_user, registered(), measure())
    m = plan.measures.get()
    services.remove_measure(county_user, m, plan.version, reason="录入错误")
    plan.refresh_from_db()
    assert plan.fingerprint == ""
    entry = AuditEntry.objects.get(action="support.measure.remove")
    assert entry.before["target"] == "发展养牛 5 头" and entry.reason == "录入错误"


# -- identical plans (同质化) ---------------------------------------------------------------


def test_identical_plans_are_flagged(county_user: Any, registered: Any) -> None:
    """Seed 004 (Anhui): 帮扶措施单一且同质化现象突出 — plans identical in every measure
    (kind, target, amount, funding) are flagged; dates and the person responsible differ
    between households even in a copied plan, and whitespace does not make a plan new."""
    a = plan_with(
        county_user,
        registered(head_name="甲"),
        measure(),
        measure(kind="microcredit.interest_subsidy", target="贴息"),
    )
    b = plan_with(
        county_user,
        registered(head_name="乙"),
        measure(kind="microcredit.interest_subsidy", target=" 贴息 ", responsible="王五"),
        measure(
            target="发展养牛　 5  头", starts_on=dt.date(2017, 3, 1), amount=Decimal("50000.00")
        ),
    )
    different = plan_with(
        county_user,
        registered(head_name="丙"),
        measure(),
        measure(
            kind="microcredit.interest_subsidy",
            target="贴息",
            amount=Decimal("1"),
            funding_source="财政",
        ),
    )
    plan_with(county_user, registered(head_name="丁"))  # no measures: nothing to compare
    groups = services.identical_plans(county_user, "450102")
    assert [{p.pk for p in g} for g in groups] == [{a.pk, b.pk}]
    assert different.fingerprint and different.fingerprint != a.fingerprint
    assert [p.pk for p in services.copies_of(county_user, a)] == [b.pk]


def test_identical_plans_outside_the_users_area_are_not_listed(
    county_user: Any, registered: Any, make_user: Callable[..., Any]
) -> None:
    """Area scoping: a county lists only its own plans."""
    plan_with(county_user, registered(), measure())
    plan_with(county_user, registered(), measure())
    other_county = make_user("qingxiu", "450103", "administrator")
    assert services.identical_plans(other_county, "450103") == []
    assert len(services.identical_plans(county_user, "450102")[0]) == 2


def test_making_a_plan_outside_the_area_is_refused(
    registered: Any, make_user: Callable[..., Any]
) -> None:
    household = registered()
    outsider = make_user("outsider", "450102101201", "support_cadre")
    with pytest.raises(PermissionDenied):
        services.make_plan(outsider, household, "")


# -- pages ---------------------------------------------------------------------------------


def test_support_page_shows_plan_and_flag(
    client: Client, county_user: Any, registered: Any
) -> None:
    h1, h2 = registered(head_name="甲"), registered(head_name="乙")
    plan_with(county_user, h1, measure())
    plan_with(county_user, h2, measure())
    client.force_login(county_user)
    page = client.get(reverse("support:household_support", args=[h1.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "plan-identical" in html and h2.code in html
    assert "发展养牛 5 头" in html


def test_adding_a_measure_from_the_page(client: Client, county_user: Any, registered: Any) -> None:
    household = registered(main_cause="9")
    plan = services.make_plan(county_user, household, "")
    client.force_login(county_user)
    url = reverse("support:measure_create", args=[household.pk])
    form = client.get(url + "?kind=microcredit.loan")
    assert 'value="microcredit.loan" selected' in form.content.decode()
    data = {k: v for k, v in measure().items() if k != "category"}
    data.update(version=plan.version, starts_on="2017-01-05", ends_on="2017-01-01")
    refused = client.post(url, data)
    assert refused.status_code == 200 and "措施结束日期不能早于开始日期" in refused.content.decode()
    data["ends_on"] = "2019-12-31"
    assert client.post(url, data).status_code == 302
    assert Measure.objects.get().category == "microcredit"


def test_support_pages_are_404_outside_the_area(
    client: Client, registered: Any, make_user: Callable[..., Any]
) -> None:
    """Area scoping: another village's cadre gets 404, never the household."""
    household = registered()
    client.force_login(make_user("wutang", "450102101201", "support_cadre"))
    for name in ("household_support", "household_panel", "booklet", "booklet_pdf", "visit_create"):
        assert client.get(reverse(f"support:{name}", args=[household.pk])).status_code == 404


def test_registry_household_page_includes_the_support_panel(
    client: Client, county_user: Any, registered: Any
) -> None:
    household = registered()
    client.force_login(county_user)
    page = client.get(household.get_absolute_url())
    assert reverse("support:household_panel", args=[household.pk]) in page.content.decode()
    panel = client.get(reverse("support:household_panel", args=[household.pk]))
    assert panel.status_code == 200 and "尚未制定帮扶计划" in panel.content.decode()
