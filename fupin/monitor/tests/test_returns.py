"""The return-to-poverty check (返贫认定), seed 004 (Anhui): 现场核查、群众评议、乡镇审核、
县级认定 — policy/return.toml; a confirmed return re-registers the household through the
registry's own transitions (policy/lifecycle.toml: return_to_poverty, re_register)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from fupin.core.models import AuditEntry
from fupin.monitor import returns, services
from fupin.monitor.models import (
    MonitoringCase,
    ReturnCase,
    ReturnState,
    RiskWarning,
    WarningState,
)
from fupin.monitor.tests.conftest import SANTANG, set_status
from fupin.monitor.tests.test_warnings import ON, crafted, run  # noqa: F401 - fixture
from fupin.registry.models import StatusChange

STEPS = ("onsite_check", "deliberation", "township_review", "county_decision")


@pytest.fixture
def warned(crafted: Any, county_user: Any) -> dict[str, Any]:  # noqa: F811
    run(county_user)
    return crafted


def opened_on_run_day(case: ReturnCase) -> None:
    """Test setup: the case was opened on the run's day (30 June 2020, local time), so steps
    dated in July 2020 are on or after its opening (policy/return.toml: dates)."""
    opened = dt.datetime(2020, 6, 30, 4, tzinfo=dt.UTC)
    ReturnCase.objects.filter(pk=case.pk, opened_at__gt=opened).update(opened_at=opened)


@pytest.fixture
def county_decider(make_user: Any) -> Any:
    """Another county user: the county decision is by one who recorded no earlier step
    (policy/return.toml: not_recorder_of = "any")."""
    return make_user("county_decider", "450102", "administrator")


@pytest.fixture
def township_user(make_user: Any) -> Any:
    return make_user("township_admin", "450102100", "administrator")


def _step(user: Any, case: ReturnCase, code: str, outcome: str = "pass", day: int = 1) -> Any:
    opened_on_run_day(case)
    return returns.record_step(
        user,
        case,
        code=code,
        outcome=outcome,
        note=f"{code} 记录",
        date=dt.date(2020, 7, day),
    )


def test_the_procedure_is_anhuis() -> None:
    """Seed 004 (Anhui): on-site check, public deliberation, township review, county
    decision, in that order; the decision is the last step."""
    from fupin.monitor import policy

    p = policy.return_procedure_for("450102100201")
    assert [s["code"] for s in p["steps"]] == list(STEPS)
    assert [s["label_zh"] for s in p["steps"]] == ["现场核查", "群众评议", "乡镇审核", "县级认定"]
    assert [s["level"] for s in p["steps"]] == ["village", "village", "township", "county"]


def test_a_confirmed_return_re_registers_the_household(
    warned: Any, county_user: Any, township_user: Any, county_decider: Any
) -> None:
    """The county decision moves the household exited → returned → registered, both steps
    in its history and on the audit trail, with the case as their reason; the warning that
    opened the case is `returned`; an open monitoring case ends."""
    household = warned["jia"]
    warning = RiskWarning.objects.get(household=household, rule="below_line")
    services.start_monitoring(
        county_user,
        household,
        category="",
        risk="",
        started_on=dt.date(2020, 7, 1),
        reason="收入低于标准",
        warning=warning,
    )
    case = returns.open_case(county_user, household, reason="人均收入低于扶贫标准", warning=warning)
    warning.refresh_from_db()
    assert warning.state == WarningState.RETURNED
    # Review of 2020: the township review and the county decision by other hands.
    recorders = (county_user, county_user, township_user, county_decider)
    for day, (code, user) in enumerate(zip(STEPS, recorders, strict=True), start=2):
        _step(user, case, code, day=day)
    case.refresh_from_db()
    household.refresh_from_db()
    assert case.state == ReturnState.CONFIRMED and case.closed_on == dt.date(2020, 7, 5)
    assert household.status == "registered" and household.status_date == dt.date(2020, 7, 5)
    changes = list(StatusChange.objects.filter(household=household).order_by("pk"))
    assert [(c.transition, c.from_status, c.to_status) for c in changes[-2:]] == [
        ("return_to_poverty", "exited", "returned"),
        ("re_register", "returned", "registered"),
    ]
    assert all(f"Return case {case.pk}" in c.reason for c in changes[-2:])
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "registry.household.return_to_poverty",
        "registry.household.re_register",
        "monitor.return.step.county_decision",
    } <= actions
    monitoring = MonitoringCase.objects.get(household=household)
    assert monitoring.end_reason == "returned" and monitoring.ended_on == dt.date(2020, 7, 5)


def test_no_step_skipped_or_repeated(warned: Any, county_user: Any) -> None:
    case = returns.open_case(county_user, warned["yi"], reason="收入下降")
    with pytest.raises(ValidationError) as exc:
        _step(county_user, case, "township_review")
    assert "none skipped" in str(exc.value)
    _step(county_user, case, "onsite_check")
    with pytest.raises(ValidationError) as exc:
        _step(county_user, case, "onsite_check")
    assert "already been recorded" in str(exc.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        case.steps.create(
            index=0,
            code="onsite_check",
            outcome="pass",
            note="x",
            date=ON,
            recorded_by=county_user,
        )
    case.refresh_from_db()
    assert case.steps_done == 1


def test_a_failing_step_rejects_and_dismisses_the_warning(warned: Any, county_user: Any) -> None:
    household = warned["yi"]
    warning = RiskWarning.objects.get(household=household)
    case = returns.open_case(county_user, household, reason="收入偏低", warning=warning)
    _step(county_user, case, "onsite_check")
    with pytest.raises(ValidationError):  # a note is required
        returns.record_step(
            county_user, case, code="deliberation", outcome="fail", note=" ", date=ON
        )
    _step(county_user, case, "deliberation", outcome="fail", day=3)
    case.refresh_from_db()
    household.refresh_from_db()
    warning.refresh_from_db()
    assert case.state == ReturnState.REJECTED and household.status == "exited"
    assert warning.state == WarningState.DISMISSED and "deliberation 记录" in warning.response_note
    with pytest.raises(ValidationError):
        _step(county_user, case, "township_review")
    # The case is closed: another may be opened.
    returns.open_case(county_user, household, reason="再次核查")


def test_only_exited_or_closed_households_and_one_open_case(warned: Any, county_user: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        returns.open_case(county_user, warned["wu"], reason="x")  # registered
    assert "exited or closed" in str(exc.value)
    returns.open_case(county_user, warned["bing"], reason="大病")  # closed: allowed
    with pytest.raises(ValidationError) as exc:
        returns.open_case(county_user, warned["bing"], reason="again")
    assert "already has a return case" in str(exc.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnCase.objects.create(
            household=warned["bing"], reason="bypass", procedure={}, opened_by=county_user
        )


def test_each_step_needs_its_right_and_level(warned: Any, county_user: Any, make_user: Any) -> None:
    """policy/return.toml: the village cadres check and deliberate; the township reviews
    (registry.transition_household, a township or county user); the county decides
    (registry.review_household, a county user)."""
    cadre = make_user("cadre", SANTANG, "support_cadre")
    township = make_user("township", "450102100", "data_officer")
    case = returns.open_case(cadre, warned["jia"], reason="收入低于标准")
    _step(cadre, case, "onsite_check")
    _step(cadre, case, "deliberation", day=2)
    with pytest.raises(PermissionDenied):
        _step(cadre, case, "township_review", day=3)  # no right, and a village user
    _step(township, case, "township_review", day=3)
    with pytest.raises(PermissionDenied):
        _step(township, case, "county_decision", day=4)  # neither the right nor the level
    _step(county_user, case, "county_decision", day=4)  # recorded none of the earlier steps
    case.refresh_from_db()
    assert case.state == ReturnState.CONFIRMED


def test_a_case_of_another_township_is_not_reachable(warned: Any, make_user: Any) -> None:
    wutang = make_user("wutang", "450102101", "data_officer")
    with pytest.raises(PermissionDenied):
        returns.open_case(wutang, warned["jia"], reason="x")


def test_a_household_not_exited_cannot_be_confirmed_later(
    warned: Any, county_user: Any, township_user: Any, county_decider: Any
) -> None:
    """The registry's own rule holds at the decision: a household whose status changed
    while the case ran (here set back to registered) cannot take `return_to_poverty`, and
    nothing of the decision is written."""
    household = warned["jia"]
    case = returns.open_case(county_user, household, reason="x")
    for day, (code, user) in enumerate(
        zip(STEPS[:3], (county_user, county_user, township_user), strict=True), start=1
    ):
        _step(user, case, code, day=day)
    set_status(household, "registered")
    with pytest.raises(ValidationError):
        _step(county_decider, case, "county_decision", day=5)
    case.refresh_from_db()
    assert case.state == ReturnState.OPEN and case.steps_done == 3
    assert not StatusChange.objects.filter(transition="return_to_poverty").exists()
