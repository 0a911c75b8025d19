"""CSV export of the household list: the same filtered, area-scoped rows as the page.

Streamed row by row (no cap, constant memory), UTF-8 with a byte-order mark so that Excel
on a Chinese Windows opens it as UTF-8, headers from the fields' verbose names in the
user's language. The head of household's resident ID is masked unless the user holds
`registry.view_full_id` (DESIGN.md, privacy).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from fupin.core.validators import mask_id_number
from fupin.registry import enums
from fupin.registry.models import Household, Member

BOM = "\ufeff"

#: Household fields exported, in order; the head's ID and the township are added.
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


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _field(name: str) -> models.Field:
    return cast(models.Field, Household._meta.get_field(name))


def _verbose(name: str) -> str:
    text = str(_field(name).verbose_name)
    return text[:1].upper() + text[1:]


def header(full_id: bool) -> list[str]:
    cols = [_verbose(n) for n in FIELDS]
    cols.insert(1, _("Township"))
    cols.insert(4, _("Head's resident ID") if full_id else _("Head's resident ID (masked)"))
    return cols


def _labels(choices: Any) -> dict[str, str]:
    # Evaluated now, in the request's language, not lazily while streaming.
    return {str(k): str(v) for k, v in choices}


def rows(qs: QuerySet[Household], *, full_id: bool) -> Iterator[list[Any]]:
    """The CSV rows of a (scoped, filtered) household queryset, header first.

    Labels are looked up now, in the request's language; the rows are produced later,
    while the response streams.
    """
    head_id = Member.objects.filter(
        household=OuterRef("pk"), relation=enums.Relation.HEAD, left_on__isnull=True
    ).values("id_number")[:1]
    qs = (
        qs.select_related("village", "village__parent")
        .annotate(head_id_number=Subquery(head_id))
        .order_by("code")
    )
    labels = {name: _labels(_field(name).flatchoices) for name in FIELDS if _field(name).choices}
    first = header(full_id)
    yes, no = _("Yes"), _("No")

    def cell(h: Any, name: str) -> Any:
        value: Any = getattr(h, name) if name != "village" else h.village.name
        if name == "other_causes":
            return "、".join(labels[name].get(c, c) for c in value)
        if name in labels:
            return labels[name].get(value, value)
        if isinstance(value, bool):
            return yes if value else no
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if name == "updated_at":
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        if name == "code":
            return _as_text(value)
        return "" if value is None else value

    def generate() -> Iterator[list[Any]]:
        yield first
        h: Any
        for h in qs.iterator(chunk_size=2000):
            row = [cell(h, name) for name in FIELDS]
            row.insert(1, h.village.parent.name if h.village.parent_id else "")
            number = h.head_id_number or ""
            row.insert(4, _as_text(number) if full_id else mask_id_number(number))
            yield row

    return generate()


def _as_text(value: str) -> str:
    """A long digit string Excel must not turn into 4.50102E+17 (and lose digits).

    A leading tab is the usual remedy in Chinese office exports; masked IDs contain "*"
    and are text anyway.
    """
    return "\t" + value if value else ""


def stream_csv(qs: QuerySet[Household], *, full_id: bool, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def content() -> Iterator[str]:
        yield BOM
        for row in rows(qs, full_id=full_id):
            yield writer.writerow(row)

    response = StreamingHttpResponse(content(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
