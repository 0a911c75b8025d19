"""The registry: households (户), members (人), income by year, status history.

Every field of the national registry form (DOMAIN.md §9) has a home here. People's data is
area-scoped through `ScopedQuerySet`; changes go through `fupin.registry.services` only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fupin.core.fields import CodeListField
from fupin.core.models import Area
from fupin.core.scoping import ScopedQuerySet
from fupin.core.validators import mask_id_number, validate_resident_id
from fupin.registry import enums

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0")}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]
MU: dict[str, Any] = {
    "max_digits": 9,
    "decimal_places": 2,
    "default": Decimal("0"),
    "validators": NON_NEGATIVE,
}


class Household(models.Model):
    """A household on the registry (贫困户 once registered), with its living conditions."""

    area_lookup = "village__code"

    code = models.CharField(_("household number"), max_length=20, unique=True)
    village = models.ForeignKey(
        Area,
        verbose_name=_("village"),
        on_delete=models.PROTECT,
        related_name="households",
        limit_choices_to={"level": 5},
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=enums.HouseholdStatus.choices,
        default=enums.HouseholdStatus.SURVEYED,
        db_index=True,
    )
    status_date = models.DateField(_("status since"), null=True, blank=True)
    head_name = models.CharField(_("head of household"), max_length=50, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=32, blank=True)
    identification_standard = models.CharField(
        _("identification standard"),
        max_length=12,
        choices=enums.IdentificationStandard.choices,
        default=enums.IdentificationStandard.NATIONAL,
    )
    attribute = models.CharField(
        _("poverty attribute"),
        max_length=10,
        choices=enums.PovertyAttribute.choices,
        default=enums.PovertyAttribute.GENERAL,
        db_index=True,
    )
    main_cause = models.CharField(
        _("main cause of poverty"),
        max_length=2,
        choices=enums.PovertyCause.choices,
        blank=True,
        db_index=True,
    )
    other_causes = CodeListField(
        _("other causes of poverty"), max_length=64, blank=True, choices=enums.PovertyCause.choices
    )
    is_military_family = models.BooleanField(_("military or martyr family"), default=False)
    is_only_child = models.BooleanField(_("only-child household"), default=False)
    is_two_daughters = models.BooleanField(_("two-daughter household"), default=False)
    identification_year = models.PositiveSmallIntegerField(
        _("year identified"), null=True, blank=True
    )
    exit_year = models.PositiveSmallIntegerField(_("year of exit"), null=True, blank=True)
    relocation_type = models.CharField(
        _("relocation type"), max_length=24, choices=enums.RelocationType.choices, blank=True
    )
    relocation_mode = models.CharField(
        _("relocation mode"), max_length=16, choices=enums.RelocationMode.choices, blank=True
    )
    relocation_place = models.CharField(
        _("relocation place"), max_length=16, choices=enums.RelocationPlace.choices, blank=True
    )

    # Living conditions (生产生活条件)
    farmland_mu = models.DecimalField(_("farmland (mu)"), **MU)
    irrigated_mu = models.DecimalField(_("effectively irrigated farmland (mu)"), **MU)
    forest_mu = models.DecimalField(_("forest land (mu)"), **MU)
    returned_forest_mu = models.DecimalField(_("farmland returned to forest (mu)"), **MU)
    orchard_mu = models.DecimalField(_("orchards (mu)"), **MU)
    pasture_mu = models.DecimalField(_("pasture (mu)"), **MU)
    water_surface_mu = models.DecimalField(_("water surface (mu)"), **MU)
    in_cooperative = models.BooleanField(_("member of a cooperative"), default=False)
    led_by_enterprise = models.BooleanField(_("led by a dragon-head enterprise"), default=False)
    led_by_entrepreneur = models.BooleanField(_("led by an entrepreneur"), default=False)
    has_production_power = models.BooleanField(_("production power"), default=False)
    has_household_power = models.BooleanField(_("household power"), default=True)
    has_radio_tv = models.BooleanField(_("radio and TV"), default=True)
    distance_to_road_km = models.DecimalField(
        _("distance to the village main road (km)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=NON_NEGATIVE,
    )
    road_surface = models.CharField(
        _("road to the door"), max_length=10, choices=enums.RoadSurface.choices, blank=True
    )
    housing_area_m2 = models.DecimalField(
        _("housing area (m²)"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=NON_NEGATIVE,
    )
    housing_structure = models.CharField(
        _("housing structure"), max_length=20, choices=enums.HousingStructure.choices, blank=True
    )
    is_dilapidated = models.BooleanField(_("dilapidated house"), default=False)
    dilapidation_grade = models.CharField(
        _("dilapidation grade"), max_length=1, choices=enums.DilapidationGrade.choices, blank=True
    )
    water_hard_to_get = models.BooleanField(_("drinking water hard to get"), default=False)
    water_safe = models.BooleanField(_("safe drinking water"), default=True)
    has_sanitary_toilet = models.BooleanField(_("sanitary toilet"), default=False)
    main_fuel = models.CharField(
        _("main fuel"), max_length=10, choices=enums.Fuel.choices, blank=True
    )
    cars = models.PositiveSmallIntegerField(_("cars"), default=0)
    farm_machines = models.PositiveSmallIntegerField(_("farm machines"), default=0)
    appliances = models.PositiveSmallIntegerField(_("major appliances"), default=0)

    # Computed, never typed: refreshed by the services from members and income.
    people = models.PositiveSmallIntegerField(_("household size"), default=0)
    income_year = models.PositiveSmallIntegerField(_("income year"), null=True, blank=True)
    per_capita_income = models.DecimalField(
        _("per-capita net income"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        db_index=True,
    )

    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["code"]
        indexes = [models.Index(fields=["village", "status"])]

    def __str__(self) -> str:
        return f"{self.code} {self.head_name}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("registry:household_detail", args=[self.pk])

    @property
    def area_code(self) -> str:
        return self.village_id


class Member(models.Model):
    """A person in a household (家庭成员)."""

    area_lookup = "household__village__code"

    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="members"
    )
    name = models.CharField(pgettext_lazy("person", "Name"), max_length=50)
    id_number = models.CharField(
        _("resident ID"), max_length=18, db_index=True, validators=[validate_resident_id]
    )
    sex = models.CharField(_("sex"), max_length=1, choices=enums.Sex.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    relation = models.CharField(_("relation to head"), max_length=2, choices=enums.Relation.choices)
    ethnicity = models.CharField(
        _("ethnicity"), max_length=2, choices=enums.Ethnicity.choices, default="01"
    )
    political_status = models.CharField(
        _("political status"),
        max_length=16,
        choices=enums.PoliticalStatus.choices,
        default=enums.PoliticalStatus.MASSES,
    )
    education = models.CharField(
        _("education"), max_length=16, choices=enums.Education.choices, blank=True
    )
    schooling = models.CharField(
        _("schooling"),
        max_length=24,
        choices=enums.Schooling.choices,
        default=enums.Schooling.NOT_IN_SCHOOL,
    )
    dropout_reason = models.CharField(
        _("dropout reason"), max_length=12, choices=enums.DropoutReason.choices, blank=True
    )
    has_chronic_illness = models.BooleanField(_("chronic illness"), default=False)
    has_serious_illness = models.BooleanField(_("serious illness"), default=False)
    is_disabled = models.BooleanField(_("disabled"), default=False)
    disability_grade = models.PositiveSmallIntegerField(
        _("disability grade"), choices=enums.DisabilityGrade.choices, null=True, blank=True
    )
    labour_skill = models.CharField(
        _("labour skill"), max_length=10, choices=enums.LabourSkill.choices, blank=True
    )
    migrant_place = models.CharField(
        _("migrant work place"), max_length=16, choices=enums.MigrantPlace.choices, blank=True
    )
    migrant_months = models.PositiveSmallIntegerField(
        _("migrant work months"), default=0, validators=[MaxValueValidator(12)]
    )
    speaks_mandarin = models.BooleanField(_("speaks Mandarin"), default=True)
    is_dibao = models.BooleanField(_("on subsistence allowance (低保)"), default=False)
    is_wubao = models.BooleanField(_("on extreme-poverty support (五保)"), default=False)
    has_medical_insurance = models.BooleanField(_("basic medical insurance"), default=True)
    has_pension = models.BooleanField(_("basic pension insurance"), default=False)
    has_serious_illness_insurance = models.BooleanField(
        _("serious-illness insurance"), default=False
    )
    has_commercial_insurance = models.BooleanField(
        _("commercial supplementary medical insurance"), default=False
    )
    has_accident_insurance_subsidy = models.BooleanField(
        _("accident insurance subsidy"), default=False
    )
    left_on = models.DateField(_("left the household on"), null=True, blank=True)
    left_reason = models.CharField(
        _("reason for leaving"), max_length=12, choices=enums.LeaveReason.choices, blank=True
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["household_id", "relation", "birth_date", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def is_current(self) -> bool:
        return self.left_on is None

    @property
    def is_healthy(self) -> bool:
        """健康: none of the three health conditions of the national form."""
        return not (self.has_chronic_illness or self.has_serious_illness or self.is_disabled)

    def age_on(self, day: object) -> int:
        import datetime as dt

        assert isinstance(day, dt.date)
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class HouseholdIncome(models.Model):
    """Last year's income by source (上年度收入), one row per household and year."""

    area_lookup = "household__village__code"

    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="incomes"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    wage = models.DecimalField(_("wage income"), validators=NON_NEGATIVE, **MONEY)
    business = models.DecimalField(_("business income"), validators=NON_NEGATIVE, **MONEY)
    property_dividend = models.DecimalField(
        _("asset-income dividends"), validators=NON_NEGATIVE, **MONEY
    )
    property_other = models.DecimalField(
        _("other property income"), validators=NON_NEGATIVE, **MONEY
    )
    transfer_family_planning = models.DecimalField(
        _("family-planning subsidy"), validators=NON_NEGATIVE, **MONEY
    )
    transfer_dibao = models.DecimalField(
        _("subsistence allowance (低保金)"), validators=NON_NEGATIVE, **MONEY
    )
    transfer_wubao = models.DecimalField(
        _("extreme-poverty support (五保金)"), validators=NON_NEGATIVE, **MONEY
    )
    transfer_pension = models.DecimalField(_("pension"), validators=NON_NEGATIVE, **MONEY)
    transfer_eco_compensation = models.DecimalField(
        _("ecological compensation"), validators=NON_NEGATIVE, **MONEY
    )
    transfer_other = models.DecimalField(
        _("other transfer income"), validators=NON_NEGATIVE, **MONEY
    )
    business_cost = models.DecimalField(_("business costs"), validators=NON_NEGATIVE, **MONEY)

    objects = ScopedQuerySet.as_manager()

    SOURCES = (
        "wage",
        "business",
        "property_dividend",
        "property_other",
        "transfer_family_planning",
        "transfer_dibao",
        "transfer_wubao",
        "transfer_pension",
        "transfer_eco_compensation",
        "transfer_other",
    )

    class Meta:
        verbose_name = _("income")
        verbose_name_plural = _("incomes")
        ordering = ["household_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["household", "year"], name="one_income_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.year}"

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f) for f in self.SOURCES), Decimal("0"))

    @property
    def net(self) -> Decimal:
        """All income less business costs (纯收入)."""
        return self.total - self.business_cost


