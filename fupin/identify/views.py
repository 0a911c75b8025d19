"""Pages of identification campaigns (精准识别, DOMAIN.md §3): campaigns, counties with
their score line and histogram, a household's score explained, the procedure's records
with their decisions and objections, and the campaign report.

Campaigns, their counties and step records cover areas: a user sees those overlapping his
area (`overlapping_user`), so the village cadres who take part see the county's campaign.
The households, decisions and objections are people's data: always `for_user`. Every
change goes through `fupin.identify.services`; its ValidationError is put onto the form
with `apply_errors`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from fupin.core.charts import histogram_option, histogram_table
from fupin.core.forms import apply_errors
from fupin.core.models import Area
from fupin.core.scoping import area_prefix
from fupin.core.validators import mask_id_number
from fupin.identify import forms, services, verification
from fupin.identify.models import (
    Campaign,
    CampaignCounty,
    CampaignHousehold,
    CampaignStatus,
    Decision,
    DepartmentDataset,
    Finding,
    FindingEffect,
    FindingStatus,
    Objection,
    ObjectionStatus,
    StepRecord,
    VerificationRun,
)
from fupin.identify.tables import PER_PAGE, CampaignTable, FindingTable
from fupin.registry.models import Attachment, Household, Member

VIEW = "identify.view_campaign"
STEP_SCOPE_ID = "step-scope"
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCORED)

# -- lookups -------------------------------------------------------------------------------


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    """The campaign if it overlaps the user's area; 404 otherwise (existence not leaked)."""
    campaign = (
        Campaign.objects.overlapping_user(request.user)
        .select_related("area", "scorecard")
        .filter(pk=pk)
        .first()
    )
    if campaign is None:
        raise Http404
    return campaign


def _households(request: HttpRequest, campaign: Campaign) -> Any:
    return CampaignHousehold.objects.for_user(request.user).filter(campaign=campaign)


def _record(request: HttpRequest, campaign: Campaign, pk: int) -> StepRecord:
    record = (
        StepRecord.objects.overlapping_user(request.user)
        .select_related("area", "campaign", "recorded_by")
        .filter(campaign=campaign, pk=pk)
        .first()
    )
    if record is None:
        raise Http404
    return record


def _step_label(campaign: Campaign, index: int) -> str:
    steps = campaign.steps
    return steps[index].label if 0 <= index < len(steps) else str(index)


