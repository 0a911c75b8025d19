"""The national data-quality rules (数据质量规则, DOMAIN.md §9).

A household that breaks a rule is listed for correction, not silently accepted: the rules
run after every save (the household page shows the warnings) and in batch over an area.
Thresholds are versioned data in `policy/quality.toml`; the rules here read them.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from fupin.registry import enums
from fupin.registry.models import Household, HouseholdIncome, Member, QualityIssue

POLICY_FILE = Path(__file__).parent / "policy" / "quality.toml"


@cache
def _versions() -> list[dict[str, Any]]:
    data = tomllib.loads(POLICY_FILE.read_text(encoding="utf-8"))
    return sorted(data["version"], key=lambda v: v["effective"])


def thresholds(on: dt.date | None = None) -> dict[str, Any]:
    """The thresholds in force on a date (the latest version effective by then)."""
    on = on or dt.date.today()
    current = [v for v in _versions() if v["effective"] <= on]
    if not current:
        raise LookupError(f"no data-quality thresholds effective on {on}")
    return current[-1]


@dataclass(frozen=True)
class Finding:
    rule: str
    detail: str = ""
    member_id: int | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    title: Any  # lazy translation
    check: Callable[[Household, list[Member], HouseholdIncome | None, dict], Iterable[Finding]]


def _age(member: Member, on: dt.date) -> int:
    return member.age_on(on)


def _cause_illness(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.main_cause == enums.PovertyCause.ILLNESS and ms and all(m.is_healthy for m in ms):
        yield Finding("cause_illness_all_healthy")


def _cause_schooling(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.main_cause == enums.PovertyCause.SCHOOLING and not any(
        m.schooling in enums.STUDENT_SCHOOLING for m in ms
    ):
        yield Finding("cause_schooling_no_student")


def _cause_disability(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.main_cause == enums.PovertyCause.DISABILITY and not any(m.is_disabled for m in ms):
        yield Finding("cause_disability_no_disabled")


def _dibao(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.attribute == enums.PovertyAttribute.DIBAO and not any(m.is_dibao for m in ms):
        yield Finding("dibao_without_dibao_member")


def _tekun(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.attribute != enums.PovertyAttribute.TEKUN:
        return
    today = dt.date.today()
    for m in ms:
        able = m.labour_skill in (enums.LabourSkill.ORDINARY, enums.LabourSkill.SKILLED)
        if able and t["labour_age_min"] <= _age(m, today) <= t["labour_age_max"]:
            yield Finding("tekun_with_labourer", m.name, m.pk)


def _business_cost(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if inc is not None and inc.business > 0 and inc.business_cost == 0:
        yield Finding("business_income_without_cost")


def _income_range(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if h.per_capita_income is None:
        return
    low, high = Decimal(t["min_per_capita_income"]), Decimal(t["max_per_capita_income"])
    if h.per_capita_income <= low or h.per_capita_income > high:
        yield Finding("income_out_of_range", str(h.per_capita_income))


def _migrant_months(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    for m in ms:
        if not 0 <= m.migrant_months <= t["max_migrant_months"]:
            yield Finding("migrant_months_out_of_range", f"{m.name}: {m.migrant_months}", m.pk)


def _head_spouse(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    heads = [m for m in ms if m.relation == enums.Relation.HEAD]
    spouses = [m for m in ms if m.relation == enums.Relation.SPOUSE]
    if len(heads) != 1:
        yield Finding("head_count", str(len(heads)))
    if len(heads) == 1 and any(s.sex == heads[0].sex for s in spouses):
        yield Finding("head_spouse_same_sex")


def _land(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    people = len(ms)
    if not people:
        return
    if h.farmland_mu / people > t["max_farmland_mu_per_person"]:
        yield Finding("farmland_too_large", f"{h.farmland_mu / people:.1f}")
    if h.forest_mu / people > t["max_forest_mu_per_person"]:
        yield Finding("forest_too_large", f"{h.forest_mu / people:.1f}")


def _no_members(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    if not ms:
        yield Finding("no_members")


def _duplicates(h: Household, ms: list[Member], inc: Any, t: dict) -> Iterable[Finding]:
    ids = [m.id_number for m in ms]
    if not ids:
        return
    others = (
        Member.objects.filter(id_number__in=ids, left_on__isnull=True)
        .exclude(household=h)
        .values_list("id_number", "household__village_id", "household__code")
    )
    yield from duplicate_findings(h, ms, others)


def duplicate_findings(
    h: Household, ms: list[Member], others: Iterable[tuple[str, str, str]]
) -> Iterable[Finding]:
    """The same person registered twice: `others` are (ID, village, household number) of the
    current members of *other* households holding one of `ms`'s IDs."""
    by_id = {m.id_number: m for m in ms}
    for id_number, village, code in others:
        scope = _shared_scope(h.village_id, village)
        m = by_id[id_number]
        yield Finding(f"duplicate_person_{scope}", f"{m.name} ↔ {code}", m.pk)
    seen: set[str] = set()
    for m in ms:
        if m.id_number in seen:
            yield Finding("duplicate_person_county", m.name, m.pk)
        seen.add(m.id_number)


