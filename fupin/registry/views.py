"""Pages of the registry: the household list, detail, forms, export and quality report.

Reading goes through `Household.objects.for_user` (area scoping); every change goes through
`fupin.registry.services`, whose ValidationError is mapped back onto the form fields and
whose StaleEdit (someone saved the household in between) is shown on the form with the
user's input kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.forms import BaseForm
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_tables2 import RequestConfig

from fupin.core.forms import apply_errors
from fupin.core.models import Area, AreaLevel, AuditEntry, User
from fupin.core.scoping import area_prefix, user_can_reach
from fupin.core.services import StaleEdit
from fupin.core.validators import mask_id_number
from fupin.core.views import area_trail, child_length, children_of, reachable_area, user_root
from fupin.registry import enums, exports, forms, lifecycle, quality, services
from fupin.registry.filtersets import HouseholdFilterSet
from fupin.registry.models import Attachment, Household, HouseholdIncome, Member, QualityIssue
from fupin.registry.tables import PER_PAGE, HouseholdTable, with_problem_counts
from fupin.registry.templatetags.fupin_ui import display_value

RESULTS_ID = "household-results"
MAX_PER_PAGE = 500
F = TypeVar("F", bound=BaseForm)


def _scoped(request: HttpRequest) -> Any:
    return Household.objects.for_user(request.user)


def _household(request: HttpRequest, pk: int) -> Household:
    """The household if it lies in the user's area; 404 otherwise (existence not leaked)."""
    return Household.objects.select_related("village", "village__parent").get_for_user(
        request.user, pk=pk
    )


# -- list and export -----------------------------------------------------------------------


def _prepare_filter_form(filterset: HouseholdFilterSet) -> None:
    """Widgets and wording of the filter form on the page (the filterset stays shared)."""
    from django import forms as dj_forms

    form = filterset.form
    form.fields.pop("ordering", None)  # the table sorts by its column headers
    form.fields["status"].widget = dj_forms.CheckboxSelectMultiple(
        choices=form.fields["status"].choices
    )
    for name in ("cause", "attribute", "income_band", "quality"):
        field = form.fields[name]
        field.empty_label = _("All")
        # The widget's choice iterator still points at the class-level field: renew it.
        field.widget.choices = field.choices
    if "poor_village" in form.fields:
        form.fields["poor_village"].widget = dj_forms.Select(
            choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))]
        )
    form.fields["q"].widget.attrs.update(
        {"placeholder": _("Household number, name or resident ID"), "type": "search"}
    )
    form.fields["area"].widget.attrs.update(
        {"list": "area-options", "placeholder": _("Area code"), "autocomplete": "off"}
    )


def _area_options(request: HttpRequest) -> Any:
    """Areas offered in the filter's suggestions: the user's subtree, villages if few."""
    prefix = area_prefix(request.user)
    if prefix is None:
        return Area.objects.none()
    qs = Area.objects.filter(code__startswith=prefix).only("code", "name", "level")
    if qs.filter(level=AreaLevel.VILLAGE).count() > 1000:
        qs = qs.filter(level__lt=AreaLevel.VILLAGE)
    return qs.order_by("code")[:3000]


def _paginate(table: HouseholdTable, request: HttpRequest) -> None:
    """50 a page; `?per_page=` up to 500 (the CSV export is the way to get everything)."""
    try:
        per_page = max(1, min(int(request.GET.get("per_page", PER_PAGE)), MAX_PER_PAGE))
    except ValueError:
        per_page = PER_PAGE
    try:
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
    except PageNotAnInteger:
        table.paginate(page=1, per_page=per_page)
    except EmptyPage:
        table.paginate(page=table.paginator.num_pages, per_page=per_page)


