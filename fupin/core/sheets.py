"""Small xlsx workbooks for the pages' "export" buttons, in the registry exports' style:
write-only (constant memory), a bold frozen title row, column widths by the titles.

Large exports (a province's households) are jobs in `fupin.registry.exports`; these are the
lists a page shows, a few thousand rows at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def text_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a CJK character is two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def safe_cell(value: Any) -> Any:
    """Typed text a spreadsheet would run as a formula (a head named "=…") stays text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def workbook_bytes(sheets: Sequence[Sheet], *, min_width: int = 10) -> bytes:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        ws: Any = wb.create_sheet(title[:31])
        ws.freeze_panes = "A2"
        for i, text in enumerate(headers, start=1):
            width = min(max(text_width(str(text)) + 2, min_width), 40)
            ws.column_dimensions[get_column_letter(i)].width = width
        header = []
        for text in headers:
            cell = WriteOnlyCell(ws, value=str(text))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in rows:
            ws.append([safe_cell(v) for v in row])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsx_response(sheets: Sequence[Sheet], filename: str, *, min_width: int = 10) -> HttpResponse:
    """The workbook as a download; not cached, since the lists hold people's data."""
    response = HttpResponse(workbook_bytes(sheets, min_width=min_width), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
