"""Exports of the household list: households or members, CSV or xlsx, every row, scoped.

The rows are exactly the page's: the same `HouseholdFilterSet` over the same area-scoped
queryset (`Household.objects.for_user`), with no row cap. Resident IDs are masked unless
the user holds `registry.view_full_id` (DESIGN.md, privacy). Headers are the fields'
verbose names in the user's language (Chinese by default).

Fast and flat: rows are read with `values_list(...).iterator(chunk_size=...)` (tuples, no
model instances) and written as they come — CSV through the csv module, xlsx through
openpyxl's write-only mode — so memory stays constant whatever the size. An xlsx sheet
holds at most 1,048,576 rows; a longer export continues on a second sheet, a third, …

CSV is UTF-8 with a byte-order mark (so Excel on a Chinese Windows reads it as UTF-8);
long digit strings (household numbers, IDs) carry a leading tab so Excel keeps them as
text instead of 4.50102E+17. Text typed by people that starts like a formula (=, @, +, -)
gets a leading apostrophe in both formats so a spreadsheet never evaluates it.

Small CSV exports stream straight to the browser; xlsx, and CSV over `DIRECT_CSV_ROWS`
rows, run as a background job ("registry.export", below) that leaves a file to download.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fupin.core import jobs
from fupin.core.models import JobRun
from fupin.core.validators import mask_id_number
from fupin.registry import enums
from fupin.registry.filtersets import HouseholdFilterSet
from fupin.registry.models import Household, Member

BOM = "\ufeff"
#: Rows of one xlsx sheet, header included (Excel's limit); a module global so a test can
#: lower it.
XLSX_MAX_ROWS = 1_048_576
#: Above this many rows a CSV export from the page runs as a job instead of streaming: a
#: file to download again beats a browser tab held open for a minute.
DIRECT_CSV_ROWS = 50_000
#: Rows fetched from the database per round trip.
CHUNK = 5000
#: Query-string keys of the list page that are not filters.
NOT_FILTERS = {"page", "sort", "per_page", "format", "rows", "csrfmiddlewaretoken"}
FORMATS = ("csv", "xlsx")

#: Household fields exported, in order; the township and the head's ID are added.
FIELDS = [
    "code",
    "village",
    "head_name",
    "phone",
    "status",
    "status_date",
    "identification_standard",
    "attribute",
    "main_cause",
    "other_causes",
    "people",
    "income_year",
    "per_capita_income",
    "identification_year",
    "exit_year",
    "relocation_type",
    "farmland_mu",
    "housing_area_m2",
    "is_dilapidated",
    "dilapidation_grade",
    "water_safe",
    "updated_at",
]

#: Member fields exported (current members, one row each), after the household's
#: identifying columns.
MEMBER_FIELDS = [
    "name",
    "id_number",
    "sex",
    "birth_date",
    "relation",
    "ethnicity",
    "political_status",
    "education",
    "schooling",
    "dropout_reason",
    "has_chronic_illness",
    "has_serious_illness",
    "is_disabled",
    "disability_grade",
    "labour_skill",
    "migrant_place",
    "migrant_months",
    "speaks_mandarin",
    "is_dibao",
    "is_wubao",
    "has_medical_insurance",
    "has_pension",
    "has_serious_illness_insurance",
    "has_commercial_insurance",
    "has_accident_insurance_subsidy",
]

#: Free text typed by people: the only cells that can look like a formula.
FREE_TEXT = {"head_name", "phone", "name", "village", "township"}
#: Digit strings Excel would turn into numbers.
DIGITS = {"code"}


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


@dataclass(frozen=True)
class Column:
    """One exported column: its header, where its value comes from, how it is shown."""

    name: str
    header: str
    source: str
    model: type[models.Model] | None = None


def _field(model: type[models.Model], name: str) -> models.Field:
    return cast(models.Field, model._meta.get_field(name))


def _verbose(model: type[models.Model], name: str) -> str:
    text = str(_field(model, name).verbose_name)
    return text[:1].upper() + text[1:]


def _labels(choices: Any) -> dict[str, str]:
    # Evaluated now, in the request's (or job's) language, not lazily while streaming.
    return {str(k): str(v) for k, v in choices}


def _id_header(full_id: bool, head: bool) -> str:
    if head:
        return _("Head's resident ID") if full_id else _("Head's resident ID (masked)")
    return _verbose(Member, "id_number") if full_id else _("Resident ID (masked)")


def household_columns(full_id: bool) -> list[Column]:
    cols = [
        Column(
            name,
            _verbose(Household, name),
            "village__name" if name == "village" else name,
            model=Household,
        )
        for name in FIELDS
    ]
    cols.insert(1, Column("township", _("Township"), "village__parent__name"))
    cols.insert(4, Column("head_id_number", _id_header(full_id, head=True), "head_id_number"))
    return cols


def member_columns(full_id: bool) -> list[Column]:
    def household(name: str, header: str | None = None) -> Column:
        return Column(
            name, header or _verbose(Household, name), f"household__{name}", model=Household
        )

    cols = [
        Column("code", _verbose(Household, "code"), "household__code"),
        Column("township", _("Township"), "household__village__parent__name"),
        Column("village", _verbose(Household, "village"), "household__village__name"),
        household("head_name"),
        household("status"),
    ]
    for name in MEMBER_FIELDS:
        header = _id_header(full_id, head=False) if name == "id_number" else None
        cols.append(Column(name, header or _verbose(Member, name), name, model=Member))
    return cols


def header(full_id: bool) -> list[str]:
    """The household export's header row."""
    return [c.header for c in household_columns(full_id)]