@login_required
@permission_required("registry.view_household", raise_exception=True)
def household_list(request: HttpRequest) -> HttpResponse:
    filterset = HouseholdFilterSet(request.GET, queryset=_scoped(request), request=request)
    qs = with_problem_counts(filterset.qs.select_related("village", "village__parent"))
    table = HouseholdTable(qs)
    RequestConfig(request, paginate=False).configure(table)  # sorting from ?sort=
    _paginate(table, request)
    _prepare_filter_form(filterset)
    area_code = (filterset.form.cleaned_data.get("area") or "").strip()
    selected = Area.objects.filter(code=area_code).first() if area_code else None
    export_query = QueryDict(mutable=True)
    for key, values in request.GET.lists():
        kept = [v for v in values if v]
        if kept and key not in ("page", "sort"):
            export_query.setlist(key, kept)
    context = {
        "filterset": filterset,
        "table": table,
        "trail": area_trail(request.user, selected) if selected else [],
        "export_query": export_query.urlencode(),
        "results_id": RESULTS_ID,
    }
    htmx: Any = getattr(request, "htmx", None)  # django-htmx's middleware
    partial = bool(htmx) and htmx.target == RESULTS_ID and not htmx.history_restore_request
    if partial:
        response = render(request, "registry/_household_results.html", context)
    else:
        context["area_options"] = _area_options(request)
        response = render(request, "registry/household_list.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@login_required
@permission_required("registry.export_household", raise_exception=True)
@require_http_methods(["GET", "POST"])
def household_export(request: HttpRequest) -> HttpResponseBase:
    """The list's rows, exactly: the same filterset over the same scoped queryset, every row.

    The filters come from the query string. GET streams CSV (`?rows=members`: one row per
    current member). POST (`format` csv|xlsx, `rows` households|members, from the list
    page's export menu): a CSV of at most `exports.DIRECT_CSV_ROWS` rows streams at once;
    xlsx and larger CSVs run as a background job and the browser goes to its page.
    """
    data = request.POST if request.method == "POST" else request.GET
    fmt, what = data.get("format", "csv"), data.get("rows", "households")
    if fmt not in exports.FORMATS or what not in ("households", "members"):
        return HttpResponseBadRequest(
            _("Unknown export: %(format)s of %(rows)s.") % {"format": fmt, "rows": what},
            content_type="text/plain; charset=utf-8",
        )
    if request.method == "GET" and fmt != "csv":
        return HttpResponseBadRequest(
            _("An Excel export runs in the background: start it from the household list."),
            content_type="text/plain; charset=utf-8",
        )
    filters = exports.filter_query(request.GET)
    members = what == "members"
    try:
        households = exports.filtered_households(request.user, filters)
    except ValidationError as exc:
        # A filter that cannot be read is not silently dropped: that would export more
        # households than the user asked for.
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        return HttpResponseBadRequest(
            _("The filters are not valid: %(problems)s") % {"problems": problems},
            content_type="text/plain; charset=utf-8",
        )
    export = exports.build(request.user, members=members, households=households)
    if fmt == "csv" and (request.method == "GET" or export.count() <= exports.DIRECT_CSV_ROWS):
        name = exports.filename(request.user, filters, members=members, fmt="csv")
        return exports.stream_csv(export, filename=name)
    # The job concerns the filtered area when it is a real one inside the user's own.
    area = "".join(filters.get("area", [])).strip()
    known = bool(area) and user_can_reach(request.user, area)
    known = known and Area.objects.filter(code=area).exists()
    job = exports.start_export_job(
        request.user, filters, fmt=fmt, members=members, area_code=area if known else None
    )
    return redirect(job)


# -- detail --------------------------------------------------------------------------------


def _health(member: Member) -> list[str]:
    labels = []
    if member.has_chronic_illness:
        labels.append(str(enums.Health.CHRONIC.label))
    if member.has_serious_illness:
        labels.append(str(enums.Health.SERIOUS.label))
    if member.is_disabled:
        grade = member.get_disability_grade_display() if member.disability_grade else ""
        labels.append(f"{enums.Health.DISABLED.label} {grade}".strip())
    return labels or [str(enums.Health.HEALTHY.label)]


def _insurance(member: Member) -> list[str]:
    names = [
        "is_dibao",
        "is_wubao",
        "has_medical_insurance",
        "has_serious_illness_insurance",
        "has_pension",
        "has_commercial_insurance",
        "has_accident_insurance_subsidy",
    ]
    return [
        str(cast(models.Field, Member._meta.get_field(n)).verbose_name)
        for n in names
        if getattr(member, n)
    ]


def _field_groups(household: Household, full_id: bool) -> list[dict[str, Any]]:
    groups = []
    for title, names in forms.HOUSEHOLD_GROUPS:
        items = []
        for name in names:
            field = cast(models.Field, Household._meta.get_field(name))
            label = str(field.verbose_name)
            if name == "village":
                value = household.village.full_name
            else:
                value = display_value(field, getattr(household, field.attname))
            if name == "bank_account" and not full_id and household.bank_account:
                value = mask_id_number(household.bank_account)
            items.append({"name": name, "label": label[:1].upper() + label[1:], "value": value})
        groups.append({"title": title, "items": items})
    return groups


def household_audit_entries(household: Household) -> Any:
    """The household's own entries and those of its members and incomes, newest first."""
    member_ids = [str(pk) for pk in household.members.values_list("pk", flat=True)]
    income_ids = [str(pk) for pk in household.incomes.values_list("pk", flat=True)]
    return AuditEntry.objects.filter(
        Q(object_type="registry.household", object_id=str(household.pk))
        | Q(object_type="registry.member", object_id__in=member_ids)
        | Q(object_type="registry.householdincome", object_id__in=income_ids)
    ).order_by("-id")


@login_required
@permission_required("registry.view_household", raise_exception=True)
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    user = request.user
    full_id = user.has_perm("registry.view_full_id")
    today = timezone.localdate()
    members = sorted(household.members.all(), key=lambda m: (m.left_on is not None,))
    for m in members:
        m.age = m.age_on(today)  # type: ignore[attr-defined]
        m.shown_id = m.id_number if full_id else m.masked_id  # type: ignore[attr-defined]
        m.health_labels = _health(m)  # type: ignore[attr-defined]
        m.security_labels = _insurance(m)  # type: ignore[attr-defined]
    incomes = list(household.incomes.all())
    for inc in incomes:
        inc.property_total = inc.property_dividend + inc.property_other  # type: ignore[attr-defined]
        inc.transfer_total = sum(  # type: ignore[attr-defined]
            (getattr(inc, f) for f in HouseholdIncome.SOURCES if f.startswith("transfer_")),
            Decimal("0"),
        )
    steps_by_name = lifecycle.transitions()
    changes = list(
        household.status_changes.select_related("user")
        .prefetch_related("attachments")
        .order_by("-date", "-id")
    )
    for c in changes:
        step = steps_by_name.get(c.transition)
        c.step_label = step.label if step else c.transition  # type: ignore[attr-defined]
    issues = [
        {"issue": i, "title": quality.TITLES.get(i.rule, i.rule)}
        for i in household.quality_issues.select_related("member")
    ]
    entries = household_audit_entries(household)[:200]
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "groups": _field_groups(household, full_id),
            "members": members,
            "current_members": sum(1 for m in members if m.left_on is None),
            "incomes": incomes,
            "latest_income": incomes[0] if incomes else None,
            "issues": issues,
            "status_changes": changes,
            "entries": entries,
            "steps": lifecycle.available(household.status, user),
            "can_change": user.has_perm("registry.change_household"),
            "full_id": full_id,
            "trail": area_trail(user, household.village),
        },
    )


