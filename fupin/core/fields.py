"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class CodeListField(models.CharField):
    """Several codes from a closed list, e.g. the other causes of poverty (其他致贫原因).

    Stored as ",3,7," so that "households with cause 3" is a plain, indexable LIKE
    (`field__contains=",3,"`) on SQLite and PostgreSQL alike — SQLite has no JSON
    containment lookup. In Python it is a list of codes.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[str]:
        return self.to_python(value)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if value is None or value == "":
            return []
        if isinstance(value, list | tuple):
            return [str(v) for v in value if str(v)]
        return [v for v in str(value).split(",") if v]

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            codes = [str(v) for v in value if str(v)]
            return "," + ",".join(codes) + "," if codes else ""
        return value

    def value_to_string(self, obj: Any) -> str:
        return ",".join(self.to_python(self.value_from_object(obj)))

    def validate(self, value: Any, model_instance: Any) -> None:
        codes = self.to_python(value)
        if not codes and not self.blank:
            raise ValidationError(self.error_messages["blank"], code="blank")
        allowed = {str(k) for k, _label in self.flatchoices}
        for code in codes:
            if allowed and code not in allowed:
                raise ValidationError(
                    _("%(value)s is not one of the allowed codes."),
                    code="invalid_choice",
                    params={"value": code},
                )
        if len(set(codes)) != len(codes):
            raise ValidationError(_("A code is listed twice."), code="duplicate")

    def run_validators(self, value: Any) -> None:
        # MaxLengthValidator would measure the list, not the stored text.
        return None

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return forms.TypedMultipleChoiceField(
            choices=list(self.choices or []),
            required=not self.blank,
            label=self.verbose_name,
            widget=forms.CheckboxSelectMultiple,
            **{k: v for k, v in kwargs.items() if k in ("help_text", "initial")},
        )
