"""The warning, event and case lists' filters (django-filter), like the household list's."""

from __future__ import annotations

from functools import cache
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.monitor.models import (
    EventKind,
    MonitoringCase,
    MonitoringCategory,
    ReturnCase,
    ReturnState,
    RiskEvent,
    RiskWarning,
    WarningLevel,
    WarningState,
)


def rule_choices() -> list[tuple[str, str]]:
    """The rules of every rules file the policy names (policy/warnings.toml), by label:
    read from the files (cached), not from the stored warnings."""
    from django.utils.translation import get_language

    zh = (get_language() or "zh-hans").startswith("zh")
    seen: dict[str, str] = {}
    for rules in _policy_rules():
        for rule in rules.rules:
            seen.setdefault(rule.code, rule.label if zh else rule.label_en)
    return sorted(seen.items())


@cache
def _policy_rules() -> tuple[Any, ...]:
    from engine.warnings import load_rules
    from fupin.monitor import policy

    paths = sorted({choice.path for choice in policy.warnings().provinces})
    return tuple(load_rules(path) for path in paths)


def _area(qs: QuerySet, name: str, value: str) -> QuerySet:
    return qs.in_area(value.strip()) if value.strip() else qs  # type: ignore[attr-defined]


class WarningFilterSet(django_filters.FilterSet):
    area = django_filters.CharFilter(method=_area, label=_("Area code"))
    level = django_filters.ChoiceFilter(choices=WarningLevel.choices, label=_("Level"))
    state = django_filters.ChoiceFilter(choices=WarningState.choices, label=_("State"))
    rule = django_filters.ChoiceFilter(choices=(), label=_("Warning"))
    category = django_filters.ChoiceFilter(
        choices=MonitoringCategory.choices, label=_("Monitoring category")
    )
    overdue = django_filters.ChoiceFilter(
        choices=[("yes", _("Overdue only"))], method="filter_overdue", label=_("Overdue")
    )

    class Meta:
        model = RiskWarning
        fields = ["area", "level", "state", "rule", "category", "overdue"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["rule"].extra["choices"] = rule_choices()

    def filter_overdue(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value != "yes":
            return qs
        return qs.filter(state=WarningState.OPEN, due_on__lt=timezone.localdate())


class EventFilterSet(django_filters.FilterSet):
    area = django_filters.CharFilter(method=_area, label=_("Area code"))
    kind = django_filters.ChoiceFilter(choices=EventKind.choices, label=_("Kind of event"))
    source = django_filters.CharFilter(lookup_expr="icontains", label=_("Reported by"))

    class Meta:
        model = RiskEvent
        fields = ["area", "kind", "source"]


class CaseFilterSet(django_filters.FilterSet):
    area = django_filters.CharFilter(method=_area, label=_("Area code"))
    category = django_filters.ChoiceFilter(
        choices=MonitoringCategory.choices, label=_("Monitoring category")
    )
    open = django_filters.ChoiceFilter(
        choices=[("yes", _("Monitored now")), ("no", _("Ended"))],
        method="filter_open",
        label=_("Open"),
    )

    class Meta:
        model = MonitoringCase
        fields = ["area", "category", "open"]

    def filter_open(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(ended_on__isnull=(value == "yes"))


class ReturnFilterSet(django_filters.FilterSet):
    area = django_filters.CharFilter(method=_area, label=_("Area code"))
    state = django_filters.ChoiceFilter(choices=ReturnState.choices, label=_("State"))

    class Meta:
        model = ReturnCase
        fields = ["area", "state"]


def applied(filterset: Any) -> dict[str, Any]:
    """The filters given and valid (for links that keep them)."""
    if not filterset.is_bound or not filterset.form.is_valid():
        return {}
    return {k: v for k, v in filterset.form.cleaned_data.items() if v}
