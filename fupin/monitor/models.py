"""Monitoring (动态管理, DOMAIN.md §4 and §6).

The education aid data exchange (教育资助数据比对, Anhui, seed 004): an `EducationExchange`
sends an area's registered poor children to the education department for one school year,
one `ExchangeChild` row per child; the department's answer fills each row's school, stage
and aid; the rows not aided make the 应助未助 list. The file layout is EXCHANGE.md.

Changes go through `fupin.monitor.services` only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fupin.core.fields import CodeListField
from fupin.core.models import Area
from fupin.core.scoping import ScopedQuerySet
from fupin.core.validators import mask_id_number
from fupin.registry import enums
from fupin.registry.models import Household, Member


class ExchangeState(models.TextChoices):
    CREATED = "created", _("Created, not sent")  # 已建立，未报送
    EXPORTED = "exported", _("Sent to the education department")  # 已报送
    ANSWERED = "answered", _("Answer imported")  # 已反馈


class EducationExchange(models.Model):
    """One year's exchange of an area's registered children with the education department
    (年度建档立卡学生数据比对)."""

    area_lookup = "area__code"

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    #: The year the school year begins: 2024 is the 2024–2025 school year, whose aid year
    #: runs from 1 August 2024 to 31 July 2025 (policy/education.toml).
    school_year = models.PositiveSmallIntegerField(_("school year"))
    state = models.CharField(
        _("state"), max_length=10, choices=ExchangeState.choices, default=ExchangeState.CREATED
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    #: The day the children were taken from the registry (ages are reckoned on it).
    exported_on = models.DateField(_("list drawn on"), null=True, blank=True)
    exported_at = models.DateTimeField(_("sent"), null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("answer imported"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: Counts over the whole exchange, refreshed by the services.
    children = models.PositiveIntegerField(_("children"), default=0)
    answered = models.PositiveIntegerField(_("answered"), default=0)
    aided = models.PositiveIntegerField(_("aided"), default=0)
    imports = models.PositiveSmallIntegerField(_("answers imported"), default=0)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("education data exchange")
        verbose_name_plural = _("education data exchanges")
        ordering = ["-school_year", "area_id"]
        constraints = [
            models.UniqueConstraint(fields=["area", "school_year"], name="one_exchange_a_year")
        ]
        permissions = [
            ("view_monitor", "See monitoring lists, exchanges and the 351 calculator"),
            ("manage_monitor", "Create, export and import data exchanges"),
        ]

    def __str__(self) -> str:
        return f"{self.area_id} {self.school_year}"

    @property
    def not_aided(self) -> int:
        return self.children - self.aided


class ExchangeChild(models.Model):
    """One child sent to the education department, and what came back for him (比对行).

    The child's data is a copy taken when the list was drawn: the file and the answer are
    about that child, whatever the registry says later.
    """

    area_lookup = "village__code"

    exchange = models.ForeignKey(
        EducationExchange,
        verbose_name=_("exchange"),
        on_delete=models.CASCADE,
        related_name="rows",
    )
    #: The key written in the file's first column (E<exchange>-<n>), matched on import.
    row_key = models.CharField(_("row key"), max_length=24)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    village = models.ForeignKey(
        Area, verbose_name=_("village"), on_delete=models.PROTECT, related_name="+"
    )
    household_code = models.CharField(_("household number"), max_length=20)
    head_name = models.CharField(_("head of household"), max_length=50)
    name = models.CharField(pgettext_lazy("person", "Name"), max_length=50)
    id_number = models.CharField(_("resident ID"), max_length=18)
    sex = models.CharField(_("sex"), max_length=1, choices=enums.Sex.choices)
    birth_date = models.DateField(_("birth date"))
    schooling = models.CharField(_("schooling"), max_length=24, choices=enums.Schooling.choices)

    # What the education department answered (blank until then).
    school_name = models.CharField(_("school"), max_length=100, blank=True)
    school_code = models.CharField(_("school code"), max_length=20, blank=True)
    stage = models.CharField(_("stage"), max_length=24, choices=enums.Schooling.choices, blank=True)
    aided = models.BooleanField(_("aided"), null=True, blank=True)
    aid_kinds = CodeListField(_("aid kinds"), max_length=100, blank=True)
    amount = models.DecimalField(
        _("aid amount (yuan)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    aid_date = models.DateField(_("aid date"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("exchanged child")
        verbose_name_plural = _("exchanged children")
        ordering = ["exchange_id", "row_key"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "row_key"], name="one_row_key"),
        ]
        indexes = [models.Index(fields=["exchange", "aided"])]

    def __str__(self) -> str:
        return f"{self.row_key} {self.name}"

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)
