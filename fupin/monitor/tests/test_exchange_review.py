"""The review of the education exchange (issue 7 item 6), seed 004 (Anhui,
关于教育扶贫方面存在问题的整改落实方案):

- “按月发布县（市、区）、学校应助未助学生名单” comes after “比对结果” and the department's
  “落实情况反馈”: before its answer there is no 应助未助 list, only children awaiting it; after
  it, the children it did not answer are kept apart from those it answered 否;
- “资助对象为本省户籍、在省内各级各类学校（含幼儿园）就读……学生”: the answer says 是否省内就读,
  and a child studying outside the province is not on the list;
- “确保义务教育阶段学生不因贫失学” (控辍保学): children of compulsory age not in school stay in
  the exchange but are a section of their own, not “unaided without a school”;
- counts of the exchange list scoped to the user's area, the file's temporary folder always
  removed, a second exchange of the same area and year refused even in a race.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from fupin.monitor import exchange_file, services, views
from fupin.monitor.models import EducationExchange, ExchangeChild, ExchangeState
from fupin.monitor.tests.conftest import (
    DRAWN_ON,
    SANTANG,
    SCHOOL_YEAR,
    SENT_IN_COUNTY,
    sheet_rows,
    workbook,
)
from fupin.monitor.tests.test_exchange import AID, COLUMN, NO, answered, drawn, exported_xlsx

SANTANG_CHILDREN = {"韦小学", "韦大学", "韦辍学", "韦学前"}


def section(user: Any, exchange: EducationExchange, name: str, **filters: str) -> set[str]:
    rows = services.unaided_rows(user, exchange, section=name, **filters)
    return set(rows.values_list("name", flat=True))


def answer(
    user: Any, exchange: EducationExchange, tmp_path: Path, cells: dict[str, dict[str, Any]]
) -> services.AnswerResult:
    rows = sheet_rows(exported_xlsx(user, exchange, tmp_path))
    result = services.import_answer(user, exchange, "a.xlsx", workbook(answered(rows, cells)))
    exchange.refresh_from_db()
    return result


# -- finding 6: the list is made of the answer -----------------------------------------------


def test_before_the_answer_there_is_no_unaided_list_only_children_awaiting_it(
    client: Any, families: Any, county_user: Any
) -> None:
    """Seed 004: the 应助未助 list is published from the education department's feedback
    (“比对结果”, “落实情况反馈”); before it, every child sent is awaiting the answer, not
    unaided."""
    client.force_login(county_user)
    created = services.create_exchange(county_user, "450102", SCHOOL_YEAR - 1)
    page = client.get(reverse("monitor:exchange_detail", args=[created.pk]))
    assert page.status_code == 200 and page.context["counts"]["awaiting"] is True
    assert 'data-count="unaided"' not in page.content.decode()
    exchange = drawn(county_user)
    for name in services.SECTIONS:
        assert section(county_user, exchange, name) == set()
    detail = client.get(reverse("monitor:exchange_detail", args=[exchange.pk]))
    counts = detail.context["counts"]
    assert counts["awaiting"] is True and "unaided" not in counts
    html = detail.content.decode()
    assert "exchange-awaiting" in html and 'data-count="unaided"' not in html
    assert f'data-count="children">{len(SENT_IN_COUNTY)}<' in html
    page = client.get(reverse("monitor:unaided", args=[exchange.pk]))
    assert page.context["awaiting"] is True
    assert not page.context["page"].object_list
    assert "unaided-awaiting" in page.content.decode()


def test_after_the_answer_children_not_answered_are_apart_from_those_answered_no(
    client: Any, families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004 应助未助 after the feedback: answered 否 is the list; a child the answer did
    not cover (perhaps not found) stays in sight as “not answered”, not counted as 答否."""
    exchange = drawn(county_user)
    answer(county_user, exchange, tmp_path, {"韦小学": AID, "黄初中": NO})
    assert exchange.state == ExchangeState.ANSWERED
    assert section(county_user, exchange, "unaided") == {"黄初中"}
    assert section(county_user, exchange, "not_answered") == {"韦大学", "韦学前", "蒙高中"}
    client.force_login(county_user)
    counts = client.get(reverse("monitor:exchange_detail", args=[exchange.pk])).context["counts"]
    assert counts["awaiting"] is False
    assert {k: counts[k] for k in (*services.SECTIONS, "aided", "answered")} == {
        "unaided": 1,
        "not_answered": 3,
        "not_in_school": 1,
        "outside": 0,
        "aided": 1,
        "answered": 2,
    }