# -- cell conversion ------------------------------------------------------------------------


def _guard(text: str) -> str:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and not text[1:2].isdigit()):
        return "'" + text
    return text


def _as_text(value: str) -> str:
    """A long digit string Excel must not turn into 4.50102E+17 (and lose digits).

    A leading tab is the usual remedy in Chinese office exports; masked IDs contain "*"
    and are text anyway.
    """
    return "\t" + value if value else ""


def _converter(col: Column, fmt: str, full_id: bool) -> Callable[[Any], Any]:
    """A function from the database value to the cell, chosen once per column."""
    xlsx = fmt == "xlsx"
    yes, no = _("Yes"), _("No")
    if col.name in ("id_number", "head_id_number"):
        if full_id:
            return (lambda v: v or "") if xlsx else (lambda v: _as_text(v or ""))
        return lambda v: mask_id_number(v or "")
    if col.name in DIGITS:
        return (lambda v: v or "") if xlsx else (lambda v: _as_text(v or ""))
    if col.name in FREE_TEXT:
        if xlsx:
            return lambda v: _guard(ILLEGAL_CHARACTERS_RE.sub("", v)) if v else ""
        return lambda v: _guard(v) if v else ""
    field = _field(col.model, col.name) if col.model is not None else None
    if field is None:
        return lambda v: "" if v is None else v
    if field.choices:
        labels = _labels(field.flatchoices)
        if col.name == "other_causes":
            return lambda v: "、".join(labels.get(c, c) for c in v)
        return lambda v: "" if v is None or v == "" else labels.get(str(v), v)
    if isinstance(field, models.BooleanField):
        return lambda v: yes if v else no
    if isinstance(field, models.DecimalField):
        if xlsx:
            return lambda v: v
        return lambda v: "" if v is None else f"{v:.2f}"
    if isinstance(field, models.DateTimeField):
        if xlsx:
            return lambda v: None if v is None else timezone.localtime(v).replace(tzinfo=None)
        return lambda v: "" if v is None else timezone.localtime(v).strftime("%Y-%m-%d %H:%M")
    if isinstance(field, models.DateField):
        if xlsx:
            return lambda v: v
        return lambda v: "" if v is None else v.isoformat()
    return lambda v: "" if v is None else v


# -- querysets ------------------------------------------------------------------------------


def filter_query(data: QueryDict | dict[str, Any]) -> dict[str, list[str]]:
    """The filters of a request (or a job's parameters), JSON-ready, empty values dropped."""
    if isinstance(data, QueryDict):
        pairs: Iterable[tuple[str, Any]] = data.lists()
    else:
        pairs = data.items()
    kept: dict[str, list[str]] = {}
    for key, values in pairs:
        values = [str(v) for v in (values if isinstance(values, list | tuple) else [values])]
        values = [v for v in values if v]
        if values and key not in NOT_FILTERS:
            kept[key] = values
    return kept


def filtered_households(user: Any, filters: dict[str, list[str]]) -> QuerySet[Household]:
    """The user's households narrowed by the list's filters; unreadable filters are refused.

    Dropping a filter it cannot read would export more households than the user asked for.
    """
    data = QueryDict(mutable=True)
    for key, values in filters.items():
        data.setlist(key, values)
    filterset = HouseholdFilterSet(data, queryset=Household.objects.for_user(user))
    if not filterset.is_valid():
        raise ValidationError(
            {k: [str(m) for m in v] for k, v in filterset.errors.items()}, code="invalid"
        )
    return filterset.qs


