"""Cross-department verification (数据比对, DOMAIN.md §3; issue 5): every change goes through
these functions.

- `import_dataset`: a department's records (Parquet, CSV or xlsx) become one version of a
  dataset of a declared kind (`policy/departments.toml`), checked all or nothing, stored as
  Parquet; the same kind and area uploaded again is the next version, the old ones kept.
- `start_run`: a verification of an area's people against chosen datasets, run as a job
  (`fupin.identify.matching`: registry snapshot → `engine.match.run_match`) whose matches
  and duplicate registrations are stored as findings by `store_findings`.
- `decide_finding`: a person confirms or dismisses a finding, always with a written reason.
  Confirming an `exclude` finding (四类人员) excludes the household through the registry's
  own transition with the department record attached as evidence; an `include` finding
  puts the household on the 应纳尽纳 list (`include_candidates`); an `update` or duplicate
  finding records the decision, and the data officer then corrects the registry.

Nothing is excluded by the engine: a match is a finding until a person decides it. There is
no bulk decision for exclusions on purpose — each exclusion takes a household off the
registry and its support, and the reviewer must look at that household's record and the
department's side by side (seed 000: Guangxi's 500,000 exclusions were each checked).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from fupin.core import audit, jobs
from fupin.core.models import Area
from fupin.core.services import require, require_area
from fupin.identify.models import (
    DUPLICATE,
    DepartmentDataset,
    Finding,
    FindingEffect,
    FindingStatus,
    VerificationRun,
)
from fupin.registry import lifecycle
from fupin.registry import services as registry_services
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Household

POLICY_FILE = Path(__file__).parent / "policy" / "departments.toml"
#: Upload datasets and start runs (the identification managers).
MANAGE = "identify.manage_campaign"
#: See datasets, runs and findings.
VIEW = "identify.view_campaign"
#: Decide findings: the reviewer who may exclude a household (lifecycle.toml `exclude`).
DECIDE = "registry.review_household"
#: Columns every department file has (issue 5's record format).
BASE_COLUMNS = ("record_id", "id_number", "name")
COLUMN_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "int": pa.int64(),
    "float": pa.float64(),
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
#: Row errors listed before "and n more": enough to fix a file, not a page of thousands.
MAX_ROW_ERRORS = 30
#: Everyone on the registry is verified except households already excluded: a death or a
#: duplicate matters for an exited household too, and an excluded one has no claim left.
VERIFIED_STATUSES = tuple(s for s in HouseholdStatus.values if s != HouseholdStatus.EXCLUDED)
BATCH = 2000
#: The engine's classes of match (engine/match.py), and `near_id` for a near duplicate.
MATCH_METHODS = ("exact", "exact_name_differs", "id_corrected", "fuzzy", "near_id")


def _fail(field: str, message: str | list[str]) -> ValidationError:
    return ValidationError({field: message if isinstance(message, list) else [message]})


# --------------------------------------------------------------------------------------
# The kinds of department data (policy)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentKind:
    code: str
    label_en: str
    label_zh: str
    department_en: str
    department_zh: str
    meaning_en: str
    meaning_zh: str
    effect: str
    columns: tuple[tuple[str, str], ...]
    source: str

    @staticmethod
    def _zh() -> bool:
        return (get_language() or "zh-hans").startswith("zh")

    @property
    def label(self) -> str:
        return self.label_zh if self._zh() else self.label_en

    @property
    def department(self) -> str:
        return self.department_zh if self._zh() else self.department_en

    @property
    def meaning(self) -> str:
        return self.meaning_zh if self._zh() else self.meaning_en

    @property
    def column_names(self) -> tuple[str, ...]:
        return (*BASE_COLUMNS, *(name for name, _type in self.columns))


def parse_kinds(text: str, source: str = "departments.toml") -> dict[str, DepartmentKind]:
    """Parse and check the kinds file; a bad kind names itself and what is wrong."""
    data = tomllib.loads(text)
    result: dict[str, DepartmentKind] = {}
    for row in data.get("kind", []):
        code = row["code"]
        if row["effect"] not in (
            FindingEffect.EXCLUDE,
            FindingEffect.INCLUDE,
            FindingEffect.UPDATE,
        ):
            raise ValueError(f"{source}: {code}: effect must be exclude, include or update")
        columns = tuple((c["name"], c.get("type", "string")) for c in row.get("columns", []))
        for name, type_ in columns:
            if type_ not in COLUMN_TYPES or name in BASE_COLUMNS:
                raise ValueError(f"{source}: {code}: column {name} ({type_}) is not allowed")
        if code in result or code == DUPLICATE:
            raise ValueError(f"{source}: kind {code} is declared twice or reserved")
        result[code] = DepartmentKind(
            code=code,
            label_en=row["label"],
            label_zh=row["label_zh"],
            department_en=row["department"],
            department_zh=row["department_zh"],
            meaning_en=row["meaning"],
            meaning_zh=row["meaning_zh"],
            effect=row["effect"],
            columns=columns,
            source=row["source"],
        )
    return result


@cache
def kinds() -> dict[str, DepartmentKind]:
    return parse_kinds(POLICY_FILE.read_text(encoding="utf-8"), POLICY_FILE.name)


def kind_label(code: str) -> str:
    if code == DUPLICATE:
        return _("Registered twice")
    found = kinds().get(code)
    return found.label if found else code


# --------------------------------------------------------------------------------------
# Importing a dataset
# --------------------------------------------------------------------------------------


def _text_table(data: bytes, filename: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a CSV (UTF-8 or GBK) or xlsx file."""
    from python_calamine import CalamineWorkbook

    from fupin.registry.importing import decode, is_workbook

    try:
        if is_workbook(data):
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            table = [list(r) for r in book.get_sheet_by_index(0).to_python()]
        else:
            table = [list(r) for r in csv.reader(io.StringIO(decode(data)))]
    except Exception:  # calamine and csv raise their own types for a damaged file
        raise _fail(
            "file", _("%(name)s cannot be read as Parquet, CSV or xlsx.") % {"name": filename}
        ) from None
    if not table:
        raise _fail("file", _("%(name)s is empty.") % {"name": filename})
    return [str(h).strip() for h in table[0]], table[1:]