def _shared_scope(a: str, b: str) -> str:
    if a[:6] == b[:6]:
        return "county"
    if a[:4] == b[:4]:
        return "city"
    if a[:2] == b[:2]:
        return "province"
    return "country"


RULES: list[Rule] = [
    Rule(
        "cause_illness_all_healthy",
        _("Main cause is illness but every member is healthy"),
        _cause_illness,
    ),
    Rule(
        "cause_schooling_no_student",
        _("Main cause is schooling but nobody is in school"),
        _cause_schooling,
    ),
    Rule(
        "cause_disability_no_disabled",
        _("Main cause is disability but nobody is disabled"),
        _cause_disability,
    ),
    Rule(
        "dibao_without_dibao_member",
        _("Subsistence-allowance household without a member on the allowance"),
        _dibao,
    ),
    Rule(
        "tekun_with_labourer",
        _("Extreme-poverty support household with a labourer of working age"),
        _tekun,
    ),
    Rule("business_income_without_cost", _("Business income but no business cost"), _business_cost),
    Rule(
        "income_out_of_range",
        _("Per-capita net income is not above 0 or is above 100,000"),
        _income_range,
    ),
    Rule("migrant_months_out_of_range", _("Migrant work months outside 0–12"), _migrant_months),
    Rule("head_count", _("The household does not have exactly one head"), _head_spouse),
    Rule("farmland_too_large", _("Farmland above 50 mu per person"), _land),
    Rule("no_members", _("The household has no members"), _no_members),
    Rule("duplicate_person_county", _("A person is registered twice (county)"), _duplicates),
]

#: Titles of every finding code, including those raised by a rule under another name.
TITLES: dict[str, Any] = {r.code: r.title for r in RULES} | {
    "head_spouse_same_sex": _("Head and spouse are of the same sex"),
    "forest_too_large": _("Forest land above 70 mu per person"),
    "duplicate_person_city": _("A person is registered twice (city)"),
    "duplicate_person_province": _("A person is registered twice (province)"),
    "duplicate_person_country": _("A person is registered twice (other province)"),
}

#: Checks to run; a check may raise several codes, so run each once.
CHECKS = list(dict.fromkeys(r.check for r in RULES))


def evaluate(household: Household, on: dt.date | None = None) -> list[Finding]:
    """Every rule the household breaks now."""
    members = [m for m in household.members.all() if m.left_on is None]
    income = household.incomes.order_by("-year").first()
    t = thresholds(on)
    return [f for check in CHECKS for f in check(household, members, income, t)]


