"""Every change to identification goes through these functions (一个入口).

Campaign set-up (`create_campaign`, `set_quotas`), scoring as a job over a registry
snapshot (`score_campaign` → `store_scores`), and the procedure: `record_step` (a step held
in an area, with its decisions), `raise_objection` / `resolve_objection` during a notice.
The announcement registers the households still on the list through the registry's own
transitions (`registry.services.transition_many`), so their history shows each step.

The procedure's rules (DOMAIN.md §3; seed 000 两入户两评议两审核两公示一公告):
- a step is recorded for an area of its level (village, township, county) only when every
  household of that area on the campaign has passed the step before — no step is skipped;
- the step after a notice waits for the end of the notice period and for every objection
  raised during it to be resolved;
- a household is put on or taken off the list only by a written decision: a deliberation may
  move it across the score line either way, a visit or a review may take it off, an upheld
  objection reverses its place; every crossing of the line is listed in the campaign report.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from engine.scorecard import ScorecardError, parse_scorecard
from fupin.core import audit, jobs
from fupin.core.models import Area, AreaLevel
from fupin.core.services import require, require_area
from fupin.identify import policy
from fupin.identify.models import (
    Campaign,
    CampaignCounty,
    CampaignHousehold,
    CampaignStatus,
    Decision,
    Objection,
    ObjectionStatus,
    Scorecard,
    StepRecord,
)
from fupin.registry import services as registry_services
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Household

MANAGE = "identify.manage_campaign"
RECORD = "identify.record_step"
SHIPPED_SCORECARDS = Path(__file__).resolve().parents[2] / "engine" / "scorecards"
#: Households that may be identified: surveyed and not yet on the registry (DOMAIN.md §2).
CANDIDATE_STATUSES = (HouseholdStatus.SURVEYED,)
#: Step kinds whose decisions may put a household on the list (across the line upwards).
MAY_ADD = {"deliberation"}
MAY_REMOVE = {"deliberation", "visit", "review"}


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


# --------------------------------------------------------------------------------------
# Scorecards
# --------------------------------------------------------------------------------------


@transaction.atomic
def install_scorecard(user: Any, text: str, source: str = "<scorecard>") -> Scorecard:
    """Keep a scorecard version (validated by the engine's parser, errors with line and
    item). Installing the same text again returns the stored one; another text under the
    same name and version is refused — a version, once used, never changes."""
    if user is not None:
        require(user, MANAGE)
    try:
        card = parse_scorecard(text, source)
    except ScorecardError as exc:
        raise _fail("text", str(exc)) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    existing = Scorecard.objects.filter(name=card.name, version=card.version).first()
    if existing is not None:
        if existing.sha256 != digest:
            raise _fail(
                "text",
                _(
                    "Scorecard “%(name)s” version %(version)s exists with other content; "
                    "give the new one another version."
                )
                % {"name": card.name, "version": card.version},
            )
        return existing
    scorecard = Scorecard.objects.create(
        name=card.name,
        version=card.version,
        effective=card.effective,
        direction=card.direction,
        text=text,
        sha256=digest,
    )
    audit.record(
        user=user,
        action="identify.scorecard.install",
        obj=scorecard,
        after={"name": card.name, "version": card.version, "sha256": digest},
        reason=source,
    )
    return scorecard


def install_shipped_scorecards() -> list[Scorecard]:
    """The scorecards shipped in engine/scorecards, installed once (by the system)."""
    return [
        install_scorecard(None, path.read_text(encoding="utf-8"), path.name)
        for path in sorted(SHIPPED_SCORECARDS.glob("*.yaml"))
    ]


# --------------------------------------------------------------------------------------
# Campaigns and quotas
# --------------------------------------------------------------------------------------


@transaction.atomic
def create_campaign(
    user: Any,
    *,
    area_code: str,
    name: str,
    year: int,
    scorecard: Scorecard,
    poverty_line: Decimal | None = None,
    procedure_code: str | None = None,
) -> Campaign:
    """Open a campaign over a county (or a city or province, one quota per county)."""
    require(user, MANAGE)
    require_area(user, area_code)
    errors: dict[str, list[str]] = {}
    area = Area.objects.filter(code=area_code).first()
    if area is None or area.level not in (AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY):
        errors["area"] = [_("A campaign covers a province, a city or a county.")]
    if not name.strip():
        errors["name"] = [_("Give the campaign a name.")]
    if not 2013 <= year <= timezone.localdate().year + 1:
        errors["year"] = [_("The year must lie between 2013 and next year.")]
    if poverty_line is None:
        poverty_line = policy.poverty_line(year)
        if poverty_line is None:
            errors["poverty_line"] = [_("No poverty line is known for this year: enter it.")]
    elif poverty_line <= 0:
        errors["poverty_line"] = [_("The poverty line must be above zero.")]
    procedure = (
        policy.procedures().get(procedure_code)
        if procedure_code
        else policy.procedure_for(area_code)
    )
    if procedure is None:
        errors["procedure"] = [
            _("No identification procedure is set for this province: choose one.")
            if not procedure_code
            else _("Unknown procedure %(code)s.") % {"code": procedure_code}
        ]
    if errors:
        raise ValidationError(errors)
    assert area is not None and procedure is not None and poverty_line is not None
    campaign = Campaign.objects.create(
        name=name.strip(),
        area=area,
        year=year,
        scorecard=scorecard,
        poverty_line=poverty_line,
        procedure=procedure.as_json(),
        created_by=user,
    )
    audit.record(
        user=user,
        action="identify.campaign.create",
        obj=campaign,
        area_code=area.code,
        after={
            "name": campaign.name,
            "year": year,
            "scorecard": str(scorecard),
            "poverty_line": str(poverty_line),
            "procedure": procedure.code,
        },
    )
    return campaign


def campaign_counties(campaign: Campaign) -> list[Area]:
    """The counties a campaign covers (the area itself when it is a county)."""
    if campaign.area.level == AreaLevel.COUNTY:
        return [campaign.area]
    return list(
        Area.objects.filter(level=AreaLevel.COUNTY, code__startswith=campaign.area_id).order_by(
            "code"
        )
    )


def _check_editable(campaign: Campaign) -> None:
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCORED):
        raise _fail(
            "campaign",
            _("The procedure has started: quotas and scores can no longer change."),
        )


@transaction.atomic
def set_quotas(user: Any, campaign: Campaign, quotas: Mapping[str, Any], reason: str = "") -> int:
    """Set the counties' quotas of poor people (the statistics bureau's figures), all or
    nothing. A changed quota voids the lines drawn: the campaign goes back to draft and is
    scored again. Returns how many counties changed."""
    require(user, MANAGE)
    require_area(user, campaign.area_id)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _check_editable(campaign)
    counties = {a.code: a for a in campaign_counties(campaign)}
    errors: list[str] = []
    clean: dict[str, int] = {}
    for code, raw in quotas.items():
        code = str(code).strip()
        if code not in counties:
            errors.append(
                _("%(code)s is not a county of %(area)s.") % {"code": code, "area": campaign.area}
            )
            continue
        try:
            value = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            value = Decimal(-1)
        if value < 0 or value != value.to_integral_value():
            errors.append(
                _("The quota of %(code)s must be a whole number of people, not “%(value)s”.")
                % {"code": code, "value": raw}
            )
            continue
        clean[code] = int(value)
    if errors:
        raise ValidationError({"quotas": errors})
    existing = {c.county_id: c for c in CampaignCounty.objects.filter(campaign=campaign)}
    changed: dict[str, tuple[int | None, int]] = {}
    for code, quota in clean.items():
        row = existing.get(code)
        if row is None:
            CampaignCounty.objects.create(
                campaign=campaign, county=counties[code], quota_people=quota
            )
            changed[code] = (None, quota)
        elif row.quota_people != quota:
            changed[code] = (row.quota_people, quota)
            row.quota_people = quota
            row.save(update_fields=["quota_people"])
    if changed and campaign.status == CampaignStatus.SCORED:
        _void_scores(campaign)
    if changed:
        audit.record(
            user=user,
            action="identify.campaign.quotas",
            obj=campaign,
            area_code=campaign.area_id,
            before={c: b for c, (b, _a) in changed.items()},
            after={c: a for c, (_b, a) in changed.items()},
            reason=reason,
        )
    return len(changed)


def parse_quotas(data: bytes, filename: str) -> dict[str, str]:
    """Read `county_code,quota_people` from a CSV (UTF-8 or GBK) or xlsx file. Values are
    checked by `set_quotas`; here only the shape, with the row number of each problem."""
    from python_calamine import CalamineWorkbook

    from fupin.registry.importing import decode, is_workbook

    try:
        if is_workbook(data):
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            table: list[list[Any]] = [list(r) for r in book.get_sheet_by_index(0).to_python()]
        else:
            table = [list(r) for r in csv.reader(io.StringIO(decode(data)))]
    except Exception:  # calamine raises its own types for a damaged workbook
        raise _fail(
            "file", _("%(name)s cannot be read as CSV or xlsx.") % {"name": filename}
        ) from None
    if not table:
        raise _fail("file", _("%(name)s is empty.") % {"name": filename})
    header, rows = table[0], table[1:]
    names = [str(h).strip() for h in header]
    if "county_code" not in names or "quota_people" not in names:
        raise _fail("file", _("The file needs the columns county_code and quota_people."))
    ci, qi = names.index("county_code"), names.index("quota_people")
    result: dict[str, str] = {}
    errors: list[str] = []
    for number, row in enumerate(rows, start=2):
        code = str(row[ci] if ci < len(row) else "").strip()
        value = str(row[qi] if qi < len(row) else "").strip()
        if not code and not value:
            continue
        if code.endswith(".0"):  # an Excel number cell
            code = code[:-2]
        if code in result:
            errors.append(
                _("Row %(row)d: county %(code)s appears twice.") % {"row": number, "code": code}
            )
        result[code] = value
    if errors:
        raise ValidationError({"file": errors})
    return result


def _void_scores(campaign: Campaign) -> None:
    CampaignHousehold.objects.filter(campaign=campaign).delete()
    CampaignCounty.objects.filter(campaign=campaign).update(
        line=None, selected_people=0, selected_households=0, deviation=0,
        scored_households=0, vetoed_households=0,
    )  # fmt: skip
    campaign.status = CampaignStatus.DRAFT
    campaign.scored_at = None
    campaign.save(update_fields=["status", "scored_at"])


# --------------------------------------------------------------------------------------
# Scoring (a job over a snapshot of the registry)
# --------------------------------------------------------------------------------------


@transaction.atomic
def score_campaign(user: Any, campaign: Campaign) -> Any:
    """Start the scoring job: every candidate household of the area is scored on the
    campaign's scorecard and cut per county by its quota. Refused while a county with
    candidates has no quota (guessing one would decide who is poor)."""
    require(user, MANAGE)
    require_area(user, campaign.area_id)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _check_editable(campaign)
    with_quota = set(
        CampaignCounty.objects.filter(campaign=campaign).values_list("county_id", flat=True)
    )
    villages = (
        Household.objects.in_area(campaign.area_id)
        .filter(status__in=CANDIDATE_STATUSES)
        .values_list("village_id", flat=True)
        .distinct()
    )
    without = sorted({v[:6] for v in villages} - with_quota)
    if without:
        raise _fail(
            "quotas",
            _("These counties have households to identify but no quota: %(codes)s.")
            % {"codes": ", ".join(without)},
        )
    campaign.status = CampaignStatus.SCORING
    campaign.save(update_fields=["status"])
    job = jobs.start("identify.score", user, campaign.area_id, {"campaign": campaign.pk})
    Campaign.objects.filter(pk=campaign.pk).update(score_job=job)
    return job


@dataclass(frozen=True)
class ScoredHousehold:
    household_id: int
    county_code: str
    people: int
    score: int
    vetoed: bool
    selected: bool
    near_line: bool
    points: dict[str, int]
    vetoes: list[str]


@dataclass(frozen=True)
class CountyLine:
    county_code: str
    line: int | None
    selected_people: int
    selected_households: int
    deviation: int


@transaction.atomic
def store_scores(
    user: Any,
    campaign: Campaign,
    households: Iterable[ScoredHousehold],
    counties: Sequence[CountyLine],
    *,
    job_id: int | None = None,
) -> int:
    """Write a scoring run's results (replacing any earlier run's): every household's
    score, points and verdict, and each county's line. The list starts as the engine
    drew it (`on_list = selected`). Returns how many households were stored."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.SCORING, CampaignStatus.DRAFT, CampaignStatus.SCORED):
        raise _fail(
            "campaign", _("The procedure has started: quotas and scores can no longer change.")
        )
    CampaignHousehold.objects.filter(campaign=campaign).delete()
    villages = dict(Household.objects.in_area(campaign.area_id).values_list("pk", "village_id"))
    batch: list[CampaignHousehold] = []
    stored = 0
    per_county: dict[str, list[int]] = {}
    for h in households:
        batch.append(
            CampaignHousehold(
                campaign=campaign,
                household_id=h.household_id,
                village_id=villages[h.household_id],
                county_code=h.county_code,
                people=h.people,
                score=h.score,
                vetoed=h.vetoed,
                points=h.points,
                vetoes=h.vetoes,
                selected=h.selected,
                near_line=h.near_line,
                on_list=h.selected,
            )
        )
        counts = per_county.setdefault(h.county_code, [0, 0])
        counts[0] += 1
        counts[1] += int(h.vetoed)
        if len(batch) >= 2000:
            CampaignHousehold.objects.bulk_create(batch)
            stored += len(batch)
            batch = []
    CampaignHousehold.objects.bulk_create(batch)
    stored += len(batch)
    for line in counties:
        scored, vetoed = per_county.get(line.county_code, [0, 0])
        CampaignCounty.objects.filter(campaign=campaign, county_id=line.county_code).update(
            line=line.line,
            selected_people=line.selected_people,
            selected_households=line.selected_households,
            deviation=line.deviation,
            scored_households=scored,
            vetoed_households=vetoed,
        )
    campaign.status = CampaignStatus.SCORED
    campaign.scored_at = timezone.now()
    campaign.save(update_fields=["status", "scored_at"])
    audit.record(
        user=user,
        action="identify.campaign.scored",
        obj=campaign,
        area_code=campaign.area_id,
        after={
            "households": stored,
            "scorecard": str(campaign.scorecard),
            "scorecard_sha256": campaign.scorecard.sha256,
            "job": job_id,
            "lines": {c.county_code: c.line for c in counties},
        },
    )
    return stored


