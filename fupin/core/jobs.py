"""Background jobs with progress: a thin wrapper over Django's tasks API (django-tasks).

    @jobs.register("registry.export", label=_("Export"), permission="registry.export_household")
    def export(job: JobContext) -> dict[str, int] | None:
        job.progress(_("Writing"), 0, total)
        ...
        job.set_result("households.xlsx", path)
        return {"rows": total}  # merged into the job's counts

    run = jobs.start("registry.export", user, "450102", {"format": "xlsx"})

`start` records a `JobRun` and enqueues one django-tasks task, `run_job(job_id)`; the
backend decides where it runs: the database backend (a worker, `fupin db_worker`, picks it
up; `make demo` starts one) or the immediate backend (in-process at once: the tests'
fallback; see TASKS in settings). The task runs the registered function with a
`JobContext` in the starting user's language; an exception marks the job failed with its
message, the traceback goes to the job's log.

Progress is cheap: `progress()` only updates memory; at most every `THROTTLE` seconds the
changed columns (and only those) are written with one UPDATE.

Progress and the job's own transaction. A job that writes "all or nothing" holds one big
transaction, and on SQLite that transaction holds the database's only write lock: no other
connection (a second alias to the same file included) can write a progress row until it
commits — it would wait out the busy timeout and fail — and a row written on the job's
own connection stays invisible to the pages until the commit (and is rolled back with it).
So while the job's connection is inside a transaction the job opened, progress goes to a
small side file instead (`MEDIA_ROOT/jobs/live/<id>.json`, replaced atomically), which
`live()` lays over the row when it is newer; outside such transactions it goes to the row
again and the file is removed. The same holds on PostgreSQL (uniformly, and without a
second connection per job). A cancel request for a running job is likewise a marker file,
since on SQLite the web process could not write the row while the job writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from fupin.core.models import Area, JobRun, JobState, User
from fupin.core.scoping import user_can_reach

logger = logging.getLogger(__name__)

#: Seconds between two writes of a job's progress.
THROTTLE = 0.5
#: Lines of log kept per job (the oldest are dropped and counted); characters per line.
LOG_LINES = 500
LOG_LINE_CHARS = 1000


class JobCancelled(Exception):
    """Raised inside a job when its user asked to cancel it."""


@dataclass(frozen=True)
class JobKind:
    kind: str
    fn: Callable[[JobContext], Any]
    label: Any
    #: Needed to start the job (checked again when it runs).
    permission: str | None
    #: Needed to download the result, given the job (e.g. full IDs need view_full_id).
    result_permissions: Callable[[JobRun], Iterable[str]] | None

    @property
    def handler(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


_REGISTRY: dict[str, JobKind] = {}
F = TypeVar("F", bound=Callable[..., Any])


def register(
    kind: str,
    *,
    label: Any = None,
    permission: str | None = None,
    result_permissions: Callable[[JobRun], Iterable[str]] | None = None,
) -> Callable[[F], F]:
    """Register `fn(job: JobContext)` as the function that runs jobs of `kind`."""

    def decorate(fn: F) -> F:
        _REGISTRY[kind] = JobKind(kind, fn, label or kind, permission, result_permissions)
        return fn

    return decorate


def get_kind(kind: str, handler: str = "") -> JobKind | None:
    """The registered kind; imports the module named by `handler` when not yet loaded.

    A worker process has not imported the web views that register most kinds; the JobRun
    remembers the function's module so the worker can import it.
    """
    if kind not in _REGISTRY and handler:
        with contextlib.suppress(ImportError):
            import_module(handler.rsplit(".", 1)[0])
    return _REGISTRY.get(kind)


def kind_label(job: JobRun) -> str:
    found = get_kind(job.kind, job.handler)
    return str(found.label) if found else job.kind


# -- starting ------------------------------------------------------------------------------


def start(
    kind: str,
    user: User | None,
    area_code: str | None = None,
    params: dict[str, Any] | None = None,
    input_file: File | Path | None = None,
    *,
    input_name: str | None = None,
) -> JobRun:
    """Record a job and enqueue it; returns the JobRun (already finished on the immediate backend).

    `area_code` is the area the job concerns (default: the user's); it must lie in the
    user's subtree. `params` must be JSON. `input_file` (an upload or a path) is kept
    under MEDIA_ROOT/jobs/input/ and reachable as `job.input_path`.
    """
    found = get_kind(kind)
    if found is None:
        raise ValueError(f"no job function is registered for {kind!r}")
    if user is not None and found.permission and not user.has_perm(found.permission):
        raise PermissionDenied(_("You may not start this job."))
    code = area_code if area_code is not None else (getattr(user, "area_id", None) or "")
    if user is not None and not user_can_reach(user, code):
        raise PermissionDenied(_("This area lies outside yours."))
    area = Area.objects.filter(code=code).first() if code else None
    if code and area is None:
        raise ValueError(f"no area has the code {code!r}")
    job = JobRun(
        kind=kind,
        handler=found.handler,
        user=user,
        area=area,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        params=params or {},
        created_at=timezone.now(),
    )
    if input_file is not None:
        if isinstance(input_file, Path):
            name = input_name or input_file.name
            with input_file.open("rb") as fh:
                job.input.save(name, File(fh), save=False)
        else:
            name = input_name or Path(input_file.name or "input").name
            job.input.save(name, input_file, save=False)
        job.input_name = name
    job.save()
    try:
        result = run_job.enqueue(job.pk)
    except Exception as exc:
        _finish_failed(job.pk, exc)
        raise
    JobRun.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
    job.refresh_from_db()
    return job


def request_cancel(job: JobRun) -> bool:
    """Cancel a queued job now, or ask a running one to stop at its next progress report."""
    if job.state == JobState.QUEUED:
        stopped = JobRun.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.CANCELLED, finished_at=timezone.now()
        )
        if stopped:
            return True
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        marker = _cancel_path(job.pk)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        return True
    return False


def can_download(user: Any, job: JobRun) -> bool:
    """Whether `user` (who can see the job) may download its result file."""
    found = get_kind(job.kind, job.handler)
    needed = list(found.result_permissions(job)) if found and found.result_permissions else []
    return all(user.has_perm(p) for p in needed)


# -- running -------------------------------------------------------------------------------


@task()
def run_job(job_id: int) -> str:
    """The one django-tasks task: run the job's registered function."""
    return execute(job_id)


def execute(job_id: int) -> str:
    """Run a queued job to its end; returns the final state. Never raises for the job's errors."""
    now = timezone.now()
    claimed = JobRun.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=now, progress_at=now
    )
    job = JobRun.objects.select_related("user").get(pk=job_id)
    if not claimed:  # cancelled while queued, or run already
        return job.state
    ctx = JobContext(job)
    state, error, returned = JobState.SUCCEEDED, "", None
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            found = get_kind(job.kind, job.handler)
            if found is None:
                raise LookupError(f"no job function is registered for {job.kind!r}")
            user = job.user
            if user is not None and (
                not user.is_active or (found.permission and not user.has_perm(found.permission))
            ):
                raise PermissionDenied(_("You may not start this job."))
            ctx.check_cancelled()
            returned = found.fn(ctx)
    except JobCancelled:
        ctx._closing = True
        state = JobState.CANCELLED
        ctx.log(_("Cancelled."))
    except Exception as exc:
        ctx._closing = True
        state, error = JobState.FAILED, error_message(exc)
        ctx.log(traceback.format_exc())
        logger.warning("job %s (%s) failed: %s", job_id, job.kind, error)
    if isinstance(returned, dict):
        ctx.counts.update(returned)
    ctx.finish(state, error)
    return state


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(m) for m in exc.messages)
    return str(exc) or exc.__class__.__name__


