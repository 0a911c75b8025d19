"""Areas (administrative divisions), users bound to an area, and the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from fupin.core.scoping import ScopedQuerySet


class AreaLevel(models.IntegerChoices):
    """The five levels of GB/T 2260 and the statistical division codes below a county."""

    PROVINCE = 1, _("Province")
    CITY = 2, _("City")
    COUNTY = 3, _("County")
    TOWNSHIP = 4, _("Township")
    VILLAGE = 5, _("Village")


#: Number of significant digits of a code at each level: 45 / 4501 / 450102 / 450102001 /
#: 450102001001. A descendant's code always starts with its ancestor's, which is what makes
#: area scoping a prefix test.
CODE_LENGTH = {
    AreaLevel.PROVINCE: 2,
    AreaLevel.CITY: 4,
    AreaLevel.COUNTY: 6,
    AreaLevel.TOWNSHIP: 9,
    AreaLevel.VILLAGE: 12,
}
LEVEL_BY_LENGTH = {length: level for level, length in CODE_LENGTH.items()}


class Area(models.Model):
    """One administrative division (行政区划): province, city, county, township or village."""

    code = models.CharField(_("code"), primary_key=True, max_length=12)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=AreaLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_poor_village = models.BooleanField(_("poor village (贫困村)"), default=False)
    is_deep_poverty_village = models.BooleanField(
        _("deep-poverty village (深度贫困村)"), default=False
    )
    #: A county on the poor-county list (贫困县; the ranking of seed 000 line 142 ranks them).
    is_poor_county = models.BooleanField(_("poor county (贫困县)"), default=False)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list[Area]:
        """The chain from the province down to this area's parent, by code prefix."""
        prefixes = [self.code[:n] for lvl, n in CODE_LENGTH.items() if lvl < self.level]
        return list(Area.objects.filter(code__in=prefixes).order_by("level"))

    @property
    def full_name(self) -> str:
        return "".join(a.name for a in [*self.ancestors(), self])

    def contains(self, code: str) -> bool:
        """Whether the area with `code` lies in this area's subtree (itself included)."""
        return code.startswith(self.code)


class User(AbstractUser):
    """A person who logs in. Bound to exactly one area; sees and changes only its subtree."""

    area = models.ForeignKey(
        Area,
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    roles = models.JSONField(_("roles"), default=list, blank=True)
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])


class AuditEntry(models.Model):
    """One change, append-only and hash-chained to the entry before it (审计日志).

    `hash` = SHA-256 over the previous entry's hash and this entry's canonical content, so
    editing or deleting any entry breaks every hash after it; `fupin audit verify` finds
    the first break. Database triggers refuse UPDATE and DELETE on this table.
    """

    timestamp = models.DateTimeField(_("time"), db_index=True)
    user = models.ForeignKey(
        User, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, db_index=True)
    area_code = models.CharField(_("area code"), max_length=12, blank=True, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M} {self.username} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("audit entries are append-only")


class AuditChainHead(models.Model):
    """A single row locked while an entry is appended, so the chain never forks."""

    last_hash = models.CharField(max_length=64)
    last_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.last_id} {self.last_hash}"


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


#: States a job does not leave.
FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobRun(models.Model):
    """One background job (an import, a load, an export, a batch run) and how it went.

    Written only by `fupin.core.jobs`: the row is the job's record for the pages (state,
    progress, counts, log, result file). Scoped like people's data: a user sees the jobs of
    his area's subtree.
    """

    area_lookup = "area__code"

    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    handler = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        _("state"), max_length=12, choices=JobState.choices, default=JobState.QUEUED
    )
    user = models.ForeignKey(
        User,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    area = models.ForeignKey(
        Area,
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    language = models.CharField(max_length=16, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    phase = models.CharField(_("phase"), max_length=200, blank=True)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    done = models.BigIntegerField(_("done"), default=0)
    total = models.BigIntegerField(_("total"), null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    log = models.TextField(_("log"), blank=True)
    input = models.FileField(
        _("input file"), upload_to="jobs/input/%Y/%m/", max_length=255, blank=True
    )
    input_name = models.CharField(_("input file name"), max_length=255, blank=True)
    result = models.FileField(
        _("result file"), upload_to="jobs/result/%Y/%m/", max_length=255, blank=True
    )
    result_name = models.CharField(_("result file name"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("jobs:detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES
