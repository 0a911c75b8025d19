"""Every change to support goes through these functions (一个入口).

Each checks the actor's permission and area, validates everything before writing (the
rules of `policy/support.toml` and `policy/measures.toml`, each refusal with the rule's
text), writes in one transaction and appends the audit entry.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Round, Sin, Sqrt, TruncDate
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import Area, AreaLevel, AuditEntry, User
from fupin.core.roles import Role
from fupin.core.scoping import user_can_reach
from fupin.core.services import StaleEdit, require, require_area
from fupin.registry import services as registry_services
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Household, Member
from fupin.support import policy
from fupin.support.models import (
    Cadre,
    CheckIn,
    Geofence,
    LedgerEntry,
    Measure,
    MeasureStatus,
    Need,
    NeedGrade,
    NeedStatus,
    Pairing,
    PairingEndCause,
    Plan,
    ResidentTeam,
    TeamMember,
    TeamRole,
    Visit,
)

MANAGE = "support.manage_support"
RECORD = "support.record_support"

# ======================================================================================
# Cadres and pairings (结对帮扶)
# ======================================================================================

#: A cadre's own fields, as forms and the audit trail name them.
CADRE_FIELDS = (
    "name",
    "sex",
    "id_number",
    "employer",
    "post",
    "phone",
    "in_service",
    "level",
    "area",
    "active",
)


def _cadre_snapshot(cadre: Cadre) -> dict[str, Any]:
    data = audit.snapshot(cadre, exclude=("created_at",))
    # The audit trail is read by reviewers who may not see full IDs.
    data["id_number"] = cadre.masked_id
    return data


def _apply_cadre(cadre: Cadre, data: Mapping[str, Any]) -> None:
    for name in CADRE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "area":
            cadre.area_id = value.code if isinstance(value, Area) else str(value or "")
        elif isinstance(value, str):
            setattr(cadre, name, value.strip().upper() if name == "id_number" else value.strip())
        else:
            setattr(cadre, name, value)


def _clean_cadre(user: Any, cadre: Cadre, errors: dict[str, list[str]]) -> None:
    try:
        cadre.full_clean(exclude=["user", "version"], validate_constraints=False)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if (
        "id_number" not in errors
        and Cadre.objects.filter(id_number=cadre.id_number).exclude(pk=cadre.pk).exists()
    ):
        errors["id_number"] = [_("A cadre with this resident ID is already on the list.")]
    if "area" not in errors and not user_can_reach(user, cadre.area_id or ""):
        errors["area"] = [
            _("The area %(code)s (%(name)s) is outside your area.")
            % {"code": cadre.area_id, "name": cadre.area.name}
        ]


def _lock_cadre(cadre: Cadre, expected_version: int | None) -> Cadre:
    current = Cadre.objects.select_for_update().get(pk=cadre.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleEdit(current.version)
    return current


def active_pairings(cadre: Cadre) -> models.QuerySet[Pairing]:
    return Pairing.objects.filter(cadre=cadre, ended_on__isnull=True)


@transaction.atomic
def create_cadre(user: Any, data: Mapping[str, Any], reason: str = "") -> Cadre:
    """Put a support cadre (帮扶干部) on the list of an area in the user's reach."""
    require(user, MANAGE)
    cadre = Cadre()
    _apply_cadre(cadre, data)
    errors: dict[str, list[str]] = {}
    _clean_cadre(user, cadre, errors)
    if errors:
        raise ValidationError(errors)
    cadre.save()
    audit.record(
        user=user,
        action="support.cadre.create",
        obj=cadre,
        area_code=cadre.area_id,
        after=_cadre_snapshot(cadre),
        reason=reason,
    )
    return cadre