@login_required
@permission_required("registry.view_household", raise_exception=True)
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """Evidence of a status change, only to users who may see the household."""
    household = _household(request, pk)
    attachment = get_object_or_404(
        Attachment.objects.distinct(), pk=attachment_pk, statuschange__household=household
    )
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


# -- forms ---------------------------------------------------------------------------------


def _stale(exc: StaleEdit, data: Any, rebuild: Callable[[Any], F]) -> F:
    """After a StaleEdit: the user's input kept, the message shown, the new version taken.

    The form is rebuilt from the submitted data with the current version, so that the user,
    having seen what changed, can save again on purpose; nothing is saved silently.
    """
    data = data.copy()
    data["version"] = str(exc.current_version)
    form = rebuild(data)
    form.is_valid()
    form.add_error(None, str(exc))
    return form


def _same(field: Any, mine: Any, theirs: Any) -> bool:
    if isinstance(mine, Area):
        mine = mine.code
    if isinstance(mine, list) or isinstance(theirs, list):
        return list(mine or []) == list(theirs or [])
    try:
        return field.to_python(mine) == theirs
    except ValidationError:
        return False


def _differences(saved: Any, form: BaseForm, names: list[str]) -> list[dict[str, str]]:
    """The fields where the saved record now differs from what this user submitted."""
    rows = []
    hidden = getattr(form, "hidden_recorded", [])  # values this user may not see
    for name in names:
        if name not in form.fields or name not in form.cleaned_data or name in hidden:
            continue
        field = cast(models.Field, type(saved)._meta.get_field(name))
        mine, theirs = form.cleaned_data[name], getattr(saved, field.attname)
        if not _same(field, mine, theirs):
            label = str(field.verbose_name)
            rows.append(
                {
                    "label": label[:1].upper() + label[1:],
                    "saved": display_value(field, theirs),
                    "yours": display_value(field, mine.code if isinstance(mine, Area) else mine),
                }
            )
    return rows


