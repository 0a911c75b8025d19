"""The warning pages: every page renders (zh and en), area scoping (another township's
warning is 404), rights (answering without monitor.respond_warning is 403), the forms go
through the services."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.urls import reverse

from fupin.monitor import returns
from fupin.monitor.models import RiskEvent, RiskWarning, WarningState
from fupin.monitor.tests.conftest import SANTANG
from fupin.monitor.tests.test_warnings import crafted, run  # noqa: F401 - fixture


@pytest.fixture
def warned(crafted: Any, county_user: Any) -> dict[str, Any]:  # noqa: F811
    run(county_user)
    return crafted


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def pages(warned: Any) -> list[str]:
    warning = RiskWarning.objects.get(household=warned["jia"], rule="below_line")
    household = warned["jia"]
    return [
        reverse("monitor:index"),
        reverse("monitor:warning_list"),
        reverse("monitor:warning_list") + "?level=red&overdue=yes&area=450102100",
        reverse("monitor:run_list"),
        reverse("monitor:overdue_areas"),
        reverse("monitor:overdue_areas") + "?area=450102100",
        reverse("monitor:warning_detail", args=[warning.pk]),
        reverse("monitor:event_list"),
        reverse("monitor:event_import"),
        reverse("monitor:event_new", args=[household.pk]),
        reverse("monitor:case_list"),
        reverse("monitor:case_start", args=[household.pk]),
        reverse("monitor:return_list"),
        reverse("monitor:return_open", args=[household.pk]),
        reverse("monitor:household_warnings", args=[household.pk]),
        reverse("registry:household_detail", args=[household.pk]),
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_renders(warned: Any, county_user: Any, client: Any, language: str) -> None:
    c = login(client, county_user)
    case = returns.open_case(county_user, warned["bing"], reason="大病支出")
    for url in [*pages(warned), reverse("monitor:return_detail", args=[case.pk])]:
        response = c.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
    listing = c.get(reverse("monitor:warning_list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Exited household&#x27;s income below the poverty line" in listing
    zh = c.get(reverse("monitor:warning_list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "脱贫户收入低于扶贫标准" in zh


def test_another_townships_warning_is_404(warned: Any, make_user: Any, client: Any) -> None:
    wutang = make_user("wutang", "450102101", "data_officer")
    c = login(client, wutang)
    mine = RiskWarning.objects.get(household=warned["ding"], rule="disaster")
    theirs = RiskWarning.objects.get(household=warned["jia"], rule="below_line")
    assert c.get(reverse("monitor:warning_detail", args=[mine.pk])).status_code == 200
    assert c.get(reverse("monitor:warning_detail", args=[theirs.pk])).status_code == 404
    listing = c.get(reverse("monitor:warning_list")).content.decode()
    assert warned["ding"].code in listing and warned["jia"].code not in listing
    assert c.get(reverse("monitor:warning_list") + "?area=450102100").status_code == 404
    assert (
        c.post(reverse("monitor:warning_dismiss", args=[theirs.pk]), {"reason": "x"}).status_code
        == 404
    )


def test_answering_needs_respond_warning(warned: Any, make_user: Any, client: Any) -> None:
    viewer = make_user("viewer", "450102", "viewer")
    c = login(client, viewer)
    warning = RiskWarning.objects.get(household=warned["ji"])
    assert (
        c.post(reverse("monitor:warning_dismiss", args=[warning.pk]), {"reason": "x"}).status_code
        == 403
    )
    assert c.post(reverse("monitor:warning_respond", args=[warning.pk]), {}).status_code == 403
    assert c.post(reverse("monitor:warning_run_start"), {"area": "450102"}).status_code == 403
    warning.refresh_from_db()
    assert warning.state == WarningState.OPEN


def test_dismiss_from_the_page(warned: Any, make_user: Any, client: Any) -> None:
    cadre = make_user("cadre", SANTANG, "support_cadre")
    c = login(client, cadre)
    warning = RiskWarning.objects.get(household=warned["ji"])
    url = reverse("monitor:warning_dismiss", args=[warning.pk])
    refused = c.post(url, {"reason": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert "Write the reason for dismissing this warning." in refused.content.decode()
    assert c.post(url, {"reason": "已核实：家庭另有稳定收入"}).status_code == 302
    warning.refresh_from_db()
    assert warning.state == WarningState.DISMISSED


def test_answer_with_a_new_visit_from_the_page(warned: Any, county_user: Any, client: Any) -> None:
    from fupin.monitor.tests.test_warnings import _make_cadre

    _make_cadre(county_user)
    c = login(client, county_user)
    warning = RiskWarning.objects.get(household=warned["yi"])
    # The county administrator manages support: any cadre of the area may be named; the
    # page takes the household's paired cadre, and without one the support rules refuse.
    response = c.post(
        reverse("monitor:warning_respond", args=[warning.pk]),
        {"new_visit_date": dt.date.today().isoformat(), "new_visit_work": "入户核实收入"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "Choose the cadre who made the visit." in response.content.decode()


def test_record_an_event_from_the_page(warned: Any, county_user: Any, client: Any) -> None:
    c = login(client, county_user)
    household = warned["yi"]
    url = reverse("monitor:event_new", args=[household.pk])
    bad = c.post(url, {"kind": "medical_expense", "date": "2020-03-01", "source": "卫健委"})
    assert bad.status_code == 400 and not RiskEvent.objects.filter(household=household).exists()
    good = c.post(
        url, {"kind": "medical_expense", "date": "2020-03-01", "source": "卫健委", "amount": "800"}
    )
    assert good.status_code == 302
    assert RiskEvent.objects.filter(household=household).count() == 1


def test_import_page_lists_problems(warned: Any, county_user: Any, client: Any) -> None:
    c = login(client, county_user)
    data = "户编号,事件类型,日期,来源\r\n0000,辍学,2020-02-02,教育局\r\n".encode()
    upload = io.BytesIO(data)
    upload.name = "events.csv"
    response = c.post(
        reverse("monitor:event_import"),
        {"area": "450102", "file": upload},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "No household in this area has the number 0000." in response.content.decode()


def test_run_now_starts_the_job(crafted: Any, county_user: Any, client: Any) -> None:  # noqa: F811
    c = login(client, county_user)
    response = c.post(reverse("monitor:warning_run_start"), {"area": "450102", "on": "2020-06-30"})
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    assert RiskWarning.objects.count() == 7


def test_return_step_from_the_page(warned: Any, county_user: Any, client: Any) -> None:
    c = login(client, county_user)
    warning = RiskWarning.objects.get(household=warned["jia"], rule="below_line")
    opened = c.post(
        reverse("monitor:warning_return", args=[warning.pk]), {"reason": "收入低于标准"}
    )
    assert opened.status_code == 302
    case = returns.ReturnCase.objects.get()
    from fupin.monitor.tests.test_returns import opened_on_run_day

    opened_on_run_day(case)  # steps dated July 2020 are on or after its opening
    url = reverse("monitor:return_step", args=[case.pk])
    skipped = c.post(
        url,
        {"code": "county_decision", "outcome": "pass", "date": "2020-07-02", "note": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert skipped.status_code == 400 and "none skipped" in skipped.content.decode()
    ok = c.post(
        url, {"code": "onsite_check", "outcome": "pass", "date": "2020-07-02", "note": "入户核实"}
    )
    assert ok.status_code == 302
    case.refresh_from_db()
    assert case.steps_done == 1