class Attachment(models.Model):
    """A scanned document or photo kept as evidence of a decision."""

    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    name = models.CharField(_("name"), max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class StatusChange(models.Model):
    """One step of a household's life cycle: dated, signed and reasoned (状态变更记录)."""

    area_lookup = "household__village__code"

    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.CASCADE,
        related_name="status_changes",
    )
    transition = models.CharField(_("transition"), max_length=32)
    from_status = models.CharField(_("from"), max_length=20, choices=enums.HouseholdStatus.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=enums.HouseholdStatus.choices)
    date = models.DateField(_("date"))
    reason = models.TextField(_("reason"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    attachments = models.ManyToManyField(Attachment, verbose_name=_("attachments"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["household_id", "date", "id"]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.from_status} → {self.to_status}"


class QualityIssue(models.Model):
    """A national data-quality rule a household currently breaks (数据质量问题).

    Recomputed on every save of the household; the batch report aggregates these rows.
    """

    area_lookup = "household__village__code"

    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.CASCADE,
        related_name="quality_issues",
    )
    rule = models.CharField(_("rule"), max_length=40, db_index=True)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), null=True, blank=True, on_delete=models.CASCADE
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("data-quality issue")
        verbose_name_plural = _("data-quality issues")
        ordering = ["household_id", "rule"]

    def __str__(self) -> str:
        return f"{self.household_id} {self.rule}"
