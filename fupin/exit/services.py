"""Every change to household exit goes through these functions (一个入口).

Rounds (`open_round`), proposals (`propose_from_standard` by the system, `propose_household`
by a cadre — each through the registry's `propose_exit` transition, so its guard applies),
the procedure (`record_step`, `raise_objection`, `resolve_objection`), the 双认定 acceptance
at the household (`record_acceptance`) and the 3342 sign-off (a `record_step` of kind
"signoff" with its `signoffs`). The announcement makes the households on the list exit
through the registry's `exit` transition; a household taken off the list goes back to
registered through `cancel_exit`, so its history shows each step.

The procedure's rules are identification's (fupin/identify/services.py, DOMAIN.md §3):
a step is recorded for an area of its level only when every household of the round in that
area has passed the step before (no step is skipped); the step after a notice waits for the
end of the notice and for every objection raised during it to be resolved; a household
leaves the list only by a written decision or an upheld objection. Exit adds: no step puts
a household back on the list (a new proposal does); the acceptance step needs every
household's completed acceptance form and takes off those with an item not met; a sign-off
needs every party of its chain; and the announcement refuses a household without a
completed acceptance when the procedure has one (seed 000, Guangxi 双认定).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, IntegerField, Q, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from engine.standards import (
    POOR_STATUSES,
    Standard,
    StandardItem,
    shipped_standards,
    standard_in_force,
)
from fupin.core import audit
from fupin.core.models import Area, AreaLevel
from fupin.core.roles import Role
from fupin.core.scoping import user_can_reach
from fupin.core.services import require, require_area
from fupin.exit import checks, facts, guards, policy
from fupin.exit.models import (
    Acceptance,
    AcceptanceSignature,
    AreaFacts,
    ExitDecision,
    ExitObjection,
    ExitRound,
    ExitStepRecord,
    ProposedBy,
    RoundHousehold,
    RoundStatus,
    SignatureMethod,
    SignerRole,
    Signoff,
)
from fupin.identify.models import ObjectionStatus
from fupin.identify.services import _area_names, _level_label
from fupin.registry import lifecycle
from fupin.registry import services as registry_services
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Attachment, Household

VIEW = "exit.view_exit"
RECORD = "exit.record_exit"
MANAGE = "exit.manage_exit"
#: Step kinds whose decisions may take a household off the list (written reason each).
MAY_REMOVE = {"visit", "deliberation", "review", "acceptance", "signoff"}
#: A drawn signature is a PNG the page's canvas makes; larger is not a signature.
MAX_DRAWN_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URL_PREFIX = "data:image/png;base64,"


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _today() -> dt.date:
    return timezone.localdate()


# --------------------------------------------------------------------------------------
# Standards of a round
# --------------------------------------------------------------------------------------


def _standard(code: str, version: str) -> Standard:
    for s in shipped_standards():
        if s.code == code and s.version == version:
            return s
    raise LookupError(f"standard {code} version {version} is not shipped")


def round_standards(round_: ExitRound) -> list[Standard]:
    """The standards a round judges by, in the versions it was opened with."""
    return [_standard(s["code"], s["version"]) for s in round_.standards]


def acceptance_standards(round_: ExitRound) -> list[Standard]:
    """The standards the round's acceptance form checks: one ({"code", "version"}, as every
    round opened before the household check everywhere, and Guangxi's) or several (a list)."""
    data = round_.acceptance_standard
    rows = [data] if isinstance(data, dict) and data else list(data or [])
    return [_standard(r["code"], r["version"]) for r in rows]


def acceptance_standard(round_: ExitRound) -> Standard | None:
    """The first standard of the acceptance form (the only one of a single-standard form)."""
    standards = acceptance_standards(round_)
    return standards[0] if standards else None


@dataclass(frozen=True)
class AcceptanceItem:
    """One line of the acceptance form: an item of one of its standards. `key` names it in
    the form and in `record_acceptance`: the item's code on a single-standard form (as
    Guangxi's 双认定 always had), "standard:item" on a form of several standards."""

    key: str
    standard: Standard
    item: StandardItem


def acceptance_items(round_: ExitRound) -> list[AcceptanceItem]:
    """Every confirm and data item of every standard of the round's acceptance form, once
    per (standard, item), in the standards' order."""
    standards = acceptance_standards(round_)
    single = len(standards) == 1
    out: list[AcceptanceItem] = []
    seen: set[tuple[str, str]] = set()
    for standard in standards:
        for item in standard.items:
            if (standard.code, item.code) in seen:
                continue
            seen.add((standard.code, item.code))
            key = item.code if single else f"{standard.code}:{item.code}"
            out.append(AcceptanceItem(key, standard, item))
    return out


# --------------------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------------------


def _acceptance_json(standards: Sequence[Standard]) -> Any:
    """The round's acceptance standards as stored: {} without, one {"code", "version"} (the
    form every round had before several), or a list of them."""
    rows = [{"code": s.code, "version": s.version} for s in standards]
    if not rows:
        return {}
    return rows[0] if len(rows) == 1 else rows


@transaction.atomic
def open_round(
    user: Any,
    *,
    area_code: str,
    name: str,
    year: int,
    leave_out: Sequence[str] = (),
) -> ExitRound:
    """Open a household exit round over a province, city or county for a year. The
    procedure is the province's (policy/exit.toml), copied without the optional steps in
    `leave_out`; the standards are the province's in the versions in force at the end of
    the year (a standard not in force yet is not applied)."""
    require(user, MANAGE)
    require_area(user, area_code)
    errors: dict[str, list[str]] = {}
    area = Area.objects.filter(code=area_code).first()
    if area is None or area.level not in (AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY):
        errors["area"] = [_("An exit round covers a province, a city or a county.")]
    if not name.strip():
        errors["name"] = [_("Give the round a name.")]
    if not 2014 <= year <= _today().year + 1:
        errors["year"] = [_("The year must lie between 2014 and next year.")]
        year = _today().year
    line = checks.line_of(year)
    if line is None:
        errors["year"] = [_("No poverty line is known for this year.")]
    rules = policy.rules_for(area_code)
    procedure = policy.policy().procedures[rules.procedure]
    optional = {s.code for s in procedure.steps if s.optional}
    unknown = sorted(set(leave_out) - optional)
    if unknown:
        errors["leave_out"] = [
            _("Only an optional step may be left out, not %(steps)s.")
            % {"steps": ", ".join(unknown)}
        ]
    on = dt.date(year, 12, 31)
    standards = []
    for code in rules.standards:
        try:
            standards.append(standard_in_force(code, on))
        except LookupError:
            continue
    if not standards:
        errors["year"] = [_("No exit standard of this province is in force in that year.")]
    accepts = []
    for code in rules.acceptances:
        try:
            accepts.append(standard_in_force(code, on))
        except LookupError:
            continue  # as the round's standards: one not in force yet is not checked
    if rules.acceptances and not accepts:
        errors["year"] = [_("The acceptance form's standard is not in force in that year.")]
    if errors:
        raise ValidationError(errors)
    assert area is not None and line is not None
    data = procedure.as_json()
    data["steps"] = [s for s in data["steps"] if s["code"] not in set(leave_out)]
    signoffs = {
        s["code"]: chain.as_json()
        for s in data["steps"]
        if s["kind"] == "signoff" and (chain := policy.signoff_chain(procedure.code, s["code"]))
    }
    round_ = ExitRound.objects.create(
        name=name.strip(),
        area=area,
        year=year,
        poverty_line=line,
        standards=[{"code": s.code, "version": s.version} for s in standards],
        acceptance_standard=_acceptance_json(
            accepts if any(s["kind"] == "acceptance" for s in data["steps"]) else []
        ),
        procedure=data,
        signoffs=signoffs,
        created_by=user,
    )
    audit.record(
        user=user,
        action="exit.round.open",
        obj=round_,
        area_code=area.code,
        after={
            "name": round_.name,
            "year": year,
            "poverty_line": line,
            "standards": round_.standards,
            "procedure": procedure.code,
            "steps": [s["code"] for s in data["steps"]],
        },
    )
    return round_


