"""The campaign list as a django-tables2 table, like the household list."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.identify.models import Campaign

PER_PAGE = 50


class CampaignTable(tables.Table):
    name = tables.Column(
        verbose_name=_("Campaign name"),
        linkify=lambda record: reverse("identify:campaign_detail", args=[record.pk]),
    )
    area = tables.Column(verbose_name=_("Area"), accessor="area__name", order_by=("area_id",))
    year = tables.Column(verbose_name=_("Year"))
    scorecard = tables.Column(verbose_name=_("Scorecard"), order_by=("scorecard__name",))
    status = tables.Column(verbose_name=_("Status"))
    created_at = tables.DateColumn(verbose_name=_("Created"), format="Y-m-d")

    class Meta:
        model = Campaign
        fields = ("name", "area", "year", "scorecard", "status", "created_at")
        order_by = ("-year",)
        attrs = {"class": "table table-sm table-hover align-middle campaign-table"}
        empty_text = _("No identification campaign covers your area yet.")
        per_page = PER_PAGE

    def render_status(self, value: Any, record: Campaign) -> str:
        return format_html(
            '<span class="badge text-bg-secondary campaign-status-{}">{}</span>',
            record.status,
            record.get_status_display(),
        )
