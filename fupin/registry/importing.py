"""Excel and CSV import of the registry form (导入): template, reader, error report.

- `template_workbook()` — the xlsx a village office fills in: sheets 户 (households), 成员
  (members) and 收入 (income), Chinese column titles (the fields' verbose names) in the
  order of the national form, a note row saying how rows are linked, drop-down lists for
  every closed list and yes-no column (fed from a hidden sheet), a frozen header.
- `read_workbook(file)` / `read_csv(data)` — the rows as `bulk.HouseholdRecord`s, read with
  python-calamine (Rust, fast). Column titles are recognised in Chinese or English, with
  stray spaces, full-width characters, a unit in brackets or not, and the header found by
  matching known titles: a title row below a group-title row, or titles merged over two
  rows, are read as one header.
- `error_report(data, errors)` — the same workbook with every bad cell filled red and
  commented, and a column 错误说明 listing each row's problems (openpyxl).
- `run_import(user, filename, data, progress)` — the entry point of the page, the command
  and (soon) the background job: reads the file and calls `services.import_households`.

**How rows are linked.** A household is keyed by its head's resident ID (户主身份证号码):
each member row and income row carries the head's ID to say which household it belongs
to (the head's own member row may leave it empty). An optional 户编号 (household number)
updates a registered household; otherwise a household is matched by its head's ID, so
importing the same file twice updates instead of duplicating.

**CSV.** One file per sheet is not practical for a village office, so a CSV is a single
flat table in which each row is a member and the household's columns (and its income's)
are repeated on its members' rows — or given only on the head's row. Rows belong to the
household of the 户主身份证号码 column; without that column a row whose relation is 户主
starts a new household and the rows below it are its members. UTF-8 (with or without BOM)
and GBK/GB18030 are recognised.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from fupin.core import jobs
from fupin.core.validators import normalize_id_number, upgrade_15_to_18
from fupin.registry import services
from fupin.registry.bulk import (
    HEAD_ID_LABEL,
    HouseholdRecord,
    ImportResult,
    RowError,
    gc_paused,
)
from fupin.registry.models import Household, Member
from fupin.registry.validation import (
    HOUSEHOLD,
    HOUSEHOLD_FIELDS,
    INCOME,
    INCOME_FIELDS,
    MEMBER,
    MEMBER_FIELDS,
    FieldRule,
    as_text,
    lookup_key,
)

Progress = Callable[[str, int, int], None]

VILLAGE_CODE_LABEL = gettext_lazy("12-digit village code")
ERRORS_TITLE = gettext_lazy("Error description")
NO_HOUSEHOLD_SHEET = gettext_lazy(
    "No sheet of households was found: a sheet needs the column titles of the template "
    "(such as 户主 and 户主身份证号码) in one of its first rows."
)
NO_KEY_COLUMN = gettext_lazy(
    "The households sheet has neither a 户主身份证号码 nor a 户编号 column, so its rows "
    "cannot be linked or matched."
)
NO_KEY = gettext_lazy("Give the head's resident ID (or the household number) of this household.")
NO_LINK = gettext_lazy("Give the head's resident ID of the household this row belongs to.")
ORPHAN = gettext_lazy(
    "No row of the households sheet has the head's resident ID %(id)s; add the household's "
    "row (with its household number, to update a registered household)."
)
SECOND_INCOME = gettext_lazy(
    "This household already has an income row (row %(row)d): import one year at a time."
)
CONFLICT = gettext_lazy("%(field)s differs from row %(row)d of the same household (%(value)s).")
UNKNOWN_COLUMN = gettext_lazy("The column “%(title)s” was not recognised and was ignored.")
NOT_A_FILE = gettext_lazy(
    "This file is neither an Excel workbook (.xlsx) nor a CSV table: save it as one of these."
)
DEFAULT_REASON = gettext_lazy("Import of %(file)s")
#: What to show for each phase `run_import` reports (a job's or a terminal's progress).
PHASE_LABELS = {
    "read": gettext_lazy("Reading the file"),
    "validate": gettext_lazy("Checking every row"),
    "write": gettext_lazy("Writing"),
}

NOTES = {
    "households": gettext_lazy(
        "One household per row. 户主身份证号码 (the head's resident ID) is the household's "
        "key: the member and income rows carry it to say which household they belong to, "
        "and importing the file again updates the household instead of registering it "
        "twice. Fill in 户编号 only to update a registered household by its number. A blank "
        "cell takes the field's default (no, 0, the usual choice)."
    ),
    "members": gettext_lazy(
        "One member per row, the head of household included (relation 户主). 户主身份证号码 "
        "links the member to the household; the head's own row may leave it blank. Sex and "
        "birth date come from the resident ID."
    ),
    "income": gettext_lazy(
        "Last year's income of each household, one row per household, in yuan. "
        "户主身份证号码 links the row to the household."
    ),
}


# -- columns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the record key it fills, its title, and its field rule."""

    key: str
    label: Any
    rule: FieldRule | None = None
    aliases: tuple[str, ...] = ()
    width: int = 12
    text: bool = False  # formatted as text in the template (IDs, numbers with digits)

    def titles(self) -> set[str]:
        """Every spelling recognised as this column's title."""
        found = {self.key, *self.aliases}
        for language in ("zh-hans", "en"):
            with translation.override(language):
                found.add(str(self.label))
        return found


