"""Exit policy as data (`policy/exit.toml`): which standards a province applies, its exit
procedure, the sign-off chains, the consolidation period after exit (严销号) and 低保 lines.

The procedures are read by identification's parser (`fupin.identify.policy`) with the two
kinds of step only exit has; a round copies its procedure when it is opened, as a campaign
does. The poverty line of a year is identification's table (`poverty_line`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import get_language

from fupin.identify.policy import STEP_KINDS, Procedure, parse_procedures, poverty_line

__all__ = ["poverty_line"]

POLICY_FILE = Path(__file__).parent / "policy" / "exit.toml"
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
    acceptance: str  # "" when the province has no acceptance form
    block_proposal: str  # "" when nothing blocks a proposal
    procedure: str
    source: str


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
class ExitPolicy:
    version: str
    effective: dt.date
    source: str
    provinces: tuple[ProvinceRules, ...]
    consolidations: tuple[Consolidation, ...]
    procedures: dict[str, Procedure]
    signoffs: tuple[SignoffChain, ...]
    dibao_lines: tuple[DibaoLine, ...]


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
        rules = ProvinceRules(
            province=str(row["province"]),
            name=row.get("name", ""),
            standards=tuple(row["standards"]),
            acceptance=row.get("acceptance", ""),
            block_proposal=row.get("block_proposal", ""),
            procedure=row["procedure"],
            source=row["source"],
        )
        if rules.procedure not in procedures:
            raise ValueError(f"{where}: unknown procedure {rules.procedure!r}")
        if not rules.standards:
            raise ValueError(f"{where}: name at least one standard")
        has_acceptance = any(s.kind == "acceptance" for s in procedures[rules.procedure].steps)
        if has_acceptance and not rules.acceptance:
            raise ValueError(f"{where}: its procedure has an acceptance: name its standard")
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
    return ExitPolicy(
        version=str(data["version"]),
        effective=_date(data["effective"], source),
        source=data["source"],
        provinces=tuple(provinces),
        consolidations=tuple(consolidations),
        procedures=procedures,
        signoffs=tuple(signoffs),
        dibao_lines=dibao,
    )


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
