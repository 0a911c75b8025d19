"""Monitoring policy as data: `policy/health.toml` (the 351 settlement, Anhui) and
`policy/education.toml` (the education aid exchange), each read once per process.

Amounts are read as Decimal from the TOML's integers and strings, never through a float.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fupin.registry.enums import Schooling
from fupin.support.policy import Labelled

POLICY_DIR = Path(__file__).parent / "policy"


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        # 0.1 as a TOML float is not 0.1: money and rates are integers or strings.
        raise ValueError(f"{where}: write {value} as an integer or a quoted decimal")
    return Decimal(str(value))


# ======================================================================================
# Health: the 351 settlement (健康脱贫“351”兜底)
# ======================================================================================


@dataclass(frozen=True)
class HospitalLevel(Labelled):
    deductible: Decimal
    cap: Decimal
    insurance_rate: Decimal
    cap_note: str = ""


@dataclass(frozen=True)
class HealthPolicy:
    version: str
    effective: dt.date
    source: str
    household_statuses: frozenset[str]
    household_statuses_source: str
    cap_reading: str
    bill_reading: str
    levels: dict[str, HospitalLevel]

    def level(self, code: str) -> HospitalLevel:
        try:
            return self.levels[code]
        except KeyError:
            raise ValueError(f"no hospital level {code!r} in policy {self.version}") from None


def parse_health(text: str, source: str = "health.toml") -> HealthPolicy:
    """Parse and check: a rate outside 0–1 or a negative amount is an error of the file."""
    data = tomllib.loads(text)
    levels: dict[str, HospitalLevel] = {}
    for row in data["level"]:
        where = f"{source}: level {row['code']}"
        level = HospitalLevel(
            code=row["code"],
            label_en=row["label"],
            label_zh=row["label_zh"],
            deductible=_decimal(row["deductible"], where),
            cap=_decimal(row["cap"], where),
            insurance_rate=_decimal(row["insurance_rate"], where),
            cap_note=row.get("cap_note", ""),
        )
        if level.deductible < 0 or level.cap < 0:
            raise ValueError(f"{where}: deductible and cap cannot be negative")
        if not Decimal(0) <= level.insurance_rate <= Decimal(1):
            raise ValueError(f"{where}: insurance_rate must lie between 0 and 1")
        if level.code in levels:
            raise ValueError(f"{where}: appears twice")
        levels[level.code] = level
    settlement = data["settlement"]
    return HealthPolicy(
        version=data["version"],
        effective=data["effective"],
        source=data["source"],
        household_statuses=frozenset(data["household_statuses"]),
        household_statuses_source=data["household_statuses_source"],
        cap_reading=settlement["cap_reading"],
        bill_reading=settlement["bill_reading"],
        levels=levels,
    )


@cache
def health() -> HealthPolicy:
    """The health policy (`policy/health.toml`), parsed once; `health.cache_clear()` in tests."""
    path = POLICY_DIR / "health.toml"
    return parse_health(path.read_text(encoding="utf-8"), path.name)


# ======================================================================================
# Education: the aid data exchange and its 应助未助 list
# ======================================================================================


@dataclass(frozen=True)
class EducationPolicy:
    version: str
    effective: dt.date
    source: str
    household_statuses: frozenset[str]
    household_statuses_source: str
    compulsory_ages: tuple[int, int]
    compulsory_source: str
    #: (month, day) on which an aid year begins; it ends the day before, a year later.
    aid_year_starts: tuple[int, int]
    aid_year_source: str
    #: Spelling (as `lookup_key` gives it) → Schooling code, besides the enum's own labels.
    stage_aliases: dict[str, str]
    aid_kinds: dict[str, Labelled]
    aid_kinds_source: str

    def aid_year(self, school_year: int) -> tuple[dt.date, dt.date]:
        """The first and last day of the aid year that begins in `school_year`."""
        month, day = self.aid_year_starts
        start = dt.date(school_year, month, day)
        return start, dt.date(school_year + 1, month, day) - dt.timedelta(days=1)


def parse_education(text: str, source: str = "education.toml") -> EducationPolicy:
    from fupin.registry.validation import lookup_key

    data = tomllib.loads(text)
    low, high = (int(n) for n in data["compulsory_ages"])
    month, day = (int(part) for part in data["aid_year_starts"].split("-"))
    dt.date(2001, month, day)  # a day that exists in every year, or the file is wrong
    aliases: dict[str, str] = {}
    for spelling, code in data["stage_aliases"].items():
        if code not in Schooling.values:
            raise ValueError(f"{source}: stage alias {spelling} names no schooling {code!r}")
        aliases[lookup_key(spelling)] = code
    kinds: dict[str, Labelled] = {}
    for row in data["aid_kinds"]["kinds"]:
        if row["code"] in kinds:
            raise ValueError(f"{source}: aid kind {row['code']} appears twice")
        kinds[row["code"]] = Labelled(row["code"], row["label"], row["label_zh"])
    return EducationPolicy(
        version=data["version"],
        effective=data["effective"],
        source=data["source"],
        household_statuses=frozenset(data["household_statuses"]),
        household_statuses_source=data["household_statuses_source"],
        compulsory_ages=(low, high),
        compulsory_source=data["compulsory_source"],
        aid_year_starts=(month, day),
        aid_year_source=data["aid_year_source"],
        stage_aliases=aliases,
        aid_kinds=kinds,
        aid_kinds_source=data["aid_kinds"]["source"],
    )


@cache
def education() -> EducationPolicy:
    """The exchange policy (`policy/education.toml`), parsed once per process."""
    path = POLICY_DIR / "education.toml"
    return parse_education(path.read_text(encoding="utf-8"), path.name)


# ======================================================================================
# Return-to-poverty warnings: which rules an area applies (policy/warnings.toml) and the
# return check's procedure (policy/return.toml)
# ======================================================================================

#: Where a [[province]] row's `rules` file is looked for: the engine's shipped rules.
ENGINE_RULES_DIR = Path(__file__).resolve().parents[2] / "engine" / "warning_rules"
ANY_PROVINCE = "*"


@dataclass(frozen=True)
class RulesChoice:
    province: str
    name: str
    name_zh: str
    rules: str
    effective: dt.date
    source: str

    @property
    def path(self) -> Path:
        return ENGINE_RULES_DIR / self.rules

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.name_zh if (get_language() or "zh-hans").startswith("zh") else self.name


@dataclass(frozen=True)
class EventKindSpelling:
    code: str
    label_zh: str
    aliases: tuple[str, ...]
    amount: bool


@dataclass(frozen=True)
class WarningPolicy:
    version: str
    effective: dt.date
    source: str
    provinces: tuple[RulesChoice, ...]
    event_kinds: tuple[EventKindSpelling, ...] = ()
    event_sources: tuple[str, ...] = ()
    #: A responded or dismissed warning whose condition lasts is raised again, as a new
    #: warning, this many days after it was closed.
    reraise_after_days: int = 90

    def event_kind(self, code: str) -> EventKindSpelling | None:
        return next((k for k in self.event_kinds if k.code == code), None)

    def rules_for(self, area_code: str, on: dt.date) -> RulesChoice | None:
        """The row in force on `on` for the area's province, else for every province."""
        for province in (area_code[:2], ANY_PROVINCE):
            rows = [r for r in self.provinces if r.province == province and r.effective <= on]
            if rows:
                return max(rows, key=lambda r: r.effective)
        return None