# --------------------------------------------------------------------------------------
# Proposals
# --------------------------------------------------------------------------------------


def _round_results(
    round_: ExitRound, households: Sequence[Household], on: dt.date
) -> dict[int, list[dict[str, str]]]:
    """Each household's results on every standard of the round (for the record)."""
    out: dict[int, list[dict[str, str]]] = {h.pk: [] for h in households}
    for standard in round_standards(round_):
        for hid, results in checks.evaluate_many(households, standard, round_.year, on).items():
            out[hid].extend(checks.check_json(standard, results))
    return out


def _data_met(results: Sequence[Mapping[str, str]]) -> bool:
    """Every item the data can judge is met, and none lacks its data (confirm items wait
    for the acceptance team)."""
    return all(r["outcome"] in ("met", "to_confirm") for r in results)


def _item_label(item: Any) -> str:
    return item.label if policy.chinese() else item.label_en


def _items_text(results: Sequence[Any]) -> str:
    return "; ".join(
        f"{_item_label(r.item)} [{r.evidence}]" if r.evidence else _item_label(r.item)
        for r in results
    )


def _blocking_standard(round_: ExitRound, on: dt.date) -> Standard | None:
    """The province's blocking standard (exit.toml `block_proposal`, Hunan's eight
    situations) in the version in force on `on`, or None."""
    code = policy.rules_for(round_.area_id).block_proposal
    if not code:
        return None
    try:
        return standard_in_force(code, on)
    except LookupError:
        return None


def data_problems(
    round_: ExitRound,
    households: Sequence[Household],
    on: dt.date,
    *,
    blocking_no_data: bool,
    only_blocking: bool = False,
) -> dict[int, list[str]]:
    """What the registry's data say against each household's exit on `on`, judged on the
    round's year: an item not met on any of the round's standards or on the province's
    blocking standard in force that day; with `blocking_no_data`, also an item of the
    blocking standard without data (Hunan's procedure has no step that checks it at the
    household: 一律不得退出 needs the data to show the situation is not the household's).
    With `only_blocking`, the blocking standard alone (a cadre's proposal may stand on data
    the registry has not caught up with yet, except for the blocking situations).
    Household id → messages naming the household, the standard and the items."""
    if not households:
        return {}
    year = round_.year
    judged = checks.judged_on(year, on)
    standards = [] if only_blocking else list(round_standards(round_))
    blocking = _blocking_standard(round_, on)
    if blocking is not None and not any(
        s.code == blocking.code and s.version == blocking.version for s in standards
    ):
        standards.append(blocking)
    out: dict[int, list[str]] = {}
    by_pk = {h.pk: h for h in households}
    for standard in standards:
        is_blocking = blocking is not None and standard.code == blocking.code
        name = standard.name if policy.chinese() else standard.name_en
        for hid, results in checks.evaluate_many(households, standard, year, judged).items():
            bad = [r for r in results if r.outcome == "not_met"]
            if bad:
                out.setdefault(hid, []).append(
                    _("Household %(code)s: the data show %(items)s not met (%(standard)s).")
                    % {"code": by_pk[hid].code, "items": _items_text(bad), "standard": name}
                )
            missing = [r for r in results if r.outcome == "no_data"]
            if is_blocking and blocking_no_data and missing:
                out.setdefault(hid, []).append(
                    _(
                        "Household %(code)s: no data for %(items)s (%(standard)s): a household "
                        "in one of these situations may not exit; enter the data in the "
                        "registry first."
                    )
                    % {"code": by_pk[hid].code, "items": _items_text(missing), "standard": name}
                )
    return out


def _check_open_village(round_: ExitRound, village_code: str, errors: list[str], code: str) -> None:
    started = ExitStepRecord.objects.filter(round=round_, step_index=0)
    if any(village_code.startswith(r.area_id) for r in started):
        errors.append(
            _(
                "Household %(code)s: the procedure has started in its village; propose it in "
                "the next round."
            )
            % {"code": code}
        )


def _check_proposable_round(round_: ExitRound) -> None:
    if round_.status == RoundStatus.ANNOUNCED:
        raise _fail("round", _("This round has been announced; its procedure is over."))


@transaction.atomic
def propose_from_standard(user: Any, round_: ExitRound, *, date: dt.date | None = None) -> int:
    """The system's proposal: every registered household of the round's area in the user's
    reach whose data meet every standard of the round (no item not met, none without data)
    is proposed for exit (`propose_exit`, dated `date`). Returns how many."""
    require(user, MANAGE)
    require_area(user, round_.area_id)
    round_ = ExitRound.objects.select_for_update().get(pk=round_.pk)
    _check_proposable_round(round_)
    if round_.status != RoundStatus.OPEN:
        raise _fail(
            "round", _("The procedure has started: the system proposes only before it starts.")
        )
    date = date or _today()
    if date > _today():
        raise _fail("date", _("The date cannot be in the future."))
    already = RoundHousehold.objects.filter(round=round_).values_list("household_id", flat=True)
    candidates = list(
        Household.objects.for_user(user)
        .in_area(round_.area_id)
        .filter(status=HouseholdStatus.REGISTERED)
        .exclude(pk__in=already)
        .filter(status_date__lte=date)
        .order_by("pk")
    )
    on = checks.judged_on(round_.year, date)
    results = _round_results(round_, candidates, on)
    chosen = [h for h in candidates if results[h.pk] and _data_met(results[h.pk])]
    if not chosen:
        return 0
    reason = _("%(round)s: proposed by the system, the data meet %(standards)s") % {
        "round": round_.name,
        "standards": ", ".join(s.name for s in round_standards(round_)),
    }
    with guards.round_year(round_.year):
        registry_services.transition_many(
            user, [("propose_exit", {h.pk: date for h in chosen})], reason=reason
        )
    RoundHousehold.objects.bulk_create(
        [
            RoundHousehold(
                round=round_,
                household=h,
                village_id=h.village_id,
                proposed_by=ProposedBy.SYSTEM,
                proposed_on=date,
                reason=reason,
                results=results[h.pk],
                proposer=user,
            )
            for h in chosen
        ]
    )
    audit.record(
        user=user,
        action="exit.round.propose_system",
        obj=round_,
        area_code=round_.area_id,
        after={"households": [h.pk for h in chosen], "date": date},
        reason=reason,
    )
    return len(chosen)


