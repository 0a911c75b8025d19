"""The warning, run, event, case and return lists as django-tables2 tables (like
fupin/exit/tables.py), paginated, each row linking to its page."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fupin.monitor.models import (
    MonitoringCase,
    ReturnCase,
    RiskEvent,
    RiskWarning,
    WarningRun,
)

PER_PAGE = 50
LEVEL_CLASS = {"red": "danger", "orange": "warning", "yellow": "info"}


def level_badge(level: str, label: Any) -> str:
    return format_html(
        '<span class="badge text-bg-{} warning-level-{}">{}</span>',
        LEVEL_CLASS.get(level, "secondary"),
        level,
        label,
    )


def _household_link(record: Any) -> str:
    h = record.household
    return format_html(
        '<a href="{}">{}</a> <span class="small text-body-secondary">{}</span>',
        reverse("registry:household_detail", args=[h.pk]),
        h.head_name,
        h.code,
    )


class WarningTable(tables.Table):
    id = tables.Column(
        verbose_name="#", linkify=lambda record: reverse("monitor:warning_detail", args=[record.pk])
    )
    level = tables.Column(verbose_name=_("Level"))
    rule = tables.Column(verbose_name=_("Warning"), order_by=("rule",))
    household = tables.Column(
        verbose_name=_("Household"), empty_values=(), order_by=("household__code",)
    )
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="household__village__name",
        order_by=("household__village_id",),
    )
    category = tables.Column(verbose_name=_("Monitoring category"))
    first_raised_on = tables.DateColumn(verbose_name=_("Raised on"), format="Y-m-d")
    due_on = tables.DateColumn(verbose_name=_("Response due"), format="Y-m-d")
    state = tables.Column(verbose_name=_("State"))

    class Meta:
        model = RiskWarning
        fields = (
            "id", "level", "rule", "household", "village", "category", "first_raised_on",
            "due_on", "state",
        )  # fmt: skip
        attrs = {"class": "table table-sm table-hover align-middle warning-table"}
        empty_text = _("No warning.")
        per_page = PER_PAGE

    def render_level(self, record: RiskWarning) -> str:
        return level_badge(record.level, record.get_level_display())

    def render_rule(self, record: RiskWarning) -> str:
        return record.label

    def render_household(self, record: RiskWarning) -> str:
        return _household_link(record)

    def render_category(self, record: RiskWarning) -> str:
        return record.get_category_display()

    def render_due_on(self, value: Any, record: RiskWarning) -> str:
        if record.is_overdue(timezone.localdate()):
            return format_html(
                '<span class="text-danger fw-semibold warning-overdue">{} · {}</span>',
                value.isoformat(),
                _("overdue"),
            )
        return value.isoformat()

    def render_state(self, record: RiskWarning) -> str:
        return format_html(
            '<span class="badge text-bg-secondary warning-state-{}">{}</span>',
            record.state,
            record.get_state_display(),
        )


class RunTable(tables.Table):
    started_at = tables.DateTimeColumn(verbose_name=_("Started"), format="Y-m-d H:i")
    area = tables.Column(verbose_name=_("Area"), accessor="area__name", order_by=("area_id",))
    on = tables.DateColumn(verbose_name=_("Evaluated on"), format="Y-m-d")
    rules_name = tables.Column(verbose_name=_("Rules"), empty_values=())
    poverty_line = tables.Column(verbose_name=_("Poverty line (yuan)"))
    households = tables.Column(verbose_name=_("Households evaluated"))
    warnings = tables.Column(verbose_name=_("Warnings raised"))
    red = tables.Column(verbose_name=_("Red"))
    orange = tables.Column(verbose_name=_("Orange"))
    yellow = tables.Column(verbose_name=_("Yellow"))
    new = tables.Column(verbose_name=_("New"))
    cleared = tables.Column(verbose_name=_("Cleared"))
    started_by = tables.Column(verbose_name=_("Started by"), empty_values=())

    class Meta:
        model = WarningRun
        fields = (
            "started_at", "area", "on", "rules_name", "poverty_line", "households", "warnings",
            "red", "orange", "yellow", "new", "cleared", "started_by",
        )  # fmt: skip
        attrs = {"class": "table table-sm table-hover align-middle run-table"}
        empty_text = _("No warning run yet.")
        per_page = PER_PAGE

    def render_rules_name(self, record: WarningRun) -> str:
        return f"{record.rules_name} {record.rules_version}"

    def render_poverty_line(self, value: Any) -> str:
        return f"{value:,.0f}"

    def render_started_by(self, record: WarningRun) -> str:
        if record.job_id:
            return format_html(
                '<a href="{}">{}</a>',
                reverse("jobs:detail", args=[record.job_id]),
                record.started_by or _("system"),
            )
        return str(record.started_by or _("system"))


class EventTable(tables.Table):
    date = tables.DateColumn(verbose_name=_("Date"), format="Y-m-d")
    kind = tables.Column(verbose_name=_("Kind of event"))
    household = tables.Column(
        verbose_name=_("Household"), empty_values=(), order_by=("household__code",)
    )
    person = tables.Column(verbose_name=_("Person"), accessor="person__name", default="—")
    amount = tables.Column(verbose_name=_("Amount (yuan)"), default="—")
    source = tables.Column(verbose_name=_("Reported by"))
    note = tables.Column(verbose_name=_("Note"), default="")

    class Meta:
        model = RiskEvent
        fields = ("date", "kind", "household", "person", "amount", "source", "note")
        attrs = {"class": "table table-sm table-hover align-middle event-table"}
        empty_text = _("No risk event recorded.")
        per_page = PER_PAGE

    def render_kind(self, record: RiskEvent) -> str:
        from fupin.monitor.services import event_kind_label

        return event_kind_label(record.kind)

    def render_household(self, record: RiskEvent) -> str:
        return _household_link(record)

    def render_amount(self, value: Any) -> str:
        return f"{value:,.2f}"


class CaseTable(tables.Table):
    household = tables.Column(
        verbose_name=_("Household"), empty_values=(), order_by=("household__code",)
    )
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="household__village__name",
        order_by=("household__village_id",),
    )
    category = tables.Column(verbose_name=_("Monitoring category"))
    risk = tables.Column(verbose_name=_("Risk"))
    started_on = tables.DateColumn(verbose_name=_("Monitored since"), format="Y-m-d")
    ended_on = tables.Column(verbose_name=_("Ended"), empty_values=())
    reason = tables.Column(verbose_name=_("Reason"))

    class Meta:
        model = MonitoringCase
        fields = ("household", "village", "category", "risk", "started_on", "ended_on", "reason")
        attrs = {"class": "table table-sm table-hover align-middle case-table"}
        empty_text = _("No monitored household.")
        per_page = PER_PAGE

    def render_household(self, record: MonitoringCase) -> str:
        return _household_link(record)

    def render_ended_on(self, record: MonitoringCase) -> str:
        if record.ended_on is None:
            return format_html('<span class="badge text-bg-warning">{}</span>', _("Monitored now"))
        return f"{record.ended_on.isoformat()} · {record.get_end_reason_display()}"

    def render_reason(self, value: str) -> str:
        return value if len(value) <= 60 else value[:59] + "…"


class ReturnTable(tables.Table):
    id = tables.Column(
        verbose_name="#", linkify=lambda record: reverse("monitor:return_detail", args=[record.pk])
    )
    household = tables.Column(
        verbose_name=_("Household"), empty_values=(), order_by=("household__code",)
    )
    village = tables.Column(
        verbose_name=_("Village"),
        accessor="household__village__name",
        order_by=("household__village_id",),
    )
    opened_at = tables.DateColumn(verbose_name=_("Opened"), format="Y-m-d")
    steps_done = tables.Column(verbose_name=_("Steps done"))
    state = tables.Column(verbose_name=_("State"))
    closed_on = tables.DateColumn(verbose_name=_("Decided on"), format="Y-m-d", default="—")

    class Meta:
        model = ReturnCase
        fields = ("id", "household", "village", "opened_at", "steps_done", "state", "closed_on")
        attrs = {"class": "table table-sm table-hover align-middle return-table"}
        empty_text = _("No return case.")
        per_page = PER_PAGE

    def render_household(self, record: ReturnCase) -> str:
        return _household_link(record)

    def render_steps_done(self, record: ReturnCase) -> str:
        return f"{record.steps_done} / {len(record.procedure.get('steps', []))}"

    def render_state(self, record: ReturnCase) -> str:
        return format_html(
            '<span class="badge text-bg-secondary return-state-{}">{}</span>',
            record.state,
            record.get_state_display(),
        )
