"""Monitoring pages (issue 7 item 6): seeing needs monitor.view_monitor, creating, drawing,
downloading and importing need monitor.manage_monitor (and full IDs for the file), and every
page is scoped to the user's area — a village user sees his village's children only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from fupin.core.models import AuditEntry
from fupin.core.roles import ROLE_PERMISSIONS, Role
from fupin.monitor import services, views
from fupin.monitor.models import EducationExchange, ExchangeChild, ExchangeState
from fupin.monitor.tests.conftest import (
    DRAWN_ON,
    SANTANG,
    SCHOOL_YEAR,
    SENT_IN_COUNTY,
    sheet_rows,
    workbook,
)
from fupin.monitor.tests.test_exchange import AID, NO, answered

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SANTANG_CHILDREN = {"韦小学", "韦大学", "韦辍学", "韦学前"}


@pytest.fixture
def exchange(families: Any, county_user: Any) -> EducationExchange:
    made = services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    return services.export_exchange(county_user, made, on=DRAWN_ON)


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def xlsx_of(response: Any) -> list[list[Any]]:
    assert response["Content-Type"] == XLSX
    return sheet_rows(response.content)


def test_every_page_needs_a_login(client: Any, exchange: Any) -> None:
    for url in (
        reverse("monitor:index"),
        reverse("monitor:exchange_list"),
        reverse("monitor:exchange_detail", args=[exchange.pk]),
        reverse("monitor:unaided", args=[exchange.pk]),
        reverse("monitor:health_insurance"),
        reverse("monitor:calculator"),
    ):
        assert client.get(url).status_code == 302, url


def test_a_viewer_sees_the_pages_but_cannot_create_draw_download_or_import(
    client: Any, exchange: Any, county_reviewer: Any
) -> None:
    c = login(client, county_reviewer)
    assert c.get(reverse("monitor:index")).status_code == 200
    page = c.get(reverse("monitor:exchange_list"))
    assert page.status_code == 200 and "exchange-create" not in page.content.decode()
    detail = c.get(reverse("monitor:exchange_detail", args=[exchange.pk]))
    assert detail.status_code == 200 and "exchange-import" not in detail.content.decode()
    post = c.post(reverse("monitor:exchange_list"), {"area": "450102", "school_year": 2023})
    assert post.status_code == 403
    assert c.post(reverse("monitor:exchange_export", args=[exchange.pk])).status_code == 403
    assert (
        c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])).status_code == 403
    )
    upload = SimpleUploadedFile("a.csv", b"x")
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    assert c.post(url, {"file": upload}).status_code == 403
    assert c.get(reverse("monitor:unaided_export", args=[exchange.pk])).status_code == 403
    assert c.get(reverse("monitor:health_insurance_export")).status_code == 403


def test_create_draw_and_download_from_the_pages(
    client: Any, families: Any, county_user: Any
) -> None:
    """Seed 004's yearly exchange from the pages: create, draw the list, download xlsx/CSV."""
    c = login(client, county_user)
    page = c.post(reverse("monitor:exchange_list"), {"area": "450102", "school_year": SCHOOL_YEAR})
    exchange = EducationExchange.objects.get()
    assert page.status_code == 302 and page["Location"].endswith(f"/education/{exchange.pk}/")
    again = c.post(reverse("monitor:exchange_list"), {"area": "450102", "school_year": SCHOOL_YEAR})
    assert again.status_code == 200
    assert "已有 2024 学年的比对批次" in str(again.context["form"].errors)
    c.post(reverse("monitor:exchange_export", args=[exchange.pk]))
    exchange.refresh_from_db()
    # Drawn today: ages are today's, so the count is the registry's today.
    today = services.eligible_children(county_user, "450102", timezone.localdate()).count()
    assert (exchange.state, exchange.children) == (ExchangeState.EXPORTED, today)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    assert len(rows) == 1 + today
    csv_file = c.get(reverse("monitor:exchange_download", args=[exchange.pk, "csv"]))
    assert csv_file.content.startswith("\ufeff行号".encode())
    assert AuditEntry.objects.filter(action="monitor.exchange.file").count() == 2
    assert c.get(reverse("monitor:exchange_download", args=[exchange.pk, "pdf"])).status_code == 404


