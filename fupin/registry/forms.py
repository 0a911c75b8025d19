"""Forms of the registry pages.

The forms only parse what the user typed (field types, required fields, closed lists); the
business rules are checked by `fupin.registry.services`, exactly as for the API and the
importers. So the model forms here never run the model's own validation (`_post_clean` is
switched off): the view hands `cleaned_data` to a service and maps the service's
`ValidationError` back onto the fields with `fupin.core.forms.apply_errors`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fupin.core.models import Area, AreaLevel
from fupin.core.scoping import area_prefix
from fupin.core.validators import mask_id_number
from fupin.registry import enums, lifecycle, services
from fupin.registry.models import Household, HouseholdIncome, Member

#: The household's fields as the pages group them (the national form's sections, §9).
HOUSEHOLD_GROUPS: list[tuple[Any, list[str]]] = [
    (
        _("Basic information"),
        [
            "village",
            "head_name",
            "phone",
            "bank_name",
            "bank_account",
            "identification_standard",
        ],
    ),
    (
        _("Poverty attributes and causes"),
        [
            "attribute",
            "main_cause",
            "other_causes",
            "is_military_family",
            "is_only_child",
            "is_two_daughters",
        ],
    ),
    (_("Relocation"), ["relocation_type", "relocation_mode", "relocation_place"]),
    (
        _("Living conditions"),
        [
            "farmland_mu",
            "irrigated_mu",
            "forest_mu",
            "returned_forest_mu",
            "orchard_mu",
            "pasture_mu",
            "water_surface_mu",
            "in_cooperative",
            "led_by_enterprise",
            "led_by_entrepreneur",
            "has_production_power",
            "has_household_power",
            "has_radio_tv",
            "distance_to_road_km",
            "road_surface",
            "housing_area_m2",
            "housing_structure",
            "is_dilapidated",
            "dilapidation_grade",
            "water_hard_to_get",
            "water_safe",
            "has_sanitary_toilet",
            "main_fuel",
            "cars",
            "farm_machines",
            "appliances",
        ],
    ),
]

MEMBER_GROUPS: list[tuple[Any, list[str]]] = [
    (
        _("Identity"),
        ["name", "id_number", "relation", "ethnicity", "political_status"],
    ),
    (_("Education"), ["education", "schooling", "dropout_reason", "speaks_mandarin"]),
    (
        _("Health and labour"),
        [
            "has_chronic_illness",
            "has_serious_illness",
            "is_disabled",
            "disability_grade",
            "labour_skill",
            "migrant_place",
            "migrant_months",
        ],
    ),
    (
        _("Social security"),
        [
            "is_dibao",
            "is_wubao",
            "has_medical_insurance",
            "has_pension",
            "has_serious_illness_insurance",
            "has_commercial_insurance",
            "has_accident_insurance_subsidy",
        ],
    ),
]

#: Above this many villages the village is typed as a code (with suggestions), not chosen.
MAX_VILLAGE_CHOICES = 1500


class ServiceModelForm(forms.ModelForm):
    """A model form that parses input only; the service does the model validation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.label = capfirst(field.label)  # CodeListField's label is not capitalised

    def _post_clean(self) -> None:
        # No instance construction, no model.full_clean(), no unique checks: the service
        # validates, so the page and the API give the same answers.
        return None


class VersionMixin(forms.Form):
    """The record's version as loaded, for optimistic locking (乐观锁)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        help_text=_("Kept in the change history."),
    )


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        parent = obj.parent.name if obj.parent_id and obj.parent else ""
        return f"{parent} {obj.name}".strip()


def villages_for(user: Any) -> Any:
    prefix = area_prefix(user)
    qs = Area.objects.filter(level=AreaLevel.VILLAGE).select_related("parent")
    if prefix is None:
        return qs.none()
    return qs.filter(code__startswith=prefix) if prefix else qs


class HouseholdForm(ServiceModelForm):
    """The household's own fields (not status, members or income)."""

    class Meta:
        model = Household
        fields = services.HOUSEHOLD_FIELDS
        widgets = {"phone": forms.TextInput(attrs={"inputmode": "tel"})}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        villages = villages_for(user)
        field = VillageChoiceField(
            queryset=villages,
            label=self.fields["village"].label,
            empty_label=_("Choose a village"),
        )
        if villages.count() > MAX_VILLAGE_CHOICES:
            field.widget = forms.TextInput(attrs={"placeholder": _("12-digit village code")})
        self.fields["village"] = field
        for name in ("farmland_mu", "irrigated_mu", "forest_mu", "housing_area_m2"):
            self.fields[name].widget.attrs.setdefault("step", "0.01")

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [
            (title, [self[n] for n in names if n in self.fields])
            for title, names in HOUSEHOLD_GROUPS
        ]


class HouseholdEditForm(VersionMixin, HouseholdForm):
    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        if not user.has_perm("registry.view_full_id"):
            _hide_recorded(self, "bank_account", mask_id_number(self.instance.bank_account))

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in services.HOUSEHOLD_FIELDS}
        return _drop_kept(self, data)


