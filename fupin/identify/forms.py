"""Forms of the identification pages.

As in the registry, the forms only parse what the user typed; the rules (who may open a
campaign where, valid quotas, the order of the procedure, notice periods) are checked by
`fupin.identify.services`, and the view maps its ValidationError back onto the form with
`fupin.core.forms.apply_errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.core.models import Area, AreaLevel
from fupin.core.scoping import area_prefix
from fupin.identify import policy
from fupin.identify.models import Campaign, Scorecard
from fupin.registry.forms import MultipleFileField

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _area_label(area: Area) -> str:
    return f"{area.name} {area.code}"


class CampaignForm(forms.Form):
    """A new campaign: where, which year, which scorecard, line and procedure."""

    area = forms.ChoiceField(label=_("Area"))
    name = forms.CharField(label=_("Campaign name"), max_length=200, required=False)
    year = forms.IntegerField(label=_("Year"))
    scorecard = forms.ModelChoiceField(label=_("Scorecard"), queryset=Scorecard.objects.none())
    poverty_line = forms.DecimalField(
        label=_("Poverty line (yuan per person per year)"),
        required=False,
        max_digits=9,
        decimal_places=2,
    )
    procedure = forms.ChoiceField(label=_("Procedure"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefix = area_prefix(user)
        areas = Area.objects.filter(
            level__in=(AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY)
        ).order_by("code")
        areas = areas.none() if prefix is None else areas.filter(code__startswith=prefix)
        cast(forms.ChoiceField, self.fields["area"]).choices = [
            (a.code, _area_label(a)) for a in areas
        ]
        cast(forms.ModelChoiceField, self.fields["scorecard"]).queryset = Scorecard.objects.all()
        procedures = policy.procedures()
        cast(forms.ChoiceField, self.fields["procedure"]).choices = [
            (p.code, p.label) for p in procedures.values()
        ]
        year = timezone.localdate().year
        self.fields["year"].initial = year
        line = policy.poverty_line(year)
        if line is not None:
            self.fields["poverty_line"].help_text = _(
                "Leave empty for the national line of the year (%(year)s: %(line)s yuan)."
            ) % {"year": year, "line": line}
        own = getattr(user, "area_id", None) or ""
        if own and any(code == own for code, _label in self.fields["area"].choices):  # type: ignore[attr-defined]
            self.fields["area"].initial = own
        shipped = policy.procedure_for(own) if own else None
        if shipped is not None:
            self.fields["procedure"].initial = shipped.code
        self.fields["scorecard"].initial = Scorecard.objects.order_by("-effective").first()


class QuotasForm(forms.Form):
    """One quota of poor people per county (the statistics bureau's figures).

    Text fields on purpose: `services.set_quotas` says what is wrong with a value, in the
    same words for the form, the file upload and the API.
    """

    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args: Any, counties: Sequence[Area], quotas: dict[str, int], **kw: Any):
        super().__init__(*args, **kw)
        self.counties = list(counties)
        for county in self.counties:
            self.fields[self.key(county.code)] = forms.CharField(
                label=_area_label(county),
                required=False,
                initial=quotas.get(county.code, ""),
                widget=forms.TextInput(attrs={"inputmode": "numeric"}),
            )

    @staticmethod
    def key(code: str) -> str:
        return f"quota_{code}"

    def county_fields(self) -> list[forms.BoundField]:
        return [self[self.key(c.code)] for c in self.counties]

    def quotas(self) -> dict[str, str]:
        """The quotas typed in; an empty box leaves the county as it is."""
        typed = {c.code: self.cleaned_data.get(self.key(c.code)) or "" for c in self.counties}
        return {code: value.strip() for code, value in typed.items() if value.strip()}


class QuotaFileForm(forms.Form):
    file = forms.FileField(
        label=_("Quota file"),
        help_text=_("CSV or xlsx with the columns county_code and quota_people."),
    )


class StepForm(forms.Form):
    """A step of the procedure held in an area; the decisions come as extra inputs
    (`change_<id>`, `reason_<id>`), one pair per household the record covers."""

    step = forms.TypedChoiceField(label=_("Step"), coerce=int)
    area = forms.ChoiceField(label=_("Area"))
    date = forms.DateField(label=_("Date"), widget=DATE_WIDGET)
    participants = forms.CharField(
        label=_("Participants"),
        required=False,  # the service says "list who took part", in one place
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    place = forms.CharField(label=_("Place"), required=False, max_length=200)
    notes = forms.CharField(
        label=_("Remarks"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    signatures = MultipleFileField(
        label=_("Signed record"),
        required=False,  # the service refuses a record without one, with its own message
        help_text=_("Scans or photos of the signed record; several files may be chosen."),
    )

    def __init__(
        self, *args: Any, campaign: Campaign, areas: Sequence[Area], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        steps = campaign.steps
        cast(forms.TypedChoiceField, self.fields["step"]).choices = [
            (i, f"{i + 1}. {s.label}") for i, s in enumerate(steps)
        ]
        cast(forms.ChoiceField, self.fields["area"]).choices = [("", "—")] + [
            (a.code, _area_label(a)) for a in areas
        ]
        self.fields["date"].initial = timezone.localdate()


class ObjectionForm(forms.Form):
    household = forms.TypedChoiceField(label=_("Household"), coerce=int)
    raised_on = forms.DateField(label=_("Raised on"), widget=DATE_WIDGET)
    raised_by = forms.CharField(label=_("Raised by"), required=False, max_length=100)
    text = forms.CharField(
        label=_("Objection"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, households: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["household"]).choices = [
            (c.pk, f"{c.household.code} {c.household.head_name}") for c in households
        ]
        self.fields["raised_on"].initial = timezone.localdate()


class ResolveForm(forms.Form):
    upheld = forms.TypedChoiceField(
        label=_("Outcome"),
        coerce=lambda v: v == "upheld",
        choices=[("upheld", _("Upheld")), ("dismissed", _("Dismissed"))],
        widget=forms.RadioSelect,
    )
    resolution = forms.CharField(
        label=_("Resolution"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    resolved_on = forms.DateField(label=_("Resolved on"), widget=DATE_WIDGET)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resolved_on"].initial = timezone.localdate()
