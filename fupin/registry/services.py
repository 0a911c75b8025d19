"""Every change to the registry goes through these functions (一个入口).

Each one checks the actor's permission and area, validates everything before writing,
writes in one transaction, refreshes the computed fields and the data-quality findings,
and appends an audit entry — so a view, the API, an importer and a command all behave the
same way and nothing is half-written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import Area
from fupin.core.scoping import user_can_reach
from fupin.core.services import StaleEdit, require, require_area
from fupin.registry import bulk, enums, lifecycle, quality, validation
from fupin.registry.models import (
    Attachment,
    Household,
    HouseholdIncome,
    Member,
    StatusChange,
)

# The typed fields of each record: declared with their rules in `validation`, named here
# too because the forms, the API and the importers read them from the services.
HOUSEHOLD_FIELDS = validation.HOUSEHOLD_FIELDS
MEMBER_FIELDS = validation.MEMBER_FIELDS
INCOME_FIELDS = validation.INCOME_FIELDS


def _apply(instance: models.Model, data: Mapping[str, Any], fields: Sequence[str]) -> None:
    for name in fields:
        if name in data:
            value = data[name]
            if name == "village":
                # Accept an Area or its code; a code that names no area is reported by
                # the clean step instead of failing here.
                name, value = "village_id", value.code if isinstance(value, Area) else value
            setattr(instance, name, value)


def _clean_household(household: Household, errors: dict[str, list[str]]) -> None:
    """The household's field and cross-field rules (`validation.HOUSEHOLD`), run on the
    instance: converted values are written back, errors appended by field."""
    rules = validation.HOUSEHOLD
    data = {name: getattr(household, rule.attname) for name, rule in rules.rules.items()}
    for name, value in rules.clean_one(data, errors).items():
        setattr(household, rules[name].attname, value)
    code = household.village_id or ""
    if "village" not in errors and code not in validation.known_villages([code]):
        errors.setdefault("village", []).append(validation.village_error(code))


def _clean_member(member: Member, prefix: str, errors: dict[str, list[str]]) -> None:
    """The member's rules (`validation.MEMBER`); the resident ID gives sex and birth date."""
    rules = validation.MEMBER
    data = {name: getattr(member, rule.attname) for name, rule in rules.rules.items()}
    values = rules.clean_one(data, errors, prefix)
    rid = values.pop("id_number", None)
    if rid is not None:
        member.id_number, member.birth_date, member.sex = rid.number, rid.birth_date, rid.sex
    for name, value in values.items():
        setattr(member, rules[name].attname, value)


def _clean_income(income: HouseholdIncome, errors: dict[str, list[str]]) -> None:
    """One year's income (`validation.INCOME`), errors keyed `income.<field>`."""
    rules = validation.INCOME
    data = {name: getattr(income, rule.attname) for name, rule in rules.rules.items()}
    for name, value in rules.clean_one(data, errors, "income.").items():
        setattr(income, rules[name].attname, value)


def _refresh_computed(household: Household) -> None:
    """People and per-capita net income, computed from members and the latest income."""
    people = household.members.filter(left_on__isnull=True).count()
    income = household.incomes.order_by("-year").first()
    household.people = people
    if income is None or people == 0:
        household.income_year = income.year if income else None
        household.per_capita_income = None
    else:
        household.income_year = income.year
        household.per_capita_income = (income.net / people).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    Household.objects.filter(pk=household.pk).update(
        people=household.people,
        income_year=household.income_year,
        per_capita_income=household.per_capita_income,
    )


def _next_code(village_code: str) -> str:
    last = (
        Household.objects.select_for_update()
        .filter(code__startswith=village_code)
        .order_by("-code")
        .values_list("code", flat=True)
        .first()
    )
    seq = int(last[len(village_code) :]) + 1 if last else 1
    return f"{village_code}{seq:04d}"


def _household_snapshot(household: Household) -> dict[str, Any]:
    return audit.snapshot(household, exclude=("created_at", "updated_at"))


def _member_snapshot(member: Member) -> dict[str, Any]:
    data = audit.snapshot(member)
    # The audit trail is readable by reviewers: keep the ID masked there too.
    data["id_number"] = member.masked_id
    return data


