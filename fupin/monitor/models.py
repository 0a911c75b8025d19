"""Monitoring (动态管理, DOMAIN.md §4 and §6).

The education aid data exchange (教育资助数据比对, Anhui, seed 004): an `EducationExchange`
sends an area's registered poor children to the education department for one school year,
one `ExchangeChild` row per child; the department's answer fills each row's school, stage
and aid; the rows not aided make the 应助未助 list. The file layout is EXCHANGE.md.

Changes go through `fupin.monitor.services` only.
"""

from __future__ import annotations

from typing import Any

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
    #: The answer's 是否省内就读: seed 004 aids students “在省内各级各类学校就读”; a child the
    #: department answers as studying outside the province is not on the 应助未助 list. A
    #: blank answer is in the province (EXCHANGE.md).
    in_province = models.BooleanField(_("studying in the province"), default=True)
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


# ======================================================================================
# Return-to-poverty warnings (返贫预警, issue 7 item 5): risk events, warning runs, warnings,
# monitoring cases (防返贫监测对象) and return cases (返贫认定)
# ======================================================================================

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class EventKind(models.TextChoices):
    """The kinds of risk event (engine.warnings.EVENT_KINDS; engine/warning_rules/FORMAT.md)."""

    MEDICAL_EXPENSE = "medical_expense", _("Major medical expense")  # 大额医疗支出
    DISASTER = "disaster", _("Disaster")  # 遭受灾害
    LABOUR_LOSS = "labour_loss", _("Loss of a main labourer")  # 主要劳动力死亡或致残
    MIGRANT_UNEMPLOYED = "migrant_unemployed", _("Migrant worker out of work")  # 务工人员失业
    LOAN_OVERDUE = "loan_overdue", _("Poverty loan overdue")  # 扶贫小额信贷逾期
    DROPOUT = "dropout", _("Dropout from compulsory school")  # 义务教育阶段辍学
    HOUSE_DILAPIDATED = "house_dilapidated", _("House appraised dilapidated")  # 住房鉴定为危房


class RiskEvent(models.Model):
    """Something that happened to a household and may push it back into poverty (风险事件),
    reported by the village or a department; the warning job reads them as events.parquet."""

    area_lookup = "household__village__code"

    #: CASCADE: a household is never deleted but by the demo's reset (fupin demo --reset),
    #: whose households take their members, findings and warnings with them.
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="+"
    )
    person = models.ForeignKey(
        Member,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind of event"), max_length=20, choices=EventKind.choices)
    date = models.DateField(_("date"))
    amount = models.DecimalField(
        _("amount (yuan)"), null=True, blank=True, validators=[MinValueValidator(0)], **MONEY
    )
    #: Who reported it: 村报告, 卫健委, 应急管理局, 人社局, 银行, 教育局, 住建局 … (free text).
    source = models.CharField(_("reported by"), max_length=50)
    note = models.CharField(_("note"), max_length=200, blank=True)
    #: The department file it came in, when imported.
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk event")
        verbose_name_plural = _("risk events")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["household", "date"])]

    def __str__(self) -> str:
        return f"{self.household_id} {self.kind} {self.date}"


class WarningLevel(models.TextChoices):
    """engine.warnings.LEVELS."""

    RED = "red", _("Red")  # 红色预警
    ORANGE = "orange", _("Orange")  # 橙色预警
    YELLOW = "yellow", _("Yellow")  # 黄色预警


class ResponseKind(models.TextChoices):
    """engine.warnings.RESPONSES: what a rule asks for."""

    VISIT = "visit", _("Visit")  # 入户回访
    MEASURE = "measure", _("Support measure")  # 帮扶措施
    ASSESS = "assess", _("Return check")  # 返贫核查


class MonitoringCategory(models.TextChoices):
    """engine.warnings.CATEGORIES: the post-2020 monitored kinds."""

    UNSTABLE_EXITED = "unstable_exited", _("Unstable exited household")  # 脱贫不稳定户
    MARGINAL = "marginal", _("Marginal household at risk")  # 边缘易致贫户
    SUDDEN_HARDSHIP = "sudden_hardship", _("Household in sudden severe hardship")  # 突发严重困难户


class RiskType(models.TextChoices):
    """engine.warnings.RISKS."""

    ILLNESS = "illness", _("Illness")  # 因病
    DISASTER = "disaster", pgettext_lazy("risk", "Disaster")  # 因灾
    DISABILITY = "disability", _("Disability")  # 因残
    LACK_OF_LABOUR = "lack_of_labour", _("Lack of labour")  # 缺劳动力
    ACCIDENT = "accident", _("Accident")  # 意外事故
    INDUSTRY_FAILURE = "industry_failure", _("Failed business")  # 产业失败
    UNSTABLE_EMPLOYMENT = "unstable_employment", _("Unstable employment")  # 务工就业不稳
    SCHOOLING = "schooling", _("Schooling")  # 因学
    OTHER = "other", _("Other")  # 其他