@login_required
@permission_required("registry.add_household", raise_exception=True)
def household_create(request: HttpRequest) -> HttpResponse:
    """Register a surveyed household: its fields, its members, last year's income."""
    user = request.user
    if request.method == "POST":
        form = forms.HouseholdForm(request.POST, user=user)
        members: Any = forms.MemberFormSet(request.POST, prefix="members")
        income = forms.IncomeForm(request.POST, prefix="income")
        parsed = [form.is_valid(), members.is_valid(), income.is_valid()]
        if all(parsed):
            rows = members.rows()
            data = {k: v for k, v in form.cleaned_data.items() if k in services.HOUSEHOLD_FIELDS}
            try:
                household = services.create_household(
                    user,
                    data,
                    [r.service_data() for r in rows],
                    income.service_data() if income.has_changed() else None,
                )
            except ValidationError as exc:
                targets: dict[str, Any] = {"": form, "income.": income}
                targets.update({f"members.{i}.": r for i, r in enumerate(rows)})
                apply_errors(exc, targets)
            else:
                messages.success(
                    request,
                    _("Household %(code)s registered.") % {"code": household.code},
                )
                return redirect(household)
        messages.error(request, _("The household was not saved: correct the marked fields."))
    else:
        form = forms.HouseholdForm(user=user)
        members = forms.MemberFormSet(prefix="members", initial=[{"relation": "01"}])
        income = forms.IncomeForm(prefix="income")
    return render(
        request,
        "registry/household_create.html",
        {"form": form, "members": members, "income": income},
    )


@login_required
@permission_required("registry.add_household", raise_exception=True)
def member_row(request: HttpRequest) -> HttpResponse:
    """One more empty member row for the create form (htmx), and the new form count."""
    try:
        index = int(request.GET.get("members-TOTAL_FORMS", "1"))
    except ValueError:
        index = 1
    index = max(0, min(index, forms.MemberFormSet.max_num - 1))
    formset = forms.MemberFormSet(prefix="members")
    form = formset.form(
        prefix=formset.add_prefix(index), empty_permitted=True, use_required_attribute=False
    )
    formset.add_fields(form, index)
    return render(
        request,
        "registry/_member_row.html",
        {"member": form, "index": index, "total": index + 1, "oob": True, "can_delete": True},
    )


@login_required
@permission_required("registry.change_household", raise_exception=True)
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    user = request.user
    differences: list[dict[str, str]] = []

    def build(data: Any = None) -> forms.HouseholdEditForm:
        return forms.HouseholdEditForm(
            data, user=user, instance=household, initial={"version": household.version}
        )

    if request.method == "POST":
        form = build(request.POST)
        if form.is_valid():
            try:
                services.update_household(
                    user,
                    household,
                    form.service_data(),
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["reason"],
                )
            except StaleEdit as exc:
                saved = Household.objects.get(pk=household.pk)
                differences = _differences(saved, form, services.HOUSEHOLD_FIELDS)
                form = _stale(exc, request.POST, build)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The household was saved."))
                return redirect(household)
    else:
        form = build()
    return render(
        request,
        "registry/household_edit.html",
        {"form": form, "household": household, "differences": differences},
    )