def _finish_failed(job_id: int, exc: BaseException) -> None:
    JobRun.objects.filter(pk=job_id).update(
        state=JobState.FAILED, finished_at=timezone.now(), error=error_message(exc)
    )


def _jobs_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "jobs"


def _live_path(job_id: int) -> Path:
    return _jobs_dir() / "live" / f"{job_id}.json"


def _cancel_path(job_id: int) -> Path:
    return _jobs_dir() / "live" / f"{job_id}.cancel"


class _MovedFile(File):
    """An open file that FileSystemStorage moves into place (a rename) instead of copying."""

    def temporary_file_path(self) -> str:
        return str(getattr(self.file, "name", ""))


class JobContext:
    """What a job function gets: its parameters, input, user; progress, log and result."""

    def __init__(self, job: JobRun) -> None:
        self.job = job
        self.params: dict[str, Any] = dict(job.params or {})
        self.user: User | None = job.user
        self.counts: dict[str, Any] = dict(job.counts or {})
        self._phase, self._done, self._total = job.phase, job.done, job.total
        self._phase_started = job.phase_started_at
        self._log: deque[str] = deque(job.log.splitlines() if job.log else (), maxlen=LOG_LINES)
        self._omitted = 0
        self._log_version = 0
        self._written: dict[str, Any] = {
            "phase": job.phase,
            "phase_started_at": job.phase_started_at,
            "done": job.done,
            "total": job.total,
            "counts": dict(job.counts or {}),
            "log": 0,
        }
        self._last_flush = time.monotonic()
        self._live_written = False
        self._result: tuple[str, str] | None = None
        self._result_on_failure = False
        # Transactions open before the job began (a test's own, or the caller's on the
        # immediate backend) are not the job's: only deeper ones hold the job's writes.
        self._outer_atomic = len(connection.atomic_blocks)
        self._workdir: Path | None = None
        self._closing = False  # the function has returned: no cancelling any more

    # -- what the job reads

    @property
    def input_path(self) -> Path | None:
        return Path(self.job.input.path) if self.job.input else None

    @property
    def input_name(self) -> str:
        return self.job.input_name

    @property
    def workdir(self) -> Path:
        """A scratch directory for the job (removed at its end), on the media file system."""
        if self._workdir is None:
            self._workdir = _jobs_dir() / "work" / str(self.job.pk)
            self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    # -- what the job reports

    def progress(self, phase: str, done: int, total: int | None = None) -> None:
        """Where the job is: a phase label, items done, items in all (None: unknown).

        Each phase counts from 0 (its rate and time left are measured from its start).
        """
        phase = str(phase)[:200]
        if phase != self._phase:
            self._phase_started = timezone.now()
        self._phase, self._done, self._total = phase, int(done), total
        self._maybe_flush()

    def log(self, line: str) -> None:
        """Append to the job's log (bounded: the oldest lines are dropped, and counted)."""
        stamp = timezone.localtime().strftime("%H:%M:%S")
        for part in str(line).rstrip("\n").splitlines() or [""]:
            if len(self._log) == self._log.maxlen:
                self._omitted += 1
            self._log.append(f"{stamp} {part[:LOG_LINE_CHARS]}")
        self._log_version += 1
        self._maybe_flush()

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def set_result(
        self, filename: str, data: bytes | Path | str, *, also_on_failure: bool = False
    ) -> None:
        """Keep `data` (bytes, or a file, moved into place when it can be) as the result.

        Offered for download once the job has succeeded; a failed job's result is deleted,
        unless it explains the failure (`also_on_failure`: an import's error report).
        """
        self._result_on_failure = also_on_failure
        field = self.job.result
        name = field.field.generate_filename(self.job, filename)
        max_length = field.field.max_length
        if isinstance(data, bytes):
            stored = field.storage.save(name, ContentFile(data), max_length=max_length)
        else:
            with open(data, "rb") as fh:
                stored = field.storage.save(name, _MovedFile(fh), max_length=max_length)
        if self._result is not None:
            field.storage.delete(self._result[0])
        self._result = (stored, filename)

    def check_cancelled(self) -> None:
        if _cancel_path(self.job.pk).exists():
            raise JobCancelled

    # -- writing it down

    def in_own_transaction(self) -> bool:
        return connection.in_atomic_block and len(connection.atomic_blocks) > self._outer_atomic

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= THROTTLE:
            self._last_flush = now
            if not self._closing:
                self.check_cancelled()
            self.flush()

    def _log_text(self) -> str:
        lines = list(self._log)
        if self._omitted:
            lines.insert(0, f"[… {self._omitted}]")
        return "\n".join(lines)

    def _changes(self) -> dict[str, Any]:
        current = {
            "phase": self._phase,
            "phase_started_at": self._phase_started,
            "done": self._done,
            "total": self._total,
            "counts": self.counts,
            "log": self._log_version,
        }
        return {k: v for k, v in current.items() if self._written.get(k) != v}

    def flush(self) -> None:
        """Write what changed since the last write: to the row, or to the side file."""
        changed = self._changes()
        if not changed:
            return
        if self.in_own_transaction():
            self._write_live()
            return
        fields = {k: v for k, v in changed.items() if k != "log"}
        if "counts" in fields:
            fields["counts"] = dict(self.counts)
        if "log" in changed:
            fields["log"] = self._log_text()
        fields["progress_at"] = timezone.now()
        JobRun.objects.filter(pk=self.job.pk).update(**fields)
        self._written.update(changed)
        if "counts" in changed:
            self._written["counts"] = dict(self.counts)
        if self._live_written:
            _live_path(self.job.pk).unlink(missing_ok=True)
            self._live_written = False

    def _write_live(self) -> None:
        path = _live_path(self.job.pk)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "phase": self._phase,
            "phase_started_at": self._phase_started.isoformat() if self._phase_started else None,
            "done": self._done,
            "total": self._total,
            "counts": self.counts,
            "log": self._log_text(),
            "at": timezone.now().isoformat(),
        }
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
        self._live_written = True

    def finish(self, state: str, error: str = "") -> None:
        """The final write: state, times, progress, counts, log and result in one UPDATE."""
        fields: dict[str, Any] = {
            "state": state,
            "finished_at": timezone.now(),
            "error": error[:10000],
            "phase": self._phase,
            "phase_started_at": self._phase_started,
            "done": self._done,
            "total": self._total,
            "counts": self.counts,
            "log": self._log_text(),
            "progress_at": timezone.now(),
        }
        if self._result is not None:
            if state == JobState.SUCCEEDED or self._result_on_failure:
                fields["result"], fields["result_name"] = self._result
            else:  # a half-made result is not offered
                self.job.result.storage.delete(self._result[0])
        JobRun.objects.filter(pk=self.job.pk).update(**fields)
        for path in (_live_path(self.job.pk), _cancel_path(self.job.pk)):
            path.unlink(missing_ok=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


# -- reading -------------------------------------------------------------------------------


def live(job: JobRun) -> JobRun:
    """The job with the progress a running job wrote to its side file, when that is newer.

    The row is not changed; the instance's fields are (for display).
    """
    if job.state != JobState.RUNNING:
        return job
    try:
        data = json.loads(_live_path(job.pk).read_text(encoding="utf-8"))
        at = dt.datetime.fromisoformat(data["at"])
    except (OSError, ValueError, KeyError):
        return job
    if job.progress_at is None or at > job.progress_at:
        job.phase, job.done, job.total = data["phase"], data["done"], data["total"]
        job.counts, job.log, job.progress_at = data["counts"], data["log"], at
        started = data.get("phase_started_at")
        job.phase_started_at = dt.datetime.fromisoformat(started) if started else None
    return job


def percent(job: JobRun) -> float | None:
    if job.state == JobState.SUCCEEDED:
        return 100.0
    if not job.total:
        return None
    return max(0.0, min(100.0, job.done * 100 / job.total))


def rate_and_eta(job: JobRun) -> tuple[float | None, dt.timedelta | None]:
    """Items per second in the current phase, and the time left in it at that rate."""
    since = job.phase_started_at or job.started_at
    if since is None or job.progress_at is None or job.done <= 0:
        return None, None
    seconds = (job.progress_at - since).total_seconds()
    if seconds <= 0:
        return None, None
    rate = job.done / seconds
    if not job.total or job.state != JobState.RUNNING:
        return rate, None
    return rate, dt.timedelta(seconds=round(max(job.total - job.done, 0) / rate))
