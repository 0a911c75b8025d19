"""The 351 settlement (“351”兜底, Anhui health aid; DOMAIN.md §4): what a registered poor
patient pays for one hospital bill, and what the 351 cover takes over.

`settle` is a pure function over Decimal: no database, no clock, no float. Steps:

1. the deductible (起付线) of the hospital level, or the whole bill if it is smaller;
2. insurance (basic medical insurance, serious-illness insurance and medical aid taken
   together, at the level's rate in `policy/health.toml`) pays its share of the rest,
   rounded to the fen (half up);
3. the patient's share is the bill less what insurance pays;
4. the annual cap (年度个人自付封顶) of the level, less what the patient already paid
   out of pocket this year at any level, bounds what the patient pays now; the 351 cover
   pays the rest of the share. The reading of a year with visits at several levels is in
   the policy file (`settlement.cap_reading`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from fupin.monitor.policy import HealthPolicy, HospitalLevel

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Settlement:
    """The breakdown of one bill, every amount in yuan to the fen."""

    bill: Decimal
    level: HospitalLevel
    policy_version: str
    #: The part of the bill the patient bears as deductible (the level's, or the bill).
    deductible: Decimal
    insurance_pays: Decimal
    #: What the patient would pay without the 351: bill − insurance.
    patient_share: Decimal
    patient_pays: Decimal
    covered_by_351: Decimal
    cap: Decimal
    paid_before: Decimal
    #: What the patient may still pay this year at this level after this bill.
    remaining_cap: Decimal

    @property
    def paid_this_year(self) -> Decimal:
        """Out of pocket this year, this bill included."""
        return self.paid_before + self.patient_pays


def settle(bill: Decimal, level: str, paid_this_year: Decimal, policy: HealthPolicy) -> Settlement:
    """Settle one bill at a hospital `level` for a patient who has already paid
    `paid_this_year` out of pocket in this calendar year (at any level)."""
    if not isinstance(bill, Decimal) or not isinstance(paid_this_year, Decimal):
        raise TypeError("amounts are Decimal")
    if bill < 0 or paid_this_year < 0:
        raise ValueError("a bill and the amount paid this year cannot be negative")
    rules = policy.level(level)
    bill, paid_before = to_fen(bill), to_fen(paid_this_year)
    deductible = min(bill, to_fen(rules.deductible))
    insurance = to_fen((bill - deductible) * rules.insurance_rate)
    share = bill - insurance
    cap = to_fen(rules.cap)
    room = max(cap - paid_before, ZERO)
    pays = min(share, room)
    return Settlement(
        bill=bill,
        level=rules,
        policy_version=policy.version,
        deductible=deductible,
        insurance_pays=insurance,
        patient_share=share,
        patient_pays=pays,
        covered_by_351=share - pays,
        cap=cap,
        paid_before=paid_before,
        remaining_cap=room - pays,
    )
