"""The return-to-poverty check (返贫认定, Anhui, seed 004): 现场核查、群众评议、乡镇审核、
县级认定, then the household is re-registered. Every change goes through these functions.

- `open_case`: only a household that is exited or closed (脱贫户: the registry's
  `return_to_poverty` starts from those) may be checked, one open case at a time (a
  database constraint too). The procedure's steps (policy/return.toml) are copied into the
  case. Opened from a warning, that warning becomes `returned` (it led to a return case).
- `record_step`: the next step, and only the next — none skipped, none repeated — by a user
  with the step's permission whose area is of the step's level or above (a township review
  needs a township or county user). A step passes or fails, always with a note.
  - a failing step rejects the case: the household stays as it is; the warning that opened
    the case is dismissed with the step's note;
  - the county decision's pass confirms it: in the same transaction, through the registry's
    own transition service, `return_to_poverty` then `re_register`, both dated the decision
    day, with the case as their reason (each audited and in the household's history); an
    open monitoring case of the household ends as `returned`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.services import require, require_area
from fupin.identify.policy import STEP_LEVELS
from fupin.monitor import guards, policy
from fupin.monitor.models import (
    CaseEnd,
    MonitoringCase,
    Outcome,
    ReturnCase,
    ReturnState,
    ReturnStep,
    RiskWarning,
    WarningState,
)
from fupin.registry import lifecycle
from fupin.registry import services as registry_services
from fupin.registry.models import Attachment, Household

OPEN = "monitor.respond_warning"


@dataclass(frozen=True)
class StepSpec:
    """One step of a case's copied procedure."""

    index: int
    code: str
    kind: str
    level: str
    label_en: str
    label_zh: str
    permission: str
    #: The highest level a recording user's area may be ("" = no limit; policy/return.toml).
    highest: str = ""
    #: "previous": not the user who recorded the step before; "any": none of the steps
    #: before; "" = no rule.
    not_recorder_of: str = ""

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "zh-hans").startswith("zh") else self.label_en

    @property
    def is_decision(self) -> bool:
        return self.kind == "announcement"


def steps_of(case: ReturnCase) -> list[StepSpec]:
    return [
        StepSpec(
            i,
            s["code"],
            s["kind"],
            s["level"],
            s["label_en"],
            s["label_zh"],
            s["permission"],
            s.get("highest", ""),
            s.get("not_recorder_of", ""),
        )
        for i, s in enumerate(case.procedure["steps"])
    ]


def procedure_label(case: ReturnCase) -> str:
    p = case.procedure
    return p["label_zh"] if (get_language() or "zh-hans").startswith("zh") else p["label_en"]


def next_step(case: ReturnCase) -> StepSpec | None:
    if case.state != ReturnState.OPEN:
        return None
    steps = steps_of(case)
    return steps[case.steps_done] if case.steps_done < len(steps) else None


def can_open(household: Household) -> bool:
    step = lifecycle.transitions().get("return_to_poverty")
    return step is not None and household.status in step.sources


def may_record(user: Any, step: StepSpec, household: Household) -> bool:
    """The step's permission, and an area of the step's level or above (up to the step's
    `highest` level, when it has one) that holds the household (superusers: everywhere)."""
    if not user.has_perm(step.permission):
        return False
    if user.is_superuser:
        return True
    code = user.area_id or ""
    return (
        bool(code)
        and len(code) <= STEP_LEVELS[step.level]
        and (not step.highest or len(code) >= STEP_LEVELS[step.highest])
        and household.village_id.startswith(code)
    )


def _level_refusal(step: StepSpec) -> str:
    if step.highest and step.highest != step.level:
        return _(
            "“%(step)s” is recorded by a user of the %(level)s or the %(highest)s with the "
            "right to."
        ) % {"step": step.label, "level": _level(step.level), "highest": _level(step.highest)}
    if step.highest:
        return _("“%(step)s” is recorded by a user of the %(level)s with the right to.") % {
            "step": step.label,
            "level": _level(step.level),
        }
    return _("“%(step)s” is recorded by a user of the %(level)s or above with the right to.") % {
        "step": step.label,
        "level": _level(step.level),
    }


