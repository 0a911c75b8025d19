"""Form helpers shared by every app's pages."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError


def apply_errors(
    error: ValidationError, forms_by_prefix: Mapping[str, forms.BaseForm | None]
) -> None:
    """Put a service's ValidationError onto the forms, each message next to its field.

    `forms_by_prefix` maps a key prefix to a form: {"": household_form, "income.":
    income_form, "members.0.": first_member_form, ...}. The longest matching prefix wins; a
    key that names no field of its form becomes a form-wide error of the main ("") form.
    """
    main = forms_by_prefix.get("")
    messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    prefixes = sorted(forms_by_prefix, key=len, reverse=True)
    for key, msgs in messages.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                form = forms_by_prefix[prefix]
                name = key.removeprefix(prefix)
                break
        else:  # pragma: no cover - "" always matches
            form, name = main, key
        if form is None:
            form = main
        for message in msgs:
            if form is not None and name in form.fields:
                form.add_error(name, message)
            elif form is not None:
                form.add_error(None, message)
