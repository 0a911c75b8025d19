"""`fupin monitor warn`: the nightly run from the terminal prints its counts."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from fupin.core.models import AuditEntry
from fupin.monitor.models import WarningRun
from fupin.monitor.tests.test_warnings import crafted  # noqa: F401 - fixture


def test_warn_prints_counts_as_the_system(crafted: Any) -> None:  # noqa: F811
    """Anhui's rules (seed 004) over the crafted households of test_warnings.py."""
    out = io.StringIO()
    with translation.override("en"):
        call_command("monitor", "warn", "--area", "450102", "--on", "2020-06-30", stdout=out)
    text = out.getvalue()
    assert "7 warnings — red 3, orange 3, yellow 1; new 7" in text
    run = WarningRun.objects.get()
    assert run.started_by is None
    entry = AuditEntry.objects.get(action="monitor.warning.run")
    assert entry.username == "system"


def test_warn_with_a_user_and_errors(crafted: Any, county_user: Any) -> None:  # noqa: F811
    out = io.StringIO()
    with translation.override("en"):
        call_command(
            "monitor",
            "warn",
            "--area",
            "450102",
            "--on",
            "2020-06-30",
            "--user",
            "county",
            stdout=out,
        )
        assert WarningRun.objects.get().started_by == county_user
        with pytest.raises(CommandError, match="No area"):
            call_command("monitor", "warn", "--area", "999999", stdout=out)
        with pytest.raises(CommandError, match="not a date"):
            call_command("monitor", "warn", "--area", "450102", "--on", "30/6/2020", stdout=out)
        with pytest.raises(CommandError, match="No warning rules"):
            call_command("monitor", "warn", "--area", "450102", "--on", "2015-01-01", stdout=out)
