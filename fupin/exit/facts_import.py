"""Village and county facts from a spreadsheet (xlsx) or CSV, and the template to fill in.

One row per village or county and year: 区划代码 (the 12-digit village or 6-digit county
code), 年度, then any of the facts (`fupin.exit.facts.FACTS`, by their Chinese titles or
field names), 数据来源 and 备注; 区划名称 is for the reader and ignored. An empty cell leaves
the stored value as it is (a value is cleared on the facts page). Yes-no cells read 是/否,
有/无, Y/N, 1/0, √/×.

`read_facts` parses the file and reports every cell it cannot read with its row and column;
`fupin.exit.services.import_area_facts` then checks what the values mean and writes all
rows or none. Rows are numbered as the spreadsheet numbers them (the title row is row 1
when it is the first).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from python_calamine import CalamineError, CalamineWorkbook

from fupin.core.models import Area, AreaLevel
from fupin.exit import facts
from fupin.exit.models import AreaFacts
from fupin.exit.services import FactsInput
from fupin.registry.importing import decode, is_workbook, title_key
from fupin.registry.validation import as_text

#: Rows searched for the title row.
HEADER_ROWS = 10
SHEET_TITLE = "村县数据"
HELP_SHEET_TITLE = "说明"
_YEAR = re.compile(r"^(\d{4})(?:\.0+)?年?$")
_CODE = re.compile(r"^\d{6}$|^\d{12}$")


def _titles() -> dict[str, str]:
    """Title as compared (title_key) → column key: the facts' Chinese titles, field names
    and verbose names in either language, and the other columns' titles."""
    out: dict[str, str] = {}
    for fact in facts.FACTS:
        names = [fact.title, fact.name]
        verbose = facts.verbose_name(fact.name)
        for language in ("zh-hans", "en"):
            with translation.override(language):
                names.append(str(verbose))
        for name in names:
            out.setdefault(title_key(name), fact.name)
    for key, titles in (
        ("area", facts.AREA_CODE_TITLES),
        ("year", facts.YEAR_TITLES),
        ("name", facts.NAME_TITLES),
        ("source", facts.SOURCE_TITLES),
        ("notes", facts.NOTES_TITLES),
    ):
        for title in titles:
            out.setdefault(title_key(title), key)
    return out


def _sheet_rows(data: bytes) -> list[list[Any]]:
    if is_workbook(data):
        try:
            book = CalamineWorkbook.from_object(io.BytesIO(data))
            sheet = book.get_sheet_by_index(0)
            return [list(r) for r in sheet.to_python(skip_empty_area=False)]
        except CalamineError as e:
            raise ValidationError(
                {"__all__": [_("The file cannot be read as a workbook: %(e)s") % {"e": e}]}
            ) from None
    text = decode(data)
    dialect: Any = csv.excel
    # One column, or a plain comma file the sniffer cannot tell: the default dialect.
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    return [list(r) for r in csv.reader(io.StringIO(text), dialect)]


def _blank(row: Sequence[Any]) -> bool:
    return all(as_text(v) == "" for v in row)


def _number(text: str, whole: bool) -> Decimal | int | None:
    cleaned = text.replace(",", "").replace("，", "").removesuffix("%").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if whole:
        return int(value) if value == value.to_integral_value() else None
    return value


def _cell(fact: facts.Fact, raw: Any) -> tuple[Any, str]:
    """The typed value of a fact's cell, or the problem."""
    text = as_text(raw)
    if fact.kind == "bool":
        key = title_key(text)
        if key in facts.YES:
            return True, ""
        if key in facts.NO:
            return False, ""
        return None, _("“%(value)s” is not yes or no (是/否).") % {"value": text}
    if isinstance(raw, bool):
        return None, _("“%(value)s” is not a number.") % {"value": text}
    whole = fact.kind in ("count", "score")
    value = _number(text, whole)
    if value is None:
        if whole:
            return None, _("“%(value)s” is not a whole number.") % {"value": text}
        return None, _("“%(value)s” is not a number.") % {"value": text}
    return value, ""


def _row_error(row: int, column: str, message: str) -> str:
    if column:
        return _("Row %(row)s, %(column)s: %(message)s") % {
            "row": row,
            "column": column,
            "message": message,
        }
    return _("Row %(row)s: %(message)s") % {"row": row, "message": message}


def _header(rows: Sequence[Sequence[Any]]) -> tuple[int, list[str | None], list[str]]:
    """The title row's index, each column's key (None: an empty title), and the problems."""
    titles = _titles()
    for index, row in enumerate(rows[:HEADER_ROWS]):
        keys = [titles.get(title_key(v)) if as_text(v) else None for v in row]
        if "area" not in keys:
            continue
        problems = []
        for v, key in zip(row, keys, strict=True):
            if as_text(v) and key is None:
                problems.append(
                    _("Row %(row)s: unknown column “%(title)s”.")
                    % {"row": index + 1, "title": as_text(v)}
                )
        seen: set[str] = set()
        for v, key in zip(row, keys, strict=True):
            if key is not None and key in seen:
                problems.append(
                    _("Row %(row)s: the column “%(title)s” is given twice.")
                    % {"row": index + 1, "title": as_text(v)}
                )
            if key is not None:
                seen.add(key)
        if "year" not in keys:
            problems.append(_("Row %(row)s: no year column (年度).") % {"row": index + 1})
        return index, keys, problems
    raise ValidationError(
        {"__all__": [_("No title row with an area code column (区划代码) in the first rows.")]}
    )