def parse_warnings(text: str, source: str = "warnings.toml") -> WarningPolicy:
    data = tomllib.loads(text)
    rows = []
    for i, row in enumerate(data.get("province", [])):
        where = f"{source}: province {i + 1}"
        effective = row.get("effective")
        if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
            raise ValueError(f"{where}: effective must be a date like 2017-06-01")
        choice = RulesChoice(
            province=str(row["province"]),
            name=row["name"],
            name_zh=row["name_zh"],
            rules=row["rules"],
            effective=effective,
            source=row["source"],
        )
        if not choice.path.is_file():
            raise ValueError(f"{where}: no rules file {choice.path}")
        rows.append(choice)
    if not any(r.province == ANY_PROVINCE for r in rows):
        raise ValueError(f'{source}: a row for every province ("*") is needed')
    from engine.warnings import EVENT_KINDS

    kinds = []
    for row in data.get("event_kind", []):
        if row["code"] not in EVENT_KINDS:
            raise ValueError(f"{source}: event kind {row['code']!r} is not one of {EVENT_KINDS}")
        kinds.append(
            EventKindSpelling(
                row["code"], row["label_zh"], tuple(row.get("aliases", ())), bool(row.get("amount"))
            )
        )
    missing = set(EVENT_KINDS) - {k.code for k in kinds}
    if missing:
        raise ValueError(f"{source}: no [[event_kind]] for {', '.join(sorted(missing))}")
    return WarningPolicy(
        data["version"],
        data["effective"],
        data["source"],
        tuple(rows),
        tuple(kinds),
        tuple(data.get("event_sources", ())),
        _reraise_after(data, source),
    )


