"""A department's file of risk events (风险事件), xlsx or CSV, read into rows by column.

One row per event: 身份证号 (the member concerned) or 户编号 (the household), 事件类型,
日期, 金额 (yuan), 来源 (the reporting department) and 备注. The title row is found among
the first rows of the first visible sheet (or the CSV, UTF-8 or GBK); each column is
recognised by its Chinese title, its English title or its key, with stray spaces and
full-width characters — as the exchange answer is (exchange_file.py), whose reading
helpers these are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from fupin.monitor.exchange_file import AnswerFile, AnswerRow
from fupin.registry.importing import decode, is_workbook
from fupin.registry.validation import as_text, lookup_key

HEADER_SCAN = 10


@dataclass(frozen=True)
class EventColumn:
    key: str
    #: The title a template carries (Chinese: the departments' files are Chinese).
    title: str
    title_en: Any
    aliases: tuple[str, ...] = ()

    def titles(self) -> set[str]:
        return {lookup_key(t) for t in (self.key, self.title, str(self.title_en), *self.aliases)}


COLUMNS = (
    EventColumn(
        "id_number",
        "身份证号",
        gettext_lazy("Resident ID"),
        ("身份证号码", "公民身份号码", "证件号码", "身份证"),
    ),
    EventColumn("household_code", "户编号", gettext_lazy("Household number"), ("户码", "户号")),
    EventColumn("kind", "事件类型", gettext_lazy("Kind of event"), ("类型", "风险类型", "事件")),
    EventColumn("date", "日期", gettext_lazy("Date"), ("发生日期", "事件日期", "报告日期")),
    EventColumn("amount", "金额（元）", gettext_lazy("Amount (yuan)"), ("金额", "金额(元)")),
    EventColumn("source", "来源", gettext_lazy("Reported by"), ("报告单位", "报送部门", "部门")),
    EventColumn("note", "备注", gettext_lazy("Note"), ("说明",)),
    # Read and not used: a department's file often names the person.
    EventColumn("name", "姓名", gettext_lazy("Name"), ("户主姓名",)),
)
BY_KEY = {c.key: c for c in COLUMNS}
REQUIRED = ("kind", "date")


def title(key: str) -> str:
    return BY_KEY[key].title


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table(rows: Sequence[Sequence[Any]]) -> AnswerFile | None:
    known = {t: col.key for col in COLUMNS for t in col.titles()}
    for index, row in enumerate(rows[:HEADER_SCAN]):
        keys = {i: known.get(lookup_key(cell)) for i, cell in enumerate(row)}
        found = {i: k for i, k in keys.items() if k is not None}
        if "kind" not in found.values():
            continue
        unknown = [as_text(row[i]) for i, k in keys.items() if k is None and not _blank(row[i])]
        problems = []
        missing = [BY_KEY[k].title for k in REQUIRED if k not in found.values()]
        if missing:
            problems.append(
                _("The file has no column %(titles)s.") % {"titles": "、".join(missing)}
            )
        if not {"id_number", "household_code"} & set(found.values()):
            problems.append(
                _("The file needs a column %(id)s or %(code)s to find the household.")
                % {"id": title("id_number"), "code": title("household_code")}
            )
        seen: set[str] = set()
        for key in found.values():
            if key in seen:
                problems.append(_("The column %(title)s appears twice.") % {"title": title(key)})
            seen.add(key)
        if problems:
            return AnswerFile([], problems, unknown)
        out = []
        for number, line in enumerate(rows[index + 1 :], start=index + 2):
            cells = {key: line[i] if i < len(line) else None for i, key in found.items()}
            if all(_blank(v) for v in cells.values()):
                continue
            out.append(AnswerRow(number, cells))
        return AnswerFile(out, [], unknown)
    return None


def no_title_row() -> str:
    return _("No title row with a column %(kind)s was found in the first %(n)d rows.") % {
        "kind": title("kind"),
        "n": HEADER_SCAN,
    }


def read_events(data: bytes) -> AnswerFile:
    """The rows of an events file (xlsx: the first visible sheet with a title row; CSV:
    UTF-8 with or without BOM, or GBK), told apart by content."""
    if is_workbook(data):
        try:
            book = CalamineWorkbook.from_object(io.BytesIO(data))
        except CalamineError:
            return AnswerFile([], [_("This workbook cannot be read; save it again as .xlsx.")], [])
        visible = {m.name for m in book.sheets_metadata if m.visible == SheetVisibleEnum.Visible}
        for name in book.sheet_names:
            if name in visible:
                found = _table(book.get_sheet_by_name(name).to_python(skip_empty_area=False))
                if found is not None:
                    return found
        return AnswerFile([], [no_title_row()], [])
    text = decode(data)
    if "\x00" in text[:1000] or not text.strip():
        return AnswerFile(
            [], [_("This file is neither an Excel workbook (.xlsx) nor a CSV table.")], []
        )
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return _table(list(csv.reader(io.StringIO(text), dialect))) or AnswerFile(
        [], [no_title_row()], []
    )


def template_csv() -> bytes:
    """An empty file with the titles, to fill in (UTF-8 with BOM for Excel)."""
    from fupin.registry.exports import BOM

    keys = ("id_number", "household_code", "kind", "date", "amount", "source", "note")
    return (BOM + ",".join(title(k) for k in keys) + "\r\n").encode("utf-8")
