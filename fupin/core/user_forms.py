"""Forms of the user-management pages (用户管理).

The forms only parse what the administrator typed; the rules (area reach, which roles an
actor may grant, no lock-out) are checked by `fupin.core.services`, and the view maps a
service's `ValidationError` back onto these fields with `apply_errors`. The field names
are the services' error keys ("area", "roles", "password", …) so the mapping is direct.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fupin.core.models import User
from fupin.core.roles import Role

ACTIVE_CHOICES = [("", _("All")), ("1", _("Active")), ("0", pgettext_lazy("account", "Disabled"))]


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap 5 classes, and `is-invalid` once they err."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = css

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()


def role_field(**kwargs: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=_("Roles"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        **kwargs,
    )


def area_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=_("Area code"),
        max_length=12,
        help_text=_("The code of the county, township or village the user works for."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        **kwargs,
    )


def reason_field() -> forms.CharField:
    return forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        help_text=_("Recorded in the audit trail with the change."),
    )


class PasswordPairMixin:
    """Two password inputs that must agree; the service checks the password's rules."""

    cleaned_data: dict[str, Any]

    def check_pair(self) -> None:
        first, second = self.cleaned_data.get("password"), self.cleaned_data.get("password2")
        if first and second and first != second:
            raise ValidationError({"password2": _("The two passwords differ.")})


def password_fields() -> tuple[forms.CharField, forms.CharField]:
    return (
        forms.CharField(
            label=_("Password"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
        forms.CharField(
            label=_("Password again"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
    )


class UserFilterForm(BootstrapForm):
    """The list's filters; every field is optional and a bad value is simply ignored."""

    q = forms.CharField(label=_("Username or name"), required=False, max_length=150)
    area = forms.CharField(label=_("Area code starts with"), required=False, max_length=12)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("All")), *Role.choices]
    )
    active = forms.ChoiceField(label=_("Status"), required=False, choices=ACTIVE_CHOICES)


class UserCreateForm(PasswordPairMixin, BootstrapForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    full_name = forms.CharField(label=_("Full name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    area = area_field()
    roles = role_field()
    password, password2 = password_fields()
    reason = reason_field()

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        field = User._meta.get_field("username")
        for validator in field.validators:
            validator(username)
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.check_pair()
        return cleaned


class UserEditForm(BootstrapForm):
    full_name = forms.CharField(label=_("Full name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    area = area_field()
    roles = role_field()
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("A disabled user can no longer log in; its records stay."),
    )
    reason = reason_field()

    def __init__(self, *args: Any, user: User, is_self: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "full_name": user.full_name,
                "phone": user.phone,
                "area": user.area_id or "",
                "roles": list(user.roles or []),
                "is_active": user.is_active,
            },
        )
        super().__init__(*args, **kwargs)
        if is_self:
            # The service refuses these anyway; the page says so before anyone tries.
            for name in ("area", "roles", "is_active"):
                self.fields[name].disabled = True


class PasswordResetForm(PasswordPairMixin, BootstrapForm):
    password, password2 = password_fields()
    reason = reason_field()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.check_pair()
        return cleaned
