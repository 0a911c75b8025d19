"""Support pages: views. Sections by subject, in the order of services.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import (
    login_not_required,
    login_required,
    permission_required,
)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_tables2 import RequestConfig

from fupin.core.forms import apply_errors
from fupin.core.models import Area, AreaLevel, AuditEntry, User
from fupin.core.scoping import area_prefix, user_can_reach
from fupin.core.services import StaleEdit
from fupin.core.sheets import xlsx_response
from fupin.core.views import area_trail
from fupin.registry.models import Household
from fupin.support import forms, policy, services
from fupin.support.models import (
    Cadre,
    Geofence,
    LedgerEntry,
    MeasureStatus,
    Need,
    NeedStatus,
    Pairing,
    Plan,
    ResidentTeam,
    TeamMember,
    Visit,
)
from fupin.support.tables import (
    CADRE_PER_PAGE,
    NEED_PER_PAGE,
    TEAM_PER_PAGE,
    CadreTable,
    NeedTable,
    TeamTable,
)

# ======================================================================================
# Cadres and pairings, rectification lists
# ======================================================================================

PAIRING_VIEW = "support.view_support"
#: Rows shown per rectification list on the page; the xlsx export has them all.
RECTIFICATION_SHOWN = 100


def _cadre(request: HttpRequest, pk: int) -> Cadre:
    cadres = Cadre.objects.select_related("area", "user")
    # A township cadre who logs in with a village account still opens his own page; the
    # households on it stay scoped to his login's area.
    own = cadres.filter(pk=pk, user=request.user).first() if request.user.is_authenticated else None
    return own or cadres.get_for_user(request.user, pk=pk)


def _pairing(request: HttpRequest, pk: int) -> Pairing:
    return Pairing.objects.select_related("cadre", "household__village").get_for_user(
        request.user, pk=pk
    )


def _cadres_to_choose(request: HttpRequest, exclude: Cadre | None = None) -> Any:
    cadres = Cadre.objects.for_user(request.user).filter(active=True)
    if exclude is not None:
        cadres = cadres.exclude(pk=exclude.pk)
    return services.with_household_count(cadres).order_by("households", "name")


def _unpaired_households(request: HttpRequest, area_code: str) -> Any:
    """Households in reach that may be paired and have no active cadre."""
    active = Pairing.objects.filter(household=OuterRef("pk"), ended_on__isnull=True)
    return (
        Household.objects.for_user(request.user)
        .in_area(area_code)
        .filter(status__in=services.pairable_statuses())
        .filter(~Exists(active))
        .select_related("village")
        .order_by("code")
    )


@login_required
@permission_required(PAIRING_VIEW, raise_exception=True)
def cadre_list(request: HttpRequest) -> HttpResponse:
    form = forms.CadreFilterForm(request.GET or None, user=request.user)
    cadres = services.with_household_count(Cadre.objects.for_user(request.user)).select_related(
        "area"
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["area"]:
            cadres = cadres.in_area(data["area"])
        if data["employer"]:
            cadres = cadres.filter(employer__icontains=data["employer"].strip())
        if data["over_limit"]:
            limit = policy.rules().pairing.max_households_per_cadre
            cadres = cadres.filter(households__gt=limit)
    table = CadreTable(cadres)
    RequestConfig(request, paginate={"per_page": CADRE_PER_PAGE}).configure(table)
    return render(
        request,
        "support/pairing_cadre_list.html",
        {"table": table, "form": form, "can_manage": request.user.has_perm(services.MANAGE)},
    )


def _save_login(request: HttpRequest, cadre: Cadre, login_pk: int | None, reason: str) -> None:
    login = User.objects.filter(pk=login_pk).first() if login_pk else None
    if (login.pk if login else None) != cadre.user_id:
        services.link_login(request.user, cadre, login, reason=reason)


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def cadre_create(request: HttpRequest) -> HttpResponse:
    form = forms.CadreForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                cadre = services.create_cadre(request.user, data, reason=data["reason"])
                _save_login(request, cadre, data["login"], data["reason"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The cadre is on the list."))
            return redirect("support:cadre_detail", pk=cadre.pk)
    return render(request, "support/pairing_cadre_form.html", {"form": form, "cadre": None})


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def cadre_edit(request: HttpRequest, pk: int) -> HttpResponse:
    cadre = _cadre(request, pk)
    initial = {name: getattr(cadre, name) for name in services.CADRE_FIELDS if name != "area"}
    initial.update(area=cadre.area_id, login=cadre.user_id, version=cadre.version)
    form = forms.CadreForm(request.POST or None, user=request.user, cadre=cadre, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.update_cadre(
                    request.user, cadre, data, data["version"], reason=data["reason"]
                )
                _save_login(request, cadre, data["login"], data["reason"])
        except StaleEdit as exc:
            # The user's input kept with the current version: saving again is on purpose.
            fresh = request.POST.copy()
            fresh["version"] = str(exc.current_version)
            form = forms.CadreForm(fresh, user=request.user, cadre=cadre, initial=initial)
            form.is_valid()
            form.add_error(None, str(exc))
        except ValidationError as exc:
            apply_errors(exc, {"": form, "login": form})
        else:
            messages.success(request, _("The cadre is saved."))
            return redirect("support:cadre_detail", pk=cadre.pk)
    return render(request, "support/pairing_cadre_form.html", {"form": form, "cadre": cadre})


def _cadre_page(
    request: HttpRequest,
    cadre: Cadre,
    pair_form: forms.PairHouseholdForm | None = None,
    status: int = 200,
) -> HttpResponse:
    pairings = (
        Pairing.objects.for_user(request.user)
        .filter(cadre=cadre)
        .select_related("household__village")
        .order_by("ended_on", "-started_on")
    )
    can_manage = request.user.has_perm(services.MANAGE)
    if can_manage and pair_form is None:
        pair_form = forms.PairHouseholdForm(households=_unpaired_households(request, cadre.area_id))
    context = {
        "cadre": cadre,
        "current": [p for p in pairings if p.ended_on is None],
        "history": [p for p in pairings if p.ended_on is not None],
        "visits": cadre.visits.for_user(request.user).count(),
        "count": services.active_pairings(cadre).count(),
        "limit": policy.rules().pairing.max_households_per_cadre,
        "can_manage": can_manage,
        "pair_form": pair_form if can_manage else None,
        "show_id": request.user.has_perm("registry.view_full_id"),
    }
    return render(request, "support/pairing_cadre_detail.html", context, status=status)


@login_required
@permission_required(PAIRING_VIEW, raise_exception=True)
def cadre_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _cadre_page(request, _cadre(request, pk))


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def cadre_pair(request: HttpRequest, pk: int) -> HttpResponse:
    cadre = _cadre(request, pk)
    households = _unpaired_households(request, cadre.area_id)
    form = forms.PairHouseholdForm(request.POST, households=households)
    if form.is_valid():
        data = form.cleaned_data
        household = Household.objects.get_for_user(request.user, pk=data["household"])
        try:
            services.pair(request.user, cadre, household, data["started_on"], data["reason"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The household is paired with the cadre."))
            return redirect("support:cadre_detail", pk=cadre.pk)
    return _cadre_page(request, cadre, pair_form=form)


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def household_pair(request: HttpRequest, household_pk: int) -> HttpResponse:
    """Pair a household with a cadre, from the household."""
    household = Household.objects.select_related("village").get_for_user(
        request.user, pk=household_pk
    )
    cadres = _cadres_to_choose(request)
    form = forms.PairCadreForm(request.POST or None, cadres=cadres)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cadre = Cadre.objects.get_for_user(request.user, pk=data["cadre"])
        try:
            services.pair(request.user, cadre, household, data["started_on"], data["reason"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The household is paired with the cadre."))
            return redirect("registry:household_detail", pk=household.pk)
    return render(
        request,
        "support/pairing_form.html",
        {"form": form, "household": household, "title": _("Pair with a cadre")},
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def pairing_end(request: HttpRequest, pk: int) -> HttpResponse:
    pairing = _pairing(request, pk)
    form = forms.EndPairingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.end_pairing(
                request.user,
                pairing,
                data["ended_on"],
                data["end_reason"],
                cause=data["end_cause"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The pairing has ended."))
            return redirect("support:cadre_detail", pk=pairing.cadre_id)
    return render(
        request,
        "support/pairing_form.html",
        {
            "form": form,
            "pairing": pairing,
            "household": pairing.household,
            "title": _("End the pairing"),
        },
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def pairing_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    pairing = _pairing(request, pk)
    form = forms.ReassignForm(
        request.POST or None, cadres=_cadres_to_choose(request, exclude=pairing.cadre)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cadre = Cadre.objects.get_for_user(request.user, pk=data["cadre"])
        try:
            fresh = services.reassign(
                request.user, pairing, cadre, data["on"], data["reason"], cause=data["end_cause"]
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The household has a new cadre."))
            return redirect("support:cadre_detail", pk=fresh.cadre_id)
    return render(
        request,
        "support/pairing_form.html",
        {
            "form": form,
            "pairing": pairing,
            "household": pairing.household,
            "title": _("Change the cadre"),
        },
    )


# -- rectification lists (整改清单) ---------------------------------------------------------


@dataclass(frozen=True)
class RectificationList:
    """One list: its title, its columns, and each row's cells and link."""

    key: str
    title: Any
    headers: tuple[Any, ...]
    rows: Callable[[Any, str], Any]
    cells: Callable[[Any], list[Any]]
    link: Callable[[Any], str]