def _col(rules: Any, name: str, **kw: Any) -> Column:
    rule: FieldRule = rules[name]
    width = {"text": 14, "choice": 14, "codes": 18, "bool": 9, "decimal": 11, "int": 9}
    kw.setdefault("width", width.get(rule.kind, 12))
    return Column(name, rule.label, rule, **kw)


HEAD_ID = Column(
    "head_id_number",
    HEAD_ID_LABEL,
    aliases=("户主身份证号码", "户主身份证号", "户主身份证", "户主证件号码", "户主公民身份号码"),
    width=22,
    text=True,
)
CODE = Column(
    "code",
    Household._meta.get_field("code").verbose_name,
    aliases=("户编号", "户号", "家庭编号"),
    width=19,
    text=True,
)

HOUSEHOLD_COLUMNS = [
    CODE,
    Column(
        "village",
        VILLAGE_CODE_LABEL,
        HOUSEHOLD["village"],
        aliases=("村", "村代码", "行政村代码", "村编码", "行政区划代码", "village"),
        width=15,
        text=True,
    ),
    _col(HOUSEHOLD, "head_name", aliases=("户主姓名",), width=10),
    HEAD_ID,
    *[
        _col(
            HOUSEHOLD,
            name,
            text=name in ("phone", "bank_account"),
            **({"width": 20} if name in ("phone", "bank_account", "bank_name") else {}),
        )
        for name in HOUSEHOLD_FIELDS
        if name not in ("village", "head_name")
    ],
]
MEMBER_COLUMNS = [
    HEAD_ID,
    *[
        _col(
            MEMBER,
            name,
            aliases={
                "name": ("成员姓名",),
                "id_number": ("身份证号", "公民身份号码", "证件号码", "身份证"),
            }.get(name, ()),
            text=name == "id_number",
            **({"width": 22} if name == "id_number" else {"width": 10} if name == "name" else {}),
        )
        for name in MEMBER_FIELDS
    ],
]
#: Read when present, never in the template: checked against the resident ID.
MEMBER_EXTRA = [
    Column("sex", Member._meta.get_field("sex").verbose_name),
    Column("birth_date", Member._meta.get_field("birth_date").verbose_name),
]
INCOME_COLUMNS = [
    HEAD_ID,
    _col(INCOME, "year", aliases=("收入年度", "年份"), width=8),
    *[_col(INCOME, name) for name in INCOME_FIELDS],
]

KINDS: dict[str, list[Column]] = {
    "households": HOUSEHOLD_COLUMNS,
    "members": [*MEMBER_COLUMNS, *MEMBER_EXTRA],
    "income": INCOME_COLUMNS,
}
SHEET_TITLES = {
    "households": ("户", "户信息", "贫困户", "households", "household"),
    "members": ("成员", "家庭成员", "人", "members", "member"),
    "income": ("收入", "收入情况", "income", "incomes"),
}
#: Template sheet names (zh-Hans, the grassroots lingua franca).
SHEET_NAMES = {"households": "户", "members": "成员", "income": "收入"}
LISTS_SHEET = "选项"

_BRACKETS = re.compile(r"\([^)]*\)")


def title_key(value: Any) -> str:
    """A column title as compared: NFKC, no spaces, case-folded, no required-mark (*)."""
    key = lookup_key(value)
    return key.strip("*:：")


