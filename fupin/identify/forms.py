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
from fupin.identify import policy, verification
from fupin.identify.models import (
    DUPLICATE,
    Campaign,
    DepartmentDataset,
    FindingEffect,
    FindingStatus,
    Scorecard,
)
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


# --------------------------------------------------------------------------------------
# Cross-department verification (数据比对; services in fupin.identify.verification)
# --------------------------------------------------------------------------------------


def _verification_kinds() -> list[tuple[str, str]]:
    return [(k.code, f"{k.label} · {k.department}") for k in verification.kinds().values()]


def _reachable_areas(user: Any) -> list[tuple[str, str]]:
    prefix = area_prefix(user)
    areas = Area.objects.exclude(level=AreaLevel.VILLAGE).order_by("code")
    areas = areas.none() if prefix is None else areas.filter(code__startswith=prefix)
    return [(a.code, _area_label(a)) for a in areas]


class DatasetUploadForm(forms.Form):
    """A department's records: the kind, the area they cover, and the file."""

    kind = forms.ChoiceField(label=_("Kind of records"))
    area = forms.ChoiceField(label=_("Area covered"))
    label = forms.CharField(
        label=_("Version label"),
        max_length=200,
        required=False,
        help_text=_("E.g. the department and the date of the data: 公安车管 2016-12."),
    )
    received_on = forms.DateField(label=_("Received on"), widget=DATE_WIDGET)
    source_note = forms.CharField(
        label=_("Source"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Who sent the data, how, and under which letter."),
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "Parquet, CSV or xlsx with the columns record_id, id_number, name and the "
            "kind's own columns."
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = _verification_kinds()
        cast(forms.ChoiceField, self.fields["area"]).choices = _reachable_areas(user)
        self.fields["area"].initial = getattr(user, "area_id", None) or ""
        self.fields["received_on"].initial = timezone.localdate()


class DatasetChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        kind = verification.kind_label(obj.kind)
        return f"{kind} v{obj.version} · {obj.label} · {obj.area_id} · {obj.rows}"


class RunForm(forms.Form):
    """A verification run: the area and the datasets (one version per kind)."""

    area = forms.ChoiceField(label=_("Area"))
    datasets = DatasetChoiceField(
        label=_("Department datasets"),
        queryset=DepartmentDataset.objects.none(),
        required=False,  # the service says "choose the datasets", in one place
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, user: Any, datasets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["area"]).choices = _reachable_areas(user)
        self.fields["area"].initial = getattr(user, "area_id", None) or ""
        cast(DatasetChoiceField, self.fields["datasets"]).queryset = datasets


class FindingFilterForm(forms.Form):
    """The review queue's filters (GET)."""

    area = forms.CharField(label=_("Area code"), required=False, max_length=12)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    effect = forms.ChoiceField(label=_("Effect"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    method = forms.ChoiceField(label=_("Match method"), required=False)
    run = forms.IntegerField(label=_("Run"), required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = [("", _("All"))]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            *blank,
            *((c, verification.kind_label(c)) for c, _label in _verification_kinds()),
            (DUPLICATE, verification.kind_label(DUPLICATE)),
        ]
        cast(forms.ChoiceField, self.fields["effect"]).choices = [*blank, *FindingEffect.choices]
        cast(forms.ChoiceField, self.fields["status"]).choices = [*blank, *FindingStatus.choices]
        cast(forms.ChoiceField, self.fields["method"]).choices = [
            *blank,
            *((m, m) for m in verification.MATCH_METHODS),
        ]


class FindingDecisionForm(forms.Form):
    """Confirm or dismiss one finding, with the reason (required by the service)."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("confirm", _("Confirm")), ("dismiss", _("Dismiss"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    date = forms.DateField(
        label=_("Date"),
        widget=DATE_WIDGET,
        required=False,
        help_text=_("The date of the exclusion, for a confirmed exclusion."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()