def _same_recorder(user: Any, step: StepSpec, done: list[Any]) -> str:
    """Refusal when the step must be recorded by someone else (policy/return.toml)."""
    if step.not_recorder_of == "previous" and done and done[-1].recorded_by_id == user.pk:
        return _(
            "“%(step)s” is recorded by another user than the one who recorded the step before."
        ) % {"step": step.label}
    if step.not_recorder_of == "any" and any(s.recorded_by_id == user.pk for s in done):
        return _(
            "“%(step)s” is recorded by a user who recorded none of the case's earlier steps."
        ) % {"step": step.label}
    return ""


@transaction.atomic
def open_case(user: Any, household: Household, *, reason: str, warning: Any = None) -> ReturnCase:
    """Open the return check of an exited or closed household (module docstring)."""
    require(user, OPEN)
    require_area(user, household.village_id)
    current = Household.objects.select_for_update().get(pk=household.pk)
    errors: dict[str, list[str]] = {}
    if not can_open(current):
        errors["household"] = [
            _(
                "Only an exited or closed household can be checked for a return to poverty; "
                "this one is %(status)s."
            )
            % {"status": current.get_status_display()}
        ]
    if ReturnCase.objects.filter(household=current, state=ReturnState.OPEN).exists():
        errors.setdefault("household", []).append(
            _("This household already has a return case under way.")
        )
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the household may have returned to poverty.")]
    locked_warning = None
    if warning is not None:
        locked_warning = RiskWarning.objects.select_for_update().get(pk=warning.pk)
        if locked_warning.household_id != current.pk:
            errors["warning"] = [_("This warning is of another household.")]
        elif locked_warning.state != WarningState.OPEN:
            errors["warning"] = [
                _("This warning is no longer open (%(state)s).")
                % {"state": locked_warning.get_state_display()}
            ]
    if errors:
        raise ValidationError(errors)
    case = ReturnCase.objects.create(
        household=current,
        from_warning=locked_warning,
        reason=reason.strip(),
        procedure=policy.return_procedure_for(current.village_id),
        opened_by=user,
    )
    audit.record(
        user=user,
        action="monitor.return.open",
        obj=case,
        area_code=current.village_id,
        after={
            "household": current.pk,
            "status": current.status,
            "warning": locked_warning.pk if locked_warning else None,
            "procedure": case.procedure["code"],
        },
        reason=case.reason,
    )
    if locked_warning is not None:
        before = {"state": locked_warning.state}
        locked_warning.state = WarningState.RETURNED
        locked_warning.closed_by = user
        locked_warning.closed_at = timezone.now()
        locked_warning.response_note = case.reason
        locked_warning.save(update_fields=["state", "closed_by", "closed_at", "response_note"])
        audit.record(
            user=user,
            action="monitor.warning.return",
            obj=locked_warning,
            area_code=current.village_id,
            before=before,
            after={"state": WarningState.RETURNED, "return_case": case.pk},
            reason=case.reason,
        )
    return case


def _attachment(user: Any, upload: UploadedFile | None) -> Attachment | None:
    if upload is None:
        return None
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return Attachment.objects.create(
        file=upload, name=upload.name or "", uploaded_by=user, sha256=digest.hexdigest()
    )


def case_reason(case: ReturnCase) -> str:
    return _("Return case %(case)d: %(reason)s") % {"case": case.pk, "reason": case.reason}