def scoring_failed(campaign_id: int) -> None:
    """A failed scoring job leaves the campaign as it was before: a draft to score again."""
    Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCORING).update(
        status=CampaignStatus.DRAFT
    )


# --------------------------------------------------------------------------------------
# The procedure
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInput:
    campaign_household_id: int
    on_list: bool
    reason: str


def _store_signatures(user: Any, files: Sequence[UploadedFile]) -> list[Any]:
    return registry_services._store_attachments(user, files)


@transaction.atomic
def record_step(
    user: Any,
    campaign: Campaign,
    *,
    step_index: int,
    area_code: str,
    date: dt.date,
    participants: str,
    signatures: Sequence[UploadedFile],
    place: str = "",
    notes: str = "",
    decisions: Sequence[DecisionInput] = (),
) -> StepRecord:
    """Record that a step of the procedure was held in an area, with its decisions.

    Refused (nothing written) when: the area is not of the step's level or outside the
    campaign; the step was already recorded there; a household of the area has not passed
    the step before (a step may not be skipped); the step before was a notice whose
    period has not ended or that has an unresolved objection; the date is in the future
    or before the step before; participants or the signed record are missing; a decision
    has no reason or is not one this kind of step may take.
    """
    require(user, RECORD)
    require_area(user, area_code)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    steps = campaign.steps
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if campaign.status not in (CampaignStatus.SCORED, CampaignStatus.IN_PROCEDURE):
        raise _fail(
            "campaign",
            _("Only a scored campaign goes through the procedure.")
            if campaign.status != CampaignStatus.ANNOUNCED
            else _("This campaign has been announced; its procedure is over."),
        )
    if not 0 <= step_index < len(steps):
        raise _fail("step", _("Unknown step."))
    step = steps[step_index]
    if len(area_code) != step.code_length or not area_code.startswith(campaign.area_id):
        raise _fail(
            "area",
            _("“%(step)s” is recorded per %(level)s of %(area)s.")
            % {"step": step.label, "level": _level_label(step.level), "area": campaign.area},
        )
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        raise _fail("area", _("Unknown area %(code)s.") % {"code": area_code})
    if StepRecord.objects.filter(campaign=campaign, step_index=step_index, area=area).exists():
        raise _fail(
            "step",
            _("“%(step)s” has already been recorded for %(area)s.")
            % {"step": step.label, "area": area},
        )
    in_area = CampaignHousehold.objects.filter(
        campaign=campaign, village__code__startswith=area_code
    )
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
    covered = list(in_area.filter(steps_done=step_index).select_for_update())
    if not covered:
        raise _fail("area", _("No household of %(area)s is in this campaign.") % {"area": area})
    previous_records = _previous_records(campaign, step_index, area_code)
    if step_index > 0 and steps[step_index - 1].kind == "notice":
        for notice in previous_records:
            if notice.ends_on is not None and date <= notice.ends_on:
                err(
                    "date",
                    _("The notice in %(area)s runs until %(date)s: the next step comes after it.")
                    % {"area": notice.area, "date": notice.ends_on},
                )
        open_objections = Objection.objects.filter(
            record__in=previous_records, status=ObjectionStatus.OPEN
        ).count()
        if open_objections:
            err(
                "step",
                _("%(n)d objection(s) raised during the notice are not resolved yet.")
                % {"n": open_objections},
            )
    if date > timezone.localdate():
        err("date", _("The date cannot be in the future."))
    last = max((r.date for r in previous_records), default=None)
    if last is not None and date < last:
        err("date", _("The date cannot be before the previous step (%(date)s).") % {"date": last})
    if not participants.strip():
        err("participants", _("List who took part."))
    if not signatures:
        err("signatures", _("Attach the signed record (a scan or photo)."))
    by_id = {c.pk: c for c in covered}
    seen: set[int] = set()
    for d in decisions:
        target = by_id.get(d.campaign_household_id)
        if target is None:
            err("decisions", _("A decision names a household this record does not cover."))
            continue
        if d.campaign_household_id in seen:
            err("decisions", _("Household %(id)s has two decisions.") % {"id": target.household_id})
        seen.add(d.campaign_household_id)
        if not d.reason.strip():
            err(
                "decisions",
                _("Household %(id)s: a decision needs its written reason.")
                % {"id": target.household_id},
            )
        if d.on_list and step.kind not in MAY_ADD:
            err(
                "decisions",
                _("“%(step)s” cannot put a household on the list; only a deliberation can.")
                % {"step": step.label},
            )
        if not d.on_list and step.kind not in MAY_REMOVE:
            err(
                "decisions",
                _("“%(step)s” cannot take a household off the list; raise an objection instead.")
                % {"step": step.label},
            )
        if d.on_list and target.vetoed:
            err(
                "decisions",
                _("Household %(id)s has a veto item (一票否决) and cannot be put on the list.")
                % {"id": target.household_id},
            )
    if step.kind == "announcement":
        _check_registrable(covered, errors)
    if errors:
        raise ValidationError(errors)

    record = StepRecord.objects.create(
        campaign=campaign,
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
    stored = _store_signatures(user, signatures)
    record.signatures.set(stored)
    changes = []
    for d in decisions:
        target = by_id[d.campaign_household_id]
        if target.on_list == d.on_list:
            continue  # a confirmation, kept as the decision row below but changing nothing
        target.on_list = d.on_list
        changes.append(target)
    Decision.objects.bulk_create(
        [
            Decision(
                record=record,
                campaign_household_id=d.campaign_household_id,
                on_list=d.on_list,
                reason=d.reason.strip(),
            )
            for d in decisions
        ]
    )
    CampaignHousehold.objects.bulk_update(changes, ["on_list"])
    CampaignHousehold.objects.filter(pk__in=by_id).update(steps_done=step_index + 1)
    if campaign.status == CampaignStatus.SCORED:
        campaign.status = CampaignStatus.IN_PROCEDURE
    audit.record(
        user=user,
        action="identify.step.record",
        obj=record,
        area_code=area_code,
        after={
            "campaign": campaign.pk,
            "step": step.code,
            "date": date,
            "households": len(covered),
            "signatures": [a.sha256 for a in stored],
            "decisions": {
                str(by_id[d.campaign_household_id].household_id): [d.on_list, d.reason]
                for d in decisions
            },
        },
    )
    if step.kind == "announcement":
        _register(user, campaign, record, [c for c in covered if c.on_list], stored)
        if not CampaignHousehold.objects.filter(
            campaign=campaign, steps_done__lt=len(steps)
        ).exists():
            campaign.status = CampaignStatus.ANNOUNCED
    campaign.save(update_fields=["status"])
    return record


def _level_label(level: str) -> str:
    return {"village": _("village"), "township": _("township"), "county": _("county")}[level]


def _area_names(codes: Sequence[str]) -> list[str]:
    names = dict(Area.objects.filter(code__in=codes).values_list("code", "name"))
    return [f"{names.get(c, '')} {c}".strip() for c in codes]


def _previous_records(campaign: Campaign, step_index: int, area_code: str) -> list[StepRecord]:
    """The records of the step before that cover any part of `area_code`: the same area, an
    area above it or areas inside it, whatever the two steps' levels."""
    if step_index == 0:
        return []
    candidates = StepRecord.objects.filter(campaign=campaign, step_index=step_index - 1)
    return [
        r
        for r in candidates.select_related("area")
        if r.area_id.startswith(area_code) or area_code.startswith(r.area_id)
    ]


def _check_registrable(covered: Sequence[CampaignHousehold], errors: dict[str, list[str]]) -> None:
    ids = [c.household_id for c in covered if c.on_list]
    moved = (
        Household.objects.filter(pk__in=ids)
        .exclude(status__in=CANDIDATE_STATUSES)
        .values_list("code", "status")
    )
    for code, status in moved[:20]:
        errors.setdefault("step", []).append(
            _(
                "Household %(code)s is now %(status)s and can no longer be registered by this "
                "campaign; take it off the list at a review first."
            )
            % {"code": code, "status": HouseholdStatus(status).label}
        )


def _register(
    user: Any,
    campaign: Campaign,
    record: StepRecord,
    on_list: Sequence[CampaignHousehold],
    signatures: Sequence[Any],
) -> None:
    """The announcement registers the list (建档立卡) through the registry's transitions,
    dated from the procedure: proposed at the first deliberation, in notice from the first
    notice, registered on the announcement's day."""
    steps = campaign.steps
    first_of = {
        kind: next((i for i, s in enumerate(steps) if s.kind == kind), None)
        for kind in ("deliberation", "notice")
    }
    dates: dict[str, dict[int, dt.date]] = {"propose": {}, "start_notice": {}, "register": {}}
    records = list(StepRecord.objects.filter(campaign=campaign).select_related("area"))
    for c in on_list:
        village = c.village_id

        def held(index: int | None, village: str = village) -> dt.date:
            if index is None:
                return record.date
            return min(
                r.date for r in records if r.step_index == index and village.startswith(r.area_id)
            )

        dates["propose"][c.household_id] = held(first_of["deliberation"])
        dates["start_notice"][c.household_id] = held(first_of["notice"])
        dates["register"][c.household_id] = record.date
        c.registered = True
    reason = _("%(campaign)s: announced by %(area)s on %(date)s") % {
        "campaign": campaign.name,
        "area": record.area,
        "date": record.date,
    }
    registry_services.transition_many(
        user, list(dates.items()), reason=reason, attachments=signatures
    )
    CampaignHousehold.objects.bulk_update(list(on_list), ["registered"])


@transaction.atomic
def raise_objection(
    user: Any,
    record: StepRecord,
    campaign_household: CampaignHousehold,
    *,
    raised_on: dt.date,
    raised_by: str,
    text: str,
) -> Objection:
    """Record an objection (异议) raised during a notice, about a household covered by it."""
    require(user, RECORD)
    require_area(user, record.area_id)
    errors: dict[str, list[str]] = {}
    if record.step.kind != "notice":
        raise _fail("record", _("Objections are raised during a public notice."))
    if (
        campaign_household.campaign_id != record.campaign_id
        or not campaign_household.village_id.startswith(record.area_id)
    ):
        raise _fail("household", _("This household is not on this notice."))
    if record.campaign.status == CampaignStatus.ANNOUNCED:
        raise _fail("record", _("This campaign has been announced; its procedure is over."))
    assert record.ends_on is not None
    if not record.date <= raised_on <= record.ends_on:
        errors["raised_on"] = [
            _("An objection to this notice is raised between %(start)s and %(end)s.")
            % {"start": record.date, "end": record.ends_on}
        ]
    elif raised_on > timezone.localdate():
        errors["raised_on"] = [_("The date cannot be in the future.")]
    if not raised_by.strip():
        errors["raised_by"] = [_("Say who raised it (a name, or “anonymous”).")]
    if not text.strip():
        errors["text"] = [_("Write what the objection says.")]
    if errors:
        raise ValidationError(errors)
    objection = Objection.objects.create(
        record=record,
        campaign_household=campaign_household,
        raised_on=raised_on,
        raised_by=raised_by.strip(),
        text=text.strip(),
    )
    audit.record(
        user=user,
        action="identify.objection.raise",
        obj=objection,
        area_code=campaign_household.village_id,
        after={"household": campaign_household.household_id, "raised_on": raised_on, "text": text},
    )
    return objection


@transaction.atomic
def resolve_objection(
    user: Any,
    objection: Objection,
    *,
    upheld: bool,
    resolution: str,
    resolved_on: dt.date,
) -> Objection:
    """Resolve an objection after checking it. Upheld, it reverses the household's place on
    the list (a decision of the notice, with the resolution as its reason)."""
    require(user, RECORD)
    require_area(user, objection.record.area_id)
    objection = Objection.objects.select_for_update().get(pk=objection.pk)
    if objection.status != ObjectionStatus.OPEN:
        raise _fail("objection", _("This objection has already been resolved."))
    errors: dict[str, list[str]] = {}
    if not resolution.strip():
        errors["resolution"] = [_("Write how the objection was checked and what was found.")]
    if resolved_on < objection.raised_on:
        errors["resolved_on"] = [_("It cannot be resolved before it was raised.")]
    elif resolved_on > timezone.localdate():
        errors["resolved_on"] = [_("The date cannot be in the future.")]
    household = CampaignHousehold.objects.select_for_update().get(
        pk=objection.campaign_household_id
    )
    if upheld and not household.on_list and household.vetoed:
        errors["upheld"] = [
            _("Household %(id)s has a veto item (一票否决) and cannot be put on the list.")
            % {"id": household.household_id}
        ]
    if errors:
        raise ValidationError(errors)
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolution = resolution.strip()
    objection.resolved_on = resolved_on
    objection.resolved_by = user
    objection.save()
    if upheld:
        household.on_list = not household.on_list
        household.save(update_fields=["on_list"])
        Decision.objects.create(
            record=objection.record,
            campaign_household=household,
            on_list=household.on_list,
            reason=objection.resolution,
        )
    audit.record(
        user=user,
        action="identify.objection.resolve",
        obj=objection,
        area_code=household.village_id,
        after={
            "status": objection.status,
            "resolution": objection.resolution,
            "on_list": household.on_list,
        },
    )
    return objection


# --------------------------------------------------------------------------------------
# Reading (no writes): what the pages and the report show
# --------------------------------------------------------------------------------------


def crossings(campaign: Campaign, user: Any) -> Any:
    """Households on the list against the engine's line or off it despite it, each with
    the decisions that moved it — the campaign report's list (issue 4: a deliberation moves
    a household across the line only with a written reason, listed in the report)."""
    from django.db.models import F

    return (
        CampaignHousehold.objects.for_user(user)
        .filter(campaign=campaign)
        .exclude(on_list=F("selected"))
        .select_related("household", "village")
        .prefetch_related("decisions__record")
    )


def progress_by_step(campaign: Campaign, user: Any) -> list[dict[str, Any]]:
    """Per step: how many of the user's households have passed it, and the records' dates."""
    visible = CampaignHousehold.objects.for_user(user).filter(campaign=campaign)
    total = visible.count()
    rows = []
    for index, step in enumerate(campaign.steps):
        records = StepRecord.objects.overlapping_user(user).filter(
            campaign=campaign, step_index=index
        )
        span = records.aggregate(first=Min("date"), last=Max("date"))
        rows.append(
            {
                "index": index,
                "step": step,
                "done": visible.filter(steps_done__gt=index).count(),
                "total": total,
                "records": records.count(),
                "first": span["first"],
                "last": span["last"],
            }
        )
    return rows
