"""Exit pages (精准脱贫, DOMAIN.md §5): a household's exit check and consolidation, exit
rounds with their proposals and procedure, the 双认定 acceptance form (on screen, printable,
PDF), the sign-off chain and the notice's objections.

Rounds and step records cover areas: a user sees those overlapping his area
(`overlapping_user`), so the village cadres who take part see the county's round. The
households, decisions, acceptances and objections are people's data: always `for_user`.
Every change goes through `fupin.exit.services`; its ValidationError is put onto the form
with `apply_errors`. Village and county exit pages are in `fupin.exit.area_views`.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Count, Max, Min, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from engine.standards import ItemResult, Standard, StandardItem
from fupin.core.forms import apply_errors
from fupin.core.models import Area
from fupin.core.scoping import area_prefix
from fupin.core.views import area_trail
from fupin.exit import checks, forms, policy, services
from fupin.exit.models import (
    Acceptance,
    ExitDecision,
    ExitObjection,
    ExitRound,
    ExitStepRecord,
    RoundHousehold,
    RoundStatus,
    Signoff,
)
from fupin.exit.tables import PER_PAGE, RoundTable
from fupin.identify.models import ObjectionStatus
from fupin.registry import lifecycle
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Attachment, Household
from fupin.support.views import BOOKLET_FONT as FONT
from fupin.support.views import STATIC_DIR, booklet_pdf_bytes


def item_note(item: StandardItem) -> str:
    """The standard item's note in the page's language: the policy carries it in both."""
    if (get_language() or "").startswith("zh") and item.note_zh:
        return item.note_zh
    return item.note


VIEW = services.VIEW
STEP_SCOPE_ID = "step-scope"
OUTCOME_LABELS = {
    "met": gettext_lazy("Met"),
    "not_met": gettext_lazy("Not met"),
    "no_data": gettext_lazy("No data"),
    "to_confirm": gettext_lazy("To confirm"),
}
#: Names the standards read that are not fields of the household, with their labels.
FACT_LABELS = {
    "poverty_line": gettext_lazy("poverty line"),
    "year": gettext_lazy("year"),
    "uninsured_people": gettext_lazy("members without basic medical insurance"),
    "out_of_school_children": gettext_lazy("children of compulsory age out of school"),
    "compulsory_age_children": gettext_lazy("children of compulsory age"),
    "income_prev": gettext_lazy("per-capita income of the year before"),
    "measures_this_year": gettext_lazy("support measures this year"),
    "measures_with_result_this_year": gettext_lazy("of them with a recorded result"),
    "dibao_line": gettext_lazy("subsistence allowance line (低保)"),
}


# -- lookups -------------------------------------------------------------------------------


def _round(request: HttpRequest, pk: int) -> ExitRound:
    """The round if it overlaps the user's area; 404 otherwise (existence not leaked)."""
    round_ = (
        ExitRound.objects.overlapping_user(request.user)
        .select_related("area")
        .filter(pk=pk)
        .first()
    )
    if round_ is None:
        raise Http404
    return round_


def _households(request: HttpRequest, round_: ExitRound) -> Any:
    return RoundHousehold.objects.for_user(request.user).filter(round=round_)


def _record(request: HttpRequest, round_: ExitRound, pk: int) -> ExitStepRecord:
    record = (
        ExitStepRecord.objects.overlapping_user(request.user)
        .select_related("area", "round", "recorded_by")
        .filter(round=round_, pk=pk)
        .first()
    )
    if record is None:
        raise Http404
    return record