def _lock(household: Household, expected_version: int | None) -> Household:
    current = Household.objects.select_for_update().get(pk=household.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleEdit(current.version)
    return current


def _bump(household: Household, caller: Household) -> None:
    """Move the version on, and tell the caller's copy, so it can send the next edit."""
    household.version += 1
    Household.objects.filter(pk=household.pk).update(
        version=household.version, updated_at=timezone.now()
    )
    caller.version = household.version


@transaction.atomic
def create_household(
    user: Any,
    data: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]] = (),
    income: Mapping[str, Any] | None = None,
    reason: str = "",
    surveyed_on: dt.date | None = None,
) -> Household:
    """Register a surveyed household with its members and last year's income (入户登记).

    `surveyed_on` is the day of the household visit (default today): the life cycle starts
    there, and no later step may be dated before it.
    """
    require(user, "registry.add_household")
    household = Household()
    _apply(household, data, HOUSEHOLD_FIELDS)
    errors: dict[str, list[str]] = {}
    if surveyed_on is not None and surveyed_on > timezone.localdate():
        errors["surveyed_on"] = [_("The date cannot be in the future.")]
    _clean_household(household, errors)
    if household.village_id:
        try:
            require_area(user, household.village_id)
        except PermissionDenied:
            errors.setdefault("village", []).append(_("This village is outside your area."))
    member_objs = []
    for i, row in enumerate(members):
        member = Member()
        _apply(member, row, MEMBER_FIELDS)
        _clean_member(member, f"members.{i}.", errors)
        member_objs.append(member)
    income_obj = None
    if income:
        income_obj = HouseholdIncome()
        _apply(income_obj, income, ["year", *INCOME_FIELDS])
        _clean_income(income_obj, errors)
    if errors:
        raise ValidationError(errors)
    household.code = _next_code(household.village_id)
    household.status_date = surveyed_on or timezone.localdate()
    household.save()
    for member in member_objs:
        member.household = household
        member.save()
    if income_obj is not None:
        income_obj.household = household
        income_obj.save()
    _refresh_computed(household)
    audit.record(
        user=user,
        action="registry.household.create",
        obj=household,
        area_code=household.village_id,
        after={
            **_household_snapshot(household),
            "members": [_member_snapshot(m) for m in member_objs],
            "income": audit.snapshot(income_obj) if income_obj else None,
        },
        reason=reason,
    )
    quality.refresh(household)
    return household


