"""`fupin demo`: a realistic synthetic county, generated and then loaded through the services.

DESIGN.md asks for "the synthetic-data generator: realistic counties at any size". This
module has two halves:

1. **Generation** (`generate`) is pure: numpy draws from one seeded generator, no database,
   no clock. Every household gets a latent *wealth* (county → township → village effects
   plus its own luck) that drives everything visible, so poverty correlates with the
   indicators as it does on the ground (DOMAIN.md §3: the Guangxi scorecard turns visible
   facts into points): household size and make-up, ages and relations, ethnicity, names,
   resident IDs, health, schooling, labour, migrant work, insurance, 低保 / 五保, land,
   housing, water, roads, fuel, machines, cars and the 2016 income by source (DOMAIN.md §9).
   A scorecard score (wealth seen through noise) ranks the households; the lowest fifth
   went through identification in 2014–2015, and each household's life since then is a
   list of dated, reasoned steps of the life cycle (DOMAIN.md §2). A few per cent of the
   households carry a deliberate data-quality defect (DOMAIN.md §9 rules).
2. **Loading** (`load_demo`) writes that county through the one way in:
   `registry.services.create_household`, `registry.services.transition_household`,
   `core.services.create_user` and `core.area_services.mark_village_flags`, so validation,
   the audit trail and the data-quality rules all run on demo data exactly as on real data.

The demo's clock: ages, schooling and living conditions are as surveyed on `SURVEY_DATE`
(the 2017 survey, income of `INCOME_YEAR` 2016); the life-cycle history runs from the 2014
registration to `DEMO_AS_OF` (end of 2019, the last year before the 2020 deadline). Nothing
depends on today's date, so the same seed gives the same data on any day.

Idempotence: loading refuses a county that already has households ("use --reset");
`reset_county` deletes the county's households, but only if every one of them was created
by the demo (their creation audit entry carries `DEMO_MARK`), so real data is never wiped.
Demo users that already exist are kept as they are.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from statistics import NormalDist
from typing import Any, TypeVar

import numpy as np
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Count
from stdnum import numdb

from fupin.core import audit
from fupin.core.area_services import mark_county_flag, mark_village_flags
from fupin.core.divisions import iter_divisions, load_divisions
from fupin.core.models import CODE_LENGTH, Area, AreaLevel, AuditEntry, User
from fupin.core.roles import Role
from fupin.core.services import create_user
from fupin.core.validators import build_resident_id, parse_resident_id
from fupin.exit.policy import consolidation_for, timeline
from fupin.registry import demo_names, services
from fupin.registry.enums import (
    DropoutReason,
    Education,
    Fuel,
    HousingStructure,
    LabourSkill,
    MigrantPlace,
    PoliticalStatus,
    PovertyAttribute,
    PovertyCause,
    Relation,
    RoadSurface,
    Schooling,
)
from fupin.registry.models import Attachment, Household, Member, QualityIssue

DEFAULT_COUNTY = "450123"  # 隆安县, Guangxi: a former national poverty county
DEFAULT_HOUSEHOLDS = 1200
DEFAULT_SEED = 2017
DEMO_PASSWORD = "fupin-demo-2017"  # demo only: printed by the command, never for real use

SURVEY_DATE = dt.date(2017, 3, 31)
INCOME_YEAR = 2016
DEMO_AS_OF = dt.date(2019, 12, 31)
#: Every household the demo creates has this at the start of its creation reason.
DEMO_MARK = "演示数据（fupin demo）"

#: National poverty lines in current prices (DOMAIN.md §10) — used here only to calibrate
#: the synthetic incomes and to word the exit reasons, never as policy.
CALIBRATION_LINES = {2014: 2800, 2015: 2855, 2016: 2952, 2017: 3335, 2018: 3535, 2019: 3747}

#: Share of the households that went through identification (建档立卡) in 2014–2015.
POOR_SHARE = 0.20
#: Share of the households given one deliberate data-quality defect (DOMAIN.md §9).
DEFECT_SHARE = 0.04

#: Household size 1–8 of the rural registry (mean ≈ 3.6).
SIZE_P = np.array([0.11, 0.19, 0.20, 0.22, 0.14, 0.08, 0.04, 0.02])

#: Ethnic make-up of 隆安's countryside (GB/T 3304 codes): 壮族, 汉族, 瑶族.
ETHNICITY_P = {"08": 0.89, "01": 0.09, "13": 0.02}

_ND = NormalDist()
K = TypeVar("K", bound=str)


# --------------------------------------------------------------------------------------
# Resident IDs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodePeriod:
    """A GB/T 2260 county code and the years it was in use (None: open)."""

    code: str
    name: str
    start: int | None
    end: int | None


@cache
def province_codes(province: str) -> tuple[CodePeriod, ...]:
    """Every county-level code python-stdnum knows in a province, with its periods."""
    db = numdb.get("cn/loc")
    found: list[CodePeriod] = []
    for _length, low, high, _props, children in db.prefixes:
        if not low <= province <= high:
            continue
        for _l2, lo2, _hi2, props, _ch in children:
            for entry in props.get("county", "").split(","):
                if not entry or lo2.endswith("00") or lo2.endswith("01"):
                    continue  # the prefecture itself and its 市辖区 are no birthplace
                if entry.startswith("["):
                    period, name = entry[1:].split("]")
                    start, end = period.split("-")
                    found.append(
                        CodePeriod(
                            province + lo2, name, int(start or 0) or None, int(end or 0) or None
                        )
                    )
                else:
                    found.append(CodePeriod(province + lo2, entry, None, None))
    return tuple(found)


@dataclass(frozen=True)
class IssuingCodes:
    """The codes a county's people carry in their IDs: today's and the retired ones.

    An ID keeps the code of the place and time it was first issued (DOMAIN.md §2: birth
    date and sex are derived from it). 隆安县 is 450123 since 2002 and was 452126 under
    南宁地区 before, so most people born before 2002 carry 452126. In-married spouses carry
    the codes of the neighbouring counties of the same prefecture.
    """

    current: str
    retired: tuple[CodePeriod, ...]
    neighbours: tuple[tuple[str, tuple[CodePeriod, ...]], ...]

    @classmethod
    def for_county(cls, county: str) -> IssuingCodes:
        table = province_codes(county[:2])
        name = next((p.name for p in table if p.code == county and p.end is None), None)
        retired = tuple(p for p in table if name and p.name == name and p.end is not None)
        neighbours = []
        for p in table:
            if p.code[:4] == county[:4] and p.code != county and p.end is None:
                old = tuple(q for q in table if q.name == p.name and q.end is not None)
                neighbours.append((p.code, old))
        return cls(county, retired, tuple(neighbours))


class IdFactory:
    """Unique, valid resident IDs for the generated people (GB 11643; DOMAIN.md §2)."""

    def __init__(self, codes: IssuingCodes, rng: np.random.Generator) -> None:
        self.codes = codes
        self.rng = rng
        self.used: dict[tuple[str, dt.date], set[int]] = defaultdict(set)

    def _area(self, birth: dt.date, incomer: bool) -> str:
        current, retired = self.codes.current, self.codes.retired
        if incomer and self.codes.neighbours:
            current, retired = self.codes.neighbours[
                int(self.rng.integers(len(self.codes.neighbours)))
            ]
        usable = [p for p in retired if p.end is not None and p.end >= birth.year]
        # Most people born before the code changed kept the number issued then.
        if usable and self.rng.random() < 0.9:
            return usable[int(self.rng.integers(len(usable)))].code
        return current

    def make(self, birth: dt.date, sex: str, *, incomer: bool = False) -> str:
        for area in (self._area(birth, incomer), self.codes.current):
            used = self.used[(area, birth)]
            if len(used) >= 480:
                continue
            while True:
                seq = int(self.rng.integers(1, 500)) * 2 - (1 if sex == "M" else 0)
                if seq not in used:
                    break
            number = build_resident_id(area, birth, seq)
            try:
                parsed = parse_resident_id(number, today=DEMO_AS_OF)
            except ValidationError:  # an unusable code: fall back to the county's own
                continue
            if parsed.sex == sex and parsed.birth_date == birth:
                used.add(seq)
                return number
        raise RuntimeError(f"no valid ID for {birth} {sex}")


# --------------------------------------------------------------------------------------
# People and households
# --------------------------------------------------------------------------------------


@dataclass
class Person:
    """One generated member: the national form's fields (DOMAIN.md §9) plus age and sex."""

    relation: str
    sex: str
    age: int
    line: str  # whose surname: "head", "family" (the children's), "own"
    birth: dt.date = dt.date(1970, 1, 1)
    name: str = ""
    surname: str = ""
    ethnicity: str = "08"
    id_number: str = ""
    education: str = ""
    schooling: str = Schooling.NOT_IN_SCHOOL
    dropout_reason: str = ""
    chronic: bool = False
    serious: bool = False
    disabled: bool = False
    disability_grade: int | None = None
    labour: str = LabourSkill.NONE
    migrant_place: str = ""
    migrant_months: int = 0
    monthly_wage: float = 0.0
    mandarin: bool = True
    political: str = PoliticalStatus.MASSES
    dibao: bool = False
    wubao: bool = False
    medical: bool = True
    pension: bool = False
    serious_insurance: bool = True
    commercial: bool = False
    accident: bool = False

    @property
    def healthy(self) -> bool:
        return not (self.chronic or self.serious or self.disabled)

    @property
    def student(self) -> bool:
        return self.schooling != Schooling.NOT_IN_SCHOOL

    @property
    def labourer(self) -> bool:
        return self.labour in (LabourSkill.ORDINARY, LabourSkill.SKILLED)

    def member_data(self) -> dict[str, Any]:
        """The dict `services.create_household` takes for a member."""
        return _plain(
            {
                "name": self.name,
                "id_number": self.id_number,
                "relation": self.relation,
                "ethnicity": self.ethnicity,
                "political_status": self.political,
                "education": self.education,
                "schooling": self.schooling,
                "dropout_reason": self.dropout_reason,
                "has_chronic_illness": self.chronic,
                "has_serious_illness": self.serious,
                "is_disabled": self.disabled,
                "disability_grade": self.disability_grade,
                "labour_skill": self.labour,
                "migrant_place": self.migrant_place,
                "migrant_months": self.migrant_months,
                "speaks_mandarin": self.mandarin,
                "is_dibao": self.dibao,
                "is_wubao": self.wubao,
                "has_medical_insurance": self.medical,
                "has_pension": self.pension,
                "has_serious_illness_insurance": self.serious_insurance,
                "has_commercial_insurance": self.commercial,
                "has_accident_insurance_subsidy": self.accident,
            }
        )