@login_required
@permission_required("registry.change_household", raise_exception=True)
def member_edit(request: HttpRequest, pk: int, member_pk: int | None = None) -> HttpResponse:
    """Add a member to the household, or change one."""
    household = _household(request, pk)
    member = get_object_or_404(household.members, pk=member_pk) if member_pk else None
    differences: list[dict[str, str]] = []

    full_id = request.user.has_perm("registry.view_full_id")

    def build(data: Any = None) -> forms.MemberEditForm:
        initial = {"version": household.version}
        if member is None:
            return forms.MemberEditForm(data, initial=initial)
        return forms.MemberEditForm(data, instance=member, initial=initial, full_id=full_id)

    if request.method == "POST":
        form = build(request.POST)
        if form.is_valid():
            try:
                services.save_member(
                    request.user,
                    household,
                    form.service_data(),
                    member=member,
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["reason"],
                )
            except StaleEdit as exc:
                if member is not None:
                    saved = Member.objects.get(pk=member.pk)
                    differences = _differences(saved, form, services.MEMBER_FIELDS)
                form = _stale(exc, request.POST, build)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The member was saved."))
                return redirect(household)
    else:
        form = build()
    return render(
        request,
        "registry/member_form.html",
        {"form": form, "household": household, "member": member, "differences": differences},
    )


