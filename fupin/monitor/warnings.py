"""The return-to-poverty warning run (返贫预警, issue 7 item 5): registry snapshot and risk
events → engine.warnings.run_warnings → stored warnings. Nightly from cron
(`fupin monitor warn --area CODE`), on demand from the pages (the job `monitor.warn`).

    run = run_for_area(user, "450102", workdir, on=date(2020, 6, 30), progress=...)

1. **Rules.** The area's province's rules file in force on `on` (policy/warnings.toml;
   every province defaults to Anhui's, seed 004) and the national poverty line of `on`'s
   year (identify's poverty_lines.toml). No rules or no line: refused, nothing run.
2. **Data.** `registry.snapshot.write_snapshot` writes the area's households whose status
   a rule watches (households, members, income history); `write_events` writes the area's
   risk events up to `on` as events.parquet (engine/warning_rules/FORMAT.md). An area
   without any recorded event has an empty events file: "nothing reported", so event rules
   do not fire (rather than "no data").
3. **Storing** (`store_warnings`), in one transaction, bulk-written (core/bulkwrite.py):
   - a (household, rule) raised that has a *current* warning (`ended_on` null, whatever its
     state) updates it: last raised, evidence, level, last run — never a second warning;
     the deadline stays the one first set (a deadline that moved every night would never
     fall due);
   - a (household, rule) raised without a current warning is a new open warning;
   - a current warning of a household in the area that this run no longer raises has
     ended (`ended_on` = `on`): an open one is `cleared` (the condition ended), audited
     one entry each, by the system; a responded, dismissed or returned one keeps its state.
   A warning that was dismissed or answered is therefore not raised again while its
   condition lasts; if the condition ends and comes back, a new warning is raised.
   One audit entry records the run and its counts.

Runs over overlapping areas are serialised by locking the area rows from the province down.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from engine.warnings import EVENT_KINDS, LEVELS, WarningRules, load_rules, run_warnings
from fupin.core import audit, jobs
from fupin.core.bulkwrite import TableWriter
from fupin.core.models import Area
from fupin.core.scoping import ancestor_codes
from fupin.core.services import require, require_area
from fupin.identify.policy import poverty_line
from fupin.monitor import policy
from fupin.monitor.models import RiskEvent, RiskWarning, WarningRun, WarningState
from fupin.registry.snapshot import write_snapshot

MANAGE = "monitor.manage_monitor"
BATCH = 2000
#: At most this many values in one `IN (…)` list.
IN_CHUNK = 5000
EVENTS_FILE = "events.parquet"
Progress = Callable[[str, int, int | None], None]

EVENT_SCHEMA = pa.schema(
    [
        ("household_id", pa.int64()),
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        ("date", pa.date32()),
        ("amount", pa.decimal128(12, 2)),
        ("source", pa.string()),
    ]
)


class _System:
    """Who reads the registry for the nightly run started without a user: every household
    of the area (the audit entries of such a run are signed `system`)."""

    is_authenticated = True
    is_active = True
    is_superuser = True
    area_id = None
    pk = None

    def has_perm(self, perm: str) -> bool:
        return True


SYSTEM = _System()


def _none(phase: str, done: int, total: int | None = None) -> None:
    return None


def rules_for(area_code: str, on: dt.date) -> tuple[policy.RulesChoice, WarningRules]:
    choice = policy.warnings().rules_for(area_code, on)
    if choice is None:
        raise ValidationError(
            _("No warning rules are in force on %(date)s for this area (policy/warnings.toml).")
            % {"date": on.isoformat()}
        )
    return choice, load_rules(choice.path)


def line_for(on: dt.date) -> Any:
    line = poverty_line(on.year)
    if line is None:
        raise ValidationError(
            _(
                "No poverty line is recorded for %(year)d (identify/policy/poverty_lines.toml): "
                "the warnings compare incomes with it, so they cannot be run."
            )
            % {"year": on.year}
        )
    return line


def write_events(
    reader: Any, area_code: str, path: Path, on: dt.date, window_days: int = 366
) -> int:
    """The area's risk events dated in the `window_days` up to `on` as events.parquet."""
    rows = (
        RiskEvent.objects.for_user(reader)
        .in_area(area_code)
        .filter(date__lte=on, date__gt=on - dt.timedelta(days=window_days))
        .filter(kind__in=EVENT_KINDS)
        .order_by("household_id", "date", "pk")
        .values_list("household_id", "person_id", "kind", "date", "amount", "source")
    )
    columns: list[list[Any]] = [[] for _f in EVENT_SCHEMA]
    for row in rows.iterator(chunk_size=BATCH):
        for i, value in enumerate(row):
            columns[i].append(value)
    table = pa.table(
        [pa.array(c, type=f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
    pq.write_table(table, path, compression="zstd")
    return table.num_rows


def _widest_window(rules: WarningRules) -> int:
    return max((f.window_days for f in rules.facts if f.kinds), default=1)


def run_for_area(
    user: Any,
    area_code: str,
    workdir: Path,
    *,
    on: dt.date | None = None,
    progress: Progress | None = None,
    job: Any = None,
) -> WarningRun:
    """Evaluate the warning rules over the area on `on` (default today) and store the
    warnings (module docstring). `user` None: the system's nightly run."""
    progress = progress or _none
    if user is not None:
        require(user, MANAGE)
        require_area(user, area_code)
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        raise ValidationError({"area": [_("No area has the code %(code)s.") % {"code": area_code}]})
    on = on or timezone.localdate()
    if on > timezone.localdate():
        raise ValidationError({"on": [_("The date cannot be in the future.")]})
    choice, rules = rules_for(area_code, on)
    line = line_for(on)
    started = time.monotonic()
    reader = user if user is not None else SYSTEM
    data = workdir / "data"
    statuses = sorted({s for r in rules.rules for s in r.statuses})
    refuse_past(area_code, on)  # early, before the work; store_warnings checks again
    progress(_("Reading the registry"), 0, None)
    snapshot_at = timezone.now()
    snap = write_snapshot(reader, area_code, data, progress=progress, statuses=statuses)
    write_events(reader, area_code, data / EVENTS_FILE, on, _widest_window(rules) + 1)
    progress(_("Evaluating the rules"), 0, None)
    result = run_warnings(
        data, rules, workdir / "out", on=on, poverty_line=float(line), progress=progress
    )
    table = pq.read_table(result["out"])
    progress(_("Storing the warnings"), 0, table.num_rows)
    run = store_warnings(
        user,
        area,
        on,
        rules,
        choice,
        line,
        table,
        households=int(snap.get("households", 0)),
        job=job,
        progress=progress,
        snapshot_at=snapshot_at,
    )
    WarningRun.objects.filter(pk=run.pk).update(seconds=time.monotonic() - started)
    run.refresh_from_db()
    return run


def _lock_areas(area_code: str) -> None:
    codes = [*ancestor_codes(area_code), area_code]
    list(Area.objects.select_for_update().filter(code__in=codes).order_by("code"))


def refuse_past(area_code: str, on: dt.date) -> None:
    """A run is on or after the latest stored run over any overlapping area (the area, an
    area above it, an area within it): a run on a past day would end today's warnings on
    that day and raise new ones due in the past."""
    codes = [*ancestor_codes(area_code), area_code]
    latest = (
        WarningRun.objects.filter(Q(area__code__in=codes) | Q(area__code__startswith=area_code))
        .order_by("-on", "-pk")
        .select_related("area")
        .first()
    )
    if latest is not None and on < latest.on:
        raise ValidationError(
            {
                "on": [
                    _(
                        "Warnings over %(area)s were already evaluated on %(latest)s (run of "
                        "%(run_area)s): a run on an earlier day (%(date)s) would rewrite the "
                        "current warnings with past data. Run on %(latest)s or later."
                    )
                    % {
                        "area": area_code,
                        "latest": latest.on.isoformat(),
                        "run_area": f"{latest.area.name} {latest.area_id}",
                        "date": on.isoformat(),
                    }
                ]
            }
        )


@transaction.atomic
def store_warnings(
    user: Any,
    area: Area,
    on: dt.date,
    rules: WarningRules,
    choice: policy.RulesChoice,
    line: Any,
    table: pa.Table,
    *,
    households: int,
    job: Any = None,
    progress: Progress | None = None,
    snapshot_at: dt.datetime | None = None,
) -> WarningRun:
    """Store a run's warnings.parquet rows (module docstring: update, insert, end)."""
    progress = progress or _none
    _lock_areas(area.code)
    refuse_past(area.code, on)
    snapshot_at = snapshot_at or timezone.now()
    reraise_after = policy.warnings().reraise_after_days
    labels = {r.code: (r.label, r.label_en) for r in rules.rules}
    levels = Counter(table["level"].to_pylist())
    run = WarningRun.objects.create(
        area=area,
        on=on,
        rules_name=rules.name,
        rules_version=rules.version,
        rules_file=choice.rules,
        poverty_line=line,
        households=households,
        warnings=table.num_rows,
        job=getattr(job, "job", job),
        started_by=user,
        snapshot_at=snapshot_at,
        **{level: levels.get(level, 0) for level in LEVELS},
    )
    # The current warnings, locked: a response given meanwhile waits for this run, and what
    # this run writes is decided on the state it then finds (never a blind overwrite).
    current = {
        (hh, rule): (pk, state, due_on, closed_at, last_snapshot)
        for pk, hh, rule, state, due_on, closed_at, last_snapshot in RiskWarning.objects.in_area(
            area.code
        )
        .filter(ended_on__isnull=True)
        .select_for_update(of=("self",))
        .values_list(
            "pk", "household_id", "rule", "state", "due_on", "closed_at", "last_run__snapshot_at"
        )
    }
    cols = table.to_pydict()
    writer = TableWriter(RiskWarning)
    new_rows: list[dict[str, Any]] = []
    renew: list[tuple[Any, ...]] = []
    renew_open: list[tuple[Any, ...]] = []
    again: list[int] = []
    raised: set[tuple[int, str]] = set()
    total = table.num_rows
    for i in range(total):
        key = (cols["household_id"][i], cols["rule"][i])
        raised.add(key)
        found = current.get(key)
        if found is not None and _due_again(found[1], found[3], on, reraise_after):
            again.append(found[0])  # answered long ago, the condition lasts: raised anew
        elif found is not None:
            if found[1] == WarningState.OPEN:
                renew_open.append((on, cols["evidence"][i], cols["level"][i], run.pk, found[0]))
            else:
                renew.append((on, run.pk, found[0]))
            continue
        label, label_en = labels.get(key[1], (key[1], key[1]))
        new_rows.append(
            {
                "id": None,
                "household_id": key[0],
                "rule": key[1],
                "rule_label": label[:100],
                "rule_label_en": label_en[:150],
                "level": cols["level"][i],
                "category": cols["category"][i] or "",
                "risk": cols["risk"][i],
                "response": cols["response"][i],
                "evidence": cols["evidence"][i] or "",
                "last_evidence": cols["evidence"][i] or "",
                "last_level": cols["level"][i],
                "late": False,
                "first_raised_on": on,
                "last_raised_on": on,
                "due_on": cols["due_on"][i],
                "ended_on": None,
                "run_id": run.pk,
                "last_run_id": run.pk,
                "state": WarningState.OPEN,
                "visit_id": None,
                "measure_id": None,
                "response_note": "",
                "closed_by_id": None,
                "closed_at": None,
            }
        )
    # A re-raised warning's predecessor stops being current (one current warning per rule).
    writer.update(["ended_on"], [(on, pk) for pk in again], batch=BATCH)
    for start in range(0, len(new_rows), BATCH):
        chunk = new_rows[start : start + BATCH]
        for row, pk in zip(chunk, writer.reserve_ids(len(chunk)), strict=True):
            row["id"] = pk
        writer.insert(chunk)
        progress(_("Storing the warnings"), start + len(chunk), total)
    writer.update(
        ["last_raised_on", "last_evidence", "last_level", "last_run_id"], renew_open, batch=BATCH
    )
    writer.update(["last_raised_on", "last_run_id"], renew, batch=BATCH)
    # Ended: not raised by this run, and last raised by a run whose data is older than this
    # one's (a run that read its data before another stored does not undo what it saw).
    ended = [
        (pk, state, due_on)
        for key, (pk, state, due_on, _closed, last_snapshot) in current.items()
        if key not in raised and (last_snapshot is None or last_snapshot < snapshot_at)
    ]
    now = timezone.now()
    # An open warning ending past its deadline, unanswered, is `lapsed` (kept in the
    # overdue counts), else `cleared`.
    ending = {
        pk: (WarningState.LAPSED if due_on < on else WarningState.CLEARED)
        for pk, state, due_on in ended
        if state == WarningState.OPEN
    }
    cleared = list(ending)
    writer.update(
        ["ended_on", "state", "closed_at"],
        [(on, new_state, now, pk) for pk, new_state in ending.items()],
        batch=BATCH,
    )
    writer.update(
        ["ended_on"],
        [(on, pk) for pk, state, _due in ended if state != WarningState.OPEN],
        batch=BATCH,
    )
    if cleared:
        villages: dict[int, str] = {}
        for start in range(0, len(cleared), IN_CHUNK):
            villages.update(
                RiskWarning.objects.filter(pk__in=cleared[start : start + IN_CHUNK]).values_list(
                    "pk", "household__village_id"
                )
            )
        audit.record_many(
            None,
            (
                audit.Entry(
                    action="monitor.warning.clear",
                    object_type=RiskWarning._meta.label_lower,
                    object_id=str(pk),
                    area_code=villages.get(pk, area.code),
                    before={"state": WarningState.OPEN},
                    after={
                        "state": new_state,
                        "ended_on": on.isoformat(),
                        "run": run.pk,
                    },
                )
                for pk, new_state in ending.items()
            ),
            reason=str(
                _("The condition of the warning no longer holds (run of %(date)s).")
                % {"date": on.isoformat()}
            ),
        )
    progress(_("Storing the warnings"), total, total)
    WarningRun.objects.filter(pk=run.pk).update(
        new=len(new_rows),
        renewed=len(renew) + len(renew_open),
        cleared=len(cleared),
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    audit.record(
        user=user,
        action="monitor.warning.run",
        obj=run,
        area_code=area.code,
        after={
            "on": on,
            "rules": f"{rules.name} {rules.version} ({choice.rules})",
            "poverty_line": line,
            "households": households,
            "warnings": run.warnings,
            "by_level": {level: levels.get(level, 0) for level in LEVELS},
            "new": run.new,
            "still_raised": run.renewed,
            "cleared": run.cleared,
            "ended_not_open": len(ended) - len(cleared),
            "lapsed": sum(1 for v in ending.values() if v == WarningState.LAPSED),
            "raised_again": len(again),
        },
    )
    return run


def _due_again(state: str, closed_at: dt.datetime | None, on: dt.date, reraise_after: int) -> bool:
    """A responded or dismissed warning whose condition still holds is raised again as a
    new warning once `reraise_after_days` (policy/warnings.toml) have passed since it was
    closed."""
    if state not in (WarningState.RESPONDED, WarningState.DISMISSED) or closed_at is None:
        return False
    return (on - timezone.localdate(closed_at)).days >= reraise_after


@jobs.register("monitor.warn", label=gettext_lazy("Return-to-poverty warnings"), permission=MANAGE)
def warn_job(job: jobs.JobContext) -> dict[str, int]:
    """params: area (code, default the job's area), on (ISO date, default today)."""
    area_code = job.params.get("area") or (job.job.area_id or "")
    on = dt.date.fromisoformat(job.params["on"]) if job.params.get("on") else None
    run = run_for_area(job.user, area_code, job.workdir, on=on, progress=job.progress, job=job)
    return {
        "run": run.pk,
        "households": run.households,
        "warnings": run.warnings,
        "red": run.red,
        "orange": run.orange,
        "yellow": run.yellow,
        "new": run.new,
        "cleared": run.cleared,
    }


def run_in_terminal(
    user: Any, area_code: str, *, on: dt.date | None = None, progress: Progress | None = None
) -> WarningRun:
    """The command's way: a run in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fupin-warn-") as folder:
        return run_for_area(user, area_code, Path(folder), on=on, progress=progress)
