"""One filterset drives the household list page, its form, the API and exports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fupin.core.validators import normalize_id_number, upgrade_15_to_18
from fupin.registry import enums, quality
from fupin.registry.models import Household

#: Income bands (元 per person per year); bounds chosen around the 2016 line of 2,952 and
#: the 1.5× monitoring multiple, so the list answers "who is near the line".
INCOME_BANDS: dict[str, tuple[Decimal | None, Decimal | None, Any]] = {
    "none": (None, None, _("Not recorded")),
    "lt3000": (None, Decimal("3000"), _("Below 3,000")),
    "3000_4500": (Decimal("3000"), Decimal("4500"), _("3,000–4,500")),
    "4500_8000": (Decimal("4500"), Decimal("8000"), _("4,500–8,000")),
    "ge8000": (Decimal("8000"), None, _("8,000 and above")),
}


class HouseholdFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    area = django_filters.CharFilter(method="filter_area", label=_("Area code"))
    status = django_filters.MultipleChoiceFilter(
        choices=enums.HouseholdStatus.choices, label=_("Status")
    )
    cause = django_filters.ChoiceFilter(
        choices=enums.PovertyCause.choices, method="filter_cause", label=_("Cause of poverty")
    )
    attribute = django_filters.ChoiceFilter(
        choices=enums.PovertyAttribute.choices, label=_("Poverty attribute")
    )
    income_band = django_filters.ChoiceFilter(
        choices=[(k, v[2]) for k, v in INCOME_BANDS.items()],
        method="filter_income_band",
        label=_("Income band"),
    )
    quality = django_filters.ChoiceFilter(
        choices=lambda: [("any", _("Any problem")), *quality.TITLES.items()],
        method="filter_quality",
        label=_("Data-quality problem"),
    )
    # A closed choice, not BooleanFilter: that one reads "abc" as "no filter" and lists
    # everything; a value it cannot read must be refused.
    poor_village = django_filters.ChoiceFilter(
        choices=[("true", _("Yes")), ("false", _("No"))],
        method="filter_poor_village",
        label=_("In a poor village"),
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("code", "code"),
            ("head_name", "head_name"),
            ("people", "people"),
            ("per_capita_income", "per_capita_income"),
            ("status", "status"),
            ("updated_at", "updated_at"),
        ),
        label=_("Order by"),
    )

    class Meta:
        model = Household
        fields = [
            "q",
            "area",
            "status",
            "cause",
            "attribute",
            "income_band",
            "quality",
            "poor_village",
        ]

    def filter_poor_village(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(village__is_poor_village=(value == "true"))

    def filter_q(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return qs
        cond = Q(code__startswith=value) | Q(head_name__contains=value)
        cond |= Q(members__name__contains=value, members__left_on__isnull=True)
        number = normalize_id_number(value)
        if len(number) == 15 and number.isdigit():
            number = upgrade_15_to_18(number)
        if len(number) == 18:
            cond |= Q(members__id_number=number)
        return qs.filter(cond).distinct()

    def filter_area(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        # `village__code` is the FK's own column (Area's primary key): no join, and unlike
        # `village_id`, Django accepts `startswith` on it.
        return qs.filter(village__code__startswith=value.strip()) if value.strip() else qs

    def filter_cause(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(Q(main_cause=value) | Q(other_causes__contains=f",{value},"))

    def filter_income_band(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "none":
            return qs.filter(per_capita_income__isnull=True)
        low, high, _label = INCOME_BANDS[value]
        if low is not None:
            qs = qs.filter(per_capita_income__gte=low)
        if high is not None:
            qs = qs.filter(per_capita_income__lt=high)
        return qs

    def filter_quality(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "any":
            return qs.filter(quality_issues__isnull=False).distinct()
        return qs.filter(quality_issues__rule=value).distinct()