@transaction.atomic
def update_cadre(
    user: Any,
    cadre: Cadre,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Cadre:
    """Change a cadre's fields under optimistic locking (StaleEdit if someone saved first).

    A cadre who still supports households cannot be made inactive: the households would
    be left without a cadre, so the pairings are ended or reassigned first.
    """
    require(user, MANAGE)
    require_area(user, cadre.area_id)
    current = _lock_cadre(cadre, expected_version)
    before = _cadre_snapshot(current)
    _apply_cadre(current, data)
    errors: dict[str, list[str]] = {}
    _clean_cadre(user, current, errors)
    if not current.active and before["active"]:
        count = active_pairings(current).count()
        if count:
            errors.setdefault("active", []).append(
                _(
                    "This cadre still supports households (%(count)d): end or reassign those "
                    "pairings first."
                )
                % {"count": count}
            )
    if errors:
        raise ValidationError(errors)
    old, new = audit.diff(before, _cadre_snapshot(current))
    if not new:
        return current
    current.version += 1
    current.save()
    audit.record(
        user=user,
        action="support.cadre.update",
        obj=current,
        area_code=current.area_id,
        before=old,
        after=new,
        reason=reason,
    )
    cadre.version = current.version
    return current


@transaction.atomic
def link_login(
    user: Any,
    cadre: Cadre,
    login: User | None,
    expected_version: int | None = None,
    reason: str = "",
) -> Cadre:
    """Link the cadre to the user account he logs in with (None unlinks it).

    The account must hold the support-cadre role, lie in the user's reach, and belong to
    no other cadre: the visits he records are signed with this cadre.
    """
    require(user, MANAGE)
    require_area(user, cadre.area_id)
    current = _lock_cadre(cadre, expected_version)
    if login is not None:
        errors: list[str] = []
        if not login.has_role(Role.SUPPORT_CADRE):
            errors.append(_("This account does not hold the support-cadre role."))
        if not user_can_reach(user, login.area_id or ""):
            errors.append(_("This account is outside your area."))
        if Cadre.objects.filter(user=login).exclude(pk=current.pk).exists():
            errors.append(_("This account is already linked to another cadre."))
        if errors:
            raise ValidationError({"login": errors})
    if current.user_id == (login.pk if login else None):
        return current
    before = current.user_id
    current.user = login
    current.version += 1
    current.save(update_fields=["user", "version"])
    audit.record(
        user=user,
        action="support.cadre.link_login",
        obj=current,
        area_code=current.area_id,
        before={"user_id": before},
        after={"user_id": current.user_id},
        reason=reason,
    )
    cadre.user, cadre.version = current.user, current.version
    return current


def _ruled(message: str, source: str) -> str:
    """A refusal followed by the rule it applies, quoted from the policy file."""
    return _("%(message)s Rule: %(source)s") % {"message": message, "source": source}


def is_registered_poor(id_number: str) -> bool:
    """Whether the resident ID is a current member of a registered or consolidating household."""
    return Member.objects.filter(
        id_number=id_number,
        left_on__isnull=True,
        household__status__in=policy.rules().pairing.not_poor_statuses,
    ).exists()


def pairable_statuses() -> frozenset[str]:
    """Households in these statuses may be paired: those that must be, and those proposed."""
    return policy.rules().pairing.must_be_paired_statuses | {HouseholdStatus.PROPOSED}


def _entered_registry(household: Household) -> dt.date | None:
    """The household's first recorded step, or its status date when none is recorded."""
    first = household.status_changes.aggregate(first=Min("date"))["first"]
    return first or household.status_date


def _cadre_errors(cadre: Cadre) -> list[str]:
    rule = policy.rules().pairing
    errors: list[str] = []
    name = {"cadre": cadre.name}
    if not cadre.active:
        errors.append(_("%(cadre)s is no longer an active cadre.") % name)
    if rule.in_service_required and not cadre.in_service:
        errors.append(
            _ruled(_("%(cadre)s is not an in-service cadre.") % name, rule.in_service_source)
        )
    if cadre.level not in rule.eligible_levels:
        errors.append(
            _ruled(
                _(
                    "%(cadre)s works at the level “%(level)s”, whose staff may not support "
                    "households."
                )
                % {**name, "level": cadre.get_level_display()},
                rule.in_service_source,
            )
        )
    if is_registered_poor(cadre.id_number):
        errors.append(
            _ruled(
                _("%(cadre)s is a registered poor person and cannot be a support cadre.") % name,
                rule.not_poor_source,
            )
        )
    count = active_pairings(cadre).count()
    if count >= rule.max_households_per_cadre:
        errors.append(
            _ruled(
                _("%(cadre)s already supports %(count)d households; at most %(limit)d at a time.")
                % {**name, "count": count, "limit": rule.max_households_per_cadre},
                rule.max_households_source,
            )
        )
    return errors


def _household_errors(household: Household) -> list[str]:
    rule = policy.rules().pairing
    errors: list[str] = []
    if household.status not in pairable_statuses():
        errors.append(
            _(
                "A household that is %(status)s is not paired with a cadre: only proposed, "
                "registered and consolidating households are."
            )
            % {"status": household.get_status_display()}
        )
    current = (
        Pairing.objects.filter(household=household, ended_on__isnull=True)
        .select_related("cadre")
        .first()
    )
    if current is not None:
        errors.append(
            _ruled(
                _("This household already has a cadre, %(cadre)s: end that pairing or reassign it.")
                % {"cadre": current.cadre.name},
                rule.one_cadre_source,
            )
        )
    return errors


@transaction.atomic
def pair(
    user: Any, cadre: Cadre, household: Household, started_on: dt.date, reason: str = ""
) -> Pairing:
    """Pair a cadre with a household (结对帮扶), refusing with the rule each breach breaks.

    The cadre's row is locked first, so two pairings made at once cannot both take the
    last of his places.
    """
    require(user, MANAGE)
    require_area(user, household.village_id)
    require_area(user, cadre.area_id)
    cadre = Cadre.objects.select_for_update().get(pk=cadre.pk)
    household = Household.objects.select_for_update().get(pk=household.pk)
    errors: dict[str, list[str]] = {}
    if cadre_errors := _cadre_errors(cadre):
        errors["cadre"] = cadre_errors
    if household_errors := _household_errors(household):
        errors["household"] = household_errors
    entered = _entered_registry(household)
    if started_on > timezone.localdate():
        errors["started_on"] = [_("The date cannot be in the future.")]
    elif entered is not None and started_on < entered:
        errors["started_on"] = [
            _("The pairing cannot start before the household entered the registry (%(date)s).")
            % {"date": entered}
        ]
    if errors:
        raise ValidationError(errors)
    pairing = Pairing.objects.create(
        cadre=cadre, household=household, started_on=started_on, created_by=user
    )
    audit.record(
        user=user,
        action="support.pairing.create",
        obj=pairing,
        area_code=household.village_id,
        after=audit.snapshot(pairing, exclude=("created_at",)),
        reason=reason,
    )
    return pairing


@transaction.atomic
def end_pairing(
    user: Any,
    pairing: Pairing,
    ended_on: dt.date,
    reason: str,
    *,
    cause: str,
) -> Pairing:
    """End a pairing, dated and reasoned; the row stays as history.

    脱贫不脱钩: a household that exited keeps its cadre until the campaign ends, so "the
    household exited" is refused as a cause before then. A cadre who retires or moves is
    replaced with `reassign`.
    """
    require(user, MANAGE)
    household = pairing.household
    require_area(user, household.village_id)
    current = Pairing.objects.select_for_update().get(pk=pairing.pk)
    rule = policy.rules().pairing
    errors: dict[str, list[str]] = {}
    if current.ended_on is not None:
        raise ValidationError(
            _("This pairing already ended on %(date)s.") % {"date": current.ended_on}
        )
    if cause not in PairingEndCause.values:
        errors["end_cause"] = [_("Choose why the pairing ends.")]
    if not reason.strip():
        errors["end_reason"] = [_("Give the reason for ending the pairing.")]
    if ended_on > timezone.localdate():
        errors["ended_on"] = [_("The date cannot be in the future.")]
    elif ended_on < current.started_on:
        errors["ended_on"] = [
            _("The pairing cannot end before it started (%(date)s).") % {"date": current.started_on}
        ]
    if cause == PairingEndCause.HOUSEHOLD_EXITED and ended_on <= rule.campaign_ends:
        errors.setdefault("end_cause", []).append(
            _ruled(
                _(
                    "A household that exited poverty keeps its cadre until the campaign ends "
                    "on %(date)s (脱贫不脱钩)."
                )
                % {"date": rule.campaign_ends},
                rule.keep_after_exit_source,
            )
        )
    if errors:
        raise ValidationError(errors)
    current.ended_on, current.end_cause, current.end_reason = ended_on, cause, reason.strip()
    current.save(update_fields=["ended_on", "end_cause", "end_reason"])
    audit.record(
        user=user,
        action="support.pairing.end",
        obj=current,
        area_code=household.village_id,
        after={"ended_on": ended_on, "end_cause": cause, "end_reason": current.end_reason},
        reason=reason,
    )
    pairing.ended_on, pairing.end_cause, pairing.end_reason = (
        current.ended_on,
        current.end_cause,
        current.end_reason,
    )
    return current


@transaction.atomic
def reassign(
    user: Any,
    pairing: Pairing,
    cadre: Cadre,
    on: dt.date,
    reason: str,
    *,
    cause: str = PairingEndCause.CADRE_LEFT,
) -> Pairing:
    """Change a household's cadre (调整帮扶责任人): end the pairing and pair the new cadre
    on the same day, both or neither. Returns the new pairing; errors keyed as the form's
    fields (`cadre`, `on`, `end_cause`, `end_reason`)."""
    require(user, MANAGE)
    if cadre.pk == pairing.cadre_id:
        raise ValidationError({"cadre": [_("Choose a cadre other than the current one.")]})
    try:
        end_pairing(user, pairing, on, reason, cause=cause)
        return pair(user, cadre, pairing.household, on, reason)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        renamed = {"ended_on": "on", "started_on": "on"}
        raise ValidationError(
            {renamed.get(key, key): msgs for key, msgs in exc.message_dict.items()}
        ) from exc


# -- rectification lists (整改清单, seed 004) ------------------------------------------------
#
# Each list is a queryset over the area, computed in the database (EXISTS subqueries and
# aggregates), so a county's lists cost a few queries whatever its size.


def must_be_paired(user: Any, area_code: str) -> models.QuerySet[Household]:
    """Registered and consolidating households of the area that the user may see."""
    return (
        Household.objects.for_user(user)
        .in_area(area_code)
        .filter(status__in=policy.rules().pairing.must_be_paired_statuses)
        .select_related("village")
        .order_by("code")
    )


def households_without_cadre(user: Any, area_code: str) -> models.QuerySet[Household]:
    active = Pairing.objects.filter(household=OuterRef("pk"), ended_on__isnull=True)
    return must_be_paired(user, area_code).filter(~Exists(active))


def households_without_measure(user: Any, area_code: str) -> models.QuerySet[Household]:
    """Households with no measure in their plan (a dropped measure does not count)."""
    measures = Measure.objects.filter(plan__household=OuterRef("pk")).exclude(
        status=MeasureStatus.DROPPED
    )
    return must_be_paired(user, area_code).filter(~Exists(measures))


def households_not_visited(
    user: Any, area_code: str, year: int | None = None
) -> models.QuerySet[Household]:
    """Households no cadre visited in the calendar year (帮扶联系人全年没有上门)."""
    year = year or timezone.localdate().year
    visits = Visit.objects.filter(household=OuterRef("pk"), date__year=year)
    return must_be_paired(user, area_code).filter(~Exists(visits))


def with_household_count(cadres: models.QuerySet[Cadre]) -> Any:
    """Cadres annotated with `households`: how many they support now (active pairings)."""
    return cadres.annotate(
        households=Count("pairings", filter=Q(pairings__ended_on__isnull=True), distinct=True)
    )


def cadres_over_limit(user: Any, area_code: str) -> models.QuerySet[Cadre]:
    """Cadres of the area, or supporting a household in it, with more active pairings than
    the rule allows (pairings made before the rule, or imported)."""
    in_area = Pairing.objects.filter(
        cadre=OuterRef("pk"),
        ended_on__isnull=True,
        household__village__code__startswith=area_code,
    )
    cadres = Cadre.objects.for_user(user).filter(
        Q(area__code__startswith=area_code) | Exists(in_area)
    )
    return (
        with_household_count(cadres)
        .filter(households__gt=policy.rules().pairing.max_households_per_cadre)
        .select_related("area")
        .order_by("area_id", "name")
    )


def members_short_of_days(user: Any, area_code: str, year: int, month: int) -> list[Any]:
    """The members of the area's teams short of the monthly days in the village (Hunan),
    each a `MemberAttendance` of the teams' own count; one query per team of the area."""
    first, last = month_bounds(year, month)
    teams = (
        ResidentTeam.objects.for_user(user)
        .in_area(area_code)
        .filter(term_start__lte=last)
        .filter(Q(term_end__isnull=True) | Q(term_end__gte=first))
        .select_related("village")
        .order_by("village_id", "term_start")
    )
    return [row for team in teams for row in attendance(team, year, month) if row.short]


def copied_plans(user: Any, area_code: str) -> models.QuerySet[Plan]:
    """Plans of the area identical to another plan of the area (同质化), annotated with
    `copies`: how many of the area's plans share the fingerprint."""
    plans = Plan.objects.for_user(user).in_area(area_code).exclude(fingerprint="")
    same = (
        Plan.objects.in_area(area_code)
        .filter(fingerprint=OuterRef("fingerprint"))
        .order_by()
        .values("fingerprint")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        plans.annotate(copies=Subquery(same))
        .filter(copies__gte=2)
        .select_related("household__village")
        .order_by("fingerprint", "household__code")
    )


# ======================================================================================
# Resident teams, geofences, check-ins and attendance (驻村工作队)
# ======================================================================================


def team_timezone() -> zoneinfo.ZoneInfo:
    """Attendance days are the village's local dates, not the server's nor UTC's."""
    return zoneinfo.ZoneInfo(policy.rules().team.timezone)


#: A phone's clock may run a little ahead of the server's; further ahead is a typo or a trick.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: Roles a team has at most one of at a time (第一书记, 队长).
SINGLE_ROLES = (TeamRole.FIRST_SECRETARY, TeamRole.LEADER)
EARTH_RADIUS_M = 6_371_008.8
COORDINATE = Decimal("0.000001")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (a village is small: the sphere is close enough)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _distance_expr(fence: Geofence) -> Any:
    """`haversine_m` as a database expression over a CheckIn's coordinates, so that a
    village's check-ins are judged against a new geofence in one UPDATE (SQLite and
    PostgreSQL both have these functions through Django)."""
    lat0 = math.radians(float(fence.latitude))
    lon0 = float(fence.longitude)
    lat = Radians(Cast("latitude", FloatField()))
    half_dlat = (lat - Value(lat0)) / Value(2.0)
    half_dlon = Radians(Cast("longitude", FloatField()) - Value(lon0)) / Value(2.0)
    a = Power(Sin(half_dlat), 2) + Value(math.cos(lat0)) * Cos(lat) * Power(Sin(half_dlon), 2)
    return Round(Value(2 * EARTH_RADIUS_M) * ASin(Sqrt(a)))


def _judge_village_checkins(fence: Geofence) -> int:
    """Fill the distance and inside mark of every check-in in the fence's village."""
    checkins = CheckIn.objects.filter(member__team__village_id=fence.village_id)
    distance = _distance_expr(fence)
    return checkins.update(
        distance_m=Cast(distance, IntegerField()),
        inside=Case(
            When(GreaterThan(distance, Value(fence.radius_m)), then=Value(False)),
            default=Value(True),
        ),
    )


def _village(value: Area | str) -> Area:
    code = value.code if isinstance(value, Area) else str(value)
    area = Area.objects.filter(code=code).first()
    if area is None or area.level != AreaLevel.VILLAGE:
        raise _team_fail("village", _("Choose a village."))
    return area


def _team_fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _coordinates(latitude: Any, longitude: Any) -> tuple[Decimal, Decimal]:
    errors: dict[str, list[str]] = {}
    values: list[Decimal] = []
    for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        try:
            number = Decimal(str(value)).quantize(COORDINATE)
        except (InvalidOperation, ValueError, TypeError):
            number = None
        if number is None or not number.is_finite() or abs(number) > limit:
            errors[name] = [
                _("Enter a number between -%(limit)d and %(limit)d.") % {"limit": limit}
            ]
        else:
            values.append(number)
    if errors:
        raise ValidationError(errors)
    return values[0], values[1]


def active_on(day: dt.date, path: str = "") -> Q:
    """Memberships active on a day: joined by then and not left before it (`path` leads
    from another model to the membership, e.g. "members__")."""
    return Q(**{f"{path}joined_on__lte": day}) & (
        Q(**{f"{path}left_on__isnull": True}) | Q(**{f"{path}left_on__gte": day})
    )


@transaction.atomic
def create_team(
    user: Any,
    *,
    village: Area | str,
    sending_unit: str,
    term_start: dt.date,
    term_end: dt.date | None = None,
) -> ResidentTeam:
    """A resident work team sent by a unit to a village for a term (驻村工作队)."""
    require(user, MANAGE)
    area = _village(village)
    require_area(user, area.code)
    errors: dict[str, list[str]] = {}
    if not (sending_unit or "").strip():
        errors["sending_unit"] = [_("Name the sending unit.")]
    if term_end is not None and term_end < term_start:
        errors["term_end"] = [_("The term cannot end before it starts.")]
    if errors:
        raise ValidationError(errors)
    team = ResidentTeam.objects.create(
        village=area, sending_unit=sending_unit.strip(), term_start=term_start, term_end=term_end
    )
    audit.record(
        user=user,
        action="support.team.create",
        obj=team,
        area_code=area.code,
        after=audit.snapshot(team, exclude=("created_at",)),
    )
    return team


@transaction.atomic
def add_member(
    user: Any, team: ResidentTeam, *, cadre: Cadre, role: str, joined_on: dt.date
) -> TeamMember:
    """Put a cadre on a team. A team has at most one active first secretary and one
    leader, and a cadre serves on one active team at a time (so his check-ins and days
    belong to one village)."""
    require(user, MANAGE)
    require_area(user, team.village_id)
    # The team row is the lock: two managers adding a leader at once cannot both succeed.
    team = ResidentTeam.objects.select_for_update().get(pk=team.pk)
    if not Cadre.objects.for_user(user).filter(pk=cadre.pk).exists():
        raise PermissionDenied(_("This record is outside your area."))
    errors: dict[str, list[str]] = {}
    if role not in TeamRole.values:
        errors["role"] = [_("Choose a role.")]
    if not cadre.active:
        errors["cadre"] = [_("This cadre is no longer active.")]
    if joined_on < team.term_start or (team.term_end is not None and joined_on > team.term_end):
        errors["joined_on"] = [_("The date lies outside the team's term.")]
    # Memberships that are still on (or end after the new one starts) overlap it.
    overlapping = Q(left_on__isnull=True) | Q(left_on__gte=joined_on)
    if role in SINGLE_ROLES and team.members.filter(overlapping, role=role).exists():
        errors["role"] = [
            _("The team already has an active %(role)s; end that membership first.")
            % {"role": TeamRole(role).label}
        ]
    other = (
        TeamMember.objects.filter(overlapping, cadre=cadre).select_related("team__village").first()
    )
    if other is not None:
        errors["cadre"] = [
            _("%(cadre)s is already on the team in %(village)s; a cadre serves on one team.")
            % {"cadre": cadre.name, "village": other.team.village.name}
        ]
    if errors:
        raise ValidationError(errors)
    member = TeamMember.objects.create(team=team, cadre=cadre, role=role, joined_on=joined_on)
    audit.record(
        user=user,
        action="support.team.member_add",
        obj=member,
        area_code=team.village_id,
        after=audit.snapshot(member),
    )
    return member


@transaction.atomic
def end_membership(user: Any, member: TeamMember, *, left_on: dt.date, reason: str = "") -> None:
    """A member leaves the team on a day (his last day on it); kept as history."""
    require(user, MANAGE)
    require_area(user, member.team.village_id)
    member = TeamMember.objects.select_for_update().get(pk=member.pk)
    if member.left_on is not None:
        raise _team_fail("left_on", _("This membership has already ended."))
    if left_on < member.joined_on:
        raise _team_fail("left_on", _("A member cannot leave before joining."))
    last = member.checkins.order_by("-at").values_list("at", flat=True).first()
    if last is not None and last.astimezone(team_timezone()).date() > left_on:
        raise _team_fail(
            "left_on",
            _("The member checked in after that day (%(day)s).")
            % {"day": last.astimezone(team_timezone()).date().isoformat()},
        )
    before = audit.snapshot(member)
    member.left_on = left_on
    member.save(update_fields=["left_on"])
    audit.record(
        user=user,
        action="support.team.member_end",
        obj=member,
        area_code=member.team.village_id,
        before=before,
        after=audit.snapshot(member),
        reason=reason,
    )


@transaction.atomic
def set_geofence(
    user: Any,
    village: Area | str,
    latitude: Any,
    longitude: Any,
    radius_m: int,
    source: str = "county",
    reason: str = "",
) -> Geofence:
    """Set a village's centre and radius (电子围栏) and judge its check-ins against it.

    Every check-in of the village is judged again, earlier ones included: the fence says
    where the village is, so a corrected centre corrects the marks made against a wrong one
    (a fence from the first check-ins may sit on the township seat). The audit entry keeps
    the old fence and how many check-ins were judged again.
    """
    require(user, MANAGE)
    if source not in ("county", "checkins"):
        raise ValueError(f"unknown geofence source {source!r}")
    area = _village(village)
    require_area(user, area.code)
    lat, lon = _coordinates(latitude, longitude)
    if not isinstance(radius_m, int) or isinstance(radius_m, bool) or radius_m <= 0:
        raise _team_fail("radius_m", _("The radius must be a positive number of metres."))
    return _save_geofence(user, area, lat, lon, radius_m, source=source, reason=reason)


def _save_geofence(
    user: Any, area: Area, lat: Decimal, lon: Decimal, radius_m: int, *, source: str, reason: str
) -> Geofence:
    fence = Geofence.objects.select_for_update().filter(village=area).first()
    before = audit.snapshot(fence, exclude=("updated_at",)) if fence else None
    if fence is None:
        fence = Geofence(village=area)
    fence.latitude, fence.longitude, fence.radius_m, fence.source = lat, lon, radius_m, source
    fence.save()
    judged = _judge_village_checkins(fence)
    audit.record(
        user=user,
        action="support.geofence.set",
        obj=fence,
        area_code=area.code,
        before=before,
        after={**audit.snapshot(fence, exclude=("updated_at",)), "checkins_judged": judged},
        reason=reason,
    )
    return fence


def _may_check_in(user: Any, member: TeamMember) -> bool:
    if member.cadre.user_id is not None and member.cadre.user_id == user.pk:
        return bool(user.has_perm(RECORD))
    return bool(user.has_perm(MANAGE))


@transaction.atomic
def check_in(
    user: Any,
    member: TeamMember,
    *,
    at: dt.datetime,
    latitude: Any,
    longitude: Any,
    accuracy_m: Any = None,
) -> CheckIn:
    """A member's check-in (签到) from a phone: where and when, judged against the
    village's geofence (Hunan: 实行GPS定位管理).

    Only the member himself (his linked login) checks in, or a manager recording it for
    him. A village without a fence gets one from its first N check-ins (support.toml
    team.geofence_from_first_checkins): their mean position, the default radius; the
    check-ins made before it are judged then.
    """
    member = TeamMember.objects.select_related("team", "cadre").get(pk=member.pk)
    village = member.team.village_id
    if not _may_check_in(user, member):
        raise PermissionDenied(_("Only the member or a manager may record a check-in."))
    require_area(user, village)
    lat, lon = _coordinates(latitude, longitude)
    errors: dict[str, list[str]] = {}
    accuracy: int | None = None
    if accuracy_m not in (None, ""):
        try:
            accuracy = round(float(accuracy_m))
        except (TypeError, ValueError, OverflowError):
            accuracy = -1
        if accuracy < 0:
            errors["accuracy_m"] = [_("The accuracy must be a number of metres.")]
    if timezone.is_naive(at):
        raise ValueError("check_in needs an aware datetime")
    if at > timezone.now() + CLOCK_SKEW:
        errors["at"] = [_("The time of a check-in cannot be in the future.")]
    day = at.astimezone(team_timezone()).date()
    if not (member.joined_on <= day and (member.left_on is None or day <= member.left_on)):
        errors["at"] = [
            _("%(cadre)s was not on the team on %(day)s.")
            % {"cadre": member.cadre.name, "day": day.isoformat()}
        ]
    if errors:
        raise ValidationError(errors)
    # Serialises the check-ins of a village that has no fence yet, so the fence is made
    # once, from exactly the first N.
    Area.objects.select_for_update().filter(code=village).first()
    fence = Geofence.objects.filter(village_id=village).first()
    checkin = CheckIn(member=member, at=at, latitude=lat, longitude=lon, accuracy_m=accuracy)
    if fence is not None:
        centre = float(fence.latitude), float(fence.longitude)
        checkin.distance_m = round(haversine_m(float(lat), float(lon), *centre))
        checkin.inside = checkin.distance_m <= fence.radius_m
    checkin.save()
    audit.record(
        user=user,
        action="support.checkin.record",
        obj=checkin,
        area_code=village,
        after=audit.snapshot(checkin, exclude=("recorded_at",)),
    )
    if fence is None:
        first = CheckIn.objects.filter(member__team__village_id=village).order_by("at", "id")
        needed = policy.rules().team.geofence_from_first_checkins
        ids = list(first.values_list("id", flat=True)[:needed])
        if len(ids) >= needed:
            mean = CheckIn.objects.filter(id__in=ids).aggregate(
                lat=Avg("latitude"), lon=Avg("longitude")
            )
            lat, lon = _coordinates(mean["lat"], mean["lon"])
            _save_geofence(
                user,
                Area.objects.get(code=village),
                lat,
                lon,
                policy.rules().team.default_radius_m,
                source="checkins",
                reason=_("The centre of the first %(n)d check-ins.") % {"n": needed},
            )
            checkin.refresh_from_db()
    return checkin


@dataclass(frozen=True)
class MemberAttendance:
    """A member's month: days in the village against the rule (Hunan: ≥ 20 days)."""

    member: TeamMember
    days_on_team: int
    days_inside: int
    days_outside_only: int
    #: Days with check-ins made before the village had a fence (not judged yet).
    days_unjudged: int
    required: int

    @property
    def short(self) -> bool:
        return self.days_inside < self.required


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and the last day of a month."""
    first = dt.date(year, month, 1)
    return first, first.replace(day=calendar.monthrange(year, month)[1])


def attendance(team: ResidentTeam, year: int, month: int) -> list[MemberAttendance]:
    """Each member's days in the village in a month (Hunan: 每月驻村时间不少于20天，实行GPS
    定位管理; support.toml team.min_days_per_month).

    A day is a local date in the village's time zone (team.timezone, Asia/Shanghai): a
    check-in at 17:30 UTC on the 31st is in the village at 01:30 on the 1st. A day counts
    once however many check-ins it has, and counts as in the village when at least one of
    them was inside the geofence; a day with only outside check-ins is shown apart and
    does not count. Counted in the database, grouped by local date.

    The rule is per month and is not pro-rated by the month's length: February needs 20
    days like March. A member on the team for only part of the month (joined or left in
    it) is listed with the days he was on the team, and his required days are the rule's
    share of those: ceil(20 × days on the team ÷ days in the month). Requiring the full 20
    of someone who joined on the 20th would list him short whatever he did; requiring
    nothing would let a member escape the month by joining on the 2nd. The share keeps the
    rule's own proportion (about 10 days away a month) for every member.
    """
    rules = policy.rules().team
    tz = team_timezone()
    first, last = month_bounds(year, month)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    in_month = Q(checkins__at__gte=start, checkins__at__lt=end)
    day = TruncDate("checkins__at", tzinfo=tz)
    members = (
        team.members.filter(joined_on__lte=last)
        .filter(Q(left_on__isnull=True) | Q(left_on__gte=first))
        .select_related("cadre")
        .annotate(
            days_any=Count(day, filter=in_month, distinct=True),
            days_judged=Count(
                day, filter=in_month & Q(checkins__inside__isnull=False), distinct=True
            ),
            days_inside=Count(day, filter=in_month & Q(checkins__inside=True), distinct=True),
        )
        .order_by("role", "cadre__name", "joined_on")
    )
    month_days = (last - first).days + 1
    min_days = rules.min_days_per_month
    result = []
    for m in members:
        on_from = max(m.joined_on, first)
        on_to = min(m.left_on or last, last)
        days_on = (on_to - on_from).days + 1
        result.append(
            MemberAttendance(
                member=m,
                days_on_team=days_on,
                days_inside=m.days_inside,
                days_outside_only=m.days_judged - m.days_inside,
                days_unjudged=m.days_any - m.days_judged,
                required=-(-min_days * days_on // month_days),
            )
        )
    return result


# ======================================================================================
# Plans and measures (一户一策), visits (走访), ledgers (一户一册一卡)
# ======================================================================================

MEASURE_FIELDS = (
    "category",
    "kind",
    "target",
    "amount",
    "funding_source",
    "starts_on",
    "ends_on",
    "responsible",
    "status",
    "progress",
    "result",
)


def _plan_fail(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _plan_area(plan: Plan) -> str:
    return plan.household.village_id


def suggested_measures(household: Household) -> list[policy.MeasureKind]:
    """The catalogue's measures for the household's causes: the main cause's first, then
    each other cause's, without repeats (DOMAIN.md §4: a plan is made from the causes)."""
    catalogue = policy.measures()
    causes = [household.main_cause, *(household.other_causes or [])]
    seen: dict[str, policy.MeasureKind] = {}
    for cause in causes:
        for code in catalogue.suggest.get(str(cause), ()):
            seen.setdefault(code, catalogue.kinds[code])
    return list(seen.values())