class WarningRun(models.Model):
    """One evaluation of the warning rules over an area on a day (nightly or on demand)."""

    area_lookup = "area__code"

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    on = models.DateField(_("evaluated on"))
    rules_name = models.CharField(_("rules"), max_length=100)
    rules_version = models.CharField(_("rules version"), max_length=20)
    rules_file = models.CharField(max_length=100)
    poverty_line = models.DecimalField(_("poverty line (yuan)"), **MONEY)
    households = models.PositiveIntegerField(_("households evaluated"), default=0)
    warnings = models.PositiveIntegerField(_("warnings raised"), default=0)
    red = models.PositiveIntegerField(_("red"), default=0)
    orange = models.PositiveIntegerField(_("orange"), default=0)
    yellow = models.PositiveIntegerField(_("yellow"), default=0)
    new = models.PositiveIntegerField(_("new warnings"), default=0)
    renewed = models.PositiveIntegerField(_("still raised"), default=0)
    cleared = models.PositiveIntegerField(_("cleared"), default=0)
    seconds = models.FloatField(default=0)
    job = models.ForeignKey(
        "core.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Null for the nightly run of the system (`fupin monitor warn` without --user).
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    #: When the registry snapshot the run evaluated was read: a run clears (ends) only the
    #: warnings last raised by a run whose snapshot is older than its own, so a run whose
    #: data was read before another stored never undoes what that other one saw.
    snapshot_at = models.DateTimeField(_("data read at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("warning run")
        verbose_name_plural = _("warning runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.area_id} {self.on}"


class WarningState(models.TextChoices):
    OPEN = "open", _("Open")  # 待处置
    RESPONDED = "responded", _("Responded")  # 已处置
    DISMISSED = "dismissed", _("Dismissed")  # 已排除
    RETURNED = "returned", _("Return case opened")  # 转入返贫认定
    CLEARED = "cleared", _("Cleared (condition ended)")  # 已解除（风险消除）
    #: An open warning whose condition ended after its deadline had passed, unanswered.
    LAPSED = "lapsed", _("Ended unanswered after its deadline")  # 逾期未处置后解除


class RiskWarning(models.Model):
    """A return-to-poverty warning (返贫预警): a rule that fired for a household.

    One warning per household and rule for as long as the condition lasts (`ended_on` is
    null): later runs that still raise it update it (last raised, evidence, level), and the
    first run over its area that no longer raises it ends it — an open one is then cleared.
    A new warning of the same rule needs the condition to end and come back.
    """

    area_lookup = "household__village__code"

    #: CASCADE: a household is never deleted but by the demo's reset (fupin demo --reset),
    #: whose households take their members, findings and warnings with them.
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="+"
    )
    rule = models.CharField(_("rule"), max_length=50)
    rule_label = models.CharField(_("warning"), max_length=100)
    rule_label_en = models.CharField(max_length=150)
    level = models.CharField(_("level"), max_length=6, choices=WarningLevel.choices)
    category = models.CharField(
        _("monitoring category"), max_length=20, choices=MonitoringCategory.choices
    )
    risk = models.CharField(_("risk"), max_length=20, choices=RiskType.choices)
    response = models.CharField(_("response asked"), max_length=8, choices=ResponseKind.choices)
    #: `name=value; …` for every value the rule read (engine.warnings), as first raised:
    #: "the data that raised it" never changes; `last_evidence`/`last_level` follow the later
    #: runs while the warning is open.
    evidence = models.TextField(_("evidence"))
    last_evidence = models.TextField(_("latest evidence"), blank=True)
    last_level = models.CharField(
        _("latest level"), max_length=6, choices=WarningLevel.choices, blank=True
    )
    first_raised_on = models.DateField(_("raised on"))
    last_raised_on = models.DateField(_("last raised on"))
    due_on = models.DateField(_("response due"))
    #: The day a run over its area first no longer raised it.
    ended_on = models.DateField(_("condition ended"), null=True, blank=True)
    run = models.ForeignKey(
        WarningRun, verbose_name=_("raised by run"), on_delete=models.PROTECT, related_name="+"
    )
    last_run = models.ForeignKey(
        WarningRun, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    state = models.CharField(
        _("state"), max_length=10, choices=WarningState.choices, default=WarningState.OPEN
    )
    # The response (处置): a visit or a measure, or the reason for dismissing.
    #: SET_NULL: the support demo's reset removes its visits and measures; the response's
    #: note stays.
    visit = models.ForeignKey(
        "support.Visit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    measure = models.ForeignKey(
        "support.Measure", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response_note = models.TextField(_("response"), blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    #: Answered (or dismissed) after its deadline: closed on a local day after `due_on`.
    late = models.BooleanField(_("answered late"), default=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("return-to-poverty warning")
        verbose_name_plural = _("return-to-poverty warnings")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "rule"],
                condition=models.Q(ended_on__isnull=True),
                name="one_current_warning_per_rule",
            )
        ]
        indexes = [
            models.Index(fields=["state", "due_on"]),
            models.Index(fields=["household", "state"]),
        ]
        permissions = [
            ("respond_warning", "Respond to return-to-poverty warnings, open return cases"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.rule}"

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        zh = (get_language() or "zh-hans").startswith("zh")
        return self.rule_label if zh else self.rule_label_en

    def is_overdue(self, today: Any = None) -> bool:
        from django.utils import timezone

        return self.state == WarningState.OPEN and self.due_on < (today or timezone.localdate())


class CaseEnd(models.TextChoices):
    RISK_REMOVED = "risk_removed", _("Risk removed")  # 风险消除
    RETURNED = "returned", _("Returned to poverty and re-registered")  # 返贫纳入
    HOUSEHOLD_GONE = "household_gone", _("Household no longer exists")  # 家庭消亡
    OTHER = "other", _("Other")  # 其他


class MonitoringCase(models.Model):
    """A household under monitoring (防返贫监测对象) in one of the three categories."""

    area_lookup = "household__village__code"

    #: CASCADE: a household is never deleted but by the demo's reset (fupin demo --reset),
    #: whose households take their members, findings and warnings with them.
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(
        _("monitoring category"), max_length=20, choices=MonitoringCategory.choices
    )
    risk = models.CharField(_("risk"), max_length=20, choices=RiskType.choices)
    started_on = models.DateField(_("monitored since"))
    reason = models.TextField(_("reason"))
    from_warning = models.ForeignKey(
        RiskWarning,
        verbose_name=_("from warning"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ended_on = models.DateField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(
        _("why it ended"), max_length=20, choices=CaseEnd.choices, blank=True
    )
    end_note = models.TextField(_("note"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("monitored household")
        verbose_name_plural = _("monitored households")
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(ended_on__isnull=True),
                name="one_open_monitoring_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.category}"


class ReturnState(models.TextChoices):
    OPEN = "open", _("Under check")  # 认定中
    CONFIRMED = "confirmed", _("Return confirmed")  # 认定返贫
    REJECTED = "rejected", _("Not a return")  # 不予认定
    #: The household's status changed outside the procedure (e.g. it was excluded): the
    #: case cannot be decided any more and is withdrawn, with the reason.
    WITHDRAWN = "withdrawn", _("Withdrawn")  # 已撤销


class ReturnCase(models.Model):
    """The check whether a household has returned to poverty (返贫认定, Anhui: 现场核查、
    群众评议、乡镇审核、县级认定), its steps copied from policy/return.toml when opened."""

    area_lookup = "household__village__code"

    #: CASCADE: a household is never deleted but by the demo's reset (fupin demo --reset),
    #: whose households take their members, findings and warnings with them.
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="+"
    )
    from_warning = models.ForeignKey(
        RiskWarning,
        verbose_name=_("from warning"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"))
    #: The procedure as it was when the case was opened (identify's Procedure.as_json, each
    #: step with its permission).
    procedure = models.JSONField()
    steps_done = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(
        _("state"), max_length=10, choices=ReturnState.choices, default=ReturnState.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    closed_on = models.DateField(_("decided on"), null=True, blank=True)
    withdraw_reason = models.TextField(_("why it was withdrawn"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("return case")
        verbose_name_plural = _("return cases")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(state="open"),
                name="one_open_return_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.state}"


class Outcome(models.TextChoices):
    PASS = "pass", _("Passed")  # 通过
    FAIL = "fail", _("Not passed")  # 不通过


class ReturnStep(models.Model):
    """One step of a return case, recorded in order (none skipped, none repeated)."""

    area_lookup = "case__household__village__code"

    case = models.ForeignKey(ReturnCase, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveSmallIntegerField()
    code = models.CharField(_("step"), max_length=40)
    outcome = models.CharField(_("outcome"), max_length=4, choices=Outcome.choices)
    note = models.TextField(_("note"))
    date = models.DateField(_("date"))
    attachment = models.ForeignKey(
        "registry.Attachment",
        verbose_name=_("attachment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("return case step")
        verbose_name_plural = _("return case steps")
        ordering = ["case_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["case", "index"], name="one_record_per_return_step")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.code}"


class EventImport(models.Model):
    """A department's file of risk events imported for an area: the same file (by its
    SHA-256) is not imported twice for the area, so its events are never counted twice."""

    area_lookup = "area__code"

    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT)
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(_("file"), max_length=200)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    events = models.PositiveIntegerField(_("events"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("event file import")
        verbose_name_plural = _("event file imports")
        ordering = ["-imported_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["area", "sha256"], name="one_import_per_file_and_area")
        ]

    def __str__(self) -> str:
        return f"{self.area_id} {self.file_name}"
