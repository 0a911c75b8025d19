"""Guards on the registry's life-cycle transitions (fupin/registry/policy/lifecycle.toml
`guard = ...`): called before `propose_exit` and `close` run, whichever way they are reached
(the household page, the API, a round's proposals, a command), with every household about
to take the step; a refusal is a ValidationError naming each household and why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from engine.standards import standard_in_force
from fupin.exit import checks, policy


def _label(item: Any) -> str:
    return item.label if policy.chinese() else item.label_en


def propose_exit(transition: Any, moves: Sequence[Any]) -> None:
    """A household in one of the situations of its province's blocking standard cannot be
    proposed (seed 000, Hunan: 八种情形的贫困户, 一律不得退出). Only an item the data show
    as not met blocks; one without data is for the procedure to check. The standard applies
    from its effective date, judged on the year of the proposal."""
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for move in moves:
        code = policy.rules_for(move.household.village_id).block_proposal
        if code:
            groups[(code, move.date.year)].append(move)
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


def close(transition: Any, moves: Sequence[Any]) -> None:
    """A household is closed (销号) only after its consolidation period: support continues
    and then it is observed (seed 000, Guangxi 严销号: 再扶持2年并跟踪观察1年). The period is
    the policy's in force on the day of exit, counted from that day."""
    errors: list[str] = []
    for move in moves:
        exited_on = move.since
        if exited_on is None:
            continue
        consolidation = policy.consolidation_for(move.household.village_id, exited_on)
        if consolidation is None:
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
