"""Pages of background jobs: the list of the user's area's jobs, a job with a live bar.

Jobs are scoped like people's data (`JobRun.objects.for_user`): a user sees the jobs of
his area's subtree, and any other job is a 404. The progress card is an htmx partial that
the page polls every second while the job is queued or running; the partial of a finished
job carries no trigger, so polling stops by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from fupin.core import jobs
from fupin.core.models import JobRun, JobState

PER_PAGE = 50
#: Names of the counts jobs commonly report; other keys are shown as they are.
COUNT_LABELS = {
    "rows": pgettext_lazy("job count", "Rows"),
    "sheets": pgettext_lazy("job count", "Sheets"),
    "households": pgettext_lazy("job count", "Households"),
    "members": pgettext_lazy("job count", "Members"),
    "created": pgettext_lazy("job count", "Created"),
    "updated": pgettext_lazy("job count", "Updated"),
    "unchanged": pgettext_lazy("job count", "Unchanged"),
    "errors": pgettext_lazy("job count", "Errors"),
}
#: Lines of the log shown on the page (the whole bounded log is in the row).
LOG_TAIL = 200


def _job(request: HttpRequest, pk: int) -> JobRun:
    """The job if it concerns the user's area; 404 otherwise (existence not leaked)."""
    job = JobRun.objects.select_related("user", "area").get_for_user(request.user, pk=pk)
    return jobs.live(job)


def _context(request: HttpRequest, job: JobRun) -> dict[str, Any]:
    rate, eta = jobs.rate_and_eta(job)
    log_lines = job.log.splitlines() if job.log else []
    return {
        "job": job,
        "label": jobs.kind_label(job),
        "percent": jobs.percent(job),
        "rate": rate,
        "eta": eta,
        "log_tail": "\n".join(log_lines[-LOG_TAIL:]),
        "log_cut": max(len(log_lines) - LOG_TAIL, 0),
        "counts": [(str(COUNT_LABELS.get(k, k)), v) for k, v in sorted((job.counts or {}).items())],
        "can_download": bool(job.result) and jobs.can_download(request.user, job),
        "can_cancel": _may_cancel(request.user, job)
        and job.state in (JobState.QUEUED, JobState.RUNNING),
        "polling": not job.is_finished,
    }


def _may_cancel(user: Any, job: JobRun) -> bool:
    return bool(user.is_superuser or (job.user_id is not None and job.user_id == user.pk))


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    qs = JobRun.objects.for_user(request.user).select_related("user", "area")
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "job": jobs.live(job),
            "label": jobs.kind_label(job),
            "percent": jobs.percent(job),
        }
        for job in page.object_list
    ]
    return render(request, "jobs/list.html", {"page": page, "rows": rows})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return render(request, "jobs/detail.html", _context(request, job))


@login_required
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress card alone (htmx polls it)."""
    job = _job(request, pk)
    return render(request, "jobs/_progress.html", _context(request, job))


@login_required
def job_result(request: HttpRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    if job.state != JobState.SUCCEEDED or not job.result:
        raise Http404
    if not jobs.can_download(request.user, job):
        raise PermissionDenied(_("You may not download this file."))
    try:
        handle = job.result.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle, as_attachment=True, filename=job.result_name or Path(job.result.name or "").name
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not _may_cancel(request.user, job):
        raise PermissionDenied(_("Only the user who started a job may cancel it."))
    if not jobs.request_cancel(job):
        messages.warning(request, _("The job has already finished."))
    elif JobRun.objects.filter(pk=job.pk, state=JobState.CANCELLED).exists():
        messages.info(request, _("The job was cancelled."))
    else:
        messages.info(request, _("The job will stop at its next progress report."))
    return redirect(job)
