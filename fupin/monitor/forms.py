"""Monitoring forms: the 351 calculator, the exchange's creation and answer, list filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.core.models import Area, AreaLevel
from fupin.core.scoping import area_prefix
from fupin.monitor import policy, services
from fupin.registry.enums import Schooling


class SettlementForm(forms.Form):
    """The 351 calculator's input (GET: a result can be linked and printed)."""

    bill = forms.DecimalField(
        label=_("Eligible bill (yuan)"),
        min_value=Decimal("0"),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
        max_digits=12,
        decimal_places=2,
    )
    level = forms.ChoiceField(label=_("Hospital level"), choices=())
    paid_this_year = forms.DecimalField(
        label=_("Already paid out of pocket this year (yuan)"),
        min_value=Decimal("0"),
        initial=Decimal("0"),
        required=False,
        help_text=_("At every hospital level, since 1 January."),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
        max_digits=12,
        decimal_places=2,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [  # type: ignore[attr-defined]
            (level.code, level.label) for level in policy.health().levels.values()
        ]

    def clean_paid_this_year(self) -> Decimal:
        return self.cleaned_data.get("paid_this_year") or Decimal("0")


class ExchangeCreateForm(forms.Form):
    area = forms.ModelChoiceField(label=_("Area"), queryset=Area.objects.none())
    school_year = forms.IntegerField(
        label=_("School year (first year)"),
        help_text=_("2024 is the 2024–2025 school year: aid from 1 August 2024 to 31 July 2025."),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefix = area_prefix(user) or ""
        field: Any = self.fields["area"]
        field.queryset = Area.objects.filter(
            code__startswith=prefix, level__lte=AreaLevel.TOWNSHIP
        ).order_by("code")
        field.initial = getattr(user, "area_id", None)
        self.fields["school_year"].initial = services.default_school_year(timezone.localdate())


class AnswerImportForm(forms.Form):
    file = forms.FileField(
        label=_("Answer of the education department (xlsx or CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)
    background = forms.BooleanField(label=_("Run in the background"), required=False)


class UnaidedFilterForm(forms.Form):
    area = forms.CharField(label=_("Area code"), required=False, max_length=12)
    school = forms.CharField(
        label=_("School"),
        required=False,
        max_length=100,
        help_text=_("Part of the name; “-” for children without a school."),
    )
    stage = forms.ChoiceField(label=_("Schooling"), required=False, choices=())
    answer = forms.ChoiceField(
        label=_("Answer"),
        required=False,
        choices=[
            ("", _("Not aided (answered no, or not answered)")),
            ("no", _("Answered no")),
            ("none", _("Not answered")),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", "—"), *Schooling.choices]  # type: ignore[attr-defined]


class HealthFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Insurance"), required=False, choices=list(services.INSURANCE_LABELS.items())
    )
    level = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[
            ("county", _("County")),
            ("township", _("Township")),
            ("village", _("Village")),
        ],
    )
    area = forms.CharField(label=_("Area code"), required=False, max_length=12)
