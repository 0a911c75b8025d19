"""Area scoping as a matrix (DOMAIN.md §1: "Every user is bound to one administrative area
and sees and changes only data inside it"; DESIGN.md "Area scoping ... tested as a matrix").

Users at village, township and county level × households in their own village, a sibling
village of the township, another township of the county and another county × the channels
pages (list, detail, edit page, a status step), API (list, detail, PATCH) and CSV export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from fupin.core.testing import person
from fupin.registry import services
from fupin.registry.models import Household

LEVELS = {
    "village": "450102100201",
    "township": "450102100",
    "county": "450102",
}
PLACES = {
    "own_village": "450102100201",
    "sibling_village": "450102100202",
    "other_township": "450102101201",
    "other_county": "450103100201",
}
EXPECTED = {  # level -> places it may see and change
    "village": {"own_village"},
    "township": {"own_village", "sibling_village"},
    "county": {"own_village", "sibling_village", "other_township"},
}
CASES = [(level, place) for level in LEVELS for place in PLACES]


@pytest.fixture
def world(make_user):
    city = make_user("city-admin", "4501", "administrator")
    households = {
        place: services.create_household(
            city,
            {"village": code, "head_name": f"户主{place}", "main_cause": "9"},
            [person(name=f"户主{place}")],
            {"year": 2016, "wage": 5000},
        )
        for place, code in PLACES.items()
    }
    users = {level: make_user(f"u-{level}", code, "data_officer") for level, code in LEVELS.items()}
    return users, households


def _client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c


def _api(user) -> Client:
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "place"), CASES)
def test_pages(world, level, place):
    users, households = world
    h = households[place]
    visible = place in EXPECTED[level]
    c = _client(users[level])
    listed = c.get("/households/", {"per_page": 100}).content.decode()
    assert (h.code in listed) == visible
    assert c.get(f"/households/{h.pk}/").status_code == (200 if visible else 404)
    assert c.get(f"/households/{h.pk}/edit/").status_code == (200 if visible else 404)
    step = c.post(
        f"/households/{h.pk}/status/",
        {
            "transition": "propose",
            "date": dt.date.today().isoformat(),
            "reason": "matrix",
            "version": h.version,
        },
    )
    assert step.status_code == (302 if visible else 404)
    h.refresh_from_db()
    assert (h.status == "proposed") == visible


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "place"), CASES)
def test_api(world, level, place):
    users, households = world
    h = households[place]
    visible = place in EXPECTED[level]
    c = _api(users[level])
    listed = {
        row["code"] for row in c.get("/api/households/", {"page_size": 100}).json()["results"]
    }
    assert (h.code in listed) == visible
    assert c.get(f"/api/households/{h.pk}/").status_code == (200 if visible else 404)
    patch = c.patch(
        f"/api/households/{h.pk}/",
        {"phone": "13712345678", "version": h.version},
        content_type="application/json",
    )
    assert patch.status_code == (200 if visible else 404)
    assert (Household.objects.get(pk=h.pk).phone == "13712345678") == visible


@pytest.mark.django_db
@pytest.mark.parametrize("level", LEVELS)
def test_export(world, level):
    users, households = world
    c = _client(users[level])
    response = c.get("/households/export.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    # Long numbers carry a leading tab so Excel keeps them as text.
    exported = {cell.strip() for row in rows[1:] for cell in row}
    for place, h in households.items():
        assert (h.code in exported) == (place in EXPECTED[level]), (level, place)
    # Filtering cannot widen the scope: asking for another county returns nothing of it.
    response = c.get("/households/export.csv", {"area": "450103"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert households["other_county"].code not in text