@transaction.atomic
def propose_household(
    user: Any,
    round_: ExitRound,
    household: Household,
    *,
    reason: str,
    date: dt.date | None = None,
) -> RoundHousehold:
    """A cadre proposes a household for exit in a round, with a reason. A registered
    household takes the `propose_exit` step (refused by its guard in Hunan's eight
    situations); one already proposed for exit outside any open round joins the round."""
    require(user, RECORD)
    require_area(user, household.village_id)
    round_ = ExitRound.objects.select_for_update().get(pk=round_.pk)
    _check_proposable_round(round_)
    date = date or _today()
    errors: list[str] = []
    if not household.village_id.startswith(round_.area_id):
        raise _fail("household", _("This household is outside the round's area."))
    if RoundHousehold.objects.filter(round=round_, household=household).exists():
        raise _fail("household", _("This household is already in this round."))
    if not reason.strip():
        raise _fail("reason", _("Give the reason for proposing this household."))
    if date > _today():
        raise _fail("date", _("The date cannot be in the future."))
    household = Household.objects.get(pk=household.pk)
    # On another open round's list, whatever its status (a cancelled exit leaves the list
    # only by that round's decision or at its next step).
    elsewhere = RoundHousehold.objects.filter(
        household=household, on_list=True, exited=False
    ).exclude(round__status=RoundStatus.ANNOUNCED)
    if elsewhere.exists():
        errors.append(_("This household is on the list of another open round."))
    if household.status not in (HouseholdStatus.EXIT_PROPOSED, HouseholdStatus.REGISTERED):
        errors.append(
            _("A household that is %(status)s cannot be proposed for exit.")
            % {"status": household.get_status_display()}
        )
    _check_open_village(round_, household.village_id, errors, household.code)
    if errors:
        raise ValidationError({"household": errors})
    on = checks.judged_on(round_.year, date)
    # The blocking situations on the round's year (Hunan: 一律不得退出), also for a household
    # already proposed outside a round, which takes no `propose_exit` (and so no guard) here.
    refused = data_problems(round_, [household], date, blocking_no_data=False, only_blocking=True)
    if refused.get(household.pk):
        raise ValidationError({"household": refused[household.pk]})
    results = _round_results(round_, [household], on)[household.pk]
    if household.status == HouseholdStatus.REGISTERED:
        with guards.round_year(round_.year):
            registry_services.transition_household(
                user, household, "propose_exit", reason=reason.strip(), date=date
            )
    proposed = RoundHousehold.objects.create(
        round=round_,
        household=household,
        village_id=household.village_id,
        proposed_by=ProposedBy.CADRE,
        proposed_on=date,
        reason=reason.strip(),
        results=results,
        proposer=user,
    )
    audit.record(
        user=user,
        action="exit.round.propose",
        obj=proposed,
        area_code=household.village_id,
        after={"round": round_.pk, "household": household.pk, "date": date},
        reason=reason.strip(),
    )
    return proposed


# --------------------------------------------------------------------------------------
# The procedure
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInput:
    """A household taken off the list at a step (`on_list=False`), or kept with a written
    confirmation (`on_list=True`)."""

    round_household_id: int
    on_list: bool
    reason: str


@dataclass(frozen=True)
class SignoffInput:
    """One party's signature on a sign-off record (3342)."""

    party: str
    name: str
    signed_on: dt.date | None
    scan: UploadedFile | None


def _previous_records(round_: ExitRound, step_index: int, area_code: str) -> list[ExitStepRecord]:
    """The records of the step before that cover any part of `area_code` (the same area, an
    area above it or areas inside it, whatever the two steps' levels)."""
    if step_index == 0:
        return []
    candidates = ExitStepRecord.objects.filter(round=round_, step_index=step_index - 1)
    return [
        r
        for r in candidates.select_related("area")
        if r.area_id.startswith(area_code) or area_code.startswith(r.area_id)
    ]


def _unmet_reason(acceptance: Acceptance, step_label: str) -> str:
    """Why the acceptance step takes the household off: the step (双认定 or 入户核实) and
    every item not met with its note."""
    items = "; ".join(
        f"{i['label']}" + (f"（{i['note']}）" if i.get("note") else "") for i in acceptance.unmet
    )
    return _("%(step)s on %(date)s: not met — %(items)s") % {
        "step": step_label,
        "date": acceptance.checked_on.isoformat(),
        "items": items,
    }


def _check_signoffs(
    round_: ExitRound,
    step_code: str,
    signoffs: Sequence[SignoffInput],
    date: dt.date,
    err: Any,
    earliest: dt.date | None = None,
) -> None:
    """Every party of the chain signed (name, date, scan), on or after the step before
    (`earliest`) and not after the record's date."""
    chain = round_.signoff_chain(step_code)
    assert chain is not None  # open_round copies the chain of every sign-off step
    given = {s.party: s for s in signoffs}
    for party in chain.parties:
        s = given.get(party.code)
        missing = []
        if s is None or not s.name.strip():
            missing.append(_("name"))
        if s is None or s.signed_on is None:
            missing.append(_("date"))
        elif s.signed_on > date:
            err(
                "signoffs",
                _("%(post)s signed after the record's date.") % {"post": party.label},
            )
        elif earliest is not None and s.signed_on < earliest:
            err(
                "signoffs",
                _("%(post)s signed before the previous step (%(date)s).")
                % {"post": party.label, "date": earliest},
            )
        if s is None or s.scan is None:
            missing.append(_("scan"))
        if missing:
            err(
                "signoffs",
                _("%(post)s has not signed: %(missing)s missing.")
                % {"post": party.label, "missing": ", ".join(missing)},
            )
    extra = sorted(set(given) - {p.code for p in chain.parties})
    if extra:
        err("signoffs", _("Unknown party %(codes)s.") % {"codes": ", ".join(extra)})


