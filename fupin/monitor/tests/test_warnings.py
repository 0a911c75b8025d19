"""The return-to-poverty warning run (返贫预警, issue 7 item 5): crafted households of 兴宁区
(the root conftest's tree) evaluated by Anhui's rules (seed 004, 建立返贫预警机制;
engine/warning_rules/anhui-2017.toml) on 30 June 2020, whose line is 4,000 yuan
(identify/policy/poverty_lines.toml).

The households (two members each unless said; per-capita income = wage ÷ 2):

- 甲 (三塘村, exited): 2019 income 3,000, 2018 6,000 → below the line (red) and a fall of
  50 % (orange);
- 乙 (三塘村, exited): 2019 and 2018 income 5,000 → below 1.5 × the line (orange);
- 丙 (四塘村, closed): 2019 income 20,000, a medical expense of 50,000 in March 2020 →
  medical expense above last year's household income (red);
- 丁 (五塘村, exited): 2019 income 20,000, a disaster in May 2020 and a labourer lost in
  January 2020 → struck by a disaster (orange), lost a main labourer (red);
- 戊 (三塘村, registered): income 1,000 → nothing (registered households are under
  support already, not watched);
- 己 (三塘村, surveyed): income 5,000 → a marginal household (yellow).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fupin.core.models import AuditEntry
from fupin.monitor import services, warnings
from fupin.monitor.models import (
    EventKind,
    RiskWarning,
    WarningRun,
    WarningState,
)
from fupin.monitor.tests.conftest import SANTANG, SITANG, WUTANG, set_status
from fupin.registry import services as registry

ON = dt.date(2020, 6, 30)
LATER = dt.date(2020, 7, 31)


def _household(make_household: Callable[..., Any], village: str, name: str, wage: int) -> Any:
    return make_household(
        village, head_name=name, income={"year": 2019, "wage": wage, "business": 0}
    )


@pytest.fixture
def crafted(make_household: Callable[..., Any], county_user: Any) -> dict[str, Any]:
    jia = _household(make_household, SANTANG, "甲", 6000)
    registry.set_income(county_user, jia, {"year": 2018, "wage": 12000, "business": 0})
    yi = _household(make_household, SANTANG, "乙", 10000)
    registry.set_income(county_user, yi, {"year": 2018, "wage": 10000, "business": 0})
    bing = _household(make_household, SITANG, "丙", 40000)
    ding = _household(make_household, WUTANG, "丁", 40000)
    wu = _household(make_household, SANTANG, "戊", 2000)
    ji = _household(make_household, SANTANG, "己", 10000)
    for h, status in ((jia, "exited"), (yi, "exited"), (bing, "closed"), (ding, "exited")):
        set_status(h, status)
    set_status(wu, "registered")
    services.record_event(
        county_user,
        bing,
        kind=EventKind.MEDICAL_EXPENSE,
        date=dt.date(2020, 3, 1),
        amount=Decimal("50000"),
        source="卫健委",
    )
    services.record_event(
        county_user,
        ding,
        kind=EventKind.DISASTER,
        date=dt.date(2020, 5, 1),
        amount=Decimal("3000"),
        source="应急管理局",
    )
    labourer = ding.members.first()
    services.record_event(
        county_user,
        ding,
        kind=EventKind.LABOUR_LOSS,
        date=dt.date(2020, 1, 15),
        person=labourer,
        source="村报告",
    )
    return {"jia": jia, "yi": yi, "bing": bing, "ding": ding, "wu": wu, "ji": ji}


#: (household, rule, level, category, risk) expected on 30 June 2020.
EXPECTED = {
    ("jia", "below_line", "red", "unstable_exited", "other"),
    ("jia", "income_fall", "orange", "unstable_exited", "other"),
    ("yi", "low_income", "orange", "unstable_exited", "other"),
    ("bing", "major_medical", "red", "unstable_exited", "illness"),
    ("ding", "disaster", "orange", "unstable_exited", "disaster"),
    ("ding", "labour_loss", "red", "unstable_exited", "lack_of_labour"),
    ("ji", "marginal_income", "yellow", "marginal", "other"),
}


def stored(crafted: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    names = {h.pk: key for key, h in crafted.items()}
    return {
        (names[w.household_id], w.rule, w.level, w.category, w.risk)
        for w in RiskWarning.objects.all()
    }


def run(user: Any, on: dt.date = ON, area: str = "450102", tmp: Any = None) -> WarningRun:
    return warnings.run_in_terminal(user, area, on=on)


def test_the_run_stores_exactly_the_expected_warnings(crafted: Any, county_user: Any) -> None:
    """Seed 004 (Anhui, 建立返贫预警机制) and DOMAIN.md §10 (the 2020 trigger): each rule of
    anhui-2017.toml fires for the crafted household it was written for, and no other."""
    result = run(county_user)
    assert stored(crafted) == EXPECTED
    assert (result.red, result.orange, result.yellow) == (3, 3, 1)
    assert result.warnings == 7 and result.new == 7 and result.renewed == result.cleared == 0
    assert result.rules_file == "anhui-2017.toml" and result.poverty_line == Decimal("4000")
    assert result.started_by == county_user and result.on == ON
    below = RiskWarning.objects.get(household=crafted["jia"], rule="below_line")
    # The deadline is the rule's: 15 days for below the line (anhui-2017.toml).
    assert below.due_on == ON + dt.timedelta(days=15)
    assert below.rule_label == "脱贫户收入低于扶贫标准" and below.response == "assess"
    assert "per_capita_income=3000.00" in below.evidence and "poverty_line=4000" in below.evidence
    medical = RiskWarning.objects.get(household=crafted["bing"])
    assert "medical_expense=50000.00" in medical.evidence
    assert AuditEntry.objects.filter(
        action="monitor.warning.run", object_id=str(result.pk)
    ).exists()


def test_a_second_run_updates_and_never_duplicates(crafted: Any, county_user: Any) -> None:
    """Storing is idempotent: a warning still raised is updated (last raised, evidence,
    level), its deadline kept."""
    first = run(county_user)
    before = {w.pk: w.due_on for w in RiskWarning.objects.all()}
    second = run(county_user, on=dt.date(2020, 7, 10))
    assert RiskWarning.objects.count() == 7
    assert second.new == 0 and second.renewed == 7  # the disaster of 1 May is within 90 days
    for w in RiskWarning.objects.all():
        assert w.first_raised_on == ON and w.due_on == before[w.pk] and w.run_id == first.pk
    jia = RiskWarning.objects.get(household=crafted["jia"], rule="below_line")
    assert jia.last_raised_on == dt.date(2020, 7, 10) and jia.last_run_id == second.pk


def test_a_warning_whose_condition_ends_is_cleared(crafted: Any, county_user: Any) -> None:
    """A warning a later run no longer raises is cleared, by the system, audited: the
    disaster of 1 May leaves the 90-day window of anhui-2017.toml's `disasters` fact after
    30 July. (Review of 2020: it ended unanswered after its 7-day deadline of 7 July, so it
    is `lapsed`, not `cleared` — it stays in the overdue counts.)"""
    run(county_user)
    later = run(county_user, on=LATER)
    disaster = RiskWarning.objects.get(household=crafted["ding"], rule="disaster")
    assert disaster.state == WarningState.LAPSED and disaster.ended_on == LATER
    assert later.cleared == 1
    entry = AuditEntry.objects.get(action="monitor.warning.clear", object_id=str(disaster.pk))
    assert entry.username == "system" and entry.user is None
    # The rest are still current.
    assert RiskWarning.objects.filter(ended_on__isnull=True).count() == 6


def test_a_dismissed_warning_is_not_raised_again_while_its_condition_lasts(
    crafted: Any, county_user: Any
) -> None:
    run(county_user)
    warning = RiskWarning.objects.get(household=crafted["yi"], rule="low_income")
    services.dismiss_warning(county_user, warning, reason="收入核实有误，已更正")
    run(county_user, on=dt.date(2020, 7, 5))
    assert RiskWarning.objects.filter(household=crafted["yi"]).count() == 1
    warning.refresh_from_db()
    assert warning.state == WarningState.DISMISSED and warning.last_raised_on == dt.date(2020, 7, 5)


def test_a_township_run_leaves_the_other_townships_alone(crafted: Any, county_user: Any) -> None:
    run(county_user)
    # 三塘镇 only: 丁 of 五塘镇 is not in the area, so its warnings are not cleared.
    township = run(county_user, on=LATER, area="450102100")
    assert township.cleared == 0
    assert RiskWarning.objects.get(household=crafted["ding"], rule="disaster").state == "open"


def test_no_poverty_line_for_the_year_is_a_clear_error(
    crafted: Any, county_user: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(warnings, "poverty_line", lambda year: None)
    with pytest.raises(ValidationError) as exc:
        run(county_user)
    assert "No poverty line is recorded for 2020" in str(exc.value)
    assert not WarningRun.objects.exists()


def test_every_province_defaults_to_anhuis_rules() -> None:
    """policy/warnings.toml: every province without rules of its own applies Anhui's
    (seed 004); none before they took effect."""
    from fupin.monitor import policy

    assert policy.warnings().rules_for("450102", ON).rules == "anhui-2017.toml"
    assert policy.warnings().rules_for("340102", ON).province == "34"
    assert policy.warnings().rules_for("450102", dt.date(2016, 1, 1)) is None


def test_running_needs_manage_monitor_and_the_area(crafted: Any, make_user: Any) -> None:
    cadre = make_user("cadre", SANTANG, "support_cadre")
    with pytest.raises(PermissionDenied):
        run(cadre, area=SANTANG)
    township = make_user("wutang_admin", "450102101", "administrator")
    with pytest.raises(PermissionDenied):
        run(township, area="450102100")


def test_the_job_runs_and_counts(crafted: Any, county_user: Any) -> None:
    from fupin.core.models import JobRun, JobState

    job = services.start_warning_run(county_user, "450102", ON)
    job = JobRun.objects.get(pk=job.pk)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.counts["warnings"] == 7 and job.counts["red"] == 3
    assert WarningRun.objects.get().job_id == job.pk


def test_event_kinds_are_the_engines() -> None:
    """The platform's event kinds are engine.warnings.EVENT_KINDS, in the same order, each
    with its Chinese name in policy/warnings.toml."""
    from engine.warnings import EVENT_KINDS
    from fupin.monitor import policy

    assert tuple(EventKind.values) == EVENT_KINDS
    assert [k.code for k in policy.warnings().event_kinds] == list(EVENT_KINDS)


# --- responding -------------------------------------------------------------------------


@pytest.fixture
def raised(crafted: Any, county_user: Any) -> dict[str, Any]:
    run(county_user)
    return crafted


def test_respond_with_an_existing_visit(raised: Any, county_user: Any, make_user: Any) -> None:
    from fupin.support.models import Visit

    household = raised["yi"]
    warning = RiskWarning.objects.get(household=household)
    visit = _visit(county_user, household, dt.date(2020, 7, 2))
    early = _visit(county_user, household, dt.date(2020, 6, 1))
    with pytest.raises(ValidationError) as exc:
        services.respond_warning(county_user, warning, visit=early)
    assert "before the warning was raised" in str(exc.value)
    services.respond_warning(county_user, warning, visit=visit, note="入户核实收入")
    warning.refresh_from_db()
    assert warning.state == WarningState.RESPONDED and warning.visit == visit
    assert warning.closed_by == county_user
    assert AuditEntry.objects.filter(action="monitor.warning.respond").exists()
    assert Visit.objects.count() == 2


def _visit(user: Any, household: Any, day: dt.date) -> Any:
    from fupin.support.models import Cadre, Visit

    cadre = Cadre.objects.first() or _make_cadre(user)
    return Visit.objects.create(
        household=household, cadre=cadre, date=day, work_done="入户走访", recorded_by=user
    )


def _make_cadre(user: Any) -> Any:
    from fupin.core.models import Area
    from fupin.core.validators import build_resident_id
    from fupin.support.models import Cadre

    return Cadre.objects.create(
        name="韦干部",
        sex="1",
        id_number=build_resident_id("450102", dt.date(1980, 1, 1), 901),
        employer="兴宁区农业局",
        level="county",
        area=Area.objects.get(code="450102"),
    )


def test_respond_with_a_new_measure(raised: Any, county_user: Any) -> None:
    from fupin.support import policy as support_policy

    # 丁 is exited: support keeps a plan for households consolidating after exit.
    warning = RiskWarning.objects.get(household=raised["ding"], rule="labour_loss")
    kind = next(iter(support_policy.measures().kinds.values()))
    services.respond_with_measure(
        county_user,
        warning,
        {
            "category": kind.category,
            "kind": kind.code,
            "target": "公益性岗位，稳定家庭收入",
            "starts_on": dt.date.today(),
            "responsible": "韦干部",
        },
    )
    warning.refresh_from_db()
    assert warning.state == WarningState.RESPONDED
    assert warning.measure is not None and warning.measure.plan.household_id == raised["ding"].pk


def test_dismiss_needs_a_reason(raised: Any, county_user: Any) -> None:
    warning = RiskWarning.objects.get(household=raised["ji"])
    with pytest.raises(ValidationError) as exc:
        services.dismiss_warning(county_user, warning, reason="  ")
    assert "reason" in exc.value.message_dict
    warning.refresh_from_db()
    assert warning.state == WarningState.OPEN
    services.dismiss_warning(county_user, warning, reason="家庭收入另有来源")
    warning.refresh_from_db()
    assert warning.state == WarningState.DISMISSED and warning.response_note == "家庭收入另有来源"
    with pytest.raises(ValidationError):
        services.dismiss_warning(county_user, warning, reason="again")


def test_respond_needs_respond_warning(raised: Any, make_user: Any) -> None:
    viewer = make_user("viewer", "450102", "viewer")
    warning = RiskWarning.objects.get(household=raised["ji"])
    with pytest.raises(PermissionDenied):
        services.dismiss_warning(viewer, warning, reason="x")


def test_overdue_list_by_area(raised: Any, county_user: Any) -> None:
    """Overdue = open and due before today: every warning of 2020 is overdue today; one
    answered is not."""
    qs = services.warnings_for(county_user)
    assert services.overdue(qs).count() == 7
    assert services.overdue(qs, today=ON).count() == 0
    services.dismiss_warning(
        county_user, RiskWarning.objects.get(household=raised["ji"]), reason="核实无风险"
    )
    level, groups = services.overdue_by_area(county_user, "450102")
    assert level == "township"
    assert {g["code"]: g["warnings"] for g in groups} == {"450102100": 4, "450102101": 2}
    level, groups = services.overdue_by_area(county_user, "450102100")
    assert level == "village"
    assert {g["code"]: g["households"] for g in groups} == {SANTANG: 2, SITANG: 1}


def test_a_township_user_sees_only_its_warnings(raised: Any, make_user: Any) -> None:
    wutang = make_user("wutang", "450102101", "data_officer")
    assert {w.household_id for w in services.warnings_for(wutang)} == {raised["ding"].pk}


# --- monitoring cases -------------------------------------------------------------------


def test_monitoring_case_from_a_warning_and_the_one_open_rule(
    raised: Any, county_user: Any
) -> None:
    """The post-2020 monitored kinds (DOMAIN.md §10): a case takes its warning's category
    and risk by default; at most one open case per household."""
    from django.db import IntegrityError, transaction

    from fupin.monitor.models import MonitoringCase

    warning = RiskWarning.objects.get(household=raised["bing"])
    case = services.start_monitoring(
        county_user,
        raised["bing"],
        category="",
        risk="",
        started_on=dt.date(2020, 7, 1),
        reason="大病支出",
        warning=warning,
    )
    assert (case.category, case.risk) == ("unstable_exited", "illness")
    with pytest.raises(ValidationError) as exc:
        services.start_monitoring(
            county_user,
            raised["bing"],
            category="sudden_hardship",
            risk="illness",
            started_on=dt.date(2020, 7, 2),
            reason="again",
        )
    assert "already monitored" in str(exc.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        MonitoringCase.objects.create(
            household=raised["bing"],
            category="marginal",
            risk="other",
            started_on=dt.date(2020, 7, 3),
            reason="bypass",
            started_by=county_user,
        )
    with pytest.raises(ValidationError):
        services.end_monitoring(
            county_user, case, ended_on=dt.date(2020, 6, 1), end_reason="risk_removed"
        )
    services.end_monitoring(
        county_user, case, ended_on=dt.date(2020, 12, 31), end_reason="risk_removed"
    )
    case.refresh_from_db()
    assert case.ended_on == dt.date(2020, 12, 31) and case.ended_by == county_user
    again = services.start_monitoring(
        county_user,
        raised["bing"],
        category="sudden_hardship",
        risk="illness",
        started_on=dt.date(2021, 1, 5),
        reason="再次大病",
    )
    assert again.pk != case.pk