def refresh(household: Household) -> list[Finding]:
    """Recompute and store a household's findings (called by the services after a save)."""
    findings = evaluate(household)
    QualityIssue.objects.filter(household=household).delete()
    QualityIssue.objects.bulk_create(
        QualityIssue(household=household, rule=f.rule, member_id=f.member_id, detail=f.detail)
        for f in findings
    )
    return findings


def refresh_many(
    households: Sequence[Household],
    members: Mapping[int, list[Member]] | None = None,
    incomes: Mapping[int, HouseholdIncome | None] | None = None,
) -> dict[int, list[Finding]]:
    """Recompute and store the findings of many households at once (bulk imports).

    The same rule functions as `evaluate`, run on in-memory data: `members` (current
    members by household pk) and `incomes` (latest income by household pk) may be given by
    a caller that has them (an importer that just wrote them); otherwise they are read with
    one query each. The households' members must be saved: the same-person-twice rule
    finds, with one query, every current member of any household who shares an ID with a
    current member of these — instead of one query per household. Old findings go with one
    delete, new ones come with one bulk insert.
    """
    households = list(households)
    if not households:
        return {}
    pks = [h.pk for h in households]
    if members is None:
        grouped: dict[int, list[Member]] = {pk: [] for pk in pks}
        for m in Member.objects.filter(household_id__in=pks, left_on__isnull=True):
            grouped[m.household_id].append(m)
        members = grouped
    if incomes is None:
        latest: dict[int, HouseholdIncome | None] = {}
        for row in HouseholdIncome.objects.filter(household_id__in=pks).order_by("year"):
            latest[row.household_id] = row
        incomes = latest
    registrations: dict[str, list[tuple[int, str, str]]] = {}
    for start in range(0, len(pks), DUPLICATE_QUERY_SIZE):
        theirs = Member.objects.filter(
            household_id__in=pks[start : start + DUPLICATE_QUERY_SIZE], left_on__isnull=True
        ).values("id_number")
        rows = Member.objects.filter(id_number__in=theirs, left_on__isnull=True).values_list(
            "id_number", "household_id", "household__village_id", "household__code"
        )
        for id_number, household_id, village, code in rows:
            registrations.setdefault(id_number, []).append((household_id, village, code))
    t = thresholds()
    found: dict[int, list[Finding]] = {}
    for h in households:
        ms = members.get(h.pk, [])
        inc = incomes.get(h.pk)
        findings: list[Finding] = []
        for check in CHECKS:
            if check is _duplicates:
                others = [
                    (m.id_number, village, code)
                    for m in ms
                    for household_id, village, code in registrations.get(m.id_number, ())
                    if household_id != h.pk
                ]
                findings.extend(duplicate_findings(h, ms, others))
            else:
                findings.extend(check(h, ms, inc, t))
        found[h.pk] = findings
    for start in range(0, len(pks), DUPLICATE_QUERY_SIZE):
        QualityIssue.objects.filter(
            household_id__in=pks[start : start + DUPLICATE_QUERY_SIZE]
        ).delete()
    QualityIssue.objects.bulk_create(
        (
            QualityIssue(household_id=pk, rule=f.rule, member_id=f.member_id, detail=f.detail)
            for pk, findings in found.items()
            for f in findings
        ),
        batch_size=2000,
    )
    return found


#: Households per `IN (...)`: under SQLite's default limit of 32,766 bound variables.
DUPLICATE_QUERY_SIZE = 20_000


def report(households: Any, group_length: int) -> list[dict[str, Any]]:
    """Counts of households breaking each rule, by sub-area (code prefix of group_length)."""
    from django.db.models.functions import Substr

    rows = (
        QualityIssue.objects.filter(household__in=households)
        .annotate(area=Substr("household__village_id", 1, group_length))
        .values("area", "rule")
        .annotate(households=Count("household", distinct=True))
        .order_by("area", "rule")
    )
    return [dict(row) for row in rows]