@login_required
@permission_required("registry.change_household", raise_exception=True)
def member_leave(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    """A member leaves the household: kept on record, dated, with the reason."""
    household = _household(request, pk)
    member = get_object_or_404(household.members, pk=member_pk, left_on__isnull=True)

    def build(data: Any = None) -> forms.LeaveForm:
        return forms.LeaveForm(
            data, initial={"version": household.version, "left_on": timezone.localdate()}
        )

    if request.method == "POST":
        form = build(request.POST)
        if form.is_valid():
            try:
                services.remove_member(
                    request.user,
                    member,
                    form.cleaned_data["left_on"],
                    form.cleaned_data["left_reason"],
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["reason"],
                )
            except StaleEdit as exc:
                form = _stale(exc, request.POST, build)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The member's departure was recorded."))
                return redirect(household)
    else:
        form = build()
    return render(
        request,
        "registry/member_leave.html",
        {"form": form, "household": household, "member": member},
    )


@login_required
@permission_required("registry.change_household", raise_exception=True)
def income_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a year's income (or correct it: `?year=2016` loads that year)."""
    household = _household(request, pk)
    year = request.GET.get("year", "")
    existing = (
        HouseholdIncome.objects.filter(household=household, year=year).first()
        if year.isdigit()
        else None
    )
    differences: list[dict[str, str]] = []

    def build(data: Any = None) -> forms.IncomeEditForm:
        return forms.IncomeEditForm(data, instance=existing, initial={"version": household.version})

    if request.method == "POST":
        form = build(request.POST)
        if form.is_valid():
            try:
                services.set_income(
                    request.user,
                    household,
                    form.service_data(),
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["reason"],
                )
            except StaleEdit as exc:
                saved = HouseholdIncome.objects.filter(
                    household=household, year=form.cleaned_data["year"]
                ).first()
                if saved is not None:
                    differences = _differences(saved, form, services.INCOME_FIELDS)
                form = _stale(exc, request.POST, build)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The income was saved."))
                return redirect(household)
    else:
        form = build()
    return render(
        request,
        "registry/income_form.html",
        {
            "form": form,
            "household": household,
            "existing": existing,
            "differences": differences,
            "incomes": household.incomes.all(),
        },
    )


@login_required
def household_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """Take one step of the life cycle: dated, signed (the user), reasoned, with evidence."""
    household = _household(request, pk)
    steps = lifecycle.available(household.status, request.user)
    if not steps:
        raise PermissionDenied(_("You cannot take any step for a household in this status."))

    def build(data: Any = None, files: Any = None) -> forms.TransitionForm:
        return forms.TransitionForm(
            data, files, steps=steps, initial={"version": household.version}
        )

    files_lost = False
    if request.method == "POST":
        form = build(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.transition_household(
                    request.user,
                    household,
                    form.cleaned_data["transition"],
                    reason=form.cleaned_data["reason"] or "",
                    date=form.cleaned_data["date"],
                    attachments=form.cleaned_data["attachments"],
                    expected_version=form.cleaned_data["version"],
                )
            except StaleEdit as exc:
                form = _stale(exc, request.POST, lambda d: build(d, request.FILES))
                files_lost = bool(request.FILES)
            except ValidationError as exc:
                apply_errors(exc, {"": form})
                files_lost = bool(request.FILES)
            else:
                messages.success(
                    request,
                    _("Status is now “%(status)s”.") % {"status": household.get_status_display()},
                )
                return redirect(household)
    else:
        form = build()
    return render(
        request,
        "registry/transition_form.html",
        {
            "form": form,
            "household": household,
            "steps": steps,
            "files_lost": files_lost,
            "evidence_steps": form.needs_evidence(),
        },
    )


# -- data quality --------------------------------------------------------------------------


def _quality_area(request: HttpRequest, code: str) -> Area | None:
    if code:
        return reachable_area(request.user, code)
    return user_root(request.user)


@login_required
@permission_required("registry.view_quality_report", raise_exception=True)
def quality_report(request: HttpRequest) -> HttpResponse:
    """Households breaking each national rule (DOMAIN.md §9), per sub-area one level down."""
    area = _quality_area(request, request.GET.get("area", "").strip())
    length = child_length(area)
    qs = _scoped(request)
    if area is not None:
        qs = qs.in_area(area.code)
    counts = {(r["area"], r["rule"]): r["households"] for r in quality.report(qs, length)}
    any_problem = {
        r["area"]: r["n"]
        for r in QualityIssue.objects.filter(household__in=qs)
        .annotate(area=Substr("household__village_id", 1, length))
        .values("area")
        .annotate(n=Count("household", distinct=True))
        .order_by()
    }
    households = {
        r["area"]: r["n"]
        for r in qs.annotate(area=Substr("village_id", 1, length))
        .values("area")
        .annotate(n=Count("id"))
        .order_by()
    }
    if area is not None and area.level >= AreaLevel.VILLAGE:
        subareas = [area]
    else:
        subareas = list(children_of(area))
    known = {a.code for a in subareas}
    # Households filed under a code without an Area row still count: show them, not lose them.
    extra = sorted(
        {c for c in households if c not in known} | {a for a, _r in counts if a not in known}
    )
    columns: list[dict[str, Any]] = [{"code": a.code, "name": a.name, "area": a} for a in subareas]
    columns += [{"code": c, "name": c, "area": None} for c in extra]
    rules = []
    for rule, title in quality.TITLES.items():
        cells = [{"code": c["code"], "n": counts.get((c["code"], rule), 0)} for c in columns]
        total = sum(cell["n"] for cell in cells)
        rules.append({"rule": rule, "title": title, "cells": cells, "total": total})
    return render(
        request,
        "registry/quality_report.html",
        {
            "area": area,
            "trail": area_trail(request.user, area),
            "columns": columns,
            "rules": rules,
            "households_row": [households.get(c["code"], 0) for c in columns],
            "households_total": sum(households.values()),
            "problem_row": [
                {"code": c["code"], "n": any_problem.get(c["code"], 0)} for c in columns
            ],
            "problem_total": sum(any_problem.values()),
            "drill": area is None or area.level < AreaLevel.VILLAGE - 1,
        },
    )


@login_required
@permission_required("registry.view_quality_report", raise_exception=True)
@require_POST
def quality_recheck(request: HttpRequest) -> HttpResponse:
    """Re-run every rule over the area's households now (synchronously, for the time being)."""
    area = _quality_area(request, request.POST.get("area", "").strip())
    code = area.code if area is not None else (area_prefix(request.user) or "")
    started = dt.datetime.now()
    done = services.recheck_quality(request.user, code)
    seconds = (dt.datetime.now() - started).total_seconds()
    messages.success(
        request,
        _("The data-quality rules were run over %(n)d households in %(s).1f seconds.")
        % {"n": done, "s": seconds},
    )
    url = reverse("registry:quality_report")
    return redirect(f"{url}?area={code}" if area is not None else url)


# -- import (Excel / CSV) --------------------------------------------------------------------------
# Appended as a section of its own; its imports stay with it.

import dataclasses  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
from pathlib import Path  # noqa: E402

from django import forms as forms_module  # noqa: E402
from django.utils.translation import gettext_lazy  # noqa: E402

IMPORT_ERRORS_SHOWN = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(forms_module.Form):
    """A workbook or CSV to import, why, and whether only to check it."""

    file = forms_module.FileField(
        label=gettext_lazy("Workbook or CSV file"),
        help_text=gettext_lazy(
            "The template's workbook (.xlsx), or one CSV table with a row per member."
        ),
    )
    reason = forms_module.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Kept in the change history of every household imported."),
    )
    dry_run = forms_module.BooleanField(
        label=gettext_lazy("Only check the file, write nothing"), required=False
    )
    background = forms_module.BooleanField(
        label=gettext_lazy("Run in the background (large files always do)"), required=False
    )


#: Uploads up to this size are imported while the user waits; larger ones become a job.
IMPORT_INLINE_BYTES = 1_000_000


def _import_dir(user: Any) -> Path:
    """Where a user's uploads wait for their error report (only that user's own)."""
    from django.conf import settings

    return Path(settings.DATA_DIR) / "imports" / str(user.pk)


def _can_import(user: Any) -> bool:
    return bool(
        user.has_perm("registry.add_household") and user.has_perm("registry.change_household")
    )


@login_required
def import_template(request: HttpRequest) -> HttpResponseBase:
    """The import template: sheets 户 / 成员 / 收入, Chinese titles, drop-down lists."""
    if not _can_import(request.user):
        raise PermissionDenied
    from fupin.registry import importing

    return FileResponse(
        io.BytesIO(importing.template_workbook()),
        as_attachment=True,
        filename=_("household-import-template.xlsx"),
        content_type=XLSX,
    )


@login_required
def household_import(request: HttpRequest) -> HttpResponse:
    """Upload a workbook or CSV: every row is checked, then all are written or none.

    A village's file (up to IMPORT_INLINE_BYTES) is answered at once; a bigger one, or one
    the user sends to the background, runs as a job with a live progress page.
    """
    if not _can_import(request.user):
        raise PermissionDenied
    from fupin.core import jobs
    from fupin.registry import importing

    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "registry/import_form.html", {"form": form})
    upload = form.cleaned_data["file"]
    name = upload.name or "upload"
    if form.cleaned_data["background"] or upload.size > IMPORT_INLINE_BYTES:
        job = jobs.start(
            "registry.import",
            cast(User, request.user),
            params={
                "reason": form.cleaned_data["reason"],
                "dry_run": form.cleaned_data["dry_run"],
            },
            input_file=upload,
            input_name=name,
        )
        return redirect("jobs:detail", pk=job.pk)
    data = upload.read()
    started = dt.datetime.now()
    result = importing.run_import(
        request.user,
        name,
        data,
        reason=form.cleaned_data["reason"],
        dry_run=form.cleaned_data["dry_run"],
    )
    seconds = (dt.datetime.now() - started).total_seconds()
    token = ""
    if result.errors:
        # Kept so the error report can be made when asked for (it re-reads the workbook).
        token = secrets.token_urlsafe(16)
        folder = _import_dir(request.user)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{token}.upload").write_bytes(data)
        (folder / f"{token}.json").write_text(
            json.dumps(
                {"name": name, "errors": [dataclasses.asdict(e) for e in result.errors]},
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    return render(
        request,
        "registry/import_result.html",
        {
            "result": result,
            "name": name,
            "seconds": seconds,
            "dry_run": form.cleaned_data["dry_run"],
            "errors": _shown_rows(result.errors[:IMPORT_ERRORS_SHOWN]),
            "more_errors": max(0, len(result.errors) - IMPORT_ERRORS_SHOWN),
            "warnings": _shown_rows(result.warnings[:IMPORT_ERRORS_SHOWN]),
            "token": token,
        },
    )


def _shown_rows(rows: list[Any]) -> list[dict[str, Any]]:
    sheets = {"households": _("Households"), "members": _("Members"), "income": _("Income")}
    return [
        {"sheet": sheets.get(e.sheet, e.sheet), "row": e.row, "message": e.message} for e in rows
    ]


@login_required
def import_error_report(request: HttpRequest, token: str) -> HttpResponseBase:
    """The uploaded workbook with the bad cells marked red and a message per row."""
    from fupin.registry import importing
    from fupin.registry.bulk import RowError

    folder = _import_dir(request.user)
    if not token.replace("-", "").replace("_", "").isalnum():
        raise Http404
    upload, meta = folder / f"{token}.upload", folder / f"{token}.json"
    if not upload.exists() or not meta.exists():
        raise Http404
    info = json.loads(meta.read_text(encoding="utf-8"))
    errors = [RowError(**e) for e in info["errors"]]
    report = importing.error_report(upload.read_bytes(), errors)
    stem = Path(info["name"]).stem or "import"
    return FileResponse(
        io.BytesIO(report),
        as_attachment=True,
        filename=f"{stem}.errors.xlsx",
        content_type=XLSX,
    )