@transaction.atomic
def record_step(
    user: Any,
    round_: ExitRound,
    *,
    step_index: int,
    area_code: str,
    date: dt.date,
    participants: str,
    signatures: Sequence[UploadedFile],
    place: str = "",
    notes: str = "",
    decisions: Sequence[DecisionInput] = (),
    signoffs: Sequence[SignoffInput] = (),
) -> ExitStepRecord:
    """Record that a step of the exit procedure was held in an area, with its decisions.

    Refused (nothing written) when: the area is not of the step's level or outside the
    round; the step was already recorded there; a household of the area has not passed
    the step before; the step before was a notice whose period has not ended or that has an
    unresolved objection; the date is in the future or before the step before; participants
    or the signed record are missing; a decision has no reason or is not one this kind of
    step may take; at an acceptance, a household on the list has no completed acceptance
    form; at a sign-off, a party has not signed; at the announcement, a household on the
    list has no completed acceptance with every item met (when the procedure has one).
    """
    require(user, RECORD)
    require_area(user, area_code)
    round_ = ExitRound.objects.select_for_update().get(pk=round_.pk)
    steps = round_.steps
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if round_.status == RoundStatus.ANNOUNCED:
        raise _fail("round", _("This round has been announced; its procedure is over."))
    if not 0 <= step_index < len(steps):
        raise _fail("step", _("Unknown step."))
    step = steps[step_index]
    if len(area_code) != step.code_length or not area_code.startswith(round_.area_id):
        raise _fail(
            "area",
            _("“%(step)s” is recorded per %(level)s of %(area)s.")
            % {"step": step.label, "level": _level_label(step.level), "area": round_.area},
        )
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        raise _fail("area", _("Unknown area %(code)s.") % {"code": area_code})
    if ExitStepRecord.objects.filter(round=round_, step_index=step_index, area=area).exists():
        raise _fail(
            "step",
            _("“%(step)s” has already been recorded for %(area)s.")
            % {"step": step.label, "area": area},
        )
    in_area = RoundHousehold.objects.filter(round=round_, village__code__startswith=area_code)
    behind = in_area.filter(steps_done__lt=step_index)
    if behind.exists():
        previous = steps[step_index - 1]
        waiting = sorted(set(behind.values_list("village_id", flat=True)))
        raise _fail(
            "step",
            _(
                "“%(step)s” cannot be recorded before “%(previous)s” for every household of "
                "%(area)s; still missing in: %(villages)s."
            )
            % {
                "step": step.label,
                "previous": previous.label,
                "area": area,
                "villages": ", ".join(_area_names(waiting[:10])),
            },
        )
    covered = list(
        in_area.filter(steps_done=step_index)
        .select_related("household")
        .select_for_update(of=("self",))
    )
    if not covered:
        raise _fail("area", _("No household of %(area)s is in this round.") % {"area": area})
    # A household excluded or whose exit was cancelled on the registry since it was
    # proposed leaves the list here, by a written decision (_moved_on_registry).
    moved = _moved_on_registry(covered)
    previous_records = _previous_records(round_, step_index, area_code)
    if step_index > 0 and steps[step_index - 1].kind == "notice":
        for notice in previous_records:
            if notice.ends_on is not None and date <= notice.ends_on:
                err(
                    "date",
                    _("The notice in %(area)s runs until %(date)s: the next step comes after it.")
                    % {"area": notice.area, "date": notice.ends_on},
                )
        open_objections = ExitObjection.objects.filter(
            record__in=previous_records, status=ObjectionStatus.OPEN
        ).count()
        if open_objections:
            err(
                "step",
                _("%(n)d objection(s) raised during the notice are not resolved yet.")
                % {"n": open_objections},
            )
    if date > _today():
        err("date", _("The date cannot be in the future."))
    last = max((r.date for r in previous_records), default=None)
    if last is None and covered:
        last = max(c.proposed_on for c in covered)
    if last is not None and date < last:
        err("date", _("The date cannot be before the previous step (%(date)s).") % {"date": last})
    if not participants.strip():
        err("participants", _("List who took part."))
    if not signatures:
        err("signatures", _("Attach the signed record (a scan or photo)."))
    by_id = {c.pk: c for c in covered}
    seen: set[int] = set()
    for d in decisions:
        target = by_id.get(d.round_household_id)
        if target is None:
            err("decisions", _("A decision names a household this record does not cover."))
            continue
        code = target.household.code
        if d.round_household_id in seen:
            err("decisions", _("Household %(id)s has two decisions.") % {"id": code})
        seen.add(d.round_household_id)
        if not d.reason.strip():
            err(
                "decisions",
                _("Household %(id)s: a decision needs its written reason.") % {"id": code},
            )
        if d.on_list and d.round_household_id in moved:
            err("decisions", moved[d.round_household_id])
        if d.on_list and not target.on_list:
            err(
                "decisions",
                _("Household %(id)s is off the list: only a new proposal puts it back.")
                % {"id": code},
            )
        if not d.on_list and step.kind not in MAY_REMOVE:
            err(
                "decisions",
                _("“%(step)s” cannot take a household off the list; raise an objection instead.")
                % {"step": step.label},
            )
    removals = {d.round_household_id: d.reason.strip() for d in decisions if not d.on_list}
    removals.update(moved)
    acceptances: dict[int, Acceptance] = {
        a.round_household_id: a for a in Acceptance.objects.filter(round_household__in=covered)
    }
    if step.kind == "acceptance":
        waiting_forms = [
            c.household.code
            for c in covered
            if c.on_list and c.pk not in removals and c.pk not in acceptances
        ]
        if waiting_forms:
            err(
                "step",
                _("These households on the list have no completed acceptance form: %(codes)s.")
                % {"codes": ", ".join(waiting_forms[:20])},
            )
        for c in covered:
            found = acceptances.get(c.pk)
            if c.on_list and c.pk not in removals and found is not None and not found.all_met:
                removals[c.pk] = _unmet_reason(found, step.label)
        checked = [a.checked_on for a in acceptances.values()]
        if checked and date < max(checked):
            err(
                "date",
                _("The date cannot be before the last acceptance form (%(date)s).")
                % {"date": max(checked)},
            )
        # The data again: an item the form found met that the registry now shows not met
        # is corrected in the registry (or the household taken off) before the step.
        staying = [c.household for c in covered if c.on_list and c.pk not in removals]
        for found_problems in data_problems(round_, staying, date, blocking_no_data=False).values():
            for message in found_problems:
                err("step", message)
    if step.kind == "signoff":
        _check_signoffs(round_, step.code, signoffs, date, err, last)
    elif signoffs:
        err("signoffs", _("Only a sign-off step takes signatures of officials."))
    if step.kind == "announcement" and round_.has_acceptance:
        for c in covered:
            found = acceptances.get(c.pk)
            if c.on_list and c.pk not in removals and (found is None or not found.all_met):
                err(
                    "step",
                    _(
                        "Household %(code)s has no completed acceptance with every item met: "
                        "it cannot exit."
                    )
                    % {"code": c.household.code},
                )
    if step.kind == "announcement":
        if not user.has_perm(lifecycle.transitions()["exit"].permission):
            err("step", _("The announcement makes the households exit: a reviewer records it."))
        # The data again, on the announcement day: a household that fell into one of the
        # situations after its proposal does not exit (seed 000, Hunan 一律不得退出).
        staying = [c.household for c in covered if c.on_list and c.pk not in removals]
        for problems in data_problems(round_, staying, date, blocking_no_data=True).values():
            for message in problems:
                err("step", message)
    if errors:
        raise ValidationError(errors)

    record = ExitStepRecord.objects.create(
        round=round_,
        step_index=step_index,
        step_code=step.code,
        area=area,
        date=date,
        ends_on=date + dt.timedelta(days=step.days - 1) if step.kind == "notice" else None,
        participants=participants.strip(),
        place=place.strip(),
        notes=notes.strip(),
        households=len(covered),
        recorded_by=user,
    )
    stored = registry_services._store_attachments(user, signatures)
    record.signatures.set(stored)
    stored_signoffs = _store_signoffs(user, round_, record, step.code, signoffs)
    written = [
        ExitDecision(
            record=record, round_household_id=d.round_household_id, on_list=True, reason=d.reason
        )
        for d in decisions
        if d.on_list
    ]
    written += [
        ExitDecision(record=record, round_household_id=pk, on_list=False, reason=reason)
        for pk, reason in removals.items()
    ]
    ExitDecision.objects.bulk_create(written)
    taken_off = [by_id[pk] for pk in removals if by_id[pk].on_list]
    for c in taken_off:
        c.on_list = False
    RoundHousehold.objects.bulk_update(taken_off, ["on_list"])
    RoundHousehold.objects.filter(pk__in=by_id).update(steps_done=step_index + 1)
    cancelled = [c for c in taken_off if c.pk not in moved]
    if cancelled:
        _cancel(user, round_, record, {c.household_id: removals[c.pk] for c in cancelled})
    if round_.status == RoundStatus.OPEN:
        round_.status = RoundStatus.IN_PROCEDURE
    audit.record(
        user=user,
        action="exit.step.record",
        obj=record,
        area_code=area_code,
        after={
            "round": round_.pk,
            "step": step.code,
            "date": date,
            "households": len(covered),
            "signatures": [a.sha256 for a in stored],
            "signoffs": stored_signoffs,
            "decisions": {
                str(by_id[d.round_household_id].household_id): [d.on_list, d.reason]
                for d in decisions
            },
            "taken_off": {str(c.household_id): removals[c.pk] for c in taken_off},
            "taken_off_by_registry": sorted(by_id[pk].household_id for pk in moved),
            **({"exit_year": round_.year} if step.kind == "announcement" else {}),
        },
    )
    if step.kind == "announcement":
        _exit(user, round_, record, [c for c in covered if c.on_list], stored)
        if not RoundHousehold.objects.filter(round=round_, steps_done__lt=len(steps)).exists():
            round_.status = RoundStatus.ANNOUNCED
    round_.save(update_fields=["status"])
    return record


