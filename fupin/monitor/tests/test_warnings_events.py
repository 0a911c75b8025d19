"""Risk events (风险事件): recorded one by one, imported from a department's file all or
nothing, and written to events.parquet for the warning job (engine/warning_rules/FORMAT.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fupin.core.models import AuditEntry
from fupin.monitor import services, warnings
from fupin.monitor.models import RiskEvent
from fupin.monitor.tests.conftest import CHANGTANG, SANTANG, WUTANG, workbook


@pytest.fixture
def homes(make_household: Any) -> dict[str, Any]:
    return {
        "santang": make_household(SANTANG, head_name="韦一"),
        "wutang": make_household(WUTANG, head_name="黄二"),
    }


def test_record_an_event(homes: Any, county_user: Any) -> None:
    h = homes["santang"]
    member = h.members.first()
    event = services.record_event(
        county_user,
        h,
        kind="dropout",
        date=dt.date(2020, 3, 1),
        person=member,
        source="教育局",
        note="初二辍学",
    )
    assert event.person == member and event.recorded_by == county_user
    assert AuditEntry.objects.filter(
        action="monitor.event.record", object_id=str(event.pk)
    ).exists()


def test_an_event_is_checked(homes: Any, county_user: Any) -> None:
    """The date not in the future; an amount ≥ 0, required for a medical expense or a
    disaster (the rules sum it: anhui-2017.toml, seed 004); the person of the household."""
    h = homes["santang"]
    stranger = homes["wutang"].members.first()
    with pytest.raises(ValidationError) as exc:
        services.record_event(
            county_user,
            h,
            kind="medical_expense",
            date=dt.date.today() + dt.timedelta(days=1),
            source="",
            person=stranger,
        )
    assert set(exc.value.message_dict) == {"date", "amount", "source", "person"}
    with pytest.raises(ValidationError) as exc:
        services.record_event(
            county_user,
            h,
            kind="disaster",
            date=dt.date(2020, 3, 1),
            source="应急管理局",
            amount=Decimal("-1"),
        )
    assert set(exc.value.message_dict) == {"amount"}
    assert not RiskEvent.objects.exists()


def test_recording_is_scoped(homes: Any, make_user: Any) -> None:
    wutang = make_user("wutang", "450102101", "data_officer")
    with pytest.raises(PermissionDenied):
        services.record_event(
            wutang, homes["santang"], kind="dropout", date=dt.date(2020, 3, 1), source="村报告"
        )
    viewer = make_user("viewer", "450102", "viewer")
    with pytest.raises(PermissionDenied):
        services.record_event(
            viewer, homes["santang"], kind="dropout", date=dt.date(2020, 3, 1), source="村报告"
        )


def test_import_all_or_nothing_with_row_and_column(homes: Any, county_user: Any) -> None:
    h, other = homes["santang"], homes["wutang"]
    member = h.members.first()
    good = workbook(
        [
            ["身份证号", "户编号", "事件类型", "日期", "金额（元）", "来源"],
            [member.id_number, "", "大额医疗支出", "2020-03-01", "12000", "卫健委"],
            ["", other.code, "disaster", "2020/05/01", 3000, ""],
            ["", h.code, "危房", "20200601", "", "住建局"],
        ]
    )
    bad = workbook(
        [
            ["身份证号", "户编号", "事件类型", "日期", "金额（元）", "来源"],
            [member.id_number, other.code, "大额医疗支出", "2020-03-01", "12000", "卫健委"],
            ["", "4501021002019999", "灾害", "2020-05-01", "3000", "应急管理局"],
            ["", h.code, "中彩票", "2020-05-01", "", "村报告"],
            ["", h.code, "medical_expense", "2020-13-01", "", "卫健委"],
            ["", h.code, "medical_expense", "2020-03-01", "", "卫健委"],
            ["", h.code, "disaster", "2099-01-01", "-5", "卫健委"],
            ["", h.code, "disaster", "2020-04-01", "100", ""],
        ]
    )
    result = services.import_events(county_user, "450102", "bad.xlsx", bad)
    assert result.created == 0 and not RiskEvent.objects.exists()
    found = {(e.row, e.column) for e in result.errors}
    assert found == {
        (2, "户编号"),  # the ID's household is another
        (3, "户编号"),  # no such household
        (4, "事件类型"),
        (5, "日期"),
        (5, "金额（元）"),  # every problem of a row, not the first only
        (6, "金额（元）"),  # required for a medical expense
        (7, "日期"),  # in the future
        (7, "金额（元）"),  # negative
        (8, "来源"),  # no source and none given for the file
    }
    result = services.import_events(county_user, "450102", "good.xlsx", good, source="应急管理局")
    assert not result.errors and result.created == 3
    events = {e.kind: e for e in RiskEvent.objects.all()}
    assert events["medical_expense"].person == member
    assert events["medical_expense"].amount == Decimal("12000.00")
    assert events["disaster"].household == other and events["disaster"].source == "应急管理局"
    assert events["house_dilapidated"].date == dt.date(2020, 6, 1)
    assert AuditEntry.objects.filter(action="monitor.event.import").count() == 1


def test_import_a_csv_in_gbk(homes: Any, county_user: Any) -> None:
    h = homes["santang"]
    text = f"户编号,事件类型,日期,来源\r\n{h.code},贷款逾期,2020-02-02,银行\r\n"
    result = services.import_events(county_user, "450102", "loans.csv", text.encode("gbk"))
    assert not result.errors and result.created == 1
    assert RiskEvent.objects.get().kind == "loan_overdue"


def test_import_refuses_a_household_outside_the_area(
    homes: Any, make_household: Any, county_user: Any, make_user: Any
) -> None:
    santang_user = make_user("santang", "450102100", "administrator")
    text = f"户编号,事件类型,日期,来源\r\n{homes['wutang'].code},辍学,2020-02-02,教育局\r\n"
    result = services.import_events(santang_user, "450102100", "x.csv", text.encode())
    assert [(e.row, e.column) for e in result.errors] == [(2, "户编号")]
    with pytest.raises(PermissionDenied):
        services.import_events(santang_user, "450102", "x.csv", text.encode())


def test_import_without_the_columns(county_user: Any, areas: Any) -> None:
    result = services.import_events(
        county_user, "450102", "x.csv", "姓名,日期\r\n张三,2020-01-01\r\n".encode()
    )
    assert result.errors and result.errors[0].row == 0


def test_events_parquet_has_the_engines_columns(
    homes: Any, county_user: Any, tmp_path: Any, make_household: Any, province_admin: Any
) -> None:
    h = homes["santang"]
    services.record_event(
        county_user,
        h,
        kind="loan_overdue",
        date=dt.date(2020, 6, 1),
        source="银行",
        amount=Decimal("20000"),
    )
    services.record_event(county_user, h, kind="dropout", date=dt.date(2018, 6, 1), source="教育局")
    n = warnings.write_events(
        county_user, "450102", tmp_path / "events.parquet", dt.date(2020, 6, 30)
    )
    table = pq.read_table(tmp_path / "events.parquet")
    assert n == 1  # the dropout of 2018 lies outside every rule's window
    assert table.column_names == ["household_id", "person_id", "kind", "date", "amount", "source"]
    assert table.to_pylist()[0]["kind"] == "loan_overdue"
    # Another county's events are not written.
    assert (
        warnings.write_events(county_user, CHANGTANG, tmp_path / "e2.parquet", dt.date(2020, 6, 30))
        == 0
    )
