"""Pages of the core app: home (key figures of the user's area), the area tree, the audit log.

People's data is read only through `Household.objects.for_user(request.user)` (area
scoping, DESIGN.md); areas themselves are public divisions but a user browses only inside
his own subtree (`user_can_reach`), and a code outside it is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fupin.core import area_services
from fupin.core.forms import apply_errors
from fupin.core.models import CODE_LENGTH, Area, AreaLevel, AuditEntry
from fupin.core.scoping import area_prefix, user_can_reach

AUDIT_PER_PAGE = 50


# -- areas ---------------------------------------------------------------------------------


def user_root(user: Any) -> Area | None:
    """The top of the user's subtree; None for a superuser without an area (everything)."""
    return getattr(user, "area", None)


def reachable_area(user: Any, code: str) -> Area:
    """The area with `code` if it lies inside the user's subtree, else 404."""
    if not code or not user_can_reach(user, code):
        raise Http404
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise Http404
    return area


def area_trail(user: Any, area: Area | None) -> list[Area]:
    """The areas from the user's own area down to `area`, for breadcrumbs."""
    if area is None:
        return []
    prefix = area_prefix(user) or ""
    return [a for a in [*area.ancestors(), area] if a.code.startswith(prefix)]


def child_length(area: Area | None) -> int:
    """Code length of the level below `area` (provinces below "everything")."""
    if area is None:
        return CODE_LENGTH[AreaLevel.PROVINCE]
    if area.level >= AreaLevel.VILLAGE:
        return CODE_LENGTH[AreaLevel.VILLAGE]
    return CODE_LENGTH[AreaLevel(area.level + 1)]


def children_of(area: Area | None) -> QuerySet[Area]:
    qs = Area.objects.filter(parent=area) if area is not None else Area.objects.filter(parent=None)
    return qs.order_by("code")


def household_counts_by_child(user: Any, area: Area | None) -> dict[str, dict[str, Any]]:
    """Households and registered-poor households of each child area, in one query."""
    from fupin.registry.enums import HouseholdStatus
    from fupin.registry.models import Household

    length = child_length(area)
    qs = Household.objects.for_user(user)
    if area is not None:
        qs = qs.in_area(area.code)
    rows = (
        qs.annotate(child=Substr("village_id", 1, length))
        .values("child")
        .annotate(
            households=Count("id"),
            registered=Count("id", filter=Q(status=HouseholdStatus.REGISTERED)),
            people=Sum("people"),
        )
        .order_by()
    )
    return {r["child"]: dict(r) for r in rows}


def area_nodes(user: Any, area: Area | None) -> list[dict[str, Any]]:
    counts = household_counts_by_child(user, area)
    empty = {"households": 0, "registered": 0, "people": 0}
    return [
        {
            "area": child,
            "counts": counts.get(child.code, empty),
            "has_children": child.level < AreaLevel.VILLAGE,
        }
        for child in children_of(area)
        if user_can_reach(user, child.code)
    ]


# -- home ----------------------------------------------------------------------------------


def _count(base: QuerySet, **params: str) -> int:
    """Households matching the list page's filters: the same filterset, the same number."""
    from fupin.registry.filtersets import HouseholdFilterSet

    return HouseholdFilterSet(params, queryset=base).qs.count()


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from fupin.registry.enums import HouseholdStatus
    from fupin.registry.models import Household

    user = request.user
    base = Household.objects.for_user(user)
    by_status: dict[str, Any] = {
        r["status"]: r
        for r in base.values("status").annotate(households=Count("id"), people=Sum("people"))
    }
    statuses = [
        {
            "value": value,
            "label": label,
            "households": by_status.get(value, {}).get("households", 0),
            "people": by_status.get(value, {}).get("people") or 0,
        }
        for value, label in HouseholdStatus.choices
    ]
    totals = base.aggregate(households=Count("id"), people=Sum("people"))
    prefix = area_prefix(user) or ""
    villages = Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith=prefix)
    root = user_root(user)
    context = {
        "root": root,
        "statuses": statuses,
        "total_households": totals["households"] or 0,
        "total_people": totals["people"] or 0,
        "poor_villages": villages.filter(is_poor_village=True).count(),
        "deep_poverty_villages": villages.filter(is_deep_poverty_village=True).count(),
        "poor_village_households": _count(base, poor_village="true"),
        "problem_households": _count(base, quality="any"),
        "no_income_households": _count(base, income_band="none"),
        "low_income_households": _count(base, income_band="lt3000"),
        "recent": base.select_related("village").order_by("-updated_at")[:8],
        "nodes": area_nodes(user, root),
    }
    return render(request, "core/home.html", context)


