"""The household life cycle as data: transitions read from `policy/lifecycle.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import get_language

POLICY_FILE = Path(__file__).parent / "policy" / "lifecycle.toml"


@dataclass(frozen=True)
class Transition:
    name: str
    label_en: str
    label_zh: str
    sources: frozenset[str]
    target: str
    permission: str
    requires_evidence: bool = False
    sets_identification_year: bool = False
    sets_exit_year: bool = False

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "zh-hans").startswith("zh") else self.label_en


@cache
def transitions() -> dict[str, Transition]:
    data: dict[str, Any] = tomllib.loads(POLICY_FILE.read_text(encoding="utf-8"))
    result: dict[str, Transition] = {}
    for row in data["transition"]:
        result[row["name"]] = Transition(
            name=row["name"],
            label_en=row["label"],
            label_zh=row["label_zh"],
            sources=frozenset(row["from"]),
            target=row["to"],
            permission=row["permission"],
            requires_evidence=row.get("requires_evidence", False),
            sets_identification_year=row.get("sets_identification_year", False),
            sets_exit_year=row.get("sets_exit_year", False),
        )
    return result


def available(status: str, user: Any) -> list[Transition]:
    """The transitions a user may take from a status, in file order."""
    return [
        t for t in transitions().values() if status in t.sources and user.has_perm(t.permission)
    ]
