"""The browsable API renders every endpoint for a logged-in user (session authentication)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_every_endpoint_renders_as_html(make_household, county_user):
    household = make_household()
    member = household.members.first()
    client = Client()
    client.force_login(county_user)
    base = f"/api/households/{household.pk}"
    for url in [
        "/api/",
        "/api/households/",
        f"{base}/",
        f"{base}/members/",
        f"{base}/members/{member.pk}/",
        f"{base}/income/",
        f"{base}/transitions/",
        f"{base}/history/",
        "/api/areas/",
        "/api/areas/450102/",
    ]:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url


@pytest.mark.django_db
def test_unknown_api_url_answers_json(county_user):
    client = Client()
    client.force_login(county_user)
    response = client.get("/api/nothing/here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "未找到。"}
