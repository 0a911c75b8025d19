"""Forms of the exit pages.

As elsewhere, forms only parse what the user typed; the rules (who may open a round where,
the order of the procedure, what an acceptance needs) are checked by `fupin.exit.services`,
whose ValidationError the view maps back onto the form with `apply_errors`. The objection
forms are identification's (`fupin.identify.forms`): the same fields, the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fupin.core.models import Area, AreaLevel
from fupin.core.scoping import area_prefix
from fupin.exit import facts, policy
from fupin.exit.models import ExitRound, SignerRole
from fupin.identify.forms import DATE_WIDGET, ObjectionForm, ResolveForm
from fupin.registry.forms import MultipleFileField

__all__ = ["ObjectionForm", "ResolveForm"]


def _area_label(area: Area) -> str:
    return f"{area.name} {area.code}"


class RoundForm(forms.Form):
    """A new exit round: where, which year, which optional steps to leave out."""

    area = forms.ChoiceField(label=_("Area"))
    name = forms.CharField(label=_("Round name"), max_length=200, required=False)
    year = forms.IntegerField(label=_("Year"))
    leave_out = forms.MultipleChoiceField(
        label=_("Leave out these optional steps"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

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
        own = getattr(user, "area_id", None) or ""
        if own and any(code == own for code, _label in self.fields["area"].choices):  # type: ignore[attr-defined]
            self.fields["area"].initial = own
        procedures = (
            [policy.procedure_for(own)] if own else list(policy.policy().procedures.values())
        )
        cast(forms.MultipleChoiceField, self.fields["leave_out"]).choices = [
            (s.code, f"{p.label}: {s.label}") for p in procedures for s in p.steps if s.optional
        ]
        if not self.fields["leave_out"].choices:  # type: ignore[attr-defined]
            del self.fields["leave_out"]
        self.fields["year"].initial = timezone.localdate().year


class ProposeForm(forms.Form):
    """A cadre's proposal: the household by its number, the reason, the day."""

    code = forms.CharField(label=_("Household number"), max_length=20)
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    date = forms.DateField(label=_("Date"), widget=DATE_WIDGET)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()


class SystemProposeForm(forms.Form):
    date = forms.DateField(label=_("Date of the proposal"), widget=DATE_WIDGET)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = timezone.localdate()