def _household_cells(h: Household) -> list[Any]:
    return [h.code, h.head_name, h.village.name, h.get_status_display()]


def _household_link(h: Any) -> str:
    return reverse("registry:household_detail", args=[h.pk])


def _last_month() -> tuple[int, int]:
    last = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    return last.year, last.month


def _short_rows(user: Any, code: str) -> list[Any]:
    return services.members_short_of_days(user, code, *_last_month())


def _short_link(row: Any) -> str:
    team = row.member.team
    return reverse("support:team_attendance_month", args=[team.pk, *_last_month()])


HOUSEHOLD_HEADERS = (
    gettext_lazy("Household number"),
    gettext_lazy("Head"),
    gettext_lazy("Village"),
    gettext_lazy("Status"),
)

RECTIFICATION_LISTS = (
    RectificationList(
        "no_cadre",
        gettext_lazy("Households without a cadre"),
        HOUSEHOLD_HEADERS,
        services.households_without_cadre,
        _household_cells,
        _household_link,
    ),
    RectificationList(
        "no_measure",
        gettext_lazy("Households without a support measure"),
        HOUSEHOLD_HEADERS,
        services.households_without_measure,
        _household_cells,
        _household_link,
    ),
    RectificationList(
        "no_visit",
        gettext_lazy("Households not visited this year"),
        HOUSEHOLD_HEADERS,
        services.households_not_visited,
        _household_cells,
        _household_link,
    ),
    RectificationList(
        "cadre_over_limit",
        gettext_lazy("Cadres over their limit"),
        (
            gettext_lazy("Name"),
            gettext_lazy("Employer"),
            gettext_lazy("Area"),
            gettext_lazy("Households now"),
        ),
        services.cadres_over_limit,
        lambda c: [c.name, c.employer, c.area.name, c.households],
        lambda c: reverse("support:cadre_detail", args=[c.pk]),
    ),
    RectificationList(
        "team_short",
        gettext_lazy("Team members short of days in the village last month"),
        (
            gettext_lazy("Village"),
            gettext_lazy("Sending unit"),
            gettext_lazy("Name"),
            gettext_lazy("Role"),
            gettext_lazy("Days in the village"),
            gettext_lazy("Days required"),
        ),
        _short_rows,
        lambda r: [
            r.member.team.village.name,
            r.member.team.sending_unit,
            r.member.cadre.name,
            r.member.get_role_display(),
            r.days_inside,
            r.required,
        ],
        _short_link,
    ),
    RectificationList(
        "copied_plan",
        gettext_lazy("Plans that are copies"),
        (*HOUSEHOLD_HEADERS, gettext_lazy("Identical plans"), gettext_lazy("Fingerprint")),
        services.copied_plans,
        lambda p: [*_household_cells(p.household), p.copies, p.fingerprint[:12]],
        lambda p: _household_link(p.household),
    ),
)