def _normalised(text: str) -> str:
    # str.split() also splits on the ideographic space (U+3000) a Chinese IME types.
    return " ".join((text or "").split())


def plan_fingerprint(measures: Iterable[Measure]) -> str:
    """SHA-256 of the plan's measures in a canonical order, "" for a plan without any.

    Only what makes two plans the same help counts (kind, target, amount, funding): dates,
    the person responsible and progress differ between households even in a copied plan.
    """
    rows = sorted(
        [
            m.kind,
            _normalised(m.target),
            str(Decimal(m.amount).quantize(Decimal("0.01"))),
            _normalised(m.funding_source),
        ]
        for m in measures
    )
    if not rows:
        return ""
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lock_plan(plan: Plan, expected_version: int | None) -> Plan:
    current = Plan.objects.select_for_update().select_related("household").get(pk=plan.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleEdit(current.version)
    return current


def _save_plan(current: Plan, caller: Plan) -> None:
    """After a change to the plan or its measures: a new version, the fingerprint anew."""
    current.fingerprint = plan_fingerprint(current.measures.all())
    current.version += 1
    current.save(update_fields=["fingerprint", "version", "goal", "updated_at"])
    caller.version = current.version
    caller.fingerprint = current.fingerprint


@transaction.atomic
def make_plan(user: Any, household: Household, goal: str = "") -> Plan:
    """Open the household's plan (一户一策): one per household, for households on or
    entering the registry and those consolidating after exit (policy/measures.toml)."""
    require(user, RECORD)
    require_area(user, household.village_id)
    catalogue = policy.measures()
    household = Household.objects.select_for_update().get(pk=household.pk)
    if household.status not in catalogue.plan_statuses:
        raise _plan_fail(
            "household",
            _("A plan is made for proposed, registered and consolidating households only.")
            + f" ({catalogue.plan_statuses_source})",
        )
    if Plan.objects.filter(household=household).exists():
        raise _plan_fail("household", _("This household already has its plan: one per household."))
    plan = Plan.objects.create(household=household, goal=goal.strip(), created_by=user)
    audit.record(
        user=user,
        action="support.plan.create",
        obj=plan,
        area_code=household.village_id,
        after={"household": household.pk, "goal": plan.goal},
    )
    return plan


@transaction.atomic
def update_plan(user: Any, plan: Plan, goal: str, expected_version: int | None) -> Plan:
    require(user, RECORD)
    require_area(user, _plan_area(plan))
    current = _lock_plan(plan, expected_version)
    before = current.goal
    current.goal = goal.strip()
    if current.goal == before:
        return current
    _save_plan(current, plan)
    audit.record(
        user=user,
        action="support.plan.update",
        obj=current,
        area_code=_plan_area(current),
        before={"goal": before},
        after={"goal": current.goal},
    )
    return current


def _clean_measure(measure: Measure, errors: dict[str, list[str]]) -> None:
    """The measure's rules, every broken one reported at once by field."""
    catalogue = policy.measures()
    category = catalogue.categories.get(measure.category)
    kind = catalogue.kinds.get(measure.kind)
    if category is None:
        errors.setdefault("category", []).append(_("Choose a category from the catalogue."))
    if kind is None:
        errors.setdefault("kind", []).append(_("Choose a measure from the catalogue."))
    elif category is not None and kind.category != category.code:
        errors.setdefault("kind", []).append(
            _("This measure belongs to another category (%(category)s).")
            % {"category": catalogue.categories[kind.category].label}
        )
    measure.target = (measure.target or "").strip()
    if not measure.target:
        errors.setdefault("target", []).append(_("Say what the measure is to achieve."))
    try:
        measure.amount = Decimal(measure.amount if measure.amount is not None else "0")
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault("amount", []).append(_("Enter an amount in yuan."))
    else:
        if measure.amount < 0:
            errors.setdefault("amount", []).append(_("The amount cannot be negative."))
        elif measure.amount >= Decimal("1e10"):
            errors.setdefault("amount", []).append(_("The amount is too large."))
    measure.funding_source = (measure.funding_source or "").strip()
    if measure.amount and measure.amount > 0 and not measure.funding_source:
        errors.setdefault("funding_source", []).append(
            _("Say who pays for a measure with an amount.")
        )
    if not measure.starts_on:
        errors.setdefault("starts_on", []).append(_("Enter the day the measure starts."))
    elif measure.ends_on and measure.ends_on < measure.starts_on:
        errors.setdefault("ends_on", []).append(_("A measure cannot end before it starts."))
    measure.responsible = (measure.responsible or "").strip()
    if not measure.responsible:
        errors.setdefault("responsible", []).append(_("Name the person responsible."))
    if measure.status not in MeasureStatus.values:
        errors.setdefault("status", []).append(_("Choose a status."))
    if not isinstance(measure.progress, int) or not 0 <= measure.progress <= 100:
        errors.setdefault("progress", []).append(_("Progress lies between 0 and 100 %."))
    measure.result = (measure.result or "").strip()
    if measure.status == MeasureStatus.DONE:
        if not measure.result:
            errors.setdefault("result", []).append(
                _("Record the result of a measure that is done.")
            )
        if measure.progress != 100:
            errors.setdefault("progress", []).append(_("A measure that is done is at 100 %."))


def _apply_measure(measure: Measure, data: Mapping[str, Any]) -> None:
    for name in MEASURE_FIELDS:
        if name in data:
            setattr(measure, name, data[name])


def _measure_snapshot(measure: Measure) -> dict[str, Any]:
    return audit.snapshot(measure, exclude=("created_at", "updated_at"))


@transaction.atomic
def add_measure(
    user: Any, plan: Plan, data: Mapping[str, Any], expected_version: int | None
) -> Measure:
    """Add a measure from the catalogue to the plan (version checked, fingerprint renewed)."""
    require(user, RECORD)
    require_area(user, _plan_area(plan))
    current = _lock_plan(plan, expected_version)
    measure = Measure(plan=current)
    _apply_measure(measure, data)
    errors: dict[str, list[str]] = {}
    _clean_measure(measure, errors)
    if errors:
        raise ValidationError(errors)
    measure.save()
    _save_plan(current, plan)
    audit.record(
        user=user,
        action="support.measure.create",
        obj=measure,
        area_code=_plan_area(current),
        after={**_measure_snapshot(measure), "fingerprint": current.fingerprint},
    )
    return measure


@transaction.atomic
def update_measure(
    user: Any, measure: Measure, data: Mapping[str, Any], expected_version: int | None
) -> Measure:
    """Change a measure (its progress, its result, …) under the plan's version."""
    require(user, RECORD)
    plan = measure.plan
    require_area(user, _plan_area(plan))
    current_plan = _lock_plan(plan, expected_version)
    current = Measure.objects.get(pk=measure.pk, plan=current_plan)
    before = _measure_snapshot(current)
    _apply_measure(current, data)
    errors: dict[str, list[str]] = {}
    _clean_measure(current, errors)
    if errors:
        raise ValidationError(errors)
    old, new = audit.diff(before, _measure_snapshot(current))
    if not new:
        return current
    current.save()
    _save_plan(current_plan, plan)
    audit.record(
        user=user,
        action="support.measure.update",
        obj=current,
        area_code=_plan_area(current_plan),
        before=old,
        after=new,
    )
    return current


@transaction.atomic
def remove_measure(
    user: Any, measure: Measure, expected_version: int | None, reason: str = ""
) -> None:
    """Take a measure off the plan (entered by mistake); the audit keeps what it was."""
    require(user, RECORD)
    plan = measure.plan
    require_area(user, _plan_area(plan))
    current_plan = _lock_plan(plan, expected_version)
    current = Measure.objects.get(pk=measure.pk, plan=current_plan)
    before = _measure_snapshot(current)
    pk = current.pk
    current.delete()
    _save_plan(current_plan, plan)
    audit.record(
        user=user,
        action="support.measure.remove",
        object_type="support.measure",
        object_id=str(pk),
        area_code=_plan_area(current_plan),
        before=before,
        reason=reason,
    )


def identical_plans(user: Any, area_code: str) -> list[list[Plan]]:
    """Groups of households in the area whose plans, not empty, are identical in every
    measure (同质化, seed 004: 帮扶措施单一且同质化现象突出) — each group for review.

    One aggregate finds the repeated fingerprints; only those plans are then loaded.
    """
    scoped = Plan.objects.for_user(user).in_area(area_code).exclude(fingerprint="")
    repeated = (
        scoped.values("fingerprint")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("fingerprint", flat=True)
    )
    groups: dict[str, list[Plan]] = {}
    for plan in (
        scoped.filter(fingerprint__in=list(repeated))
        .select_related("household", "household__village")
        .order_by("fingerprint", "household__code")
    ):
        groups.setdefault(plan.fingerprint, []).append(plan)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].household.code))