class MemberForm(ServiceModelForm):
    """A member's fields; the resident ID is checked (and normalised) by the service."""

    # Longer than 18 so that spaces or a pasted full-width ID reach the service, which
    # normalises them; the service, not the form, says what is wrong with an ID.
    id_number = forms.CharField(label=_("Resident ID"), max_length=30)
    # A person's name (姓名), not an area's or a bank's name (名称): its own msgid.
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50)

    class Meta:
        model = Member
        fields = services.MEMBER_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "class": "font-monospace"}
        )
        self.fields["migrant_months"].widget.attrs.update({"min": 0, "max": 12})

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [
            (title, [self[n] for n in names if n in self.fields]) for title, names in MEMBER_GROUPS
        ]

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k in services.MEMBER_FIELDS}


class MemberEditForm(VersionMixin, MemberForm):
    """Add or change a member. Without `registry.view_full_id` the recorded ID is not sent
    to the browser: the field is left empty (the masked ID as placeholder), and left empty
    it keeps the recorded one."""

    def __init__(self, *args: Any, full_id: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not full_id and self.instance.pk:
            _hide_recorded(self, "id_number", self.instance.masked_id)

    def service_data(self) -> dict[str, Any]:
        return _drop_kept(self, super().service_data())


def _hide_recorded(form: forms.BaseForm, name: str, masked: str) -> None:
    """Do not put a recorded value the user may not see into the page (privacy)."""
    if not masked:
        return
    field = form.fields[name]
    field.required = False
    field.widget.attrs["placeholder"] = masked
    field.help_text = _(
        "Recorded as %(masked)s. Leave empty to keep it; type a new one to correct it."
    ) % {"masked": masked}
    form.initial[name] = ""
    form.hidden_recorded = [*getattr(form, "hidden_recorded", []), name]  # type: ignore[attr-defined]


def _drop_kept(form: forms.BaseForm, data: dict[str, Any]) -> dict[str, Any]:
    """Leave out the hidden fields left empty, so the service keeps the recorded values."""
    for name in getattr(form, "hidden_recorded", []):
        if not data.get(name):
            data.pop(name, None)
    return data


class BaseMemberFormSet(forms.BaseFormSet):
    """The members of a new household: at least one, rows added with htmx."""

    def rows(self) -> list[MemberForm]:
        """The filled-in rows, in the order they are handed to the service."""
        return [
            f
            for f in self.forms
            if f.has_changed()
            and not (self.can_delete and getattr(f, "cleaned_data", {}).get("DELETE"))
        ]


MemberFormSet = forms.formset_factory(
    MemberForm,
    formset=BaseMemberFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    can_delete=True,
    max_num=30,
    validate_max=True,
)


def last_year() -> int:
    return timezone.localdate().year - 1


class IncomeForm(ServiceModelForm):
    """One year's income by source and the business costs (元)."""

    class Meta:
        model = HouseholdIncome
        fields = ["year", *services.INCOME_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].initial = self.fields["year"].initial or last_year()
        for name in services.INCOME_FIELDS:
            field = self.fields[name]
            field.required = False
            field.widget.attrs.update({"step": "0.01", "min": "0"})

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name in services.INCOME_FIELDS:
            if data.get(name) is None and name not in self.errors:
                data[name] = Decimal("0")
        return data

    def service_data(self) -> dict[str, Any]:
        return {
            k: v for k, v in self.cleaned_data.items() if k in ("year", *services.INCOME_FIELDS)
        }


class IncomeEditForm(VersionMixin, IncomeForm):
    pass


class LeaveForm(VersionMixin):
    """A member leaves the household (death, marriage, moving away)."""

    left_on = forms.DateField(
        label=_("Left the household on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    left_reason = forms.ChoiceField(
        label=_("Reason for leaving"),
        choices=[("", "---------"), *enums.LeaveReason.choices],
    )

    field_order = ["left_on", "left_reason", "reason", "version"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several uploaded files under one name (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class TransitionForm(forms.Form):
    """One step of the household's life cycle: which, when, why, with what evidence."""

    transition = forms.ChoiceField(label=_("Step"), widget=forms.RadioSelect)
    date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,  # the service says "give the reason", so the message is the same
    )
    attachments = MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=_("Scans or photos of the signed documents; several files may be chosen."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, steps: Sequence[lifecycle.Transition], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = {s.name: s for s in steps}
        cast(forms.ChoiceField, self.fields["transition"]).choices = [
            (s.name, f"{s.label} → {enums.HouseholdStatus(s.target).label}") for s in steps
        ]
        self.fields["date"].initial = timezone.localdate()

    def needs_evidence(self) -> list[str]:
        return [name for name, step in self.steps.items() if step.requires_evidence]


def money_fields(form: forms.BaseForm) -> Iterable[forms.BoundField]:
    return (form[n] for n in services.INCOME_FIELDS if n in form.fields)


def today() -> dt.date:
    return timezone.localdate()
