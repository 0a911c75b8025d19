"""The education aid data exchange and its 应助未助 list (issue 7 item 6), seed 004 (Anhui,
关于教育扶贫方面存在问题的整改落实方案): “每年1月底前，省扶贫办将当年建档立卡贫困户家庭子女就学
数据传递给省教育厅……进行比对”, the answers by April and August, and “按月发布县（市、区）、学校
应助未助学生名单”."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fupin.core.models import AuditEntry
from fupin.core.roles import ROLE_PERMISSIONS, Role
from fupin.monitor import exchange_file, services
from fupin.monitor.models import EducationExchange, ExchangeChild, ExchangeState
from fupin.monitor.tests.conftest import (
    DRAWN_ON,
    SANTANG,
    SCHOOL_YEAR,
    SENT_IN_COUNTY,
    set_status,
    sheet_rows,
    workbook,
)

COLUMN = {c.key: i for i, c in enumerate(exchange_file.COLUMNS)}


def drawn(user: Any, area: str = "450102") -> EducationExchange:
    exchange = services.create_exchange(user, area, SCHOOL_YEAR, reason="2025年1月比对")
    return services.export_exchange(user, exchange, on=DRAWN_ON)


def exported_xlsx(user: Any, exchange: EducationExchange, tmp_path: Path) -> bytes:
    path = tmp_path / "out.xlsx"
    services.write_exchange_file(user, exchange, "xlsx", path)
    return path.read_bytes()


def answered(rows: list[list[Any]], answers: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """The exported rows with answer cells filled for the children named in `answers`."""
    out = [list(rows[0])]
    for row in rows[1:]:
        row = list(row)
        for key, value in answers.get(row[COLUMN["name"]], {}).items():
            row[COLUMN[key]] = value
        out.append(row)
    return out


AID = {"school_name": "三塘镇中心小学", "stage": "小学", "aided": "是", "aid_kinds": "02、03"}
NO = {"school_name": "兴宁区第一中学", "stage": "七至九年级", "aided": "否"}


# -- who is sent -----------------------------------------------------------------------------


def test_the_list_is_every_student_and_every_out_of_school_child_of_compulsory_age(
    families: Any, county_user: Any
) -> None:
    """Seed 004: 建档立卡贫困户家庭子女就学数据 — students from pre-school to college, exited
    households included (“有子女上大学的脱贫户家庭中，有的未安排教育资助项目”), and children of
    compulsory age (6–15 full years, 义务教育法 art. 11) out of school; not a 4-year-old at
    home, not a 15-year-old who finished junior secondary, not a household only surveyed,
    not another county's."""
    names = set(
        services.eligible_children(county_user, "450102", DRAWN_ON).values_list("name", flat=True)
    )
    assert names == SENT_IN_COUNTY


def test_compulsory_age_is_counted_in_full_years_on_the_day_drawn(
    make_household: Any, county_user: Any
) -> None:
    """Seed 004 / 义务教育法 art. 11: six full years on the day (a birthday that day counts);
    not yet sixteen; one born on 29 February turns a year older on 1 March."""
    from fupin.monitor.tests.conftest import child

    h = make_household(
        SANTANG,
        members=[
            child("六岁当天", dt.date(2019, 1, 15), "none", "preschool_age"),
            child("差一天六岁", dt.date(2019, 1, 16), "none", "preschool_age"),
            child("十五岁", dt.date(2009, 1, 16), "none"),
            child("十六岁当天", dt.date(2009, 1, 15), "none"),
            child("闰日", dt.date(2016, 2, 29), "none", "preschool_age"),
        ],
    )
    set_status(h, "registered")

    def sent(on: dt.date) -> set[str]:
        return set(
            services.eligible_children(county_user, SANTANG, on).values_list("name", flat=True)
        )

    assert sent(DRAWN_ON) == {"六岁当天", "十五岁", "闰日"}
    assert "闰日" not in sent(dt.date(2022, 2, 28))
    assert "闰日" in sent(dt.date(2022, 3, 1))


# -- creating and drawing --------------------------------------------------------------------


def test_one_exchange_per_area_and_school_year(families: Any, county_user: Any) -> None:
    """Seed 004: the list is sent once a year (每年1月底前)."""
    services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    with pytest.raises(ValidationError) as exc:
        services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    assert "already has an exchange for the school year 2024" in str(exc.value)


