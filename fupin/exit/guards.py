"""Guards on the registry's life-cycle transitions (fupin/registry/policy/lifecycle.toml
`guard = ...`): called before `propose_exit`, `exit` and `close` run, whichever way they are
reached (the household page, the API, a round's proposals, a command), with every household
about to take the step; a refusal is a ValidationError naming each household and why.

`exit` is applied only by the announcement of an exit round (seed 000, Guangxi 严程序; issue 7
item 2: deliberation, notice, reviews, 双认定 where the province has it, 3342 in Gansu, then
the announcement): `fupin.exit.services` marks the households it announces with
`announcing(pks)`, and the guard lets through only those, only inside that block.
`outside_procedure(reason)` lets every household through: for writing past years' history
that predates the platform's rounds (the registry's demo loads exits of 2016–2019) and for
tests of other apps that need an exited household — never for a user's action.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from engine.standards import standard_in_force
from fupin.exit import checks, policy
from fupin.registry import lifecycle


def _label(item: Any) -> str:
    return item.label if policy.chinese() else item.label_en


_ANNOUNCING: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "fupin_exit_announcing", default=frozenset()
)
_YEAR: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fupin_exit_round_year", default=None
)


@contextlib.contextmanager
def announcing(household_pks: Iterable[int]) -> Iterator[None]:
    """Inside this block an exit round's announcement applies `exit` to these households."""
    token = _ANNOUNCING.set(_ANNOUNCING.get() | frozenset(household_pks))
    try:
        yield
    finally:
        _ANNOUNCING.reset(token)


def outside_procedure(reason: str) -> contextlib.AbstractContextManager[None]:
    """Inside this block `exit` is let through for every household (module docstring);
    `reason` says why (the demo's history, a test's fixture). The registry's one history
    block (`lifecycle.writing_history`), which the return guard honours too."""
    return lifecycle.writing_history(reason)


@contextlib.contextmanager
def round_year(year: int) -> Iterator[None]:
    """Inside this block proposals are judged on a round's year, not the proposal date's
    (a 2017 round's proposal dated January 2018 is judged on 2017's data and line)."""
    token = _YEAR.set(year)
    try:
        yield
    finally:
        _YEAR.reset(token)


def exit(transition: Any, moves: Sequence[Any]) -> None:
    """Refuse `exit` unless applied by an exit round's announcement (module docstring)."""
    if lifecycle.history_reason():
        return
    allowed = _ANNOUNCING.get()
    refused = [m.household for m in moves if m.household.pk not in allowed]
    if refused:
        raise ValidationError(
            [
                _(
                    "Household %(code)s: “%(step)s” is applied only by the announcement of an "
                    "exit round, after its deliberation, notice and reviews: propose the "
                    "household in an exit round on the exit rounds page and record the "
                    "round's steps there."
                )
                % {"code": h.code, "step": transition.label}
                for h in refused
            ]
        )


def propose_exit(transition: Any, moves: Sequence[Any]) -> None:
    """A household in one of the situations of its province's blocking standard cannot be
    proposed (seed 000, Hunan: 八种情形的贫困户, 一律不得退出). Only an item the data show
    as not met blocks here; one without data is refused at the announcement
    (services.announcement_problems). The standard applies from its effective date, judged
    on the round's year (`round_year`), else on the year of the proposal."""
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for move in moves:
        code = policy.rules_for(move.household.village_id).block_proposal
        if code:
            groups[(code, _YEAR.get() or move.date.year)].append(move)
    errors: list[str] = []
    for (code, year), group in groups.items():
        on = max(m.date for m in group)
        try:
            standard = standard_in_force(code, on)
        except LookupError:
            continue  # not in force yet on that day: nothing forbids the proposal
        results = checks.evaluate_many([m.household for m in group], standard, year, on)
        for move in group:
            blocked = [r for r in results.get(move.household.pk, []) if r.outcome == "not_met"]
            if blocked:
                errors.append(
                    _("Household %(code)s cannot be proposed for exit: %(items)s (%(standard)s).")
                    % {
                        "code": move.household.code,
                        "items": "; ".join(
                            f"{_label(r.item)} [{r.evidence}]" if r.evidence else _label(r.item)
                            for r in blocked
                        ),
                        "standard": standard.name if policy.chinese() else standard.name_en,
                    }
                )
    if errors:
        raise ValidationError(errors)


def exit_date(household: Any) -> Any:
    """The day of the household's last exit: its last `exit` status change (the one source
    of the exit date for the page and the guard), or None."""
    change = household.status_changes.filter(transition="exit").order_by("-date", "-id").first()
    return change.date if change is not None else None


def close(transition: Any, moves: Sequence[Any]) -> None:
    """A household is closed (销号) only after its consolidation period: support continues
    and then it is observed (seed 000, Guangxi 严销号: 再扶持2年并跟踪观察1年). The period is
    the policy's in force on the day of exit, counted from that day (the last `exit` status
    change). Without a known exit day, or without a period in force that day, the end of
    the consolidation cannot be told: refused, never let through."""
    errors: list[str] = []
    for move in moves:
        exited_on = exit_date(move.household)
        if exited_on is None:
            errors.append(
                _(
                    "Household %(code)s: its day of exit is not recorded, so the end of its "
                    "consolidation period cannot be told: it cannot be closed."
                )
                % {"code": move.household.code}
            )
            continue
        consolidation = policy.consolidation_for(move.household.village_id, exited_on)
        if consolidation is None:
            errors.append(
                _(
                    "Household %(code)s exited on %(exited)s, before any consolidation "
                    "period of the policy: it cannot be closed."
                )
                % {"code": move.household.code, "exited": exited_on.isoformat()}
            )
            continue
        line = policy.timeline(exited_on, consolidation)
        if move.date < line.can_close_from:
            errors.append(
                _(
                    "Household %(code)s exited on %(exited)s: it is supported until %(support)s "
                    "and observed until %(observed)s, and can be closed from %(date)s."
                )
                % {
                    "code": move.household.code,
                    "exited": exited_on.isoformat(),
                    "support": line.support_until.isoformat(),
                    "observed": line.observed_until.isoformat(),
                    "date": line.can_close_from.isoformat(),
                }
            )
    if errors:
        raise ValidationError(errors)