def _store_signoffs(
    user: Any, round_: ExitRound, record: ExitStepRecord, step_code: str, signoffs: Sequence[Any]
) -> dict[str, list[str]]:
    chain = round_.signoff_chain(step_code)
    if chain is None or not signoffs:
        return {}
    parties = {p.code: p for p in chain.parties}
    rows, kept = [], {}
    for s in signoffs:
        party = parties[s.party]
        (scan,) = registry_services._store_attachments(user, [s.scan])
        rows.append(
            Signoff(
                record=record,
                party=party.code,
                tier=party.tier,
                post=party.label_zh,
                name=s.name.strip(),
                signed_on=s.signed_on,
                file=scan,
            )
        )
        kept[party.code] = [s.name.strip(), s.signed_on.isoformat(), scan.sha256]
    Signoff.objects.bulk_create(rows)
    return kept


def _transition_label(name: str) -> str:
    found = lifecycle.transitions().get(name)
    return found.label if found is not None else name


def _moved_on_registry(covered: Sequence[RoundHousehold]) -> dict[int, str]:
    """Households on the list that are no longer proposed for exit on the registry (excluded
    after a data comparison, their exit cancelled on the household page): round household
    id → the written reason they leave the list, naming the registry's step, its date and
    its reason.

    Why the list follows the registry rather than the registry waiting for the round: an
    exclusion (剔除) or a cancelled exit is the county's own decision, taken with its evidence
    and audited on the household; holding it back until the round ends would keep a
    household the county has found ineligible on an exit list, and a round whose list names
    a household that can no longer exit could never be announced."""
    on_list = {c.household_id: c for c in covered if c.on_list}
    if not on_list:
        return {}
    out: dict[int, str] = {}
    for part in checks.chunks(sorted(on_list)):
        moved = Household.objects.filter(pk__in=part).exclude(status=HouseholdStatus.EXIT_PROPOSED)
        for h in moved:
            change = h.status_changes.order_by("-date", "-id").first()
            out[on_list[h.pk].pk] = _(
                "Taken off the list automatically: on the registry the household is now "
                "%(status)s (“%(step)s” on %(date)s: %(reason)s)."
            ) % {
                "status": h.get_status_display(),
                "step": _transition_label(change.transition) if change is not None else "",
                "date": h.status_date.isoformat() if h.status_date else "",
                "reason": change.reason if change is not None else "",
            }
    return out


def _cancel(user: Any, round_: ExitRound, record: ExitStepRecord, reasons: dict[int, str]) -> None:
    """Households taken off the list go back to registered (`cancel_exit`), dated the record."""
    reason = _("%(round)s: taken off the exit list at “%(step)s” in %(area)s") % {
        "round": round_.name,
        "step": record.step.label,
        "area": record.area,
    }
    detail = "; ".join(f"{hid}: {text}" for hid, text in reasons.items())
    registry_services.transition_many(
        user,
        [("cancel_exit", {hid: record.date for hid in reasons})],
        reason=f"{reason} — {detail}"[:4000],
    )


def _exit(
    user: Any,
    round_: ExitRound,
    record: ExitStepRecord,
    on_list: Sequence[RoundHousehold],
    signatures: Sequence[Attachment],
) -> None:
    """The announcement: the households still on the list exit (脱贫), dated the record,
    counted as exits of the round's year (`exit_year`)."""
    if not on_list:
        return
    reason = _("%(round)s: exit announced by %(area)s on %(date)s") % {
        "round": round_.name,
        "area": record.area,
        "date": record.date,
    }
    ids = [c.household_id for c in on_list]
    with guards.announcing(ids):
        registry_services.transition_many(
            user,
            [("exit", {hid: record.date for hid in ids})],
            reason=reason,
            attachments=signatures,
        )
    # The exits count for the round's year (a 2017 round announced in January 2018 makes
    # 2017 exits), not the announcement's: the registry's `exit` sets the date's year.
    Household.objects.filter(pk__in=ids).exclude(exit_year=round_.year).update(
        exit_year=round_.year
    )
    RoundHousehold.objects.filter(pk__in=[c.pk for c in on_list]).update(exited=True)


@transaction.atomic
def raise_objection(
    user: Any,
    record: ExitStepRecord,
    round_household: RoundHousehold,
    *,
    raised_on: dt.date,
    raised_by: str,
    text: str,
) -> ExitObjection:
    """Record an objection (异议) raised during an exit notice, about a household on it."""
    require(user, RECORD)
    require_area(user, round_household.village_id)
    errors: dict[str, list[str]] = {}
    if record.step.kind != "notice":
        raise _fail("record", _("Objections are raised during a public notice."))
    if (
        round_household.round_id != record.round_id
        or not round_household.village_id.startswith(record.area_id)
        or round_household.steps_done <= record.step_index
    ):
        raise _fail("household", _("This household is not on this notice."))
    if not round_household.on_list:
        raise _fail("household", _("This household is no longer on the list."))
    if record.round.status == RoundStatus.ANNOUNCED:
        raise _fail("record", _("This round has been announced; its procedure is over."))
    assert record.ends_on is not None
    if not record.date <= raised_on <= record.ends_on:
        errors["raised_on"] = [
            _("An objection to this notice is raised between %(start)s and %(end)s.")
            % {"start": record.date, "end": record.ends_on}
        ]
    elif raised_on > _today():
        errors["raised_on"] = [_("The date cannot be in the future.")]
    if not raised_by.strip():
        errors["raised_by"] = [_("Say who raised it (a name, or “anonymous”).")]
    if not text.strip():
        errors["text"] = [_("Write what the objection says.")]
    if errors:
        raise ValidationError(errors)
    objection = ExitObjection.objects.create(
        record=record,
        round_household=round_household,
        raised_on=raised_on,
        raised_by=raised_by.strip(),
        text=text.strip(),
    )
    audit.record(
        user=user,
        action="exit.objection.raise",
        obj=objection,
        area_code=round_household.village_id,
        after={"household": round_household.household_id, "raised_on": raised_on, "text": text},
    )
    return objection