def copies_of(user: Any, plan: Plan) -> list[Plan]:
    """The other plans the user may see that are identical to this one (同质化)."""
    if not plan.fingerprint:
        return []
    return list(
        Plan.objects.for_user(user)
        .filter(fingerprint=plan.fingerprint)
        .exclude(pk=plan.pk)
        .select_related("household", "household__village")
        .order_by("household__code")
    )


def paired_on(cadre: Cadre, household: Household, day: dt.date) -> bool:
    """Whether the cadre was the household's paired cadre on that day."""
    return (
        Pairing.objects.filter(cadre=cadre, household=household, started_on__lte=day)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=day))
        .exists()
    )


def _check_photos(photos: Sequence[UploadedFile], errors: dict[str, list[str]]) -> None:
    catalogue = policy.measures()
    if len(photos) > catalogue.max_photos:
        errors.setdefault("photos", []).append(
            _("At most %(n)d photos a visit.") % {"n": catalogue.max_photos}
        )
    for photo in photos:
        kind = (getattr(photo, "content_type", "") or "").lower()
        if not kind.startswith("image/"):
            errors.setdefault("photos", []).append(
                _("%(name)s is not a photo.") % {"name": photo.name}
            )
        elif (photo.size or 0) > catalogue.max_photo_mb * 1024 * 1024:
            errors.setdefault("photos", []).append(
                _("%(name)s is larger than %(mb)d MB.")
                % {"name": photo.name, "mb": catalogue.max_photo_mb}
            )