@dataclass
class Step:
    """One life-cycle step to take through `transition_household` (DOMAIN.md §2)."""

    name: str
    date: dt.date
    reason: str
    actor: str = "officer"  # "officer" (data officer) or "reviewer"
    evidence: tuple[str, str] | None = None  # (file name, text)


@dataclass
class HouseholdSpec:
    """One generated household: what goes to `create_household`, then its steps."""

    index: int
    village: str
    wealth: float
    score: float = 0.0
    points: int = 0
    members: list[Person] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    income: dict[str, Any] = field(default_factory=dict)
    path: str = "surveyed"
    steps: list[Step] = field(default_factory=list)
    defect: str = ""
    poor: bool = False  # went through identification and was registered

    @property
    def per_capita(self) -> float:
        total = sum(float(v) for k, v in self.income.items() if k not in ("year", "business_cost"))
        return (total - float(self.income.get("business_cost", 0))) / max(len(self.members), 1)

    @property
    def final_status(self) -> str:
        return self.path


@dataclass(frozen=True)
class VillageInfo:
    code: str
    name: str
    township: str
    effect: float  # added to every household's wealth
    remoteness: float  # drives distance, road surface, water
    yao: bool  # a Yao hamlet among the limestone hills


@dataclass
class DemoCounty:
    """The generated county: households, villages and the village flags to set."""

    county: str
    seed: int
    villages: list[VillageInfo]
    households: list[HouseholdSpec]
    cutoff_points: int
    poor_villages: dict[str, tuple[bool, float]]  # code → (deep?, incidence)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Enum members become the plain codes they stand for (for the audit trail's JSON)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = str(value)
        elif isinstance(value, list):
            value = [str(v) for v in value]
        out[key] = value
    return out


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _pick(rng: np.random.Generator, weights: Mapping[K, float]) -> K:
    keys = list(weights)
    p = np.array([float(weights[k]) for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _uniform_int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _family(rng: np.random.Generator, size: int) -> list[Person]:
    """Relations, sexes and ages of a household of `size` (DOMAIN.md §9 relation codes)."""

    def child(age: int, grand: bool = False) -> Person:
        male = _chance(rng, 0.53)
        if grand:
            rel = Relation.GRANDSON if male else Relation.GRANDDAUGHTER
        else:
            rel = Relation.SON if male else Relation.DAUGHTER
        return Person(rel, "M" if male else "F", max(age, 0), "family")

    def spouse_of(head: Person) -> Person:
        if head.sex == "M":
            age = head.age - round(rng.normal(2, 3))
        else:
            age = head.age + round(rng.normal(2, 3))
        return Person(Relation.SPOUSE, "F" if head.sex == "M" else "M", max(age, 20), "own")

    def children(parent_age: int, k: int, grand: bool = False) -> list[Person]:
        if k <= 0:
            return []
        eldest = parent_age - _uniform_int(rng, 21, 32)
        ages = [eldest]
        for _ in range(k - 1):
            ages.append(ages[-1] - _uniform_int(rng, 1, 4))
        shift = max(0, -ages[-1])
        ages = [min(a + shift, parent_age - 18) for a in ages]
        return [child(a, grand) for a in ages]

    people: list[Person] = []
    if size == 1:
        if _chance(rng, 0.65):
            sex = "F" if _chance(rng, 0.55) else "M"
            people.append(Person(Relation.HEAD, sex, _uniform_int(rng, 60, 85), "head"))
        else:
            sex = "M" if _chance(rng, 0.85) else "F"
            people.append(Person(Relation.HEAD, sex, _uniform_int(rng, 28, 59), "head"))
        return people
    if size == 2:
        r = rng.random()
        if r < 0.7:
            head = Person(
                Relation.HEAD,
                "M",
                _uniform_int(rng, 55, 84) if r < 0.5 else _uniform_int(rng, 35, 54),
                "head",
            )
            return [head, spouse_of(head)]
        head = Person(Relation.HEAD, "F" if _chance(rng, 0.55) else "M", 0, "head")
        head.age = _uniform_int(rng, 42, 80)
        return [head, *children(head.age, 1)]

    kind = _pick(
        rng,
        {"nuclear": 0.7, "up": 0.15, "down": 0.15}
        if size <= 4
        else {"nuclear": 0.35, "up": 0.3, "down": 0.35},
    )
    if kind == "nuclear":
        with_spouse = _chance(rng, 0.92)
        k = size - 1 - int(with_spouse)
        sex = (
            ("M" if _chance(rng, 0.97) else "F")
            if with_spouse
            else ("F" if _chance(rng, 0.6) else "M")
        )
        head = Person(Relation.HEAD, sex, _uniform_int(rng, max(25, 22 + 2 * k), 60), "head")
        people = [head]
        if with_spouse:
            people.append(spouse_of(head))
        people += children(head.age, k)
        return people
    if kind == "up":
        head = Person(Relation.HEAD, "M", _uniform_int(rng, 25, 50), "head")
        people = [head]
        if _chance(rng, 0.95):
            people.append(spouse_of(head))
        free = size - len(people)
        n_parents = 2 if free >= 3 and _chance(rng, 0.5) else 1
        parent_age = min(head.age + _uniform_int(rng, 22, 34), 95)
        if n_parents == 2:
            people.append(Person(Relation.PARENT, "M", parent_age, "head"))
            mother = max(parent_age - _uniform_int(rng, 0, 5), head.age + 19)
            people.append(Person(Relation.PARENT, "F", mother, "own"))
        else:
            sex = "F" if _chance(rng, 0.65) else "M"
            people.append(Person(Relation.PARENT, sex, parent_age, "head" if sex == "M" else "own"))
        people += children(head.age, size - len(people))
        return people
    # "down": an older head living with a married son and grandchildren
    sex = "M" if _chance(rng, 0.75) else "F"
    head = Person(Relation.HEAD, sex, _uniform_int(rng, 52, 80), "head")
    people = [head]
    if sex == "M" and _chance(rng, 0.8):
        people.append(spouse_of(head))
    son_age = max(head.age - _uniform_int(rng, 22, 32), 22)
    son = Person(Relation.SON, "M", son_age, "family")
    people.append(son)
    if len(people) < size and _chance(rng, 0.9):
        wife = son_age - _uniform_int(rng, 0, 4)
        people.append(Person(Relation.DAUGHTER_IN_LAW, "F", max(wife, 20), "own"))
    free = size - len(people)
    # As many grandchildren as a son of that age plausibly has; the rest are the head's
    # unmarried younger children.
    grandchildren = children(son_age, min(free, max(0, (son_age - 19) // 3), 4), grand=True)
    for g in grandchildren:
        g.line = "son"
    people += grandchildren
    while len(people) < size:
        age = max(min(son_age - _uniform_int(rng, 2, 10), head.age - 20), 10)
        people.append(child(age))
    return people


def _birth_date(rng: np.random.Generator, age: int) -> dt.date:
    """A birth date that makes the person `age` full years old on SURVEY_DATE."""
    latest = SURVEY_DATE.replace(year=SURVEY_DATE.year - age)
    earliest = SURVEY_DATE.replace(year=SURVEY_DATE.year - age - 1) + dt.timedelta(days=1)
    span = (latest - earliest).days
    return earliest + dt.timedelta(days=int(rng.integers(0, span + 1)))


def _given_name(rng: np.random.Generator, sex: str, birth_year: int) -> str:
    era = demo_names.era_of(birth_year)
    first, second = demo_names.GIVEN_NAME_CHARS[(sex, era)]
    if _chance(rng, demo_names.TWO_CHAR_SHARE[era]):
        a = first[int(rng.integers(len(first)))]
        b = second[int(rng.integers(len(second)))]
        return a + b if a != b else a + second[(second.index(b) + 1) % len(second)]
    return second[int(rng.integers(len(second)))]


def _surname(rng: np.random.Generator, ethnicity: str) -> str:
    return _pick(rng, demo_names.SURNAMES_BY_ETHNICITY.get(ethnicity, demo_names.HAN_SURNAMES))


_EDU_ORDER = [
    Education.ILLITERATE,
    Education.PRIMARY,
    Education.JUNIOR,
    Education.SENIOR,
    Education.COLLEGE,
]


def _adult_education(rng: np.random.Generator, birth_year: int, sex: str, wealth: float) -> str:
    """Education attained by cohort (older rural women least), shifted by wealth."""
    if birth_year < 1950:
        p = [0.40, 0.45, 0.12, 0.03, 0.0]
    elif birth_year < 1966:
        p = [0.12, 0.45, 0.35, 0.07, 0.01]
    elif birth_year < 1981:
        p = [0.04, 0.28, 0.53, 0.12, 0.03]
    else:
        p = [0.01, 0.10, 0.57, 0.22, 0.10]
    cum = np.cumsum(p)[:-1]
    cuts = [_ND.inv_cdf(min(max(c, 1e-6), 1 - 1e-6)) for c in cum]
    u = 0.85 * rng.normal() + 0.45 * wealth - (0.35 if sex == "F" and birth_year < 1975 else 0)
    u /= math.hypot(0.85, 0.45)
    return _EDU_ORDER[int(np.searchsorted(cuts, u))]


def _person_facts(rng: np.random.Generator, p: Person, wealth: float) -> None:
    """Health, schooling, education, labour, migrant work, insurance of one person."""
    v = -wealth
    age = p.age
    p.chronic = _chance(rng, _logistic(-4.3 + 0.055 * age + 0.35 * v))
    p.serious = _chance(rng, _logistic(-6.0 + 0.035 * age + 0.5 * v))
    if _chance(rng, _logistic(-4.2 + 0.025 * age + 0.4 * v)):
        p.disabled = True
        p.disability_grade = int(rng.choice([1, 2, 3, 4], p=[0.12, 0.2, 0.3, 0.38]))

    # Schooling on the survey date (school year 2016–17) and education attained.
    birth_year = p.birth.year
    if age < 3:
        p.education = Education.PRESCHOOL_AGE
    elif age <= 5:
        p.education = Education.PRESCHOOL_AGE
        if _chance(rng, 0.85):
            p.schooling = Schooling.PRESCHOOL
    elif age <= 11:
        p.education, p.schooling = Education.PRIMARY, Schooling.PRIMARY
    elif age <= 14:
        if _chance(rng, 0.975 if not p.disabled else 0.7):
            p.education, p.schooling = Education.JUNIOR, Schooling.GRADES_7_9
        else:
            p.education = Education.PRIMARY
            p.dropout_reason = (
                DropoutReason.DISABILITY
                if p.disabled
                else _pick(rng, {"learning": 0.45, "poverty": 0.3, "illness": 0.1, "other": 0.15})
            )
    elif age <= 17:
        if _chance(rng, _logistic(1.2 + 0.6 * wealth - (1.5 if p.disabled else 0))):
            p.education = Education.SENIOR
            p.schooling = _pick(rng, {Schooling.SENIOR: 0.6, Schooling.SECONDARY_VOCATIONAL: 0.4})
        else:
            p.education = Education.JUNIOR
            p.dropout_reason = (
                DropoutReason.DISABILITY
                if p.disabled
                else _pick(rng, {"work": 0.45, "learning": 0.25, "poverty": 0.2, "other": 0.1})
            )
    elif age <= 22 and _chance(rng, _logistic(-1.3 + 0.7 * wealth)):
        p.education = Education.COLLEGE
        p.schooling = _pick(rng, {Schooling.COLLEGE: 0.55, Schooling.HIGHER_VOCATIONAL: 0.45})
    else:
        p.education = _adult_education(rng, birth_year, p.sex, wealth)

    # Labour (劳动能力) by age, schooling and health.
    if age < 16 or p.student:
        p.labour = LabourSkill.NONE
    elif (p.serious and _chance(rng, 0.7)) or (
        p.disabled and ((p.disability_grade or 4) <= 2 or _chance(rng, 0.4))
    ):
        p.labour = LabourSkill.LOST
    elif age >= 65:
        p.labour = _pick(
            rng,
            {"none": 0.55, "ordinary": 0.35, "lost": 0.1}
            if not p.chronic
            else {"none": 0.5, "ordinary": 0.15, "lost": 0.35},
        )
    elif age >= 60:
        p.labour = LabourSkill.ORDINARY if _chance(rng, 0.8) else LabourSkill.NONE
    else:
        bonus = 0.8 if p.education in (Education.SENIOR, Education.COLLEGE) else 0.0
        skilled = _chance(rng, _logistic(-1.8 + 0.6 * wealth + bonus))
        p.labour = LabourSkill.SKILLED if skilled else LabourSkill.ORDINARY

    # Migrant work (务工) for working-age labourers; local odd jobs count as 乡内.
    if p.labourer and 18 <= age <= 57:
        p_migrant = _logistic(0.0 + 0.8 * wealth - (0.8 if p.chronic else 0) - 0.02 * (age - 35))
        if _chance(rng, p_migrant):
            place = _pick(
                rng,
                {
                    MigrantPlace.OUT_OF_PROVINCE: 0.50,
                    MigrantPlace.IN_PROVINCE: 0.22,
                    MigrantPlace.IN_COUNTY: 0.16,
                    MigrantPlace.IN_TOWNSHIP: 0.12,
                },
            )
            months = {
                MigrantPlace.OUT_OF_PROVINCE: (8, 12),
                MigrantPlace.IN_PROVINCE: (6, 12),
                MigrantPlace.IN_COUNTY: (4, 10),
                MigrantPlace.IN_TOWNSHIP: (2, 8),
            }[place]
            base = {
                MigrantPlace.OUT_OF_PROVINCE: 3100,
                MigrantPlace.IN_PROVINCE: 2800,
                MigrantPlace.IN_COUNTY: 2300,
                MigrantPlace.IN_TOWNSHIP: 1900,
            }[place]
            p.migrant_place = place
            p.migrant_months = _uniform_int(rng, *months)
            skill = 1.35 if p.labour == LabourSkill.SKILLED else 1.0
            # What is brought home after a city's rent and food.
            p.monthly_wage = base * skill * rng.lognormal(0, 0.15) * rng.uniform(0.55, 0.8)
    # Day labour near home: cutting sugarcane, building sites, the sugar mill's season.
    if (
        not p.migrant_months
        and p.labourer
        and 18 <= age <= 62
        and _chance(rng, _logistic(0.0 + 0.7 * wealth - (0.6 if p.chronic else 0)))
    ):
        p.migrant_place = MigrantPlace.IN_TOWNSHIP if _chance(rng, 0.6) else MigrantPlace.IN_COUNTY
        p.migrant_months = _uniform_int(rng, 2, 8)
        p.monthly_wage = rng.uniform(1800, 2600)

    p.mandarin = age >= 3 and not (
        age >= 55
        and p.education in (Education.ILLITERATE, Education.PRIMARY)
        and _chance(rng, 0.55)
    )
    if age >= 18:
        p_party = (0.07 if p.sex == "M" else 0.02) * (1 + 0.3 * max(wealth, -2))
        if age >= 25 and _chance(rng, p_party):
            p.political = PoliticalStatus.PARTY_MEMBER
        elif age <= 28 and _chance(rng, 0.3 if p.student else 0.12):
            p.political = PoliticalStatus.LEAGUE_MEMBER
    elif age >= 14 and _chance(rng, 0.3):
        p.political = PoliticalStatus.LEAGUE_MEMBER

    p.medical = _chance(rng, 0.965)
    p.serious_insurance = p.medical and _chance(rng, 0.97)
    if age >= 60:
        p.pension = True  # every rural resident of 60+ draws the basic pension
    elif age >= 16 and not p.student:
        p.pension = _chance(rng, 0.72 + 0.06 * max(min(wealth, 2), -2))
    p.commercial = _chance(rng, _logistic(-3.5 + 0.8 * wealth))


def _decimal(value: float, places: int = 1) -> Decimal:
    return Decimal(f"{max(value, 0):.{places}f}")


def _household(
    rng: np.random.Generator, index: int, village: VillageInfo, ids: IdFactory, wealth: float
) -> HouseholdSpec:
    """One household: members, living conditions and 2016 income, all driven by wealth."""
    spec = HouseholdSpec(index=index, village=village.code, wealth=wealth)
    size = int(rng.choice(8, p=SIZE_P)) + 1
    members = _family(rng, size)
    spec.members = members

    ethnicity = "13" if village.yao and _chance(rng, 0.7) else _pick(rng, ETHNICITY_P)
    family_surname = head_surname = _surname(rng, ethnicity)
    head = members[0]
    widow = head.sex == "F" and not any(m.relation == Relation.SPOUSE for m in members)
    if widow and _chance(rng, 0.85):
        # A widow's children carry their late father's surname.
        family_surname = _surname(rng, ethnicity)
    son_surname = family_surname
    for p in members:
        p.birth = _birth_date(rng, p.age)
        p.ethnicity = ethnicity
        if p.line == "head":
            p.surname = head_surname
        elif p.line in ("family", "son"):
            p.surname = son_surname if p.line == "son" else family_surname
        else:
            # Spouses married in: their own surname, sometimes another nationality.
            other = _pick(rng, ETHNICITY_P) if _chance(rng, 0.15) else ethnicity
            p.ethnicity = other
            p.surname = _surname(rng, other)
        p.name = p.surname + _given_name(rng, p.sex, p.birth.year)
        p.id_number = ids.make(p.birth, p.sex, incomer=p.line == "own" and _chance(rng, 0.25))
        _person_facts(rng, p, wealth)

    # 低保 (subsistence allowance) and 五保 (extreme-poverty support).
    vulnerable = [
        m for m in members if m.serious or (m.disabled and (m.disability_grade or 4) <= 2)
    ]
    old_only = all(m.age >= 60 for m in members)
    labourers = [m for m in members if m.labourer and 16 <= m.age <= 64]
    if size == 1 and (head.age >= 60 or not head.labourer) and wealth < -0.6 and _chance(rng, 0.55):
        head.wubao = True
        if head.labour in (LabourSkill.ORDINARY, LabourSkill.SKILLED):
            head.labour = LabourSkill.NONE if head.age >= 60 else LabourSkill.LOST
        head.migrant_place, head.migrant_months, head.monthly_wage = "", 0, 0.0
    elif _chance(
        rng,
        _logistic(
            -3.4 - 1.3 * wealth + 0.9 * bool(vulnerable) + 0.6 * old_only - 0.4 * len(labourers)
        ),
    ):
        if _chance(rng, 0.6):
            chosen = members
        else:
            chosen = [m for m in members if m.age >= 60 or m.age < 16 or not m.healthy] or [head]
        for m in chosen:
            m.dibao = True

    # Family flags and veterans.
    kids = [m for m in members if m.relation in (Relation.SON, Relation.DAUGHTER)]
    only_child = len(kids) == 1 and head.age >= 40 and _chance(rng, 0.25)
    two_daughters = (
        len(kids) == 2 and all(k.relation == Relation.DAUGHTER for k in kids) and _chance(rng, 0.6)
    )

    # Land, housing and the rest of the living conditions (生产生活条件).
    rem = village.remoteness
    per_person = rng.lognormal(math.log(1.25), 0.35) * (1 + 0.08 * max(min(wealth, 2), -2))
    if _chance(rng, 0.05):
        per_person = rng.uniform(0.15, 0.45)  # 缺土地: a split-off or resettled household
    farmland = float(np.clip(per_person * size, 0.3 if per_person < 0.5 else 0.8, 10.0))
    irrigated = farmland * rng.uniform(0.2, 0.8) * (0.6 if rem > 0.8 else 1.0)
    forest = rng.lognormal(math.log(6), 0.7) if _chance(rng, 0.5 + 0.1 * rem) else 0.0
    forest = float(np.clip(forest, 0, 40))
    returned = rng.uniform(1, 6) if _chance(rng, 0.12) else 0.0
    orchard = (
        float(np.clip(rng.lognormal(math.log(2.5), 0.6), 0.5, 15))
        if _chance(rng, _logistic(-1.2 + 0.4 * wealth))
        else 0.0
    )
    water_surface = rng.uniform(0.5, 3) if _chance(rng, 0.04) else 0.0
    distance = float(np.clip(rng.exponential(0.3 + 0.6 * max(rem, 0)), 0, 9.5))
    if distance < 0.3 and _chance(rng, 0.85):
        road = RoadSurface.CONCRETE
    elif _chance(rng, _logistic(1.0 - 0.8 * rem + 0.3 * wealth - 0.4 * distance)):
        road = RoadSurface.ASPHALT if _chance(rng, 0.04) else RoadSurface.CONCRETE
    else:
        road = RoadSurface.GRAVEL if _chance(rng, 0.65) else RoadSurface.EARTH
    housing = float(
        np.clip(size * rng.lognormal(math.log(32), 0.35) * math.exp(0.15 * wealth), 25, 300)
    )
    u = 0.8 * wealth + rng.normal(0, 0.6)
    if _chance(rng, 0.01):
        structure = HousingStructure.OTHER
    elif u > 1.2:
        structure = HousingStructure.REINFORCED_CONCRETE
    elif u > -0.6:
        structure = HousingStructure.BRICK_CONCRETE
    elif u > -1.4:
        structure = HousingStructure.BRICK_WOOD
    else:
        structure = HousingStructure.EARTH_WOOD
    dilapidated = (structure == HousingStructure.EARTH_WOOD and _chance(rng, 0.55)) or (
        structure == HousingStructure.BRICK_WOOD and wealth < -0.5 and _chance(rng, 0.2)
    )
    hard_water = _chance(rng, _logistic(-3.2 + 0.8 * rem))
    water_safe = _chance(rng, _logistic(1.8 + 0.6 * wealth - 0.6 * rem - 1.5 * hard_water))
    if _chance(rng, _logistic(-0.6 + 0.9 * wealth)):
        fuel = Fuel.CLEAN
    else:
        fuel = _pick(rng, {Fuel.FIREWOOD: 0.95, Fuel.COAL: 0.03, Fuel.OTHER: 0.02})
    cars = 0
    if _chance(rng, _logistic(-3.8 + 1.1 * wealth)):
        cars = 2 if _chance(rng, 0.1) else 1
    machines = int(min(rng.poisson(0.3 + 0.08 * farmland + 0.3 * max(wealth, 0)), 4))
    appliances = int(np.clip(round(3 + 1.2 * wealth + rng.normal()), 0, 9))

    spec.data = {
        "village": village.code,
        "head_name": head.name,
        "phone": (
            demo_names.PHONE_PREFIXES[int(rng.integers(len(demo_names.PHONE_PREFIXES)))]
            + f"{int(rng.integers(0, 10**8)):08d}"
            if _chance(rng, 0.8)
            else ""
        ),
        "is_military_family": _chance(rng, 0.012),
        "is_only_child": only_child,
        "is_two_daughters": two_daughters,
        "farmland_mu": _decimal(farmland),
        "irrigated_mu": _decimal(min(irrigated, farmland)),
        "forest_mu": _decimal(forest),
        "returned_forest_mu": _decimal(returned),
        "orchard_mu": _decimal(orchard),
        "pasture_mu": Decimal("0"),
        "water_surface_mu": _decimal(water_surface),
        "in_cooperative": _chance(rng, _logistic(-1.8 + 0.5 * wealth)),
        "led_by_enterprise": _chance(rng, _logistic(-2.5 + 0.4 * wealth)),
        "led_by_entrepreneur": _chance(rng, _logistic(-3.0 + 0.4 * wealth)),
        "has_production_power": _chance(rng, _logistic(1.0 + 0.5 * wealth - 0.3 * rem)),
        "has_household_power": _chance(rng, 0.995),
        "has_radio_tv": _chance(rng, _logistic(3.0 + 0.8 * wealth)),
        "distance_to_road_km": _decimal(distance),
        "road_surface": road,
        "housing_area_m2": _decimal(housing, 0),
        "housing_structure": structure,
        "is_dilapidated": dilapidated,
        "dilapidation_grade": ("D" if _chance(rng, 0.35) else "C") if dilapidated else "",
        "water_hard_to_get": hard_water,
        "water_safe": water_safe,
        "has_sanitary_toilet": _chance(rng, _logistic(-0.3 + 0.8 * wealth)),
        "main_fuel": fuel,
        "cars": cars,
        "farm_machines": machines,
        "appliances": appliances,
    }
    if _chance(rng, 0.7):
        spec.data["bank_name"], spec.data["bank_account"] = _bank(rng)
    spec.income = _income(rng, spec, wealth)
    return spec


def _bank(rng: np.random.Generator) -> tuple[str, str]:
    bank = demo_names.BANKS[int(rng.integers(len(demo_names.BANKS)))]
    prefix = {"广西农村信用社": "623058", "中国农业银行": "622848", "中国邮政储蓄银行": "621799"}
    return bank, prefix[bank] + f"{int(rng.integers(0, 10**13)):013d}"


def _income(rng: np.random.Generator, spec: HouseholdSpec, wealth: float) -> dict[str, Any]:
    """Income of 2016 by source and business costs (DOMAIN.md §9), plausible for Guangxi."""
    members, d = spec.members, spec.data
    wage = sum(m.migrant_months * m.monthly_wage for m in members)
    home_labour = sum(
        1.0 if m.migrant_months <= 4 else 0.5 if m.migrant_months < 9 else 0.0
        for m in members
        if m.labourer
    )
    labour_factor = min(1.0, 0.35 + 0.45 * home_labour)
    productivity = math.exp(0.35 * wealth) * rng.lognormal(0, 0.25)
    farmland, orchard = float(d["farmland_mu"]), float(d["orchard_mu"])
    # Sugarcane and rice on the farmland, bananas and pitaya in the orchards, pigs and poultry.
    crops = farmland * rng.uniform(1800, 3200) * productivity * labour_factor
    fruit = orchard * rng.uniform(3500, 8000) * productivity * labour_factor
    livestock = (
        rng.lognormal(math.log(4000), 0.7) * productivity * math.sqrt(min(home_labour, 4))
        if _chance(rng, 0.65)
        else 0.0
    )
    cost = (
        crops * rng.uniform(0.35, 0.5)
        + fruit * rng.uniform(0.4, 0.55)
        + livestock * rng.uniform(0.6, 0.75)
    )
    business = crops + fruit + livestock
    if home_labour and _chance(rng, _logistic(-3.2 + 0.8 * wealth)):
        shop = rng.uniform(8000, 40000)  # a village shop, a lorry, a small trade
        business += shop
        cost += shop * rng.uniform(0.55, 0.75)
    rent = (
        farmland * rng.uniform(500, 900) if _chance(rng, 0.06 + 0.1 * (home_labour == 0)) else 0.0
    )
    dividend = rng.uniform(200, 1000) if _chance(rng, 0.03) else 0.0
    pension = sum(rng.uniform(1000, 1200) for m in members if m.age >= 60)
    dibao = sum(rng.uniform(1400, 2400) for m in members if m.dibao)
    wubao = sum(rng.uniform(3200, 4200) for m in members if m.wubao)
    planning = 0.0
    if d["is_only_child"] or d["is_two_daughters"]:
        parents = [m for m in members if m.relation in (Relation.HEAD, Relation.SPOUSE)]
        planning = 960.0 * sum(1 for m in parents if m.age >= 60)
    eco = float(d["returned_forest_mu"]) * 150 + float(d["forest_mu"]) * 0.3 * 15
    disability_aid = sum(
        rng.uniform(600, 1200) for m in members if m.disabled and (m.disability_grade or 4) <= 2
    )
    # Support from children living elsewhere (赡养费) counts as other transfers.
    support = 0.0
    working = any(16 <= m.age < 60 and m.labourer for m in members)
    if any(m.age >= 60 for m in members) and _chance(rng, 0.5 if working else 0.8):
        support = rng.uniform(1500, 8000 if not working else 5000) * math.exp(0.2 * wealth)
    # 耕地地力保护补贴 per 亩, 残疾人两项补贴, and the children's support.
    other = farmland * rng.uniform(80, 110) + disability_aid + support
    income = {
        "year": INCOME_YEAR,
        "wage": wage,
        "business": business,
        "property_dividend": dividend,
        "property_other": rent,
        "transfer_family_planning": planning,
        "transfer_dibao": dibao,
        "transfer_wubao": wubao,
        "transfer_pension": pension,
        "transfer_eco_compensation": eco,
        "transfer_other": other,
        "business_cost": cost,
    }
    return {k: (v if k == "year" else Decimal(round(v))) for k, v in income.items()}


# --------------------------------------------------------------------------------------
# Identification, causes, life cycle
# --------------------------------------------------------------------------------------


def _causes(rng: np.random.Generator, spec: HouseholdSpec) -> tuple[str, list[str]]:
    """Main and other causes of poverty (致贫原因) read from the household's facts."""
    ms, d = spec.members, spec.data
    labourers = [m for m in ms if m.labourer and 16 <= m.age <= 64]
    scores: dict[str, float] = {}
    if any(m.serious for m in ms):
        scores[PovertyCause.ILLNESS] = 10
    elif any(m.chronic and m.age < 65 for m in ms):
        scores[PovertyCause.ILLNESS] = 5
    if any(m.disabled and (m.disability_grade or 4) <= 2 for m in ms):
        scores[PovertyCause.DISABILITY] = 8
    elif any(m.disabled for m in ms):
        scores[PovertyCause.DISABILITY] = 4
    if not labourers or (len(labourers) == 1 and len(ms) >= 4):
        scores[PovertyCause.LACK_OF_LABOUR] = 7
    costly = [
        m
        for m in ms
        if m.schooling
        in (
            Schooling.SENIOR,
            Schooling.SECONDARY_VOCATIONAL,
            Schooling.HIGHER_VOCATIONAL,
            Schooling.COLLEGE,
        )
    ]
    if costly or sum(m.student for m in ms) >= 3:
        scores[PovertyCause.SCHOOLING] = 6 + len(costly)
    if float(d["farmland_mu"]) / len(ms) < 0.5:
        scores[PovertyCause.LACK_OF_LAND] = 4
    if (
        d["road_surface"] in (RoadSurface.EARTH, RoadSurface.GRAVEL)
        and float(d["distance_to_road_km"]) >= 1.5
    ):
        scores[PovertyCause.POOR_TRANSPORT] = 4
    if d["water_hard_to_get"]:
        scores[PovertyCause.LACK_OF_WATER] = 3
    if labourers and not any(m.labour == LabourSkill.SKILLED for m in labourers):
        scores[PovertyCause.LACK_OF_SKILLS] = 3
    if labourers and not any(m.migrant_months >= 6 for m in ms) and _chance(rng, 0.15):
        scores[PovertyCause.LACK_OF_DRIVE] = 2.5
    scores[PovertyCause.LACK_OF_FUNDS] = 2.8
    if _chance(rng, 0.03):
        scores[PovertyCause.DISASTER] = 6  # the 2015 flood of the 右江 took a crop or a house
    ranked = sorted(scores, key=lambda c: scores[c] + rng.uniform(0, 2.5), reverse=True)
    n_other = min(len(ranked) - 1, int(rng.choice([0, 1, 2, 3], p=[0.2, 0.4, 0.3, 0.1])))
    return ranked[0], sorted(ranked[1 : 1 + n_other], key=int)


def _day(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _after(rng: np.random.Generator, day: dt.date, low: int, high: int) -> dt.date:
    return min(day + dt.timedelta(days=_uniform_int(rng, low, high)), DEMO_AS_OF)


_EXCLUSION_FINDINGS = {
    "car": "经公安交警车辆登记信息比对，户主名下登记小型轿车一辆（{year}年购置），属于“四类人员”",
    "house": "经住建部门商品房备案信息比对，家庭成员在县城购有商品房一套（约{area}平方米）",
    "payroll": "经编制、财政供养人员信息比对，家庭成员{name}为财政供养人员（乡镇事业单位在编）",
    "company": "经市场监管部门企业登记信息比对，户主为个体工商户并持有注册公司股份",
}


def _exclusion_finding(rng: np.random.Generator, s: HouseholdSpec, k: int) -> str:
    """What the cross-department check found (DOMAIN.md §3, §10 veto items), made true."""
    staff = [m for m in s.members if 22 <= m.age <= 55 and m.education != Education.ILLITERATE]
    kinds = ["car", "house"]
    if staff:
        kinds.append("payroll")
    if s.members[0].age < 60:
        kinds.append("company")
    kind = kinds[k % len(kinds)]
    if kind == "car":
        s.data["cars"] = max(s.data["cars"], 1)
    name = staff[int(rng.integers(len(staff)))].name if staff else ""
    return _EXCLUSION_FINDINGS[kind].format(
        year=_uniform_int(rng, 2011, 2015), area=_uniform_int(rng, 80, 130), name=name
    )


_REASONS = {
    "propose": [
        "经两入户调查评估，得分{points}分，低于全县分数线{cutoff}分；经村民代表大会第一次评议，拟识别为贫困户",
        "入户评估得分{points}分（分数线{cutoff}分），村两委和驻村工作队初审通过，村民代表评议同意，拟识别",
    ],
    "start_notice": [
        "第一次公示：在村委会公示栏公示7天，公示期间无异议",
        "在村、屯公示栏张榜公示7天，接受群众监督",
    ],
    "register": [
        "经乡镇审核、县扶贫开发领导小组审定，公告无异议，纳入建档立卡贫困户",
        "两审核、两公示、一公告程序完成，县级审定纳入建档立卡",
    ],
    "propose_exit": [
        "{year}年人均纯收入{income}元，超过当年扶贫标准{line}元，“八有一超”达标，村民代表评议拟脱贫",
        "经帮扶责任人入户核算，{year}年人均纯收入{income}元（标准{line}元），两不愁三保障已实现，拟脱贫",
    ],
    "exit": [
        "双认定：验收组、户主、帮扶责任人签字确认，乡镇核实、县级审定，公告无异议，确认脱贫",
        "经乡镇初审、县扶贫办复核，脱贫公告期满无异议，确认脱贫",
    ],
    "close": [
        "脱贫后扶持两年、观察一年，巩固期满经核查无返贫风险，严格销号",
    ],
    "return_to_poverty": [
        "户主突发脑梗住院，自付医疗费用较高，家庭收入骤降，因病返贫",
        "2018年6月洪涝灾害冲毁农田和部分房屋，因灾返贫",
        "家中主要劳动力务工受伤丧失劳动能力，收入低于扶贫标准，返贫",
    ],
    "re_register": [
        "经入户核实、村民评议、乡镇审核、县级审定，重新纳入建档立卡贫困户",
    ],
    "withdraw": [
        "公示期间群众反映该户子女在广东经商、收入较高，经核实异议成立，撤回",
        "公示期间收到实名举报，经乡镇核实该户家庭收入超过标准，异议成立，撤回",
    ],
    "propose_new": [
        "{year}年动态调整（有进有出）：新识别，入户评估得分{points}分，低于分数线{cutoff}分，村民代表评议拟纳入",
    ],
}


def _reason(rng: np.random.Generator, key: str, **values: Any) -> str:
    options = _REASONS[key]
    return options[int(rng.integers(len(options)))].format(**values)


def _points(score: float) -> int:
    """The scorecard points a household would show (higher = better off), 20–98."""
    return int(np.clip(round(62 + 11 * score), 20, 98))


def _identification_steps(
    rng: np.random.Generator, spec: HouseholdSpec, cutoff: int, year: int
) -> tuple[list[Step], dt.date]:
    if year == 2014:
        propose = _day(rng, dt.date(2014, 5, 5), dt.date(2014, 6, 20))
    else:
        propose = _day(rng, dt.date(2015, 10, 10), dt.date(2015, 11, 5))
    notice = _after(rng, propose, 3, 8 if year == 2015 else 12)
    register = _after(rng, notice, 10, 25 if year == 2015 else 40)
    steps = [
        Step("propose", propose, _reason(rng, "propose", points=spec.points, cutoff=cutoff)),
        Step("start_notice", notice, _reason(rng, "start_notice")),
        Step("register", register, _reason(rng, "register"), actor="reviewer"),
    ]
    return steps, register


def _exit_steps(
    rng: np.random.Generator, spec: HouseholdSpec, year: int, after: dt.date, propose_only: bool
) -> list[Step]:
    growth = 1.0 + 0.12 * (year - INCOME_YEAR)
    line = CALIBRATION_LINES[year]
    income = max(round(spec.per_capita * growth), round(line * rng.uniform(1.05, 1.6)))
    start = max(dt.date(year, 10, 8), after + dt.timedelta(days=30))
    propose = _day(rng, start, start + dt.timedelta(days=25))
    steps = [
        Step(
            "propose_exit",
            propose,
            _reason(rng, "propose_exit", year=year, income=income, line=line),
        )
    ]
    if not propose_only:
        steps.append(Step("exit", _after(rng, propose, 20, 45), _reason(rng, "exit"), "reviewer"))
    return steps


def _evidence(spec: HouseholdSpec, county_name: str, finding: str, day: dt.date) -> tuple[str, str]:
    head = spec.members[0]
    text = (
        f"{county_name}扶贫开发领导小组办公室\n"
        f"建档立卡贫困户大数据比对核查记录\n\n"
        f"户主：{head.name}\n"
        f"身份证号：{head.id_number[:6]}********{head.id_number[-4:]}\n"
        f"核查日期：{day:%Y年%m月%d日}\n"
        f"比对部门：公安、住建、编制、财政、市场监管、车管\n"
        f"比对结果：{finding}\n"
        f"处理意见：不符合建档立卡贫困户识别标准，予以剔除。\n\n"
        f"核查人签字：________  户主签字：________\n"
        f"{DEMO_MARK}\n"
    )
    return f"核查记录-{spec.village}-{spec.index:05d}.txt", text


def _assign_paths(rng: np.random.Generator, specs: list[HouseholdSpec], county_name: str) -> int:
    """Choose who was registered, exited, excluded …; write their dated steps.

    Identification follows DOMAIN.md §3: a scorecard score (wealth seen through noise and
    through the visible facts) ranks the households and the county's cutoff is drawn so
    the lowest `POOR_SHARE` fall below it. Returns the cutoff in points.
    """
    n = len(specs)
    if n == 0:
        return 0
    for s in specs:
        ms = s.members
        s.score = (
            s.wealth
            + rng.normal(0, 0.35)
            - 0.3 * bool(s.data["is_dilapidated"])
            - 0.3 * any(m.serious for m in ms)
            - 0.2 * any(m.disabled for m in ms)
        )
        s.points = _points(s.score)
    order = sorted(range(n), key=lambda i: specs[i].score)
    n_poor = max(1, round(POOR_SHARE * n))
    cutoff = specs[order[n_poor - 1]].points + 1
    poor = [specs[i] for i in order[:n_poor]]
    near = [specs[i] for i in order[n_poor : n_poor + max(3, round(0.08 * n))]]

    def at_least(share: float, minimum: int = 1) -> int:
        return max(minimum, round(share * n)) if n >= 30 else round(share * n)

    # Identification in 2014 (建档立卡) or in the 2015 Guangxi 精准识别 campaign.
    for s in poor:
        s.poor = True
        s.path = "registered"
        year = 2014 if _chance(rng, 0.6) else 2015
        s.steps, _ = _identification_steps(rng, s, cutoff, year)

    # Excluded (富人戴穷帽): the best-off of the registered by wealth and 2016 income,
    # found by the cross-department checks.
    by_wealth = sorted(poor, key=lambda s: s.wealth + s.per_capita / 5000, reverse=True)
    excluded = by_wealth[: at_least(0.02)]
    for k, s in enumerate(excluded):
        finding = _exclusion_finding(rng, s, k)
        last = s.steps[-1].date
        if k % 4 == 3:
            # An objection during the notice, upheld: excluded before registration.
            s.steps = s.steps[:2]
            day = _after(rng, s.steps[-1].date, 2, 6)
            reason = f"公示期间群众实名反映，经核实：{finding}，异议成立，予以剔除"
        else:
            day = _day(rng, max(last, dt.date(2016, 5, 1)), dt.date(2017, 9, 30))
            reason = f"{finding}，不符合识别标准，予以剔除（2016—2017年精准识别“回头看”）"
        evidence = _evidence(s, county_name, finding, day)
        s.steps.append(Step("exclude", day, reason, "reviewer", evidence))
        s.path = "excluded"
        s.poor = False

    remaining = [s for s in poor if s.path == "registered"]

    # Who exits first: the best 2016 income, 兜底 (低保/五保) households last.
    def exit_key(s: HouseholdSpec) -> float:
        safety_net = any(m.dibao or m.wubao for m in s.members)
        return s.per_capita * rng.uniform(0.8, 1.2) - (2500 if safety_net else 0)

    ranked = sorted(remaining, key=exit_key, reverse=True)
    m = len(ranked)
    quotas = [(2016, 0.18), (2017, 0.16), (2018, 0.15), (2019, 0.14)]
    cursor = 0
    exits: dict[int, list[HouseholdSpec]] = {}
    for year, share in quotas:
        take = round(share * m)
        chosen = ranked[cursor : cursor + take]
        if year == 2016:
            chosen = [s for s in chosen if s.per_capita >= CALIBRATION_LINES[2016] * 1.05]
        exits[year] = chosen
        cursor += take
    pending = ranked[cursor : cursor + max(1 if m >= 10 else 0, round(0.05 * m))]
    exited_ids = {id(s) for ss in exits.values() for s in ss}
    for year, chosen in exits.items():
        for s in chosen:
            s.steps += _exit_steps(rng, s, year, s.steps[-1].date, propose_only=False)
            s.path = "exited"
            if year == 2016:
                # Closed (销号) only once the consolidation after exit is over (support and
                # observation, fupin/exit/policy/exit.toml; the close guard refuses before).
                exited = s.steps[-1].date
                rules = consolidation_for(s.village, exited)
                closable = timeline(exited, rules).can_close_from if rules else exited
                last_day = dt.date(2019, 12, 20)
                if closable <= last_day:
                    close = _day(rng, max(dt.date(2019, 11, 20), closable), last_day)
                    s.steps.append(Step("close", close, _reason(rng, "close"), "reviewer"))
                    s.path = "closed"
    for s in pending:
        if id(s) not in exited_ids:
            s.steps += _exit_steps(rng, s, 2019, s.steps[-1].date, propose_only=True)
            s.path = "exit_proposed"

    # Returned to poverty (返贫): a few of the 2016–2017 exits, re-registered in 2018.
    early = [s for s in exits.get(2016, []) + exits.get(2017, [])]
    for s in early[:: max(1, len(early) // max(1, at_least(0.004)))][: at_least(0.004)]:
        s.steps = [st for st in s.steps if st.name != "close"]
        last = s.steps[-1].date
        back = _day(
            rng, max(last + dt.timedelta(days=60), dt.date(2018, 3, 1)), dt.date(2018, 9, 30)
        )
        s.steps.append(Step("return_to_poverty", back, _reason(rng, "return_to_poverty")))
        again = _after(rng, back, 20, 60)
        s.steps.append(Step("re_register", again, _reason(rng, "re_register"), "reviewer"))
        s.path = "registered"

    # Near the line: a few proposals withdrawn after an objection (2014), and the 2019
    # dynamic adjustment's new proposals, some already in notice.
    rng_near = list(near)
    withdrawn = rng_near[: at_least(0.008)]
    for s in withdrawn:
        steps, _ = _identification_steps(rng, s, cutoff, 2014)
        day = _after(rng, steps[1].date, 2, 6)
        s.steps = [*steps[:2], Step("withdraw", day, _reason(rng, "withdraw"))]
        s.path = "surveyed"
    new = rng_near[len(withdrawn) : len(withdrawn) + at_least(0.016, 2)]
    for k, s in enumerate(new):
        propose = _day(rng, dt.date(2019, 10, 8), dt.date(2019, 11, 25))
        reason = _reason(rng, "propose_new", year=2019, points=s.points, cutoff=cutoff)
        s.steps = [Step("propose", propose, reason)]
        s.path = "proposed"
        if k % 2 == 1:
            s.steps.append(
                Step("start_notice", _after(rng, propose, 3, 10), _reason(rng, "start_notice"))
            )
            s.path = "in_notice"
    return cutoff


def _poverty_facts(rng: np.random.Generator, spec: HouseholdSpec) -> None:
    """Attribute, causes, bank account and cover of a household that was identified."""
    ms = spec.members
    if any(m.wubao for m in ms):
        spec.data["attribute"] = PovertyAttribute.TEKUN
    elif any(m.dibao for m in ms):
        spec.data["attribute"] = PovertyAttribute.DIBAO
    else:
        spec.data["attribute"] = PovertyAttribute.GENERAL
    main, others = _causes(rng, spec)
    spec.data["main_cause"], spec.data["other_causes"] = main, others
    if "bank_account" not in spec.data:
        spec.data["bank_name"], spec.data["bank_account"] = _bank(rng)
    if spec.poor or spec.path == "excluded":
        for m in ms:
            m.medical = m.serious_insurance = True  # premiums paid by the county for the poor
            m.accident = _chance(rng, 0.4) and m.age >= 16
    remote = float(spec.data["distance_to_road_km"]) > 2.5 or spec.data["water_hard_to_get"]
    if spec.poor and remote and _chance(rng, 0.35):
        # 易地扶贫搬迁 to the county town's concentrated resettlement site.
        spec.data["relocation_type"] = "individual"
        spec.data["relocation_mode"] = "concentrated"
        spec.data["relocation_place"] = "county_town"


DEFECTS = {
    "cause_illness_all_healthy": 0.2,
    "dibao_without_dibao_member": 0.15,
    "business_income_without_cost": 0.2,
    "farmland_too_large": 0.1,
    "duplicate_person_county": 0.15,
    "head_spouse_same_sex": 0.1,
    "cause_schooling_no_student": 0.1,
}


def _assign_defects(rng: np.random.Generator, specs: list[HouseholdSpec], ids: IdFactory) -> None:
    """Give about `DEFECT_SHARE` of households one data-entry mistake (DOMAIN.md §9 rules)."""
    n_defects = round(DEFECT_SHARE * len(specs))
    order = [int(i) for i in rng.permutation(len(specs))]
    kinds = list(DEFECTS)
    p = np.array([DEFECTS[k] for k in kinds])
    # Every kind at least once when there is room, then by weight.
    plan = kinds[: min(len(kinds), n_defects)] + [
        kinds[int(i)]
        for i in rng.choice(len(kinds), size=max(0, n_defects - len(kinds)), p=p / p.sum())
    ]
    for kind in plan:
        needs_causes = kind.startswith(("cause_", "dibao_"))
        for i in order:
            s = specs[i]
            if s.defect or (needs_causes and not s.data.get("main_cause")):
                continue
            if _make_defect(rng, kind, s, specs, ids):
                s.defect = kind
                break


def _make_defect(
    rng: np.random.Generator,
    kind: str,
    s: HouseholdSpec,
    specs: list[HouseholdSpec],
    ids: IdFactory,
) -> bool:
    ms = s.members
    if kind == "cause_illness_all_healthy":
        if not all(m.healthy for m in ms) or s.data["main_cause"] == PovertyCause.ILLNESS:
            return False
        s.data["other_causes"] = [c for c in s.data["other_causes"] if c != PovertyCause.ILLNESS]
        s.data["main_cause"] = PovertyCause.ILLNESS
        return True
    if kind == "cause_schooling_no_student":
        if any(m.student for m in ms) or s.data["main_cause"] == PovertyCause.SCHOOLING:
            return False
        s.data["other_causes"] = [c for c in s.data["other_causes"] if c != PovertyCause.SCHOOLING]
        s.data["main_cause"] = PovertyCause.SCHOOLING
        return True
    if kind == "dibao_without_dibao_member":
        if s.data["attribute"] != PovertyAttribute.GENERAL:
            return False
        s.data["attribute"] = PovertyAttribute.DIBAO  # ticked, but no member on the allowance
        return True
    if kind == "business_income_without_cost":
        if s.income["business"] <= 0:
            return False
        s.income["business_cost"] = Decimal("0")
        return True
    if kind == "farmland_too_large":
        if len(ms) > 3:
            return False
        # 2.5 亩 typed as square metres' worth of 分: a factor of 100.
        s.data["farmland_mu"] = s.data["farmland_mu"] * 100
        return True
    if kind == "head_spouse_same_sex":
        spouse = next((m for m in ms if m.relation == Relation.SPOUSE), None)
        if spouse is None:
            return False
        spouse.id_number = ids.make(spouse.birth, ms[0].sex)  # the sex digit mistyped
        return True
    if kind == "duplicate_person_county":
        # A daughter married into another household but never struck off at home.
        start = int(rng.integers(len(specs)))
        for other in specs[start:] + specs[:start]:
            if other is s or other.village == s.village:
                continue
            bride = next(
                (m for m in other.members if m.relation == Relation.DAUGHTER and 18 <= m.age <= 35),
                None,
            )
            if bride is None:
                continue
            twin = Person(Relation.OTHER, bride.sex, bride.age, "own")
            for name in ("birth", "name", "surname", "ethnicity", "id_number", "education"):
                setattr(twin, name, getattr(bride, name))
            twin.labour, twin.medical = bride.labour, bride.medical
            ms.append(twin)
            return True
        return False
    raise ValueError(kind)


def choose_village_flags(
    specs: Sequence[HouseholdSpec], villages: Sequence[VillageInfo]
) -> dict[str, tuple[bool, float]]:
    """Poor villages (about a third, highest incidence) and deep-poverty ones among them.

    Incidence = people of registered households ÷ people surveyed in the village (as
    identified in 2014–2015, before any exit). DOMAIN.md §2: 深度贫困村 needs incidence
    ≥ 20% "plus other factors" — here the village's remoteness — and is kept to a few.
    """
    people: Counter[str] = Counter()
    poor_people: Counter[str] = Counter()
    for s in specs:
        people[s.village] += len(s.members)
        if s.poor or s.path in ("registered", "exit_proposed", "exited", "closed"):
            poor_people[s.village] += len(s.members)
    info = {v.code: v for v in villages}
    candidates = [code for code in people if people[code] > 0]
    incidence = {code: poor_people[code] / people[code] for code in candidates}
    ranked = sorted(candidates, key=lambda c: (incidence[c], -info[c].effect), reverse=True)
    n_poor = round(len(candidates) / 3)
    poor = [c for c in ranked[:n_poor] if incidence[c] > 0]
    deep_candidates = [c for c in poor if incidence[c] >= 0.2]
    deep_candidates.sort(key=lambda c: info[c].remoteness + 2 * incidence[c], reverse=True)
    deep = (
        set(deep_candidates[: max(1, round(0.06 * len(candidates)))]) if deep_candidates else set()
    )
    return {c: (c in deep, incidence[c]) for c in sorted(poor)}


def rural_villages(county: str) -> list[tuple[str, str, str]]:
    """(code, name, township) of the county's villages (村委会), not urban communities.

    Statistical codes 001–199 below a township are 居委会 (urban communities); 200–499 are
    村委会 and their like. A county without any falls back to all its villages.
    """
    rows = list(
        Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith=county)
        .order_by("code")
        .values_list("code", "name", "parent_id")
    )
    rural = [r for r in rows if 200 <= int(r[0][9:]) <= 499]
    return rural or rows


def generate(
    villages: Sequence[tuple[str, str, str]],
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    county: str = DEFAULT_COUNTY,
    county_name: str = "隆安县",
) -> DemoCounty:
    """The whole synthetic county, deterministic in (villages, households, seed, county)."""
    if not villages:
        raise ValueError(f"county {county} has no villages to put households in")
    rng = np.random.default_rng(seed)
    townships = sorted({t for _c, _n, t in villages})
    t_effect = dict(zip(townships, rng.normal(0, 0.3, len(townships)), strict=True))
    infos: list[VillageInfo] = []
    v_effects = rng.normal(0, 0.45, len(villages))
    v_noise = rng.normal(0, 0.5, len(villages))
    # The poorest hamlets up in the hills are where the Yao live.
    yao_rank = np.argsort(v_effects)[: max(1, round(0.03 * len(villages)))]
    yao = set(yao_rank.tolist())
    for i, (code, name, township) in enumerate(villages):
        effect = float(t_effect[township] + v_effects[i])
        infos.append(
            VillageInfo(
                code=code,
                name=name,
                township=township,
                effect=effect,
                remoteness=float(-1.2 * v_effects[i] + v_noise[i]),
                yao=i in yao,
            )
        )
    weights = rng.lognormal(0, 0.4, len(infos))
    counts = rng.multinomial(households, weights / weights.sum())
    ids = IdFactory(IssuingCodes.for_county(county), rng)
    specs: list[HouseholdSpec] = []
    for info, k in zip(infos, counts, strict=True):
        for _ in range(int(k)):
            wealth = info.effect + float(rng.normal(0, 1))
            specs.append(_household(rng, len(specs), info, ids, wealth))
    cutoff = _assign_paths(rng, specs, county_name)
    for s in specs:
        if s.steps:
            _poverty_facts(rng, s)
    _assign_defects(rng, specs, ids)
    for s in specs:
        s.data = _plain(s.data)
    return DemoCounty(
        county=county,
        seed=seed,
        villages=infos,
        households=specs,
        cutoff_points=cutoff,
        poor_villages=choose_village_flags(specs, infos),
    )


# --------------------------------------------------------------------------------------
# Loading through the services
# --------------------------------------------------------------------------------------


class DemoAlreadyLoaded(Exception):
    """The county already has households; loading again would add them twice."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    area_code: str
    full_name: str
    created: bool = True


@dataclass
class DemoResult:
    county: str
    households: int
    people: int
    by_status: dict[str, int]
    poor_villages: int
    deep_villages: int
    quality: dict[str, int]
    users: list[DemoUser]
    seconds: dict[str, float]
    cutoff_points: int
    #: Support figures (cadres, pairings, teams, plans, visits): fupin/support/demo.py.
    support: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str, int, int], None]


def _county_row(county: str) -> tuple[str, str, str | None]:
    if len(county) != 6 or not county.isdigit():
        raise ValueError(f"a county code has 6 digits, not {county!r}")
    for row in iter_divisions(AreaLevel.COUNTY, {county[:2]}):
        if row[0] == county:
            return row
    raise ValueError(f"no county has the code {county}")


def load_areas(county: str, scope: str = "province") -> int:
    """Divisions for the demo: the whole province (default), or just the county's tree.

    The whole province (about 18,000 areas for Guangxi) takes under two seconds through
    `load_divisions`; "county" loads only the ancestors, townships and villages of the
    county, which is what the tests use. Both leave existing flags alone.
    """
    _county_row(county)
    if scope == "province":
        return sum(load_divisions(provinces={county[:2]}).values())
    if scope != "county":
        raise ValueError(f"scope is 'province' or 'county', not {scope!r}")
    ancestors = {county[: CODE_LENGTH[lvl]] for lvl in (AreaLevel.PROVINCE, AreaLevel.CITY)}
    ancestors.add(county)
    rows: list[Area] = []
    for level in (
        AreaLevel.PROVINCE,
        AreaLevel.CITY,
        AreaLevel.COUNTY,
        AreaLevel.TOWNSHIP,
        AreaLevel.VILLAGE,
    ):
        for code, name, parent in iter_divisions(level, {county[:2]}):
            if code in ancestors or (level >= AreaLevel.TOWNSHIP and code.startswith(county)):
                rows.append(Area(code=code, name=name, level=level, parent_id=parent))
    with transaction.atomic():
        Area.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            update_fields=["name", "parent"],
            unique_fields=["code"],
        )
    return len(rows)


def demo_username(base: str, county: str) -> str:
    """`county_admin` for the default county, `county_admin_450124` for any other, so
    several demo counties can live in one database, each with its own users."""
    return base if county == DEFAULT_COUNTY else f"{base}_{county}"


def _demo_users(county: str, township: str, village: str) -> list[tuple[str, str, str, str]]:
    """(username, role, area, full name) of the demo users."""
    rows = [
        ("county_admin", Role.ADMINISTRATOR, county, "韦建国"),
        ("county_officer", Role.DATA_OFFICER, county, "黄丽萍"),
        ("county_reviewer", Role.REVIEWER, county, "陆志明"),
        ("evaluator", Role.EVALUATOR, county, "陈晓东"),
        ("viewer", Role.VIEWER, county, "梁海燕"),
        ("township_officer", Role.DATA_OFFICER, township, "蒙少华"),
        ("village_officer", Role.DATA_OFFICER, village, "农秀英"),
        # The cadre of a few of the village's households (fupin/support/demo.py).
        ("support_cadre", Role.SUPPORT_CADRE, village, "覃振华"),
    ]
    return [(demo_username(name, county), str(role), area, full) for name, role, area, full in rows]


def ensure_users(county: str, township: str, village: str) -> list[DemoUser]:
    """Create the demo users through `create_user`; keep any that already exist.

    An existing user of a demo name must still work inside the county (the households are
    entered and signed by them): otherwise ValueError, rather than a half-loaded county.
    """
    made: list[DemoUser] = []
    for username, role, area, full_name in _demo_users(county, township, village):
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            if username.startswith("county_") and not (existing.area_id or "").startswith(county):
                raise ValueError(
                    f"the demo user {username} exists with area {existing.area_id}, outside "
                    f"county {county}; rename or rebind it first"
                )
            made.append(
                DemoUser(
                    username,
                    ",".join(existing.roles),
                    existing.area_id or "",
                    existing.full_name,
                    False,
                )
            )
            continue
        create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD,
            area_code=area,
            roles=[role],
            full_name=full_name,
            reason=f"{DEMO_MARK}：演示用户",
        )
        made.append(DemoUser(username, role, area, full_name))
    return made


def existing_users(county: str = DEFAULT_COUNTY) -> list[DemoUser]:
    """The county's demo users present in the database (for a report of a loaded county)."""
    names = [u[0] for u in _demo_users(county, "", "")]
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    return [
        DemoUser(n, ",".join(found[n].roles), found[n].area_id or "", found[n].full_name, False)
        for n in names
        if n in found
    ]


def demo_households(county: str) -> Any:
    return Household.objects.in_area(county)


def reset_county(county: str) -> int:
    """Delete the county's households, their history and findings; return how many.

    Refuses (ValueError) when any of them was not created by the demo: `--reset` must never
    wipe real data. The village flags of the county are cleared through the service and the
    reset itself is audited. Audit entries are append-only and stay.
    """
    # Support and identification build on the registry: imported here, not at the top, so
    # that the registry never depends on them when they import this module.
    from fupin.identify.demo import reset_identify_demo
    from fupin.support.demo import reset_support_demo

    households = demo_households(county)
    ids = [str(pk) for pk in households.values_list("pk", flat=True)]
    demo_made = 0
    for i in range(0, len(ids), 500):
        demo_made += (
            AuditEntry.objects.filter(
                action="registry.household.create",
                object_id__in=ids[i : i + 500],
                reason__startswith=DEMO_MARK,
            )
            .values("object_id")
            .distinct()
            .count()
        )
    if demo_made != len(ids):
        raise ValueError(
            f"{len(ids) - demo_made} households of county {county} were not created by the "
            "demo; refusing to delete them"
        )
    with transaction.atomic():
        # Support rows and campaigns refer to the households (PROTECT): theirs go first.
        reset_identify_demo(county)
        reset_support_demo(county)
        attachments = list(
            Attachment.objects.filter(statuschange__household__in=households).distinct()
        )
        files = [a.file for a in attachments]
        households.delete()  # members, incomes, steps and findings go with them
        Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
        poor_villages = Area.objects.filter(
            code__startswith=county, level=AreaLevel.VILLAGE, is_poor_village=True
        )
        for village in poor_villages:
            mark_village_flags(None, village.code, False, False, f"{DEMO_MARK}：重置演示县")
        audit.record(
            user=None,
            action="registry.demo.reset",
            object_type="core.area",
            object_id=county,
            area_code=county,
            before={"households": len(ids)},
            after={"households": 0},
            reason=f"{DEMO_MARK}：fupin demo --reset",
        )
    for f in files:
        f.delete(save=False)
    return len(ids)


def _upload(evidence: tuple[str, str]) -> SimpleUploadedFile:
    name, text = evidence
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/plain")


def load_demo(
    county: str = DEFAULT_COUNTY,
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    *,
    divisions: str = "province",
    reset: bool = False,
    progress: Progress | None = None,
) -> DemoResult:
    """Load the demo county: areas, users, households, their history, village flags.

    Raises DemoAlreadyLoaded when the county already has households and `reset` is false.
    Households, steps, flags and their support (cadres, pairings, plans, visits:
    fupin/support/demo.py) are written in one transaction: an interrupted load leaves no
    half county behind.
    """
    from fupin.exit import guards as exit_guards
    from fupin.support.demo import load_support_demo

    seconds: dict[str, float] = {}
    started = time.monotonic()
    _code, county_name, _parent = _county_row(county)
    load_areas(county, divisions)
    seconds["areas"] = time.monotonic() - started

    if demo_households(county).exists():
        if not reset:
            raise DemoAlreadyLoaded(county)
        t = time.monotonic()
        reset_county(county)
        seconds["reset"] = time.monotonic() - t

    t = time.monotonic()
    villages = rural_villages(county)
    demo = generate(villages, households, seed, county, county_name)
    seconds["generate"] = time.monotonic() - t

    # The township and village users work where the demo has the most to show.
    per_village = Counter(s.village for s in demo.households)
    per_township = Counter(s.village[:9] for s in demo.households)
    township = per_township.most_common(1)[0][0] if per_township else villages[0][2]
    in_township = [c for c in demo.poor_villages if c.startswith(township)] or [
        c for c in per_village if c.startswith(township)
    ]
    village = max(in_township, key=lambda c: (per_village[c], c)) if in_township else villages[0][0]
    t = time.monotonic()
    users = ensure_users(county, township, village)
    seconds["users"] = time.monotonic() - t
    officer = User.objects.get(username=demo_username("county_officer", county))
    reviewer = User.objects.get(username=demo_username("county_reviewer", county))
    admin = User.objects.get(username=demo_username("county_admin", county))
    actors = {"officer": officer, "reviewer": reviewer}

    t = time.monotonic()
    total = len(demo.households)
    if progress is not None:
        progress("households", 0, total)
    # The demo's exits of 2016–2019 are history loaded as it happened, before the platform's
    # exit rounds: the `exit` guard (announcement only) lets this loader through, by name.
    history = exit_guards.outside_procedure("demo: exits of 2016–2019 loaded as history")
    with transaction.atomic(), history:
        duplicates: list[str] = []
        for done, spec in enumerate(demo.households, start=1):
            household = services.create_household(
                officer,
                spec.data,
                [m.member_data() for m in spec.members],
                spec.income,
                reason=f"{DEMO_MARK}：{SURVEY_DATE.year}年精准识别入户调查登记",
                # The household visit precedes its first step (some were proposed in 2014).
                surveyed_on=min(
                    [SURVEY_DATE, *(s.date - dt.timedelta(days=12) for s in spec.steps[:1])]
                ),
            )
            for step in spec.steps:
                services.transition_household(
                    actors[step.actor],
                    household,
                    step.name,
                    reason=step.reason,
                    date=step.date,
                    attachments=[_upload(step.evidence)] if step.evidence else (),
                )
            if spec.defect == "duplicate_person_county":
                duplicates.append(spec.village)
            if progress is not None:
                progress("households", done, total)
        seconds["households"] = time.monotonic() - t

        t = time.monotonic()
        for code, (deep, incidence) in demo.poor_villages.items():
            pct = f"{incidence * 100:.1f}%"
            reason = f"{DEMO_MARK}：2015年贫困村认定，抽样贫困发生率{pct}"
            if deep:
                reason = (
                    f"{DEMO_MARK}：2017年深度贫困村认定，贫困发生率{pct}（≥20%），"
                    "地处石山区、基础设施薄弱"
                )
            mark_village_flags(admin, code, True, deep, reason)
        # The demo county is on the poor-county list (the province's decision: the console).
        mark_county_flag(None, county, True, f"{DEMO_MARK}：国家扶贫开发工作重点县")
        # A person counted twice shows on both households: re-check the other side too.
        if duplicates:
            dup_ids = (
                Member.objects.in_area(county)
                .values("id_number")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
                .values_list("id_number", flat=True)
            )
            others = sorted(
                set(
                    Member.objects.filter(id_number__in=list(dup_ids)).values_list(
                        "household__village", flat=True
                    )
                )
            )
            for code in others:
                services.recheck_quality(admin, code)
        seconds["flags"] = time.monotonic() - t

        t = time.monotonic()
        load_support_demo(county, village, township, admin)
        seconds["support"] = time.monotonic() - t
    seconds["total"] = time.monotonic() - started
    return summarize(county, users, seconds, demo.cutoff_points)


def summarize(
    county: str, users: list[DemoUser], seconds: dict[str, float], cutoff: int = 0
) -> DemoResult:
    """Counts of what the county now holds (for the command's report and the tests)."""
    hh = demo_households(county)
    by_status = dict(hh.order_by().values_list("status").annotate(n=Count("id")))
    villages = Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith=county)
    quality = dict(
        QualityIssue.objects.in_area(county)
        .order_by()
        .values_list("rule")
        .annotate(n=Count("household", distinct=True))
    )
    from fupin.support.demo import figures as support_figures

    return DemoResult(
        county=county,
        households=hh.count(),
        people=Member.objects.in_area(county).filter(left_on__isnull=True).count(),
        by_status=by_status,
        poor_villages=villages.filter(is_poor_village=True).count(),
        deep_villages=villages.filter(is_deep_poverty_village=True).count(),
        quality=quality,
        users=users,
        seconds=seconds,
        cutoff_points=cutoff,
        support=support_figures(county),
    )


def iter_people(demo: DemoCounty) -> Iterable[Person]:
    for s in demo.households:
        yield from s.members