def _household_rows(qs: QuerySet[Household], columns: list[Column]) -> QuerySet[Any]:
    head_id = Member.objects.filter(
        household=OuterRef("pk"), relation=enums.Relation.HEAD, left_on__isnull=True
    ).values("id_number")[:1]
    return (
        qs.annotate(head_id_number=Subquery(head_id))
        .order_by("code")
        .values_list(*[c.source for c in columns])
    )


def _member_rows(
    user: Any, households: QuerySet[Household], columns: list[Column]
) -> QuerySet[Any]:
    # Scoped twice on purpose: the members' own area and their households' filters.
    return (
        Member.objects.for_user(user)
        .filter(left_on__isnull=True, household__in=households.order_by().values("pk"))
        .order_by("household__code", "relation", "birth_date", "id")
        .values_list(*[c.source for c in columns])
    )


@dataclass
class Export:
    """What one export writes: header, the rows' queryset, and the per-column converters."""

    columns: list[Column]
    queryset: QuerySet[Any]
    members: bool
    full_id: bool

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def count(self) -> int:
        return self.queryset.count()

    def rows(self, fmt: str) -> Iterator[list[Any]]:
        """The converted rows. Labels are looked up now, in the active language, not later
        while a response streams."""
        convert = [_converter(c, fmt, self.full_id) for c in self.columns]
        queryset = self.queryset

        def generate() -> Iterator[list[Any]]:
            for values in queryset.iterator(chunk_size=CHUNK):
                yield [f(v) for f, v in zip(convert, values, strict=True)]

        return generate()


def build(
    user: Any,
    filters: dict[str, list[str]] | None = None,
    *,
    members: bool = False,
    households: QuerySet[Household] | None = None,
) -> Export:
    """The export of the user's (filtered) households, or of their current members."""
    full_id = bool(user.has_perm("registry.view_full_id"))
    qs = households if households is not None else filtered_households(user, filters or {})
    if members:
        columns = member_columns(full_id)
        return Export(columns, _member_rows(user, qs, columns), True, full_id)
    columns = household_columns(full_id)
    return Export(columns, _household_rows(qs, columns), False, full_id)


def filename(user: Any, filters: dict[str, list[str]], *, members: bool, fmt: str) -> str:
    area = "".join(ch for ch in "".join(filters.get("area", [])) if ch.isdigit())
    scope = area or getattr(user, "area_id", None) or "all"
    what = "members" if members else "households"
    return f"{what}-{scope}-{timezone.localdate():%Y%m%d}.{fmt}"


# -- writers --------------------------------------------------------------------------------

Progress = Callable[[str, int, int | None], None]


def _every(
    rows: Iterable[list[Any]], progress: Progress | None, phase: str, total: int | None
) -> Iterator[list[Any]]:
    """The rows, reporting progress every CHUNK rows (the reporter throttles further)."""
    if progress is None:
        yield from rows
        return
    done = 0
    progress(phase, 0, total)
    for row in rows:
        yield row
        done += 1
        if done % CHUNK == 0:
            progress(phase, done, total)
    progress(phase, done, total)


def write_csv(out: IO[str], export: Export, *, progress: Progress | None = None) -> int:
    """Write the export as CSV to a text file opened with newline=""; returns the rows."""
    total = export.count() if progress is not None else None
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(export.header)
    n = 0
    batch: list[list[Any]] = []
    for row in _every(export.rows("csv"), progress, _("Writing rows"), total):
        batch.append(row)
        if len(batch) >= 1000:
            writer.writerows(batch)
            n += len(batch)
            batch.clear()
    writer.writerows(batch)
    return n + len(batch)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_xlsx(
    path: Path, export: Export, *, title: str = "", progress: Progress | None = None
) -> dict[str, int]:
    """Write the export as an xlsx workbook (write-only: constant memory); new sheets as needed.

    Returns {"rows": …, "sheets": …}.
    """
    total = export.count() if progress is not None else None
    title = (title or (_("Members") if export.members else _("Households")))[:24]
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    per_sheet = max(XLSX_MAX_ROWS - 1, 1)
    sheets = 0
    ws: Any = None
    in_sheet = per_sheet
    n = 0

    def new_sheet() -> Any:
        nonlocal sheets
        sheets += 1
        sheet = wb.create_sheet(title if sheets == 1 else f"{title} ({sheets})")
        sheet.freeze_panes = "A2"
        for i, text in enumerate(export.header, start=1):
            width = min(max(_width(text) + 2, 10), 40)
            sheet.column_dimensions[get_column_letter(i)].width = width
        cells = []
        for text in export.header:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        return sheet

    for row in _every(export.rows("xlsx"), progress, _("Writing rows"), total):
        if in_sheet >= per_sheet:
            ws, in_sheet = new_sheet(), 0
        ws.append(row)
        in_sheet += 1
        n += 1
    if ws is None:  # no rows: still a sheet with the header
        new_sheet()
    if progress is not None:  # a phase of its own, of unknown length (zipping the sheets)
        progress(_("Saving the workbook"), 0, None)
    wb.save(path)
    return {"rows": n, "sheets": sheets}


