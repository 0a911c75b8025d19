"""The exchange file (教育资助比对文件): the layout of EXCHANGE.md, written as xlsx and CSV,
and an answer read back from either.

The layout is a contract with another department, so its column titles are fixed Chinese
text, whatever the user's language; on reading, the Chinese title, the English title and
the column's key are all recognised, with stray spaces and full-width characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from fupin.core.models import CODE_LENGTH, AreaLevel
from fupin.monitor import policy
from fupin.registry.enums import Schooling, Sex
from fupin.registry.exports import BOM
from fupin.registry.importing import decode, is_workbook
from fupin.registry.validation import as_text, lookup_key

COUNTY = CODE_LENGTH[AreaLevel.COUNTY]
TOWNSHIP = CODE_LENGTH[AreaLevel.TOWNSHIP]
#: Rows of a sheet searched for the title row.
HEADER_SCAN = 10
YES, NO = "是", "否"
#: Words for 是否省内就读 besides yes and no (seed 004: 在省内各级各类学校就读).
IN_PROVINCE_WORDS = {"省内": True, "本省": True, "省外": False, "外省": False}


@dataclass(frozen=True)
class ExchangeColumn:
    key: str
    title: str  # the file's title (Chinese, fixed)
    title_en: str
    #: Filled in by the education department (the answer), not by the poverty office.
    answer: bool = False
    width: int = 12

    def titles(self) -> set[str]:
        return {lookup_key(self.title), lookup_key(self.title_en), lookup_key(self.key)}


COLUMNS: tuple[ExchangeColumn, ...] = (
    ExchangeColumn("row_key", "行号", "Row key", width=14),
    ExchangeColumn("county", "县（市、区）", "County", width=12),
    ExchangeColumn("township", "乡镇", "Township", width=12),
    ExchangeColumn("village", "村", "Village", width=12),
    ExchangeColumn("household_code", "户编号", "Household number", width=20),
    ExchangeColumn("head_name", "户主姓名", "Head of household", width=10),
    ExchangeColumn("name", "学生姓名", "Name", width=10),
    ExchangeColumn("id_number", "公民身份号码", "Resident ID", width=21),
    ExchangeColumn("sex", "性别", "Sex", width=6),
    ExchangeColumn("birth_date", "出生日期", "Birth date", width=12),
    ExchangeColumn("schooling", "在校情况（扶贫系统）", "Schooling (poverty registry)", width=14),
    ExchangeColumn("school_name", "就读学校", "School", answer=True, width=24),
    ExchangeColumn("school_code", "学校标识码", "School code", answer=True, width=14),
    ExchangeColumn("in_province", "是否省内就读", "In the province", answer=True, width=9),
    ExchangeColumn("stage", "学段", "Stage", answer=True, width=12),
    ExchangeColumn("aided", "是否资助", "Aided", answer=True, width=9),
    ExchangeColumn("aid_kinds", "资助项目", "Aid kinds", answer=True, width=16),
    ExchangeColumn("amount", "资助金额（元）", "Amount (yuan)", answer=True, width=12),
    ExchangeColumn("aid_date", "资助日期", "Aid date", answer=True, width=12),
    ExchangeColumn("note", "备注", "Note", answer=True, width=20),
)
BY_KEY = {c.key: c for c in COLUMNS}
#: Columns an answer file must have: the row key and the ID to match, and the answer itself.
REQUIRED = ("row_key", "id_number", "aided")
SHEET_TITLE = "学生名单"
NOTES_TITLE = "填写说明"
NO_TITLE_ROW = gettext_lazy(
    "No title row with a 行号 (row key) column was found in the first rows of the file."
)
ANSWER_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# -- one row of the file -------------------------------------------------------------------


def _zh_labels(choices: Iterable[tuple[str, Any]]) -> dict[str, str]:
    with translation.override("zh-hans"):
        return {str(code): str(label) for code, label in choices}


def _guard(text: str) -> str:
    """Typed text a spreadsheet would run as a formula stays text (registry exports' rule)."""
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and not text[1:2].isdigit()):
        return "'" + text
    return text


@dataclass(frozen=True)
class Names:
    """Area names for the file's county / township / village columns."""

    by_code: dict[str, str]

    def of(self, code: str) -> str:
        return self.by_code.get(code, code)


