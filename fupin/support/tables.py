"""Support pages: tables. Sections by subject, in the order of services.py."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.support import policy
from fupin.support.models import Cadre, Need, ResidentTeam

# ======================================================================================
# Cadres and pairings, rectification lists
# ======================================================================================

CADRE_PER_PAGE = 50


class CadreTable(tables.Table):
    name = tables.Column(
        verbose_name=_("Name"),
        linkify=lambda record: reverse("support:cadre_detail", args=[record.pk]),
    )
    employer = tables.Column(verbose_name=_("Employer"))
    post = tables.Column(verbose_name=_("Post"))
    level = tables.Column(verbose_name=_("Level"))
    area = tables.Column(verbose_name=_("Area"), accessor="area__name", order_by=("area_id",))
    in_service = tables.BooleanColumn(verbose_name=_("In-service cadre"))
    households = tables.Column(verbose_name=_("Households now"))
    active = tables.BooleanColumn(verbose_name=_("Active"))

    class Meta:
        model = Cadre
        fields = ("name", "employer", "post", "level", "area", "in_service", "households")
        attrs = {"class": "table table-sm table-hover align-middle cadre-table"}
        empty_text = _("No support cadre in this area.")
        per_page = CADRE_PER_PAGE

    def render_households(self, value: int) -> Any:
        limit = policy.rules().pairing.max_households_per_cadre
        if value > limit:
            return format_html('<span class="badge text-bg-danger">{}</span>', value)
        return value


# ======================================================================================
# Resident teams, check-ins and attendance
# ======================================================================================


TEAM_PER_PAGE = 50


class TeamTable(tables.Table):
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="village__name",
        order_by=("village_id",),
        linkify=lambda record: reverse("support:team_detail", args=[record.pk]),
    )
    township = tables.Column(
        verbose_name=_("Township"), accessor="village__parent__name", order_by=("village_id",)
    )
    sending_unit = tables.Column(verbose_name=_("Sending unit"))
    term_start = tables.DateColumn(verbose_name=_("Term starts"), format="Y-m-d")
    term_end = tables.DateColumn(verbose_name=_("Term ends"), format="Y-m-d")
    active_members = tables.Column(verbose_name=_("Members"), orderable=False)

    class Meta:
        model = ResidentTeam
        fields = ("village", "township", "sending_unit", "term_start", "term_end")
        attrs = {"class": "table table-sm table-hover align-middle team-table"}
        empty_text = _("No resident team in this area.")
        per_page = TEAM_PER_PAGE


# ======================================================================================
# Plans, measures, visits, ledgers, booklet
# ======================================================================================


# ======================================================================================
# Social help
# ======================================================================================

NEED_PER_PAGE = 50


class NeedTable(tables.Table):
    title = tables.Column(
        verbose_name=_("Title"),
        linkify=lambda record: reverse("support:need_detail", args=[record.pk]),
    )
    village = tables.Column(
        verbose_name=_("Village"), accessor="village__name", order_by=("village_id",)
    )
    household = tables.Column(verbose_name=_("Household"), accessor="household__code", default="—")
    amount = tables.Column(verbose_name=_("Estimated amount (yuan)"))
    status = tables.Column(verbose_name=_("Stage"))
    donor = tables.Column(verbose_name=_("Donor"))
    grade = tables.Column(verbose_name=_("Grade"))
    created_at = tables.DateColumn(verbose_name=_("Submitted on"), format="Y-m-d")

    class Meta:
        model = Need
        fields = ("title", "village", "household", "amount", "status", "donor", "grade")
        sequence = (
            "title",
            "village",
            "household",
            "amount",
            "status",
            "donor",
            "grade",
            "created_at",
        )
        attrs = {"class": "table table-sm table-hover align-middle need-table"}
        empty_text = _("No social-help need in this area.")
        per_page = NEED_PER_PAGE
