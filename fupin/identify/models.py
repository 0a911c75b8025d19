"""Identification campaigns (精准识别, DOMAIN.md §3): scorecards, quotas, score lines, and
the notice procedure each proposed household goes through before it is registered.

A campaign covers an area (a county, or a city or province with one quota per county in
it). Scoring runs as a job over a snapshot of the registry (`services.score_campaign`);
each household's score keeps its per-item points (`CampaignHousehold.points`) so the page
can say why. The procedure is a copy of the province's steps (`policy/procedures.toml`)
taken when the campaign is created; `StepRecord`s record them area by area, `Decision`s
change a household's place on the list (always with a reason), `Objection`s are raised
during notices. Changes go through `fupin.identify.services` only.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from engine.scorecard import Scorecard as CardSpec
from engine.scorecard import parse_scorecard
from fupin.core.models import Area, JobRun
from fupin.core.scoping import ScopedQuerySet
from fupin.identify.policy import Procedure, Step
from fupin.registry.models import Attachment, Household, Member, StatusChange


class Scorecard(models.Model):
    """A version of a scorecard (评分表), kept as its YAML text (engine/scorecards/FORMAT.md)."""

    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=50)
    effective = models.DateField(_("effective from"))
    direction = models.CharField(_("direction"), max_length=30)
    text = models.TextField(_("scorecard (YAML)"))
    sha256 = models.CharField(max_length=64)
    installed_at = models.DateTimeField(_("installed"), auto_now_add=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="scorecard_name_version")
        ]
        ordering = ["name", "-effective"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def card(self) -> CardSpec:
        """The parsed card: once per version in a process (its text never changes, so its
        hash is the key)."""
        return _parsed(self.sha256, self.text, str(self))


@cache
def _parsed(sha256: str, text: str, source: str) -> CardSpec:
    return parse_scorecard(text, source)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # quotas being set
    SCORING = "scoring", _("Being scored")
    SCORED = "scored", _("Scored")  # lines drawn; the procedure may start
    IN_PROCEDURE = "in_procedure", _("In procedure")
    ANNOUNCED = "announced", _("Announced")  # households registered


class Campaign(models.Model):
    """An identification campaign (识别工作) over an area."""

    area_lookup = "area__code"

    name = models.CharField(_("name"), max_length=200)
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField(_("year"))
    scorecard = models.ForeignKey(Scorecard, verbose_name=_("scorecard"), on_delete=models.PROTECT)
    poverty_line = models.DecimalField(
        _("poverty line (yuan per person per year)"), max_digits=9, decimal_places=2
    )
    procedure = models.JSONField(_("procedure"))
    status = models.CharField(
        _("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    score_job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scored_at = models.DateTimeField(_("scored"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("identification campaign")
        verbose_name_plural = _("identification campaigns")
        ordering = ["-year", "-created_at"]
        permissions = [
            ("manage_campaign", "Create campaigns, set quotas, run scoring"),
            ("record_step", "Record procedure steps and objections"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def steps(self) -> tuple[Step, ...]:
        return Procedure.from_json(self.procedure).steps

    @property
    def procedure_label(self) -> str:
        return Procedure.from_json(self.procedure).label


class CampaignCounty(models.Model):
    """A county of a campaign: its quota of poor people (from the statistics bureau) and the
    line the cutoff drew from it (like the college-entrance line)."""

    area_lookup = "county__code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="counties")
    county = models.ForeignKey(Area, verbose_name=_("county"), on_delete=models.PROTECT)
    quota_people = models.PositiveIntegerField(_("quota (people)"))
    line = models.IntegerField(_("score line"), null=True, blank=True)
    selected_people = models.PositiveIntegerField(_("proposed people"), default=0)
    selected_households = models.PositiveIntegerField(_("proposed households"), default=0)
    deviation = models.IntegerField(_("deviation from the quota"), default=0)
    scored_households = models.PositiveIntegerField(_("scored households"), default=0)
    vetoed_households = models.PositiveIntegerField(_("vetoed households"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign county")
        verbose_name_plural = _("campaign counties")
        ordering = ["county_id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "county"], name="campaign_county_once")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.county}"


class CampaignHousehold(models.Model):
    """A household scored in a campaign: its score and why, the engine's verdict, and its
    place on the list as the procedure goes (the steps passed, the decisions taken)."""

    area_lookup = "village__code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="households")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    # The household's village when scored, kept here so scoping needs no join.
    village = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    county_code = models.CharField(max_length=6, db_index=True)
    people = models.PositiveSmallIntegerField(_("people"))
    score = models.IntegerField(_("score"))
    vetoed = models.BooleanField(_("vetoed"), default=False)
    #: {item id: points} for every scored item; `vetoes` lists the veto items that fired.
    points = models.JSONField(default=dict)
    vetoes = models.JSONField(default=list)
    selected = models.BooleanField(_("below the line"), default=False)
    near_line = models.BooleanField(_("near the line"), default=False)
    #: On the list now: starts as `selected`, changed only by a Decision or an objection.
    on_list = models.BooleanField(_("on the list"), default=False)
    #: How many steps of the procedure this household has passed (0: none yet).
    steps_done = models.PositiveSmallIntegerField(default=0)
    registered = models.BooleanField(_("registered"), default=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign household")
        verbose_name_plural = _("campaign households")
        ordering = ["county_code", "score", "household_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "household"], name="campaign_household_once"
            )
        ]
        indexes = [models.Index(fields=["campaign", "county_code", "score"])]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.household_id}"

    @property
    def crossed_line(self) -> bool:
        """On the list against the engine's verdict, or off it despite it."""
        return self.on_list != self.selected