def row_values(child: Any, names: Names) -> list[Any]:
    """The file's cells for one exchanged child (an ExchangeChild), answer columns included
    (blank until an answer is imported)."""
    schooling = _zh_labels(Schooling.choices)
    sex = _zh_labels(Sex.choices)
    kinds = policy.education().aid_kinds
    village = child.village_id
    aided = "" if child.aided is None else (YES if child.aided else NO)
    return [
        child.row_key,
        names.of(village[:COUNTY]),
        names.of(village[:TOWNSHIP]),
        names.of(village),
        child.household_code,
        _guard(child.head_name),
        _guard(child.name),
        child.id_number,
        sex.get(child.sex, child.sex),
        child.birth_date,
        schooling.get(child.schooling, child.schooling),
        _guard(child.school_name),
        child.school_code,
        "" if child.in_province else NO,
        schooling.get(child.stage, "") if child.stage else "",
        aided,
        "、".join(kinds[c].label_zh if c in kinds else c for c in child.aid_kinds),
        child.amount,
        child.aid_date,
        _guard(child.note),
    ]


# -- writing -------------------------------------------------------------------------------


def write_csv(out: IO[str], rows: Iterable[list[Any]]) -> int:
    """UTF-8 with a BOM (Excel on a Chinese Windows reads it right); IDs, household numbers
    and school codes carry a leading tab so Excel keeps them as text."""
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([c.title for c in COLUMNS])
    text_columns = {i for i, c in enumerate(COLUMNS) if c.key in TEXT_DIGITS}
    n = 0
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if value is None:
                cells.append("")
            elif i in text_columns and value:
                cells.append("\t" + str(value))
            elif hasattr(value, "isoformat"):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        writer.writerow(cells)
        n += 1
    return n


#: Digit strings a spreadsheet would turn into numbers and lose digits of.
TEXT_DIGITS = {"household_code", "id_number", "school_code"}


def write_xlsx(out: IO[bytes] | str, rows: Iterable[list[Any]], school_year: int) -> int:
    """Write-only (constant memory): the list, then a sheet of filling-in notes and codes.

    The answer columns have a shaded title; 是否资助 and 学段 offer drop-down lists.
    """
    wb = Workbook(write_only=True)
    ws: Any = wb.create_sheet(SHEET_TITLE)
    ws.freeze_panes = "B2"
    bold = Font(bold=True)
    header = []
    for i, col in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
        cell = WriteOnlyCell(ws, value=col.title)
        cell.font = bold
        if col.answer:
            cell.fill = ANSWER_FILL
        header.append(cell)
    ws.append(header)
    text_columns = {i for i, c in enumerate(COLUMNS) if c.key in TEXT_DIGITS}
    n = 0
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = WriteOnlyCell(ws, value=value)
            if i in text_columns:
                cell.number_format = "@"
            elif hasattr(value, "isoformat"):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        ws.append(cells)
        n += 1
    last = max(n + 1, 2)
    _choices(ws, "aided", [YES, NO], last)
    _choices(ws, "in_province", [YES, NO], last)
    stages = list(_zh_labels(Schooling.choices).values())
    _choices(ws, "stage", stages, last)
    _notes(wb, school_year)
    wb.save(out)
    return n


def _choices(ws: Any, key: str, values: Sequence[str], last_row: int) -> None:
    letter = get_column_letter([c.key for c in COLUMNS].index(key) + 1)
    dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True)
    dv.add(f"{letter}2:{letter}{last_row}")
    ws.data_validations.append(dv)


def _notes(wb: Workbook, school_year: int) -> None:
    """The sheet that tells the education department what to fill in, with the codes."""
    ws: Any = wb.create_sheet(NOTES_TITLE)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 80
    rules = policy.education()
    start, end = rules.aid_year(school_year)
    lines: list[tuple[str, str]] = [
        ("说明", "本表由扶贫部门导出，请教育部门在底色为黄色的列中填写比对及资助结果后原样退回。"),
        ("行号", "每行的唯一标识，请勿修改、删除或新增行号；导入时按行号逐行匹配。"),
        ("公民身份号码", "须与导出时一致，用于核对行号。"),
        ("就读学校 / 学校标识码", "学生就读学校名称及10位学校标识码（可空）。"),
        (
            "是否省内就读",
            "在省内学校就读填“是”或留空；在省外就读填“否”（省外就读学生不列入应助未助名单）。",
        ),
        ("学段", "填写：" + "、".join(_zh_labels(Schooling.choices).values())),
        ("是否资助", "填写“是”或“否”；未比对到的学生留空。"),
        ("资助项目", "“是”时必填，填代码或名称，多项用“、”分隔（见下表）。"),
        ("资助金额（元）", "不小于0，最多两位小数；“否”时留空或填0。"),
        (
            "资助日期",
            f"格式 {start.isoformat()}；须在本资助年度内（{start.year}年{start.month}月"
            f"{start.day}日至{end.year}年{end.month}月{end.day}日）。",
        ),
        ("", ""),
        ("资助项目代码", "名称"),
        *((kind.code, kind.label_zh) for kind in rules.aid_kinds.values()),
    ]
    for a, b in lines:
        ws.append([a, b])