@transaction.atomic
def record_visit(
    user: Any,
    household: Household,
    *,
    date: dt.date,
    work_done: str,
    needs: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    photos: Sequence[UploadedFile] = (),
    cadre: Cadre | None = None,
) -> Visit:
    """Record a cadre's visit to the household (走访), as a rule from the cadre's phone.

    Who: the user's own cadre record when `cadre` is not given. The visiting cadre must be
    paired with the household on the visit's day (DOMAIN.md §4: a cadre visits *their*
    households); a manager of support (manage_support) may record a visit by any cadre of
    the area — a resident-team member's, or one made before the pairing was entered.
    """
    require(user, RECORD)
    require_area(user, household.village_id)
    errors: dict[str, list[str]] = {}
    own = Cadre.objects.filter(user=user).first() if user.is_authenticated else None
    cadre = cadre or own
    manager = user.has_perm(MANAGE)
    if cadre is None:
        errors["cadre"] = [_("Choose the cadre who made the visit.")]
    elif date and not paired_on(cadre, household, date):
        visible = cadre == own or Cadre.objects.for_user(user).filter(pk=cadre.pk).exists()
        if not (manager and visible):
            errors["cadre"] = [
                _("%(cadre)s was not paired with this household on that day.") % {"cadre": cadre}
            ]
    if not date:
        errors["date"] = [_("Enter the day of the visit.")]
    elif date > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    if (latitude is None) != (longitude is None):
        errors["latitude"] = [_("Give both latitude and longitude, or neither.")]
    elif latitude is not None and longitude is not None:
        if not Decimal("-90") <= Decimal(latitude) <= Decimal("90"):
            errors["latitude"] = [_("The latitude lies between -90 and 90.")]
        if not Decimal("-180") <= Decimal(longitude) <= Decimal("180"):
            errors["longitude"] = [_("The longitude lies between -180 and 180.")]
    work_done = (work_done or "").strip()
    if not work_done:
        errors["work_done"] = [_("Say what was done on the visit.")]
    _check_photos(photos, errors)
    if errors:
        raise ValidationError(errors)
    assert cadre is not None
    quantum = Decimal("0.000001")
    visit = Visit.objects.create(
        household=household,
        cadre=cadre,
        date=date,
        latitude=None if latitude is None else Decimal(latitude).quantize(quantum),
        longitude=None if longitude is None else Decimal(longitude).quantize(quantum),
        work_done=work_done,
        needs=(needs or "").strip(),
        recorded_by=user,
    )
    stored = registry_services._store_attachments(user, photos)
    visit.photos.set(stored)
    audit.record(
        user=user,
        action="support.visit.create",
        obj=visit,
        area_code=household.village_id,
        after={
            **audit.snapshot(visit, exclude=("recorded_at",)),
            "photos": [{"name": a.name, "sha256": a.sha256} for a in stored],
        },
    )
    return visit


