"""Support (精准帮扶, DOMAIN.md §4): cadres and their pairings with households, resident
teams and their check-ins, one plan per household with its measures, visits, the household's
running ledger, and social help (精准扶贫直通车).

The rules (≤ 3 households per cadre, ≥ 20 days a month in the village, …) are policy data in
`policy/support.toml`; the measure catalogue and the cause → measures table in
`policy/measures.toml`. Changes go through `fupin.support.services` only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fupin.core.models import Area
from fupin.core.scoping import ScopedQuerySet
from fupin.core.validators import mask_id_number, validate_resident_id
from fupin.registry.models import Attachment, Household

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}
LATITUDE = [MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))]
LONGITUDE = [MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))]


class CadreLevel(models.TextChoices):
    """The level of the cadre's employer (派出单位层级)."""

    CENTRAL = "central", _("Central")
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County")
    TOWNSHIP = "township", _("Township")
    VILLAGE = "village", _("Village")
    ENTERPRISE = "enterprise", _("Enterprise")


class Cadre(models.Model):
    """A support cadre (帮扶干部 / 帮扶联系人): the person paired with poor households."""

    area_lookup = "area__code"

    name = models.CharField(pgettext_lazy("person", "Name"), max_length=50)
    sex = models.CharField(_("sex"), max_length=1, choices=[("1", _("Male")), ("2", _("Female"))])
    id_number = models.CharField(
        _("resident ID number"), max_length=18, validators=[validate_resident_id]
    )
    employer = models.CharField(_("employer"), max_length=200)
    post = models.CharField(_("post"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    #: 在编干部 (or an enterprise's middle manager): Anhui's requirement for a pairing.
    in_service = models.BooleanField(_("in-service cadre"), default=True)
    level = models.CharField(_("level"), max_length=12, choices=CadreLevel.choices)
    #: The area the cadre works in (usually a county or township): scoping.
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cadre",
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("support cadre")
        verbose_name_plural = _("support cadres")
        ordering = ["area_id", "name"]
        constraints = [models.UniqueConstraint(fields=["id_number"], name="cadre_id_once")]
        permissions = [
            ("manage_support", "Manage cadres, pairings, teams and social help"),
            ("record_support", "Record visits, plans, measures, ledgers and check-ins"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.employer}）"

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)


class PairingEndCause(models.TextChoices):
    """Why a pairing ended: 脱贫不脱钩 refuses "the household exited" during the campaign."""

    HOUSEHOLD_EXITED = "household_exited", _("The household exited poverty")
    CADRE_LEFT = "cadre_left", _("The cadre retired, moved or left the post")
    HOUSEHOLD_CLOSED = "household_closed", _("The household was closed or excluded")
    OTHER = "other", _("Other")


class Pairing(models.Model):
    """A cadre paired with a household (结对帮扶), from a start to an end; kept as history."""

    area_lookup = "household__village__code"

    cadre = models.ForeignKey(
        Cadre, verbose_name=_("cadre"), on_delete=models.PROTECT, related_name="pairings"
    )
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="pairings"
    )
    started_on = models.DateField(_("started"))
    ended_on = models.DateField(_("ended"), null=True, blank=True)
    end_cause = models.CharField(
        _("why it ended"), max_length=20, choices=PairingEndCause.choices, blank=True
    )
    end_reason = models.TextField(_("reason for ending"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("pairing")
        verbose_name_plural = _("pairings")
        ordering = ["household_id", "-started_on"]
        indexes = [models.Index(fields=["cadre", "ended_on"])]

    def __str__(self) -> str:
        return f"{self.cadre} ↔ {self.household_id}"


class ResidentTeam(models.Model):
    """A resident work team (驻村工作队) sent to a village for a term."""

    area_lookup = "village__code"

    village = models.ForeignKey(
        Area, verbose_name=_("village"), on_delete=models.PROTECT, related_name="+"
    )
    sending_unit = models.CharField(_("sending unit"), max_length=200)
    term_start = models.DateField(_("term starts"))
    term_end = models.DateField(_("term ends"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident team")
        verbose_name_plural = _("resident teams")
        ordering = ["village_id", "-term_start"]

    def __str__(self) -> str:
        return f"{self.village_id} · {self.sending_unit}"


class TeamRole(models.TextChoices):
    FIRST_SECRETARY = "first_secretary", _("First secretary")  # 第一书记
    LEADER = "leader", _("Team leader")  # 队长
    MEMBER = "member", _("Team member")  # 队员


class TeamMember(models.Model):
    """A cadre on a resident team, in a role, from one day to another."""

    area_lookup = "team__village__code"

    team = models.ForeignKey(ResidentTeam, on_delete=models.CASCADE, related_name="members")
    cadre = models.ForeignKey(Cadre, on_delete=models.PROTECT, related_name="team_memberships")
    role = models.CharField(_("role"), max_length=20, choices=TeamRole.choices)
    joined_on = models.DateField(_("joined"))
    left_on = models.DateField(_("left"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        ordering = ["team_id", "role", "joined_on"]

    def __str__(self) -> str:
        return f"{self.cadre} · {self.get_role_display()}"


class Geofence(models.Model):
    """A village's centre and radius (电子围栏), set by the county or from first check-ins."""

    area_lookup = "village__code"

    village = models.OneToOneField(
        Area, verbose_name=_("village"), on_delete=models.CASCADE, related_name="geofence"
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, validators=LONGITUDE
    )
    radius_m = models.PositiveIntegerField(_("radius (m)"))
    source = models.CharField(
        _("set from"),
        max_length=12,
        choices=[("county", _("Set by the county")), ("checkins", _("First check-ins"))],
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("village geofence")
        verbose_name_plural = _("village geofences")

    def __str__(self) -> str:
        return f"{self.village_id} ({self.latitude}, {self.longitude}) r={self.radius_m}m"


class CheckIn(models.Model):
    """A team member's check-in from a phone (签到): the browser's location and the time."""

    area_lookup = "member__team__village__code"

    member = models.ForeignKey(TeamMember, on_delete=models.PROTECT, related_name="checkins")
    at = models.DateTimeField(_("time"))
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, validators=LONGITUDE
    )
    accuracy_m = models.PositiveIntegerField(_("accuracy (m)"), null=True, blank=True)
    #: Distance to the village centre and whether it lies inside the geofence; None while
    #: the village has no geofence yet.
    distance_m = models.PositiveIntegerField(_("distance (m)"), null=True, blank=True)
    inside = models.BooleanField(_("in the village"), null=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["member_id", "at"]
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        return f"{self.member} @ {self.at:%Y-%m-%d %H:%M}"


class Plan(models.Model):
    """One plan per household (一户一策), made from its causes of poverty."""

    area_lookup = "household__village__code"

    household = models.OneToOneField(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="plan"
    )
    goal = models.TextField(_("goal"), blank=True)
    #: SHA-256 of the plan's measures (kind, target, amount, funding) in a canonical order:
    #: two households with the same fingerprint have identical plans (同质化).
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("support plan")
        verbose_name_plural = _("support plans")

    def __str__(self) -> str:
        return f"{self.household_id}"


class MeasureStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    UNDER_WAY = "under_way", _("Under way")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")


class Measure(models.Model):
    """A support measure of a plan: what, for how much, paid by whom, by whom, by when."""

    area_lookup = "plan__household__village__code"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="measures")
    category = models.CharField(_("category"), max_length=30)  # policy/measures.toml
    kind = models.CharField(_("measure"), max_length=50)  # policy/measures.toml
    target = models.TextField(_("target"))
    amount = models.DecimalField(_("amount (yuan)"), default=Decimal("0"), **MONEY)
    funding_source = models.CharField(_("funding source"), max_length=100, blank=True)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    responsible = models.CharField(_("responsible"), max_length=100)
    status = models.CharField(
        _("status"), max_length=12, choices=MeasureStatus.choices, default=MeasureStatus.PLANNED
    )
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    result = models.TextField(_("result"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("support measure")
        verbose_name_plural = _("support measures")
        ordering = ["plan_id", "starts_on", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.target}"


class Visit(models.Model):
    """A cadre's visit to a household (走访), recorded from a phone."""

    area_lookup = "household__village__code"

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visits")
    cadre = models.ForeignKey(Cadre, on_delete=models.PROTECT, related_name="visits")
    date = models.DateField(_("date"))
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True, validators=LONGITUDE
    )
    work_done = models.TextField(_("what was done"))
    needs = models.TextField(_("the household's needs"), blank=True)
    photos = models.ManyToManyField(Attachment, verbose_name=_("photos"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["household_id", "-date", "-id"]

    def __str__(self) -> str:
        return f"{self.household_id} · {self.date}"


class LedgerEntry(models.Model):
    """A line of the household's running income and expense ledger (一户一册一卡 日常收支台账)."""

    area_lookup = "household__village__code"

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="ledger")
    date = models.DateField(_("date"))
    direction = models.CharField(
        _("income or expense"),
        max_length=7,
        choices=[("income", _("Income")), ("expense", _("Expense"))],
    )
    category = models.CharField(_("category"), max_length=30)
    amount = models.DecimalField(_("amount (yuan)"), **MONEY)
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["household_id", "date", "id"]

    def __str__(self) -> str:
        return f"{self.household_id} {self.date} {self.direction} {self.amount}"


class NeedStatus(models.TextChoices):
    """精准扶贫直通车 (seed 000, Shandong): 汇集需求 → 认领申报 → 组织实施 → 成效验收."""

    SUBMITTED = "submitted", _("Submitted")
    PUBLISHED = "published", _("Published")
    REJECTED = "rejected", _("Rejected")
    CLAIMED = "claimed", _("Claimed")
    CARRIED_OUT = "carried_out", _("Carried out")
    ACCEPTED = "accepted", _("Accepted")


class NeedGrade(models.TextChoices):
    EXCELLENT = "excellent", _("Excellent")
    GOOD = "good", _("Good")
    FAIR = "fair", _("Fair")
    POOR = "poor", _("Poor")


class Need(models.Model):
    """A household's or village's need published for companies and donors (直通车)."""

    area_lookup = "village__code"

    village = models.ForeignKey(Area, verbose_name=_("village"), on_delete=models.PROTECT)
    #: Empty for a village's need. Never shown to the public (DESIGN.md privacy rule).
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="needs",
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    amount = models.DecimalField(_("estimated amount (yuan)"), default=Decimal("0"), **MONEY)
    status = models.CharField(
        _("status"), max_length=12, choices=NeedStatus.choices, default=NeedStatus.SUBMITTED
    )
    #: The day the need was published or rejected: a claim cannot come before it.
    reviewed_on = models.DateField(_("reviewed"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    donor = models.CharField(_("donor"), max_length=200, blank=True)
    donor_contact = models.CharField(_("donor contact"), max_length=100, blank=True)
    claimed_on = models.DateField(_("claimed"), null=True, blank=True)
    carried_out_on = models.DateField(_("carried out"), null=True, blank=True)
    outcome = models.TextField(_("what was done"), blank=True)
    accepted_on = models.DateField(_("accepted"), null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=10, choices=NeedGrade.choices, blank=True)
    acceptance_note = models.TextField(_("acceptance note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("social-help need")
        verbose_name_plural = _("social-help needs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