def filename(exchange: Any, fmt: str) -> str:
    return f"education-exchange-{exchange.area_id}-{exchange.school_year}.{fmt}"


# -- reading -------------------------------------------------------------------------------


@dataclass
class AnswerRow:
    """One data row of an answer file: its 1-based row number and cells by column key."""

    row: int
    cells: dict[str, Any]


@dataclass
class AnswerFile:
    rows: list[AnswerRow]
    #: Problems with the file as a whole (not a workbook, no title row, missing columns).
    problems: list[str]
    #: Titles the reader did not recognise (ignored).
    unknown: list[str]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header(rows: Sequence[Sequence[Any]]) -> tuple[int, dict[int, str], list[str]] | None:
    """(index of the title row, column index → key, unknown titles): the first of the
    first rows that names the row key column."""
    known = {title: col.key for col in COLUMNS for title in col.titles()}
    for index, row in enumerate(rows[:HEADER_SCAN]):
        keys = {i: known.get(lookup_key(cell)) for i, cell in enumerate(row)}
        if "row_key" in keys.values():
            found = {i: k for i, k in keys.items() if k is not None}
            unknown = [as_text(row[i]) for i, k in keys.items() if k is None and not _blank(row[i])]
            return index, found, unknown
    return None


def _table(rows: Sequence[Sequence[Any]], first_row: int) -> AnswerFile | None:
    """The answer rows of a table, None when it has no title row; `first_row` is the
    sheet row number (1-based) of rows[0]."""
    located = _header(rows)
    if located is None:
        return None
    index, columns, unknown = located
    missing = [BY_KEY[k].title for k in REQUIRED if k not in columns.values()]
    if missing:
        return AnswerFile(
            [],
            [_("The file has no column %(titles)s.") % {"titles": "、".join(missing)}],
            unknown,
        )
    seen: dict[str, int] = {}
    for i, key in columns.items():
        if key in seen:
            return AnswerFile(
                [],
                [_("The column %(title)s appears twice.") % {"title": BY_KEY[key].title}],
                unknown,
            )
        seen[key] = i
    answers = []
    for offset, row in enumerate(rows[index + 1 :], start=index + 1):
        cells = {key: row[i] if i < len(row) else None for i, key in columns.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        answers.append(AnswerRow(first_row + offset, cells))
    return AnswerFile(answers, [], unknown)


def read_answer(data: bytes) -> AnswerFile:
    """The rows of an answer: an xlsx (the first visible sheet with a 行号 column) or a CSV
    (UTF-8 with or without BOM, or GBK), told apart by content, not by the file's name."""
    if is_workbook(data):
        try:
            book = CalamineWorkbook.from_object(io.BytesIO(data))
        except CalamineError:
            return AnswerFile([], [_("This workbook cannot be read; save it again as .xlsx.")], [])
        visible = {m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible}
        for name in book.sheet_names:
            if name not in visible:
                continue
            sheet = book.get_sheet_by_name(name)
            found = _table(sheet.to_python(skip_empty_area=False), 1)
            if found is not None:
                return found
        return AnswerFile([], [str(NO_TITLE_ROW)], [])
    try:
        text = decode(data)
    except UnicodeDecodeError:  # pragma: no cover - gb18030 with errors="replace" never fails
        text = ""
    if "\x00" in text[:1000] or not text.strip():
        return AnswerFile(
            [], [_("This file is neither an Excel workbook (.xlsx) nor a CSV table.")], []
        )
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    table = list(csv.reader(io.StringIO(text), dialect))
    return _table(table, 1) or AnswerFile([], [str(NO_TITLE_ROW)], [])


def iter_rows(children: Iterable[Any], names: Names) -> Iterator[list[Any]]:
    for child in children:
        yield row_values(child, names)
