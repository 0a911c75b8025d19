"""Monitoring pages: the education exchanges and their 应助未助 list, the health insurance
list, the 351 calculator. Seeing needs monitor.view_monitor; exports, imports and creating
an exchange need monitor.manage_monitor; every list is scoped to the user's area."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fupin.core import jobs
from fupin.core.forms import apply_errors
from fupin.core.models import Area, User
from fupin.core.scoping import area_prefix, user_can_reach
from fupin.core.views import area_trail
from fupin.monitor import exchange_file, forms, policy, services
from fupin.monitor.models import EducationExchange, ExchangeChild
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
XLSX = exchange_file.CONTENT_TYPES["xlsx"]


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
    return render(
        request,
        "monitor/exchange_list.html",
        {"page": page, "form": form, "can_manage": can_manage, "source": policy.education().source},
    )


def _scoped_counts(user: Any, exchange: EducationExchange) -> dict[str, int]:
    # Aggregates named apart from the fields: a filter on `aided` after an aggregate called
    # "aided" would read the aggregate.
    counts = (
        ExchangeChild.objects.for_user(user)
        .filter(exchange=exchange)
        .aggregate(
            n_children=Count("pk"),
            n_answered=Count("pk", filter=Q(aided__isnull=False)),
            n_aided=Count("pk", filter=Q(aided=True)),
        )
    )
    return {
        "children": counts["n_children"],
        "answered": counts["n_answered"],
        "aided": counts["n_aided"],
        "unaided": services.unaided_rows(user, exchange).count(),
    }


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
    folder = Path(tempfile.mkdtemp(prefix="exchange-"))
    path = folder / name
    try:
        services.write_exchange_file(user, exchange, fmt, path)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("monitor:exchange_detail", pk=pk)
    data = path.read_bytes()
    path.unlink()
    folder.rmdir()
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


def _unaided(request: HttpRequest, exchange: EducationExchange) -> tuple[Any, Any]:
    form = forms.UnaidedFilterForm(request.GET or None)
    filters: dict[str, str] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
        if filters.get("area") and not user_can_reach(request.user, filters["area"]):
            raise Http404
    return form, services.unaided_rows(request.user, exchange, **filters)


@login_required
@permission_required(VIEW, raise_exception=True)
def unaided(request: HttpRequest, pk: int) -> HttpResponse:
    exchange = _exchange(request, pk)
    form, rows = _unaided(request, exchange)
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
            "form": form,
            "groups": groups,
            "total": sum(g["children"] for g in groups),
            "page": page,
            "can_export": _may_manage(request.user, exchange),
            "query": request.GET.urlencode(),
            "source": policy.education().source,
        },
    )


def _xlsx_response(
    sheets: Sequence[tuple[str, list[str], Iterable[Sequence[Any]]]], filename: str
) -> HttpResponse:
    """A workbook of one or more sheets in the registry exports' style: write-only, bold
    frozen header, widths by the titles."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        ws: Any = wb.create_sheet(title[:31])
        ws.freeze_panes = "A2"
        for i, text in enumerate(headers, start=1):
            width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 10), 40)
        header = []
        for text in headers:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in rows:
            ws.append([_cell(v) for v in row])
    out = BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _cell(value: Any) -> Any:
    """Typed text a spreadsheet would run as a formula (a name "=…") stays text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _yes_no(value: bool | None) -> str:
    if value is None:
        return _("Not answered")
    return _("Yes") if value else _("No")


@login_required
@permission_required(MANAGE, raise_exception=True)
def unaided_export(request: HttpRequest, pk: int) -> HttpResponse:
    exchange = _exchange(request, pk)
    if not _may_manage(request.user, exchange):
        raise PermissionDenied
    _form, rows = _unaided(request, exchange)
    full_id = request.user.has_perm(services.FULL_ID)
    groups = services.unaided_by_county_and_school(rows)
    names = dict(
        Area.objects.filter(
            code__in=set(rows.values_list("village_id", flat=True).distinct())
        ).values_list("code", "name")
    )
    schooling = dict(Schooling.choices)
    summary = (
        [
            g["county_name"],
            g["school_name"] or _("(no school)"),
            g["children"],
            g["answered_no"],
            g["not_answered"],
        ]
        for g in groups
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
            _yes_no(row.aided),
        ]
        for row in services.iter_unaided(rows)
    )
    return _xlsx_response(
        [
            (
                _("By county and school"),
                [_("County"), _("School"), _("Not aided"), _("Answered no"), _("Not answered")],
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
                    _("Aided"),
                ],
                detail,
            ),
        ],
        f"unaided-{exchange.area_id}-{exchange.school_year}.xlsx",
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
    return _xlsx_response(
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
