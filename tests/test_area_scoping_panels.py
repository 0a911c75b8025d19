"""Area scoping of every app's per-household pages, as a matrix (DOMAIN.md §1: "Every user
is bound to one administrative area and sees and changes only data inside it").

The registry's own pages are in test_area_scoping_matrix.py; these are the pages other apps
hang on a household — its support, its cross-department findings, its exit check, its
warnings and the forms that start a monitoring case, a return check or record a risk event —
and the risk-event list. A household outside the user's area is not found (404), so its
existence does not leak.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from fupin.monitor import services as monitor_services
from tests.test_area_scoping_matrix import CASES, EXPECTED, world  # noqa: F401

PANELS = [
    "support:household_panel",
    "support:household_support",
    "identify:household_findings",
    "exit:household",
    "monitor:household_warnings",
    "monitor:event_new",
    "monitor:case_start",
    "monitor:return_open",
]


def _client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "place"), CASES)
def test_household_pages_of_every_app(world, level, place):  # noqa: F811
    users, households = world
    h = households[place]
    visible = place in EXPECTED[level]
    c = _client(users[level])
    for name in PANELS:
        status = c.get(reverse(name, args=[h.pk])).status_code
        assert status == (200 if visible else 404), (name, level, place, status)


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["village", "township", "county"])
def test_risk_events_are_listed_only_inside_the_area(world, level, make_user):  # noqa: F811
    users, households = world
    city = make_user("city-events", "4501", "administrator")
    for place, h in households.items():
        monitor_services.record_event(
            city,
            h,
            kind="medical_expense",
            date=dt.date(2020, 3, 1),
            amount=Decimal("12345"),
            source="卫健委",
            note=f"matrix {place}",
        )
    listed = _client(users[level]).get(reverse("monitor:event_list"), {"per_page": 100})
    assert listed.status_code == 200
    text = listed.content.decode()
    for place, h in households.items():
        assert (h.code in text) == (place in EXPECTED[level]), (level, place)
