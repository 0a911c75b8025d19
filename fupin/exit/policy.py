"""Exit policy as data (`policy/exit.toml`): which standards a province applies, its exit
procedure, the sign-off chains, the consolidation period after exit (严销号), 低保 lines, and
for villages and counties (贫困村、贫困县摘帽) the standards, targets, ranking and regions.

The procedures are read by identification's parser (`fupin.identify.policy`) with the two
kinds of step only exit has; a round copies its procedure when it is opened, as a campaign
does. The poverty line of a year is identification's table (`poverty_line`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import get_language

from engine.standards import Standard, load_standard, shipped_standards, standard_in_force
from fupin.identify.policy import STEP_KINDS, Procedure, parse_procedures, poverty_line

__all__ = ["poverty_line"]

POLICY_FILE = Path(__file__).parent / "policy" / "exit.toml"
#: Standards the platform adds to the engine's (the national county thresholds).
STANDARDS_DIR = Path(__file__).parent / "policy" / "standards"
#: Identification's kinds of step and exit's own: the household acceptance (双认定) and the
#: sign-off chain (3342).
EXIT_STEP_KINDS = (*STEP_KINDS, "acceptance", "signoff")
LEAP_DAY_RULES = ("march_1", "february_28")
SIGNOFF_TIERS = ("village", "township", "county", "city")


def chinese() -> bool:
    """Whether labels are shown in Chinese (the active language is zh)."""
    return (get_language() or "zh-hans").startswith("zh")


@dataclass(frozen=True)
class ProvinceRules:
    """What a province applies to a household's exit."""

    province: str
    name: str
    standards: tuple[str, ...]
    acceptance: str  # the first standard of the acceptance form; "" without one
    block_proposal: str  # "" when nothing blocks a proposal
    procedure: str
    source: str
    #: Every standard the acceptance form checks (one or several), in the file's order.
    acceptances: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consolidation:
    """The consolidation period after exit (巩固期), one version."""

    province: str
    version: str
    effective: dt.date
    support_years: int
    observe_years: int
    leap_day: str
    source: str


@dataclass(frozen=True)
class Party:
    """One party of a sign-off chain (e.g. 县统计局局长 of Gansu's 3342)."""

    code: str
    tier: str
    label_en: str
    label_zh: str

    @property
    def label(self) -> str:
        return self.label_zh if chinese() else self.label_en


