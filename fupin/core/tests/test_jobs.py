"""Background jobs (issue 3, item 4): a JobRun records state, progress, counts, log and result;
pages show a live bar; jobs are scoped to the user's area like people's data."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fupin.core import jobs
from fupin.core.models import Area, AreaLevel, JobRun, JobState
from fupin.core.progress import TerminalProgress


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def no_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "THROTTLE", 0.0)


seen: dict[str, Any] = {}


@jobs.register("test.count", label="Count to ten")
def count_to_ten(job: jobs.JobContext) -> dict[str, int]:
    total = int(job.params.get("n", 10))
    for i in range(1, total + 1):
        job.progress("Counting", i, total)
        if i == 5:
            seen["row_at_5"] = JobRun.objects.values_list("done", flat=True).get(pk=job.job.pk)
        job.count("odd", i % 2)
    job.log("counted")
    job.set_result("numbers.txt", b"1 2 3")
    return {"rows": total}


@jobs.register("test.fail")
def fail(job: jobs.JobContext) -> None:
    job.progress("Reading", 3, 10)
    raise ValueError("row 7: the resident ID has a wrong check digit")


@jobs.register("test.in_transaction")
def write_in_a_transaction(job: jobs.JobContext) -> None:
    with transaction.atomic():
        Area.objects.create(code="46", name="海南省", level=AreaLevel.PROVINCE)
        job.progress("Writing", 3, 10)
        seen["row_inside"] = JobRun.objects.values_list("done", flat=True).get(pk=job.job.pk)
        seen["live_inside"] = jobs.live(JobRun.objects.get(pk=job.job.pk)).done
        if "probe" in seen:
            seen["probe"](job.job.pk)
    job.progress("Writing", 10, 10)
    seen["row_after"] = JobRun.objects.values_list("done", flat=True).get(pk=job.job.pk)
    seen["file_after"] = jobs._live_path(job.job.pk).exists()


@jobs.register("test.cancel_self")
def cancel_self(job: jobs.JobContext) -> None:
    job.progress("Working", 1, 10)
    jobs.request_cancel(JobRun.objects.get(pk=job.job.pk))  # as the page would
    job.progress("Working", 2, 10)
    seen["not_reached"] = True


@jobs.register("test.silent")
def silent(job: jobs.JobContext) -> None:
    for i in range(1000):
        job.progress("Fast", i, 1000)


# -- running ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_runs_and_records_progress_counts_log_and_result(county_user, no_throttle) -> None:
    """Issue 3 item 4: state, progress, counts, log, result file."""
    job = jobs.start("test.count", county_user, params={"n": 10})
    assert job.state == JobState.SUCCEEDED
    assert (job.phase, job.done, job.total) == ("Counting", 10, 10)
    assert seen["row_at_5"] == 5  # written while running, not only at the end
    assert job.counts == {"odd": 5, "rows": 10}
    assert "counted" in job.log
    assert job.result_name == "numbers.txt"
    assert job.result.name.startswith("jobs/result/")
    assert job.result.read() == b"1 2 3"
    assert job.user == county_user and job.area_id == "450102"
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.handler.endswith("test_jobs.count_to_ten")
    assert job.language


@pytest.mark.django_db
def test_a_failing_job_records_the_message_and_the_traceback(county_user) -> None:
    job = jobs.start("test.fail", county_user)
    assert job.state == JobState.FAILED
    assert job.error == "row 7: the resident ID has a wrong check digit"
    assert "Traceback" in job.log and "ValueError" in job.log
    assert (job.phase, job.done) == ("Reading", 3)
    assert not job.result


@pytest.mark.django_db
def test_progress_is_throttled_and_writes_only_changed_columns(county_user, no_throttle) -> None:
    """Fast by design: one narrow UPDATE per report, none at all within the throttle."""
    job = jobs.start("test.count", county_user, params={"n": 2})
    ctx = jobs.JobContext(JobRun.objects.get(pk=job.pk))
    with CaptureQueriesContext(connection) as queries:
        ctx.progress("Counting", 3, 2)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"done"' in updates[0] and '"progress_at"' in updates[0]
    for column in ('"phase"', '"total"', '"log"', '"counts"', '"state"'):
        assert column not in updates[0]


@pytest.mark.django_db
def test_progress_within_the_throttle_costs_no_query(county_user, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "THROTTLE", 3600.0)
    job = jobs.start("test.count", county_user, params={"n": 1})
    ctx = jobs.JobContext(JobRun.objects.get(pk=job.pk))
    with CaptureQueriesContext(connection) as queries:
        for i in range(1000):
            ctx.progress("Fast", i, 1000)
    assert len(queries.captured_queries) == 0


@pytest.mark.django_db
def test_progress_inside_the_jobs_own_transaction_goes_to_the_side_file(
    county_user, no_throttle
) -> None:
    """SQLite: the job's transaction holds the only write lock; progress must not wait for it."""
    seen.clear()
    job = jobs.start("test.in_transaction", county_user)
    assert job.state == JobState.SUCCEEDED, job.error
    assert seen["row_inside"] == 0  # not written to the row inside the job's transaction …
    assert seen["live_inside"] == 3  # … but visible through live()
    assert seen["row_after"] == 10 and seen["file_after"] is False


