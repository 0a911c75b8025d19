"""The warning half of the demo: events through the services, one run, idempotent; the
demo's reset (households deleted) takes the warnings with it."""

from __future__ import annotations

from typing import Any

from fupin.monitor import demo
from fupin.monitor.models import RiskEvent, RiskWarning, WarningRun
from fupin.monitor.tests.test_warnings import crafted  # noqa: F401 - fixture
from fupin.registry.models import Household


def test_demo_records_events_runs_once_and_survives_a_reset(
    crafted: Any,  # noqa: F811
    county_user: Any,
) -> None:
    events_before = RiskEvent.objects.count()
    run = demo.load_monitor_demo("450102", county_user)
    assert run is not None and run.on == demo.ON and run.warnings > 0
    assert RiskEvent.objects.count() == events_before + 4  # one per exited or closed household
    assert demo.load_monitor_demo("450102", county_user) is None
    assert WarningRun.objects.count() == 1
    Household.objects.all().delete()  # what `fupin demo --reset` does to demo households
    assert not RiskWarning.objects.exists() and not RiskEvent.objects.exists()