def test_the_pages_default_is_the_unaided_list_itself(
    client: Any, families: Any, county_user: Any, tmp_path: Path
) -> None:
    """What a county officer publishes (seed 004: 应助未助学生名单) is the default: children
    answered 否; the other sections are tabs with their counts."""
    exchange = drawn(county_user)
    answer(county_user, exchange, tmp_path, {"黄初中": NO})
    client.force_login(county_user)
    url = reverse("monitor:unaided", args=[exchange.pk])
    for query in ({}, {"section": "nonsense"}):
        page = client.get(url, query)
        assert page.context["section"] == "unaided"
        assert {r.name for r in page.context["page"].object_list} == {"黄初中"}
        assert page.context["total"] == 1
    tabs = {s["code"]: (s["count"], s["active"]) for s in page.context["sections"]}
    assert tabs == {
        "unaided": (1, True),
        "not_answered": (4, False),
        "not_in_school": (1, False),
        "outside": (0, False),
    }
    page = client.get(url, {"section": "not_answered", "area": SANTANG})
    assert {r.name for r in page.context["page"].object_list} == {"韦小学", "韦大学", "韦学前"}


def test_children_not_in_school_are_the_control_dropout_section(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004 “确保义务教育阶段学生不因贫失学” (控辍保学): a child of compulsory age out of
    school is in the exchange but not among the unaided “without a school”; the answer's
    stage decides when given — found in a primary school and answered 否, he is unaided; a
    student the department answers as a dropout (辍学) is not in school."""
    exchange = drawn(county_user)
    assert "韦辍学" in set(
        ExchangeChild.objects.filter(exchange=exchange).values_list("name", flat=True)
    )
    answer(county_user, exchange, tmp_path, {"韦学前": {"stage": "辍学", "aided": "否"}})
    assert section(county_user, exchange, "not_in_school") == {"韦辍学", "韦学前"}
    assert section(county_user, exchange, "unaided") == set()
    assert section(county_user, exchange, "unaided", school="-") == set()
    answer(county_user, exchange, tmp_path, {"韦辍学": {**NO, "stage": "小学"}})
    assert section(county_user, exchange, "not_in_school") == {"韦学前"}
    assert section(county_user, exchange, "unaided") == {"韦辍学"}


# -- finding 7: studying outside the province ------------------------------------------------


def test_the_file_has_an_optional_answer_column_for_studying_in_the_province(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004: 资助对象……在省内各级各类学校就读 — the answer column 是否省内就读 (EXCHANGE.md),
    blank when sent, with a 是/否 drop-down and a line on the notes sheet."""
    column = exchange_file.BY_KEY["in_province"]
    assert (column.title, column.answer) == ("是否省内就读", True)
    assert "in_province" not in exchange_file.REQUIRED
    exchange = drawn(county_user)
    data = exported_xlsx(county_user, exchange, tmp_path)
    rows = sheet_rows(data)
    assert rows[0][COLUMN["in_province"]] == "是否省内就读"
    assert all(r[COLUMN["in_province"]] in (None, "") for r in rows[1:])
    book = load_workbook(io.BytesIO(data))
    notes = [r[0] for r in book[exchange_file.NOTES_TITLE].iter_rows(values_only=True)]
    assert "是否省内就读" in notes
    lists = [dv.formula1 for dv in book[exchange_file.SHEET_TITLE].data_validations.dataValidation]
    assert '"是,否"' in lists


def test_a_child_studying_outside_the_province_is_not_on_the_list(
    client: Any, families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004: only 省内 schools' students are owed this aid — answered 否 while studying
    outside the province (否, 省外), a child leaves the 应助未助 list and is shown as studying
    outside the province; blank or 省内 is in the province; the file downloaded again says 否."""
    exchange = drawn(county_user)
    result = answer(
        county_user,
        exchange,
        tmp_path,
        {
            "韦大学": {**NO, "school_name": "浙江大学", "in_province": "否"},
            "蒙高中": {**NO, "in_province": "省外"},
            "韦小学": {**NO, "in_province": "省内"},
            "黄初中": NO,
        },
    )
    assert result.errors == []
    assert section(county_user, exchange, "outside") == {"韦大学", "蒙高中"}
    assert section(county_user, exchange, "unaided") == {"韦小学", "黄初中"}
    client.force_login(county_user)
    page = client.get(reverse("monitor:unaided", args=[exchange.pk]), {"section": "outside"})
    assert {r.name for r in page.context["page"].object_list} == {"韦大学", "蒙高中"}
    assert page.context["row_label"] == services.ROW_LABELS["outside"]
    assert "row-answer" in page.content.decode()
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    marks = {r[COLUMN["name"]]: r[COLUMN["in_province"]] for r in rows[1:]}
    assert marks["韦大学"] == "否" and marks["韦小学"] in (None, "")


def test_in_province_words_blank_rows_and_a_later_answer(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """EXCHANGE.md: 是否省内就读 takes 是/否, 省内/省外 and yes/no; anything else is a problem
    of its row and column (nothing written). A row whose 是否资助 is blank records a filled
    是否省内就读; a filled 是否资助 takes the row in full, blank meaning in the province."""
    exchange = drawn(county_user)
    bad = answer(county_user, exchange, tmp_path, {"韦小学": {**NO, "in_province": "也许"}})
    assert [e.column for e in bad.errors] == ["是否省内就读"]
    assert not ExchangeChild.objects.filter(in_province=False).exists()
    answer(county_user, exchange, tmp_path, {"韦大学": {"in_province": "省外"}})
    wei = ExchangeChild.objects.get(exchange=exchange, name="韦大学")
    assert (wei.aided, wei.in_province) == (None, False)
    assert section(county_user, exchange, "outside") == {"韦大学"}
    answer(county_user, exchange, tmp_path, {"韦大学": {**NO, "in_province": ""}})
    wei.refresh_from_db()
    assert (wei.aided, wei.in_province) == (False, True)
    assert "韦大学" in section(county_user, exchange, "unaided")


# -- finding 9: the exchange list counts the user's area -------------------------------------


def test_the_exchange_list_counts_the_users_area_in_one_query(
    client: Any, families: Any, county_user: Any, village_viewer: Any, tmp_path: Path
) -> None:
    """A village cadre sees the county's exchange with his village's children counted, as on
    its page; the counts of a page of exchanges take one query, however many exchanges."""
    exchange = drawn(county_user)
    answer(county_user, exchange, tmp_path, {"韦小学": AID, "黄初中": NO})
    client.force_login(village_viewer)
    url = reverse("monitor:exchange_list")
    page = client.get(url)
    row = next(e for e in page.context["page"].object_list if e.pk == exchange.pk)
    assert row.scoped == {"children": len(SANTANG_CHILDREN), "answered": 1, "aided": 1}
    detail = client.get(reverse("monitor:exchange_detail", args=[exchange.pk]))
    assert detail.context["counts"]["children"] == row.scoped["children"]
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    services.export_exchange(
        county_user,
        services.create_exchange(county_user, "450102", SCHOOL_YEAR - 1),
        on=DRAWN_ON,
    )
    with CaptureQueriesContext(connection) as two:
        page = client.get(url)
    assert len(page.context["page"].object_list) == 2
    assert len(two.captured_queries) == len(one.captured_queries)
    client.force_login(county_user)
    row = next(e for e in client.get(url).context["page"].object_list if e.pk == exchange.pk)
    assert row.scoped["children"] == len(SENT_IN_COUNTY)


# -- finding 10: no file with full IDs left behind -------------------------------------------


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: Any) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_the_download_leaves_no_file_behind_even_when_writing_fails(
    client: Any, families: Any, county_user: Any, temp_root: Path, monkeypatch: Any
) -> None:
    """The exchange file carries full resident IDs: its temporary folder is removed after a
    download, after a refusal and after an error half-way through writing."""
    exchange = drawn(county_user)
    client.force_login(county_user)
    url = reverse("monitor:exchange_download", args=[exchange.pk, "csv"])
    assert client.get(url).status_code == 200
    assert list(temp_root.iterdir()) == []

    def half_written(exc: Exception) -> Any:
        def write(user: Any, exchange: Any, fmt: str, path: Path, reason: str = "") -> int:
            path.write_text("行号,公民身份号码\nE1-000001,450102201503010011\n")
            raise exc

        return write

    monkeypatch.setattr(services, "write_exchange_file", half_written(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        client.get(url)
    assert list(temp_root.iterdir()) == []
    monkeypatch.setattr(services, "write_exchange_file", half_written(ValidationError("no")))
    assert client.get(url).status_code == 302
    assert list(temp_root.iterdir()) == []


# -- finding 11: two creations of the same exchange at once ----------------------------------


def test_a_second_exchange_created_in_a_race_is_the_same_refusal(
    families: Any, county_user: Any, monkeypatch: Any
) -> None:
    """One exchange per area and school year (seed 004: 每年1月底前): when a colleague's
    exchange is created between the check and the insert, the unique constraint's error is
    the same refusal, not a server error, and the transaction goes on."""
    services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)  # the check sees nothing yet
    with pytest.raises(ValidationError) as exc:
        services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    assert "already has an exchange for the school year 2024" in str(exc.value)
    monkeypatch.undo()
    assert EducationExchange.objects.filter(area_id="450102").count() == 1


# -- the refactor: one xlsx helper -----------------------------------------------------------


def test_the_lists_exports_use_the_core_sheet_helper(
    client: Any, families: Any, county_user: Any, tmp_path: Path
) -> None:
    """The monitor pages' exports are fupin.core.sheets' workbooks (no copy of their own):
    typed text a spreadsheet would run as a formula stays text."""
    assert not hasattr(views, "_xlsx_response") and not hasattr(views, "_cell")
    exchange = drawn(county_user)
    answer(county_user, exchange, tmp_path, {"黄初中": NO})
    ExchangeChild.objects.filter(name="黄初中").update(name="=HYPERLINK(1)")
    client.force_login(county_user)
    response = client.get(reverse("monitor:unaided_export", args=[exchange.pk]))
    assert response["Cache-Control"] == "no-store"
    children = load_workbook(io.BytesIO(response.content)).worksheets[1]
    assert [r[3] for r in children.iter_rows(min_row=2, values_only=True)] == ["'=HYPERLINK(1)"]