def _reraise_after(data: dict[str, Any], source: str) -> int:
    value = data.get("reraise_after_days")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{source}: reraise_after_days must be a whole number of days, at least 1")
    return value


@cache
def warnings() -> WarningPolicy:
    path = POLICY_DIR / "warnings.toml"
    return parse_warnings(path.read_text(encoding="utf-8"), path.name)


#: What a return step's `permission` may name: rights that exist (fupin/core/roles.py).
def _known_permissions() -> set[str]:
    from fupin.core.roles import ROLE_PERMISSIONS

    return set().union(*ROLE_PERMISSIONS.values())


def parse_return(text: str, source: str = "return.toml") -> dict[str, Any]:
    """The return procedures as identify's `Procedure` JSON, each step with its
    `permission`; checked by identify's parser (kinds, levels, the decision last)."""
    from fupin.identify.policy import parse_procedures

    data = tomllib.loads(text)
    parsed = parse_procedures(text, source)
    known = _known_permissions()
    result: dict[str, Any] = {}
    for raw in data.get("procedure", []):
        procedure = parsed[raw["code"]].as_json()
        for i, (step, row) in enumerate(zip(procedure["steps"], raw["steps"], strict=True)):
            permission = row.get("permission")
            if permission not in known:
                raise ValueError(
                    f"{source}: {raw['code']} step {i + 1}: permission {permission!r} is not "
                    "a right of any role"
                )
            step["permission"] = permission
            highest = row.get("highest", "")
            if highest and highest not in ("village", "township", "county"):
                raise ValueError(f"{source}: {raw['code']} step {i + 1}: highest {highest!r}")
            recorder = row.get("not_recorder_of", "")
            if recorder not in ("", "previous", "any"):
                raise ValueError(
                    f"{source}: {raw['code']} step {i + 1}: not_recorder_of {recorder!r}"
                )
            if highest:
                step["highest"] = highest
            if recorder:
                step["not_recorder_of"] = recorder
        result[raw["code"]] = procedure
    if not result:
        raise ValueError(f"{source}: no [[procedure]]")
    return result


@cache
def return_procedures() -> dict[str, Any]:
    path = POLICY_DIR / "return.toml"
    return parse_return(path.read_text(encoding="utf-8"), path.name)


def return_procedure_for(area_code: str) -> dict[str, Any]:
    """The return procedure of the area's province: the longest matching `province`
    prefix ("" matches every province)."""
    found = [p for p in return_procedures().values() if area_code.startswith(p["province"])]
    return max(found, key=lambda p: len(p["province"]))