@transaction.atomic
def add_ledger_entry(
    user: Any,
    household: Household,
    *,
    date: dt.date,
    direction: str,
    category: str,
    amount: Decimal,
    note: str = "",
) -> LedgerEntry:
    """A line of the household's running ledger (一户一册一卡, seed 000 Guangxi)."""
    require(user, RECORD)
    require_area(user, household.village_id)
    categories = policy.measures().ledger_categories
    errors: dict[str, list[str]] = {}
    if direction not in categories:
        errors["direction"] = [_("Choose income or expense.")]
    elif category not in categories[direction]:
        errors["category"] = [_("Choose a category of this direction from the list.")]
    if not date:
        errors["date"] = [_("Enter the date.")]
    elif date > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        errors["amount"] = [_("Enter an amount in yuan.")]
    else:
        if amount <= 0:
            errors["amount"] = [_("The amount must be above zero.")]
        elif amount >= Decimal("1e10"):
            errors["amount"] = [_("The amount is too large.")]
    if errors:
        raise ValidationError(errors)
    entry = LedgerEntry.objects.create(
        household=household,
        date=date,
        direction=direction,
        category=category,
        amount=amount,
        note=(note or "").strip(),
        recorded_by=user,
    )
    audit.record(
        user=user,
        action="support.ledger.add",
        obj=entry,
        area_code=household.village_id,
        after=audit.snapshot(entry, exclude=("recorded_at",)),
    )
    return entry