def _cell(value: Any) -> str:
    """A cell as text: Excel gives numbers as floats and dates as date(time)s."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _from_text(header: list[str], rows: list[list[Any]]) -> tuple[pa.Table, list[int]]:
    """Every column as strings, blank rows left out; with each row's line in the file."""
    columns: list[list[str]] = [[] for _h in header]
    lines: list[int] = []
    for number, row in enumerate(rows, start=2):
        cells = [_cell(row[i]) if i < len(row) else "" for i in range(len(header))]
        if not any(cells):
            continue
        lines.append(number)
        for i, value in enumerate(cells):
            columns[i].append(value)
    return pa.table(
        {h: pa.array(c, pa.string()) for h, c in zip(header, columns, strict=True)}
    ), lines


def _parse_dates(values: pa.Array) -> pa.Array:
    parsed = pa.nulls(len(values), pa.timestamp("s"))
    for fmt in DATE_FORMATS:
        parsed = pc.coalesce(parsed, pc.strptime(values, format=fmt, unit="s", error_is_null=True))
    return parsed.cast(pa.date32())


def _typed(values: pa.Array, type_: str) -> pa.Array:
    """A text column in its declared type; a value that does not convert becomes null."""
    if type_ == "string":
        return values
    text = pc.utf8_trim_whitespace(values)
    if type_ == "date":
        return _parse_dates(text)
    pattern = r"^[+-]?\d+$" if type_ == "int" else r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
    valid = pc.match_substring_regex(text, pattern)
    return pc.if_else(valid, text, pa.scalar(None, pa.string())).cast(COLUMN_TYPES[type_])


