"""Template helpers of the web interface: form fields in Bootstrap, values shown readably.

`{% load fupin_ui %}` gives:
- `{% bs_field form.field %}` — label, widget with Bootstrap classes, errors and help text;
- `{{ household|show:"main_cause" }}` — a model field's value as a clerk reads it (choice
  labels, yes/no, lists of codes as labels);
- `{% audit_rows entry as rows %}` — an audit entry's before/after as labelled rows;
- `{{ entry.action|action_label }}`, `{% role_labels user %}`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms, template
from django.apps import apps
from django.db import models
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fupin.core.fields import CodeListField
from fupin.core.roles import Role
from fupin.core.validators import mask_id_number

register = template.Library()

EMPTY = "—"

#: Readable names of audit actions; a life-cycle step is named by its transition label.
ACTION_LABELS: dict[str, Any] = {
    "registry.household.create": gettext_lazy("Household registered"),
    "registry.household.update": gettext_lazy("Household changed"),
    "registry.member.create": gettext_lazy("Member added"),
    "registry.member.update": gettext_lazy("Member changed"),
    "registry.member.leave": gettext_lazy("Member left the household"),
    "registry.income.set": gettext_lazy("Income recorded"),
    "core.user.create": gettext_lazy("User created"),
    "core.area.flags": gettext_lazy("Village flags changed"),
}

#: Keys never shown: the version moves with every save and says nothing by itself.
_BOOKKEEPING = {"version", "updated_at"}

#: Snapshot keys that are bookkeeping, not information, in a creation entry.
_QUIET_KEYS = {"id", "version", "created_at", "updated_at", "household_id", "status_date"}


# -- form fields ---------------------------------------------------------------------------


def widget_class(field: forms.BoundField) -> str:
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        css = ""
    elif isinstance(widget, forms.Select | forms.SelectMultiple):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors and css:
        css += " is-invalid"
    return css


@register.filter
def is_checkbox(field: forms.BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxInput)


def _auto_column(field: forms.BoundField) -> str:
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple | forms.Textarea):
        return "col-12"
    return "col-sm-6 col-lg-4 col-xxl-3"


@register.inclusion_tag("includes/field.html")
def bs_field(field: forms.BoundField, css: str = "", small: bool = False) -> dict[str, Any]:
    """One form field rendered the Bootstrap way; `css` is the wrapper's class (col-md-3),
    "auto" for a grid column fitting the widget."""
    if css == "auto":
        css = _auto_column(field)
    attrs: dict[str, str | bool] = {}
    cls = widget_class(field)
    if cls:
        attrs["class"] = cls + (" form-control-sm" if small and "form-control" in cls else "")
        if small and "form-select" in cls:
            attrs["class"] = f"{attrs['class']} form-select-sm"
    widget = field.field.widget
    return {
        "field": field,
        "css": css,
        "widget_html": field.as_widget(attrs=attrs),
        "is_checkbox": isinstance(widget, forms.CheckboxInput),
        # CheckboxSelectMultiple is a RadioSelect: both are lists of labelled inputs.
        "is_multi_checkbox": isinstance(widget, forms.RadioSelect),
        "small": small,
    }


# -- values --------------------------------------------------------------------------------


def yes_no(value: Any) -> str:
    return _("Yes") if value else _("No")


def _number(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    places = 2 if number != number.to_integral_value() else 0
    return number_format(number, places, use_l10n=True, force_grouping=True)


def display_value(field: models.Field | None, value: Any) -> str:
    """A stored value as a person reads it: labels for codes, yes/no, grouped numbers."""
    if value is None or value == "" or value == []:
        return EMPTY
    if field is None:
        return str(value)
    if isinstance(field, CodeListField):
        codes = field.to_python(value)
        labels = dict(field.flatchoices)
        return "、".join(str(labels.get(c, c)) for c in codes) or EMPTY
    if field.choices:
        labels = dict(field.flatchoices)
        return str(labels.get(value, labels.get(str(value), value)))
    if isinstance(field, models.BooleanField):
        return yes_no(value)
    if isinstance(field, models.DecimalField | models.FloatField):
        return _number(value)
    if isinstance(field, models.ForeignKey) and field.related_model is not None:
        from fupin.core.models import Area

        if field.related_model is Area:
            area = Area.objects.filter(pk=value).first()
            return f"{area.name} ({value})" if area else str(value)
    return str(value)


@register.filter
def show(instance: models.Model, name: str) -> str:
    """`{{ household|show:"main_cause" }}`: the field's value for reading."""
    field = cast(models.Field, instance._meta.get_field(name))
    if isinstance(field, models.ForeignKey):
        related = getattr(instance, name)
        return str(related) if related is not None else EMPTY
    return display_value(field, getattr(instance, field.attname))