def test_an_exchange_outside_ones_area_or_without_the_right_is_refused(
    families: Any, county_user: Any, county_reviewer: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.create_exchange(county_user, "450103", SCHOOL_YEAR)
    with pytest.raises(PermissionDenied):
        services.create_exchange(county_reviewer, "450102", SCHOOL_YEAR)
    with pytest.raises(ValidationError):
        services.create_exchange(county_user, "450102", 1999)


def test_drawing_the_list_takes_each_child_once_with_a_row_key(
    families: Any, county_user: Any
) -> None:
    """Seed 004: the poverty office sends the children (传递……进行比对); each row gets the key
    the answer is matched by, and the step is on the audit trail."""
    exchange = drawn(county_user)
    assert exchange.state == ExchangeState.EXPORTED
    assert (exchange.children, exchange.exported_on) == (len(SENT_IN_COUNTY), DRAWN_ON)
    rows = list(ExchangeChild.objects.filter(exchange=exchange))
    assert {r.name for r in rows} == SENT_IN_COUNTY
    assert sorted(r.row_key for r in rows) == [
        f"E{exchange.pk}-{n:06d}" for n in range(1, len(SENT_IN_COUNTY) + 1)
    ]
    actions = list(
        AuditEntry.objects.filter(object_type="monitor.educationexchange").values_list(
            "action", flat=True
        )
    )
    assert actions == ["monitor.exchange.create", "monitor.exchange.export"]
    with pytest.raises(ValidationError, match="was drawn on 2025-01-15"):
        services.export_exchange(county_user, exchange, on=DRAWN_ON)


def test_a_long_list_is_written_in_batches_with_unbroken_row_keys(
    families: Any, county_user: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "BATCH", 4)
    exchange = drawn(county_user)
    keys = sorted(ExchangeChild.objects.filter(exchange=exchange).values_list("row_key", flat=True))
    assert keys == [f"E{exchange.pk}-{n:06d}" for n in range(1, 7)]
    assert exchange.children == 6


@pytest.fixture
def no_full_id_manager(monkeypatch: Any, make_user: Any) -> Any:
    """A reviewer given the monitoring manager's right but not full IDs (no shipped role is)."""
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.REVIEWER, ROLE_PERMISSIONS[Role.REVIEWER] | {services.MANAGE}
    )
    return make_user("reviewer_manager", "450102", "reviewer")


def test_without_the_right_to_full_ids_the_export_is_refused(
    families: Any, county_user: Any, no_full_id_manager: Any, tmp_path: Path
) -> None:
    """Full resident IDs go to the education department only from a user who may see them."""
    exchange = services.create_exchange(no_full_id_manager, "450102", SCHOOL_YEAR)
    with pytest.raises(PermissionDenied, match="may not see full IDs"):
        services.export_exchange(no_full_id_manager, exchange, on=DRAWN_ON)
    assert not ExchangeChild.objects.exists()
    services.export_exchange(county_user, exchange, on=DRAWN_ON)
    with pytest.raises(PermissionDenied, match="may not see full IDs"):
        services.write_exchange_file(no_full_id_manager, exchange, "csv", tmp_path / "x.csv")


# -- the file --------------------------------------------------------------------------------