def _row_errors(lines: Sequence[int], mask: pa.Array, message: str) -> list[tuple[int, str]]:
    indices = pc.indices_nonzero(mask.fill_null(False)).to_pylist()
    return [(lines[i], message) for i in indices]


def _check_rows(
    table: pa.Table, kind: DepartmentKind, lines: Sequence[int], from_text: bool
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """The kind's columns in their types, every row checked; returns the table to store and
    the errors by row (the file's line for CSV and xlsx, the row number for Parquet)."""
    errors: list[tuple[int, str]] = []
    columns: dict[str, pa.Array] = {}
    raw_ids = table["record_id"].combine_chunks()
    if from_text or not pa.types.is_integer(raw_ids.type):
        text = pc.utf8_trim_whitespace(raw_ids.cast(pa.string()))
        record_ids = _typed(text, "int")
        errors += _row_errors(
            lines,
            pc.is_null(record_ids),
            _("record_id must be a whole number."),
        )
    else:
        record_ids = raw_ids.cast(pa.int64())
        errors += _row_errors(lines, pc.is_null(record_ids), _("record_id is empty."))
    columns["record_id"] = record_ids
    counts = pc.value_counts(record_ids.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    errors += _row_errors(
        lines, pc.is_in(record_ids, value_set=repeated), _("This record_id appears more than once.")
    )
    for name, message in (
        ("id_number", _("The resident ID is empty.")),
        ("name", _("The name is empty.")),
    ):
        values = pc.utf8_trim_whitespace(table[name].combine_chunks().cast(pa.string()))
        errors += _row_errors(lines, pc.equal(pc.fill_null(values, ""), ""), message)
        columns[name] = values
    for name, type_ in kind.columns:
        raw = table[name].combine_chunks()
        if not from_text:
            columns[name] = raw  # a Parquet column keeps the department's own type
            continue
        typed = _typed(raw, type_)
        wrong = pc.and_(pc.not_equal(pc.utf8_trim_whitespace(raw), ""), pc.is_null(typed))
        for i in pc.indices_nonzero(wrong.fill_null(False)).to_pylist():
            errors.append(
                (
                    lines[i],
                    _("%(column)s: “%(value)s” is not a %(type)s.")
                    % {"column": name, "value": raw[i].as_py(), "type": _type_label(type_)},
                )
            )
        columns[name] = typed
    # Columns beyond the kind's are kept: the department's own detail is evidence too.
    for name in table.column_names:
        if name not in columns:
            columns[name] = table[name].combine_chunks()
    return pa.table(columns), errors


def _type_label(type_: str) -> str:
    return {
        "date": _("date (YYYY-MM-DD)"),
        "int": _("whole number"),
        "float": _("number"),
    }.get(type_, type_)


def read_records(data: bytes, filename: str, kind: DepartmentKind) -> pa.Table:
    """The records of an upload, checked against the kind: every problem at once, each with
    its row; nothing is returned unless every row is right."""
    from_text = data[:4] != b"PAR1"
    if from_text:
        header, rows = _text_table(data, filename)
        table, lines = _from_text(header, rows)
    else:
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError):
            raise _fail(
                "file", _("%(name)s cannot be read as Parquet, CSV or xlsx.") % {"name": filename}
            ) from None
        lines = list(range(1, table.num_rows + 1))
    missing = [c for c in kind.column_names if c not in table.column_names]
    if missing:
        raise _fail(
            "file",
            _("A %(kind)s file needs the columns %(needed)s; missing: %(missing)s.")
            % {
                "kind": kind.label,
                "needed": ", ".join(kind.column_names),
                "missing": ", ".join(missing),
            },
        )
    if table.num_rows == 0:
        raise _fail("file", _("%(name)s has no records.") % {"name": filename})
    checked, errors = _check_rows(table, kind, lines, from_text)
    if errors:
        errors.sort(key=lambda e: e[0])
        messages = [
            _("Row %(row)d: %(message)s") % {"row": row, "message": message}
            for row, message in errors[:MAX_ROW_ERRORS]
        ]
        if len(errors) > MAX_ROW_ERRORS:
            messages.append(_("… and %(n)d more problems.") % {"n": len(errors) - MAX_ROW_ERRORS})
        raise _fail("file", messages)
    return checked


@transaction.atomic
def import_dataset(
    user: Any,
    *,
    kind: str,
    area_code: str,
    label: str,
    received_on: dt.date,
    data: bytes,
    filename: str,
    source_note: str = "",
) -> DepartmentDataset:
    """Keep a department's records as the next version of `kind` for the area (all or
    nothing: a file with one bad row stores nothing)."""
    require(user, MANAGE)
    require_area(user, area_code)
    errors: dict[str, list[str]] = {}
    spec = kinds().get(kind)
    if spec is None:
        errors["kind"] = [_("Unknown kind of department data: %(kind)s.") % {"kind": kind}]
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        errors["area"] = [_("No area has the code %(code)s.") % {"code": area_code}]
    if not label.strip():
        errors["label"] = [_("Name this version (e.g. the department and the date of the data).")]
    if received_on > timezone.localdate():
        errors["received_on"] = [_("The date cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    assert spec is not None and area is not None
    table = read_records(data, filename, spec)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    content = out.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    last = (
        DepartmentDataset.objects.select_for_update()
        .filter(kind=kind, area=area)
        .aggregate(v=Max("version"))["v"]
    )
    version = (last or 0) + 1
    dataset = DepartmentDataset(
        kind=kind,
        version=version,
        label=label.strip(),
        area=area,
        received_on=received_on,
        source_note=source_note.strip(),
        original_name=Path(filename).name[:200],
        rows=table.num_rows,
        sha256=digest,
        uploaded_by=user,
    )
    dataset.file.save(f"{kind}-{area.code}-v{version}.parquet", ContentFile(content), save=False)
    dataset.save()
    audit.record(
        user=user,
        action="identify.dataset.import",
        obj=dataset,
        area_code=area.code,
        after={
            "kind": kind,
            "version": version,
            "label": dataset.label,
            "rows": dataset.rows,
            "sha256": digest,
            "file": dataset.original_name,
            "received_on": received_on,
        },
        reason=source_note,
    )
    return dataset


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


def usable_datasets(user: Any, area_code: str) -> QuerySet[DepartmentDataset]:
    """Datasets a run over the area may use: those covering it or a part of it (a
    province's vehicle register serves each of its counties)."""
    from fupin.core.scoping import ancestor_codes

    return DepartmentDataset.objects.overlapping_user(user).filter(
        area_id__in=[*ancestor_codes(area_code), area_code]
    ) | DepartmentDataset.objects.overlapping_user(user).filter(area__code__startswith=area_code)


@transaction.atomic
def start_run(user: Any, area_code: str, datasets: Sequence[DepartmentDataset]) -> VerificationRun:
    """Start a verification of the area's people against the datasets (one per kind)."""
    require(user, MANAGE)
    require_area(user, area_code)
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        raise _fail("area", _("No area has the code %(code)s.") % {"code": area_code})
    if not datasets:
        raise _fail("datasets", _("Choose the department datasets to compare with."))
    usable = set(usable_datasets(user, area_code).values_list("pk", flat=True))
    errors = [
        _("%(dataset)s does not cover %(area)s.") % {"dataset": d.label, "area": area.name}
        for d in datasets
        if d.pk not in usable
    ]
    seen: set[str] = set()
    for d in datasets:
        if d.kind in seen:
            errors.append(
                _("Choose one version of %(kind)s, not several.") % {"kind": kind_label(d.kind)}
            )
        seen.add(d.kind)
    if errors:
        raise _fail("datasets", errors)
    run = VerificationRun.objects.create(area=area, started_by=user)
    run.datasets.set(datasets)
    audit.record(
        user=user,
        action="identify.verification.start",
        obj=run,
        area_code=area.code,
        after={"datasets": {d.kind: f"v{d.version} {d.sha256[:12]}" for d in datasets}},
    )
    # The job's module registers it; imported here so that starting never depends on
    # which pages happened to be loaded first.
    from fupin.identify import matching  # noqa: F401

    job = jobs.start("identify.verify", user, area.code, {"run": run.pk})
    VerificationRun.objects.filter(pk=run.pk).update(job=job)
    run.job = job
    return run


@dataclass(frozen=True)
class Found:
    """One finding from a run: a person and a department record, or two registrations."""

    kind: str
    person_id: int
    household_id: int
    method: str
    score: float
    record_id: int | None = None
    record: dict[str, Any] | None = None
    other_person_id: int | None = None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@transaction.atomic
def store_findings(
    user: Any,
    run: VerificationRun,
    found: Iterable[Found],
    *,
    people: int,
    matches: int,
    duplicates: int,
) -> int:
    """Keep a run's findings, open for review, each with its effect from the kind's policy
    as it is today (a later change of the policy does not rewrite what a finding meant).

    A finding still open from an earlier run (same person, kind and record, or the same
    pair of registrations) is not stored again: running again must not double the queue.
    A decided one does not hide a new match either — a new version of the data is new
    evidence, and the reviewer sees the earlier decision on the household's findings."""
    datasets = {d.kind: d for d in run.datasets.all()}
    effects = {code: k.effect for code, k in kinds().items()}
    # str(): a JSON key read back by the database may come as a number (SQLite).
    still_open = {
        (member, kind, _text(record_key))
        for member, kind, record_key in Finding.objects.in_area(run.area_id)
        .filter(status=FindingStatus.OPEN)
        .values_list("member_id", "kind", "record__id_number")
    } | {
        (member, DUPLICATE, other)
        for member, other in Finding.objects.in_area(run.area_id)
        .filter(status=FindingStatus.OPEN, kind=DUPLICATE)
        .values_list("member_id", "other_member_id")
    }
    batch: list[Finding] = []
    stored = already = 0
    for f in found:
        key: tuple[int, str, Any] = (f.person_id, f.kind, _text((f.record or {}).get("id_number")))
        if f.kind == DUPLICATE:
            key = (f.person_id, DUPLICATE, f.other_person_id)
        if key in still_open:
            already += 1
            continue
        dataset = datasets.get(f.kind)
        batch.append(
            Finding(
                run=run,
                kind=f.kind,
                dataset=dataset,
                record_id=f.record_id,
                record=audit.jsonable(f.record or {}),
                member_id=f.person_id,
                household_id=f.household_id,
                other_member_id=f.other_person_id,
                method=f.method,
                score=float(f.score),
                effect=FindingEffect.MERGE if f.kind == DUPLICATE else effects[f.kind],
            )
        )
        if len(batch) >= BATCH:
            Finding.objects.bulk_create(batch)
            stored += len(batch)
            batch = []
    Finding.objects.bulk_create(batch)
    stored += len(batch)
    VerificationRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        people=people,
        matches=matches,
        duplicates=duplicates,
        findings=stored,
    )
    audit.record(
        user=user,
        action="identify.verification.findings",
        obj=run,
        area_code=run.area_id,
        after={
            "people": people,
            "matches": matches,
            "duplicates": duplicates,
            "findings": stored,
            "still_open": already,
        },
    )
    return stored


# --------------------------------------------------------------------------------------
# Deciding a finding
# --------------------------------------------------------------------------------------


def evidence_file(finding: Finding) -> SimpleUploadedFile:
    """The department record and the finding as a small JSON document, attached to the
    household's exclusion so the evidence stays with the decision."""
    dataset = finding.dataset
    content = {
        "finding": finding.pk,
        "run": finding.run_id,
        "kind": finding.kind,
        "dataset": (
            {
                "label": dataset.label,
                "version": dataset.version,
                "area": dataset.area_id,
                "received_on": dataset.received_on,
                "sha256": dataset.sha256,
            }
            if dataset is not None
            else None
        ),
        "record_id": finding.record_id,
        "record": finding.record,
        "person": {"member": finding.member_id, "household": finding.household_id},
        "method": finding.method,
        "score": finding.score,
    }
    data = json.dumps(audit.jsonable(content), ensure_ascii=False, indent=2).encode("utf-8")
    return SimpleUploadedFile(
        f"verification-finding-{finding.pk}.json", data, content_type="application/json"
    )


def can_exclude(household: Household) -> bool:
    exclude = lifecycle.transitions().get("exclude")
    return exclude is not None and household.status in exclude.sources


@transaction.atomic
def decide_finding(
    user: Any, finding: Finding, *, confirm: bool, reason: str, date: dt.date | None = None
) -> Finding:
    """Confirm or dismiss an open finding, with the reviewer's written reason.

    Refused (nothing written) without a reason, for a finding already decided, and — when
    confirming an exclusion — for a household whose status does not allow the step
    `exclude` (policy/lifecycle.toml).
    """
    require(user, DECIDE)
    household = Household.objects.get(pk=finding.household_id)
    require_area(user, household.village_id)
    current = (
        Finding.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=finding.pk)
    )
    if current.status != FindingStatus.OPEN:
        raise _fail(
            "status",
            _("This finding was already decided (%(status)s) on %(date)s.")
            % {
                "status": current.get_status_display(),
                "date": timezone.localtime(current.decided_at).date() if current.decided_at else "",
            },
        )
    if not reason.strip():
        raise _fail("reason", _("Write the reason for this decision."))
    change = None
    if confirm and current.effect == FindingEffect.EXCLUDE:
        if not can_exclude(household):
            raise _fail(
                "status",
                _("Household %(code)s is %(status)s and cannot be excluded.")
                % {"code": household.code, "status": household.get_status_display()},
            )
        change = registry_services.transition_household(
            user,
            household,
            "exclude",
            reason=_("%(kind)s: %(reason)s")
            % {"kind": kind_label(current.kind), "reason": reason.strip()},
            date=date,
            attachments=[evidence_file(current)],
        )
    before = {"status": current.status}
    current.status = FindingStatus.CONFIRMED if confirm else FindingStatus.DISMISSED
    current.reason = reason.strip()
    current.decided_by = user
    current.decided_at = timezone.now()
    current.status_change = change
    current.save(update_fields=["status", "reason", "decided_by", "decided_at", "status_change"])
    audit.record(
        user=user,
        action=f"identify.finding.{'confirm' if confirm else 'dismiss'}",
        obj=current,
        area_code=household.village_id,
        before=before,
        after={
            "status": current.status,
            "kind": current.kind,
            "effect": current.effect,
            "household": household.pk,
            "member": current.member_id,
            "record_id": current.record_id,
            "status_change": change.pk if change else None,
        },
        reason=current.reason,
    )
    finding.status, finding.reason = current.status, current.reason
    finding.decided_by, finding.decided_at = current.decided_by, current.decided_at
    finding.status_change = change
    return finding


def include_candidates(user: Any, area_code: str = "") -> QuerySet[Household]:
    """The 应纳尽纳 list: households in the area with a confirmed `include` finding, for
    the next identification campaign (DOMAIN.md §3, Hunan)."""
    confirmed = Finding.objects.for_user(user).filter(
        effect=FindingEffect.INCLUDE, status=FindingStatus.CONFIRMED
    )
    if area_code:
        confirmed = confirmed.in_area(area_code)
    return (
        Household.objects.for_user(user)
        .filter(pk__in=confirmed.values("household_id"))
        .select_related("village")
        .order_by("village_id", "code")
    )
