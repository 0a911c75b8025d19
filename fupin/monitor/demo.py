"""The warning half of `fupin demo` (after identification's): a handful of realistic risk
events for exited households of the demo county, recorded through the services, and one
warning run, so the warning pages have something to show after `make demo`.

The demo's clock is fixed (fupin/registry/demo.py: incomes up to 2019): the events fall in
the first half of 2020 and the run evaluates 30 June 2020 (engine/monitoring_data.py's
default day), so the same seed gives the same warnings on any day — all of them overdue
by now, as a county that stopped answering in 2020 would see them. Idempotent: nothing is
done when the county has a warning run already.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from fupin.monitor import services, warnings
from fupin.monitor.models import WarningRun
from fupin.registry.demo import DEMO_MARK
from fupin.registry.models import Household

ON = dt.date(2020, 6, 30)

#: (kind, date, amount, source, note): one event per exited household, in this order.
EVENTS: tuple[tuple[str, dt.date, Decimal | None, str, str], ...] = (
    ("medical_expense", dt.date(2020, 3, 12), Decimal("68000"), "医保局", "住院手术，自付部分"),
    ("disaster", dt.date(2020, 6, 8), Decimal("12000"), "应急管理局", "洪涝，房屋进水、作物受损"),
    ("disaster", dt.date(2020, 6, 8), Decimal("8000"), "应急管理局", "洪涝，作物受损"),
    ("labour_loss", dt.date(2020, 2, 20), None, "村报告", "户主务工受伤致残"),
    ("migrant_unemployed", dt.date(2020, 4, 1), None, "人社局", "外出务工企业停工"),
    ("loan_overdue", dt.date(2020, 5, 15), Decimal("30000"), "银行", "扶贫小额信贷到期未还"),
    ("dropout", dt.date(2020, 3, 2), None, "教育局", "初二学生未返校"),
    ("house_dilapidated", dt.date(2020, 5, 20), None, "住建局", "鉴定为C级危房"),
)


def load_monitor_demo(county: str, admin: Any) -> WarningRun | None:
    """Record the demo events and run the warnings once; None when a run exists or the
    county has no exited household."""
    if WarningRun.objects.filter(area_id=county).exists():
        return None
    exited = list(
        Household.objects.in_area(county)
        .filter(status__in=("exited", "closed"))
        .order_by("village_id", "code")[: len(EVENTS) + 1]
    )
    if not exited:
        return None
    # The two disasters strike neighbours: the first two exited households of a village.
    for household, (kind, day, amount, source, note) in zip(exited, EVENTS, strict=False):
        members = list(household.members.filter(left_on__isnull=True).order_by("relation", "pk"))
        person = None
        if kind in ("labour_loss", "migrant_unemployed") and members:
            person = members[0]
        elif kind == "dropout" and members:
            person = members[-1]
        services.record_event(
            admin,
            household,
            kind=kind,
            date=day,
            amount=amount,
            person=person,
            source=source,
            note=f"{note}（{DEMO_MARK}）",
        )
    return warnings.run_in_terminal(admin, county, on=ON)