@pytest.mark.django_db(transaction=True)
def test_another_connection_sees_progress_while_the_job_holds_its_transaction(
    make_user, no_throttle
) -> None:
    """A page (another connection, here a thread) reads the live progress during the write."""
    user = make_user("officer", "450102", "data_officer")
    seen.clear()
    answers: list[Any] = []

    def probe(job_id: int) -> None:
        def read() -> None:
            try:
                answers.append(jobs.live(JobRun.objects.get(pk=job_id)).done)
            except Exception as exc:  # pragma: no cover - the failure is the assertion below
                answers.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=15)
        seen["probe_alive"] = thread.is_alive()

    seen["probe"] = probe
    try:
        job = jobs.start("test.in_transaction", user)
    finally:
        seen.pop("probe", None)
    assert job.state == JobState.SUCCEEDED, job.error
    assert seen["probe_alive"] is False
    assert answers == [3]


@pytest.mark.django_db
def test_cancelling_a_running_job(county_user, no_throttle) -> None:
    seen.clear()
    job = jobs.start("test.cancel_self", county_user)
    assert job.state == JobState.CANCELLED
    assert "not_reached" not in seen
    assert not jobs._cancel_path(job.pk).exists()


@pytest.mark.django_db
def test_start_checks_the_area_and_the_permission(make_user) -> None:
    """Jobs are scoped like people's data: no job for an area outside the user's."""
    user = make_user("officer", "450102", "data_officer")
    with pytest.raises(PermissionDenied):
        jobs.start("test.count", user, "450103")

    @jobs.register("test.guarded", permission="core.manage_users")
    def guarded(job: jobs.JobContext) -> None:  # pragma: no cover - never runs
        pass

    with pytest.raises(PermissionDenied):
        jobs.start("test.guarded", user)
    with pytest.raises(ValueError):
        jobs.start("test.unknown", user)


# -- the database backend and its worker -----------------------------------------------------