@register.filter
def label(instance: models.Model, name: str) -> str:
    """`{{ household|label:"main_cause" }}`: the field's verbose name, capitalised."""
    text = str(cast(models.Field, instance._meta.get_field(name)).verbose_name)
    return text[:1].upper() + text[1:]


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    return number_format(Decimal(str(value)), 2, use_l10n=True, force_grouping=True)


# -- users and roles -----------------------------------------------------------------------


@register.simple_tag
def role_labels(user: Any) -> str:
    roles = getattr(user, "roles", None) or []
    labels = [str(Role(r).label) if r in Role.values else r for r in roles]
    if getattr(user, "is_superuser", False) and not labels:
        labels = [_("Superuser")]
    return "、".join(labels)


# -- audit entries -------------------------------------------------------------------------


@register.filter
def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    prefix = "registry.household."
    if action.startswith(prefix):
        from fupin.registry import lifecycle

        step = lifecycle.transitions().get(action.removeprefix(prefix))
        if step is not None:
            return step.label
    return action


def _model_of(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _fields_by_key(model: type[models.Model] | None) -> dict[str, models.Field]:
    if model is None:
        return {}
    fields: dict[str, models.Field] = {}
    for f in model._meta.concrete_fields:
        fields[f.attname] = f
        fields[f.name] = f
    return fields


def _member_summary(data: dict[str, Any]) -> str:
    from fupin.registry.models import Member

    fields = _fields_by_key(Member)
    relation = display_value(fields["relation"], data.get("relation"))
    return f"{data.get('name', '')} {data.get('id_number', '')} ({relation})"


def _income_summary(data: dict[str, Any]) -> str:
    from fupin.registry.models import HouseholdIncome

    total = sum(Decimal(str(data.get(k) or 0)) for k in HouseholdIncome.SOURCES)
    cost = Decimal(str(data.get("business_cost") or 0))
    return _("%(year)s: income %(total)s, business costs %(cost)s") % {
        "year": data.get("year"),
        "total": _number(total),
        "cost": _number(cost),
    }


def _nested(key: str, value: Any) -> str | None:
    if key == "members" and isinstance(value, list):
        return "；".join(_member_summary(m) for m in value if isinstance(m, dict)) or EMPTY
    if key == "income":
        return _income_summary(value) if isinstance(value, dict) else EMPTY
    if key == "attachments" and isinstance(value, list):
        return _("%(n)d file(s)") % {"n": len(value)} if value else EMPTY
    return None


def _key_label(key: str, field: models.Field | None) -> str:
    names = {
        "members": _("Members"),
        "income": _("Income"),
        "attachments": _("Attachments"),
    }
    if key in names:
        return names[key]
    if field is None:
        return key
    text = str(field.verbose_name)
    return text[:1].upper() + text[1:]


#: Snapshot keys masked for readers without `registry.view_full_id` (member IDs are
#: already masked by the services when the entry is written).
_PRIVATE_KEYS = {"bank_account", "id_number"}


def audit_rows_for(entry: Any, full_id: bool = False) -> list[dict[str, str]]:
    """An entry's changes as rows of (field label, before, after), readable."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    fields = _fields_by_key(_model_of(entry.object_type))
    creation = not before
    rows = []
    keys = list(dict.fromkeys([*after, *before]))
    for key in keys:
        if key in _BOOKKEEPING or (creation and key in _QUIET_KEYS):
            continue
        field = fields.get(key)
        old, new = before.get(key), after.get(key)
        if key in _PRIVATE_KEYS and not full_id:
            old = mask_id_number(old) if isinstance(old, str) else old
            new = mask_id_number(new) if isinstance(new, str) else new
        if creation and (new in (None, "", [], False, "0", "0.00") or key == "id"):
            continue
        nested_old, nested_new = _nested(key, old), _nested(key, new)
        shown_old = nested_old if nested_old is not None else display_value(field, old)
        shown_new = nested_new if nested_new is not None else display_value(field, new)
        if not creation and shown_old == shown_new:
            continue  # recorded for context, not a change
        rows.append(
            {
                "label": _key_label(key, field),
                "before": EMPTY if creation else shown_old,
                "after": shown_new,
            }
        )
    return rows


@register.simple_tag(takes_context=True)
def audit_rows(context: Any, entry: Any) -> list[dict[str, str]]:
    user = context.get("user")
    full_id = bool(user is not None and user.has_perm("registry.view_full_id"))
    return audit_rows_for(entry, full_id=full_id)