def test_a_manager_without_full_ids_is_told_why_the_file_is_refused(
    client: Any, exchange: Any, monkeypatch: Any, make_user: Any
) -> None:
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.REVIEWER, ROLE_PERMISSIONS[Role.REVIEWER] | {services.MANAGE}
    )
    c = login(client, make_user("rm", "450102", "reviewer"))
    page = c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"]), follow=True)
    assert page.status_code == 200
    assert "您无权查看完整身份证号码" in page.content.decode()
    assert not AuditEntry.objects.filter(action="monitor.exchange.file").exists()


def test_import_a_good_answer_from_the_page(
    client: Any, exchange: Any, county_user: Any, tmp_path: Path
) -> None:
    c = login(client, county_user)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    data = workbook(answered(rows, {"韦小学": AID, "黄初中": NO}))
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    page = c.post(url, {"file": SimpleUploadedFile("answer.xlsx", data)}, follow=True)
    assert page.status_code == 200
    assert ExchangeChild.objects.get(name="韦小学").aided is True
    unaided = c.get(reverse("monitor:unaided", args=[exchange.pk]))
    assert unaided.context["total"] == 1  # 黄初中, answered 否
    counts = {s["code"]: s["count"] for s in unaided.context["sections"]}
    assert counts == {"unaided": 1, "not_answered": 3, "not_in_school": 1, "outside": 0}
    assert sum(counts.values()) == len(SENT_IN_COUNTY) - 1


def test_a_bad_answer_is_listed_on_the_page_and_nothing_is_written(
    client: Any, exchange: Any, county_user: Any
) -> None:
    c = login(client, county_user)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    data = workbook(answered(rows, {"韦小学": {"aided": "是"}, "黄初中": {"aided": "maybe"}}))
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    page = c.post(url, {"file": SimpleUploadedFile("bad.xlsx", data)})
    assert page.status_code == 400
    html = page.content.decode()
    assert "answer-errors" in html and "资助项目" in html and "是否资助" in html
    assert not ExchangeChild.objects.filter(aided__isnull=False).exists()


def test_a_big_answer_runs_in_the_background(client: Any, exchange: Any, county_user: Any) -> None:
    """The background job does the same import (immediate backend in tests)."""
    c = login(client, county_user)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    data = workbook(answered(rows, {"韦小学": AID}))
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    page = c.post(url, {"file": SimpleUploadedFile("answer.xlsx", data), "background": "on"})
    assert page.status_code == 302 and "/jobs/" in page["Location"]
    assert ExchangeChild.objects.get(name="韦小学").aided is True


def test_a_bad_answer_in_the_background_fails_with_the_problems(
    client: Any, exchange: Any, county_user: Any
) -> None:
    from fupin.core.models import JobRun

    c = login(client, county_user)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    data = workbook(answered(rows, {"韦小学": {"aided": "是"}}))
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    c.post(url, {"file": SimpleUploadedFile("bad.xlsx", data), "background": "on"})
    job = JobRun.objects.get(kind="monitor.exchange_answer")
    assert job.state == "failed" and "资助项目" in job.log
    assert job.result.name.endswith(".csv")
    assert not ExchangeChild.objects.filter(aided__isnull=False).exists()


def test_a_big_exchange_file_is_made_in_the_background(
    client: Any, exchange: Any, county_user: Any, monkeypatch: Any
) -> None:
    from fupin.core.models import JobRun

    monkeypatch.setattr(views, "INLINE_ROWS", 2)
    c = login(client, county_user)
    page = c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"]))
    assert page.status_code == 302 and "/jobs/" in page["Location"]
    job = JobRun.objects.get(kind="monitor.exchange_file")
    assert job.state == "succeeded" and job.counts["rows"] == len(SENT_IN_COUNTY)
    data = Path(job.result.path).read_bytes()
    assert len(load_workbook(io.BytesIO(data)).worksheets[0]["A"]) == 1 + len(SENT_IN_COUNTY)


def test_a_village_user_sees_only_his_villages_children(
    client: Any, exchange: Any, county_user: Any, village_viewer: Any
) -> None:
    """Area scoping: from 三塘村 the county's exchange counts and lists 三塘村's children."""
    import_no(client, exchange, county_user, SENT_IN_COUNTY - {"韦辍学"})
    c = login(client, village_viewer)
    assert exchange in c.get(reverse("monitor:exchange_list")).context["page"].object_list
    detail = c.get(reverse("monitor:exchange_detail", args=[exchange.pk]))
    assert detail.context["counts"]["children"] == len(SANTANG_CHILDREN)
    page = c.get(reverse("monitor:unaided", args=[exchange.pk]))
    # 韦辍学 is not in school: the 控辍保学 section, not the list.
    assert {r.name for r in page.context["page"].object_list} == SANTANG_CHILDREN - {"韦辍学"}
    assert (
        c.get(reverse("monitor:unaided", args=[exchange.pk]), {"area": "450102101"}).status_code
        == 404
    )