@transaction.atomic
def update_household(
    user: Any,
    household: Household,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Household:
    """Change a household's own fields (not status, not members) under optimistic locking."""
    require(user, "registry.change_household")
    require_area(user, household.village_id)
    current = _lock(household, expected_version)
    before = _household_snapshot(current)
    _apply(current, data, HOUSEHOLD_FIELDS)
    errors: dict[str, list[str]] = {}
    _clean_household(current, errors)
    if current.village_id != household.village_id:
        try:
            require_area(user, current.village_id)
        except PermissionDenied:
            errors.setdefault("village", []).append(_("This village is outside your area."))
    if errors:
        raise ValidationError(errors)
    old, new = audit.diff(before, _household_snapshot(current))
    if not new:
        return current  # nothing changed: no new version, no audit entry
    current.version += 1
    current.save()
    _refresh_computed(current)
    audit.record(
        user=user,
        action="registry.household.update",
        obj=current,
        area_code=current.village_id,
        before=old,
        after=new,
        reason=reason,
    )
    quality.refresh(current)
    return current


@transaction.atomic
def save_member(
    user: Any,
    household: Household,
    data: Mapping[str, Any],
    member: Member | None = None,
    expected_version: int | None = None,
    reason: str = "",
) -> Member:
    """Add a member to a household, or change one; the household's version moves on."""
    require(user, "registry.change_household")
    require_area(user, household.village_id)
    current = _lock(household, expected_version)
    if member is not None and member.household_id != current.pk:
        raise PermissionDenied(_("This member belongs to another household."))
    target = Member.objects.get(pk=member.pk) if member is not None else Member(household=current)
    before = _member_snapshot(target) if member is not None else None
    _apply(target, data, MEMBER_FIELDS)
    errors: dict[str, list[str]] = {}
    _clean_member(target, "", errors)
    if errors:
        raise ValidationError(errors)
    target.save()
    _bump(current, household)
    _refresh_computed(current)
    old, new = audit.diff(before, _member_snapshot(target))
    audit.record(
        user=user,
        action="registry.member.update" if member is not None else "registry.member.create",
        obj=target,
        area_code=current.village_id,
        before=old,
        after=new,
        reason=reason,
    )
    quality.refresh(current)
    return target


@transaction.atomic
def remove_member(
    user: Any,
    member: Member,
    left_on: dt.date,
    left_reason: str,
    expected_version: int | None = None,
    reason: str = "",
) -> Member:
    """A member leaves the household (death, marriage, moving): kept, dated, not deleted."""
    require(user, "registry.change_household")
    household = member.household
    require_area(user, household.village_id)
    current = _lock(household, expected_version)
    errors: dict[str, list[str]] = {}
    if left_reason not in enums.LeaveReason.values:
        errors["left_reason"] = [_("Choose why the member left.")]
    if left_on > timezone.localdate():
        errors["left_on"] = [_("The date cannot be in the future.")]
    if member.relation == enums.Relation.HEAD:
        errors["__all__"] = [_("Name a new head of household before the head leaves.")]
    if member.left_on is not None:
        errors["__all__"] = [
            _("This member already left the household on %(date)s.") % {"date": member.left_on}
        ]
    if errors:
        raise ValidationError(errors)
    member.left_on, member.left_reason = left_on, left_reason
    member.save(update_fields=["left_on", "left_reason"])
    _bump(current, household)
    _refresh_computed(current)
    audit.record(
        user=user,
        action="registry.member.leave",
        obj=member,
        area_code=current.village_id,
        after={"left_on": left_on, "left_reason": left_reason},
        reason=reason,
    )
    quality.refresh(current)
    return member


@transaction.atomic
def set_income(
    user: Any,
    household: Household,
    data: Mapping[str, Any],
    expected_version: int | None = None,
    reason: str = "",
) -> HouseholdIncome:
    """Record or correct one year's income by source; per-capita net income follows."""
    require(user, "registry.change_household")
    require_area(user, household.village_id)
    current = _lock(household, expected_version)
    year = data.get("year")
    income = (
        HouseholdIncome.objects.filter(household=current, year=int(year)).first()
        if isinstance(year, int | str) and str(year).isdigit()
        else None
    )
    before = audit.snapshot(income) if income else None
    income = income or HouseholdIncome(household=current)
    _apply(income, data, ["year", *INCOME_FIELDS])
    errors: dict[str, list[str]] = {}
    _clean_income(income, errors)
    if errors:
        raise ValidationError({k.removeprefix("income."): v for k, v in errors.items()})
    income.save()
    _bump(current, household)
    _refresh_computed(current)
    old, new = audit.diff(before, audit.snapshot(income))
    audit.record(
        user=user,
        action="registry.income.set",
        obj=income,
        area_code=current.village_id,
        before=old,
        after=new,
        reason=reason,
    )
    quality.refresh(current)
    return income


def _store_attachments(user: Any, files: Iterable[UploadedFile]) -> list[Attachment]:
    stored = []
    for f in files:
        digest = hashlib.sha256()
        for chunk in f.chunks():
            digest.update(chunk)
        f.seek(0)
        stored.append(
            Attachment.objects.create(
                file=f, name=f.name or "", uploaded_by=user, sha256=digest.hexdigest()
            )
        )
    return stored


@transaction.atomic
def transition_household(
    user: Any,
    household: Household,
    name: str,
    *,
    reason: str,
    date: dt.date | None = None,
    attachments: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> StatusChange:
    """Move a household along its life cycle (状态流转): dated, signed, reasoned, kept."""
    require_area(user, household.village_id)
    transition = lifecycle.transitions().get(name)
    if transition is None:
        raise ValidationError({"transition": [_("Unknown step %(name)s.") % {"name": name}]})
    require(user, transition.permission)
    current = _lock(household, expected_version)
    date = date or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if current.status not in transition.sources:
        errors["transition"] = [
            _("A household that is %(status)s cannot take the step “%(step)s”.")
            % {"status": current.get_status_display(), "step": transition.label}
        ]
    if not reason.strip():
        errors["reason"] = [_("Give the reason for this step.")]
    if date > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    if current.status_date is not None and date < current.status_date:
        errors.setdefault("date", []).append(
            _("The date cannot be before the previous step (%(date)s).")
            % {"date": current.status_date}
        )
    if transition.requires_evidence and not attachments:
        errors["attachments"] = [_("This step needs evidence: attach the document.")]
    if "transition" not in errors:
        try:
            transition.check([lifecycle.Move(current, date, current.status_date)])
        except ValidationError as exc:
            errors.setdefault("transition", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    change = StatusChange.objects.create(
        household=current,
        transition=transition.name,
        from_status=current.status,
        to_status=transition.target,
        date=date,
        reason=reason,
        user=user,
    )
    stored = _store_attachments(user, attachments)
    change.attachments.set(stored)
    before = {"status": current.status, "status_date": current.status_date}
    current.status = transition.target
    current.status_date = date
    if transition.sets_identification_year and current.identification_year is None:
        current.identification_year = date.year
    if transition.sets_exit_year:
        current.exit_year = date.year
    current.version += 1
    current.save(
        update_fields=[
            "status",
            "status_date",
            "identification_year",
            "exit_year",
            "version",
            "updated_at",
        ]
    )
    audit.record(
        user=user,
        action=f"registry.household.{transition.name}",
        obj=current,
        area_code=current.village_id,
        before=before,
        after={
            "status": current.status,
            "status_date": date,
            "attachments": [a.sha256 for a in stored],
        },
        reason=reason,
    )
    household.status, household.version = current.status, current.version
    return change


@transaction.atomic
def transition_many(
    user: Any,
    steps: Sequence[tuple[str, Mapping[int, dt.date]]],
    *,
    reason: str,
    attachments: Sequence[Attachment] = (),
) -> int:
    """Move many households along the same transitions at once (a county's announcement
    registers thousands): `steps` is [(transition name, {household id: date})], applied in
    order; each household goes through every step whose mapping names it.

    The same rules as `transition_household` — permission, area, the source status, dates
    not in the future nor before the previous step — checked for every household before
    anything is written; one refusal refuses all. History rows, status and audit entries
    are written in bulk (one lock of the audit chain). Returns the number of status changes.
    """
    if not reason.strip():
        raise ValidationError({"reason": [_("Give the reason for this step.")]})
    table = lifecycle.transitions()
    ids = sorted({hid for _name, dates in steps for hid in dates})
    current = {h.pk: h for h in Household.objects.select_for_update().filter(pk__in=ids)}
    today = timezone.localdate()
    errors: list[str] = []
    state = {hid: (h.status, h.status_date) for hid, h in current.items()}
    changes: list[StatusChange] = []
    guarded: list[tuple[lifecycle.Transition, list[lifecycle.Move]]] = []
    for name, dates in steps:
        transition = table.get(name)
        if transition is None:
            raise ValidationError({"transition": [_("Unknown step %(name)s.") % {"name": name}]})
        require(user, transition.permission)
        moves: list[lifecycle.Move] = []
        guarded.append((transition, moves))
        for hid, date in dates.items():
            household = current.get(hid)
            if household is None:
                errors.append(_("Household %(id)s does not exist.") % {"id": hid})
                continue
            if not user_can_reach(user, household.village_id):
                raise PermissionDenied(_("This record is outside your area."))
            status, since = state[hid]
            if status not in transition.sources:
                errors.append(
                    _("Household %(code)s is %(status)s and cannot take the step “%(step)s”.")
                    % {
                        "code": household.code,
                        "status": enums.HouseholdStatus(status).label,
                        "step": transition.label,
                    }
                )
            elif date > today or (since is not None and date < since):
                errors.append(
                    _(
                        "Household %(code)s: the date %(date)s of “%(step)s” is in the future "
                        "or before its previous step."
                    )
                    % {"code": household.code, "date": date, "step": transition.label}
                )
            else:
                moves.append(lifecycle.Move(household, date, since))
            changes.append(
                StatusChange(
                    household_id=hid,
                    transition=name,
                    from_status=status,
                    to_status=transition.target,
                    date=date,
                    reason=reason,
                    user=user,
                )
            )
            state[hid] = (transition.target, date)
            if transition.sets_identification_year and household.identification_year is None:
                household.identification_year = date.year
            if transition.sets_exit_year:
                household.exit_year = date.year
    for transition, moves in guarded:
        try:
            transition.check(moves)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"transition": errors[:20]})
    StatusChange.objects.bulk_create(changes, batch_size=1000)
    if attachments:
        # bulk_create sets the primary keys (RETURNING on SQLite ≥ 3.35 and PostgreSQL).
        links = StatusChange.attachments.through
        links.objects.bulk_create(
            [links(statuschange_id=c.pk, attachment_id=a.pk) for c in changes for a in attachments],
            batch_size=1000,
        )
    before = {hid: (h.status, h.status_date) for hid, h in current.items()}
    now = timezone.now()
    for hid, (status, since) in state.items():
        household = current[hid]
        household.status, household.status_date = status, since
        household.version += 1
        household.updated_at = now
    Household.objects.bulk_update(
        list(current.values()),
        ["status", "status_date", "identification_year", "exit_year", "version", "updated_at"],
        batch_size=1000,
    )
    audit.record_many(
        user,
        (
            audit.Entry(
                action="registry.household.transition",
                object_type="registry.household",
                object_id=str(hid),
                area_code=current[hid].village_id,
                before={"status": before[hid][0], "status_date": audit.jsonable(before[hid][1])},
                after={
                    "status": status,
                    "status_date": audit.jsonable(since),
                    "steps": [n for n, d in steps if hid in d],
                },
            )
            for hid, (status, since) in state.items()
        ),
        reason=reason,
    )
    return len(changes)


def recheck_quality(user: Any, area_code: str, progress: Any = None) -> int:
    """Re-run the data-quality rules over every household of an area (batch check).

    `user=None` is the console, as for `create_user`.
    """
    if user is not None:
        require(user, "registry.view_quality_report")
        require_area(user, area_code)
    # The bulk path's refresh: a few queries per chunk instead of several per household.
    qs = Household.objects.in_area(area_code).order_by("pk")
    total = qs.count()
    done = 0
    chunk: list[Household] = []
    for household in qs.iterator(chunk_size=RECHECK_CHUNK):
        chunk.append(household)
        if len(chunk) == RECHECK_CHUNK:
            done += _recheck_chunk(chunk)
            chunk = []
            if progress is not None:
                progress(done, total)
    if chunk:
        done += _recheck_chunk(chunk)
    if progress is not None:
        progress(done, total)
    return done


RECHECK_CHUNK = 2000


def _recheck_chunk(households: list[Household]) -> int:
    with transaction.atomic():
        quality.refresh_many(households)
    return len(households)


def import_households(
    user: Any,
    records: Iterable[bulk.HouseholdRecord],
    *,
    reason: str,
    source: str = "",
    progress: Callable[[str, int, int], None] | None = None,
    dry_run: bool = False,
) -> bulk.ImportResult:
    """Register or update many households at once (批量导入): all of them or none.

    Every record is validated first with the same rules as `create_household` (compiled
    once in `validation`, run column-wise), every error of every row is collected, and
    only a file without errors is written — in one transaction, with bulk statements, the
    computed fields and data-quality findings, and one audit entry per household created
    or changed (its reason carries `source`, e.g. the file's name and SHA-256). A village
    outside the user's area is a row error, not a refusal of the whole file. Re-importing
    updates: see `bulk` for how households, members and incomes are matched. `progress`
    is called with a phase ("validate", "write"), the count done and the total.
    `dry_run` validates and counts without writing.
    """
    require(user, "registry.add_household")
    require(user, "registry.change_household")
    job = bulk.Import(user, progress=progress)
    with bulk.gc_paused():
        job.validate(records)
        if not job.errors and not dry_run:
            with transaction.atomic():
                job.write(reason=reason, source=source)
    return job.result()
