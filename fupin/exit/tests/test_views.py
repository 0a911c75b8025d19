"""Exit pages: a household's exit check and consolidation, rounds and their procedure, the
acceptance form drawn and scanned, its print and PDF; area scoping of every page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fupin.exit import guards, services
from fupin.exit.models import Acceptance, ExitStepRecord, RoundHousehold
from fupin.exit.tests.conftest import (
    GUANGXI_VILLAGE,
    GUANGXI_VILLAGE_2,
    all_met,
    drawn,
    scan,
    three_signatures,
)
from fupin.registry import services as registry
from fupin.registry.models import Household

PROPOSED = dt.date(2017, 10, 9)


def client(user: Any, language: str = "en") -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=language)
    c.force_login(user)
    return c


@pytest.fixture
def round_(admin: Any) -> Any:
    return services.open_round(admin, area_code="450102", name="2017年兴宁区脱贫", year=2017)


def test_household_page_shows_each_item_with_its_data(admin: Any, registered: Any) -> None:
    """Issue 7 item 1: item by item — met / not met / no data / to confirm, from which
    data (translated labels), and what blocks exit; linked from the household page."""
    h = registered(admin, road_surface="earth")
    page = client(admin).get(reverse("exit:household", args=[h.pk]) + "?year=2017")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Exit blocked" in html and "exit-summary-blocked" in html
    assert 'data-item="road"' in html and "outcome-not_met" in html
    assert "road to the door" in html and "Earth" in html  # the field's label and choice
    assert "per-capita net income" in html and "poverty line" in html and "3,335" in html
    assert "To confirm" in html  # 有稳定收入且吃穿不愁 is checked at the household
    detail = client(admin).get(reverse("registry:household_detail", args=[h.pk]))
    assert reverse("exit:household", args=[h.pk]) in detail.content.decode()


def test_household_page_in_chinese(admin: Any, registered: Any) -> None:
    h = registered(admin)
    html = client(admin, "zh-hans").get(reverse("exit:household", args=[h.pk])).content.decode()
    assert "有安全饮水" in html and "八有一超" in html


def test_pages_are_scoped_to_the_users_area(
    admin: Any, registered: Any, round_: Any, make_user_in: Any
) -> None:
    """A household, a round's people and an acceptance outside the user's area are not
    found (404, existence not leaked); a village cadre sees the county's round but only
    his village's households in it."""
    h = registered(admin)
    other = registered(admin, GUANGXI_VILLAGE_2)
    services.propose_from_standard(admin, round_, date=PROPOSED)
    outsider = make_user_in("qingxiu", "450103", "administrator")
    assert client(outsider).get(reverse("exit:household", args=[h.pk])).status_code == 404
    assert client(outsider).get(reverse("exit:round_detail", args=[round_.pk])).status_code == 404
    village = make_user_in("santang", GUANGXI_VILLAGE, "data_officer")
    page = client(village).get(reverse("exit:round_detail", args=[round_.pk]))
    assert page.status_code == 200
    assert h.code in page.content.decode() and other.code not in page.content.decode()
    rh = RoundHousehold.objects.get(household=other)
    url = reverse("exit:acceptance", args=[round_.pk, rh.pk])
    assert client(village).get(url).status_code == 404


def test_open_a_round_and_propose_through_the_pages(admin: Any, registered: Any) -> None:
    registered(admin)
    poor = registered(admin, road_surface="earth")
    c = client(admin)
    response = c.post(reverse("exit:round_create"), {"area": "450102", "name": "", "year": 2017})
    assert response.status_code == 302
    round_id = int(response["Location"].rstrip("/").split("/")[-1])
    response = c.post(reverse("exit:round_propose_system", args=[round_id]), {"date": "2017-10-09"})
    assert response.status_code == 302
    assert RoundHousehold.objects.filter(round_id=round_id).count() == 1
    response = c.post(
        reverse("exit:round_propose", args=[round_id]),
        {"code": poor.code, "reason": "入户路已硬化", "date": "2017-10-09"},
    )
    assert response.status_code == 302
    assert RoundHousehold.objects.filter(round_id=round_id).count() == 2
    response = c.post(
        reverse("exit:round_propose", args=[round_id]),
        {"code": "450102999", "reason": "x", "date": "2017-10-09"},
    )
    assert (
        response.status_code == 400 and "No household with this number" in response.content.decode()
    )