# -- area tree -----------------------------------------------------------------------------


@login_required
@permission_required("core.view_area", raise_exception=True)
def area_tree(request: HttpRequest) -> HttpResponse:
    """The user's area and its children, each expandable (htmx) and linked to the list."""
    code = request.GET.get("area", "")
    root = reachable_area(request.user, code) if code else user_root(request.user)
    return render(
        request,
        "core/area_tree.html",
        {
            "root": root,
            "trail": area_trail(request.user, root),
            "nodes": area_nodes(request.user, root),
        },
    )


@login_required
@permission_required("core.view_area", raise_exception=True)
def area_children(request: HttpRequest, code: str) -> HttpResponse:
    """The children of one area as a partial (`hx-get` when a node is opened)."""
    area = reachable_area(request.user, code)
    return render(
        request,
        "core/_area_children.html",
        {"nodes": area_nodes(request.user, area), "parent": area},
    )


class VillageFlagsForm(forms.Form):
    is_poor_village = forms.BooleanField(label=_("Poor village"), required=False)
    is_deep_poverty_village = forms.BooleanField(label=_("Deep-poverty village"), required=False)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The decision this change records, e.g. the county's document number."),
    )


@login_required
@permission_required("core.change_area", raise_exception=True)
def village_flags(request: HttpRequest, code: str) -> HttpResponse:
    """Designate a village poor or deep-poverty (贫困村, 深度贫困村), with the decision."""
    village = reachable_area(request.user, code)
    if village.level != AreaLevel.VILLAGE:
        raise Http404
    initial = {
        "is_poor_village": village.is_poor_village,
        "is_deep_poverty_village": village.is_deep_poverty_village,
    }
    form = VillageFlagsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            area_services.mark_village_flags(
                request.user,
                village.code,
                form.cleaned_data["is_poor_village"],
                form.cleaned_data["is_deep_poverty_village"],
                form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request, _("The flags of %(village)s are saved.") % {"village": village}
            )
            return redirect(f"{reverse('area_tree')}?area={village.parent_id}")
    return render(
        request,
        "core/village_flags.html",
        {"village": village, "form": form, "trail": area_trail(request.user, village)},
    )


class CountyFlagForm(forms.Form):
    is_poor_county = forms.BooleanField(label=_("Poor county"), required=False)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The decision this change records, e.g. the list's document number."),
    )


@login_required
@permission_required("core.change_area", raise_exception=True)
def county_flags(request: HttpRequest, code: str) -> HttpResponse:
    """Put a county on the poor-county list (贫困县) or take it off, with the decision."""
    county = reachable_area(request.user, code)
    if county.level != AreaLevel.COUNTY:
        raise Http404
    form = CountyFlagForm(request.POST or None, initial={"is_poor_county": county.is_poor_county})
    if request.method == "POST" and form.is_valid():
        try:
            area_services.mark_county_flag(
                request.user,
                county.code,
                form.cleaned_data["is_poor_county"],
                form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request, _("The flags of %(village)s are saved.") % {"village": county}
            )
            return redirect(f"{reverse('area_tree')}?area={county.parent_id}")
    return render(
        request,
        "core/county_flags.html",
        {"county": county, "form": form, "trail": area_trail(request.user, county)},
    )


# -- audit log -----------------------------------------------------------------------------


@login_required
@permission_required("core.view_audit", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Entries recorded in the user's area, newest first, by action and user."""
    prefix = area_prefix(request.user)
    if prefix is None:
        raise Http404
    scoped = (
        AuditEntry.objects.filter(area_code__startswith=prefix)
        if prefix
        else AuditEntry.objects.all()
    )
    action = request.GET.get("action", "").strip()
    username = request.GET.get("user", "").strip()
    entries = scoped
    if action:
        entries = entries.filter(action=action)
    if username:
        entries = entries.filter(username=username)
    page = Paginator(entries.order_by("-id"), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    actions = scoped.order_by("action").values_list("action", flat=True).distinct()
    usernames = scoped.order_by("username").values_list("username", flat=True).distinct()
    return render(
        request,
        "core/audit_log.html",
        {
            "page": page,
            "actions": list(actions),
            "usernames": list(usernames),
            "action": action,
            "username": username,
            "title": _("Audit log"),
        },
    )
