"""The campaign list as a django-tables2 table, like the household list."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.identify.models import Campaign
from fupin.identify.verification import kind_label

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


# --------------------------------------------------------------------------------------
# Cross-department verification: the review queue
# --------------------------------------------------------------------------------------


class FindingTable(tables.Table):
    """The review queue; the person's ID is not shown here (it is on the finding's page,
    masked unless the user may see full IDs)."""

    id = tables.Column(
        verbose_name=_("Finding"),
        linkify=lambda record: reverse("identify:finding_detail", args=[record.pk]),
    )
    kind = tables.Column(verbose_name=_("Kind"))
    household = tables.Column(
        verbose_name=_("Household number"),
        accessor="household__code",
        order_by=("household__code",),
    )
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="household__village__name",
        order_by=("household__village_id",),
    )
    member = tables.Column(verbose_name=_("Person"), accessor="member__name", orderable=False)
    method = tables.Column(verbose_name=_("Match method"))
    score = tables.Column(verbose_name=_("Match score"))
    effect = tables.Column(verbose_name=_("Effect"))
    status = tables.Column(verbose_name=_("Status"))

    class Meta:
        fields = (
            "id",
            "kind",
            "household",
            "village",
            "member",
            "method",
            "score",
            "effect",
            "status",
        )
        attrs = {"class": "table table-sm table-hover align-middle finding-table"}
        empty_text = _("No finding matches these filters.")
        per_page = PER_PAGE

    def render_kind(self, value: str) -> str:
        return kind_label(value)

    def render_score(self, value: float) -> str:
        return f"{value:.2f}"

    def render_effect(self, value: str, record: Any) -> str:
        return format_html(
            '<span class="badge text-bg-light border effect-{}">{}</span>',
            value,
            record.get_effect_display(),
        )

    def render_status(self, value: str, record: Any) -> str:
        return format_html(
            '<span class="badge text-bg-secondary finding-{}">{}</span>',
            value,
            record.get_status_display(),
        )