def read_facts(data: bytes, default_source: str = "") -> list[FactsInput]:
    """The rows of an import file as FactsInput, or a ValidationError listing every cell
    that cannot be read (row and column)."""
    rows = _sheet_rows(data)
    start, keys, problems = _header(rows)
    titles = {key: as_text(v) for v, key in zip(rows[start], keys, strict=False) if key is not None}
    out: list[FactsInput] = []
    for index in range(start + 1, len(rows)):
        row = rows[index]
        if _blank(row):
            continue
        number = index + 1
        cells: dict[str, Any] = {}
        for key, raw in zip(keys, row, strict=False):
            if key is not None and as_text(raw) != "":
                cells[key] = raw
        code = as_text(cells.get("area", ""))
        if not _CODE.match(code):
            problems.append(
                _row_error(
                    number,
                    titles["area"],
                    _("give the 12-digit village code or the 6-digit county code, not “%(value)s”.")
                    % {"value": code},
                )
            )
        year_text = as_text(cells.get("year", ""))
        year_match = _YEAR.match(year_text)
        if year_match is None:
            problems.append(
                _row_error(
                    number,
                    titles.get("year", ""),
                    _("give the year as four digits, not “%(value)s”.") % {"value": year_text},
                )
            )
        values: dict[str, Any] = {}
        for name, raw in cells.items():
            fact = facts.BY_NAME.get(name)
            if fact is None:
                continue
            value, problem = _cell(fact, raw)
            if problem:
                problems.append(_row_error(number, titles[name], problem))
            else:
                values[name] = value
        source = as_text(cells.get("source", "")) or default_source.strip()
        notes = as_text(cells["notes"]) if "notes" in cells else None
        if year_match is not None:
            out.append(
                FactsInput(code, int(year_match.group(1)), values, source, notes, row=number)
            )
    if problems:
        raise ValidationError({"__all__": problems})
    return out


# -- the template -------------------------------------------------------------------------


def template(area: Area | None, year: int) -> bytes:
    """The import workbook: the title row, and when an area is given a row for each of its
    counties and villages with the facts already entered for `year`; a sheet explaining
    each column (which level it belongs to, its unit)."""
    wb = Workbook(write_only=True)
    ws: Any = wb.create_sheet(SHEET_TITLE)
    titles = [
        facts.AREA_CODE_TITLES[0],
        facts.NAME_TITLES[0],
        facts.YEAR_TITLES[0],
        *(f.title for f in facts.FACTS),
        facts.SOURCE_TITLES[0],
        facts.NOTES_TITLES[0],
    ]
    ws.freeze_panes = "D2"
    for i, title in enumerate(titles, start=1):
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in title)
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 10), 30)
    bold = Font(bold=True)
    header = []
    for title in titles:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    if area is not None:
        places = Area.objects.filter(
            code__startswith=area.code, level__in=list(facts.LEVELS)
        ).order_by("code")
        stored = {
            f.area_id: f
            for f in AreaFacts.objects.filter(area__code__startswith=area.code, year=year)
        }
        for place in places.iterator(chunk_size=2000):
            record = stored.get(place.code)
            cells: list[Any] = [place.code, place.name, year]
            for fact in facts.FACTS:
                value = getattr(record, fact.name) if record is not None else None
                if not fact.for_level(place.level):
                    cells.append(None)
                elif isinstance(value, bool):
                    cells.append("是" if value else "否")
                else:
                    cells.append(facts.plain(value))
            cells += [record.source if record else "", record.notes if record else ""]
            ws.append(cells)
    help_sheet: Any = wb.create_sheet(HELP_SHEET_TITLE)
    help_sheet.append([_("Column"), _("Meaning"), _("Village"), _("County")])
    for fact in facts.FACTS:
        help_sheet.append(
            [
                fact.title,
                str(facts.verbose_name(fact.name)),
                "✓" if fact.for_level(AreaLevel.VILLAGE) else "",
                "✓" if fact.for_level(AreaLevel.COUNTY) else "",
            ]
        )
    # The reader (python-calamine) gives a cell's value, not its number format: a cell
    # formatted as a percentage holding 0.95 for "95%" would be read as 0.95%.
    help_sheet.append([])
    help_sheet.append(
        [
            _(
                "Percentages (%) are numbers from 0 to 100: type 95 for 95%. A cell formatted "
                "as a percentage holds 0.95 and is read as 0.95%: format the column as a number."
            )
        ]
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