@dataclass(frozen=True)
class SignoffChain:
    procedure: str
    step: str
    source: str
    parties: tuple[Party, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "step": self.step,
            "source": self.source,
            "parties": [
                {"code": p.code, "tier": p.tier, "label": p.label_en, "label_zh": p.label_zh}
                for p in self.parties
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignoffChain:
        return cls(
            data["procedure"],
            data["step"],
            data["source"],
            tuple(Party(p["code"], p["tier"], p["label"], p["label_zh"]) for p in data["parties"]),
        )


@dataclass(frozen=True)
class DibaoLine:
    area: str
    year: int
    line: Decimal
    source: str


@dataclass(frozen=True)
class AreaExitRules:
    """What a province applies to its villages' and counties' exit (贫困村、贫困县摘帽)."""

    province: str
    name: str
    village_standard: str  # "" when the province has none (incidence and facts shown)
    county_standard: str  # "" when only the national thresholds apply
    difficulty: str  # "" when the province ranks no counties
    village_target: float | None  # a target incidence for exited villages (Anhui ~1%)
    village_target_label: str
    village_target_label_en: str
    source: str
    #: confirm item code → the AreaFacts field holding the township's and county's finding
    confirmed_by: dict[str, str] = field(default_factory=dict)

    @property
    def target_label(self) -> str:
        return self.village_target_label if chinese() else self.village_target_label_en


@dataclass(frozen=True)
class Region:
    """A region of the national county exit rule and its incidence limit (DOMAIN.md §10)."""

    code: str
    label_zh: str
    label_en: str
    incidence_limit: float
    provinces: tuple[str, ...]
    default: bool
    source: str

    @property
    def label(self) -> str:
        return self.label_zh if chinese() else self.label_en


@dataclass(frozen=True)
class ExitPolicy:
    version: str
    effective: dt.date
    source: str
    provinces: tuple[ProvinceRules, ...]
    consolidations: tuple[Consolidation, ...]
    procedures: dict[str, Procedure]
    signoffs: tuple[SignoffChain, ...]
    dibao_lines: tuple[DibaoLine, ...]
    area_exits: tuple[AreaExitRules, ...] = ()
    regions: tuple[Region, ...] = ()
    county_exit_standard: str = ""
    county_exit_source: str = ""


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError(f"{where}: a date like 2016-01-01, not {value!r}")


def parse_policy(text: str, source: str = "exit.toml") -> ExitPolicy:
    """Parse and check the exit policy; a fault names its table and row."""
    data = tomllib.loads(text)
    procedures = parse_procedures(text, source, EXIT_STEP_KINDS)
    provinces = []
    for i, row in enumerate(data.get("province", [])):
        where = f"{source}: province {i + 1}"
        accept = row.get("acceptance", [])
        accepts = tuple(str(a) for a in ([accept] if isinstance(accept, str) else accept) if a)
        if len(set(accepts)) != len(accepts):
            raise ValueError(f"{where}: the acceptance names a standard twice")
        rules = ProvinceRules(
            province=str(row["province"]),
            name=row.get("name", ""),
            standards=tuple(row["standards"]),
            acceptance=accepts[0] if accepts else "",
            block_proposal=row.get("block_proposal", ""),
            procedure=row["procedure"],
            source=row["source"],
            acceptances=accepts,
        )
        if rules.procedure not in procedures:
            raise ValueError(f"{where}: unknown procedure {rules.procedure!r}")
        if not rules.standards:
            raise ValueError(f"{where}: name at least one standard")
        has_acceptance = any(s.kind == "acceptance" for s in procedures[rules.procedure].steps)
        if has_acceptance and not rules.acceptances:
            raise ValueError(f"{where}: its procedure has an acceptance: name its standards")
        provinces.append(rules)
    if not any(p.province == "" for p in provinces):
        raise ValueError(f'{source}: the national default (province = "") is missing')
    consolidations = []
    for i, row in enumerate(data.get("consolidation", [])):
        where = f"{source}: consolidation {i + 1}"
        support, observe = int(row["support_years"]), int(row["observe_years"])
        if support < 0 or observe < 0:
            raise ValueError(f"{where}: years cannot be negative")
        leap = row.get("leap_day", "march_1")
        if leap not in LEAP_DAY_RULES:
            raise ValueError(f"{where}: leap_day is {' or '.join(LEAP_DAY_RULES)}, not {leap!r}")
        consolidations.append(
            Consolidation(
                province=str(row["province"]),
                version=str(row["version"]),
                effective=_date(row["effective"], where),
                support_years=support,
                observe_years=observe,
                leap_day=leap,
                source=row["source"],
            )
        )
    signoffs = []
    for i, row in enumerate(data.get("signoff", [])):
        where = f"{source}: signoff {i + 1}"
        procedure = procedures.get(row["procedure"])
        if procedure is None or not any(
            s.code == row["step"] and s.kind == "signoff" for s in procedure.steps
        ):
            raise ValueError(f"{where}: no sign-off step {row['step']!r} in {row['procedure']!r}")
        parties = tuple(
            Party(p["code"], p["tier"], p["label"], p["label_zh"]) for p in row["parties"]
        )
        if any(p.tier not in SIGNOFF_TIERS for p in parties):
            raise ValueError(f"{where}: a party's tier is one of {', '.join(SIGNOFF_TIERS)}")
        if len({p.code for p in parties}) != len(parties) or not parties:
            raise ValueError(f"{where}: party codes must be given and not repeat")
        signoffs.append(SignoffChain(row["procedure"], row["step"], row["source"], parties))
    for code, procedure in procedures.items():
        for step in procedure.steps:
            if step.kind == "signoff" and not any(
                c.procedure == code and c.step == step.code for c in signoffs
            ):
                raise ValueError(f"{source}: {code}: step {step.code} has no [[signoff]] parties")
    dibao = tuple(
        DibaoLine(str(r["area"]), int(r["year"]), Decimal(str(r["line"])), r.get("source", ""))
        for r in data.get("dibao_line", [])
    )
    area_exits, regions = _area_exits(data, source), _regions(data, source)
    county_exit = data.get("county_exit", {})
    return ExitPolicy(
        version=str(data["version"]),
        effective=_date(data["effective"], source),
        source=data["source"],
        provinces=tuple(provinces),
        consolidations=tuple(consolidations),
        procedures=procedures,
        signoffs=tuple(signoffs),
        dibao_lines=dibao,
        area_exits=area_exits,
        regions=regions,
        county_exit_standard=str(county_exit.get("standard", "")),
        county_exit_source=str(county_exit.get("source", "")),
    )


def _area_exits(data: dict[str, Any], source: str) -> tuple[AreaExitRules, ...]:
    rows = []
    for i, row in enumerate(data.get("area_exit", [])):
        where = f"{source}: area_exit {i + 1}"
        target = row.get("village_target")
        if target is not None and not (isinstance(target, int | float) and 0 < target < 1):
            raise ValueError(f"{where}: village_target is a fraction (0.01 is 1%), not {target!r}")
        if target is not None and not row.get("village_target_label"):
            raise ValueError(f"{where}: say what the village target is (village_target_label)")
        rows.append(
            AreaExitRules(
                province=str(row["province"]),
                name=row.get("name", ""),
                village_standard=row.get("village_standard", ""),
                county_standard=row.get("county_standard", ""),
                difficulty=row.get("difficulty", ""),
                village_target=float(target) if target is not None else None,
                village_target_label=row.get("village_target_label", ""),
                village_target_label_en=row.get("village_target_label_en", ""),
                source=row["source"],
                confirmed_by={str(k): str(v) for k, v in row.get("confirmed_by", {}).items()},
            )
        )
    if rows and not any(r.province == "" for r in rows):
        raise ValueError(f'{source}: the national default area_exit (province = "") is missing')
    return tuple(rows)


def _regions(data: dict[str, Any], source: str) -> tuple[Region, ...]:
    regions = []
    for i, row in enumerate(data.get("region", [])):
        where = f"{source}: region {i + 1}"
        limit = row.get("incidence_limit")
        if not isinstance(limit, int | float) or not 0 < limit < 1:
            raise ValueError(f"{where}: incidence_limit is a fraction (0.03 is 3%), not {limit!r}")
        regions.append(
            Region(
                code=row["code"],
                label_zh=row["label"],
                label_en=row.get("label_en", row["label"]),
                incidence_limit=float(limit),
                provinces=tuple(str(p) for p in row.get("provinces", [])),
                default=bool(row.get("default", False)),
                source=row["source"],
            )
        )
    named = [p for r in regions for p in r.provinces]
    if len(named) != len(set(named)):
        raise ValueError(f"{source}: a province is named in two regions")
    if regions and sum(r.default for r in regions) != 1:
        raise ValueError(f"{source}: exactly one region must be the default (default = true)")
    return tuple(regions)


@cache
def policy() -> ExitPolicy:
    return parse_policy(POLICY_FILE.read_text(encoding="utf-8"), POLICY_FILE.name)


def _longest(rows: Any, code: str, key: str = "province") -> Any:
    matching = [r for r in rows if code.startswith(getattr(r, key))]
    return max(matching, key=lambda r: len(getattr(r, key)), default=None)


def rules_for(area_code: str, exit_policy: ExitPolicy | None = None) -> ProvinceRules:
    """The rules of the area's province (the national default for a province without)."""
    rules = _longest((exit_policy or policy()).provinces, area_code)
    assert rules is not None  # parse_policy insists on the national default
    return rules


def procedure_for(area_code: str) -> Procedure:
    return policy().procedures[rules_for(area_code).procedure]


def signoff_chain(procedure_code: str, step_code: str) -> SignoffChain | None:
    return next(
        (c for c in policy().signoffs if c.procedure == procedure_code and c.step == step_code),
        None,
    )


def consolidation_for(
    area_code: str, exited_on: dt.date, exit_policy: ExitPolicy | None = None
) -> Consolidation | None:
    """The consolidation version in force on the day of exit for the area's province."""
    rows = [
        c
        for c in (exit_policy or policy()).consolidations
        if area_code.startswith(c.province) and c.effective <= exited_on
    ]
    if not rows:
        return None
    longest = max(len(c.province) for c in rows)
    return max((c for c in rows if len(c.province) == longest), key=lambda c: c.effective)


def dibao_line(area_code: str, year: int, exit_policy: ExitPolicy | None = None) -> Decimal | None:
    """The 低保 line of the area in `year`, if the policy has one."""
    rows = [r for r in (exit_policy or policy()).dibao_lines if r.year == year]
    row = _longest(rows, area_code, key="area")
    return row.line if row is not None else None


def add_years(day: dt.date, years: int, leap_day: str = "march_1") -> dt.date:
    """The anniversary `years` after `day`; 29 February becomes 1 March or 28 February in a
    common year, as the policy's `leap_day` says."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        if leap_day == "february_28":
            return dt.date(day.year + years, 2, 28)
        return dt.date(day.year + years, 3, 1)


@dataclass(frozen=True)
class Timeline:
    """A household's consolidation after exit: the days the page shows and the guard uses."""

    exited_on: dt.date
    support_until: dt.date
    observed_until: dt.date
    can_close_from: dt.date
    consolidation: Consolidation

    def phase(self, on: dt.date) -> str:
        """ "support", "observation" or "closable" on a day."""
        if on <= self.support_until:
            return "support"
        if on <= self.observed_until:
            return "observation"
        return "closable"


def timeline(exited_on: dt.date, consolidation: Consolidation) -> Timeline:
    """Support until the day before the `support_years` anniversary, observation until the
    day before the total's, closing from that anniversary (policy/exit.toml)."""
    c = consolidation
    support_end = add_years(exited_on, c.support_years, c.leap_day)
    close_from = add_years(exited_on, c.support_years + c.observe_years, c.leap_day)
    one = dt.timedelta(days=1)
    return Timeline(
        exited_on=exited_on,
        support_until=support_end - one,
        observed_until=close_from - one,
        can_close_from=close_from,
        consolidation=c,
    )


# --------------------------------------------------------------------------------------
# Villages and counties
# --------------------------------------------------------------------------------------


def area_rules_for(area_code: str, exit_policy: ExitPolicy | None = None) -> AreaExitRules:
    """The village and county exit rules of the area's province (national default else)."""
    rules = _longest((exit_policy or policy()).area_exits, area_code)
    if rules is None:
        raise LookupError("exit.toml has no [[area_exit]] national default")
    return rules  # type: ignore[no-any-return]


def region_for(area_code: str, exit_policy: ExitPolicy | None = None) -> Region:
    """The region of the area's province for the national county thresholds."""
    regions = (exit_policy or policy()).regions
    found = next((r for r in regions if area_code[:2] in r.provinces), None)
    found = found or next((r for r in regions if r.default), None)
    if found is None:
        raise LookupError("exit.toml has no default [[region]]")
    return found


@cache
def platform_standards() -> tuple[Standard, ...]:
    """The standards of policy/standards/*.toml (the national county thresholds)."""
    return tuple(load_standard(p) for p in sorted(STANDARDS_DIR.glob("*.toml")))


def area_standard(code: str, on: dt.date) -> Standard | None:
    """The version of an engine or platform standard in force on `on`; None without one
    (a standard not in force yet is not applied, and the page says so)."""
    if not code:
        return None
    try:
        return standard_in_force(code, on, [*shipped_standards(), *platform_standards()])
    except LookupError:
        return None
