"""The exit round list as a django-tables2 table, like the campaign list."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.exit.models import ExitRound

PER_PAGE = 50


class RoundTable(tables.Table):
    name = tables.Column(
        verbose_name=_("Round name"),
        linkify=lambda record: reverse("exit:round_detail", args=[record.pk]),
    )
    area = tables.Column(verbose_name=_("Area"), accessor="area__name", order_by=("area_id",))
    year = tables.Column(verbose_name=_("Year"))
    procedure = tables.Column(verbose_name=_("Procedure"), orderable=False, empty_values=())
    status = tables.Column(verbose_name=_("Status"))
    created_at = tables.DateColumn(verbose_name=_("Created"), format="Y-m-d")

    class Meta:
        model = ExitRound
        fields = ("name", "area", "year", "procedure", "status", "created_at")
        order_by = ("-year",)
        attrs = {"class": "table table-sm table-hover align-middle round-table"}
        empty_text = _("No exit round covers your area yet.")
        per_page = PER_PAGE

    def render_procedure(self, record: ExitRound) -> str:
        return record.procedure_label

    def render_status(self, value: Any, record: ExitRound) -> str:
        return format_html(
            '<span class="badge text-bg-secondary round-status-{}">{}</span>',
            record.status,
            record.get_status_display(),
        )