@pytest.fixture
def database_backend(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # The worker closes stale connections between tasks; inside a test's transaction that
    # would throw the test's own connection away.
    import django_tasks_db.management.commands.db_worker as worker

    monkeypatch.setattr(worker, "close_old_connections", lambda: None)


@pytest.mark.django_db
def test_the_database_backend_queues_the_job_and_the_worker_runs_it(
    county_user, database_backend, no_throttle
) -> None:
    from django_tasks_db.models import DBTaskResult

    job = jobs.start("test.count", county_user, params={"n": 4})
    assert job.state == JobState.QUEUED
    assert DBTaskResult.objects.filter(id=job.task_id).exists()
    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert job.counts["rows"] == 4


@pytest.mark.django_db
def test_a_queued_job_can_be_cancelled_and_never_runs(
    client, county_user, database_backend
) -> None:
    job = jobs.start("test.count", county_user)
    client.force_login(county_user)
    response = client.post(reverse("jobs:cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.started_at is None


# -- pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_sees_only_the_jobs_of_his_area(client, make_user, no_throttle) -> None:
    """Area scoping (DESIGN.md): jobs of other areas are not listed and are 404, not 403."""
    county = make_user("county", "450102", "data_officer")
    other = make_user("other", "450103", "data_officer")
    township = make_user("township", "450102100", "data_officer")
    mine = jobs.start("test.count", county)
    theirs = jobs.start("test.count", other)
    below = jobs.start("test.count", township)

    client.force_login(county)
    listed = client.get(reverse("jobs:list")).content.decode()
    assert reverse("jobs:detail", args=[mine.pk]) in listed
    assert reverse("jobs:detail", args=[below.pk]) in listed
    assert reverse("jobs:detail", args=[theirs.pk]) not in listed
    for name in ("jobs:detail", "jobs:progress", "jobs:result"):
        assert client.get(reverse(name, args=[mine.pk])).status_code == 200, name
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404, name
    assert client.post(reverse("jobs:cancel", args=[theirs.pk])).status_code == 404

    client.force_login(township)
    assert client.get(reverse("jobs:detail", args=[mine.pk])).status_code == 404
    assert client.get(reverse("jobs:detail", args=[below.pk])).status_code == 200


@pytest.mark.django_db
def test_the_result_downloads_with_its_name(client, county_user, no_throttle) -> None:
    job = jobs.start("test.count", county_user)
    client.force_login(county_user)
    response = client.get(reverse("jobs:result", args=[job.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"1 2 3"
    assert "numbers.txt" in response["Content-Disposition"]


@pytest.mark.django_db
def test_the_progress_partial_polls_until_the_job_ends(client, county_user, areas) -> None:
    """The live bar: htmx polls every second while running; a finished job stops the polling."""
    job = JobRun.objects.create(
        kind="test.count",
        user=county_user,
        area=areas["450102"],
        state=JobState.RUNNING,
        phase="Counting",
        done=25,
        total=100,
        created_at=county_user.date_joined,
    )
    client.force_login(county_user)
    url = reverse("jobs:progress", args=[job.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{url}"' in html
    assert "width: 25.0%" in html and "Counting" in html
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page
    JobRun.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, done=100)
    html = client.get(url).content.decode()
    assert "hx-trigger" not in html and "hx-get" not in html
    assert "width: 100.0%" in html


@pytest.mark.django_db
def test_the_page_shows_a_failed_jobs_error(client, county_user) -> None:
    job = jobs.start("test.fail", county_user)
    client.force_login(county_user)
    html = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "row 7: the resident ID has a wrong check digit" in html
    assert "hx-trigger" not in html


@pytest.mark.django_db
def test_the_job_pages_need_login(client, county_user) -> None:
    job = jobs.start("test.count", county_user)
    for url in (reverse("jobs:list"), reverse("jobs:detail", args=[job.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


# -- the terminal ----------------------------------------------------------------------------


def test_terminal_progress_on_a_pipe_prints_a_line_per_ten_percent() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out, tty=False)
    for i in range(0, 1001):
        bar("Writing rows", i, 1000)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[0].startswith("Writing rows [") and "0/1,000" in lines[0]
    assert "100.0%" in lines[-1] and "1,000/1,000" in lines[-1]


def test_terminal_progress_on_a_terminal_redraws_one_line() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out, tty=True, interval=0.0)
    for i in range(0, 101, 10):
        bar("Writing rows", i, 100)
    bar("Writing rows", 100, 100)  # reported twice: drawn once
    bar("Saving", 1, None)
    bar.close()
    text = out.getvalue()
    assert text.count("\n") == 2  # one per finished phase
    assert text.count("\r") == 12
    assert "ETA" in text and "/s" in text