def test_acceptance_form_drawn_and_scanned(admin: Any, registered: Any, round_: Any) -> None:
    """Seed 000 (双认定): the form with every item and three signatures, drawn on the
    screen (a PNG posted by fupin/static/fupin/signature.js) or a scan; missing one is
    refused on the page with its message, nothing recorded."""
    registered(admin)
    services.propose_from_standard(admin, round_, date=PROPOSED)
    rh = RoundHousehold.objects.get()
    url = reverse("exit:acceptance", args=[round_.pk, rh.pk])
    c = client(admin)
    page = c.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "fupin/signature.js" in html and "data-signature-pad" in html and "王干部" in html
    data: dict[str, Any] = {"checked_on": "2017-10-12", "team": "验收组"}
    for code, item in all_met(round_).items():
        data[f"item_{code}"] = "met" if item.met else "not_met"
    data.update(sig_head_name="户主", sig_head_drawn=drawn(), sig_team_name="李四")
    response = c.post(url, data)  # the team member neither drew nor uploaded
    assert response.status_code == 400
    assert "Acceptance team member has not signed" in response.content.decode()
    assert not Acceptance.objects.exists()
    data.update(sig_team_scan=scan("team.jpg"), sig_cadre_drawn=drawn())
    response = c.post(url, data)
    assert response.status_code == 302
    acceptance = Acceptance.objects.get()
    assert {s.method for s in acceptance.signatures.all()} == {"drawn", "scan"}
    shown = c.get(url).content.decode()
    assert "Every item met" in shown
    printed = c.get(reverse("exit:acceptance_print", args=[round_.pk, rh.pk]))
    assert printed.status_code == 200 and "<img" in printed.content.decode()
    head = acceptance.signatures.get(role="head")
    image = c.get(reverse("exit:file_download", args=[round_.pk, head.file_id]))
    assert image.status_code == 200 and b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_acceptance_pdf(admin: Any, registered: Any, round_: Any) -> None:
    registered(admin)
    services.propose_from_standard(admin, round_, date=PROPOSED)
    rh = RoundHousehold.objects.get()
    services.record_acceptance(
        admin, rh, checked_on=dt.date(2017, 10, 12), team="验收组",
        items=all_met(round_), signatures=three_signatures(),
    )  # fmt: skip
    response = client(admin).get(reverse("exit:acceptance_pdf", args=[round_.pk, rh.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_record_a_step_through_the_page(admin: Any, registered: Any, round_: Any) -> None:
    registered(admin)
    services.propose_from_standard(admin, round_, date=PROPOSED)
    rh = RoundHousehold.objects.get()
    c = client(admin)
    url = reverse("exit:step_record", args=[round_.pk])
    scope = c.get(url, {"step": 0, "area": GUANGXI_VILLAGE})
    assert "missing: fill in" in scope.content.decode()
    form = {
        "step": 0, "area": GUANGXI_VILLAGE, "date": "2017-10-15",
        "participants": "验收工作组", "signatures": scan(),
    }  # fmt: skip
    response = c.post(url, form)
    assert response.status_code == 200
    assert "no completed acceptance form" in response.content.decode()
    services.record_acceptance(
        admin, rh, checked_on=dt.date(2017, 10, 12), team="验收组",
        items=all_met(round_), signatures=three_signatures(),
    )  # fmt: skip
    form["signatures"] = scan()
    response = c.post(url, form)
    assert response.status_code == 302
    record = ExitStepRecord.objects.get()
    detail = c.get(reverse("exit:record_detail", args=[round_.pk, record.pk]))
    assert detail.status_code == 200 and "record.jpg" in detail.content.decode()
    assert c.get(reverse("exit:step_list", args=[round_.pk])).status_code == 200
    assert c.get(reverse("exit:round_list")).status_code == 200


def _exited(admin: Any, registered: Any, days_ago: int) -> Household:
    h = registered(admin)
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    registry.transition_household(admin, h, "propose_exit", reason="拟脱贫", date=day)
    with guards.outside_procedure("test: an exit as history"):
        registry.transition_household(admin, h, "exit", reason="脱贫", date=day)
    h.refresh_from_db()
    return h


def test_consolidation_timeline_on_the_page(admin: Any, registered: Any) -> None:
    """Seed 000 (Guangxi 严销号): exited on, supported until, observed until, closable from."""
    h = _exited(admin, registered, 400)
    exited = timezone.localdate() - dt.timedelta(days=400)
    html = client(admin).get(reverse("exit:household", args=[h.pk])).content.decode()
    assert exited.isoformat() in html
    can_close = (
        exited.replace(year=exited.year + 3)
        if (exited.month, exited.day) != (2, 29)
        else (dt.date(exited.year + 3, 3, 1))
    )
    assert can_close.isoformat() in html and "Can be closed from" in html
    assert "严销号" in html


def test_early_close_is_refused_on_the_page_and_through_the_api(
    admin: Any, registered: Any
) -> None:
    """The guard holds whichever way `close` is reached: the registry's status page and
    the REST API both refuse it, with the date it becomes possible."""
    h = _exited(admin, registered, 400)
    response = client(admin).post(
        reverse("registry:household_transition", args=[h.pk]),
        {"transition": "close", "reason": "销号", "date": timezone.localdate().isoformat(),
         "version": h.version},
    )  # fmt: skip
    assert response.status_code == 200 and "can be closed from" in response.content.decode()
    api = APIClient()
    token, _created = Token.objects.get_or_create(user=admin)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.post(
        f"/api/households/{h.pk}/transitions/",
        {"name": "close", "reason": "销号", "version": h.version},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400 and "can be closed from" in str(response.json())
    assert Household.objects.get(pk=h.pk).status == "exited"