@transaction.atomic
def resolve_objection(
    user: Any,
    objection: ExitObjection,
    *,
    upheld: bool,
    resolution: str,
    resolved_on: dt.date,
) -> ExitObjection:
    """Resolve an objection after checking it. Upheld, the household leaves the list and
    goes back to registered (`cancel_exit`), with the resolution as the reason."""
    require(user, RECORD)
    require_area(user, objection.round_household.village_id)
    objection = ExitObjection.objects.select_for_update().get(pk=objection.pk)
    if objection.status != ObjectionStatus.OPEN:
        raise _fail("objection", _("This objection has already been resolved."))
    errors: dict[str, list[str]] = {}
    if not resolution.strip():
        errors["resolution"] = [_("Write how the objection was checked and what was found.")]
    if resolved_on < objection.raised_on:
        errors["resolved_on"] = [_("It cannot be resolved before it was raised.")]
    elif resolved_on > _today():
        errors["resolved_on"] = [_("The date cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    target = RoundHousehold.objects.select_for_update().get(pk=objection.round_household_id)
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolution = resolution.strip()
    objection.resolved_on = resolved_on
    objection.resolved_by = user
    objection.save()
    if upheld and target.on_list:
        target.on_list = False
        target.save(update_fields=["on_list"])
        ExitDecision.objects.create(
            record=objection.record,
            round_household=target,
            on_list=False,
            reason=objection.resolution,
        )
        registry_services.transition_household(
            user,
            target.household,
            "cancel_exit",
            reason=_("Objection upheld: %(text)s") % {"text": objection.resolution},
            date=resolved_on,
        )
    audit.record(
        user=user,
        action="exit.objection.resolve",
        obj=objection,
        area_code=target.village_id,
        after={
            "status": objection.status,
            "resolution": objection.resolution,
            "on_list": target.on_list,
        },
    )
    return objection


# --------------------------------------------------------------------------------------
# The 双认定 acceptance at the household
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInput:
    """The acceptance team's finding on one item: met or not (None: not checked), a note."""

    met: bool | None
    note: str = ""


@dataclass(frozen=True)
class SignatureInput:
    """A signature drawn on screen (a PNG data URL from the page's canvas) or a scan."""

    name: str
    drawn: str = ""
    scan: UploadedFile | None = None


def active_cadre(household: Household) -> Any:
    """The support cadre of the household's active pairing (结对帮扶), if any."""
    from fupin.support.models import Pairing

    pairing = (
        Pairing.objects.filter(household=household, ended_on__isnull=True)
        .select_related("cadre")
        .order_by("-started_on")
        .first()
    )
    return pairing.cadre if pairing is not None else None


def _drawn_png(data_url: str) -> bytes | None:
    """The PNG of a drawn signature, or None when the data is not one."""
    if not data_url.startswith(DATA_URL_PREFIX):
        return None
    try:
        png = base64.b64decode(data_url[len(DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not png.startswith(PNG_MAGIC) or len(png) > MAX_DRAWN_BYTES:
        return None
    return png


def _blank(png: bytes) -> bool:
    """Whether a drawn PNG has no stroke at all (a canvas submitted untouched)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            alpha = image.convert("RGBA").getchannel("A")
            return alpha.getbbox() is None
    except (OSError, ValueError):
        return True


def _signature_file(role: str, household: Household, sig: SignatureInput) -> tuple[Any, str]:
    if sig.drawn:
        png = _drawn_png(sig.drawn)
        assert png is not None
        name = f"signature-{household.code}-{role}.png"
        return ContentFile(png, name=name), SignatureMethod.DRAWN
    assert sig.scan is not None
    return sig.scan, SignatureMethod.SCAN


@transaction.atomic
def record_acceptance(
    user: Any,
    round_household: RoundHousehold,
    *,
    checked_on: dt.date,
    team: str,
    items: Mapping[str, ItemInput],
    signatures: Mapping[str, SignatureInput],
) -> Acceptance:
    """Record the completed 双认定 acceptance form of a household (seed 000, Guangxi 严程序):
    every item of the round's acceptance standard checked at the household (met or not,
    with a note for an item not met), and signed by the head of household, an acceptance
    team member and the support cadre of the household's active pairing — each signature
    drawn on screen or a scan. All or nothing: a missing item or signature refuses it."""
    require(user, RECORD)
    require_area(user, round_household.village_id)
    target = RoundHousehold.objects.select_for_update().get(pk=round_household.pk)
    round_ = target.round
    household = Household.objects.get(pk=target.household_id)
    lines = acceptance_items(round_)
    if not lines:
        raise _fail("round", _("This round's procedure has no acceptance at the household."))
    standards = acceptance_standards(round_)
    by_key = {line.key: line for line in lines}
    # "standard:item" is understood on a single-standard form too.
    items = {
        (k.split(":", 1)[1] if k not in by_key and len(standards) == 1 and ":" in k else k): v
        for k, v in items.items()
    }
    index = next(i for i, s in enumerate(round_.steps) if s.kind == "acceptance")
    if round_.status == RoundStatus.ANNOUNCED or target.steps_done > index:
        raise _fail("round", _("The acceptance step is over for this household."))
    if not target.on_list:
        raise _fail("household", _("This household is no longer on the list."))
    if Acceptance.objects.filter(round_household=target).exists():
        raise _fail("household", _("This household's acceptance form is already recorded."))
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if checked_on > _today():
        err("checked_on", _("The date cannot be in the future."))
    elif checked_on < target.proposed_on:
        err(
            "checked_on",
            _("The date cannot be before the proposal (%(date)s).") % {"date": target.proposed_on},
        )
    if not team.strip():
        err("team", _("List the acceptance team."))
    for line in lines:
        found = items.get(line.key)
        label = line.item.label if policy.chinese() else line.item.label_en
        if found is None or found.met is None:
            err(f"item_{line.key}", _("“%(item)s” has not been checked.") % {"item": label})
        elif not found.met and not found.note.strip():
            err(
                f"item_{line.key}",
                _("“%(item)s” is not met: say what was found.") % {"item": label},
            )
    # A data item the registry shows not met is not "met" on the form: the registry is
    # corrected first (the form and the registry never disagree on the household's data).
    key_of = {(line.standard.code, line.item.code): line.key for line in lines}
    for standard in standards:
        judged = checks.evaluate_many(
            [household], standard, round_.year, checks.judged_on(round_.year, checked_on)
        ).get(household.pk, [])
        for r in judged:
            key = key_of.get((standard.code, r.item.code))
            found = items.get(key) if key is not None else None
            if r.item.kind == "data" and r.outcome == "not_met" and found is not None and found.met:
                label = r.item.label if policy.chinese() else r.item.label_en
                err(
                    f"item_{key}",
                    _(
                        "“%(item)s”: the registry shows it not met (%(evidence)s). Correct the "
                        "household's data in the registry first, or record the item as not met."
                    )
                    % {"item": label, "evidence": r.evidence},
                )
    unknown = sorted(set(items) - set(by_key))
    if unknown:
        err("items", _("Unknown item %(codes)s.") % {"codes": ", ".join(unknown)})
    cadre = active_cadre(household)
    if cadre is None:
        err(
            "sig_cadre",
            _("The household has no support cadre paired with it: pair one before the acceptance."),
        )
    for role, who in SignerRole.choices:
        sig = signatures.get(role)
        if sig is None or (not sig.drawn and sig.scan is None):
            err(f"sig_{role}", _("%(who)s has not signed.") % {"who": who})
            continue
        if sig.drawn and sig.scan is not None:
            err(
                f"sig_{role}",
                _("%(who)s: draw the signature or upload a scan, not both.") % {"who": who},
            )
        if role != SignerRole.CADRE and not sig.name.strip():
            err(f"sig_{role}", _("%(who)s: write the name of who signed.") % {"who": who})
        if sig.drawn:
            png = _drawn_png(sig.drawn)
            if png is None:
                err(
                    f"sig_{role}",
                    _("%(who)s: the drawn signature could not be read.") % {"who": who},
                )
            elif _blank(png):
                err(f"sig_{role}", _("%(who)s: the drawn signature is empty.") % {"who": who})
    if errors:
        raise ValidationError(errors)
    assert cadre is not None
    acceptance = Acceptance.objects.create(
        round_household=target,
        standard_code="+".join(s.code for s in standards),
        standard_version="+".join(s.version for s in standards),
        checked_on=checked_on,
        team=team.strip(),
        items=[
            {
                "code": line.item.code,
                "standard": line.standard.code,
                "version": line.standard.version,
                "label": line.item.label,
                "label_en": line.item.label_en,
                "kind": line.item.kind,
                "met": bool(items[line.key].met),
                "note": items[line.key].note.strip(),
            }
            for line in lines
        ],
        cadre=cadre,
        cadre_name=cadre.name,
        recorded_by=user,
    )
    kept = {}
    for role, _label in SignerRole.choices:
        sig = signatures[role]
        upload, method = _signature_file(role, household, sig)
        (stored,) = registry_services._store_attachments(user, [upload])
        name = cadre.name if role == SignerRole.CADRE else sig.name.strip()
        AcceptanceSignature.objects.create(
            acceptance=acceptance, role=role, name=name, method=method, file=stored
        )
        kept[role] = [name, method, stored.sha256]
    audit.record(
        user=user,
        action="exit.acceptance.record",
        obj=acceptance,
        area_code=target.village_id,
        after={
            "round": round_.pk,
            "household": household.pk,
            "checked_on": checked_on,
            "standard": ", ".join(f"{s.code} {s.version}" for s in standards),
            "items": {
                line.key: [i["met"], i["note"]]
                for line, i in zip(lines, acceptance.items, strict=True)
            },
            "signatures": kept,
        },
    )
    return acceptance


# --------------------------------------------------------------------------------------
# Reading (no writes): what the pages show
# --------------------------------------------------------------------------------------


def exit_date(household: Household) -> dt.date | None:
    """The day of the household's last exit (its `exit` status change): the close guard's
    date too."""
    return guards.exit_date(household)


def consolidation_timeline(household: Household) -> policy.Timeline | None:
    """The consolidation after the household's last exit, while it is exited or closed."""
    if household.status not in (HouseholdStatus.EXITED, HouseholdStatus.CLOSED):
        return None
    exited_on = exit_date(household)
    if exited_on is None:
        return None
    consolidation = policy.consolidation_for(household.village_id, exited_on)
    return policy.timeline(exited_on, consolidation) if consolidation is not None else None


def confirmed_items(household: Household, year: int) -> dict[str, dict[str, tuple[bool, str]]]:
    """What the completed acceptance form of a round of `year` found on the confirm items,
    by standard: the household page for that year counts them as checked. Only a form of
    the household still on that round's list or exited by it: a form of another year, or
    of a household taken off the list, confirms nothing now."""
    acceptance = (
        Acceptance.objects.filter(
            round_household__household=household, round_household__round__year=year
        )
        .filter(Q(round_household__on_list=True) | Q(round_household__exited=True))
        .select_related("round_household__round")
        .order_by("-checked_on", "-id")
        .first()
    )
    if acceptance is None:
        return {}
    # The step's own name: 双认定 in Guangxi, 入户核实 elsewhere.
    step = next((s for s in acceptance.round_household.round.steps if s.kind == "acceptance"), None)
    evidence = (
        f"{step.label} {acceptance.checked_on.isoformat()}"
        if step is not None
        else _("double acceptance %(date)s") % {"date": acceptance.checked_on.isoformat()}
    )
    out: dict[str, dict[str, tuple[bool, str]]] = {}
    for i in acceptance.items:
        if i["kind"] != "confirm":
            continue
        # A form recorded before several standards names its one standard on the form.
        standard = i.get("standard") or acceptance.standard_code
        out.setdefault(standard, {})[i["code"]] = (
            i["met"],
            f"{evidence}: {i['note']}" if i["note"] else evidence,
        )
    return out


# --------------------------------------------------------------------------------------
# Village and county facts (AreaFacts)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactsInput:
    """One village's or county's facts for a year, as typed or imported. `values` holds
    typed values (int, bool, Decimal) or None (unknown); a fact not named keeps its stored
    value. `row` is the import file's row, for the messages."""

    area_code: str
    year: int
    values: Mapping[str, Any]
    source: str
    notes: str | None = None
    row: int | None = None


#: The third-party evaluation's figures (facts.py's "evaluation" group) decide a county's
#: 错退率, 漏评率 and 认可度 (DOMAIN.md §10): the evaluator enters them, or the city or the
#: province (seed 003's 3342 spreads the sign-off over city and province), never the
#: county whose exit they judge.
ENTER_EVALUATION = "exit.enter_evaluation"
EVALUATION = "evaluation"
ALL_GROUPS: frozenset[str] = frozenset(f.group for f in facts.FACTS)
#: PositiveIntegerField and IntegerField as every database stores them.
INTEGER_RANGES = {
    "PositiveIntegerField": (0, 2_147_483_647),
    "IntegerField": (-2_147_483_648, 2_147_483_647),
}


def fact_groups_for(user: Any) -> frozenset[str]:
    """The groups of facts (facts.Group) `user` may enter; empty when none.

    The village form's facts and the statistics: the county's administrators or above
    (`exit.manage_exit`). The evaluation's figures: `exit.enter_evaluation`, held at the
    county or above, by a user above the county or with the evaluator's role.
    """
    if user.is_superuser:
        return ALL_GROUPS
    area = getattr(user, "area", None)
    if area is None or area.level > AreaLevel.COUNTY:
        return frozenset()
    groups: set[str] = set()
    if user.has_perm(MANAGE):
        groups |= ALL_GROUPS - {EVALUATION}
    if user.has_perm(ENTER_EVALUATION) and (
        area.level < AreaLevel.COUNTY or Role.EVALUATOR in (getattr(user, "roles", None) or [])
    ):
        groups.add(EVALUATION)
    return frozenset(groups)


def _can_enter_facts(user: Any) -> frozenset[str]:
    """The groups the user may enter; PermissionDenied when none."""
    if not (user.has_perm(MANAGE) or user.has_perm(ENTER_EVALUATION)):
        require(user, MANAGE)
    groups = fact_groups_for(user)
    if not groups:
        # The figures decide a village's exit: the village does not certify its own.
        raise PermissionDenied(_("Village and county facts are entered by the county or above."))
    return groups


def _group_refusal(fact: facts.Fact) -> str:
    names = {"field": _field_label(fact.name), "column": fact.title}
    if fact.group == EVALUATION:
        return (
            _(
                "The third-party evaluation's figure “%(field)s” (%(column)s) is entered by "
                "the evaluator or by the city or the province, not by the county it judges."
            )
            % names
        )
    return _("“%(field)s” (%(column)s) is entered by the county's administrators or above.") % names


def _poor_people(codes: Sequence[str]) -> dict[str, int]:
    """Registered poor people (the incidence's statuses) per area code: one query grouping
    the poor households of the codes' counties by village, summed here per code by prefix
    (a province's import names 14,000 villages: one condition per code would not do)."""
    wanted = set(codes)
    if not wanted:
        return {}
    counties = sorted({c[:6] for c in wanted if len(c) >= 6})
    cond = Q(county__in=counties) if counties else Q(pk__in=[])
    for code in sorted(c for c in wanted if len(c) < 6):  # a province or city: a few at most
        cond |= Q(village_id__startswith=code)
    rows = (
        Household.objects.filter(status__in=POOR_STATUSES)
        .annotate(county=Substr("village_id", 1, 6))
        .filter(cond)
        .values("village_id")
        .annotate(n=Sum("people"))
        .values_list("village_id", "n")
    )
    lengths = sorted({len(c) for c in wanted})
    out = dict.fromkeys(wanted, 0)
    for village, n in rows:
        for length in lengths:
            if village[:length] in out:
                out[village[:length]] += int(n or 0)
    return out


def _limit_problem(name: str, value: Any) -> str:
    """The stored field's own limits (digits, places, the integer range): beyond them the
    database refuses the row (PostgreSQL) or keeps what it should not."""
    field = AreaFacts._meta.get_field(name)
    if isinstance(field, DecimalField):
        digits, places = field.max_digits or 0, field.decimal_places or 0
        if Decimal(str(value)).as_tuple().exponent < -places:  # type: ignore[operator]
            return _("Give at most %(places)s decimal places.") % {"places": places}
        top = Decimal(10) ** (digits - places) - Decimal(1).scaleb(-places)
        if abs(Decimal(str(value))) > top:
            return _("The value is too large: at most %(max)s.") % {"max": f"{top:,}"}
    elif isinstance(field, IntegerField):
        low, high = INTEGER_RANGES.get(field.get_internal_type(), INTEGER_RANGES["IntegerField"])
        if not low <= value <= high:
            return _("The value lies outside %(low)s to %(high)s.") % {
                "low": f"{low:,}",
                "high": f"{high:,}",
            }
    return ""


def _value_problem(fact: facts.Fact, value: Any) -> str:
    """What is wrong with a typed value of the fact ("" when nothing)."""
    if value is None:
        return ""
    if fact.kind == "bool":
        return "" if isinstance(value, bool) else _("Give yes or no.")
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return _("Give a number.")
    if fact.kind in ("count", "score") and value != int(value):
        return _("Give a whole number.")
    if fact.kind == "percent" and not 0 <= value <= 100:
        return _("A percentage lies between 0 and 100.")
    if fact.kind != "score" and value < 0:
        return _("The value cannot be negative.")
    return _limit_problem(fact.name, value)


def _facts_problems(
    item: FactsInput,
    area: Area | None,
    stored: AreaFacts | None,
    poor: int,
    groups: frozenset[str] = ALL_GROUPS,
) -> dict[str, list[str]]:
    """Every problem of one input, by fact name ("area", "year", "source" for the rest).
    A fact of a group outside `groups` (fact_groups_for) is refused when its value would
    change; given as stored (the template's round trip) it passes."""
    errors: dict[str, list[str]] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if area is None:
        fail("area", _("No area has the code %(code)s.") % {"code": item.area_code})
    elif area.level not in facts.LEVELS:
        fail(
            "area",
            _("Facts are entered for a village or a county, not for %(name)s.")
            % {"name": area.name},
        )
    if not 2014 <= item.year <= _today().year + 1:
        fail("year", _("The year must lie between 2014 and next year."))
    if not item.source.strip():
        fail("source", _("Say where the values come from (a survey, a report, a yearbook)."))
    for name, value in item.values.items():
        fact = facts.BY_NAME.get(name)
        if fact is None:
            fail("__all__", _("Unknown fact %(name)s.") % {"name": name})
            continue
        if area is not None and area.level in facts.LEVELS and not fact.for_level(area.level):
            if value is not None:
                fail(
                    name,
                    _("This is not a fact of a %(level)s.")
                    % {"level": AreaLevel(area.level).label.lower()},
                )
            continue
        if fact.group not in groups and value != (
            getattr(stored, name) if stored is not None else None
        ):
            fail(name, _group_refusal(fact))
            continue
        problem = _value_problem(fact, value)
        if problem:
            fail(name, problem)
    if errors:
        return errors
    merged = {n: getattr(stored, n) for n in facts.NAMES} if stored is not None else {}
    merged.update(item.values)
    for part, whole in facts.PARTS:
        p, w = merged.get(part), merged.get(whole)
        if p is not None and w is not None and p > w:
            fail(
                part,
                _("%(part)s (%(p)s) cannot exceed %(whole)s (%(w)s).")
                % {
                    "part": _field_label(part),
                    "p": p,
                    "whole": _field_label(whole),
                    "w": w,
                },
            )
    population = merged.get("rural_population")
    if population is not None and population < poor:
        fail(
            "rural_population",
            _(
                "The rural population (%(population)s) is smaller than the registered poor "
                "people of the area (%(poor)s): the incidence would exceed 100%%."
            )
            % {"population": population, "poor": poor},
        )
    return errors


def _field_label(name: str) -> str:
    return str(facts.verbose_name(name))


def _facts_json(record: AreaFacts) -> dict[str, Any]:
    return {n: audit.jsonable(getattr(record, n)) for n in (*facts.NAMES, "source", "notes")}


def _write_facts(user: Any, item: FactsInput, area: Area, stored: AreaFacts | None) -> AreaFacts:
    before = _facts_json(stored) if stored is not None else None
    record = stored or AreaFacts(area=area, year=item.year)
    for name, value in item.values.items():
        setattr(record, name, value)
    record.source = item.source.strip()
    if item.notes is not None:
        record.notes = item.notes.strip()
    record.updated_by = user
    record.save()
    after = _facts_json(record)
    changed_before, changed_after = audit.diff(before, after)
    audit.record(
        user=user,
        action="exit.area_facts.save" if item.row is None else "exit.area_facts.import",
        obj=record,
        area_code=area.code,
        before=changed_before if before is not None else None,
        after=changed_after,
    )
    return record


@transaction.atomic
def save_area_facts(user: Any, item: FactsInput) -> AreaFacts:
    """Record a village's or county's facts for a year (a new record or an update): who
    enters them (the county or above), the level each fact belongs to, the ranges, the
    evaluation's parts within their wholes, the rural population not below the registered
    poor people; the source is required. One audit entry with what changed."""
    groups = _can_enter_facts(user)
    area = Area.objects.filter(code=item.area_code).first()
    if area is not None and not user_can_reach(user, area.code):
        area = None  # "No area has the code": an area outside the user's is not told apart
    stored = (
        AreaFacts.objects.select_for_update().filter(area=area, year=item.year).first()
        if area is not None
        else None
    )
    poor = _poor_people([area.code]).get(area.code, 0) if area is not None else 0
    errors = _facts_problems(item, area, stored, poor, groups)
    if errors:
        raise ValidationError(errors)
    assert area is not None
    with _concurrent_create(area, item.year):
        return _write_facts(user, item, area, stored)


@contextmanager
def _concurrent_create(area: Area, year: int) -> Iterator[None]:
    """A record created by someone else between the read (which locks nothing when there
    is no row yet) and this write: refused with a message, not a server error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ValidationError(
            {
                "__all__": [
                    _(
                        "The facts of %(area)s for %(year)s were just saved by someone else: "
                        "reload the page and enter them again."
                    )
                    % {"area": area.name, "year": year}
                ]
            }
        ) from None


def _row_message(row: int | None, key: str, messages: list[str]) -> list[str]:
    if key in facts.BY_NAME:
        column = facts.BY_NAME[key].title
    else:
        column = {
            "area": facts.AREA_CODE_TITLES[0],
            "year": facts.YEAR_TITLES[0],
            "source": facts.SOURCE_TITLES[0],
        }.get(key, "")
    return [
        (_("Row %(row)s, %(column)s: %(message)s") if column else _("Row %(row)s: %(message)s"))
        % {"row": row, "column": column, "message": m}
        for m in messages
    ]


@transaction.atomic
def import_area_facts(user: Any, items: Sequence[FactsInput]) -> list[AreaFacts]:
    """Record the facts of many villages and counties from an import file, all or nothing:
    every row is checked as `save_area_facts` checks one (and the same area and year twice
    in the file is refused), every problem is reported with its row and column, and
    nothing is written unless every row is right."""
    groups = _can_enter_facts(user)
    if not items:
        raise ValidationError({"__all__": [_("The file has no rows of facts.")]})
    codes = {i.area_code for i in items}
    areas = Area.objects.in_bulk(list(codes))
    stored = {
        (f.area_id, f.year): f
        for f in AreaFacts.objects.select_for_update().filter(area_id__in=list(codes))
    }
    poor = _poor_people([c for c in codes if c in areas])
    messages: list[str] = []
    seen: dict[tuple[str, int], int | None] = {}
    for item in items:
        key = (item.area_code, item.year)
        if key in seen:
            messages += _row_message(
                item.row,
                "area",
                [
                    _("%(code)s %(year)s is also on row %(other)s.")
                    % {"code": item.area_code, "year": item.year, "other": seen[key]}
                ],
            )
            continue
        seen[key] = item.row
        area = areas.get(item.area_code)
        if area is not None and not user_can_reach(user, area.code):
            area = None  # told as an unknown code: existence outside the area is not leaked
        problems = _facts_problems(item, area, stored.get(key), poor.get(item.area_code, 0), groups)
        for name, found in problems.items():
            messages += _row_message(item.row, name, found)
    if messages:
        raise ValidationError({"__all__": messages})
    saved = []
    for item in items:
        area = areas[item.area_code]
        with _concurrent_create(area, item.year):
            saved.append(_write_facts(user, item, area, stored.get((item.area_code, item.year))))
    return saved