class StepForm(forms.Form):
    """A step of the exit procedure held in an area; the decisions come as extra inputs
    (`off_<id>`, `reason_<id>`) and a sign-off's signatures as `party_<code>_name`,
    `party_<code>_date`, `party_<code>_scan`."""

    step = forms.TypedChoiceField(label=_("Step"), coerce=int)
    area = forms.ChoiceField(label=_("Area"))
    date = forms.DateField(label=_("Date"), widget=DATE_WIDGET)
    participants = forms.CharField(
        label=_("Participants"), required=False, widget=forms.Textarea(attrs={"rows": 2})
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

    def __init__(self, *args: Any, round_: ExitRound, areas: Sequence[Area], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["step"]).choices = [
            (i, f"{i + 1}. {s.label}") for i, s in enumerate(round_.steps)
        ]
        cast(forms.ChoiceField, self.fields["area"]).choices = [("", "—")] + [
            (a.code, _area_label(a)) for a in areas
        ]
        self.fields["date"].initial = timezone.localdate()


class AcceptanceForm(forms.Form):
    """The 双认定 acceptance form: one met / not met choice and a note per item of the
    standard, and three signatures, each drawn (a PNG data URL the page's canvas fills in
    `sig_<role>_drawn`) or a scan (`sig_<role>_scan`)."""

    checked_on = forms.DateField(label=_("Checked at the household on"), widget=DATE_WIDGET)
    team = forms.CharField(
        label=_("Acceptance team"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("County, township and village cadres, first secretary, resident team."),
    )

    def __init__(
        self,
        *args: Any,
        lines: Sequence[Any],
        head_name: str,
        cadre_name: str,
        system: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        self.system = system or {}
        self.fields["checked_on"].initial = timezone.localdate()
        for line in self.lines:
            item = line.item
            self.fields[f"item_{line.key}"] = forms.TypedChoiceField(
                label=item.label if policy.chinese() else item.label_en,
                required=False,
                choices=[("met", _("Met")), ("not_met", _("Not met"))],
                coerce=lambda v: {"met": True, "not_met": False}.get(v),
                empty_value=None,
                widget=forms.RadioSelect,
            )
            self.fields[f"note_{line.key}"] = forms.CharField(
                label=_("Note"), required=False, max_length=500
            )
        names = {SignerRole.HEAD.value: head_name, SignerRole.CADRE.value: cadre_name}
        for role, label in SignerRole.choices:
            initial = names.get(role, "")
            self.fields[f"sig_{role}_name"] = forms.CharField(
                label=label,
                required=False,
                max_length=50,
                initial=initial,
                disabled=role == SignerRole.CADRE,  # the paired cadre, never typed
            )
            self.fields[f"sig_{role}_drawn"] = forms.CharField(
                required=False, widget=forms.HiddenInput(attrs={"data-signature-input": role})
            )
            self.fields[f"sig_{role}_scan"] = forms.FileField(label=_("or a scan"), required=False)
            # Where the service's refusal of this signature lands (`apply_errors`).
            self.fields[f"sig_{role}"] = forms.CharField(required=False, widget=forms.HiddenInput)

    def item_rows(self) -> list[dict[str, Any]]:
        several = len({line.standard.code for line in self.lines}) > 1
        zh = policy.chinese()
        return [
            {
                "item": line.item,
                "key": line.key,
                "standard": (line.standard.name if zh else line.standard.name_en)
                if several
                else "",
                "choice": self[f"item_{line.key}"],
                "note": self[f"note_{line.key}"],
                "system": self.system.get(line.key, ""),
            }
            for line in self.lines
        ]

    def signature_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "role": role,
                "label": label,
                "name": self[f"sig_{role}_name"],
                "drawn": self[f"sig_{role}_drawn"],
                "scan": self[f"sig_{role}_scan"],
                "errors": self.errors.get(f"sig_{role}", []),
            }
            for role, label in SignerRole.choices
        ]


# -- village and county facts ---------------------------------------------------------------

_UNKNOWN_YES_NO = [("", _("Unknown")), ("true", _("Yes")), ("false", _("No"))]


def _fact_field(fact: facts.Fact, label: Any) -> forms.Field:
    if fact.kind == "bool":
        return forms.TypedChoiceField(
            label=label,
            required=False,
            choices=_UNKNOWN_YES_NO,
            coerce=lambda v: v == "true",
            empty_value=None,
        )
    if fact.kind in ("count", "score"):
        return forms.IntegerField(label=label, required=False)
    return forms.DecimalField(label=label, required=False, max_digits=14, decimal_places=2)


class AreaFactsForm(forms.Form):
    """A village's or county's facts for a year: every fact of its level, each may be left
    unknown; where the values come from. Ranges and consistency are the service's."""

    def __init__(self, *args: Any, level: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups: dict[str, list[str]] = {}
        for fact in facts.facts_for(level):
            label = facts.verbose_name(fact.name)
            self.fields[fact.name] = _fact_field(fact, label)
            self.groups.setdefault(fact.group, []).append(fact.name)
        self.fields["source"] = forms.CharField(
            label=_("Source of the values"),
            max_length=300,
            required=False,  # the service refuses a save without one, with its message
            help_text=_(
                "Where the figures come from: a survey, the evaluation report, a yearbook."
            ),
        )
        self.fields["notes"] = forms.CharField(
            label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
        )

    def fact_groups(self) -> list[tuple[Any, list[Any]]]:
        return [
            (facts.GROUP_LABELS[group], [self[name] for name in names])
            for group, names in self.groups.items()
        ]

    def values(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name) for names in self.groups.values() for name in names
        }


class FactsImportForm(forms.Form):
    file = forms.FileField(
        label=_("File (xlsx or CSV)"),
        help_text=_("One row per village or county and year; the template has the columns."),
    )
    source = forms.CharField(
        label=_("Source of the values"),
        max_length=300,
        required=False,
        help_text=_("For the rows that give no source of their own."),
    )
