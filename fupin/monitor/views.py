"""Monitoring pages: the education exchanges and their 应助未助 list, the health insurance
list, the 351 calculator. Seeing needs monitor.view_monitor; exports, imports and creating
an exchange need monitor.manage_monitor; every list is scoped to the user's area."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fupin.core import jobs
from fupin.core.forms import apply_errors
from fupin.core.models import Area, User
from fupin.core.scoping import area_prefix, user_can_reach
from fupin.core.sheets import xlsx_response
from fupin.core.views import area_trail
from fupin.monitor import exchange_file, forms, policy, services
from fupin.monitor.models import EducationExchange, ExchangeState
from fupin.monitor.settlement import settle
from fupin.registry.enums import Schooling

VIEW = services.VIEW
MANAGE = services.MANAGE
#: Rows shown per page of a list; the xlsx export has them all.
PER_PAGE = 50
#: An exchange file of more rows, or an answer file of more bytes, is made in the background.
INLINE_ROWS = 20_000
INLINE_BYTES = 2 * 1024 * 1024
#: Problems of a refused answer shown on the page (the CSV of problems has them all).
ERRORS_SHOWN = 200


@login_required
@permission_required(VIEW, raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "monitor/index.html", {"can_manage": request.user.has_perm(MANAGE)})


# ======================================================================================
# The 351 calculator
# ======================================================================================


@login_required
@permission_required(VIEW, raise_exception=True)
def calculator(request: HttpRequest) -> HttpResponse:
    rules = policy.health()
    form = forms.SettlementForm(request.GET or None)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        result = settle(data["bill"], data["level"], data["paid_this_year"], rules)
    return render(
        request,
        "monitor/calculator.html",
        {"form": form, "result": result, "policy": rules, "levels": rules.levels.values()},
    )


# ======================================================================================
# Education exchanges
# ======================================================================================


def _exchange(request: HttpRequest, pk: int) -> EducationExchange:
    """An exchange whose area contains the user's or lies in it (a village cadre sees the
    county's exchange, and only his village's children in it); else 404."""
    try:
        return (
            EducationExchange.objects.overlapping_user(request.user)
            .select_related("area", "created_by", "exported_by", "answered_by")
            .get(pk=pk)
        )
    except EducationExchange.DoesNotExist as exc:
        raise Http404 from exc


def _may_manage(user: Any, exchange: EducationExchange) -> bool:
    return bool(user.has_perm(MANAGE)) and user_can_reach(user, exchange.area_id)


@login_required
@permission_required(VIEW, raise_exception=True)
def exchange_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    can_manage = user.has_perm(MANAGE)
    form = forms.ExchangeCreateForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                exchange = services.create_exchange(
                    user, data["area"].code, data["school_year"], reason=data["reason"]
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The exchange was created."))
                return redirect("monitor:exchange_detail", pk=exchange.pk)
    exchanges = EducationExchange.objects.overlapping_user(user).select_related("area")
    page = Paginator(exchanges, PER_PAGE).get_page(request.GET.get("page"))
    # The counts of the user's area, not the exchange's totals (a village cadre sees the
    # county's exchange and his village's children in it): one query for the page.
    counts = services.scoped_counts(user, list(page.object_list))
    for exchange in page.object_list:
        exchange.scoped = counts[exchange.pk]  # type: ignore[attr-defined]
    return render(
        request,
        "monitor/exchange_list.html",
        {"page": page, "form": form, "can_manage": can_manage, "source": policy.education().source},
    )


def _scoped_counts(user: Any, exchange: EducationExchange) -> dict[str, Any]:
    """The exchange's counts in the user's area; the sections of the 应助未助 page only once
    the education department has answered (before, every child is awaiting it)."""
    counts: dict[str, Any] = services.scoped_counts(user, [exchange])[exchange.pk]
    counts["awaiting"] = exchange.state != ExchangeState.ANSWERED
    if not counts["awaiting"]:
        counts.update(services.section_counts(services.not_aided_rows(user, exchange)))
    return counts


def _render_exchange(
    request: HttpRequest,
    exchange: EducationExchange,
    import_form: forms.AnswerImportForm | None = None,
    result: services.AnswerResult | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    may_manage = _may_manage(user, exchange)
    return render(
        request,
        "monitor/exchange_detail.html",
        {
            "exchange": exchange,
            "counts": _scoped_counts(user, exchange),
            "may_manage": may_manage,
            "full_id": user.has_perm(services.FULL_ID),
            "import_form": import_form or forms.AnswerImportForm(),
            "result": result,
            "errors_shown": result.errors[:ERRORS_SHOWN] if result else [],
            "columns": exchange_file.COLUMNS,
            "rules": policy.education(),
            "aid_year": policy.education().aid_year(exchange.school_year),
        },
        status=status,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def exchange_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_exchange(request, _exchange(request, pk))


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def exchange_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Draw the list of children (once); the files are downloaded from the page after."""
    exchange = _exchange(request, pk)
    try:
        exchange = services.export_exchange(
            request.user, exchange, reason=request.POST.get("reason", "")
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You do not have the right to do this."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(n)d children were taken from the registry; download the file below.")
            % {"n": exchange.children},
        )
    return redirect("monitor:exchange_detail", pk=pk)