def _rectification_area(request: HttpRequest) -> Area:
    """The area of `?area=CODE` (default the user's own); 404 outside the user's reach."""
    code = request.GET.get("area") or getattr(request.user, "area_id", "") or ""
    area = Area.objects.filter(code=code).first() if code else None
    if area is None and not code and area_prefix(request.user) == "":
        area = Area.objects.filter(parent__isnull=True).order_by("code").first()
    if area is None or not user_can_reach(request.user, area.code):
        raise Http404
    return area


@login_required
@permission_required(PAIRING_VIEW, raise_exception=True)
def rectification(request: HttpRequest) -> HttpResponse:
    area = _rectification_area(request)
    lists = []
    for spec in RECTIFICATION_LISTS:
        found = spec.rows(request.user, area.code)
        if isinstance(found, list):
            count, shown = len(found), found[:RECTIFICATION_SHOWN]
        else:
            count, shown = found.count(), list(found[:RECTIFICATION_SHOWN])
        rows = [{"cells": spec.cells(r), "link": spec.link(r)} for r in shown]
        lists.append({"spec": spec, "count": count, "rows": rows})
    return render(
        request,
        "support/pairing_rectification.html",
        {
            "area": area,
            "children": area.children.order_by("code"),
            "trail": [
                a for a in area_trail(request.user, area) if user_can_reach(request.user, a.code)
            ],
            "lists": lists,
            "shown": RECTIFICATION_SHOWN,
            "source": policy.rules().rectification.source,
            "last_month": "{:04d}-{:02d}".format(*_last_month()),
            "year": timezone.localdate().year,
        },
    )


@login_required
@permission_required(PAIRING_VIEW, raise_exception=True)
def rectification_export(request: HttpRequest, key: str) -> HttpResponse:
    """One list as an xlsx workbook, every row, in the registry exports' style: write-only
    (constant memory for a province's list), bold frozen header, widths by content."""
    spec = next((s for s in RECTIFICATION_LISTS if s.key == key), None)
    if spec is None:
        raise Http404
    area = _rectification_area(request)
    found = spec.rows(request.user, area.code)
    rows = found if isinstance(found, list) else found.iterator(chunk_size=2000)
    return xlsx_response(
        [(str(spec.title), [str(h) for h in spec.headers], (spec.cells(row) for row in rows))],
        f"rectification-{spec.key}-{area.code}.xlsx",
        min_width=12,
    )


# ======================================================================================
# Resident teams, check-ins and attendance
# ======================================================================================


TEAM_VIEW = "support.view_support"


def _team(request: HttpRequest, pk: int) -> ResidentTeam:
    return ResidentTeam.objects.select_related("village", "village__parent").get_for_user(
        request.user, pk=pk
    )


def _team_today() -> dt.date:
    return timezone.now().astimezone(services.team_timezone()).date()


def _team_areas(request: HttpRequest) -> list[Area]:
    """The areas down to townships the list may be narrowed to (within the user's reach)."""
    prefix = area_prefix(request.user)
    if prefix is None:
        return []
    qs = Area.objects.filter(level__lte=AreaLevel.TOWNSHIP, code__startswith=prefix)
    return list(qs.order_by("code"))