def _round_household(request: HttpRequest, round_: ExitRound, pk: int) -> RoundHousehold:
    found = (
        _households(request, round_)
        .select_related("household", "village", "round")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _step_label(round_: ExitRound, index: int) -> str:
    steps = round_.steps
    return steps[index].label if 0 <= index < len(steps) else str(index)


# -- the evidence, readable ----------------------------------------------------------------


def _field_value(name: str, raw: str) -> str:
    if raw == "∅":
        return _("no data")
    if raw in ("true", "false", "True", "False"):
        return _("Yes") if raw.lower() == "true" else _("No")
    try:
        field = Household._meta.get_field(name)
    except FieldDoesNotExist:  # a computed fact, not a field
        field = None
    choices = dict(getattr(field, "choices", None) or [])
    if raw in choices:
        return str(choices[raw])
    try:
        number = float(raw)
    except ValueError:
        return raw
    return f"{number:,.2f}".rstrip("0").rstrip(".") if number % 1 else f"{number:,.0f}"


def evidence_rows(text: str) -> list[dict[str, str]]:
    """`name=value; …` from the engine as labelled values: a household field by its
    verbose name, a computed fact by FACT_LABELS, a choice by its label."""
    rows = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _sep, raw = part.partition("=")
        label: Any = FACT_LABELS.get(name)
        if label is None:
            try:
                label = Household._meta.get_field(name).verbose_name  # type: ignore[union-attr]
            except FieldDoesNotExist:  # shown by its name
                label = name
        value = _field_value(name, raw) if _sep else part
        rows.append({"name": name, "label": str(label), "value": value})
    return rows


def _standard_rows(standard: Standard, results: list[ItemResult]) -> list[dict[str, Any]]:
    zh = policy.chinese()
    return [
        {
            "code": r.item.code,
            "label": r.item.label if zh else r.item.label_en,
            "kind": r.item.kind,
            "outcome": r.outcome,
            "outcome_label": OUTCOME_LABELS[r.outcome],
            "evidence": evidence_rows(r.evidence),
            "raw": r.evidence,
            "source": r.item.source,
            "note": item_note(r.item),
        }
        for r in results
    ]


# -- the household's exit page ---------------------------------------------------------------


def _brief(standard: Standard, result: ItemResult) -> dict[str, Any]:
    """An item for the page's summary: which standard, which item, its outcome and data."""
    zh = policy.chinese()
    return {
        "standard": standard.name if zh else standard.name_en,
        "label": result.item.label if zh else result.item.label_en,
        "outcome": result.outcome,
        "outcome_label": OUTCOME_LABELS[result.outcome],
        "evidence": evidence_rows(result.evidence),
    }


def _year(request: HttpRequest) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year
    return year if 2014 <= year <= timezone.localdate().year + 1 else timezone.localdate().year


@login_required
@permission_required(VIEW, raise_exception=True)
def household_exit(request: HttpRequest, pk: int) -> HttpResponse:
    """A household judged by its province's exit standards, item by item, from which data
    and what blocks exit; its consolidation timeline after exit; the rounds it was in."""
    household = Household.objects.select_related("village").get_for_user(request.user, pk=pk)
    year = _year(request)
    check = checks.check_household(
        household, year, confirmed=services.confirmed_items(household, year)
    )
    zh = policy.chinese()
    standards = [
        {
            "standard": s.standard,
            "name": s.standard.name if zh else s.standard.name_en,
            "rows": _standard_rows(s.standard, s.results),
            "can_exit": s.verdict.can_exit,
            "blocked": bool(s.verdict.blockers),
        }
        for s in check.standards
    ]
    timeline = services.consolidation_timeline(household)
    today = timezone.localdate()
    close = lifecycle.transitions()["close"]
    can_close = (
        timeline is not None
        and household.status == HouseholdStatus.EXITED
        and request.user.has_perm(close.permission)
        and today >= timeline.can_close_from
    )
    rounds = (
        RoundHousehold.objects.for_user(request.user)
        .filter(household=household)
        .select_related("round", "acceptance")
        .order_by("-round__year", "-pk")
    )
    return render(
        request,
        "exit/household_exit.html",
        {
            "household": household,
            "check": check,
            "standards": standards,
            "blockers": [_brief(s, r) for s, r in check.blockers],
            "unknown": [_brief(s, r) for s, r in check.unknown],
            "year": year,
            "years": list(range(today.year, 2015, -1)),
            "timeline": timeline,
            "phase": timeline.phase(today) if timeline else None,
            "can_close": can_close,
            "rounds": rounds,
            "trail": area_trail(request.user, household.village),
        },
    )


# -- rounds --------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def round_list(request: HttpRequest) -> HttpResponse:
    qs = ExitRound.objects.overlapping_user(request.user).select_related("area")
    table = RoundTable(qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    return render(
        request,
        "exit/round_list.html",
        {"table": table, "can_manage": request.user.has_perm(services.MANAGE)},
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def round_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = forms.RoundForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            area = Area.objects.filter(code=data["area"]).first()
            name = data["name"].strip() or _("%(year)s household exit, %(area)s") % {
                "year": data["year"],
                "area": area.name if area else data["area"],
            }
            try:
                round_ = services.open_round(
                    request.user,
                    area_code=data["area"],
                    name=name,
                    year=data["year"],
                    leave_out=data.get("leave_out") or (),
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The exit round is open."))
                return redirect("exit:round_detail", pk=round_.pk)
    else:
        form = forms.RoundForm(user=request.user)
    return render(request, "exit/round_form.html", {"form": form})


def _progress(request: HttpRequest, round_: ExitRound) -> list[dict[str, Any]]:
    visible = _households(request, round_)
    total = visible.count()
    rows = []
    for index, step in enumerate(round_.steps):
        records = ExitStepRecord.objects.overlapping_user(request.user).filter(
            round=round_, step_index=index
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


def _round_page(
    request: HttpRequest,
    round_: ExitRound,
    *,
    propose_form: forms.ProposeForm | None = None,
    system_form: forms.SystemProposeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    households = (
        _households(request, round_)
        .select_related("household", "village", "acceptance")
        .order_by("village_id", "household__code")
    )
    counts = households.aggregate(
        total=Count("pk"),
        on_list=Count("pk", filter=Q(on_list=True)),
        exited=Count("pk", filter=Q(exited=True)),
        accepted=Count("acceptance"),
    )
    user = request.user
    open_ = round_.status != RoundStatus.ANNOUNCED
    return render(
        request,
        "exit/round_detail.html",
        {
            "round": round_,
            "standards": services.round_standards(round_),
            "progress": _progress(request, round_),
            "households": households,
            "counts": counts,
            "accept_index": next(
                (i for i, s in enumerate(round_.steps) if s.kind == "acceptance"), None
            ),
            "can_propose": open_ and user.has_perm(services.RECORD),
            "can_system": round_.status == RoundStatus.OPEN and user.has_perm(services.MANAGE),
            "can_record": open_ and user.has_perm(services.RECORD),
            "propose_form": propose_form or forms.ProposeForm(),
            "system_form": system_form or forms.SystemProposeForm(),
        },
        status=status,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _round_page(request, _round(request, pk))


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def round_propose_system(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    form = forms.SystemProposeForm(request.POST)
    if form.is_valid():
        try:
            n = services.propose_from_standard(request.user, round_, date=form.cleaned_data["date"])
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(
                request,
                _("%(n)d households whose data meet the standard were proposed for exit.")
                % {"n": n},
            )
            return redirect("exit:round_detail", pk=round_.pk)
    return _round_page(request, round_, system_form=form, status=400)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def round_propose(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    form = forms.ProposeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        household = (
            Household.objects.for_user(request.user).filter(code=data["code"].strip()).first()
        )
        if household is None:
            form.add_error("code", _("No household with this number in your area."))
        else:
            try:
                services.propose_household(
                    request.user, round_, household, reason=data["reason"], date=data["date"]
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
                if "household" in exc.message_dict:
                    for message in exc.message_dict["household"]:
                        form.add_error("code", message)
            else:
                messages.success(
                    request,
                    _("Household %(code)s is proposed for exit.") % {"code": household.code},
                )
                return redirect("exit:round_detail", pk=round_.pk)
    return _round_page(request, round_, propose_form=form, status=400)


# -- the procedure -------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def step_list(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    records = (
        ExitStepRecord.objects.overlapping_user(request.user)
        .filter(round=round_)
        .select_related("area")
        .prefetch_related("signatures")
        .annotate(n_decisions=Count("decisions", distinct=True))
    )
    by_step: dict[int, list[ExitStepRecord]] = {}
    for r in records:
        by_step.setdefault(r.step_index, []).append(r)
    steps = [
        {"index": i, "step": s, "records": by_step.get(i, [])} for i, s in enumerate(round_.steps)
    ]
    return render(
        request,
        "exit/step_list.html",
        {
            "round": round_,
            "steps": steps,
            "can_record": request.user.has_perm(services.RECORD)
            and round_.status != RoundStatus.ANNOUNCED,
        },
    )


def _step_areas(request: HttpRequest, round_: ExitRound, step_index: int | None) -> list[Area]:
    """Areas where a record of the step may be made: of its level, in the round and in the
    user's reach (every level of the procedure while no step is chosen)."""
    prefix = area_prefix(request.user)
    if prefix is None:
        return []
    steps = round_.steps
    lengths = (
        {steps[step_index].code_length}
        if step_index is not None and 0 <= step_index < len(steps)
        else {s.code_length for s in steps}
    )
    base = round_.area_id if round_.area_id.startswith(prefix) else prefix
    if not base.startswith(round_.area_id):
        return []
    areas = Area.objects.filter(code__startswith=base).order_by("code")
    return [a for a in areas if len(a.code) in lengths]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _covered(request: HttpRequest, round_: ExitRound, step_index: int | None, area: str) -> Any:
    if step_index is None or not area:
        return RoundHousehold.objects.none()
    return (
        _households(request, round_)
        .filter(steps_done=step_index, village__code__startswith=area)
        .select_related("household", "village", "acceptance")
        .order_by("village_id", "household__code")
    )


def _decision_rows(data: Any, covered: Any) -> list[dict[str, Any]]:
    return [
        {
            "c": c,
            "off": bool(data and data.get(f"off_{c.pk}")),
            "reason": (data.get(f"reason_{c.pk}", "") if data else ""),
        }
        for c in covered
    ]


def _decisions(data: Any, covered: Any) -> list[services.DecisionInput]:
    """A ticked household leaves the list; an unticked one with a reason is a confirmation."""
    result = []
    for c in covered:
        off = bool(data.get(f"off_{c.pk}"))
        reason = data.get(f"reason_{c.pk}", "")
        if off or reason.strip():
            result.append(services.DecisionInput(c.pk, not off and c.on_list, reason))
    return result


def _signoff_rows(round_: ExitRound, step: Any, data: Any) -> list[dict[str, Any]]:
    chain = round_.signoff_chain(step.code) if step is not None and step.kind == "signoff" else None
    if chain is None:
        return []
    return [
        {
            "party": p,
            "name": data.get(f"party_{p.code}_name", "") if data else "",
            "date": data.get(f"party_{p.code}_date", "") if data else "",
        }
        for p in chain.parties
    ]


def _signoffs(round_: ExitRound, step: Any, data: Any, files: Any) -> list[services.SignoffInput]:
    result = []
    for row in _signoff_rows(round_, step, data):
        code = row["party"].code
        try:
            signed_on = dt.date.fromisoformat(row["date"]) if row["date"] else None
        except ValueError:
            signed_on = None
        result.append(
            services.SignoffInput(code, row["name"], signed_on, files.get(f"party_{code}_scan"))
        )
    return result


@login_required
@permission_required(services.RECORD, raise_exception=True)
def step_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a step held in an area, with a decision per household where one was taken
    and, at a sign-off, every official's signature. Choosing the step or the area reloads
    the households' table (htmx, or the "Show the households" button without JavaScript)."""
    round_ = _round(request, pk)
    source = request.POST if request.method == "POST" else request.GET
    step_index = _int_or_none(source.get("step"))
    area = (source.get("area") or "").strip()
    areas = _step_areas(request, round_, step_index)
    if area not in {a.code for a in areas}:
        area = ""
    covered = list(_covered(request, round_, step_index, area))
    steps = round_.steps
    step = steps[step_index] if step_index is not None and 0 <= step_index < len(steps) else None
    files_lost = False
    if request.method == "POST":
        form = forms.StepForm(request.POST, request.FILES, round_=round_, areas=areas)
        if form.is_valid():
            data = form.cleaned_data
            try:
                record = services.record_step(
                    request.user,
                    round_,
                    step_index=data["step"],
                    area_code=data["area"],
                    date=data["date"],
                    participants=data["participants"],
                    signatures=data["signatures"],
                    place=data["place"],
                    notes=data["notes"],
                    decisions=_decisions(request.POST, covered),
                    signoffs=_signoffs(round_, step, request.POST, request.FILES),
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
                files_lost = bool(request.FILES)
            else:
                messages.success(
                    request,
                    _("“%(step)s” recorded for %(area)s: %(n)d households.")
                    % {"step": _step_label(round_, record.step_index), "area": record.area,
                       "n": record.households},
                )  # fmt: skip
                return redirect("exit:record_detail", pk=round_.pk, record_pk=record.pk)
        rows = _decision_rows(request.POST, covered)
        party_rows = _signoff_rows(round_, step, request.POST)
    else:
        initial = {"step": step_index, "area": area} if step_index is not None else {}
        form = forms.StepForm(initial=initial, round_=round_, areas=areas)
        rows = _decision_rows(None, covered)
        party_rows = _signoff_rows(round_, step, None)
    context = {
        "round": round_,
        "form": form,
        "rows": rows,
        "party_rows": party_rows,
        "step": step,
        "area": area,
        "may_remove": step is not None and step.kind in services.MAY_REMOVE,
        "files_lost": files_lost,
        "scope_id": STEP_SCOPE_ID,
    }
    htmx: Any = getattr(request, "htmx", None)
    if request.method == "GET" and bool(htmx) and htmx.target == STEP_SCOPE_ID:
        response = render(request, "exit/_step_scope.html", context)
    else:
        response = render(request, "exit/step_form.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _notice_households(request: HttpRequest, record: ExitStepRecord) -> Any:
    """Households on the list that passed the record's step, in the user's area."""
    return (
        _households(request, record.round)
        .filter(
            village__code__startswith=record.area_id,
            steps_done__gt=record.step_index,
            on_list=True,
        )
        .select_related("household", "village")
        .order_by("household__code")
    )


def _record_page(
    request: HttpRequest,
    record: ExitStepRecord,
    *,
    objection_form: forms.ObjectionForm | None = None,
    resolve_forms: dict[int, forms.ResolveForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    round_ = record.round
    step = record.step
    is_notice = step.kind == "notice"
    scoped = RoundHousehold.objects.for_user(request.user)
    decisions = (
        ExitDecision.objects.for_user(request.user)
        .filter(record=record)
        .select_related("round_household__household", "round_household__village")
    )
    context: dict[str, Any] = {
        "round": round_,
        "record": record,
        "step": step,
        "decisions": decisions,
        "signoffs": Signoff.objects.filter(record=record).select_related("file"),
        "is_notice": is_notice,
        "can_record": request.user.has_perm(services.RECORD)
        and round_.status != RoundStatus.ANNOUNCED,
    }
    if is_notice:
        objections = list(
            ExitObjection.objects.filter(record=record, round_household__in=scoped).select_related(
                "round_household__household", "resolved_by"
            )
        )
        resolve_forms = resolve_forms or {}
        for o in objections:
            if o.status == ObjectionStatus.OPEN:
                o.form = resolve_forms.get(o.pk) or forms.ResolveForm(prefix=f"o{o.pk}")  # type: ignore[attr-defined]
        context["objections"] = objections
        context["objection_form"] = objection_form or forms.ObjectionForm(
            households=list(_notice_households(request, record))
        )
    return render(request, "exit/record_detail.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
def record_detail(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    return _record_page(request, _record(request, round_, record_pk))


@login_required
@permission_required(VIEW, raise_exception=True)
def file_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """A scan or drawn signature of the round: a step record's signed record, an official's
    sign-off, or an acceptance signature of a household the user may see."""
    round_ = _round(request, pk)
    records = ExitStepRecord.objects.overlapping_user(request.user).filter(round=round_)
    acceptances = Acceptance.objects.for_user(request.user).filter(round_household__round=round_)
    attachment = (
        Attachment.objects.filter(pk=attachment_pk)
        .filter(
            Q(exitsteprecord__in=records)
            | Q(pk__in=Signoff.objects.filter(record__in=records).values("file"))
            | Q(
                pk__in=acceptances.values("signatures__file"),
            )
        )
        .distinct()
        .first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    inline = attachment.name.lower().endswith((".png", ".jpg", ".jpeg"))
    return FileResponse(handle, as_attachment=not inline, filename=attachment.name)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def objection_raise(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    record = _record(request, round_, record_pk)
    households = list(_notice_households(request, record))
    form = forms.ObjectionForm(request.POST, households=households)
    if form.is_valid():
        data = form.cleaned_data
        target = next(c for c in households if c.pk == data["household"])
        try:
            services.raise_objection(
                request.user,
                record,
                target,
                raised_on=data["raised_on"],
                raised_by=data["raised_by"],
                text=data["text"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The objection is recorded."))
            return redirect("exit:record_detail", pk=round_.pk, record_pk=record.pk)
    return _record_page(request, record, objection_form=form, status=400)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def objection_resolve(request: HttpRequest, pk: int, objection_pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    objection = (
        ExitObjection.objects.for_user(request.user)
        .filter(record__round=round_, pk=objection_pk)
        .select_related("record", "round_household__household")
        .first()
    )
    if objection is None:
        raise Http404
    record = _record(request, round_, objection.record_id)
    form = forms.ResolveForm(request.POST, prefix=f"o{objection.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.resolve_objection(
                request.user,
                objection,
                upheld=data["upheld"],
                resolution=data["resolution"],
                resolved_on=data["resolved_on"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The objection is resolved."))
            return redirect("exit:record_detail", pk=round_.pk, record_pk=record.pk)
    return _record_page(request, record, resolve_forms={objection.pk: form}, status=400)


# -- the 双认定 acceptance form ------------------------------------------------------------


def _acceptance_form(
    rh: RoundHousehold,
    lines: list[services.AcceptanceItem],
    data: Any = None,
    files: Any = None,
) -> forms.AcceptanceForm:
    cadre = services.active_cadre(rh.household)
    key_of = {(line.standard.code, line.item.code): line.key for line in lines}
    system = {}
    for r in rh.results:
        key = key_of.get((r["standard"], r["item"]))
        if key is not None:
            system[key] = str(OUTCOME_LABELS.get(r["outcome"], r["outcome"]))
    return forms.AcceptanceForm(
        data,
        files,
        lines=lines,
        head_name=rh.household.head_name,
        cadre_name=cadre.name if cadre is not None else "",
        system=system,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def acceptance(request: HttpRequest, pk: int, rh_pk: int) -> HttpResponse:
    """The household's 双认定 acceptance form: filled in at the household (items, then three
    signatures drawn on the screen or scanned), or shown once recorded."""
    round_ = _round(request, pk)
    rh = _round_household(request, round_, rh_pk)
    standards = services.acceptance_standards(round_)
    lines = services.acceptance_items(round_)
    step = next((s for s in round_.steps if s.kind == "acceptance"), None)
    if not lines or step is None:
        raise Http404
    recorded = Acceptance.objects.filter(round_household=rh).first()
    form = None
    status = 200
    can_record = request.user.has_perm(services.RECORD) and recorded is None
    if recorded is None and request.method == "POST":
        if not request.user.has_perm(services.RECORD):
            raise PermissionDenied
        form = _acceptance_form(rh, lines, request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_acceptance(
                    request.user,
                    rh,
                    checked_on=data["checked_on"],
                    team=data["team"],
                    items={
                        line.key: services.ItemInput(
                            data[f"item_{line.key}"], data[f"note_{line.key}"]
                        )
                        for line in lines
                    },
                    signatures={
                        role: services.SignatureInput(
                            data.get(f"sig_{role}_name") or "",
                            drawn=data.get(f"sig_{role}_drawn") or "",
                            scan=data.get(f"sig_{role}_scan"),
                        )
                        for role in ("head", "team", "cadre")
                    },
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The acceptance form is recorded."))
                return redirect("exit:acceptance", pk=round_.pk, rh_pk=rh.pk)
        status = 400
    elif recorded is None and can_record:
        form = _acceptance_form(rh, lines)
    zh = policy.chinese()
    return render(
        request,
        "exit/acceptance.html",
        {
            "round": round_,
            "rh": rh,
            "step_label": step.label,
            "standards": [
                {"name": s.name if zh else s.name_en, "source": s.source} for s in standards
            ],
            "several": len(standards) > 1,
            "acceptance": recorded,
            "signatures": recorded.signatures.select_related("file") if recorded else [],
            "form": form,
            "files_lost": status == 400 and bool(request.FILES),
        },
        status=status,
    )


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _image_type(name: str) -> str | None:
    return next((t for ext, t in IMAGE_TYPES.items() if name.lower().endswith(ext)), None)


def _print_context(request: HttpRequest, pk: int, rh_pk: int, *, pdf: bool) -> dict[str, Any]:
    """The recorded form; each signature an image where it is one (a link in the page, the
    bytes themselves in the PDF, which reads no URL of the site)."""
    round_ = _round(request, pk)
    rh = _round_household(request, round_, rh_pk)
    recorded = Acceptance.objects.filter(round_household=rh).first()
    if recorded is None:
        raise Http404
    signatures = []
    for s in recorded.signatures.select_related("file"):
        kind = _image_type(s.file.name)
        src = ""
        if kind and pdf:
            with s.file.file.open("rb") as handle:
                src = f"data:{kind};base64,{base64.b64encode(handle.read()).decode()}"
        elif kind:
            src = reverse("exit:file_download", args=[round_.pk, s.file_id])
        signatures.append({"signature": s, "src": src})
    step = next((s for s in round_.steps if s.kind == "acceptance"), None)
    return {
        "round": round_,
        "rh": rh,
        "household": rh.household,
        "acceptance": recorded,
        "signatures": signatures,
        "pdf": pdf,
        # Guangxi's 双认定 keeps its form's title; elsewhere the step's name (入户核实).
        "step_label": step.label if step is not None and step.code != "acceptance" else "",
        "several": "+" in recorded.standard_code,
    }


@login_required
@permission_required(VIEW, raise_exception=True)
def acceptance_print(request: HttpRequest, pk: int, rh_pk: int) -> HttpResponse:
    """The recorded acceptance form as a printable page (《“双认定”验收表》)."""
    context = _print_context(request, pk, rh_pk, pdf=False)
    context["font_urls"] = {w: static(FONT.format(weight=w)) for w in (400, 700)}
    return render(request, "exit/acceptance_print.html", context)


@login_required
@permission_required(VIEW, raise_exception=True)
def acceptance_pdf(request: HttpRequest, pk: int, rh_pk: int) -> HttpResponse:
    """The same form as a PDF with Chinese fonts (WeasyPrint, as the support booklet)."""
    context = _print_context(request, pk, rh_pk, pdf=True)
    context["font_urls"] = {w: (STATIC_DIR / FONT.format(weight=w)).as_uri() for w in (400, 700)}
    html = render_to_string("exit/acceptance_print.html", context, request=request)
    response = HttpResponse(booklet_pdf_bytes(html), content_type="application/pdf")
    code = context["household"].code
    response["Content-Disposition"] = f'inline; filename="acceptance-{code}.pdf"'
    return response
