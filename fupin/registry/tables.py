"""The household list as a django-tables2 table: sortable columns, 50 rows a page."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.registry import enums
from fupin.registry.models import Household, QualityIssue
from fupin.registry.templatetags.fupin_ui import money

PER_PAGE = 50

#: Short names of the poverty attributes for the narrow table column (一般 / 低保 / 特困).
ATTRIBUTE_SHORT: dict[str, Any] = {
    enums.PovertyAttribute.GENERAL: _("General"),
    enums.PovertyAttribute.DIBAO: _("Subsistence allowance"),
    enums.PovertyAttribute.TEKUN: _("Extreme-poverty support"),
}


def with_problem_counts(qs: QuerySet[Household]) -> QuerySet[Household]:
    """Annotate each household with the number of data-quality findings it has.

    A subquery, not a join, so the count stays right after filters that join members or
    findings themselves (search, quality filter).
    """
    findings = (
        QualityIssue.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("id"))
        .values("n")
    )
    return qs.annotate(problems=Coalesce(Subquery(findings, output_field=IntegerField()), Value(0)))


class StatusColumn(tables.Column):
    def render(self, value: Any, record: Household) -> str:
        return format_html(
            '<span class="badge status-badge status-{}">{}</span>',
            record.status,
            record.get_status_display(),
        )


class HouseholdTable(tables.Table):
    code = tables.Column(
        linkify=lambda record: reverse("registry:household_detail", args=[record.pk]),
        attrs={"td": {"class": "font-monospace text-nowrap"}},
    )
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="village__name",
        order_by=("village_id", "code"),
    )
    people = tables.Column(verbose_name=_("People"), attrs={"td": {"class": "text-end"}})
    status = StatusColumn()
    attribute = tables.Column(verbose_name=_("Attribute"))
    main_cause = tables.Column(verbose_name=_("Main cause"), order_by=("main_cause", "code"))
    per_capita_income = tables.Column(
        verbose_name=_("Per-capita income"),
        attrs={"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end"}},
    )
    problems = tables.Column(
        verbose_name=_("Problems"),
        attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}},
    )

    class Meta:
        model = Household
        fields = (
            "code",
            "head_name",
            "village",
            "people",
            "status",
            "attribute",
            "main_cause",
            "per_capita_income",
            "problems",
        )
        order_by = ("code",)
        template_name = "registry/_household_table.html"
        attrs = {"class": "table table-sm table-hover align-middle household-table"}
        empty_text = _("No household matches these filters.")
        per_page = PER_PAGE

    def render_village(self, value: str, record: Any) -> str:
        township = record.village.parent.name if record.village.parent_id else ""
        return format_html('<span title="{} {}">{}</span>', township, value, value)

    def render_per_capita_income(self, value: Any, record: Household) -> str:
        return format_html(
            '{} <small class="text-body-secondary">({})</small>', money(value), record.income_year
        )

    def render_problems(self, value: int, record: Household) -> str:
        if not value:
            return "0"
        return format_html('<span class="badge text-bg-warning">{}</span>', value)

    def render_attribute(self, value: Any, record: Household) -> str:
        short = ATTRIBUTE_SHORT.get(record.attribute)
        return format_html('<span title="{}">{}</span>', value, short or value)

    def render_main_cause(self, value: Any, record: Household) -> str:
        return record.get_main_cause_display()