class TitleMatcher:
    """Column titles → record keys for one kind of sheet (or several, for flat CSV)."""

    def __init__(self, columns: Iterable[Column]) -> None:
        exact: dict[str, str] = {}
        loose: dict[str, set[str]] = {}
        for column in columns:
            for title in column.titles():
                key = title_key(title)
                if key:
                    exact.setdefault(key, column.key)
                    bare = _BRACKETS.sub("", key)
                    if bare:
                        loose.setdefault(bare, set()).add(column.key)
        self.exact = exact
        # A title without its unit ("耕地面积" for "耕地面积（亩）") if that is unambiguous.
        self.loose = {k: next(iter(v)) for k, v in loose.items() if len(v) == 1}

    def match(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        key = title_key(value)
        if not key:
            return None
        return self.exact.get(key) or self.loose.get(_BRACKETS.sub("", key))


MATCHERS: dict[str, TitleMatcher] = {}


def matcher(kind: str) -> TitleMatcher:
    if kind not in MATCHERS:
        if kind == "flat":
            MATCHERS[kind] = TitleMatcher(
                [*HOUSEHOLD_COLUMNS, *KINDS["members"][1:], *INCOME_COLUMNS[1:]]
            )
        else:
            MATCHERS[kind] = TitleMatcher(KINDS[kind])
    return MATCHERS[kind]


# -- finding the header --------------------------------------------------------------------------

HEADER_SCAN = 15


@dataclass
class Header:
    """Where a sheet's header is and which column holds what (0-based, within the rows
    scanned), plus titles that matched nothing."""

    score: int
    data_start: int  # index of the first data row among the scanned rows
    columns: dict[str, int]
    unknown: list[tuple[int, int, str]] = field(default_factory=list)  # (row, col, title)


def _blank(value: Any) -> bool:
    return value is None or (value.__class__ is str and not value.strip())


def find_header(rows: Sequence[Sequence[Any]], kind: str) -> Header:
    """The header among the first rows: the row matching most known titles, completed by
    a title merged down from the row above (blank below it) or by a second title row
    below it (one whose every non-blank cell is a known title)."""
    m = matcher(kind)
    scanned = rows[:HEADER_SCAN]
    best, best_score = 0, -1
    for r, row in enumerate(scanned):
        score = len({k for k in (m.match(v) for v in row) if k})
        if score > best_score:
            best, best_score = r, score
    if best_score <= 0:
        return Header(0, 0, {})
    columns: dict[str, int] = {}
    unknown: list[tuple[int, int, str]] = []
    for c, value in enumerate(scanned[best]):
        key = m.match(value)
        if key and key not in columns:
            columns[key] = c
        elif key is None and not _blank(value):
            unknown.append((best, c, as_text(value)))
    used = set(columns.values())
    if best > 0:
        for c, value in enumerate(scanned[best - 1]):
            below = scanned[best][c] if c < len(scanned[best]) else None
            key = m.match(value)
            if key and key not in columns and c not in used and _blank(below):
                columns[key] = c
                used.add(c)
                unknown = [u for u in unknown if u[1] != c]
    data_start = best + 1
    if best + 1 < len(scanned):
        below_row = scanned[best + 1]
        cells = [(c, v) for c, v in enumerate(below_row) if not _blank(v)]
        if cells and all(m.match(v) for _c, v in cells):
            for c, value in cells:
                key = m.match(value)
                if key and key not in columns:
                    columns[key] = c
                    unknown = [u for u in unknown if u[1] != c]
            data_start = best + 2
    return Header(len(columns), data_start, columns, unknown)


# -- reading ---------------------------------------------------------------------------------------


def normalize_key(value: Any) -> str:
    """A head's resident ID as a link key: normalised like the registry normalises IDs."""
    if value.__class__ is str and len(value) == 18 and value.isascii() and value.isalnum():
        return value.upper()  # the usual case, without the full normalisation
    text = normalize_id_number(as_text(value))
    if len(text) == 15 and text.isdigit():
        text = upgrade_15_to_18(text)
    return text


class _Interner:
    """Shares one object per repeated cell value ("是", "壮族", 0.0), so 400,000 member
    rows cost what their distinct values cost, not one Python object per cell."""

    def __init__(self) -> None:
        self.seen: dict[Any, Any] = {}

    def row(self, values: Sequence[Any], wanted: Sequence[int]) -> tuple[Any, ...]:
        n = len(values)
        cells = [values[c] if c < n else None for c in wanted]
        if len(self.seen) > 500_000:
            self.seen.clear()
        # Cells are str, float, bool or dates: all hashable.
        return tuple(map(self.seen.setdefault, cells, cells))


@dataclass
class _Sheet:
    kind: str
    name: str
    header: Header
    rows: Iterator[tuple[int, Sequence[Any]]]  # (1-based row number, cells) after the header


@dataclass
class _Located:
    """Where one kind of sheet is in a calamine workbook: its header, its first rows and
    the iterator over the rest, and where its used range starts (0-based row, column)."""

    name: str
    header: Header
    head: list[Any]
    rest: Iterator[Any]
    start: tuple[int, int]


def locate_sheets(book: CalamineWorkbook) -> dict[str, _Located]:
    """Which visible sheet holds households, members and income: the one whose first rows
    match most of the kind's column titles (a sheet named 户 / 成员 / 收入 first)."""
    candidates: list[tuple[int, int, str, _Located]] = []
    visible = {m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible}
    for order, name in enumerate(book.sheet_names):
        if name not in visible:
            continue
        sheet = book.get_sheet_by_name(name)
        start = sheet.start or (0, 0)
        rest = sheet.iter_rows()
        head = [row for _n, row in zip(range(HEADER_SCAN), rest, strict=False)]
        for kind in KINDS:
            header = find_header(head, kind)
            if header.score >= 2:
                named = lookup_key(name) in {lookup_key(t) for t in SHEET_TITLES[kind]}
                score = header.score + (100 if named else 0)
                candidates.append((score, -order, kind, _Located(name, header, head, rest, start)))
    found: dict[str, _Located] = {}
    taken: set[str] = set()
    for _score, _order, kind, at in sorted(candidates, key=lambda c: c[:2], reverse=True):
        if kind not in found and at.name not in taken:
            taken.add(at.name)
            found[kind] = at
    return found


class SourceReader:
    """The records of a file, in order, with the reader's own problems.

    Iterate it to get `bulk.HouseholdRecord`s; `errors` and `warnings` (rows that link to no
    household, unrecognised columns, …) are complete once iteration ends.
    `services.import_households` counts them with its own.
    """

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.households = 0

    def __iter__(self) -> Iterator[HouseholdRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        return self.households

    def error(self, sheet: str, row: int, key: str, message: str) -> None:
        self.errors.append(RowError(sheet, row, key, message))


def _label(key: str) -> str:
    for columns in KINDS.values():
        for column in columns:
            if column.key == key:
                return capfirst(str(column.label))
    return key


class WorkbookReader(SourceReader):
    """An xlsx (or xls/ods: whatever calamine reads) with sheets 户 / 成员 / 收入."""

    def __init__(self, data: bytes, progress: Progress | None = None) -> None:
        super().__init__()
        self.progress = progress or (lambda phase, done, total: None)
        self.book = CalamineWorkbook.from_object(io.BytesIO(data))
        self.sheets = self._find_sheets()
        households = self.sheets.get("households")
        if households is None:
            self.error("households", 0, "", str(NO_HOUSEHOLD_SHEET))
        elif not {"head_id_number", "code"} & set(households.header.columns):
            self.error("households", 0, "", str(NO_KEY_COLUMN))
        # The household rows are read first so that the record count is known (progress),
        # the members and income rows next, grouped by key; records are made on iteration.
        self.h_keys: list[str] = []
        self.m_keys: list[str] = []
        self.i_keys: list[str] = []
        self.household_rows: list[tuple[int, tuple[Any, ...]]] = []
        self.member_rows: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
        self.income_rows: dict[str, tuple[int, tuple[Any, ...]]] = {}
        if not self.errors:
            self._read()

    def _find_sheets(self) -> dict[str, _Sheet]:
        found: dict[str, _Sheet] = {}
        for kind, at in locate_sheets(self.book).items():
            rows = self._rows(at.head, at.rest, at.header.data_start, at.start[0])
            found[kind] = _Sheet(kind, at.name, at.header, rows)
            for r, _c, title in at.header.unknown:
                message = str(UNKNOWN_COLUMN) % {"title": title}
                self.warnings.append(RowError(kind, at.start[0] + r + 1, "", message))
        return found

    @staticmethod
    def _rows(
        head: list[Any], rest: Iterator[Any], data_start: int, start: int
    ) -> Iterator[tuple[int, Sequence[Any]]]:
        for i, row in enumerate(head[data_start:], start=data_start):
            yield start + i + 1, row
        for i, row in enumerate(rest, start=len(head)):
            yield start + i + 1, row

    def _read(self) -> None:
        interner = _Interner()
        sheet = self.sheets["households"]
        wanted = [c for _k, c in sorted(sheet.header.columns.items())]
        self.h_keys = [k for k, _c in sorted(sheet.header.columns.items())]
        for number, cells in sheet.rows:
            if all(_blank(v) for v in cells):
                continue
            self.household_rows.append((number, interner.row(cells, wanted)))
        self.households = len(self.household_rows)
        self.progress("read", self.households, 0)
        members = self.sheets.get("members")
        if members is not None:
            cols = members.header.columns
            self.m_keys = [k for k, _c in sorted(cols.items())]
            wanted = [c for _k, c in sorted(cols.items())]
            key_at = self.m_keys.index("head_id_number") if "head_id_number" in cols else None
            id_at = self.m_keys.index("id_number") if "id_number" in cols else None
            rel_at = self.m_keys.index("relation") if "relation" in cols else None
            relation = MEMBER["relation"]
            count = 0
            for number, cells in members.rows:
                if all(_blank(v) for v in cells):
                    continue
                values = interner.row(cells, wanted)
                key = normalize_key(values[key_at]) if key_at is not None else ""
                if (
                    not key
                    and id_at is not None
                    and rel_at is not None
                    and relation.convert(values[rel_at]) == "01"
                ):
                    key = normalize_key(values[id_at])
                if not key:
                    self.error("members", number, "head_id_number", str(NO_LINK))
                    continue
                self.member_rows.setdefault(key, []).append((number, values))
                count += 1
                if count % 50_000 == 0:
                    self.progress("read", count, 0)
        income = self.sheets.get("income")
        if income is not None:
            cols = income.header.columns
            self.i_keys = [k for k, _c in sorted(cols.items())]
            wanted = [c for _k, c in sorted(cols.items())]
            key_at = self.i_keys.index("head_id_number") if "head_id_number" in cols else None
            for number, cells in income.rows:
                if all(_blank(v) for v in cells):
                    continue
                values = interner.row(cells, wanted)
                key = normalize_key(values[key_at]) if key_at is not None else ""
                if not key:
                    self.error("income", number, "head_id_number", str(NO_LINK))
                elif key in self.income_rows:
                    first = self.income_rows[key][0]
                    self.error(
                        "income", number, "head_id_number", str(SECOND_INCOME) % {"row": first}
                    )
                else:
                    self.income_rows[key] = (number, values)

    def __iter__(self) -> Iterator[HouseholdRecord]:
        for number, values in self.household_rows:
            household = dict(zip(self.h_keys, values, strict=True))
            key = normalize_key(household.get("head_id_number"))
            if not key and _blank(household.get("code")):
                self.error("households", number, "head_id_number", str(NO_KEY))
            members = (
                [
                    (row, dict(zip(self.m_keys, v, strict=True)))
                    for row, v in self.member_rows.pop(key, [])
                ]
                if key
                else []
            )
            income = self.income_rows.pop(key, None) if key else None
            record = HouseholdRecord(
                row=number,
                household=household,
                members=members,
                income=dict(zip(self.i_keys, income[1], strict=True)) if income else None,
                sheet_rows={"income": income[0]} if income else {},
            )
            yield record
        for key, rows in self.member_rows.items():
            for number, _v in rows:
                self.error("members", number, "head_id_number", str(ORPHAN) % {"id": key})
        for key, (number, _v) in self.income_rows.items():
            self.error("income", number, "head_id_number", str(ORPHAN) % {"id": key})
        self.member_rows.clear()
        self.income_rows.clear()


class CsvReader(SourceReader):
    """A flat CSV: one member per row, the household's (and income's) columns repeated."""

    def __init__(self, data: bytes, progress: Progress | None = None) -> None:
        super().__init__()
        text = decode(data)
        sample = text[:8192]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
        header = find_header(rows, "flat")
        if header.score < 2:
            self.error("households", 0, "", str(NO_HOUSEHOLD_SHEET))
            self.groups: list[list[tuple[int, list[str]]]] = []
            self.header = header
            return
        self.header = header
        for r, _c, title in header.unknown:
            self.warnings.append(
                RowError("households", r + 1, "", str(UNKNOWN_COLUMN) % {"title": title})
            )
        cols = header.columns
        key_at = cols.get("head_id_number")
        rel_at = cols.get("relation")
        id_at = cols.get("id_number")
        groups: dict[str, list[tuple[int, list[str]]]] = {}
        order: list[list[tuple[int, list[str]]]] = []
        current: list[tuple[int, list[str]]] | None = None
        relation = MEMBER["relation"]
        for i, row in enumerate(rows[header.data_start :], start=header.data_start + 1):
            if all(_blank(v) for v in row):
                continue
            key = normalize_key(_cell(row, key_at)) if key_at is not None else ""
            is_head = rel_at is not None and relation.convert(_cell(row, rel_at)) == "01"
            if not key and is_head and id_at is not None:
                key = normalize_key(_cell(row, id_at))
            if key:
                if key not in groups:
                    groups[key] = []
                    order.append(groups[key])
                groups[key].append((i, row))
                current = groups[key] if key_at is None else current
            elif key_at is None and current is not None and not is_head:
                current.append((i, row))
            else:
                self.error("members", i, "head_id_number", str(NO_LINK))
        self.groups = order
        self.households = len(order)

    def __iter__(self) -> Iterator[HouseholdRecord]:
        cols = self.header.columns
        h_cols = [c.key for c in HOUSEHOLD_COLUMNS]
        m_cols = [c.key for c in KINDS["members"] if c.key != "head_id_number"]
        i_cols = [c.key for c in INCOME_COLUMNS if c.key != "head_id_number"]
        for group in self.groups:
            household: dict[str, Any] = {}
            source: dict[str, int] = {}
            income: dict[str, Any] = {}
            income_row = 0
            members = []
            for number, row in group:

                def cell(key: str, row: list[str] = row) -> str:
                    c = cols[key]
                    return row[c] if c < len(row) else ""

                for key in h_cols:
                    if key in cols and not _blank(cell(key)):
                        value = cell(key)
                        if key not in household:
                            household[key], source[key] = value, number
                        elif lookup_key(value) != lookup_key(household[key]):
                            message = str(CONFLICT) % {
                                "field": _label(key),
                                "row": source[key],
                                "value": household[key],
                            }
                            self.error("households", number, key, message)
                for key in i_cols:
                    if key in cols and not _blank(cell(key)):
                        income.setdefault(key, cell(key))
                        income_row = income_row or number
                member = {k: cell(k) for k in m_cols if k in cols}
                if any(not _blank(v) for v in member.values()):
                    members.append((number, member))
            for key in h_cols:
                if key in cols:
                    household.setdefault(key, "")
            yield HouseholdRecord(
                row=group[0][0],
                household=household,
                members=members,
                income=income or None,
                sheet_rows={"income": income_row} if income_row else {},
            )


def _cell(row: Sequence[str], c: int | None) -> str:
    return row[c] if c is not None and c < len(row) else ""


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def is_workbook(data: bytes) -> bool:
    """xlsx/ods are zip files; xls is an OLE compound document."""
    return data[:4] == b"PK\x03\x04" or data[:8] == bytes.fromhex("D0CF11E0A1B11AE1")


def read_workbook(file: Any, progress: Progress | None = None) -> WorkbookReader:
    """The records of an xlsx workbook (a path, bytes or a file object)."""
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    elif hasattr(file, "read"):
        data = file.read()
    else:
        with open(file, "rb") as f:
            data = f.read()
    return WorkbookReader(data, progress)


def read_csv(data: bytes, progress: Progress | None = None) -> CsvReader:
    return CsvReader(data, progress)


def read_file(data: bytes, progress: Progress | None = None) -> SourceReader:
    """A workbook or a CSV, told apart by content (not by the file's name)."""
    if is_workbook(data):
        return WorkbookReader(data, progress)
    return CsvReader(data, progress)


# -- the entry point ---------------------------------------------------------------------------


def run_import(
    user: Any,
    filename: str,
    data: bytes,
    progress: Progress | None = None,
    *,
    reason: str = "",
    dry_run: bool = False,
) -> ImportResult:
    """Import a workbook or CSV: read it, validate every row, write all or nothing.

    The audit trail records the file's name and SHA-256 with every household it touched.
    """
    digest = hashlib.sha256(data).hexdigest()
    with gc_paused():
        try:
            reader = read_file(data, progress)
        except CalamineError:  # a corrupt or unreadable workbook
            error = RowError("households", 0, "", str(NOT_A_FILE))
            return ImportResult(0, 0, 0, 0, [error], [])
        return services.import_households(
            user,
            reader,
            reason=reason or str(DEFAULT_REASON) % {"file": filename},
            source=f"{filename} sha256:{digest}",
            progress=progress,
            dry_run=dry_run,
        )


# -- the template ------------------------------------------------------------------------------

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_NOTE_FILL = PatternFill("solid", fgColor="FFF2CC")
_BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
_YES_NO = '"是,否"'


def template_workbook() -> bytes:
    """The import template (xlsx), in Chinese, with drop-down lists."""
    with translation.override("zh-hans"):
        book = Workbook()
        lists = book.create_sheet(LISTS_SHEET)
        list_ranges: dict[str, str] = {}
        first = True
        for kind, columns in (
            ("households", HOUSEHOLD_COLUMNS),
            ("members", MEMBER_COLUMNS),
            ("income", INCOME_COLUMNS),
        ):
            ws: Any = book.active if first else book.create_sheet(index=len(book.sheetnames) - 1)
            first = False
            ws.title = SHEET_NAMES[kind]
            _fill_template_sheet(ws, kind, columns, lists, list_ranges)
        lists.sheet_state = "hidden"
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def _fill_template_sheet(
    ws: Any, kind: str, columns: list[Column], lists: Any, list_ranges: dict[str, str]
) -> None:
    last = get_column_letter(len(columns))
    ws.merge_cells(f"A1:{last}1")
    note = ws["A1"]
    note.value = str(NOTES[kind])
    note.alignment = Alignment(wrap_text=True, vertical="top")
    note.fill = _NOTE_FILL
    ws.row_dimensions[1].height = 48
    for c, column in enumerate(columns, start=1):
        letter = get_column_letter(c)
        cell = ws.cell(row=2, column=c, value=capfirst(str(column.label)))
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[letter].width = max(column.width, min(len(str(cell.value)) * 2, 30))
        if column.text:
            ws.column_dimensions[letter].number_format = "@"
        if column.key == "head_id_number":
            cell.comment = Comment(str(NOTES[kind]), "fupin")
        rule = column.rule
        if rule is None:
            continue
        target = f"{letter}3:{letter}1048576"
        if rule.kind == "bool":
            dv = DataValidation(type="list", formula1=_YES_NO, allow_blank=True)
        elif rule.kind == "choice" and rule.name != "village":
            if rule.name not in list_ranges:
                col = len(list_ranges) + 1
                lists.cell(row=1, column=col, value=capfirst(str(rule.label)))
                for r, (_code, label) in enumerate(rule.choices, start=2):
                    lists.cell(row=r, column=col, value=str(label))
                lc = get_column_letter(col)
                list_ranges[rule.name] = f"'{LISTS_SHEET}'!${lc}$2:${lc}${len(rule.choices) + 1}"
            dv = DataValidation(type="list", formula1=list_ranges[rule.name], allow_blank=True)
        else:
            if rule.kind == "codes":
                cell.comment = Comment(
                    _("Several causes separated by 、 (e.g. 缺技术、缺资金)."), "fupin"
                )
            continue
        dv.errorStyle = "warning"
        dv.showErrorMessage = True
        dv.error = _("Choose from the list (a code or another spelling is also accepted).")
        ws.add_data_validation(dv)
        dv.add(target)
    ws.freeze_panes = "A3"


# -- the error report --------------------------------------------------------------------------


#: Above this many rows the report is streamed (calamine → openpyxl write-only): loading a
#: 100,000-household workbook into openpyxl takes minutes and gigabytes.
STREAM_REPORT_ROWS = 20_000


def error_report(
    data: bytes, errors: Sequence[RowError], stream_above: int = STREAM_REPORT_ROWS
) -> bytes:
    """The workbook with each bad cell filled red and commented, and a column 错误说明
    listing each row's problems; a CSV comes back as a workbook of its rows.

    A small workbook is marked up in place (its formats and drop-down lists kept, so it
    can be corrected and imported again); a large one is copied value by value."""
    if is_workbook(data):
        try:
            book_c = CalamineWorkbook.from_object(io.BytesIO(data))
            height = sum(book_c.get_sheet_by_name(n).height for n in book_c.sheet_names)
        except CalamineError:
            height = 0
        if height > stream_above:
            return _streamed_report(book_c, errors)
    if is_workbook(data):
        book = load_workbook(io.BytesIO(data))
        sheets = _report_sheets(book)
    else:
        book = Workbook()
        ws: Any = book.active
        ws.title = "CSV"
        for row in csv.reader(io.StringIO(decode(data)), _sniff(decode(data))):
            ws.append(row)
        header = find_header(_values(ws), "flat")
        sheets = {kind: (ws, header) for kind in KINDS}
    by_sheet_row: dict[tuple[Any, int], list[str]] = {}
    unplaced: list[RowError] = []
    for e in errors:
        target = sheets.get(e.sheet)
        if target is None or e.row <= 0:
            unplaced.append(e)
            continue
        ws, header = target
        message = e.message
        col = header.columns.get(e.field)
        if col is not None:
            cell = ws.cell(row=e.row, column=col + 1)
            cell.fill = _BAD_FILL
            old = cell.comment.text + "\n" if cell.comment else ""
            cell.comment = Comment(old + message, "fupin", width=300, height=120)
        elif e.field:
            message = f"{_label(e.field)}: {message}"
        by_sheet_row.setdefault((id(ws), e.row), []).append(message)
    done: set[int] = set()
    for ws, header in sheets.values():
        if id(ws) in done:
            continue
        done.add(id(ws))
        rows = {r: m for (w, r), m in by_sheet_row.items() if w == id(ws)}
        if not rows:
            continue
        col = ws.max_column + 1
        title_row = max(header.data_start, 1)
        title = ws.cell(row=title_row, column=col, value=str(ERRORS_TITLE))
        title.font = Font(bold=True, color="9C0006")
        title.fill = _BAD_FILL
        ws.column_dimensions[get_column_letter(col)].width = 60
        for r, messages in rows.items():
            cell = ws.cell(row=r, column=col, value="；".join(messages))
            cell.fill = _BAD_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    summary = book.create_sheet(str(ERRORS_TITLE), 0)
    for row in _summary_rows(errors):
        summary.append(row)
    for cell in summary[1]:
        cell.font = Font(bold=True)
    summary.column_dimensions["D"].width = 90
    summary.column_dimensions["C"].width = 20
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _summary_rows(errors: Sequence[RowError]) -> Iterator[list[Any]]:
    yield [_("Sheet"), _("Row"), _("Column"), _("Problem")]
    for e in sorted(errors, key=lambda e: e.row > 0):  # file-wide problems first
        yield [e.sheet, e.row or "", _label(e.field) if e.field else "", e.message]


def _streamed_report(book: CalamineWorkbook, errors: Sequence[RowError]) -> bytes:
    """The error report of a large workbook, written as it is read (openpyxl write-only)."""
    from openpyxl.cell import WriteOnlyCell

    located = locate_sheets(book)
    names = {kind: at.name for kind, at in located.items()}
    columns = {
        at.name: {key: at.start[1] + c for key, c in at.header.columns.items()}
        for at in located.values()
    }
    marks: dict[tuple[str, int, int], list[str]] = {}
    messages: dict[tuple[str, int], list[str]] = {}
    for e in errors:
        name = names.get(e.sheet)
        if name is None or e.row <= 0:
            continue
        col = columns[name].get(e.field)
        if col is not None:
            marks.setdefault((name, e.row, col), []).append(e.message)
            messages.setdefault((name, e.row), []).append(e.message)
        else:
            text = f"{_label(e.field)}: {e.message}" if e.field else e.message
            messages.setdefault((name, e.row), []).append(text)
    out = Workbook(write_only=True)
    summary = out.create_sheet(str(ERRORS_TITLE))
    for row in _summary_rows(errors):
        summary.append(row)
    hidden = {m.name for m in book.sheets_metadata if m.visible != SheetVisibleEnum.Visible}
    for name in book.sheet_names:
        ws = out.create_sheet(name)
        if name in hidden:
            ws.sheet_state = "hidden"
        sheet = book.get_sheet_by_name(name)
        top, left = sheet.start or (0, 0)
        width = left + sheet.width
        title_row = next(
            (top + at.header.data_start for at in located.values() if at.name == name), 0
        )
        for _i in range(top):
            ws.append([])
        for i, cells in enumerate(sheet.iter_rows()):
            r = top + i + 1
            values: list[Any] = [None] * left + [None if c == "" else c for c in cells]
            for c in range(left, width):
                marked = marks.get((name, r, c))
                if marked:
                    cell = WriteOnlyCell(ws, value=values[c])
                    cell.fill = _BAD_FILL
                    cell.comment = Comment("\n".join(marked), "fupin")
                    values[c] = cell
            note = messages.get((name, r))
            if note or r == title_row:
                values += [None] * (width - len(values))
                cell = WriteOnlyCell(ws, value="；".join(note) if note else str(ERRORS_TITLE))
                cell.fill = _BAD_FILL
                values.append(cell)
            ws.append(values)
    stream = io.BytesIO()
    out.save(stream)
    return stream.getvalue()


def _values(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(min_row=1, max_row=HEADER_SCAN, values_only=True)]


def _sniff(text: str) -> Any:
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        return csv.excel


def _report_sheets(book: Any) -> dict[str, tuple[Any, Header]]:
    """Each kind's sheet in an openpyxl workbook, found as the reader finds it."""
    best: dict[str, tuple[int, Any, Header]] = {}
    for ws in book.worksheets:
        if ws.sheet_state != "visible":
            continue
        rows = _values(ws)
        named = {
            k
            for k, titles in SHEET_TITLES.items()
            if lookup_key(ws.title) in {lookup_key(t) for t in titles}
        }
        for kind in KINDS:
            header = find_header(rows, kind)
            score = header.score + (100 if kind in named else 0)
            if header.score >= 2 and (kind not in best or score > best[kind][0]):
                best[kind] = (score, ws, header)
    taken: dict[int, str] = {}
    result: dict[str, tuple[Any, Header]] = {}
    for kind, (_score, ws, header) in sorted(best.items(), key=lambda kv: -kv[1][0]):
        if id(ws) in taken:
            continue
        taken[id(ws)] = kind
        result[kind] = (ws, header)
    return result


# -- the background job --------------------------------------------------------------------


@jobs.register(
    "registry.import",
    label=gettext_lazy("Import of households"),
    permission="registry.add_household",
)
def import_job(job: jobs.JobContext) -> dict[str, int]:
    """params: reason, dry_run. The input file is the upload; a rejected file fails the job
    with the workbook of marked problems as its result."""
    if job.user is None or job.input_path is None:
        raise ValueError("an import needs its user and its file")
    data = job.input_path.read_bytes()
    name = job.input_name or job.input_path.name
    result = run_import(
        job.user,
        name,
        data,
        job.progress,
        reason=job.params.get("reason", ""),
        dry_run=bool(job.params.get("dry_run")),
    )
    counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "members_created": result.members_created,
        "members_updated": result.members_updated,
        "errors": len(result.errors),
    }
    for warning in result.warnings[:200]:
        job.log(f"{warning.sheet} {warning.row}: {warning.message}")
    if result.errors:
        for error in result.errors[:200]:
            job.log(f"{error.sheet} {error.row} {error.field}: {error.message}")
        stem = name.rsplit(".", 1)[0] or "import"
        job.set_result(
            f"{stem}.errors.xlsx", error_report(data, result.errors), also_on_failure=True
        )
        job.counts.update(counts)
        raise ValidationError(
            _("%(n)d problem(s); nothing was imported.") % {"n": len(result.errors)}
        )
    return counts