def test_the_xlsx_file_has_the_documented_layout_and_full_ids(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """EXCHANGE.md: the columns in order, one row per child, full IDs as text, a notes sheet
    with the aid kind codes; each file made is audited."""
    exchange = drawn(county_user)
    data = exported_xlsx(county_user, exchange, tmp_path)
    rows = sheet_rows(data)
    assert rows[0] == [c.title for c in exchange_file.COLUMNS]
    by_name = {r[COLUMN["name"]]: r for r in rows[1:]}
    assert set(by_name) == SENT_IN_COUNTY
    wei = ExchangeChild.objects.get(exchange=exchange, name="韦小学")
    row = by_name["韦小学"]
    assert row[COLUMN["id_number"]] == wei.id_number and "*" not in wei.id_number
    assert (row[COLUMN["county"]], row[COLUMN["township"]], row[COLUMN["village"]]) == (
        "兴宁区",
        "三塘镇",
        "三塘村",
    )
    assert row[COLUMN["schooling"]] == "小学" and row[COLUMN["sex"]] == "男"
    assert all(row[COLUMN[c.key]] in (None, "") for c in exchange_file.COLUMNS if c.answer)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [exchange_file.SHEET_TITLE, exchange_file.NOTES_TITLE]
    notes = [r[0] for r in book[exchange_file.NOTES_TITLE].iter_rows(values_only=True)]
    assert "02" in notes and "12" in notes
    audit = AuditEntry.objects.filter(action="monitor.exchange.file").get()
    assert audit.after == {"format": "xlsx", "rows": len(SENT_IN_COUNTY), "full_id": True}


def test_the_csv_file_has_a_bom_and_keeps_ids_as_text(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    exchange = drawn(county_user)
    path = tmp_path / "out.csv"
    assert services.write_exchange_file(county_user, exchange, "csv", path) == 6
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff行号,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    wei = ExchangeChild.objects.get(exchange=exchange, name="韦大学")
    row = next(r for r in rows if r[COLUMN["name"]] == "韦大学")
    assert row[COLUMN["id_number"]] == "\t" + wei.id_number
    assert row[COLUMN["birth_date"]] == "2004-09-01"


# -- the answer: round trip ------------------------------------------------------------------


def test_round_trip_the_list_is_exactly_the_children_answered_no(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004 应助未助 (“按月发布……应助未助学生名单”, made of the department's feedback):
    export → the education department fills the answer (two aided, one not aided, the
    others left blank) → import → the 应助未助 list holds exactly the child answered 否; the
    children not answered and the child not in school (控辍保学) are kept apart."""
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    filled = answered(
        rows,
        {
            "韦小学": {**AID, "amount": 1250.5, "aid_date": dt.date(2024, 9, 10)},
            "韦大学": {
                "school_name": "安徽大学",
                "stage": "大专及以上",
                "aided": "是",
                "aid_kinds": "09",
                "amount": "3000",
            },
            "黄初中": NO,
        },
    )
    result = services.import_answer(county_user, exchange, "answer.xlsx", workbook(filled))
    assert result.errors == []
    assert (result.rows, result.answered, result.aided, result.not_aided, result.blank) == (
        6,
        3,
        2,
        1,
        3,
    )

    def section(name: str) -> set[str]:
        rows = services.unaided_rows(county_user, exchange, section=name)
        return set(rows.values_list("name", flat=True))

    assert section("unaided") == {"黄初中"}
    assert section("not_answered") == {"韦学前", "蒙高中"}
    assert section("not_in_school") == {"韦辍学"}
    assert section("outside") == set()
    wei = ExchangeChild.objects.get(exchange=exchange, name="韦小学")
    assert (wei.school_name, wei.stage, wei.aided, wei.aid_kinds, wei.amount, wei.aid_date) == (
        "三塘镇中心小学",
        "primary",
        True,
        ["02", "03"],
        Decimal("1250.50"),
        dt.date(2024, 9, 10),
    )
    exchange.refresh_from_db()
    assert (exchange.state, exchange.answered, exchange.aided, exchange.imports) == (
        ExchangeState.ANSWERED,
        3,
        2,
        1,
    )
    entry = AuditEntry.objects.get(action="monitor.exchange.answer")
    assert entry.after["file"] == "answer.xlsx" and entry.after["rows"] == 6


def test_round_trip_through_csv_with_english_words(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """The answer may come back as CSV (even GBK), with yes/no and stages in English, a
    stage in the education department's words (初中), kinds by name."""
    exchange = drawn(county_user)
    path = tmp_path / "out.csv"
    services.write_exchange_file(county_user, exchange, "csv", path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    filled = answered(
        rows,
        {
            "黄初中": {"stage": "初中", "aided": "Yes", "aid_kinds": "营养膳食补助"},
            "蒙高中": {"stage": "Senior secondary", "aided": "no"},
        },
    )
    out = io.StringIO()
    csv.writer(out).writerows(filled)
    result = services.import_answer(county_user, exchange, "a.csv", out.getvalue().encode("gbk"))
    assert result.errors == []
    huang = ExchangeChild.objects.get(exchange=exchange, name="黄初中")
    meng = ExchangeChild.objects.get(exchange=exchange, name="蒙高中")
    assert (huang.aided, huang.stage, huang.aid_kinds) == (True, "grades_7_9", ["03"])
    assert (meng.aided, meng.stage) == (False, "senior")
    assert "黄初中" not in set(
        services.unaided_rows(county_user, exchange).values_list("name", flat=True)
    )


def test_a_later_answer_replaces_filled_rows_and_keeps_blank_ones(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """Seed 004: matched recipients come back by April, aid given by August — the August
    answer overwrites the rows it answers; a row left blank keeps the April answer."""
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    services.import_answer(
        county_user, exchange, "april.xlsx", workbook(answered(rows, {"韦小学": AID, "黄初中": NO}))
    )
    august = answered(rows, {"黄初中": {**NO, "aided": "是", "aid_kinds": "02", "amount": 500}})
    result = services.import_answer(county_user, exchange, "august.xlsx", workbook(august))
    assert result.errors == []
    assert ExchangeChild.objects.get(exchange=exchange, name="韦小学").aided is True
    assert ExchangeChild.objects.get(exchange=exchange, name="黄初中").amount == Decimal("500")
    exchange.refresh_from_db()
    assert (exchange.aided, exchange.imports) == (2, 2)


# -- the answer: every row checked, nothing written on a problem -----------------------------


def test_a_bad_answer_lists_every_problem_by_row_and_column_and_writes_nothing(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """All or nothing: an ID changed, an unknown stage, a negative amount, a yes/no that is
    neither, an aided child without a kind, a date outside the aid year (seed 004: 8月1日至
    次年7月31日), a row key repeated, one unknown, one of another exchange — each reported
    with its row and column; no row is changed."""
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    filled = answered(
        rows,
        {
            "韦小学": {**AID, "id_number": "450102201503010011"},
            "韦大学": {**AID, "stage": "博士后"},
            "韦辍学": {**AID, "amount": -5},
            "韦学前": {"aided": "也许"},
            "黄初中": {"aided": "是"},
            "蒙高中": {**AID, "aid_date": "2025-08-01"},
        },
    )
    filled.append(list(filled[1]))  # the first row again
    filled.append(["E999999-000001", *filled[1][1:]])
    filled.append([f"E{exchange.pk}-999999", *filled[1][1:]])
    before = list(ExchangeChild.objects.order_by("pk").values())
    result = services.import_answer(county_user, exchange, "bad.xlsx", workbook(filled))
    row_of = {r[COLUMN["name"]]: n for n, r in enumerate(rows[1:], start=2)}
    problems = {(e.row, e.column) for e in result.errors}
    assert problems == {
        (row_of["韦小学"], "公民身份号码"),
        (row_of["韦大学"], "学段"),
        (row_of["韦辍学"], "资助金额（元）"),
        (row_of["韦学前"], "是否资助"),
        (row_of["黄初中"], "资助项目"),
        (row_of["蒙高中"], "资助日期"),
        (8, "行号"),
        (9, "行号"),
        (10, "行号"),
    }
    messages = {(e.row, e.column): e.message for e in result.errors}
    assert "博士后" in messages[(row_of["韦大学"], "学段")]
    assert "小学" in messages[(row_of["韦大学"], "学段")]
    assert "cannot be negative" in messages[(row_of["韦辍学"], "资助金额（元）")]
    assert "2024-08-01 to 2025-07-31" in messages[(row_of["蒙高中"], "资助日期")]
    assert "also on row 2" in messages[(8, "行号")]
    assert "another exchange (no. 999999)" in messages[(9, "行号")]
    assert "must not be changed" in messages[(10, "行号")]
    assert list(ExchangeChild.objects.order_by("pk").values()) == before
    exchange.refresh_from_db()
    assert (exchange.state, exchange.imports) == (ExchangeState.EXPORTED, 0)
    assert not AuditEntry.objects.filter(action="monitor.exchange.answer").exists()


def test_an_answer_whose_ids_became_numbers_is_refused_with_the_cause(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    rows[1][COLUMN["id_number"]] = float(rows[1][COLUMN["id_number"]][:17])
    result = services.import_answer(county_user, exchange, "n.xlsx", workbook(rows))
    assert [(e.row, e.column) for e in result.errors] == [(2, "公民身份号码")]
    assert "stored as a number" in result.errors[0].message


def test_a_file_without_the_key_columns_is_refused_as_a_whole(
    families: Any, county_user: Any
) -> None:
    exchange = drawn(county_user)
    result = services.import_answer(
        county_user, exchange, "x.xlsx", workbook([["行号", "学生姓名"], ["E1-000001", "某"]])
    )
    assert [(e.row, e.column) for e in result.errors] == [(0, "")]
    assert "公民身份号码" in result.errors[0].message and "是否资助" in result.errors[0].message
    result = services.import_answer(county_user, exchange, "x.csv", b"a,b\n1,2\n")
    assert "行号" in result.errors[0].message


def test_an_answer_before_the_list_is_drawn_is_refused(families: Any, county_user: Any) -> None:
    exchange = services.create_exchange(county_user, "450102", SCHOOL_YEAR)
    with pytest.raises(ValidationError, match="Draw the list"):
        services.import_answer(county_user, exchange, "a.csv", b"")


# -- the 应助未助 list ------------------------------------------------------------------------


def test_the_list_by_county_and_school_counts_the_children(
    families: Any, province_admin: Any, tmp_path: Path
) -> None:
    """Seed 004: 按月发布县（市、区）、学校应助未助学生名单 — a province's exchange, grouped by
    county and school: 兴宁区's and 青秀区's children answered 否; those not answered are a
    section of their own, grouped the same way."""
    exchange = drawn(province_admin, "45")
    rows = sheet_rows(exported_xlsx(province_admin, exchange, tmp_path))
    filled = answered(
        rows,
        {"韦小学": NO, "黄初中": NO, "陆小学": {**NO, "school_name": "长塘小学"}, "韦大学": AID},
    )
    assert services.import_answer(province_admin, exchange, "a.xlsx", workbook(filled)).errors == []

    def table(section: str) -> list[tuple[str, str, int]]:
        rows = services.unaided_rows(province_admin, exchange, section=section)
        groups = services.unaided_by_county_and_school(rows)
        return [(g["county_name"], g["school_name"], g["children"]) for g in groups]

    assert table("unaided") == [
        ("兴宁区", "兴宁区第一中学", 2),  # 韦小学, 黄初中
        ("青秀区", "长塘小学", 1),
    ]
    assert table("not_answered") == [("兴宁区", "", 2)]  # 韦学前, 蒙高中
    assert table("not_in_school") == [("兴宁区", "", 1)]  # 韦辍学


def test_the_list_filters_and_leaves_out_households_excluded_since(
    families: Any, county_user: Any, tmp_path: Path
) -> None:
    """A household excluded (剔除) after the list was drawn is not owed aid: its children
    leave the 应助未助 list; the filters narrow it by area, school, stage and answer."""
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    services.import_answer(
        county_user, exchange, "a.xlsx", workbook(answered(rows, {"黄初中": NO}))
    )

    def names(**filters: str) -> set[str]:
        rows = services.unaided_rows(county_user, exchange, **filters)
        return set(rows.values_list("name", flat=True))

    assert names() == {"黄初中"}
    assert names(section="not_answered", area=SANTANG) == {"韦小学", "韦大学", "韦学前"}
    assert names(school="第一") == {"黄初中"}
    assert names(section="not_answered", school="-") == {"韦小学", "韦大学", "韦学前", "蒙高中"}
    assert names(section="not_in_school", stage="none") == {"韦辍学"}
    assert names(section="not_answered", stage="none") == set()
    set_status(families["meng"], "excluded")
    assert "蒙高中" not in names(section="not_answered")


def test_a_village_user_sees_only_his_villages_children(
    families: Any, county_user: Any, village_viewer: Any, tmp_path: Path
) -> None:
    """Area scoping: the county's exchange, seen from 三塘村, holds 三塘村's children only."""
    exchange = drawn(county_user)
    rows = sheet_rows(exported_xlsx(county_user, exchange, tmp_path))
    no = {name: NO for name in ("韦小学", "韦大学", "韦学前", "黄初中")}
    services.import_answer(county_user, exchange, "a.xlsx", workbook(answered(rows, no)))
    rows = services.unaided_rows(village_viewer, exchange)
    assert set(rows.values_list("name", flat=True)) == {"韦小学", "韦大学", "韦学前"}
    assert not services.unaided_rows(village_viewer, exchange, area="450102101").exists()
