"""Support policy as data (DOMAIN.md §4): `policy/support.toml`, read once per process.

Each rule keeps its seed source next to its value, so that a refusal can quote it. Other
support TOML files (e.g. the measure catalogue) get their own loaders below, in their own
section.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

POLICY_DIR = Path(__file__).parent / "policy"


@dataclass(frozen=True)
class PairingRules:
    max_households_per_cadre: int
    max_households_source: str
    in_service_required: bool
    in_service_source: str
    eligible_levels: frozenset[str]
    #: A cadre whose resident ID is a member of a household in one of these is a registered
    #: poor person and cannot be a cadre.
    not_poor_statuses: frozenset[str]
    not_poor_source: str
    must_be_paired_statuses: frozenset[str]
    one_cadre_source: str
    campaign_ends: dt.date
    keep_after_exit_source: str


@dataclass(frozen=True)
class TeamRules:
    min_days_per_month: int
    min_days_source: str
    timezone: str
    geofence_from_first_checkins: int
    default_radius_m: int


@dataclass(frozen=True)
class RectificationRules:
    source: str


@dataclass(frozen=True)
class SupportRules:
    version: str
    effective: dt.date
    pairing: PairingRules
    team: TeamRules
    rectification: RectificationRules


def _parse(data: dict[str, Any]) -> SupportRules:
    p, t = data["pairing"], data["team"]
    return SupportRules(
        version=data["version"],
        effective=data["effective"],
        pairing=PairingRules(
            max_households_per_cadre=int(p["max_households_per_cadre"]),
            max_households_source=p["max_households_source"],
            in_service_required=bool(p["in_service_required"]),
            in_service_source=p["in_service_source"],
            eligible_levels=frozenset(p["eligible_levels"]),
            not_poor_statuses=frozenset(p["not_poor_statuses"]),
            not_poor_source=p.get("not_poor_source", "DOMAIN.md §4"),
            must_be_paired_statuses=frozenset(p["must_be_paired_statuses"]),
            one_cadre_source=p["one_cadre_source"],
            campaign_ends=p["campaign_ends"],
            keep_after_exit_source=p["keep_after_exit_source"],
        ),
        team=TeamRules(
            min_days_per_month=int(t["min_days_per_month"]),
            min_days_source=t["min_days_source"],
            timezone=t["timezone"],
            geofence_from_first_checkins=int(t["geofence_from_first_checkins"]),
            default_radius_m=int(t["default_radius_m"]),
        ),
        rectification=RectificationRules(source=data["rectification"]["source"]),
    )


@cache
def rules() -> SupportRules:
    """The support rules (`policy/support.toml`), parsed once; `rules.cache_clear()` in tests."""
    return _parse(tomllib.loads((POLICY_DIR / "support.toml").read_text(encoding="utf-8")))


# ======================================================================================
# Plans and measures (一户一策), visits, ledgers: `policy/measures.toml`
# ======================================================================================


def _zh() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "zh-hans").startswith("zh")


@dataclass(frozen=True)
class Labelled:
    """A catalogue entry: a stored code and its label in English and Chinese."""

    code: str
    label_en: str
    label_zh: str

    @property
    def label(self) -> str:
        return self.label_zh if _zh() else self.label_en


@dataclass(frozen=True)
class MeasureKind(Labelled):
    category: str


@dataclass(frozen=True)
class MeasureCategory(Labelled):
    kinds: tuple[MeasureKind, ...]


@dataclass(frozen=True)
class MeasureCatalogue:
    version: str
    effective: dt.date
    source: str
    categories: dict[str, MeasureCategory]
    kinds: dict[str, MeasureKind]
    #: Cause code (PovertyCause) → measure kinds suggested for it, in order.
    suggest: dict[str, tuple[str, ...]]
    suggest_source: str
    plan_statuses: frozenset[str]
    plan_statuses_source: str
    identical_source: str
    max_photos: int
    max_photo_mb: int
    ledger_categories: dict[str, dict[str, Labelled]]  # direction → code → category
    ledger_source: str


def parse_measures(text: str, source: str = "measures.toml") -> MeasureCatalogue:
    """Parse and check the catalogue: a suggestion naming no measure is an error here, not
    a blank row on a plan page later."""
    data = tomllib.loads(text)
    categories: dict[str, MeasureCategory] = {}
    kinds: dict[str, MeasureKind] = {}
    for c in data["category"]:
        items = tuple(
            MeasureKind(m["code"], m["label"], m["label_zh"], c["code"]) for m in c["measures"]
        )
        for kind in items:
            if kind.code in kinds:
                raise ValueError(f"{source}: measure {kind.code} appears twice")
            kinds[kind.code] = kind
        categories[c["code"]] = MeasureCategory(c["code"], c["label"], c["label_zh"], items)
    suggest: dict[str, tuple[str, ...]] = {}
    for cause, codes in data["suggest"].items():
        if cause == "source":
            continue
        unknown = [c for c in codes if c not in kinds]
        if unknown:
            raise ValueError(f"{source}: cause {cause} suggests unknown {', '.join(unknown)}")
        suggest[cause] = tuple(codes)
    ledger = data["ledger"]
    return MeasureCatalogue(
        version=data["version"],
        effective=data["effective"],
        source=data["source"],
        categories=categories,
        kinds=kinds,
        suggest=suggest,
        suggest_source=data["suggest"]["source"],
        plan_statuses=frozenset(data["plan"]["statuses"]),
        plan_statuses_source=data["plan"]["statuses_source"],
        identical_source=data["plan"]["identical_source"],
        max_photos=int(data["visit"]["max_photos"]),
        max_photo_mb=int(data["visit"]["max_photo_mb"]),
        ledger_categories={
            direction: {
                row["code"]: Labelled(row["code"], row["label"], row["label_zh"])
                for row in ledger[direction]
            }
            for direction in ("income", "expense")
        },
        ledger_source=ledger["source"],
    )


@cache
def measures() -> MeasureCatalogue:
    """The measure catalogue (`policy/measures.toml`), parsed once per process."""
    path = POLICY_DIR / "measures.toml"
    return parse_measures(path.read_text(encoding="utf-8"), path.name)


# ======================================================================================
# Social help (精准扶贫直通车): `policy/needs.toml`
# ======================================================================================


@dataclass(frozen=True)
class NeedRules:
    version: str
    effective: dt.date
    stages_source: str
    #: Area levels (1 province … 4 township) whose managers review and accept needs.
    review_levels: frozenset[int]
    review_source: str
    acceptance_source: str
    household_statuses: frozenset[str]
    household_source: str
    privacy_source: str


@cache
def need_rules() -> NeedRules:
    """The social-help rules (`policy/needs.toml`), parsed once per process."""
    data = tomllib.loads((POLICY_DIR / "needs.toml").read_text(encoding="utf-8"))
    return NeedRules(
        version=data["version"],
        effective=data["effective"],
        stages_source=data["stages_source"],
        review_levels=frozenset(int(level) for level in data["review_levels"]),
        review_source=data["review_source"],
        acceptance_source=data["acceptance_source"],
        household_statuses=frozenset(data["household_statuses"]),
        household_source=data["household_source"],
        privacy_source=data["privacy_source"],
    )
