"""The household life cycle as data: transitions read from `policy/lifecycle.toml`."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.module_loading import import_string
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
    #: Dotted path of a function called before the transition runs, whichever way it is
    #: reached (page, API, import, a procedure's announcement): `guard(transition, moves)`
    #: raises ValidationError with the reason(s) when a household may not take it — e.g.
    #: closing before the consolidation period ends (fupin/exit/guards.py).
    guard: str = ""

    @property
    def label(self) -> str:
        return self.label_zh if (get_language() or "zh-hans").startswith("zh") else self.label_en

    def check(self, moves: Sequence[Move]) -> None:
        """Run the guard, if any, over households about to take this transition."""
        if self.guard and moves:
            import_string(self.guard)(self, moves)


@dataclass(frozen=True)
class Move:
    """A household about to take a transition on `date`, in its current status since
    `since` (the day of its previous step)."""

    household: Any
    date: dt.date
    since: dt.date | None


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
            guard=row.get("guard", ""),
        )
    return result


def available(status: str, user: Any) -> list[Transition]:
    """The transitions a user may take from a status, in file order."""
    return [
        t for t in transitions().values() if status in t.sources and user.has_perm(t.permission)
    ]


# --- history loaded outside the procedures ------------------------------------------------

_HISTORY: contextvars.ContextVar[str] = contextvars.ContextVar("fupin_history", default="")


@contextlib.contextmanager
def writing_history(reason: str) -> Iterator[None]:
    """Inside this block the guards that hold a step to its procedure (an exit to its round's
    announcement, a return to its county decision) let every household through: for writing
    past years' history that predates the platform's procedures (the demo's 2014–2019) and
    for tests of other apps that need a household in such a status — never for a user's
    action. `reason` says why; the guards of data rules (Hunan's situations, 严销号) still
    apply."""
    if not reason.strip():
        raise ValueError("say why the procedures are bypassed")
    token = _HISTORY.set(reason)
    try:
        yield
    finally:
        _HISTORY.reset(token)


def history_reason() -> str:
    """Why the procedures are bypassed now ("" when they are not)."""
    return _HISTORY.get()