@dataclass
class LedgerLine:
    entry: LedgerEntry
    balance: Decimal


@dataclass
class LedgerYear:
    year: int
    lines: list[LedgerLine]
    income: Decimal
    expense: Decimal

    @property
    def balance(self) -> Decimal:
        return self.income - self.expense


def ledger_by_year(entries: Iterable[LedgerEntry]) -> list[LedgerYear]:
    """The ledger by calendar year, newest year first, each with its running balance from
    the year's first entry (the booklet's yearly page starts at zero)."""
    years: dict[int, LedgerYear] = {}
    for entry in sorted(entries, key=lambda e: (e.date, e.pk)):
        year = years.setdefault(
            entry.date.year, LedgerYear(entry.date.year, [], Decimal("0"), Decimal("0"))
        )
        if entry.direction == "income":
            year.income += entry.amount
        else:
            year.expense += entry.amount
        year.lines.append(LedgerLine(entry, year.balance))
    return [years[y] for y in sorted(years, reverse=True)]


# ======================================================================================
# Social help (精准扶贫直通车)
# ======================================================================================

# The four stages (seed 000, Shandong): 汇集需求 (submitted, then published or rejected after
# review) → 认领申报 (claimed) → 组织实施 (carried out) → 成效验收 (accepted with a grade).
# Donors and companies have no login here: staff record a claim on the donor's behalf,
# with the donor's name and contact as the donor gave them.

NEED_ACTION = "support.need."
#: What the public sees must not identify a person: a resident ID or a mobile number in
#: the title or description is refused before it can be published.
_RESIDENT_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
NEED_FIELDS = ("title", "description", "amount")


def _need_snapshot(need: Need) -> dict[str, Any]:
    return audit.snapshot(need, exclude=("created_at",))


def _lock_need(need: Need, refusal: str, allowed: str) -> Need:
    """The need locked for the step; `refusal` (with %(status)s) when it is not `allowed`."""
    current = Need.objects.select_for_update().get(pk=need.pk)
    if current.status != allowed:
        message = refusal % {"status": current.get_status_display()}
        raise ValidationError({"__all__": [_ruled(message, policy.need_rules().stages_source)]})
    return current


def _require_reviewer(user: Any, need: Need) -> None:
    """Review and acceptance are the poverty office's (扶贫办): a manager of a township or
    above, never the village that submitted the need."""
    require(user, MANAGE)
    require_area(user, need.village_id)
    rules = policy.need_rules()
    if not user.is_superuser and (user.area is None or user.area.level not in rules.review_levels):
        raise PermissionDenied(
            _ruled(
                _("Only a manager of a township or above reviews and accepts needs."),
                rules.review_source,
            )
        )


def _need_date(
    value: dt.date | None, field: str, after: dt.date | None, errors: dict[str, list[str]]
) -> None:
    if value is None:
        errors[field] = [_("Give the date.")]
    elif value > timezone.localdate():
        errors[field] = [_("The date cannot be in the future.")]
    elif after is not None and value < after:
        errors[field] = [
            _("The date cannot be before the previous stage (%(date)s).")
            % {"date": after.isoformat()}
        ]


def _personal_data_errors(need: Need) -> list[str]:
    """Why the need's public text would identify a person (DESIGN.md privacy rule)."""
    rules = policy.need_rules()
    text = f"{need.title}\n{need.description}"
    errors: list[str] = []
    if _RESIDENT_ID.search(text) or _MOBILE.search(text):
        errors.append(
            _ruled(
                _("The title and description are public: remove the resident ID or phone number."),
                rules.privacy_source,
            )
        )
    household = need.household
    if household is not None:
        names = Member.objects.filter(household=household).values_list("name", flat=True)
        named = sorted({n for n in [household.head_name, *names] if n and n in text})
        if named:
            errors.append(
                _ruled(
                    _("The title and description are public: remove the name %(names)s.")
                    % {"names": "、".join(named)},
                    rules.privacy_source,
                )
            )
    return errors


@transaction.atomic
def submit_need(
    user: Any,
    *,
    title: str,
    description: str,
    amount: Decimal | int | str,
    village: Area | None = None,
    household: Household | None = None,
    reason: str = "",
) -> Need:
    """汇集需求: village staff put a village's or a household's need on the list for review."""
    require(user, RECORD)
    rules = policy.need_rules()
    errors: dict[str, list[str]] = {}
    if (village is None) == (household is None):
        raise ValidationError({"__all__": [_("Name either a village or a household.")]})
    if household is not None:
        require_area(user, household.village_id)
        village = household.village
        if household.status not in rules.household_statuses:
            errors["household"] = [
                _ruled(
                    _(
                        "A household that is %(status)s has no social-help need: only "
                        "registered and consolidating households do."
                    )
                    % {"status": household.get_status_display()},
                    rules.household_source,
                )
            ]
    assert village is not None
    require_area(user, village.code)
    if village.level != AreaLevel.VILLAGE:
        errors["village"] = [_("A need belongs to a village, not to a larger area.")]
    need = Need(
        village=village,
        household=household,
        title=(title or "").strip(),
        description=(description or "").strip(),
        created_by=user,
    )
    try:
        need.amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        errors["amount"] = [_("Enter an amount in yuan.")]
    else:
        if need.amount < 0:
            errors["amount"] = [_("The amount cannot be negative.")]
    try:
        need.full_clean(exclude=["created_by", "amount", "village", "household"])
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    privacy = _personal_data_errors(need)
    if privacy:
        errors.setdefault("description", []).extend(privacy)
    if errors:
        raise ValidationError(errors)
    need.save()
    audit.record(
        user=user,
        action=NEED_ACTION + "submit",
        obj=need,
        area_code=need.village_id,
        after=_need_snapshot(need),
        reason=reason,
    )
    return need


