"""Support pages: forms. Sections by subject, in the order of services.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.core.models import Area, AreaLevel, User
from fupin.core.scoping import area_prefix
from fupin.support import policy
from fupin.support.models import (
    Cadre,
    CadreLevel,
    MeasureStatus,
    NeedGrade,
    NeedStatus,
    PairingEndCause,
    TeamRole,
)

# ======================================================================================
# Cadres and pairings, rectification lists
# ======================================================================================

PAIRING_DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
#: A cadre works for an area from the province down to a township, not a village.
CADRE_AREA_LEVELS = (AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY, AreaLevel.TOWNSHIP)


def _areas_in_reach(user: Any, levels: Any) -> list[tuple[str, str]]:
    prefix = area_prefix(user)
    if prefix is None:
        return []
    areas = Area.objects.filter(level__in=levels, code__startswith=prefix).order_by("code")
    return [(a.code, f"{a.name} {a.code}") for a in areas]


class CadreForm(forms.Form):
    """A support cadre's record; the rules are checked by the services."""

    name = forms.CharField(label=_("Name"), max_length=50)
    sex = forms.ChoiceField(
        label=_("Sex"), choices=cast(list[tuple[str, str]], Cadre._meta.get_field("sex").choices)
    )
    id_number = forms.CharField(label=_("Resident ID number"), max_length=18)
    employer = forms.CharField(label=_("Employer"), max_length=200)
    post = forms.CharField(label=_("Post"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    in_service = forms.BooleanField(
        label=_("In-service cadre (在编干部) or an enterprise's middle manager"), required=False
    )
    level = forms.ChoiceField(label=_("Level of the employer"), choices=CadreLevel.choices)
    area = forms.ChoiceField(label=_("Area"))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    login = forms.TypedChoiceField(
        label=_("Login"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("The account the cadre logs in with: a user with the support-cadre role."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(label=_("Reason for the change"), max_length=500, required=False)

    def __init__(self, *args: Any, user: Any, cadre: Cadre | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["area"]).choices = _areas_in_reach(
            user, CADRE_AREA_LEVELS
        )
        prefix = area_prefix(user)
        logins = User.objects.filter(
            area__code__startswith=prefix or "", is_active=True, roles__icontains='"support_cadre"'
        )
        if prefix is None:
            logins = logins.none()
        taken = Cadre.objects.filter(user__isnull=False)
        if cadre is not None:
            taken = taken.exclude(pk=cadre.pk)
        logins = logins.exclude(pk__in=taken.values("user_id")).order_by("username")
        cast(forms.ChoiceField, self.fields["login"]).choices = [("", "—")] + [
            (u.pk, f"{u.username} {u.full_name}".strip()) for u in logins
        ]
        if cadre is None:
            del self.fields["active"]


class PairHouseholdForm(forms.Form):
    """From a cadre's page: which household, from when."""

    household = forms.TypedChoiceField(label=_("Household"), coerce=int)
    started_on = forms.DateField(label=_("Paired from"), widget=PAIRING_DATE_WIDGET)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, households: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["household"]).choices = [
            (h.pk, f"{h.code} {h.head_name} · {h.village.name}") for h in households
        ]
        self.fields["started_on"].initial = timezone.localdate()


class PairCadreForm(forms.Form):
    """From a household: which cadre, from when."""

    cadre = forms.TypedChoiceField(label=_("Cadre"), coerce=int)
    started_on = forms.DateField(label=_("Paired from"), widget=PAIRING_DATE_WIDGET)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, cadres: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["cadre"]).choices = [
            (c.pk, f"{c.name} · {c.employer} ({c.households})") for c in cadres
        ]
        self.fields["started_on"].initial = timezone.localdate()


class EndPairingForm(forms.Form):
    ended_on = forms.DateField(label=_("Ended on"), widget=PAIRING_DATE_WIDGET)
    end_cause = forms.ChoiceField(label=_("Why it ends"), choices=PairingEndCause.choices)
    end_reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class ReassignForm(forms.Form):
    """A change of cadre: the old pairing ends and the new one starts on the same day."""

    cadre = forms.TypedChoiceField(label=_("New cadre"), coerce=int)
    on = forms.DateField(label=_("From"), widget=PAIRING_DATE_WIDGET)
    end_cause = forms.ChoiceField(
        label=_("Why the old pairing ends"),
        choices=PairingEndCause.choices,
        initial=PairingEndCause.CADRE_LEFT,
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, cadres: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["cadre"]).choices = [
            (c.pk, f"{c.name} · {c.employer} ({c.households})") for c in cadres
        ]
        self.fields["on"].initial = timezone.localdate()


class CadreFilterForm(forms.Form):
    area = forms.ChoiceField(label=_("Area"), required=False)
    employer = forms.CharField(label=_("Employer"), required=False)
    over_limit = forms.BooleanField(label=_("Over the limit"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        areas = _areas_in_reach(user, CADRE_AREA_LEVELS)
        cast(forms.ChoiceField, self.fields["area"]).choices = [("", _("All my area")), *areas]


# ======================================================================================
# Resident teams, check-ins and attendance
# ======================================================================================


TEAM_DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class TeamForm(forms.Form):
    """A new resident team: which village, sent by which unit, for which term."""

    village = forms.ChoiceField(label=_("Village"))
    sending_unit = forms.CharField(label=_("Sending unit"), max_length=200, required=False)
    term_start = forms.DateField(label=_("Term starts"), widget=TEAM_DATE_WIDGET)
    term_end = forms.DateField(label=_("Term ends"), required=False, widget=TEAM_DATE_WIDGET)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefix = area_prefix(user)
        villages = Area.objects.filter(level=AreaLevel.VILLAGE).order_by("code")
        villages = villages.none() if prefix is None else villages.filter(code__startswith=prefix)
        cast(forms.ChoiceField, self.fields["village"]).choices = [("", "—")] + [
            (a.code, f"{a.name} {a.code}") for a in villages
        ]


class TeamMemberForm(forms.Form):
    cadre = forms.ModelChoiceField(label=_("Cadre"), queryset=Cadre.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=TeamRole.choices)
    joined_on = forms.DateField(label=_("Joined"), widget=TEAM_DATE_WIDGET)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["cadre"]).queryset = Cadre.objects.for_user(
            user
        ).filter(active=True)
        self.fields["joined_on"].initial = timezone.localdate()


class EndMembershipForm(forms.Form):
    left_on = forms.DateField(label=_("Last day on the team"), widget=TEAM_DATE_WIDGET)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class GeofenceForm(forms.Form):
    """The village centre and radius; text boxes so the service says what is wrong."""

    latitude = forms.CharField(
        label=_("Latitude"), widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    longitude = forms.CharField(
        label=_("Longitude"), widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    radius_m = forms.IntegerField(label=_("Radius (m)"), min_value=1)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class CheckInForm(forms.Form):
    """What the phone's browser posts: its position and how accurate it is."""

    latitude = forms.CharField()
    longitude = forms.CharField()
    accuracy = forms.CharField(required=False)


# ======================================================================================
# Plans, measures, visits, ledgers, booklet
# ======================================================================================

PLAN_DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PlanForm(forms.Form):
    """The plan's goal; the version guards against two people editing the plan at once."""

    goal = forms.CharField(
        label=_("Goal"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What the household should reach, e.g. its income next year."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)


def _kind_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    catalogue = policy.measures()
    return [(c.label, [(k.code, k.label) for k in c.kinds]) for c in catalogue.categories.values()]


class MeasureForm(forms.Form):
    """A measure of the plan. The category follows from the measure chosen in the
    catalogue; the service checks the rules (amount, dates, result when done)."""

    kind = forms.ChoiceField(label=_("Measure"))
    target = forms.CharField(
        label=_("Target"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        required=False,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    funding_source = forms.CharField(label=_("Funding source"), max_length=100, required=False)
    starts_on = forms.DateField(label=_("Starts"), widget=PLAN_DATE_WIDGET)
    ends_on = forms.DateField(label=_("Ends"), required=False, widget=PLAN_DATE_WIDGET)
    responsible = forms.CharField(label=_("Responsible"), max_length=100)
    status = forms.ChoiceField(label=_("Status"), choices=MeasureStatus.choices)
    progress = forms.IntegerField(
        label=_("Progress (%)"),
        required=False,
        widget=forms.NumberInput(attrs={"min": "0", "max": "100", "step": "5"}),
    )
    result = forms.CharField(
        label=_("Result"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "—"), *_kind_choices()]

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "version"}
        kind = policy.measures().kinds.get(data["kind"])
        data["category"] = kind.category if kind else ""
        data["amount"] = data.get("amount") or Decimal("0")
        data["progress"] = data.get("progress") or 0
        return data


class RemoveMeasureForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input (Django's documented pattern for multiple files)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultiplePhotoInput(attrs={"accept": "image/*", "capture": "environment"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class VisitForm(forms.Form):
    """A visit from the cadre's phone: the location is filled in by the browser."""

    cadre = forms.ModelChoiceField(label=_("Cadre"), queryset=Cadre.objects.none(), required=False)
    date = forms.DateField(label=_("Date of the visit"), widget=PLAN_DATE_WIDGET)
    latitude = forms.DecimalField(
        label=_("Latitude"),
        required=False,
        max_digits=12,
        decimal_places=8,
        widget=forms.NumberInput(attrs={"step": "any", "readonly": True}),
    )
    longitude = forms.DecimalField(
        label=_("Longitude"),
        required=False,
        max_digits=12,
        decimal_places=8,
        widget=forms.NumberInput(attrs={"step": "any", "readonly": True}),
    )
    work_done = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 4}))
    needs = forms.CharField(
        label=_("The household's needs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = MultiplePhotoField(label=_("Photos"), required=False)

    def __init__(self, *args: Any, cadres: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()
        if cadres is None:
            # The user records their own visit: no choice to make.
            del self.fields["cadre"]
        else:
            cast(forms.ModelChoiceField, self.fields["cadre"]).queryset = cadres
            self.fields["cadre"].required = True


class LedgerEntryForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=PLAN_DATE_WIDGET)
    direction = forms.ChoiceField(
        label=_("Income or expense"),
        choices=[("income", _("Income")), ("expense", _("Expense"))],
    )
    category = forms.ChoiceField(label=_("Category"))
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()
        categories = policy.measures().ledger_categories
        cast(forms.ChoiceField, self.fields["category"]).choices = [
            (_("Income"), [(c.code, c.label) for c in categories["income"].values()]),
            (_("Expense"), [(c.code, c.label) for c in categories["expense"].values()]),
        ]


# ======================================================================================
# Social help
# ======================================================================================

NEED_DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
#: Where needs are listed: every level a user may narrow the list to.
NEED_AREA_LEVELS = (
    AreaLevel.CITY,
    AreaLevel.COUNTY,
    AreaLevel.TOWNSHIP,
    AreaLevel.VILLAGE,
)


class NeedFilterForm(forms.Form):
    area = forms.ChoiceField(label=_("Area"), required=False)
    status = forms.ChoiceField(label=_("Stage"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["area"]).choices = [
            ("", _("All my area")),
            *_areas_in_reach(user, NEED_AREA_LEVELS),
        ]
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("Every stage")),
            *NeedStatus.choices,
        ]


class NeedForm(forms.Form):
    """A village's need, or a household's when its number is given (汇集需求)."""

    village = forms.ChoiceField(label=_("Village"), required=False)
    household = forms.CharField(
        label=_("Household number"),
        max_length=20,
        required=False,
        help_text=_("Leave empty for a need of the whole village."),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Published for companies and donors once reviewed: write no person's name, ID, "
            "phone or income."
        ),
    )
    amount = forms.DecimalField(
        label=_("Estimated amount (yuan)"), min_value=Decimal("0"), max_digits=12, decimal_places=2
    )
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["village"]).choices = [
            ("", "—"),
            *_areas_in_reach(user, (AreaLevel.VILLAGE,)),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("village") and not (data.get("household") or "").strip():
            self.add_error("village", _("Choose the village, or give a household number."))
        return data


class ReviewNeedForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("publish", _("Publish it")), ("reject", _("Reject it"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Review note"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("Required when the need is rejected."),
    )


class ClaimNeedForm(forms.Form):
    """A claim received from a company or donor, recorded by staff on their behalf."""

    donor = forms.CharField(label=_("Company or donor"), max_length=200)
    donor_contact = forms.CharField(label=_("Donor contact"), max_length=100)
    claimed_on = forms.DateField(label=_("Claimed on"), widget=NEED_DATE_WIDGET)
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["claimed_on"].initial = timezone.localdate()


class CarriedOutForm(forms.Form):
    carried_out_on = forms.DateField(label=_("Carried out on"), widget=NEED_DATE_WIDGET)
    outcome = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}))
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carried_out_on"].initial = timezone.localdate()


class AcceptNeedForm(forms.Form):
    """成效验收: the grade is given here and only here."""

    grade = forms.ChoiceField(label=_("Grade"), choices=NeedGrade.choices)
    accepted_on = forms.DateField(label=_("Accepted on"), widget=NEED_DATE_WIDGET)
    note = forms.CharField(
        label=_("Acceptance note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accepted_on"].initial = timezone.localdate()