class StepRecord(models.Model):
    """One step of the procedure held in one area (a village meeting, a township review, a
    notice posted), with its date, who took part and the signed record (scans)."""

    area_lookup = "area__code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="records")
    step_index = models.PositiveSmallIntegerField()
    step_code = models.CharField(max_length=50)
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    date = models.DateField(_("date"))
    #: For a notice: the last day of the notice period (inclusive).
    ends_on = models.DateField(_("notice ends"), null=True, blank=True)
    participants = models.TextField(_("participants"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    signatures = models.ManyToManyField(Attachment, verbose_name=_("signed record"), blank=True)
    households = models.PositiveIntegerField(_("households covered"), default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("procedure step record")
        verbose_name_plural = _("procedure step records")
        ordering = ["campaign", "step_index", "area_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "step_index", "area"], name="step_once_per_area"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step_code} · {self.area_id} · {self.date}"

    @property
    def step(self) -> Step:
        return self.campaign.steps[self.step_index]


class Decision(models.Model):
    """A household put on or taken off the list at a step, and why (written, required)."""

    area_lookup = "campaign_household__village__code"

    record = models.ForeignKey(StepRecord, on_delete=models.CASCADE, related_name="decisions")
    campaign_household = models.ForeignKey(
        CampaignHousehold, on_delete=models.CASCADE, related_name="decisions"
    )
    on_list = models.BooleanField(_("on the list"))
    reason = models.TextField(_("reason"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        ordering = ["record__step_index", "id"]

    def __str__(self) -> str:
        return f"{self.record} · {self.campaign_household_id} → {self.on_list}"


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Upheld")
    DISMISSED = "dismissed", _("Dismissed")


class Objection(models.Model):
    """An objection (异议) raised during a public notice, about a household on the list (or
    one left off it); the next step waits until every objection of the notice is resolved."""

    area_lookup = "record__area__code"

    record = models.ForeignKey(StepRecord, on_delete=models.CASCADE, related_name="objections")
    campaign_household = models.ForeignKey(
        CampaignHousehold, on_delete=models.CASCADE, related_name="objections"
    )
    raised_on = models.DateField(_("raised on"))
    raised_by = models.CharField(_("raised by"), max_length=100)
    text = models.TextField(_("objection"))
    status = models.CharField(
        _("status"), max_length=10, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN
    )
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["raised_on", "id"]

    def __str__(self) -> str:
        return f"{self.record} · {self.campaign_household.household_id}"


# --------------------------------------------------------------------------------------
# Cross-department verification (数据比对, DOMAIN.md §3; issue 5). Changes go through
# `fupin.identify.verification` only.
# --------------------------------------------------------------------------------------


class DepartmentDataset(models.Model):
    """One version of a department's records (a kind of `policy/departments.toml`) for an
    area, kept as the Parquet file it was imported into. A new upload of the same kind and
    area is the next version; earlier versions stay, so each run says what it compared."""

    area_lookup = "area__code"

    kind = models.CharField(_("kind"), max_length=40)
    version = models.PositiveIntegerField(_("version"))
    label = models.CharField(_("version label"), max_length=200)
    area = models.ForeignKey(Area, verbose_name=_("area covered"), on_delete=models.PROTECT)
    received_on = models.DateField(_("received on"))
    source_note = models.TextField(_("source"), blank=True)
    file = models.FileField(_("file"), upload_to="departments/%Y/%m/")
    original_name = models.CharField(_("uploaded file"), max_length=200)
    rows = models.PositiveIntegerField(_("records"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("department dataset")
        verbose_name_plural = _("department datasets")
        ordering = ["kind", "area_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "area", "version"], name="department_dataset_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.area_id} v{self.version}"


class VerificationRun(models.Model):
    """A verification of an area's people against chosen datasets, run as a job."""

    area_lookup = "area__code"

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    datasets = models.ManyToManyField(DepartmentDataset, verbose_name=_("datasets"))
    job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    people = models.PositiveIntegerField(_("people compared"), default=0)
    matches = models.PositiveIntegerField(_("matches"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicate registrations"), default=0)
    findings = models.PositiveIntegerField(_("findings"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("verification run")
        verbose_name_plural = _("verification runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.area_id} #{self.pk}"


class FindingEffect(models.TextChoices):
    EXCLUDE = "exclude", _("Exclude (四类人员)")
    INCLUDE = "include", _("Include (应纳尽纳)")
    UPDATE = "update", _("Update the member")
    #: Someone registered twice: which registration stays is the data officer's decision.
    MERGE = "merge", _("Exclude or merge (registered twice)")


class FindingStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("finding status", "Open")
    CONFIRMED = "confirmed", pgettext_lazy("finding status", "Confirmed")
    DISMISSED = "dismissed", pgettext_lazy("finding status", "Dismissed")


#: The kind of a finding about a person registered more than once.
DUPLICATE = "duplicate"


class Finding(models.Model):
    """A registered person matched with a department record (or with another registration
    of himself), to be confirmed or dismissed by a person, with a reason."""

    area_lookup = "household__village__code"

    run = models.ForeignKey(VerificationRun, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=40, db_index=True)
    dataset = models.ForeignKey(
        DepartmentDataset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    record_id = models.BigIntegerField(_("record"), null=True, blank=True)
    #: The department record's fields (or the other registration's), kept as evidence.
    record = models.JSONField(_("matched record"), default=dict)
    member = models.ForeignKey(
        Member, verbose_name=_("person"), on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="+"
    )
    other_member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(_("match method"), max_length=30)
    score = models.FloatField(_("match score"))
    effect = models.CharField(_("effect"), max_length=10, choices=FindingEffect.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    #: The exclusion a confirmed `exclude` finding made (with the record as evidence).
    status_change = models.ForeignKey(
        StatusChange, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("verification finding")
        verbose_name_plural = _("verification findings")
        ordering = ["status", "-score", "id"]
        indexes = [
            models.Index(fields=["status", "effect", "kind"]),
            models.Index(fields=["household", "effect", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.member_id} · {self.record_id}"