def export_to_path(
    user: Any,
    filters: dict[str, list[str]],
    path: Path,
    *,
    fmt: str,
    members: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the user's filtered export to `path`; returns {"rows": …[, "sheets": …]}."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    export = build(user, filters, members=members)
    if fmt == "xlsx":
        return write_xlsx(path, export, progress=progress)
    with path.open("w", encoding="utf-8", newline="") as out:
        return {"rows": write_csv(out, export, progress=progress)}


# -- the browser: streaming -----------------------------------------------------------------


def rows(qs: QuerySet[Household], *, full_id: bool) -> Iterator[list[Any]]:
    """The CSV rows of a (scoped, filtered) household queryset, header first.

    Labels are looked up now, in the request's language; the rows are produced later,
    while the response streams.
    """
    columns = household_columns(full_id)
    export = Export(columns, _household_rows(qs, columns), False, full_id)
    return _with_header(export)


def _with_header(export: Export) -> Iterator[list[Any]]:
    first = export.header
    body = export.rows("csv")  # converters (and their labels) are made here, not later

    def generate() -> Iterator[list[Any]]:
        yield first
        yield from body

    return generate()


def stream_csv(
    source: QuerySet[Household] | Export, *, full_id: bool = False, filename: str
) -> StreamingHttpResponse:
    """A streamed CSV response of a (scoped, filtered) household queryset or of an Export."""
    lines = rows(source, full_id=full_id) if isinstance(source, QuerySet) else _with_header(source)
    writer = csv.writer(_Echo())

    def content() -> Iterator[str]:
        yield BOM
        for row in lines:
            yield writer.writerow(row)

    response = StreamingHttpResponse(content(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# -- the background job ---------------------------------------------------------------------


def _result_permissions(job: Any) -> list[str]:
    """A file with full IDs is for those who may see full IDs."""
    needed = ["registry.export_household"]
    if job.params.get("full_id"):
        needed.append("registry.view_full_id")
    return needed


@jobs.register(
    "registry.export",
    label=gettext_lazy("Export of the household list"),
    permission="registry.export_household",
    result_permissions=_result_permissions,
)
def export_job(job: jobs.JobContext) -> dict[str, int]:
    """params: filters (the list's query, key → values), format (csv|xlsx), members (bool)."""
    user = job.user
    if user is None:
        raise ValueError("an export needs the user whose area and role it follows")
    params = job.params
    fmt = params.get("format", "csv")
    members = bool(params.get("members"))
    filters = filter_query(params.get("filters") or {})
    name = filename(user, filters, members=members, fmt=fmt)
    path = job.workdir / name
    job.log(
        _("Exporting %(what)s as %(format)s.")
        % {
            "what": _("members") if members else _("households"),
            "format": fmt,
        }
    )
    counts = export_to_path(user, filters, path, fmt=fmt, members=members, progress=job.progress)
    job.set_result(name, path)
    job.log(_("%(rows)d rows written.") % {"rows": counts["rows"]})
    return counts


def start_export_job(
    user: Any, filters: dict[str, list[str]], *, fmt: str, members: bool, area_code: str | None
) -> JobRun:
    """Start an export in the background for the user (the page's big exports)."""
    return jobs.start(
        "registry.export",
        user,
        area_code,
        {
            "filters": filters,
            "format": fmt,
            "members": members,
            "full_id": bool(user.has_perm("registry.view_full_id")),
        },
    )