@login_required
@permission_required(TEAM_VIEW, raise_exception=True)
def team_list(request: HttpRequest) -> HttpResponse:
    """Resident teams of the user's area, narrowed to an area below it (?area=code)."""
    today = _team_today()
    qs = (
        ResidentTeam.objects.for_user(request.user)
        .select_related("village", "village__parent")
        .annotate(active_members=Count("members", filter=services.active_on(today, "members__")))
    )
    code = request.GET.get("area", "")
    if code:
        if not user_can_reach(request.user, code):
            raise Http404
        qs = qs.in_area(code)
    table = TeamTable(qs)
    RequestConfig(request, paginate={"per_page": TEAM_PER_PAGE}).configure(table)
    return render(
        request,
        "support/team_list.html",
        {
            "table": table,
            "areas": _team_areas(request),
            "area_code": code,
            "can_manage": request.user.has_perm(services.MANAGE),
            "my_membership": _my_membership(request),
        },
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def team_create(request: HttpRequest) -> HttpResponse:
    form = forms.TeamForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            team = services.create_team(
                request.user,
                village=data["village"],
                sending_unit=data["sending_unit"],
                term_start=data["term_start"],
                term_end=data["term_end"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The team is set up: add its members."))
            return redirect("support:team_detail", pk=team.pk)
    return render(request, "support/team_form.html", {"form": form})


def _team_page(
    request: HttpRequest,
    team: ResidentTeam,
    *,
    member_form: forms.TeamMemberForm | None = None,
    end_form: forms.EndMembershipForm | None = None,
    ending: int | None = None,
    status: int = 200,
) -> HttpResponse:
    today = _team_today()
    members = team.members.select_related("cadre").order_by("left_on", "role", "joined_on")
    can_manage = request.user.has_perm(services.MANAGE)
    context: dict[str, Any] = {
        "team": team,
        "members": members,
        "today": today,
        "fence": Geofence.objects.filter(village_id=team.village_id).first(),
        "month": today.replace(day=1),
        "rows": services.attendance(team, today.year, today.month),
        "min_days": policy.rules().team.min_days_per_month,
        "rule_source": policy.rules().team.min_days_source,
        "can_manage": can_manage,
        "ending": ending,
    }
    if can_manage:
        context["member_form"] = member_form or forms.TeamMemberForm(user=request.user)
        context["end_form"] = end_form or forms.EndMembershipForm(initial={"left_on": today})
    return render(request, "support/team_detail.html", context, status=status)


@login_required
@permission_required(TEAM_VIEW, raise_exception=True)
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_page(request, _team(request, pk))


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def team_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    form = forms.TeamMemberForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.add_member(
                request.user,
                team,
                cadre=data["cadre"],
                role=data["role"],
                joined_on=data["joined_on"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request, _("%(cadre)s is on the team.") % {"cadre": data["cadre"].name}
            )
            return redirect("support:team_detail", pk=team.pk)
    return _team_page(request, team, member_form=form, status=400)


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def team_member_end(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    team = _team(request, pk)
    member = get_object_or_404(team.members.select_related("cadre"), pk=member_pk)
    form = forms.EndMembershipForm(request.POST)
    if form.is_valid():
        try:
            services.end_membership(
                request.user,
                member,
                left_on=form.cleaned_data["left_on"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request, _("%(cadre)s has left the team.") % {"cadre": member.cadre.name}
            )
            return redirect("support:team_detail", pk=team.pk)
    return _team_page(request, team, end_form=form, ending=member.pk, status=400)


@login_required
@permission_required(TEAM_VIEW, raise_exception=True)
def team_attendance(
    request: HttpRequest, pk: int, year: int | None = None, month: int | None = None
) -> HttpResponse:
    """A team's month: each member's days in the village against the rule, who falls short."""
    team = _team(request, pk)
    today = _team_today()
    if year is None or month is None:
        return redirect(
            "support:team_attendance_month", pk=team.pk, year=today.year, month=today.month
        )
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise Http404
    first, last = services.month_bounds(year, month)
    rows = services.attendance(team, year, month)
    previous = first - dt.timedelta(days=1)
    following = last + dt.timedelta(days=1)
    return render(
        request,
        "support/team_attendance.html",
        {
            "team": team,
            "rows": rows,
            "short": [r for r in rows if r.short],
            "month": first,
            "previous": previous,
            "following": following if following <= today else None,
            "in_progress": last >= today,
            "min_days": policy.rules().team.min_days_per_month,
            "rule_source": policy.rules().team.min_days_source,
            "timezone": policy.rules().team.timezone,
        },
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def team_geofence(request: HttpRequest, code: str) -> HttpResponse:
    """The county sets a village's centre and radius."""
    if not user_can_reach(request.user, code):
        raise Http404
    village = get_object_or_404(Area, code=code, level=AreaLevel.VILLAGE)
    fence = Geofence.objects.filter(village=village).first()
    back = request.GET.get("team") or request.POST.get("team") or ""
    team = (
        ResidentTeam.objects.for_user(request.user).filter(pk=back, village=village).first()
        if back.isdigit()
        else None
    )
    initial: dict[str, Any] = {"radius_m": policy.rules().team.default_radius_m}
    if fence is not None:
        initial = {
            "latitude": fence.latitude,
            "longitude": fence.longitude,
            "radius_m": fence.radius_m,
        }
    form = forms.GeofenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.set_geofence(
                request.user,
                village,
                data["latitude"],
                data["longitude"],
                data["radius_m"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request, _("The geofence of %(village)s is saved.") % {"village": village.name}
            )
            if team is not None:
                return redirect("support:team_detail", pk=team.pk)
            return redirect(reverse("support:team_list") + f"?area={village.code}")
    return render(
        request,
        "support/team_geofence_form.html",
        {"form": form, "village": village, "fence": fence, "team": team},
    )


def _my_membership(request: HttpRequest) -> TeamMember | None:
    """The membership the logged-in cadre checks in for today (one team at a time)."""
    user: Any = request.user
    return (
        TeamMember.objects.for_user(user)
        .filter(services.active_on(_team_today()), cadre__user=user)
        .select_related("team", "team__village", "cadre")
        .first()
    )


@login_required
@permission_required(services.RECORD, raise_exception=True)
def team_checkin(request: HttpRequest) -> HttpResponse:
    """The phone page: one big button; the browser's position is posted by
    static/fupin/team_checkin.js, and the answer says whether it was in the village."""
    member = _my_membership(request)
    if request.method != "POST":
        recent = member.checkins.order_by("-at")[:5] if member is not None else []
        return render(request, "support/team_checkin.html", {"member": member, "recent": recent})
    if member is None:
        return JsonResponse(
            {"ok": False, "message": _("You are not on a resident team today.")}, status=400
        )
    form = forms.CheckInForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"ok": False, "message": _("The phone sent no position.")}, status=400)
    data = form.cleaned_data
    try:
        checkin = services.check_in(
            request.user,
            member,
            at=timezone.now(),
            latitude=data["latitude"],
            longitude=data["longitude"],
            accuracy_m=data["accuracy"] or None,
        )
    except ValidationError as exc:
        return JsonResponse({"ok": False, "message": " ".join(exc.messages)}, status=400)
    local = checkin.at.astimezone(services.team_timezone())
    if checkin.inside is None:
        message = _(
            "Checked in at %(time)s. The village has no geofence yet: it is set from the first "
            "check-ins, and this one is judged then."
        ) % {"time": f"{local:%H:%M}"}
    elif checkin.inside:
        message = _("Checked in at %(time)s, in %(village)s (%(distance)s m from the centre).") % {
            "time": f"{local:%H:%M}",
            "village": member.team.village.name,
            "distance": checkin.distance_m,
        }
    else:
        message = _(
            "Checked in at %(time)s, OUTSIDE %(village)s: %(distance)s m from the centre, the "
            "limit is %(radius)s m. This day does not count as a day in the village unless you "
            "check in there."
        ) % {
            "time": f"{local:%H:%M}",
            "village": member.team.village.name,
            "distance": checkin.distance_m,
            "radius": Geofence.objects.get(village_id=member.team.village_id).radius_m,
        }
    return JsonResponse(
        {
            "ok": True,
            "inside": checkin.inside,
            "distance_m": checkin.distance_m,
            "at": local.isoformat(),
            "message": message,
        }
    )


# ======================================================================================
# Plans, measures, visits, ledgers, booklet
# ======================================================================================

PLAN_VIEW = "support.view_support"
#: The vendored CJK font of the booklet (OFL-1.1, fupin/static/vendor/README.md): the
#: PDF never depends on the fonts installed on the server, nor on the internet. WOFF, not
#: WOFF2: fontTools rebuilds a WOFF2's glyphs in pure Python (5 s a weight, measured),
#: a WOFF is only inflated (0.5 s for the whole booklet).
BOOKLET_FONT = "vendor/noto-sans-sc-5.3.0/noto-sans-sc-chinese-simplified-{weight}-normal.woff"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def _plan_household(request: HttpRequest, pk: int) -> Household:
    """The household if it lies in the user's area; 404 otherwise (existence not leaked)."""
    return Household.objects.select_related("village", "village__parent").get_for_user(
        request.user, pk=pk
    )


def _household_plan(household: Household) -> Plan | None:
    return Plan.objects.filter(household=household).first()


def _work_log(household: Household, plan: Plan | None, visits: list[Visit]) -> list[dict]:
    """户户3本账's work ledger: the visits and every change to a measure's progress or
    status (from the audit trail, which keeps even the measures since removed)."""
    rows: list[dict[str, Any]] = [
        {"date": v.date, "kind": "visit", "who": str(v.cadre), "text": v.work_done} for v in visits
    ]
    if plan is not None:
        kinds = policy.measures().kinds
        labels = {str(m.pk): m for m in plan.measures.all()}
        entries = AuditEntry.objects.filter(
            object_type="support.measure",
            area_code=household.village_id,
            action__in=["support.measure.create", "support.measure.update"],
        )
        ids = list(labels)
        for e in entries.filter(object_id__in=ids).order_by("timestamp"):
            after = e.after or {}
            if not {"progress", "status", "result"} & set(after):
                continue
            measure = labels[e.object_id]
            kind = kinds.get(measure.kind)
            parts = []
            if "status" in after:
                parts.append(str(MeasureStatus(after["status"]).label))
            if "progress" in after:
                parts.append(f"{after['progress']} %")
            if after.get("result"):
                parts.append(after["result"])
            rows.append(
                {
                    "date": timezone.localtime(e.timestamp).date(),
                    "kind": "measure",
                    "who": e.username,
                    "text": f"{kind.label if kind else measure.kind}: {' · '.join(parts)}",
                }
            )
    rows.sort(key=lambda r: r["date"], reverse=True)
    return rows


def _support_context(request: HttpRequest, household: Household) -> dict[str, Any]:
    """Everything the support page, the panel and the booklet show of one household."""
    catalogue = policy.measures()
    plan = _household_plan(household)
    measures = list(plan.measures.all()) if plan else []
    for m in measures:
        kind = catalogue.kinds.get(m.kind)
        category = catalogue.categories.get(m.category)
        m.kind_label = kind.label if kind else m.kind  # type: ignore[attr-defined]
        m.category_label = category.label if category else m.category  # type: ignore[attr-defined]
    chosen = {m.kind for m in measures}
    suggestions = [
        {"kind": k, "category": catalogue.categories[k.category], "chosen": k.code in chosen}
        for k in services.suggested_measures(household)
    ]
    visits = list(
        Visit.objects.for_user(request.user)
        .filter(household=household)
        .select_related("cadre", "recorded_by")
        .prefetch_related("photos")
    )
    ledger_labels = {
        code: c.label for cats in catalogue.ledger_categories.values() for code, c in cats.items()
    }
    entries = list(LedgerEntry.objects.for_user(request.user).filter(household=household))
    for entry in entries:
        entry.category_label = ledger_labels.get(entry.category, entry.category)  # type: ignore[attr-defined]
    user = request.user
    return {
        "household": household,
        "plan": plan,
        "measures": measures,
        "total_amount": sum((m.amount for m in measures), Decimal("0")),
        "suggestions": suggestions,
        "copies": services.copies_of(user, plan) if plan else [],
        "identical_source": catalogue.identical_source,
        "may_plan": household.status in catalogue.plan_statuses,
        "visits": visits,
        "ledger_years": services.ledger_by_year(entries),
        "work_log": _work_log(household, plan, visits),
        "can_record": user.has_perm(services.RECORD),
        "can_manage": user.has_perm(services.MANAGE),
        "pairing": Pairing.objects.for_user(user)
        .filter(household=household, ended_on__isnull=True)
        .select_related("cadre")
        .first(),
        "plan_form": forms.PlanForm(
            initial={"goal": plan.goal if plan else "", "version": plan.version if plan else None}
        ),
    }


@login_required
@permission_required(PLAN_VIEW, raise_exception=True)
def household_support(request: HttpRequest, pk: int) -> HttpResponse:
    """The household's support page: Gansu's three ledgers (户户3本账) — plan, measures,
    work log — with the visits and the running ledger (一户一册一卡) on one page."""
    household = _plan_household(request, pk)
    return render(request, "support/plan_household.html", _support_context(request, household))


@login_required
@permission_required(PLAN_VIEW, raise_exception=True)
def household_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The support summary loaded into the registry's household page."""
    household = _plan_household(request, pk)
    context = _support_context(request, household)
    context["last_visit"] = context["visits"][0] if context["visits"] else None
    return render(request, "support/plan_panel.html", context)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def plan_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the household's plan, or change its goal."""
    household = _plan_household(request, pk)
    plan = _household_plan(household)
    form = forms.PlanForm(request.POST)
    if form.is_valid():
        try:
            if plan is None:
                services.make_plan(request.user, household, form.cleaned_data["goal"])
                messages.success(request, _("The plan was opened."))
            else:
                services.update_plan(
                    request.user, plan, form.cleaned_data["goal"], form.cleaned_data["version"]
                )
                messages.success(request, _("The plan was saved."))
        except (ValidationError, StaleEdit) as exc:
            for text in exc.messages if isinstance(exc, ValidationError) else [str(exc)]:
                messages.error(request, text)
    return redirect("support:household_support", pk=household.pk)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def measure_edit(request: HttpRequest, pk: int, measure_pk: int | None = None) -> HttpResponse:
    """Add a measure to the plan (a suggestion's kind comes in `?kind=`), or change one."""
    household = _plan_household(request, pk)
    plan = _household_plan(household)
    if plan is None:
        raise Http404
    measure = get_object_or_404(plan.measures, pk=measure_pk) if measure_pk else None
    if request.method == "POST":
        form = forms.MeasureForm(request.POST)
        if form.is_valid():
            try:
                if measure is None:
                    services.add_measure(
                        request.user, plan, form.service_data(), form.cleaned_data["version"]
                    )
                else:
                    services.update_measure(
                        request.user, measure, form.service_data(), form.cleaned_data["version"]
                    )
            except StaleEdit as exc:
                data = request.POST.copy()
                data["version"] = str(exc.current_version)
                form = forms.MeasureForm(data)
                form.is_valid()
                form.add_error(None, str(exc))
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The measure was saved."))
                return redirect("support:household_support", pk=household.pk)
    else:
        initial: dict[str, Any] = {
            "version": plan.version,
            "starts_on": timezone.localdate(),
            "status": MeasureStatus.PLANNED,
            "progress": 0,
        }
        if measure is not None:
            initial.update({name: getattr(measure, name) for name in services.MEASURE_FIELDS})
        elif request.GET.get("kind") in policy.measures().kinds:
            initial["kind"] = request.GET["kind"]
        form = forms.MeasureForm(initial=initial)
    return render(
        request,
        "support/plan_measure_form.html",
        {"form": form, "household": household, "plan": plan, "measure": measure},
    )


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def measure_remove(request: HttpRequest, pk: int, measure_pk: int) -> HttpResponse:
    household = _plan_household(request, pk)
    plan = _household_plan(household)
    if plan is None:
        raise Http404
    measure = get_object_or_404(plan.measures, pk=measure_pk)
    form = forms.RemoveMeasureForm(request.POST)
    if form.is_valid():
        try:
            services.remove_measure(
                request.user, measure, form.cleaned_data["version"], form.cleaned_data["reason"]
            )
        except StaleEdit as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The measure was removed from the plan."))
    return redirect("support:household_support", pk=household.pk)


def _visit_cadres(request: HttpRequest, household: Household) -> Any:
    """The cadres a user may record a visit for, or None when they record their own."""
    user = request.user
    own = getattr(user, "cadre", None)  # the reverse one-to-one: None when not a cadre
    if own is not None and not user.has_perm(services.MANAGE):
        return None
    paired = Cadre.objects.filter(pairings__household=household, pairings__ended_on__isnull=True)
    if user.has_perm(services.MANAGE):
        return (Cadre.objects.for_user(user) | paired).distinct().order_by("name")
    return paired.distinct().order_by("name")


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def visit_create(request: HttpRequest, pk: int) -> HttpResponse:
    """The phone page of a visit: the browser fills in the location, the camera the photos."""
    household = _plan_household(request, pk)
    cadres = _visit_cadres(request, household)
    if request.method == "POST":
        form = forms.VisitForm(request.POST, request.FILES, cadres=cadres)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_visit(
                    request.user,
                    household,
                    date=data["date"],
                    work_done=data["work_done"],
                    needs=data["needs"],
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                    photos=data["photos"],
                    cadre=data.get("cadre"),
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The visit was recorded."))
                return redirect("support:household_support", pk=household.pk)
    else:
        form = forms.VisitForm(cadres=cadres)
    return render(request, "support/visit_form.html", {"form": form, "household": household})


@login_required
@permission_required(PLAN_VIEW, raise_exception=True)
def visit_photo(request: HttpRequest, pk: int, visit_pk: int, photo_pk: int) -> FileResponse:
    """A visit's photo, only to users who may see the household."""
    household = _plan_household(request, pk)
    visit = get_object_or_404(
        Visit.objects.for_user(request.user), pk=visit_pk, household=household
    )
    photo = get_object_or_404(visit.photos, pk=photo_pk)
    try:
        handle = photo.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, filename=photo.name)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ledger_create(request: HttpRequest, pk: int) -> HttpResponse:
    household = _plan_household(request, pk)
    if request.method == "POST":
        form = forms.LedgerEntryForm(request.POST)
        if form.is_valid():
            try:
                services.add_ledger_entry(request.user, household, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The ledger entry was recorded."))
                return redirect(
                    reverse("support:household_support", args=[household.pk]) + "#ledger"
                )
    else:
        form = forms.LedgerEntryForm()
    return render(request, "support/ledger_form.html", {"form": form, "household": household})


def _booklet_context(request: HttpRequest, household: Household) -> dict[str, Any]:
    context = _support_context(request, household)
    today = timezone.localdate()
    # The booklet leaves the office on paper: resident IDs are always masked in it.
    members = sorted(household.members.all(), key=lambda m: (m.left_on is not None, m.relation))
    for m in members:
        m.age = m.age_on(today)  # type: ignore[attr-defined]
    context.update({"members": members, "today": today, "cadres": _booklet_cadres(household)})
    return context


def _booklet_cadres(household: Household) -> list[Pairing]:
    return list(
        Pairing.objects.filter(household=household).select_related("cadre").order_by("-started_on")
    )


@login_required
@permission_required(PLAN_VIEW, raise_exception=True)
def booklet(request: HttpRequest, pk: int) -> HttpResponse:
    """The household's booklet (一户一册) as a printable page."""
    household = _plan_household(request, pk)
    context = _booklet_context(request, household)
    context["font_urls"] = {w: static(BOOKLET_FONT.format(weight=w)) for w in (400, 700)}
    context["pdf"] = False
    return render(request, "support/booklet.html", context)


def booklet_pdf_bytes(html: str) -> bytes:
    """Render the booklet's HTML to PDF with the vendored font embedded (subset)."""
    import weasyprint  # heavy (pango, harfbuzz): loaded for the booklet only

    return cast(bytes, weasyprint.HTML(string=html, base_url=str(STATIC_DIR)).write_pdf())


@login_required
@permission_required(PLAN_VIEW, raise_exception=True)
def booklet_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The household's booklet (一户一册) as a PDF with Chinese fonts."""
    household = _plan_household(request, pk)
    context = _booklet_context(request, household)
    context["font_urls"] = {
        w: (STATIC_DIR / BOOKLET_FONT.format(weight=w)).as_uri() for w in (400, 700)
    }
    context["pdf"] = True
    html = render_to_string("support/booklet.html", context, request=request)
    response = HttpResponse(booklet_pdf_bytes(html), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="booklet-{household.code}.pdf"'
    return response


# ======================================================================================
# Social help
# ======================================================================================

NEED_VIEW = "support.view_support"


def _need(request: HttpRequest, pk: int) -> Need:
    return Need.objects.select_related("village__parent", "household").get_for_user(
        request.user, pk=pk
    )


def _can_review_needs(user: Any) -> bool:
    """Whether the user is the poverty office that reviews and accepts (township or above)."""
    if not user.has_perm(services.MANAGE):
        return False
    return user.is_superuser or (
        user.area is not None and user.area.level in policy.need_rules().review_levels
    )


@login_not_required
def need_public(request: HttpRequest) -> HttpResponse:
    """The needs open for a claim, for companies and donors: public, no login.

    Explicitly public (`login_not_required`) so that it stays so if the project ever adds
    LoginRequiredMiddleware; it shows only what `services.public_needs` lets out.
    """
    return render(request, "support/need_public.html", {"needs": services.public_needs()})


@login_required
@permission_required(NEED_VIEW, raise_exception=True)
def need_list(request: HttpRequest) -> HttpResponse:
    form = forms.NeedFilterForm(request.GET or None, user=request.user)
    needs = Need.objects.for_user(request.user).select_related("village", "household")
    if form.is_valid():
        if form.cleaned_data["area"]:
            needs = needs.in_area(form.cleaned_data["area"])
        if form.cleaned_data["status"]:
            needs = needs.filter(status=form.cleaned_data["status"])
    table = NeedTable(needs)
    RequestConfig(request, paginate={"per_page": NEED_PER_PAGE}).configure(table)
    return render(
        request,
        "support/need_list.html",
        {"table": table, "form": form, "can_record": request.user.has_perm(services.RECORD)},
    )


@login_required
@permission_required(services.RECORD, raise_exception=True)
def need_create(request: HttpRequest) -> HttpResponse:
    initial = {"household": request.GET.get("household", "")}
    form = forms.NeedForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        code = data["household"].strip()
        household = (
            Household.objects.for_user(request.user).select_related("village").filter(code=code)
        ).first()
        if code and household is None:
            form.add_error("household", _("No household with this number in your area."))
        else:
            village = None if household else Area.objects.get(code=data["village"])
            try:
                need = services.submit_need(
                    request.user,
                    village=village,
                    household=household,
                    title=data["title"],
                    description=data["description"],
                    amount=data["amount"],
                    reason=data["reason"],
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The need is submitted for review."))
                return redirect("support:need_detail", pk=need.pk)
    return render(request, "support/need_form.html", {"form": form})


def _need_page(
    request: HttpRequest, need: Need, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The need, its stage history and the form for its next stage the user may take."""
    bound = bound or {}
    user = request.user
    can_record = user.has_perm(services.RECORD)
    can_review = _can_review_needs(user)
    step_forms: dict[str, Any] = {}
    if need.status == NeedStatus.SUBMITTED and can_review:
        step_forms["review"] = bound.get("review") or forms.ReviewNeedForm()
    elif need.status == NeedStatus.PUBLISHED and can_record:
        step_forms["claim"] = bound.get("claim") or forms.ClaimNeedForm()
    elif need.status == NeedStatus.CLAIMED and can_record:
        step_forms["carry_out"] = bound.get("carry_out") or forms.CarriedOutForm()
    elif need.status == NeedStatus.CARRIED_OUT and can_review:
        step_forms["accept"] = bound.get("accept") or forms.AcceptNeedForm()
    context = {
        "need": need,
        "history": services.need_history(need),
        "forms": step_forms,
        "stages_source": policy.need_rules().stages_source,
    }
    return render(request, "support/need_detail.html", context, status=status)


@login_required
@permission_required(NEED_VIEW, raise_exception=True)
def need_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _need_page(request, _need(request, pk))


def _need_step(
    request: HttpRequest,
    pk: int,
    key: str,
    form: forms.forms.Form,
    run: Callable[[Need, dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    need = _need(request, pk)
    if form.is_valid():
        try:
            run(need, form.cleaned_data)
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, done)
            return redirect("support:need_detail", pk=need.pk)
    need.refresh_from_db()
    return _need_page(request, need, {key: form}, status=400)


@login_required
@require_POST
def need_review(request: HttpRequest, pk: int) -> HttpResponse:
    def run(need: Need, data: dict[str, Any]) -> Any:
        publish = data["decision"] == "publish"
        return services.review_need(request.user, need, publish=publish, note=data["note"])

    return _need_step(
        request, pk, "review", forms.ReviewNeedForm(request.POST), run, _("The review is saved.")
    )


@login_required
@require_POST
def need_claim(request: HttpRequest, pk: int) -> HttpResponse:
    def run(need: Need, data: dict[str, Any]) -> Any:
        return services.claim_need(
            request.user,
            need,
            donor=data["donor"],
            donor_contact=data["donor_contact"],
            claimed_on=data["claimed_on"],
            reason=data["reason"],
        )

    return _need_step(
        request, pk, "claim", forms.ClaimNeedForm(request.POST), run, _("The claim is recorded.")
    )


@login_required
@require_POST
def need_carry_out(request: HttpRequest, pk: int) -> HttpResponse:
    def run(need: Need, data: dict[str, Any]) -> Any:
        return services.record_carried_out(
            request.user,
            need,
            carried_out_on=data["carried_out_on"],
            outcome=data["outcome"],
            reason=data["reason"],
        )

    return _need_step(
        request,
        pk,
        "carry_out",
        forms.CarriedOutForm(request.POST),
        run,
        _("The work is recorded as carried out."),
    )


@login_required
@require_POST
def need_accept(request: HttpRequest, pk: int) -> HttpResponse:
    def run(need: Need, data: dict[str, Any]) -> Any:
        return services.accept_need(
            request.user,
            need,
            grade=data["grade"],
            accepted_on=data["accepted_on"],
            note=data["note"],
        )

    return _need_step(
        request,
        pk,
        "accept",
        forms.AcceptNeedForm(request.POST),
        run,
        _("The need is accepted and graded."),
    )