# -- campaigns -----------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def campaign_list(request: HttpRequest) -> HttpResponse:
    qs = Campaign.objects.overlapping_user(request.user).select_related("area", "scorecard")
    table = CampaignTable(qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    return render(
        request,
        "identify/campaign_list.html",
        {"table": table, "can_manage": request.user.has_perm(services.MANAGE)},
    )


@login_required
@permission_required(services.MANAGE, raise_exception=True)
def campaign_create(request: HttpRequest) -> HttpResponse:
    # The shipped card is always on offer, even on a fresh database.
    services.install_shipped_scorecards()
    if request.method == "POST":
        form = forms.CampaignForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = services.create_campaign(
                    request.user,
                    area_code=data["area"],
                    name=data["name"] or "",
                    year=data["year"],
                    scorecard=data["scorecard"],
                    poverty_line=data["poverty_line"],
                    procedure_code=data["procedure"],
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(request, _("The campaign is open: set the quotas, then score."))
                return redirect("identify:campaign_detail", pk=campaign.pk)
    else:
        form = forms.CampaignForm(user=request.user)
    return render(request, "identify/campaign_form.html", {"form": form})


def _quotas_form(campaign: Campaign, data: Any = None) -> forms.QuotasForm:
    quotas = dict(
        CampaignCounty.objects.filter(campaign=campaign).values_list("county_id", "quota_people")
    )
    return forms.QuotasForm(data, counties=services.campaign_counties(campaign), quotas=quotas)


def _campaign_page(
    request: HttpRequest,
    campaign: Campaign,
    *,
    quotas_form: forms.QuotasForm | None = None,
    file_form: forms.QuotaFileForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    editable = campaign.status in EDITABLE and user.has_perm(services.MANAGE)
    counties = CampaignCounty.objects.overlapping_user(user).filter(campaign=campaign)
    context: dict[str, Any] = {
        "campaign": campaign,
        "progress": services.progress_by_step(campaign, user),
        "counties": counties.select_related("county"),
        "editable": editable,
        "can_record": user.has_perm(services.RECORD),
    }
    if editable:
        context["quotas_form"] = quotas_form or _quotas_form(campaign)
        context["file_form"] = file_form or forms.QuotaFileForm()
    return render(request, "identify/campaign_detail.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _campaign_page(request, _campaign(request, pk))


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def quotas_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = _quotas_form(campaign, request.POST)
    if form.is_valid():
        try:
            changed = services.set_quotas(
                request.user, campaign, form.quotas(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("Quotas saved: %(n)d counties changed.") % {"n": changed})
            return redirect("identify:campaign_detail", pk=campaign.pk)
    return _campaign_page(request, campaign, quotas_form=form)


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def quotas_upload(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    form = forms.QuotaFileForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            quotas = services.parse_quotas(upload.read(), upload.name)
            changed = services.set_quotas(
                request.user, campaign, quotas, reason=_("From %(name)s") % {"name": upload.name}
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("Quotas saved: %(n)d counties changed.") % {"n": changed})
            return redirect("identify:campaign_detail", pk=campaign.pk)
    return _campaign_page(request, campaign, file_form=form)


@login_required
@permission_required(services.MANAGE, raise_exception=True)
@require_POST
def campaign_score(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the scoring job; the browser goes to its progress page."""
    campaign = _campaign(request, pk)
    try:
        job = services.score_campaign(request.user, campaign)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("identify:campaign_detail", pk=campaign.pk)
    return redirect(job)


# -- counties ------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def county_detail(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    campaign = _campaign(request, pk)
    county = (
        CampaignCounty.objects.overlapping_user(request.user)
        .select_related("county")
        .filter(campaign=campaign, county_id=code)
        .first()
    )
    if county is None:
        raise Http404
    households = _households(request, campaign).filter(county_code=code)
    # Counted in the database: a county has tens of thousands of households.
    counts = list(
        households.filter(vetoed=False)
        .order_by()
        .values_list("score")
        .annotate(n=Count("id"))
        .values_list("score", "n")
    )
    x_label, y_label = _("Score"), _("Households")
    line_label = _("Line %(line)s") % {"line": county.line} if county.line is not None else ""
    option = histogram_option(
        counts, line=county.line, line_label=line_label, x_label=x_label, y_label=y_label
    )
    totals = households.aggregate(
        scored=Count("id"),
        vetoed=Count("id", filter=Q(vetoed=True)),
        below=Count("id", filter=Q(selected=True)),
        below_people=Sum("people", filter=Q(selected=True)),
    )
    scores = [s for s, _n in counts]
    summary = _(
        "%(scored)d households scored here, %(vetoed)d vetoed; scores from %(low)s to "
        "%(high)s; line %(line)s; %(below)d households (%(people)d people) at or below it."
    ) % {
        "scored": totals["scored"],
        "vetoed": totals["vetoed"],
        "low": min(scores) if scores else "—",
        "high": max(scores) if scores else "—",
        "line": county.line if county.line is not None else "—",
        "below": totals["below"],
        "people": totals["below_people"] or 0,
    }
    near = households.filter(near_line=True).select_related("household", "village")
    return render(
        request,
        "identify/county_detail.html",
        {
            "campaign": campaign,
            "county": county,
            "option": option,
            "table": histogram_table(counts, x_label=x_label, y_label=y_label),
            "summary": summary,
            "near": near,
        },
    )


# -- a household's score explained ---------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def household_score(request: HttpRequest, pk: int, household_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    scored = (
        CampaignHousehold.objects.select_related("household", "village")
        .filter(campaign=campaign)
        .get_for_user(request.user, pk=household_pk)
    )
    card = campaign.scorecard.card
    categories = []
    for category in card.categories:
        items = [
            {
                "item": item,
                "points": scored.points.get(item.id),
                "max": item.max_points,
            }
            for item in category.items
            if item.kind != "veto"
        ]
        if items:
            categories.append(
                {
                    "category": category,
                    "items": items,
                    "subtotal": sum(i["points"] or 0 for i in items),
                    "max": sum(i["max"] for i in items),
                }
            )
    labels = {item.id: item.label for item in card.veto_items}
    # An id the card does not know is still shown: a veto must never disappear silently.
    vetoes = [labels.get(v, v) for v in scored.vetoes]
    decisions = list(
        Decision.objects.for_user(request.user)
        .filter(campaign_household=scored)
        .select_related("record", "record__area")
    )
    for d in decisions:
        d.step_label = _step_label(campaign, d.record.step_index)  # type: ignore[attr-defined]
    # Scoped through the household (fetched with get_for_user above): an objection posted
    # on a township notice is still about this household.
    objections = Objection.objects.filter(campaign_household=scored).select_related("record")
    county = CampaignCounty.objects.filter(campaign=campaign, county_id=scored.county_code).first()
    return render(
        request,
        "identify/household_score.html",
        {
            "campaign": campaign,
            "scored": scored,
            "county": county,
            "categories": categories,
            "vetoes": vetoes,
            "decisions": decisions,
            "objections": objections,
            "higher_is_better_off": card.direction == "higher_is_better_off",
        },
    )


# -- the procedure -------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def step_list(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    records = (
        StepRecord.objects.overlapping_user(request.user)
        .filter(campaign=campaign)
        .select_related("area")
        .prefetch_related("signatures")
        .annotate(n_decisions=Count("decisions", distinct=True))
    )
    by_step: dict[int, list[StepRecord]] = {}
    for r in records:
        by_step.setdefault(r.step_index, []).append(r)
    steps = [
        {"index": i, "step": s, "records": by_step.get(i, [])} for i, s in enumerate(campaign.steps)
    ]
    return render(
        request,
        "identify/step_list.html",
        {
            "campaign": campaign,
            "steps": steps,
            "can_record": request.user.has_perm(services.RECORD)
            and campaign.status in (CampaignStatus.SCORED, CampaignStatus.IN_PROCEDURE),
        },
    )


def _step_areas(request: HttpRequest, campaign: Campaign, step_index: int | None) -> list[Area]:
    """Areas where a record of the step may be made: of its level, in the campaign and in
    the user's reach (every level of the procedure while no step is chosen)."""
    prefix = area_prefix(request.user)
    if prefix is None:
        return []
    steps = campaign.steps
    lengths = (
        {steps[step_index].code_length}
        if step_index is not None and 0 <= step_index < len(steps)
        else {s.code_length for s in steps}
    )
    base = campaign.area_id if campaign.area_id.startswith(prefix) else prefix
    if not base.startswith(campaign.area_id):
        return []
    areas = Area.objects.filter(code__startswith=base).order_by("code")
    return [a for a in areas if len(a.code) in lengths]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _covered(request: HttpRequest, campaign: Campaign, step_index: int | None, area: str) -> Any:
    """The households a record of the step in the area would cover."""
    if step_index is None or not area:
        return CampaignHousehold.objects.none()
    return (
        _households(request, campaign)
        .filter(steps_done=step_index, village__code__startswith=area)
        .select_related("household", "village")
        .order_by("village_id", "score", "household_id")
    )


def _decision_rows(data: Any, covered: Any) -> list[dict[str, Any]]:
    return [
        {
            "c": c,
            "change": bool(data and data.get(f"change_{c.pk}")),
            "reason": (data.get(f"reason_{c.pk}", "") if data else ""),
        }
        for c in covered
    ]


def _decisions(data: Any, covered: Any) -> list[services.DecisionInput]:
    """A ticked household changes sides of the list; an unticked one with a reason is a
    confirmation kept on record."""
    result = []
    for c in covered:
        change = bool(data.get(f"change_{c.pk}"))
        reason = data.get(f"reason_{c.pk}", "")
        if change or reason.strip():
            on_list = not c.on_list if change else c.on_list
            result.append(services.DecisionInput(c.pk, on_list, reason))
    return result


@login_required
@permission_required(services.RECORD, raise_exception=True)
def step_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a step held in an area, with a decision per household where one was taken.

    Choosing the step or the area reloads the area list and the households' table (htmx, or
    the "Show the households" button without JavaScript); the chosen files stay chosen.
    """
    campaign = _campaign(request, pk)
    source = request.POST if request.method == "POST" else request.GET
    step_index = _int_or_none(source.get("step"))
    area = (source.get("area") or "").strip()
    areas = _step_areas(request, campaign, step_index)
    if area not in {a.code for a in areas}:
        area = ""
    covered = list(_covered(request, campaign, step_index, area))
    files_lost = False
    if request.method == "POST":
        form = forms.StepForm(request.POST, request.FILES, campaign=campaign, areas=areas)
        if form.is_valid():
            data = form.cleaned_data
            try:
                record = services.record_step(
                    request.user,
                    campaign,
                    step_index=data["step"],
                    area_code=data["area"],
                    date=data["date"],
                    participants=data["participants"],
                    signatures=data["signatures"],
                    place=data["place"],
                    notes=data["notes"],
                    decisions=_decisions(request.POST, covered),
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
                files_lost = bool(request.FILES)
            else:
                messages.success(
                    request,
                    _("“%(step)s” recorded for %(area)s: %(n)d households.")
                    % {"step": _step_label(campaign, record.step_index), "area": record.area,
                       "n": record.households},
                )  # fmt: skip
                return redirect("identify:record_detail", pk=campaign.pk, record_pk=record.pk)
        rows = _decision_rows(request.POST, covered)
    else:
        initial = {"step": step_index, "area": area} if step_index is not None else {}
        form = forms.StepForm(initial=initial, campaign=campaign, areas=areas)
        rows = _decision_rows(None, covered)
    steps = campaign.steps
    step = steps[step_index] if step_index is not None and 0 <= step_index < len(steps) else None
    context = {
        "campaign": campaign,
        "form": form,
        "rows": rows,
        "step": step,
        "area": area,
        "files_lost": files_lost,
        "scope_id": STEP_SCOPE_ID,
    }
    htmx: Any = getattr(request, "htmx", None)
    if request.method == "GET" and bool(htmx) and htmx.target == STEP_SCOPE_ID:
        response = render(request, "identify/_step_scope.html", context)
    else:
        response = render(request, "identify/step_form.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _notice_households(request: HttpRequest, record: StepRecord) -> Any:
    """Households covered by a record (they passed its step), in the user's area."""
    return (
        _households(request, record.campaign)
        .filter(village__code__startswith=record.area_id, steps_done__gt=record.step_index)
        .select_related("household", "village")
        .order_by("household__code")
    )


def _record_page(
    request: HttpRequest,
    record: StepRecord,
    *,
    objection_form: forms.ObjectionForm | None = None,
    resolve_forms: dict[int, forms.ResolveForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    campaign = record.campaign
    step = record.step
    is_notice = step.kind == "notice"
    scoped = CampaignHousehold.objects.for_user(request.user)
    decisions = (
        Decision.objects.for_user(request.user)
        .filter(record=record)
        .select_related("campaign_household__household", "campaign_household__village")
    )
    context: dict[str, Any] = {
        "campaign": campaign,
        "record": record,
        "step": step,
        "decisions": decisions,
        "is_notice": is_notice,
        "can_record": request.user.has_perm(services.RECORD),
    }
    if is_notice:
        objections = list(
            Objection.objects.filter(record=record, campaign_household__in=scoped).select_related(
                "campaign_household__household", "resolved_by"
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
    return render(request, "identify/record_detail.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
def record_detail(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    return _record_page(request, _record(request, campaign, record_pk))


@login_required
@permission_required(VIEW, raise_exception=True)
def signature_download(
    request: HttpRequest, pk: int, record_pk: int, attachment_pk: int
) -> FileResponse:
    campaign = _campaign(request, pk)
    record = _record(request, campaign, record_pk)
    attachment = get_object_or_404(Attachment, pk=attachment_pk, steprecord=record)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def objection_raise(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    record = _record(request, campaign, record_pk)
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
            return redirect("identify:record_detail", pk=campaign.pk, record_pk=record.pk)
    return _record_page(request, record, objection_form=form)


@login_required
@permission_required(services.RECORD, raise_exception=True)
@require_POST
def objection_resolve(request: HttpRequest, pk: int, objection_pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    objection = (
        Objection.objects.filter(
            record__campaign=campaign,
            campaign_household__in=CampaignHousehold.objects.for_user(request.user),
        )
        .select_related("record")
        .filter(pk=objection_pk)
        .first()
    )
    if objection is None:
        raise Http404
    record = _record(request, campaign, objection.record_id)
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
            return redirect("identify:record_detail", pk=campaign.pk, record_pk=record.pk)
    return _record_page(request, record, resolve_forms={objection.pk: form})


# -- the report ----------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Households moved across the line, each with the decisions and their reasons, and
    per-county totals (issue 4: every crossing is listed in the campaign report)."""
    campaign = _campaign(request, pk)
    crossings = list(
        services.crossings(campaign, request.user).order_by("county_code", "household__code")
    )
    for c in crossings:
        c.moves = [  # type: ignore[attr-defined]
            {"step": _step_label(campaign, d.record.step_index), "decision": d}
            for d in c.decisions.all()
        ]
    totals = {
        row["county_code"]: row
        for row in _households(request, campaign)
        .order_by()
        .values("county_code")
        .annotate(
            n_scored=Count("id"),
            n_below=Count("id", filter=Q(selected=True)),
            n_on_list=Count("id", filter=Q(on_list=True)),
            people_on_list=Sum("people", filter=Q(on_list=True)),
            n_added=Count("id", filter=Q(on_list=True, selected=False)),
            n_removed=Count("id", filter=Q(on_list=False, selected=True)),
            n_registered=Count("id", filter=Q(registered=True)),
        )
    }
    counties = []
    for county in (
        CampaignCounty.objects.overlapping_user(request.user)
        .filter(campaign=campaign)
        .select_related("county")
    ):
        counties.append({"county": county, "totals": totals.get(county.county_id, {})})
    return render(
        request,
        "identify/report.html",
        {
            "campaign": campaign,
            "crossings": crossings,
            "counties": counties,
            "procedure_label": campaign.procedure_label,
            "report_url": reverse("identify:campaign_report", args=[campaign.pk]),
        },
    )


# --------------------------------------------------------------------------------------
# Cross-department verification (数据比对, issue 5): datasets, runs, the review queue and
# the 应纳尽纳 list. Datasets and runs cover areas (`overlapping_user`, like campaigns);
# findings are people's data, scoped by their household's village (`for_user`). Every
# change goes through `fupin.identify.verification`.
# --------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def dataset_list(request: HttpRequest) -> HttpResponse:
    """The latest version of each dataset (kind × area), and the upload form."""
    v = verification
    can_manage = request.user.has_perm(v.MANAGE)
    form = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        form = forms.DatasetUploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            try:
                dataset = v.import_dataset(
                    request.user,
                    kind=data["kind"],
                    area_code=data["area"],
                    label=data["label"] or "",
                    received_on=data["received_on"],
                    data=upload.read(),
                    filename=upload.name,
                    source_note=data["source_note"] or "",
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                messages.success(
                    request,
                    _("Version %(version)d of %(kind)s stored: %(rows)d records.")
                    % {"version": dataset.version, "kind": v.kind_label(dataset.kind),
                       "rows": dataset.rows},
                )  # fmt: skip
                return redirect("identify:dataset_versions", pk=dataset.pk)
    elif can_manage:
        form = forms.DatasetUploadForm(user=request.user)
    datasets = list(
        DepartmentDataset.objects.overlapping_user(request.user)
        .select_related("area", "uploaded_by")
        .order_by("kind", "area_id", "-version")
    )
    latest: dict[tuple[str, str], Any] = {}
    for d in datasets:
        if (d.kind, d.area_id) not in latest:
            d.versions = 0  # type: ignore[attr-defined]
            latest[(d.kind, d.area_id)] = d
        latest[(d.kind, d.area_id)].versions += 1
    for d in latest.values():
        d.kind_label = v.kind_label(d.kind)  # type: ignore[attr-defined]
    return render(
        request,
        "identify/verification_datasets.html",
        {
            "datasets": list(latest.values()),
            "kinds": list(v.kinds().values()),
            "form": form,
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def dataset_versions(request: HttpRequest, pk: int) -> HttpResponse:
    """Every version of a dataset's kind and area, newest first."""
    v = verification
    visible = DepartmentDataset.objects.overlapping_user(request.user)
    dataset = visible.select_related("area").filter(pk=pk).first()
    if dataset is None:
        raise Http404
    versions = visible.filter(kind=dataset.kind, area=dataset.area).select_related("uploaded_by")
    return render(
        request,
        "identify/verification_dataset.html",
        {
            "dataset": dataset,
            "kind": v.kinds().get(dataset.kind),
            "kind_label": v.kind_label(dataset.kind),
            "versions": versions,
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs covering the user's area, and the form to start one."""
    v = verification
    can_manage = request.user.has_perm(v.MANAGE)
    source = request.POST if request.method == "POST" else request.GET
    area = (source.get("area") or getattr(request.user, "area_id", None) or "").strip()
    usable = (
        v.usable_datasets(request.user, area)
        .select_related("area")
        .order_by("kind", "-area_id", "-version")
    )
    form = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        form = forms.RunForm(request.POST, user=request.user, datasets=usable)
        if form.is_valid():
            try:
                run = v.start_run(
                    request.user, form.cleaned_data["area"], list(form.cleaned_data["datasets"])
                )
            except ValidationError as exc:
                apply_errors(exc, {"": form})
            else:
                return redirect(run.job) if run.job else redirect("identify:run_detail", pk=run.pk)
    elif can_manage:
        form = forms.RunForm(user=request.user, datasets=usable, initial={"area": area})
    runs = (
        VerificationRun.objects.overlapping_user(request.user)
        .select_related("area", "job", "started_by")
        .prefetch_related("datasets")[:100]
    )
    return render(
        request,
        "identify/verification_runs.html",
        {"runs": runs, "form": form, "area": area},
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    v = verification
    run = (
        VerificationRun.objects.overlapping_user(request.user)
        .select_related("area", "job", "started_by")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404
    by_kind: list[dict[str, Any]] = [
        {**row, "kind_label": v.kind_label(row["kind"])}
        for row in Finding.objects.for_user(request.user)
        .filter(run=run)
        .order_by()
        .values("kind", "effect", "status")
        .annotate(n=Count("id"))
        .order_by("kind", "status")
    ]
    datasets = list(run.datasets.select_related("area"))
    for d in datasets:
        d.kind_label = v.kind_label(d.kind)  # type: ignore[attr-defined]
    return render(
        request,
        "identify/verification_run.html",
        {"run": run, "by_kind": by_kind, "datasets": datasets},
    )


def _findings(request: HttpRequest) -> Any:
    return Finding.objects.for_user(request.user)


@login_required
@permission_required(VIEW, raise_exception=True)
def finding_list(request: HttpRequest) -> HttpResponse:
    """The review queue: by area, kind, effect, status and method; open ones first."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = FindingStatus.OPEN
    filters = forms.FindingFilterForm(data)
    qs = _findings(request).select_related("household__village", "member")
    if filters.is_valid():
        f = filters.cleaned_data
        if f["area"]:
            qs = qs.in_area(f["area"].strip())
        for name in ("kind", "effect", "status", "method"):
            if f[name]:
                qs = qs.filter(**{name: f[name]})
        if f["run"]:
            qs = qs.filter(run_id=f["run"])
    table = FindingTable(qs)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    return render(
        request, "identify/verification_findings.html", {"table": table, "filters": filters}
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def household_findings(request: HttpRequest, pk: int) -> HttpResponse:
    """The household's findings (matched department records, duplicates), loaded into the
    registry's household page: what other departments say about this household."""
    household = get_object_or_404(Household.objects.for_user(request.user), pk=pk)
    findings = list(
        _findings(request)
        .filter(household=household)
        .select_related("member", "dataset")
        .order_by("status", "-run_id", "pk")
    )
    for f in findings:
        f.kind_label = verification.kind_label(f.kind)  # type: ignore[attr-defined]
    return render(
        request,
        "identify/household_findings.html",
        {"household": household, "findings": findings},
    )


def _finding_page(
    request: HttpRequest, finding: Any, form: forms.FindingDecisionForm | None, status: int = 200
) -> HttpResponse:
    v = verification
    full_id = request.user.has_perm("registry.view_full_id")
    member = finding.member
    record = dict(finding.record or {})
    if not full_id and record.get("id_number"):
        record["id_number"] = mask_id_number(str(record["id_number"]))
    # The other registration of a duplicate is shown only if it lies in the user's area.
    other = (
        Member.objects.for_user(request.user)
        .select_related("household__village")
        .filter(pk=finding.other_member_id)
        .first()
        if finding.other_member_id
        else None
    )
    may_decide = finding.status == FindingStatus.OPEN and request.user.has_perm(v.DECIDE)
    return render(
        request,
        "identify/verification_finding.html",
        {
            "finding": finding,
            "household": finding.household,
            "member": member,
            "member_id_number": member.id_number if full_id else member.masked_id,
            "other": other,
            "other_id_number": (other.id_number if full_id else other.masked_id) if other else "",
            "record": record,
            "kind": v.kinds().get(finding.kind),
            "kind_label": v.kind_label(finding.kind),
            "form": (form or forms.FindingDecisionForm()) if may_decide else None,
            "excludes": finding.effect == FindingEffect.EXCLUDE,
            "can_exclude": v.can_exclude(finding.household),
        },
        status=status,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A finding: the household, the person and the department record side by side, and
    the decision (confirm or dismiss, with a reason) — one finding at a time."""
    finding = (
        _findings(request)
        .select_related(
            "household__village", "member", "dataset", "run", "decided_by", "status_change"
        )
        .filter(pk=pk)
        .first()
    )
    if finding is None:
        raise Http404
    if request.method != "POST":
        return _finding_page(request, finding, None)
    v = verification
    if not request.user.has_perm(v.DECIDE):
        raise PermissionDenied
    form = forms.FindingDecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            v.decide_finding(
                request.user,
                finding,
                confirm=data["decision"] == "confirm",
                reason=data["reason"] or "",
                date=data["date"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("The decision is recorded."))
            return redirect("identify:finding_detail", pk=finding.pk)
    return _finding_page(request, finding, form, status=400)


@login_required
@permission_required(VIEW, raise_exception=True)
def include_list(request: HttpRequest) -> HttpResponse:
    """应纳尽纳: households confirmed as candidates for the next identification campaign."""
    v = verification
    area = (request.GET.get("area") or "").strip()
    households = list(v.include_candidates(request.user, area))
    kinds: dict[int, list[str]] = {}
    for hid, kind in (
        Finding.objects.for_user(request.user)
        .filter(effect=FindingEffect.INCLUDE, status=FindingStatus.CONFIRMED)
        .filter(household_id__in=[h.pk for h in households])
        .values_list("household_id", "kind")
        .distinct()
    ):
        kinds.setdefault(hid, []).append(v.kind_label(kind))
    for h in households:
        h.include_kinds = sorted(kinds.get(h.pk, []))  # type: ignore[attr-defined]
    return render(
        request, "identify/verification_include.html", {"households": households, "area": area}
    )
