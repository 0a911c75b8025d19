"""Guards on the registry's `return_to_poverty` and `re_register` (fupin/registry/policy/
lifecycle.toml `guard = ...`): a household is returned to poverty and re-registered only by
the county decision of its return check (返贫认定, seed 004: 现场核查、群众评议、乡镇审核、
县级认定后重新纳入), which `fupin.monitor.returns.record_step` applies. Taken any other way
(the household page, the API, a command) the step is refused with a message sending the
user to the return check page: skipping the procedure would leave its case open for ever.

`record_step` marks the household it is deciding with `deciding(household_pk)`; the guard
lets through only that household, only inside that block.
`registry.lifecycle.writing_history(reason)` lets every household through: for writing
past years' history that predates the procedure (the registry's demo, which returns a few
2016–2017 exits in 2018) and for tests of other apps that need a returned household —
never for a user's action.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fupin.registry import lifecycle

_DECIDING: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "fupin_monitor_return_deciding", default=frozenset()
)


@contextlib.contextmanager
def deciding(household_pk: int) -> Iterator[None]:
    """Inside this block the county decision of `household_pk`'s return case applies the
    registry's transitions."""
    token = _DECIDING.set(_DECIDING.get() | {household_pk})
    try:
        yield
    finally:
        _DECIDING.reset(token)


def by_return_decision(transition: Any, moves: Sequence[Any]) -> None:
    """Refuse `return_to_poverty` / `re_register` unless applied by a return case's county
    decision (module docstring)."""
    if lifecycle.history_reason():
        return
    allowed = _DECIDING.get()
    refused = [m.household for m in moves if m.household.pk not in allowed]
    if refused:
        raise ValidationError(
            [
                _(
                    "Household %(code)s: “%(step)s” is applied only by the county decision of "
                    "a return check (on-site check, public deliberation, township review, "
                    "county decision): open the household's return check on the return "
                    "check page and record its steps there."
                )
                % {"code": h.code, "step": transition.label}
                for h in refused
            ]
        )
