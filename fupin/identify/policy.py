"""Identification policy as data: procedures by province and poverty lines by year.

Both live in `policy/*.toml` (DOMAIN.md §3 procedure, §10 lines). A campaign copies its
procedure's steps (`Procedure.as_json`) when it is created, so what it followed stays on
record whatever the file says later.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import get_language

POLICY_DIR = Path(__file__).parent / "policy"
STEP_KINDS = ("visit", "deliberation", "review", "notice", "announcement")
# A township code has 9 digits and a village 12 (GB/T 2260 + 统计用区划代码).
STEP_LEVELS = {"village": 12, "township": 9, "county": 6}


def _zh() -> bool:
    return (get_language() or "zh-hans").startswith("zh")


@dataclass(frozen=True)
class Step:
    code: str
    kind: str
    level: str
    label_en: str
    label_zh: str
    days: int = 0
    #: A step a province offers but an exit round may leave out when it is opened
    #: (Gansu's 3342 sign-off, fupin/exit/policy/exit.toml); never skipped once chosen.
    optional: bool = False

    @property
    def label(self) -> str:
        return self.label_zh if _zh() else self.label_en

    @property
    def code_length(self) -> int:
        """Digits of the area code one record of this step covers."""
        return STEP_LEVELS[self.level]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(**data)


@dataclass(frozen=True)
class Procedure:
    code: str
    province: str
    label_en: str
    label_zh: str
    source: str
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        return self.label_zh if _zh() else self.label_en

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "province": self.province,
            "label_en": self.label_en,
            "label_zh": self.label_zh,
            "source": self.source,
            "steps": [asdict(s) for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Procedure:
        return cls(
            code=data["code"],
            province=data["province"],
            label_en=data["label_en"],
            label_zh=data["label_zh"],
            source=data["source"],
            steps=tuple(Step.from_json(s) for s in data["steps"]),
        )


def _step(row: dict[str, Any], where: str, kinds: Sequence[str]) -> Step:
    kind, level = row.get("kind"), row.get("level")
    if kind not in kinds:
        raise ValueError(f"{where}: kind must be one of {', '.join(kinds)}, not {kind!r}")
    if level not in STEP_LEVELS:
        raise ValueError(f"{where}: level must be village, township or county, not {level!r}")
    days = int(row.get("days", 0))
    if kind == "notice" and days <= 0:
        raise ValueError(f"{where}: a notice needs its period in days")
    optional = bool(row.get("optional", False))
    if optional and kind == "announcement":
        raise ValueError(f"{where}: the announcement cannot be optional")
    return Step(row["code"], str(kind), str(level), row["label"], row["label_zh"], days, optional)


def parse_procedures(
    text: str, source: str = "procedures.toml", kinds: Sequence[str] = STEP_KINDS
) -> dict[str, Procedure]:
    """Parse and check a procedures file; a bad step names its procedure and position.

    `kinds` are the step kinds the caller's machinery knows: identification's by default;
    the exit procedures (fupin/exit/policy/exit.toml) add the household acceptance (双认定)
    and the sign-off chain (3342). Other keys of the file are left to the caller.
    """
    data = tomllib.loads(text)
    result: dict[str, Procedure] = {}
    for p in data.get("procedure", []):
        code = p["code"]
        where = f"{source}: {code} step"
        steps = tuple(_step(s, f"{where} {i + 1}", kinds) for i, s in enumerate(p["steps"]))
        codes = [s.code for s in steps]
        if len(set(codes)) != len(codes):
            raise ValueError(f"{source}: {code}: step codes repeat")
        if not steps or steps[-1].kind != "announcement":
            raise ValueError(f"{source}: {code}: the last step must be the announcement")
        if any(s.kind == "announcement" for s in steps[:-1]):
            raise ValueError(f"{source}: {code}: only the last step may be an announcement")
        result[code] = Procedure(
            code, str(p["province"]), p["label"], p["label_zh"], p["source"], steps
        )
    return result


@cache
def procedures() -> dict[str, Procedure]:
    path = POLICY_DIR / "procedures.toml"
    return parse_procedures(path.read_text(encoding="utf-8"), path.name)


def procedure_for(area_code: str) -> Procedure | None:
    """The procedure shipped for the area's province, if any."""
    return next((p for p in procedures().values() if area_code.startswith(p.province)), None)


@cache
def poverty_lines() -> dict[int, Decimal]:
    data = tomllib.loads((POLICY_DIR / "poverty_lines.toml").read_text(encoding="utf-8"))
    return {int(year): Decimal(str(v)) for year, v in data["lines"].items()}


def poverty_line(year: int) -> Decimal | None:
    """The national line in force for `year`: the latest year's line not after it."""
    years = [y for y in poverty_lines() if y <= year]
    return poverty_lines()[max(years)] if years else None