def test_an_exchange_of_another_county_is_not_found(
    client: Any, exchange: Any, make_user: Any
) -> None:
    c = login(client, make_user("qingxiu", "450103", "administrator"))
    assert c.get(reverse("monitor:exchange_detail", args=[exchange.pk])).status_code == 404
    assert exchange not in c.get(reverse("monitor:exchange_list")).context["page"].object_list


def import_no(client: Any, exchange: Any, user: Any, names: set[str]) -> None:
    """Import an answer of 否 (兴宁区第一中学) for the children named."""
    c = login(client, user)
    rows = xlsx_of(c.get(reverse("monitor:exchange_download", args=[exchange.pk, "xlsx"])))
    data = workbook(answered(rows, {name: NO for name in names}))
    url = reverse("monitor:exchange_import", args=[exchange.pk])
    c.post(url, {"file": SimpleUploadedFile("answer.xlsx", data)})
    exchange.refresh_from_db()
    assert exchange.state == ExchangeState.ANSWERED
    c.logout()


def test_the_unaided_list_filters_and_exports(client: Any, exchange: Any, county_user: Any) -> None:
    """Seed 004: the 应助未助 list by county and school, exportable to xlsx, with the filter;
    the children not answered are a section of their own, exported the same way."""
    import_no(client, exchange, county_user, {"韦小学", "黄初中"})
    c = login(client, county_user)
    page = c.get(reverse("monitor:unaided", args=[exchange.pk]), {"area": SANTANG})
    assert page.context["total"] == 1  # 韦小学
    groups = page.context["groups"]
    assert [(g["county_name"], g["school_name"], g["children"]) for g in groups] == [
        ("兴宁区", "兴宁区第一中学", 1)
    ]
    response = c.get(reverse("monitor:unaided_export", args=[exchange.pk]), {"area": SANTANG})
    summary, children = load_workbook(io.BytesIO(response.content)).worksheets
    assert [r for r in summary.iter_rows(min_row=2, values_only=True)] == [
        ("兴宁区", "兴宁区第一中学", 1)
    ]
    assert [(r[3], r[7]) for r in children.iter_rows(min_row=2, values_only=True)] == [
        ("韦小学", "反馈未资助")
    ]
    query = {"area": SANTANG, "section": "not_answered"}
    page = c.get(reverse("monitor:unaided", args=[exchange.pk]), query)
    assert {r.name for r in page.context["page"].object_list} == {"韦大学", "韦学前"}
    response = c.get(reverse("monitor:unaided_export", args=[exchange.pk]), query)
    children = load_workbook(io.BytesIO(response.content)).worksheets[1]
    rows = {(r[3], r[7]) for r in children.iter_rows(min_row=2, values_only=True)}
    assert rows == {("韦大学", "未反馈"), ("韦学前", "未反馈")}


def test_the_health_page_and_its_export(client: Any, families: Any, county_user: Any) -> None:
    from fupin.registry.models import Member

    Member.objects.filter(name__in=["韦大明", "黄二妹", "覃三"]).update(has_medical_insurance=False)
    c = login(client, county_user)
    page = c.get(reverse("monitor:health_insurance"), {"level": "village"})
    assert page.status_code == 200
    # 覃三's household is only surveyed: not a registered poor person.
    assert [(g["name"], g["uninsured"]) for g in page.context["groups"]] == [
        ("三塘村", 1),
        ("五塘村", 1),
    ]
    response = c.get(reverse("monitor:health_insurance_export"), {"level": "village"})
    book = load_workbook(io.BytesIO(response.content))
    people = [r for r in book.worksheets[1].iter_rows(min_row=2, values_only=True)]
    assert {r[3] for r in people} == {"韦大明", "黄二妹"}
    assert all("*" not in r[4] for r in people)  # the administrator may see full IDs
    serious = c.get(reverse("monitor:health_insurance"), {"kind": "serious"})
    assert serious.context["kind"] == "serious" and serious.context["total"] > 0


def test_the_health_page_outside_ones_area_is_not_found(
    client: Any, families: Any, village_viewer: Any
) -> None:
    c = login(client, village_viewer)
    assert c.get(reverse("monitor:health_insurance")).status_code == 200
    assert c.get(reverse("monitor:health_insurance"), {"area": "450102"}).status_code == 404