@transaction.atomic
def record_step(
    user: Any,
    case: ReturnCase,
    *,
    code: str,
    outcome: str,
    note: str,
    date: dt.date | None,
    attachment: UploadedFile | None = None,
) -> ReturnStep:
    """Record the case's next step (module docstring). Refused, nothing written: a step
    other than the next one (skipped or repeated), a closed case, a user without the
    step's permission or level, no note, a date in the future or before the step before."""
    require_area(user, case.household.village_id)
    current = ReturnCase.objects.select_for_update().select_related("household").get(pk=case.pk)
    household = current.household
    if current.state != ReturnState.OPEN:
        raise ValidationError(
            {
                "step": [
                    _("This case is closed (%(state)s).") % {"state": current.get_state_display()}
                ]
            }
        )
    steps = steps_of(current)
    step = steps[current.steps_done]
    if code != step.code:
        recorded = [s.code for s in steps[: current.steps_done]]
        message = (
            _("“%(step)s” has already been recorded.")
            if code in recorded
            else _("The next step is “%(next)s”: steps are recorded in order, none skipped.")
        )
        given = next((s for s in steps if s.code == code), None)
        raise ValidationError(
            {"step": [message % {"step": given.label if given else code, "next": step.label}]}
        )
    if not may_record(user, step, household):
        raise PermissionDenied(_level_refusal(step))
    done = list(current.steps.order_by("index"))
    refusal = _same_recorder(user, step, done)
    if refusal:
        raise PermissionDenied(refusal)
    errors: dict[str, list[str]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Choose whether the step passed.")]
    if not (note or "").strip():
        errors["note"] = [_("Write what the step found.")]
    last = done[-1] if done else None
    opened_on = timezone.localdate(current.opened_at)
    if date is None:
        errors["date"] = [_("Enter the date of the step.")]
    elif date > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    elif date < opened_on:
        errors["date"] = [
            _("The date cannot be before the case was opened (%(date)s).") % {"date": opened_on}
        ]
    elif last is not None and date < last.date:
        errors["date"] = [
            _("The date cannot be before the previous step (%(date)s).") % {"date": last.date}
        ]
    elif (
        step.is_decision
        and outcome == Outcome.PASS
        and household.status_date
        and (date < household.status_date)
    ):
        errors["date"] = [
            _("The date cannot be before the household's last change of status (%(date)s).")
            % {"date": household.status_date}
        ]
    if step.is_decision and outcome == Outcome.PASS:
        for name in ("return_to_poverty", "re_register"):
            transition = lifecycle.transitions()[name]
            if not user.has_perm(transition.permission):
                raise PermissionDenied(
                    _("The county decision applies “%(step)s”, which you may not take.")
                    % {"step": transition.label}
                )
    if errors:
        raise ValidationError(errors)
    assert date is not None
    record = ReturnStep.objects.create(
        case=current,
        index=step.index,
        code=step.code,
        outcome=outcome,
        note=note.strip(),
        date=date,
        attachment=_attachment(user, attachment),
        recorded_by=user,
    )
    before = {"state": current.state, "steps_done": current.steps_done}
    current.steps_done = step.index + 1
    changes: list[int] = []
    if outcome == Outcome.FAIL:
        current.state = ReturnState.REJECTED
        current.closed_on = date
        _dismiss_warning(user, current, step, note.strip())
    elif step.is_decision:
        reason = case_reason(current)
        with guards.deciding(household.pk):
            for name in ("return_to_poverty", "re_register"):
                change = registry_services.transition_household(
                    user, household, name, reason=reason, date=date
                )
                household.refresh_from_db()
                changes.append(change.pk)
        current.state = ReturnState.CONFIRMED
        current.closed_on = date
        _end_monitoring(user, household, date, reason)
    current.save(update_fields=["steps_done", "state", "closed_on"])
    audit.record(
        user=user,
        action=f"monitor.return.step.{step.code}",
        obj=current,
        area_code=household.village_id,
        before=before,
        after={
            "step": step.code,
            "outcome": outcome,
            "date": date,
            "state": current.state,
            "steps_done": current.steps_done,
            "status_changes": changes,
            "attachment": record.attachment.sha256 if record.attachment else None,
        },
        reason=record.note,
    )
    case.state, case.steps_done, case.closed_on = current.state, current.steps_done, date
    return record


def can_withdraw(case: ReturnCase) -> bool:
    """An open case whose household can no longer take `return_to_poverty` (its status
    changed outside the procedure, e.g. excluded or already registered)."""
    return case.state == ReturnState.OPEN and not can_open(case.household)


@transaction.atomic
def withdraw_case(user: Any, case: ReturnCase, *, reason: str) -> ReturnCase:
    """Withdraw an open case whose household's status changed outside the procedure: the
    county decision could never apply, so the case would stay open for ever. The reason is
    required; the case keeps its steps; the household is left as it is. A case whose
    household can still be decided is not withdrawn: its steps decide it."""
    require(user, OPEN)
    require_area(user, case.household.village_id)
    current = ReturnCase.objects.select_for_update().select_related("household").get(pk=case.pk)
    household = Household.objects.select_for_update().get(pk=current.household_id)
    if current.state != ReturnState.OPEN:
        raise ValidationError(
            {
                "reason": [
                    _("This case is closed (%(state)s).") % {"state": current.get_state_display()}
                ]
            }
        )
    if can_open(household):
        raise ValidationError(
            {
                "reason": [
                    _(
                        "The household is still %(status)s: the case is decided by its steps, "
                        "not withdrawn."
                    )
                    % {"status": household.get_status_display()}
                ]
            }
        )
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the case is withdrawn.")]})
    before = {"state": current.state}
    current.state = ReturnState.WITHDRAWN
    current.withdraw_reason = reason.strip()
    current.closed_on = timezone.localdate()
    current.save(update_fields=["state", "withdraw_reason", "closed_on"])
    audit.record(
        user=user,
        action="monitor.return.withdraw",
        obj=current,
        area_code=household.village_id,
        before=before,
        after={"state": current.state, "status": household.status},
        reason=current.withdraw_reason,
    )
    case.state, case.withdraw_reason = current.state, current.withdraw_reason
    return current


def _dismiss_warning(user: Any, case: ReturnCase, step: StepSpec, note: str) -> None:
    """A rejected case closes the warning that opened it as dismissed, with the reason."""
    if case.from_warning_id is None:
        return
    warning = RiskWarning.objects.select_for_update().get(pk=case.from_warning_id)
    before = {"state": warning.state}
    warning.state = WarningState.DISMISSED
    warning.response_note = f"{step.label}: {note}"
    warning.closed_by = user
    warning.closed_at = timezone.now()
    warning.save(update_fields=["state", "response_note", "closed_by", "closed_at"])
    audit.record(
        user=user,
        action="monitor.warning.dismiss",
        obj=warning,
        area_code=case.household.village_id,
        before=before,
        after={"state": warning.state, "return_case": case.pk},
        reason=warning.response_note,
    )


def _end_monitoring(user: Any, household: Household, date: dt.date, reason: str) -> None:
    """A confirmed return ends the household's monitoring: it is registered poor again."""
    case = (
        MonitoringCase.objects.select_for_update()
        .filter(household=household, ended_on__isnull=True)
        .first()
    )
    if case is None:
        return
    case.ended_on = max(date, case.started_on)
    case.end_reason = CaseEnd.RETURNED
    case.end_note = reason
    case.ended_by = user
    case.save(update_fields=["ended_on", "end_reason", "end_note", "ended_by"])
    audit.record(
        user=user,
        action="monitor.case.end",
        obj=case,
        area_code=household.village_id,
        before={"ended_on": None},
        after={"ended_on": case.ended_on, "end_reason": case.end_reason},
        reason=reason,
    )


def _level(level: str) -> str:
    return {"village": _("village"), "township": _("township"), "county": _("county")}[level]
