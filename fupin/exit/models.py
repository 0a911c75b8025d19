"""Household exit (精准脱贫, DOMAIN.md §5): exit rounds and their procedure, the 双认定
acceptance at the household, and the 3342 sign-off.

An exit round (`ExitRound`) covers an area and a year, like an identification campaign: its
households (`RoundHousehold`) are proposed by the system from the standard or by a cadre,
each through the registry's `propose_exit` transition; the procedure is a copy of the
province's steps (`policy/exit.toml`) taken when the round is opened; `ExitStepRecord`s
record them area by area, `ExitDecision`s take a household off the list (always with a
reason), `ExitObjection`s are raised during notices; at the announcement the households
still on the list exit through the registry's `exit` transition. Village and county exit
(贫困村、贫困县摘帽) are judged from the registry and from `AreaFacts`, the facts of a village
or county the registry does not hold, entered by the county for a year. Changes go through
`fupin.exit.services` only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from fupin.core.models import Area
from fupin.core.scoping import ScopedQuerySet
from fupin.exit.policy import SignoffChain
from fupin.identify.models import ObjectionStatus
from fupin.identify.policy import Procedure, Step
from fupin.registry.models import Attachment, Household


class RoundStatus(models.TextChoices):
    OPEN = "open", _("Proposing")  # households proposed; no step recorded yet
    IN_PROCEDURE = "in_procedure", _("In procedure")
    ANNOUNCED = "announced", _("Announced")  # the households on the list have exited


class ExitRound(models.Model):
    """A household exit round (贫困户脱贫退出) over an area and a year."""

    area_lookup = "area__code"

    name = models.CharField(_("name"), max_length=200)
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField(_("year"))
    poverty_line = models.DecimalField(
        _("poverty line (yuan per person per year)"), max_digits=9, decimal_places=2
    )
    #: [{"code", "version"}]: the household standards judged, as in force when opened.
    standards = models.JSONField(_("standards"), default=list)
    #: {"code", "version"} of the standard the acceptance form checks; {} without one.
    acceptance_standard = models.JSONField(default=dict, blank=True)
    procedure = models.JSONField(_("procedure"))
    #: The sign-off chains of the procedure's sign-off steps, by step code.
    signoffs = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RoundStatus.choices, default=RoundStatus.OPEN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("exit round")
        verbose_name_plural = _("exit rounds")
        ordering = ["-year", "-created_at"]
        permissions = [
            ("view_exit", "See exit checks, rounds and consolidation"),
            ("record_exit", "Propose exits, record steps, acceptances and objections"),
            ("manage_exit", "Open exit rounds and propose from the standard"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def steps(self) -> tuple[Step, ...]:
        return Procedure.from_json(self.procedure).steps

    @property
    def procedure_label(self) -> str:
        return Procedure.from_json(self.procedure).label

    @property
    def has_acceptance(self) -> bool:
        return any(s.kind == "acceptance" for s in self.steps)

    def signoff_chain(self, step_code: str) -> SignoffChain | None:
        data = self.signoffs.get(step_code)
        return SignoffChain.from_json(data) if data else None


class ProposedBy(models.TextChoices):
    SYSTEM = "system", _("The system, from the standard")
    CADRE = "cadre", _("A cadre")


class RoundHousehold(models.Model):
    """A household proposed for exit in a round, and its place on the list as the
    procedure goes (the steps passed, the decisions taken)."""

    area_lookup = "village__code"

    round = models.ForeignKey(ExitRound, on_delete=models.CASCADE, related_name="households")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    #: The household's village when proposed, kept here so scoping needs no join.
    village = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    proposed_by = models.CharField(_("proposed by"), max_length=10, choices=ProposedBy.choices)
    proposed_on = models.DateField(_("proposed on"))
    reason = models.TextField(_("reason"))
    #: The standards' results when proposed: [{"standard", "version", "item", "outcome",
    #: "evidence"}], so the page can say on what data the proposal stood.
    results = models.JSONField(default=list)
    on_list = models.BooleanField(_("on the list"), default=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    exited = models.BooleanField(_("exited"), default=False)
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("proposed household")
        verbose_name_plural = _("proposed households")
        ordering = ["village_id", "household_id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "household"], name="exit_round_household_once")
        ]

    def __str__(self) -> str:
        return f"{self.round} · {self.household_id}"


class ExitStepRecord(models.Model):
    """One step of the exit procedure held in one area, with its date, who took part and
    the signed record (scans)."""

    area_lookup = "area__code"

    round = models.ForeignKey(ExitRound, on_delete=models.CASCADE, related_name="records")
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
        verbose_name = _("exit step record")
        verbose_name_plural = _("exit step records")
        ordering = ["round", "step_index", "area_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "step_index", "area"], name="exit_step_once_per_area"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step_code} · {self.area_id} · {self.date}"

    @property
    def step(self) -> Step:
        return self.round.steps[self.step_index]


class ExitDecision(models.Model):
    """A household taken off the list at a step (or kept, as a confirmation), and why."""

    area_lookup = "round_household__village__code"

    record = models.ForeignKey(ExitStepRecord, on_delete=models.CASCADE, related_name="decisions")
    round_household = models.ForeignKey(
        RoundHousehold, on_delete=models.CASCADE, related_name="decisions"
    )
    on_list = models.BooleanField(_("on the list"))
    reason = models.TextField(_("reason"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("exit decision")
        verbose_name_plural = _("exit decisions")
        ordering = ["record__step_index", "id"]

    def __str__(self) -> str:
        return f"{self.record} · {self.round_household_id} → {self.on_list}"


class ExitObjection(models.Model):
    """An objection (异议) raised during an exit notice about a household on the list: the
    next step waits until every objection of the notice is resolved."""

    area_lookup = "round_household__village__code"

    record = models.ForeignKey(ExitStepRecord, on_delete=models.CASCADE, related_name="objections")
    round_household = models.ForeignKey(
        RoundHousehold, on_delete=models.CASCADE, related_name="objections"
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
        verbose_name = _("exit objection")
        verbose_name_plural = _("exit objections")
        ordering = ["raised_on", "id"]

    def __str__(self) -> str:
        return f"{self.record} · {self.round_household.household_id}"


class Acceptance(models.Model):
    """The 双认定 acceptance form (《贫困户脱贫摘帽“双认定”验收表》, seed 000): every item of
    the standard checked at the household by the acceptance team, signed by the head of
    household, a team member and the support cadre. Recorded complete or not at all."""

    area_lookup = "round_household__village__code"

    round_household = models.OneToOneField(
        RoundHousehold, on_delete=models.CASCADE, related_name="acceptance"
    )
    standard_code = models.CharField(_("standard"), max_length=60)
    standard_version = models.CharField(_("version"), max_length=30)
    checked_on = models.DateField(_("checked on"))
    team = models.TextField(_("acceptance team"))
    #: [{"code", "label", "label_en", "kind", "met": bool, "note", "system": outcome}]
    items = models.JSONField(default=list)
    cadre_name = models.CharField(_("support cadre"), max_length=50)
    cadre = models.ForeignKey(
        "support.Cadre", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("double acceptance")
        verbose_name_plural = _("double acceptances")

    def __str__(self) -> str:
        return f"{self.round_household} · {self.checked_on}"

    @property
    def all_met(self) -> bool:
        return all(i["met"] for i in self.items)

    @property
    def unmet(self) -> list[dict[str, object]]:
        return [i for i in self.items if not i["met"]]


class SignerRole(models.TextChoices):
    HEAD = "head", _("Head of household")
    TEAM = "team", _("Acceptance team member")
    CADRE = "cadre", _("Support cadre")


class SignatureMethod(models.TextChoices):
    DRAWN = "drawn", _("Drawn on screen")
    SCAN = "scan", _("Scanned")


class AcceptanceSignature(models.Model):
    """One of the three signatures of an acceptance form: drawn on screen (a PNG) or a scan."""

    area_lookup = "acceptance__round_household__village__code"

    acceptance = models.ForeignKey(Acceptance, on_delete=models.CASCADE, related_name="signatures")
    role = models.CharField(_("signs as"), max_length=10, choices=SignerRole.choices)
    name = models.CharField(_("name"), max_length=50)
    method = models.CharField(_("how"), max_length=10, choices=SignatureMethod.choices)
    file = models.ForeignKey(Attachment, on_delete=models.PROTECT, related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("acceptance signature")
        verbose_name_plural = _("acceptance signatures")
        ordering = ["acceptance_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["acceptance", "role"], name="acceptance_role_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.name}"


class Signoff(models.Model):
    """One official's signature on a sign-off record (Gansu 3342): who, which post, when,
    and the scan."""

    area_lookup = "record__area__code"

    record = models.ForeignKey(ExitStepRecord, on_delete=models.CASCADE, related_name="signoffs")
    party = models.CharField(_("party"), max_length=40)
    tier = models.CharField(_("tier"), max_length=10)
    post = models.CharField(_("post"), max_length=100)
    name = models.CharField(_("name"), max_length=50)
    signed_on = models.DateField(_("signed on"))
    file = models.ForeignKey(Attachment, on_delete=models.PROTECT, related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("sign-off")
        verbose_name_plural = _("sign-offs")
        ordering = ["record_id", "id"]
        constraints = [models.UniqueConstraint(fields=["record", "party"], name="signoff_once")]

    def __str__(self) -> str:
        return f"{self.post}: {self.name}"


# --------------------------------------------------------------------------------------
# Village and county facts (贫困村、贫困县退出)
# --------------------------------------------------------------------------------------

#: Whole people or households, 0 or more.
_COUNT: dict[str, Any] = {"null": True, "blank": True}
_MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2, "null": True, "blank": True}
_NON_NEGATIVE = [MinValueValidator(0)]


class AreaFacts(models.Model):
    """What the village and county exit standards read that the registry does not hold,
    for one village or county and one year, entered by the county (village form, DOMAIN.md
    §9; the evaluation's figures, §10; the county's statistics, §5). Every value may be
    unknown (null): an item that reads it shows "no data", never a guess. Which fields
    belong to which level is `fupin.exit.facts`; the values' source is kept with them.
    Registry-derived facts (poor people, dilapidated houses …) are never stored here."""

    area_lookup = "area__code"

    area = models.ForeignKey(
        Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="exit_facts"
    )
    year = models.PositiveSmallIntegerField(_("year"))

    # Both levels
    rural_population = models.PositiveIntegerField(_("rural registered population"), **_COUNT)
    has_special_industry = models.BooleanField(_("special industry"), null=True, blank=True)
    wrongly_exited_people = models.PositiveIntegerField(
        _("wrongly exited people (evaluation estimate)"), **_COUNT
    )
    omitted_people = models.PositiveIntegerField(
        _("omitted poor people (evaluation estimate)"), **_COUNT
    )
    # Village
    road_hardened = models.BooleanField(
        _("hardened road to the village and its hamlets"), null=True, blank=True
    )
    has_clinic = models.BooleanField(_("clinic with a village doctor"), null=True, blank=True)
    has_service_centre = models.BooleanField(_("public service centre"), null=True, blank=True)
    collective_income = models.DecimalField(
        _("village collective income (yuan)"), validators=_NON_NEGATIVE, **_MONEY
    )
    has_power_grid = models.BooleanField(_("connected to the power grid"), null=True, blank=True)
    has_broadcast_tv = models.BooleanField(_("radio and TV coverage"), null=True, blank=True)
    has_broadband = models.BooleanField(_("broadband"), null=True, blank=True)
    safe_water_percent = models.DecimalField(
        _("households with safe drinking water (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    committees_good = models.BooleanField(
        _("good village Party branch and committee (confirmed)"), null=True, blank=True
    )
    # County
    dibao_line = models.DecimalField(
        _("rural subsistence allowance line (yuan per person per year)"),
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=_NON_NEGATIVE,
    )
    sample_exited_people = models.PositiveIntegerField(
        _("exited people in the evaluation sample"), **_COUNT
    )
    sample_wrongly_exited_people = models.PositiveIntegerField(
        _("of them wrongly exited"), **_COUNT
    )
    sample_unregistered_people = models.PositiveIntegerField(
        _("unregistered rural people in the sampled villages"), **_COUNT
    )
    sample_omitted_people = models.PositiveIntegerField(
        _("of them verified as omitted poor"), **_COUNT
    )
    surveyed_households = models.PositiveIntegerField(
        _("households surveyed on satisfaction"), **_COUNT
    )
    satisfied_households = models.PositiveIntegerField(_("of them satisfied"), **_COUNT)
    cutoff_score = models.IntegerField(_("identification cutoff score"), null=True, blank=True)
    rural_income_per_capita = models.DecimalField(
        _("rural net income per person (yuan)"), validators=_NON_NEGATIVE, **_MONEY
    )
    special_funds = models.DecimalField(
        _("special poverty funds (yuan)"), validators=_NON_NEGATIVE, **_MONEY
    )
    fiscal_revenue_per_person = models.DecimalField(
        _("fiscal revenue per person (yuan)"), validators=_NON_NEGATIVE, **_MONEY
    )

    source = models.CharField(_("source of the values"), max_length=300)
    notes = models.TextField(_("notes"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("village or county facts")
        verbose_name_plural = _("village and county facts")
        ordering = ["area_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["area", "year"], name="exit_area_facts_once_a_year")
        ]
        permissions = [
            # The third-party evaluation's figures (facts.py's "evaluation" group, DOMAIN.md
            # §10): the evaluator's, or the city's and province's, never the county's own.
            ("enter_evaluation", "Enter the third-party evaluation's figures of a county"),
        ]

    def __str__(self) -> str:
        return f"{self.area_id} · {self.year}"