@login_required
@permission_required(MANAGE, raise_exception=True)
def exchange_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    exchange = _exchange(request, pk)
    if fmt not in exchange_file.CONTENT_TYPES:
        raise Http404
    user = cast(User, request.user)
    if not user.has_perm(services.FULL_ID):
        messages.error(
            request,
            _(
                "The education department needs full resident IDs to match the children, "
                "and you may not see full IDs: ask a colleague who may (an administrator "
                "or data officer) to export this exchange."
            ),
        )
        return redirect("monitor:exchange_detail", pk=pk)
    if exchange.children > INLINE_ROWS:
        job = jobs.start(
            "monitor.exchange_file",
            user,
            exchange.area_id,
            {"exchange": exchange.pk, "format": fmt},
        )
        return redirect("jobs:detail", pk=job.pk)
    name = exchange_file.filename(exchange, fmt)
    # The file holds full resident IDs: its folder goes whatever happens (a refusal, an
    # error half-way through writing).
    with tempfile.TemporaryDirectory(prefix="exchange-") as folder:
        path = Path(folder) / name
        try:
            services.write_exchange_file(user, exchange, fmt, path)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("monitor:exchange_detail", pk=pk)
        data = path.read_bytes()
    response = HttpResponse(data, content_type=exchange_file.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def exchange_import(request: HttpRequest, pk: int) -> HttpResponse:
    """An answer file: checked and written at once up to INLINE_BYTES (problems listed on
    the page), in the background beyond (the job lists them)."""
    exchange = _exchange(request, pk)
    if not _may_manage(request.user, exchange):
        raise PermissionDenied
    form = forms.AnswerImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_exchange(request, exchange, import_form=form, status=400)
    upload = form.cleaned_data["file"]
    reason = form.cleaned_data["reason"]
    user = cast(User, request.user)
    if form.cleaned_data["background"] or upload.size > INLINE_BYTES:
        job = jobs.start(
            "monitor.exchange_answer",
            user,
            exchange.area_id,
            {"exchange": exchange.pk, "reason": reason},
            input_file=upload,
            input_name=upload.name,
        )
        return redirect("jobs:detail", pk=job.pk)
    try:
        result = services.import_answer(user, exchange, upload.name, upload.read(), reason=reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("monitor:exchange_detail", pk=pk)
    if result.errors:
        return _render_exchange(request, exchange, import_form=form, result=result, status=400)
    messages.success(
        request,
        _(
            "The answer was imported: %(rows)d rows, %(aided)d aided, %(not_aided)d not "
            "aided, %(blank)d left blank."
        )
        % {
            "rows": result.rows,
            "aided": result.aided,
            "not_aided": result.not_aided,
            "blank": result.blank,
        },
    )
    return redirect("monitor:exchange_detail", pk=pk)


# -- the 应助未助 list ----------------------------------------------------------------------


def _unaided(request: HttpRequest, exchange: EducationExchange) -> tuple[Any, str, Any]:
    """The filter form, the section shown (default: the 应助未助 list itself) and the
    not-aided rows the filters leave (every section)."""
    form = forms.UnaidedFilterForm(request.GET or None)
    filters: dict[str, str] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
        if filters.get("area") and not user_can_reach(request.user, filters["area"]):
            raise Http404
    section = filters.pop("section", "") or "unaided"
    return form, section, services.not_aided_rows(request.user, exchange, **filters)


def _section_links(request: HttpRequest, section: str, counts: dict[str, int]) -> list[Any]:
    """The page's tabs: each section with its count and its link (the filters kept)."""
    links = []
    for code in services.SECTIONS:
        query = request.GET.copy()
        query.pop("page", None)
        query["section"] = code
        links.append(
            {
                "code": code,
                "label": services.SECTION_LABELS[code],
                "count": counts[code],
                "query": query.urlencode(),
                "active": code == section,
            }
        )
    return links


@login_required
@permission_required(VIEW, raise_exception=True)
def unaided(request: HttpRequest, pk: int) -> HttpResponse:
    exchange = _exchange(request, pk)
    form, section, not_aided = _unaided(request, exchange)
    counts = services.section_counts(not_aided)
    rows = not_aided.filter(services.section_filter(section))
    groups = services.unaided_by_county_and_school(rows)
    page = Paginator(
        rows.select_related("village").order_by("village_id", "school_name", "row_key"),
        PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "monitor/unaided.html",
        {
            "exchange": exchange,
            "awaiting": exchange.state != ExchangeState.ANSWERED,
            "form": form,
            "section": section,
            "section_label": services.SECTION_LABELS[section],
            "row_label": services.ROW_LABELS[section],
            "sections": _section_links(request, section, counts),
            "groups": groups,
            "total": counts[section],
            "page": page,
            "can_export": _may_manage(request.user, exchange),
            "query": request.GET.urlencode(),
            "source": policy.education().source,
        },
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
def unaided_export(request: HttpRequest, pk: int) -> HttpResponse:
    exchange = _exchange(request, pk)
    if not _may_manage(request.user, exchange):
        raise PermissionDenied
    _form, section, not_aided = _unaided(request, exchange)
    rows = not_aided.filter(services.section_filter(section))
    full_id = request.user.has_perm(services.FULL_ID)
    groups = services.unaided_by_county_and_school(rows)
    names = dict(
        Area.objects.filter(
            code__in=set(rows.values_list("village_id", flat=True).distinct())
        ).values_list("code", "name")
    )
    schooling = dict(Schooling.choices)
    label = str(services.ROW_LABELS[section])
    summary = (
        [g["county_name"], g["school_name"] or _("(no school)"), g["children"]] for g in groups
    )
    detail = (
        [
            row.row_key,
            names.get(row.village_id, row.village_id),
            row.household_code,
            row.name,
            row.id_number if full_id else row.masked_id,
            str(schooling.get(row.schooling, row.schooling)),
            row.school_name,
            label,
        ]
        for row in services.iter_unaided(rows)
    )
    return xlsx_response(
        [
            (
                _("By county and school"),
                [_("County"), _("School"), _("Children")],
                summary,
            ),
            (
                _("Children"),
                [
                    _("Row key"),
                    _("Village"),
                    _("Household number"),
                    _("Name"),
                    _("Resident ID"),
                    _("Schooling"),
                    _("School"),
                    _("Answer"),
                ],
                detail,
            ),
        ],
        f"unaided-{section}-{exchange.area_id}-{exchange.school_year}.xlsx",
    )


# ======================================================================================
# Health: registered poor people without insurance
# ======================================================================================


def _health_area(request: HttpRequest, code: str) -> Area | None:
    """The area of `?area=` (default the user's own); 404 outside the user's reach."""
    code = code or getattr(request.user, "area_id", "") or ""
    if not code:
        return None if area_prefix(request.user) == "" else _not_found()
    area = Area.objects.filter(code=code).first()
    if area is None or not user_can_reach(request.user, area.code):
        raise Http404
    return area


def _not_found() -> Any:
    raise Http404


def _health_query(request: HttpRequest) -> tuple[Any, str, str, Area | None]:
    form = forms.HealthFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    kind = data.get("kind") or "basic"
    level = data.get("level") or "county"
    return form, kind, level, _health_area(request, data.get("area") or "")


@login_required
@permission_required(VIEW, raise_exception=True)
def health_insurance(request: HttpRequest) -> HttpResponse:
    form, kind, level, area = _health_query(request)
    code = area.code if area else ""
    groups = services.uninsured_by_area(request.user, kind, level, code)
    people = (
        services.uninsured_members(request.user, kind, code)
        .select_related("household", "household__village")
        .order_by("household__village_id", "household__code", "relation", "pk")
    )
    page = Paginator(people, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "monitor/health_insurance.html",
        {
            "form": form,
            "kind": kind,
            "kind_label": services.INSURANCE_LABELS[kind],
            "level": level,
            "area": area,
            "trail": area_trail(request.user, area),
            "groups": groups,
            "total": sum(g["uninsured"] for g in groups),
            "page": page,
            "can_export": request.user.has_perm(MANAGE),
            "query": request.GET.urlencode(),
            "source": policy.health().household_statuses_source,
        },
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
def health_insurance_export(request: HttpRequest) -> HttpResponse:
    _form, kind, level, area = _health_query(request)
    code = area.code if area else ""
    full_id = request.user.has_perm(services.FULL_ID)
    groups = services.uninsured_by_area(request.user, kind, level, code)
    people = (
        services.uninsured_members(request.user, kind, code)
        .select_related("household", "household__village")
        .order_by("household__village_id", "household__code", "relation", "pk")
    )
    summary = ([g["code"], g["name"], g["people"], g["uninsured"], g["households"]] for g in groups)
    detail = (
        [
            m.household.village.name,
            m.household.code,
            m.household.head_name,
            m.name,
            m.id_number if full_id else m.masked_id,
        ]
        for m in people.iterator(chunk_size=2000)
    )
    return xlsx_response(
        [
            (
                _("By area"),
                [
                    _("Area code"),
                    _("Area"),
                    _("Registered poor people"),
                    _("Without insurance"),
                    _("Their households"),
                ],
                summary,
            ),
            (
                _("People"),
                [
                    _("Village"),
                    _("Household number"),
                    _("Head of household"),
                    _("Name"),
                    _("Resident ID"),
                ],
                detail,
            ),
        ],
        f"uninsured-{kind}-{code or 'all'}.xlsx",
    )


# ======================================================================================
# Return-to-poverty warnings (返贫预警): warnings, runs, events, monitored households,
# return cases, the overdue list and the household page's panel
# ======================================================================================

RESPOND = services.RESPOND


def _reach(request: HttpRequest, code: str) -> None:
    if code and not user_can_reach(request.user, code):
        raise Http404


def _filtered(request: HttpRequest, filterset_class: Any, qs: Any) -> Any:
    filters = filterset_class(request.GET or None, queryset=qs)
    if filters.is_bound and filters.form.is_valid():
        _reach(request, (filters.form.cleaned_data.get("area") or "").strip())
    return filters


def _table(request: HttpRequest, table: Any) -> Any:
    from django_tables2 import RequestConfig

    from fupin.monitor.tables import PER_PAGE as TABLE_PAGE

    RequestConfig(request, paginate={"per_page": TABLE_PAGE}).configure(table)
    return table


def _run_form(request: HttpRequest, data: Any = None) -> forms.RunForm:
    return forms.RunForm(data, initial={"area": getattr(request.user, "area_id", "") or ""})


@login_required
@permission_required(VIEW, raise_exception=True)
def warning_list(request: HttpRequest) -> HttpResponse:
    from fupin.monitor.filtersets import WarningFilterSet
    from fupin.monitor.models import WarningState
    from fupin.monitor.tables import WarningTable

    qs = services.warnings_for(request.user).select_related("household", "household__village")
    params = request.GET.copy()
    if "state" not in params:
        params["state"] = WarningState.OPEN  # the current warnings by default ("" for all)
    filters = WarningFilterSet(params, queryset=qs)
    if filters.is_valid():
        _reach(request, (filters.form.cleaned_data.get("area") or "").strip())
    rows = filters.qs if filters.is_bound and filters.form.is_valid() else qs
    counts = services.counts_by_level(rows)
    table = _table(request, WarningTable(rows))
    return render(
        request,
        "monitor/warning_list.html",
        {
            "table": table,
            "filters": filters.form,
            "counts": counts,
            "total": sum(counts.values()),
            "overdue": services.overdue(rows).count(),
            "can_run": request.user.has_perm(MANAGE),
            "run_form": _run_form(request),
            "last_run": _runs(request.user).first(),
        },
    )


def _runs(user: Any) -> Any:
    from fupin.monitor.models import WarningRun

    return WarningRun.objects.overlapping_user(user).select_related("area", "started_by")


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def warning_run_start(request: HttpRequest) -> HttpResponse:
    """ "Run now": the run as a background job, followed on the job's page."""
    form = _run_form(request, request.POST)
    if form.is_valid():
        code = form.cleaned_data["area"].strip()
        if not user_can_reach(request.user, code):
            raise Http404
        try:
            job = services.start_warning_run(request.user, code, form.cleaned_data["on"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("jobs:detail", pk=job.pk)
    else:
        messages.error(request, _("Give the area code of the run."))
    return redirect("monitor:run_list")


@login_required
@permission_required(VIEW, raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    from fupin.monitor.tables import RunTable

    table = _table(request, RunTable(_runs(request.user)))
    return render(
        request,
        "monitor/run_list.html",
        {
            "table": table,
            "can_run": request.user.has_perm(MANAGE),
            "run_form": _run_form(request),
            "rules": policy.warnings(),
        },
    )


def _warning(request: HttpRequest, pk: int) -> Any:
    from fupin.monitor.models import RiskWarning

    return get_object_or_404(
        RiskWarning.objects.for_user(request.user).select_related(
            "household", "household__village", "run", "visit", "measure", "closed_by"
        ),
        pk=pk,
    )


def evidence_rows(text: str, rules_file: str = "") -> list[tuple[str, str, str]]:
    """`name=value; …` as (name, label, value) rows; a fact's label from the rules file
    the warning's run applied."""
    from engine.warnings import WarningRulesError, load_rules

    labels: dict[str, str] = {}
    path = policy.ENGINE_RULES_DIR / rules_file
    if rules_file and path.is_file():
        try:
            labels = {f.name: f.label for f in load_rules(path).facts}
        except (WarningRulesError, OSError):  # labels help; they never fail the page
            labels = {}
    rows = []
    for part in text.split(";"):
        name, _sep, value = part.strip().partition("=")
        if name:
            rows.append((name, labels.get(name, ""), value))
    return rows


def _render_warning(request: HttpRequest, warning: Any, status: int = 200, **forms_: Any) -> Any:
    from fupin.monitor import returns
    from fupin.monitor.models import MonitoringCase, ReturnCase

    can_respond = request.user.has_perm(RESPOND)
    case = MonitoringCase.objects.filter(household=warning.household, ended_on__isnull=True).first()
    return_case = ReturnCase.objects.filter(from_warning=warning).first() or (
        ReturnCase.objects.filter(household=warning.household, state="open").first()
    )
    return render(
        request,
        "monitor/warning_detail.html",
        {
            "warning": warning,
            "evidence": evidence_rows(warning.evidence, warning.run.rules_file),
            "last_evidence": (
                evidence_rows(warning.last_evidence, warning.run.rules_file)
                if warning.last_evidence and warning.last_evidence != warning.evidence
                else []
            ),
            "overdue": warning.is_overdue(),
            "can_respond": can_respond and warning.state == "open",
            "respond_form": forms_.get("respond_form") or forms.RespondForm(warning=warning),
            "dismiss_form": forms_.get("dismiss_form") or forms.DismissForm(),
            "monitor_form": forms_.get("monitor_form")
            or forms.MonitoringForm(initial={"category": warning.category, "risk": warning.risk}),
            "return_form": forms_.get("return_form") or forms.OpenReturnForm(),
            "case": case,
            "return_case": return_case,
            "may_open_return": can_respond
            and warning.state == "open"
            and returns.can_open(warning.household)
            and return_case is None,
            "may_monitor": can_respond and case is None,
            "category_label": warning.get_category_display(),
        },
        status=status,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def warning_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_warning(request, _warning(request, pk))


@login_required
@permission_required(RESPOND, raise_exception=True)
@require_POST
def warning_respond(request: HttpRequest, pk: int) -> HttpResponse:
    warning = _warning(request, pk)
    form = forms.RespondForm(request.POST, warning=warning)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["new_visit_date"] or data["new_visit_work"]:
                services.respond_with_visit(
                    request.user,
                    warning,
                    date=data["new_visit_date"],
                    work_done=data["new_visit_work"],
                    note=data["note"],
                )
            else:
                services.respond_warning(
                    request.user,
                    warning,
                    visit=data["visit"],
                    measure=data["measure"],
                    note=data["note"],
                )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The warning was answered."))
            return redirect("monitor:warning_detail", pk=pk)
    return _render_warning(request, warning, status=400, respond_form=form)


@login_required
@permission_required(RESPOND, raise_exception=True)
@require_POST
def warning_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    warning = _warning(request, pk)
    form = forms.DismissForm(request.POST)
    if form.is_valid():
        try:
            services.dismiss_warning(request.user, warning, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The warning was dismissed."))
            return redirect("monitor:warning_detail", pk=pk)
    return _render_warning(request, warning, status=400, dismiss_form=form)


@login_required
@permission_required(RESPOND, raise_exception=True)
@require_POST
def warning_monitor(request: HttpRequest, pk: int) -> HttpResponse:
    warning = _warning(request, pk)
    form = forms.MonitoringForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.start_monitoring(
                request.user,
                warning.household,
                category=data["category"],
                risk=data["risk"],
                started_on=data["started_on"],
                reason=data["reason"],
                warning=warning,
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The household is now monitored."))
            return redirect("monitor:warning_detail", pk=pk)
    return _render_warning(request, warning, status=400, monitor_form=form)


@login_required
@permission_required(RESPOND, raise_exception=True)
@require_POST
def warning_return(request: HttpRequest, pk: int) -> HttpResponse:
    from fupin.monitor import returns

    warning = _warning(request, pk)
    form = forms.OpenReturnForm(request.POST)
    if form.is_valid():
        try:
            case = returns.open_case(
                request.user, warning.household, reason=form.cleaned_data["reason"], warning=warning
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The return check was opened."))
            return redirect("monitor:return_detail", pk=case.pk)
    return _render_warning(request, warning, status=400, return_form=form)


@login_required
@permission_required(VIEW, raise_exception=True)
def overdue_areas(request: HttpRequest) -> HttpResponse:
    """Overdue warnings by area, one level down (county → township → village)."""
    code = (request.GET.get("area") or "").strip()
    _reach(request, code)
    area = Area.objects.filter(code=code).first() if code else None
    if code and area is None:
        raise Http404
    level, groups = services.overdue_by_area(request.user, code)
    return render(
        request,
        "monitor/overdue_areas.html",
        {
            "area": area,
            "trail": area_trail(request.user, area),
            "level": level,
            "groups": groups,
            "total": sum(g["warnings"] for g in groups),
            "households": sum(g["households"] for g in groups),
            "lapsed": sum(g["lapsed"] for g in groups),
            "late": sum(g["late"] for g in groups),
            "deepest": level == "village",
        },
    )


# -- risk events ---------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def event_list(request: HttpRequest) -> HttpResponse:
    from fupin.monitor.filtersets import EventFilterSet
    from fupin.monitor.models import RiskEvent
    from fupin.monitor.tables import EventTable

    qs = RiskEvent.objects.for_user(request.user).select_related("household", "person")
    filters = _filtered(request, EventFilterSet, qs)
    rows = filters.qs if filters.is_bound and filters.form.is_valid() else qs
    return render(
        request,
        "monitor/event_list.html",
        {
            "table": _table(request, EventTable(rows)),
            "filters": filters.form,
            "can_import": request.user.has_perm(MANAGE),
        },
    )


def _household(request: HttpRequest, pk: int) -> Any:
    from fupin.registry.models import Household

    return get_object_or_404(
        Household.objects.for_user(request.user).select_related("village"), pk=pk
    )


@login_required
@permission_required(RESPOND, raise_exception=True)
def event_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a risk event of a household (from its page's panel)."""
    household = _household(request, pk)
    form = forms.EventForm(request.POST or None, household=household)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_event(
                request.user,
                household,
                kind=data["kind"],
                date=data["date"],
                amount=data["amount"],
                person=data["person"],
                source=data["source"],
                note=data["note"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The event was recorded."))
            return redirect("registry:household_detail", pk=household.pk)
    return render(
        request,
        "monitor/event_form.html",
        {"household": household, "form": form, "sources": policy.warnings().event_sources},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
def event_import(request: HttpRequest) -> HttpResponse:
    """A department's file of events, checked whole: problems by row and column, nothing
    written unless every row is right."""
    from fupin.monitor import events_file

    form = forms.EventImportForm(
        request.POST or None,
        request.FILES or None,
        initial={"area": getattr(request.user, "area_id", "") or ""},
    )
    result = None
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        code = data["area"].strip()
        _reach(request, code)
        upload = data["file"]
        result = services.import_events(
            request.user,
            code,
            upload.name,
            upload.read(),
            source=data["source"],
            reason=data["reason"],
        )
        if not result.errors:
            messages.success(request, _("%(n)d events were imported.") % {"n": result.created})
            return redirect("monitor:event_list")
        status = 400
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "monitor/event_import.html",
        {
            "form": form,
            "result": result,
            "errors_shown": result.errors[:ERRORS_SHOWN] if result else [],
            "columns": events_file.COLUMNS[:7],
            "kinds": policy.warnings().event_kinds,
            "sources": policy.warnings().event_sources,
        },
        status=status,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def event_template(request: HttpRequest) -> HttpResponse:
    from fupin.monitor import events_file

    response = HttpResponse(events_file.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="risk-events.csv"'
    return response


# -- monitored households ------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def case_list(request: HttpRequest) -> HttpResponse:
    from fupin.monitor.filtersets import CaseFilterSet
    from fupin.monitor.models import MonitoringCase, MonitoringCategory
    from fupin.monitor.tables import CaseTable

    qs = MonitoringCase.objects.for_user(request.user).select_related(
        "household", "household__village"
    )
    filters = _filtered(request, CaseFilterSet, qs)
    rows = filters.qs if filters.is_bound and filters.form.is_valid() else qs
    found = dict(
        rows.filter(ended_on__isnull=True)
        .order_by()
        .values_list("category")
        .annotate(n=Count("pk"))
    )
    counts = [(code, label, found.get(code, 0)) for code, label in MonitoringCategory.choices]
    return render(
        request,
        "monitor/case_list.html",
        {
            "table": _table(request, CaseTable(rows)),
            "filters": filters.form,
            "counts": counts,
            "end_form": forms.EndMonitoringForm(),
            "can_respond": request.user.has_perm(RESPOND),
        },
    )


@login_required
@permission_required(RESPOND, raise_exception=True)
def case_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start monitoring a household from its page (not from a warning)."""
    household = _household(request, pk)
    form = forms.MonitoringForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.start_monitoring(
                request.user,
                household,
                category=data["category"],
                risk=data["risk"],
                started_on=data["started_on"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The household is now monitored."))
            return redirect("registry:household_detail", pk=household.pk)
    return render(
        request,
        "monitor/case_form.html",
        {"household": household, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required(RESPOND, raise_exception=True)
def case_end(request: HttpRequest, pk: int) -> HttpResponse:
    from fupin.monitor.models import MonitoringCase

    case = get_object_or_404(
        MonitoringCase.objects.for_user(request.user).select_related("household"), pk=pk
    )
    form = forms.EndMonitoringForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.end_monitoring(
                request.user,
                case,
                ended_on=data["ended_on"],
                end_reason=data["end_reason"],
                note=data["note"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("Monitoring ended."))
            return redirect("registry:household_detail", pk=case.household_id)
    return render(
        request,
        "monitor/case_end.html",
        {"case": case, "household": case.household, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# -- return cases --------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def return_list(request: HttpRequest) -> HttpResponse:
    from fupin.monitor.filtersets import ReturnFilterSet
    from fupin.monitor.models import ReturnCase
    from fupin.monitor.tables import ReturnTable

    qs = ReturnCase.objects.for_user(request.user).select_related("household", "household__village")
    filters = _filtered(request, ReturnFilterSet, qs)
    rows = filters.qs if filters.is_bound and filters.form.is_valid() else qs
    return render(
        request,
        "monitor/return_list.html",
        {"table": _table(request, ReturnTable(rows)), "filters": filters.form},
    )


def _return_case(request: HttpRequest, pk: int) -> Any:
    from fupin.monitor.models import ReturnCase

    return get_object_or_404(
        ReturnCase.objects.for_user(request.user).select_related(
            "household", "household__village", "from_warning", "opened_by"
        ),
        pk=pk,
    )


def _render_return(
    request: HttpRequest, case: Any, form: Any = None, status: int = 200
) -> HttpResponse:
    from fupin.monitor import returns

    step = returns.next_step(case)
    records = {r.index: r for r in case.steps.select_related("recorded_by", "attachment")}
    steps = [(s, records.get(s.index)) for s in returns.steps_of(case)]
    return render(
        request,
        "monitor/return_detail.html",
        {
            "case": case,
            "procedure_label": returns.procedure_label(case),
            "steps": steps,
            "next_step": step,
            "may_record": step is not None
            and returns.may_record(request.user, step, case.household),
            "form": form or forms.ReturnStepForm(initial={"code": step.code if step else ""}),
            "can_withdraw": request.user.has_perm(RESPOND) and returns.can_withdraw(case),
        },
        status=status,
    )


@login_required
@permission_required(RESPOND, raise_exception=True)
@require_POST
def return_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a case whose household's status changed outside the procedure."""
    from fupin.monitor import returns

    case = _return_case(request, pk)
    try:
        returns.withdraw_case(request.user, case, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The return case was withdrawn."))
    return redirect("monitor:return_detail", pk=pk)


@login_required
@permission_required(VIEW, raise_exception=True)
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_return(request, _return_case(request, pk))


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def return_step(request: HttpRequest, pk: int) -> HttpResponse:
    from fupin.monitor import returns

    case = _return_case(request, pk)
    form = forms.ReturnStepForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            returns.record_step(
                request.user,
                case,
                code=data["code"],
                outcome=data["outcome"],
                note=data["note"],
                date=data["date"],
                attachment=data["attachment"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The step was recorded."))
            return redirect("monitor:return_detail", pk=pk)
    return _render_return(request, case, form, status=400)


@login_required
@permission_required(RESPOND, raise_exception=True)
def return_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a return check from the household's page."""
    from fupin.monitor import returns

    household = _household(request, pk)
    form = forms.OpenReturnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = returns.open_case(request.user, household, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The return check was opened."))
            return redirect("monitor:return_detail", pk=case.pk)
    return render(
        request,
        "monitor/return_open.html",
        {"household": household, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# -- the household page's panel ------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def household_warnings(request: HttpRequest, pk: int) -> HttpResponse:
    """The household's open warnings, its monitoring case and return case, loaded into the
    registry's household page (hx-get), with links to record an event."""
    from fupin.monitor import returns
    from fupin.monitor.models import MonitoringCase, ReturnCase, RiskWarning

    household = _household(request, pk)
    warnings_ = list(
        RiskWarning.objects.filter(household=household, state="open").order_by("due_on", "pk")
    )
    return render(
        request,
        "monitor/household_warnings.html",
        {
            "household": household,
            "warnings": warnings_,
            "case": MonitoringCase.objects.filter(
                household=household, ended_on__isnull=True
            ).first(),
            "return_case": ReturnCase.objects.filter(household=household).order_by("-pk").first(),
            "events": services.event_kind_label,
            "can_respond": request.user.has_perm(RESPOND),
            "may_open_return": returns.can_open(household),
            "today": timezone.localdate(),
        },
    )
