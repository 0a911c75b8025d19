"""The review of the warning platform (commit f46f245): each finding, re-checked, with a
test that fails without its fix. The crafted households and dates are test_warnings.py's
(Anhui's rules, seed 004; 30 June 2020, line 4,000 yuan)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fupin.monitor import returns, services, warnings
from fupin.monitor.models import (
    CaseEnd,
    MonitoringCase,
    ReturnState,
    RiskEvent,
    RiskWarning,
    WarningRun,
    WarningState,
)
from fupin.monitor.tests.conftest import SANTANG, set_status, workbook
from fupin.monitor.tests.test_returns import opened_on_run_day
from fupin.monitor.tests.test_warnings import LATER, ON, crafted, run  # noqa: F401 - fixture
from fupin.registry import services as registry

STEP_DATE = dt.date(2020, 7, 2)


@pytest.fixture
def warned(crafted: Any, county_user: Any) -> dict[str, Any]:  # noqa: F811
    run(county_user)
    return crafted


def _step(user: Any, case: Any, code: str, day: int, outcome: str = "pass") -> Any:
    opened_on_run_day(case)
    return returns.record_step(
        user, case, code=code, outcome=outcome, note=f"{code} 记录", date=dt.date(2020, 7, day)
    )


# -- 1. the return procedure cannot be skipped ---------------------------------------------


def test_return_to_poverty_is_refused_outside_the_county_decision(
    warned: Any, county_user: Any
) -> None:
    """Seed 004 (Anhui): 现场核查、群众评议、乡镇审核、县级认定后重新纳入 — lifecycle.toml's
    return_to_poverty and re_register guard (fupin.monitor.guards.by_return_decision)."""
    household = warned["jia"]
    with pytest.raises(ValidationError) as exc:
        registry.transition_household(
            county_user, household, "return_to_poverty", reason="手工返贫", date=STEP_DATE
        )
    assert "return check page" in str(exc.value)
    household.refresh_from_db()
    assert household.status == "exited"


def test_a_case_whose_household_was_excluded_is_withdrawn(warned: Any, county_user: Any) -> None:
    household = warned["jia"]
    case = returns.open_case(county_user, household, reason="收入低于标准")
    with pytest.raises(ValidationError):  # still exited: its steps decide it
        returns.withdraw_case(county_user, case, reason="x")
    set_status(household, "excluded")
    with pytest.raises(ValidationError):  # a reason is required
        returns.withdraw_case(county_user, case, reason=" ")
    returns.withdraw_case(county_user, case, reason="已剔除")
    case.refresh_from_db()
    assert case.state == ReturnState.WITHDRAWN and case.withdraw_reason == "已剔除"


# -- 2. a run on a past day ----------------------------------------------------------------


def test_a_run_before_the_latest_run_over_an_overlapping_area_is_refused(
    crafted: Any,  # noqa: F811
    county_user: Any,
    province_admin: Any,
) -> None:
    run(county_user, on=LATER)
    for area in ("450102", "450102100", "45"):  # the same area, one within it, one above
        with pytest.raises(ValidationError) as exc:
            run(province_admin, on=ON, area=area)
        assert "2020-07-31" in str(exc.value)
    with pytest.raises(ValidationError):
        services.start_warning_run(county_user, "450102100", ON)
    assert WarningRun.objects.count() == 1
    run(county_user, on=LATER, area="450102100")  # the same day is fine


# -- 3. overlapping runs -------------------------------------------------------------------


def test_a_run_whose_data_is_older_does_not_clear_a_newer_runs_warning(
    warned: Any, county_user: Any
) -> None:
    """A county run whose snapshot was read before the township run stored W does not end W
    (WarningRun.snapshot_at)."""
    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    newer = WarningRun.objects.get()
    older = newer.snapshot_at - dt.timedelta(minutes=5)
    choice, rules = warnings.rules_for("450102", ON)
    import pyarrow as pa

    table = pa.table({c: pa.array([], pa.string()) for c in ("household_id", "rule", "level")})
    table = table.append_column("evidence", pa.array([], pa.string()))
    run_ = warnings.store_warnings(
        county_user,
        newer.area,
        ON,
        rules,
        choice,
        newer.poverty_line,
        table,
        households=0,
        snapshot_at=older,
    )
    assert run_.cleared == 0
    warning.refresh_from_db()
    assert warning.ended_on is None and warning.state == WarningState.OPEN


# -- 5. the response the rule asks for -----------------------------------------------------


def test_an_assess_warning_is_not_answered_by_a_visit(warned: Any, county_user: Any) -> None:
    """anhui-2017.toml below_line: response = "assess" (a return check)."""
    warning = RiskWarning.objects.get(household=warned["jia"], rule="below_line")
    assert warning.response == "assess"
    with pytest.raises(ValidationError) as exc:
        services.respond_with_visit(county_user, warning, date=STEP_DATE, work_done="入户")
    assert "return case" in str(exc.value)


def test_a_village_user_cannot_dismiss_a_red_warning(
    warned: Any, make_user: Any, county_user: Any
) -> None:
    cadre = make_user("cadre_d", SANTANG, "data_officer")
    warning = RiskWarning.objects.get(household=warned["jia"], rule="below_line")
    with pytest.raises(PermissionDenied):
        services.dismiss_warning(cadre, warning, reason="不属实")
    services.dismiss_warning(county_user, warning, reason="不属实")


def test_an_answered_warning_is_raised_again_after_the_re_check_period(
    warned: Any, county_user: Any
) -> None:
    """policy/warnings.toml reraise_after_days = 90 (seed 004: 县乡两级定期回访)."""
    from fupin.monitor import policy

    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    services.dismiss_warning(county_user, warning, reason="已核实")
    days = policy.warnings().reraise_after_days
    closed = timezone.make_aware(dt.datetime(2020, 7, 1, 10))
    RiskWarning.objects.filter(pk=warning.pk).update(closed_at=closed)
    run(county_user, on=dt.date(2020, 7, 1) + dt.timedelta(days=days - 1))
    assert RiskWarning.objects.filter(household=warned["yi"], rule="low_income").count() == 1
    run(county_user, on=dt.date(2020, 7, 1) + dt.timedelta(days=days))
    found = RiskWarning.objects.filter(household=warned["yi"], rule="low_income").order_by("pk")
    assert [(w.state, w.ended_on is None) for w in found] == [
        (WarningState.DISMISSED, False),
        (WarningState.OPEN, True),
    ]


# -- 6. the data that raised it ------------------------------------------------------------


def test_the_evidence_as_first_raised_is_kept(warned: Any, county_user: Any) -> None:
    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    RiskWarning.objects.filter(pk=warning.pk).update(evidence="原始证据")
    run(county_user, on=dt.date(2020, 7, 5))
    warning.refresh_from_db()
    assert warning.evidence == "原始证据" and warning.last_evidence not in ("", "原始证据")


# -- 7. deadlines ---------------------------------------------------------------------------


def test_late_and_lapsed_warnings_are_counted(warned: Any, county_user: Any) -> None:
    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    services.dismiss_warning(county_user, warning, reason="已核实")  # today: long after due
    warning.refresh_from_db()
    assert warning.late
    run(county_user, on=LATER)  # the disaster ends unanswered after its deadline
    disaster = RiskWarning.objects.get(household=warned["ding"], rule="disaster")
    assert disaster.state == WarningState.LAPSED
    _level, groups = services.overdue_by_area(county_user, "450102", today=LATER)
    assert sum(g["late"] for g in groups) == 1 and sum(g["lapsed"] for g in groups) == 1


def test_a_warning_ending_before_its_deadline_is_cleared(warned: Any, county_user: Any) -> None:
    RiskWarning.objects.filter(rule="disaster").update(due_on=dt.date(2020, 8, 30))
    run(county_user, on=LATER)
    assert RiskWarning.objects.get(rule="disaster").state == WarningState.CLEARED


# -- 8. the same department file twice ------------------------------------------------------


def test_the_same_file_is_not_imported_twice_and_duplicate_rows_are_errors(
    warned: Any, county_user: Any
) -> None:
    h = warned["jia"]
    header = ["身份证号", "户编号", "事件类型", "日期", "金额（元）", "来源"]
    data = workbook([header, ["", h.code, "medical_expense", "2020-03-02", "9000", "卫健委"]])
    assert services.import_events(county_user, "450102", "a.xlsx", data).created == 1
    again = services.import_events(county_user, "450102", "a-copy.xlsx", data)
    assert again.created == 0 and "a.xlsx" in again.errors[0].message
    twice = workbook(
        [
            header,
            ["", h.code, "medical_expense", "2020-03-02", "9000", "卫健委"],  # stored already
            ["", h.code, "disaster", "2020-04-02", "100", "应急管理局"],
            ["", h.code, "disaster", "2020-04-02", "100", "应急管理局"],  # as row 3
        ]
    )
    result = services.import_events(county_user, "450102", "b.xlsx", twice)
    assert result.created == 0 and {e.row for e in result.errors} == {2, 4}
    assert RiskEvent.objects.count() == 4  # the crafted three and the first file's one


# -- 9, 10. monitoring ----------------------------------------------------------------------


def test_monitoring_is_not_ended_as_returned_by_hand_and_categories_fit_the_status(
    warned: Any, county_user: Any
) -> None:
    """DOMAIN.md §10 (our reading in services.MONITORED_STATUSES)."""
    from fupin.monitor.forms import EndMonitoringForm

    with pytest.raises(ValidationError):  # 戊 is registered
        services.start_monitoring(
            county_user,
            warned["wu"],
            category="marginal",
            risk="other",
            started_on=STEP_DATE,
            reason="x",
        )
    with pytest.raises(ValidationError):  # 己 is surveyed, not exited
        services.start_monitoring(
            county_user,
            warned["ji"],
            category="unstable_exited",
            risk="other",
            started_on=STEP_DATE,
            reason="x",
        )
    case = services.start_monitoring(
        county_user,
        warned["ji"],
        category="marginal",
        risk="other",
        started_on=STEP_DATE,
        reason="x",
    )
    with pytest.raises(ValidationError):
        services.end_monitoring(county_user, case, ended_on=STEP_DATE, end_reason=CaseEnd.RETURNED)
    assert CaseEnd.RETURNED not in dict(EndMonitoringForm().fields["end_reason"].choices)
    assert MonitoringCase.objects.get().ended_on is None


# -- 11, 12. who records the return steps, and when ------------------------------------------


def test_return_steps_have_a_date_floor_and_other_hands(
    warned: Any, county_user: Any, make_user: Any
) -> None:
    """policy/return.toml (our reading): dated on or after the case's opening; the township
    review not by the previous step's recorder; the county decision by a county user who
    recorded no earlier step."""
    case = returns.open_case(county_user, warned["jia"], reason="收入低于标准")
    with pytest.raises(ValidationError) as exc:  # before the case was opened (today)
        returns.record_step(
            county_user, case, code="onsite_check", outcome="pass", note="x", date=ON
        )
    assert "before the case was opened" in str(exc.value)
    _step(county_user, case, "onsite_check", 1)
    _step(county_user, case, "deliberation", 2)
    with pytest.raises(PermissionDenied):
        _step(county_user, case, "township_review", 3)  # recorded the step before
    province = make_user("province_admin", "45", "administrator")
    with pytest.raises(PermissionDenied):
        _step(province, case, "township_review", 3)  # above the county
    township = make_user("township_admin", "450102100", "administrator")
    _step(township, case, "township_review", 3)
    with pytest.raises(PermissionDenied):
        _step(county_user, case, "county_decision", 4)  # recorded earlier steps


def test_a_village_data_officer_may_not_record_the_township_review(
    warned: Any, county_user: Any, make_user: Any
) -> None:
    """Finding 12: the village data officer holds registry.transition_household, so only
    the level refuses him."""
    officer = make_user("village_officer", SANTANG, "data_officer")
    assert officer.has_perm("registry.transition_household")
    case = returns.open_case(county_user, warned["jia"], reason="收入低于标准")
    _step(county_user, case, "onsite_check", 1)
    _step(county_user, case, "deliberation", 2)
    with pytest.raises(PermissionDenied):
        _step(officer, case, "township_review", 3)


def test_a_measure_warning_is_not_answered_by_a_visit(warned: Any, county_user: Any) -> None:
    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    RiskWarning.objects.filter(pk=warning.pk).update(response="measure")
    warning.refresh_from_db()
    with pytest.raises(ValidationError):
        services.respond_with_visit(county_user, warning, date=STEP_DATE, work_done="入户")


def test_the_pages_withdraw_a_case_and_show_the_latest_evidence(
    warned: Any, county_user: Any, client: Any
) -> None:
    from django.urls import reverse

    client.force_login(county_user)
    case = returns.open_case(county_user, warned["jia"], reason="收入低于标准")
    set_status(warned["jia"], "excluded")
    page = client.get(reverse("monitor:return_detail", args=[case.pk]))
    assert "return-withdraw-form" in page.content.decode()
    client.post(reverse("monitor:return_withdraw", args=[case.pk]), {"reason": "已剔除"})
    case.refresh_from_db()
    assert case.state == ReturnState.WITHDRAWN
    warning = RiskWarning.objects.get(household=warned["yi"], rule="low_income")
    RiskWarning.objects.filter(pk=warning.pk).update(evidence="income_pc=1")
    page = client.get(reverse("monitor:warning_detail", args=[warning.pk]))
    assert "warning-last-evidence" in page.content.decode()
    listing = client.get(reverse("monitor:warning_list"))
    assert listing.status_code == 200