def _save_step(user: Any, need: Need, before: dict[str, Any], action: str, reason: str) -> None:
    need.save()
    old, new = audit.diff(before, _need_snapshot(need))
    audit.record(
        user=user,
        action=NEED_ACTION + action,
        obj=need,
        area_code=need.village_id,
        before=old,
        after=new,
        reason=reason,
    )


@transaction.atomic
def review_need(
    user: Any, need: Need, *, publish: bool, note: str = "", on: dt.date | None = None
) -> Need:
    """Publish a submitted need for companies and donors, or reject it with the reason why."""
    _require_reviewer(user, need)
    current = _lock_need(
        need,
        _("Only a submitted need can be reviewed; this one is %(status)s."),
        NeedStatus.SUBMITTED,
    )
    before = _need_snapshot(current)
    errors: dict[str, list[str]] = {}
    on = on or timezone.localdate()
    _need_date(on, "reviewed_on", timezone.localtime(current.created_at).date(), errors)
    note = (note or "").strip()
    if not publish and not note:
        errors["note"] = [_("Say why the need is rejected: the village reads it.")]
    if publish:
        errors.setdefault("__all__", []).extend(_personal_data_errors(current))
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise ValidationError(errors)
    current.status = NeedStatus.PUBLISHED if publish else NeedStatus.REJECTED
    current.reviewed_on = on
    current.review_note = note
    _save_step(user, current, before, "publish" if publish else "reject", note)
    return current


@transaction.atomic
def claim_need(
    user: Any,
    need: Need,
    *,
    donor: str,
    donor_contact: str,
    claimed_on: dt.date,
    reason: str = "",
) -> Need:
    """认领申报: a company or donor claims a published need. Donors have no login here, so
    the staff who received the claim record it on the donor's behalf."""
    require(user, RECORD)
    require_area(user, need.village_id)
    current = _lock_need(
        need,
        _("Only a published need can be claimed; this one is %(status)s."),
        NeedStatus.PUBLISHED,
    )
    before = _need_snapshot(current)
    errors: dict[str, list[str]] = {}
    current.donor, current.donor_contact = (donor or "").strip(), (donor_contact or "").strip()
    if not current.donor:
        errors["donor"] = [_("Name the company or donor who claims the need.")]
    if not current.donor_contact:
        errors["donor_contact"] = [_("Give the donor's contact.")]
    _need_date(claimed_on, "claimed_on", current.reviewed_on, errors)
    if errors:
        raise ValidationError(errors)
    current.claimed_on = claimed_on
    current.status = NeedStatus.CLAIMED
    _save_step(user, current, before, "claim", reason)
    return current


@transaction.atomic
def record_carried_out(
    user: Any, need: Need, *, carried_out_on: dt.date, outcome: str, reason: str = ""
) -> Need:
    """组织实施: the claimed help was given; what was done and when."""
    require(user, RECORD)
    require_area(user, need.village_id)
    current = _lock_need(
        need,
        _("Only a claimed need can be recorded as carried out; this one is %(status)s."),
        NeedStatus.CLAIMED,
    )
    before = _need_snapshot(current)
    errors: dict[str, list[str]] = {}
    current.outcome = (outcome or "").strip()
    if not current.outcome:
        errors["outcome"] = [_("Say what was done.")]
    _need_date(carried_out_on, "carried_out_on", current.claimed_on, errors)
    if errors:
        raise ValidationError(errors)
    current.carried_out_on = carried_out_on
    current.status = NeedStatus.CARRIED_OUT
    _save_step(user, current, before, "carry_out", reason)
    return current


@transaction.atomic
def accept_need(user: Any, need: Need, *, grade: str, accepted_on: dt.date, note: str = "") -> Need:
    """成效验收: the poverty office's group accepts the work and grades it (优秀/良好/一般/较差)."""
    _require_reviewer(user, need)
    current = _lock_need(
        need,
        _("Only a need that was carried out can be accepted and graded; this one is %(status)s."),
        NeedStatus.CARRIED_OUT,
    )
    before = _need_snapshot(current)
    errors: dict[str, list[str]] = {}
    if grade not in NeedGrade.values:
        errors["grade"] = [
            _ruled(
                _("Grade the work excellent, good, fair or poor."),
                policy.need_rules().acceptance_source,
            )
        ]
    _need_date(accepted_on, "accepted_on", current.carried_out_on, errors)
    if errors:
        raise ValidationError(errors)
    current.grade = grade
    current.accepted_on = accepted_on
    current.acceptance_note = (note or "").strip()
    current.status = NeedStatus.ACCEPTED
    _save_step(user, current, before, "accept", current.acceptance_note)
    return current


@dataclass(frozen=True)
class PublicNeed:
    """What the public page may show of a need: no person's name, ID, phone or income."""

    pk: int
    village: str
    township: str
    county: str
    for_household: bool
    title: str
    description: str
    amount: Decimal
    published_on: dt.date | None


def public_needs() -> list[PublicNeed]:
    """The needs open for a claim, as companies and donors see them (public information).

    Not `for_user`: the page has no user. Only these fields leave the query, so a template
    cannot show more than this by mistake.
    """
    rows = (
        Need.objects.filter(status=NeedStatus.PUBLISHED)
        .order_by("-reviewed_on", "-pk")
        .values_list(
            "pk",
            "village__name",
            "village__parent__name",
            "village__parent__parent__name",
            "household_id",
            "title",
            "description",
            "amount",
            "reviewed_on",
        )
    )
    return [
        PublicNeed(pk, v, t, c, h is not None, title, desc, amount, on)
        for pk, v, t, c, h, title, desc, amount, on in rows
    ]


@dataclass(frozen=True)
class NeedStage:
    """One step of a need's history as the audit trail recorded it."""

    action: str
    label: str
    date: dt.date | None
    at: dt.datetime
    username: str
    note: str


def need_history(need: Need) -> list[NeedStage]:
    """The need's stages in the order they happened, from the audit trail."""
    labels = {
        "submit": _("Submitted"),
        "publish": _("Published"),
        "reject": _("Rejected"),
        "claim": _("Claimed"),
        "carry_out": _("Carried out"),
        "accept": _("Accepted"),
    }
    dates = {
        "submit": None,
        "publish": need.reviewed_on,
        "reject": need.reviewed_on,
        "claim": need.claimed_on,
        "carry_out": need.carried_out_on,
        "accept": need.accepted_on,
    }
    entries = AuditEntry.objects.filter(
        object_type=Need._meta.label_lower,
        object_id=str(need.pk),
        action__startswith=NEED_ACTION,
    ).order_by("pk")
    stages = []
    for entry in entries:
        step = entry.action.removeprefix(NEED_ACTION)
        date = dates.get(step) or timezone.localtime(entry.timestamp).date()
        stages.append(
            NeedStage(
                step,
                str(labels.get(step, step)),
                date,
                entry.timestamp,
                entry.username,
                entry.reason,
            )
        )
    return stages
