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
    #: The page's section (services.SECTIONS); blank: the 应助未助 list itself (answered 否),
    #: what the county office publishes (seed 004). Chosen by the page's tabs.
    section = forms.ChoiceField(
        label=_("Section"),
        required=False,
        choices=[("", "—"), *services.SECTION_LABELS.items()],
        widget=forms.HiddenInput,
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


# ======================================================================================
# Return-to-poverty warnings: events, responses, monitoring, return cases
# ======================================================================================


class EventForm(forms.Form):
    """A risk event of one household (the household is the page's)."""

    kind = forms.ChoiceField(label=_("Kind of event"), choices=())
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text=_("Required for a medical expense or a disaster."),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    person: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Person"), required=False, queryset=None
    )
    source = forms.CharField(
        label=_("Reported by"),
        max_length=50,
        widget=forms.TextInput(attrs={"list": "event-sources"}),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, household: Any, **kwargs: Any) -> None:
        from fupin.monitor.models import EventKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [  # type: ignore[attr-defined]
            (code, services.event_kind_label(code)) for code in EventKind.values
        ]
        field: Any = self.fields["person"]
        field.queryset = household.members.filter(left_on__isnull=True).order_by("relation", "pk")
        field.label_from_instance = lambda m: m.name


class EventImportForm(forms.Form):
    area = forms.CharField(label=_("Area code"), max_length=12)
    file = forms.FileField(
        label=_("Department file of events (xlsx or CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    source = forms.CharField(
        label=_("Reported by"),
        required=False,
        max_length=50,
        help_text=_("For rows whose 来源 column is empty."),
        widget=forms.TextInput(attrs={"list": "event-sources"}),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class RespondForm(forms.Form):
    """Answer a warning with a visit or a measure already recorded, or a new visit."""

    visit: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("A visit already recorded"), required=False, queryset=None
    )
    measure: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("A measure already recorded"), required=False, queryset=None
    )
    new_visit_date = forms.DateField(
        label=_("Or record a visit: date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    new_visit_work = forms.CharField(
        label=_("What was done on the visit"), required=False, widget=forms.Textarea({"rows": 2})
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea({"rows": 2}))

    def __init__(self, *args: Any, warning: Any, **kwargs: Any) -> None:
        from fupin.support.models import Measure, Visit

        super().__init__(*args, **kwargs)
        visits: Any = self.fields["visit"]
        visits.queryset = Visit.objects.filter(
            household_id=warning.household_id, date__gte=warning.first_raised_on
        ).order_by("-date")
        visits.label_from_instance = lambda v: f"{v.date} · {v.work_done[:40]}"
        measures: Any = self.fields["measure"]
        measures.queryset = Measure.objects.filter(
            plan__household_id=warning.household_id
        ).order_by("-starts_on")
        measures.label_from_instance = lambda m: f"{m.starts_on} · {m.kind} · {m.target[:40]}"


class DismissForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for dismissing"), widget=forms.Textarea({"rows": 2}), required=False
    )


class MonitoringForm(forms.Form):
    category = forms.ChoiceField(label=_("Monitoring category"), choices=())
    risk = forms.ChoiceField(label=_("Main risk"), choices=())
    started_on = forms.DateField(
        label=_("Monitored since"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea({"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from fupin.monitor.models import MonitoringCategory, RiskType

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = MonitoringCategory.choices  # type: ignore[attr-defined]
        self.fields["risk"].choices = RiskType.choices  # type: ignore[attr-defined]
        self.fields["started_on"].initial = timezone.localdate()


class EndMonitoringForm(forms.Form):
    ended_on = forms.DateField(label=_("Ended"), widget=forms.DateInput(attrs={"type": "date"}))
    end_reason = forms.ChoiceField(label=_("Why it ended"), choices=())
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea({"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from fupin.monitor.models import CaseEnd

        super().__init__(*args, **kwargs)
        # "Returned to poverty" is set only by a return case's county decision.
        self.fields["end_reason"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in CaseEnd.choices if value != CaseEnd.RETURNED
        ]
        self.fields["ended_on"].initial = timezone.localdate()


class OpenReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the household may have returned to poverty"),
        widget=forms.Textarea({"rows": 2}),
        required=False,
    )


class ReturnStepForm(forms.Form):
    code = forms.CharField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=(), widget=forms.RadioSelect)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        label=_("What the step found"), widget=forms.Textarea({"rows": 3}), required=False
    )
    attachment = forms.FileField(label=_("Record (scan or photo)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from fupin.monitor.models import Outcome

        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = Outcome.choices  # type: ignore[attr-defined]
        self.fields["date"].initial = timezone.localdate()


class RunForm(forms.Form):
    area = forms.CharField(label=_("Area code"), max_length=12)
    on = forms.DateField(
        label=_("Evaluated on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
