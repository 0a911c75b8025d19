"""Village and county facts (issue 7 item 4): entered by the county through the service
(audited, source kept, each fact at its level, the evaluation's parts within their wholes,
the population not below the registered poor people) and imported from xlsx or CSV — every
problem with its row and column, and nothing written unless every row is right."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl import load_workbook

from engine.standards import COUNTY_FACTS, VILLAGE_FACTS
from fupin.core.models import Area, AreaLevel, AuditEntry
from fupin.exit import facts, services
from fupin.exit.facts_import import read_facts, template
from fupin.exit.models import AreaFacts
from fupin.exit.tests.conftest import GUANGXI_VILLAGE, GUANGXI_VILLAGE_2

YEAR = 2017


def save(user: Any, code: str = GUANGXI_VILLAGE, source: str = "村级台账", **values: Any) -> Any:
    return services.save_area_facts(user, services.FactsInput(code, YEAR, values, source))


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_every_fact_the_standards_read_is_entered_at_its_level() -> None:
    """engine/standards/FORMAT.md: the village facts and the county's own facts the
    standards read are fields of AreaFacts at their level — a name renamed on one side
    would make its items read "no data" silently."""
    for name in VILLAGE_FACTS:
        assert facts.BY_NAME[name].for_level(AreaLevel.VILLAGE), name
    derived = {"villages_without_hardened_road", "villages_without_clinic",
               "villages_without_service_centre"}  # fmt: skip
    for name in set(COUNTY_FACTS) - derived:
        assert facts.BY_NAME[name].for_level(AreaLevel.COUNTY), name


def test_save_records_values_source_and_audit(admin: Any) -> None:
    record = save(admin, rural_population=1200, has_clinic=True, collective_income=Decimal("5e4"))
    assert (record.rural_population, record.has_clinic, record.source) == (1200, True, "村级台账")
    assert record.road_hardened is None  # not given: unknown
    entry = AuditEntry.objects.get(action="exit.area_facts.save", object_id=str(record.pk))
    assert entry.after["rural_population"] == 1200 and entry.area_code == GUANGXI_VILLAGE
    # An update names only what changed; a fact not given keeps its value.
    save(admin, source="乡镇核实", has_clinic=False)
    record.refresh_from_db()
    assert record.rural_population == 1200 and record.has_clinic is False
    update = AuditEntry.objects.filter(action="exit.area_facts.save").last()
    assert update is not None
    assert update.before == {"has_clinic": True, "source": "村级台账"}
    assert update.after == {"has_clinic": False, "source": "乡镇核实"}


def test_each_fact_belongs_to_its_level(admin: Any) -> None:
    """A county fact (the 低保 line) is refused on a village, a village fact on a county."""
    with pytest.raises(ValidationError) as exc:
        save(admin, dibao_line=Decimal("3000"))
    assert "dibao_line" in errors(exc)
    with pytest.raises(ValidationError) as exc:
        save(admin, "450102", road_hardened=True)
    assert "road_hardened" in errors(exc)
    with pytest.raises(ValidationError) as exc:
        save(admin, "450102100", rural_population=10)
    assert "Facts are entered for a village or a county" in errors(exc)["area"][0]


def test_values_are_checked(admin: Any, make_user_in: Any) -> None:
    province = make_user_in("guangxi", "45", "administrator")  # enters the evaluation's figures
    with pytest.raises(ValidationError) as exc:
        save(
            province,
            "450102",
            source=" ",
            rural_population=-1,
            sample_exited_people=100,
            sample_wrongly_exited_people=101,
        )
    found = errors(exc)
    assert found["rural_population"] == ["The value cannot be negative."]
    assert "Say where the values come from" in found["source"][0]
    with pytest.raises(ValidationError) as exc:
        save(province, "450102", sample_exited_people=100, sample_wrongly_exited_people=101)
    assert "cannot exceed" in errors(exc)["sample_wrongly_exited_people"][0]
    with pytest.raises(ValidationError) as exc:
        save(admin, safe_water_percent=Decimal("101"))
    assert errors(exc)["safe_water_percent"] == ["A percentage lies between 0 and 100."]
    assert not AreaFacts.objects.exists()


def test_population_below_the_registered_poor_is_refused(admin: Any, registered: Any) -> None:
    """An incidence above 100% is a typing error: 2 registered poor people, population 1."""
    registered(admin, paired=False)
    with pytest.raises(ValidationError) as exc:
        save(admin, rural_population=1)
    assert (
        "smaller than the registered poor people of the area (2)"
        in errors(exc)["rural_population"][0]
    )


def test_only_the_county_or_above_enters_facts(admin: Any, make_user_in: Any) -> None:
    """The figures decide a village's exit: a village office does not certify its own, and
    nobody enters facts outside his area."""
    village_user = make_user_in("santang", GUANGXI_VILLAGE, "administrator")
    with pytest.raises(PermissionDenied):
        save(village_user, rural_population=10)
    viewer = make_user_in("viewer", "450102", "viewer")
    with pytest.raises(PermissionDenied):
        save(viewer, rural_population=10)
    # Outside the area: told as an unknown code (review finding 8), existence not leaked.
    with pytest.raises(ValidationError) as exc:
        save(admin, "450103100201", rural_population=10)
    assert errors(exc)["area"] == ["No area has the code 450103100201."]


# -- import --------------------------------------------------------------------------------


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8-sig")


HEADER = "区划代码,区划名称,年度,农村户籍人口（人）,通村屯硬化路,村集体收入（元）,数据来源"


def test_import_csv_writes_every_row(admin: Any) -> None:
    items = read_facts(
        csv_bytes(
            HEADER,
            f'{GUANGXI_VILLAGE},三塘村,2017,1200,是,"30,000",村级台账',
            f"{GUANGXI_VILLAGE_2},四塘村,2017年,800,否,0,",
            "450102,兴宁区,2017,40000,,,",
        ),
        default_source="县统计局",
    )
    saved = services.import_area_facts(admin, items)
    assert len(saved) == 3
    first = AreaFacts.objects.get(area_id=GUANGXI_VILLAGE, year=YEAR)
    assert (first.rural_population, first.road_hardened) == (1200, True)
    assert first.collective_income == Decimal("30000") and first.source == "村级台账"
    second = AreaFacts.objects.get(area_id=GUANGXI_VILLAGE_2)
    assert second.road_hardened is False and second.source == "县统计局"
    assert AreaFacts.objects.get(area_id="450102").rural_population == 40000
    assert AuditEntry.objects.filter(action="exit.area_facts.import").count() == 3


def test_import_reports_every_bad_cell_with_row_and_column(admin: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        read_facts(
            csv_bytes(
                HEADER + ",未知列",
                f"{GUANGXI_VILLAGE},三塘村,2017,一千,是,0,台账,",
                f"{GUANGXI_VILLAGE_2},四塘村,17,800,也许,0,台账,",
                "4501021,x,2017,,,,台账,",
            )
        )
    found = exc.value.messages
    assert "Row 1: unknown column “未知列”." in found
    assert "Row 2, 农村户籍人口（人）: “一千” is not a whole number." in found
    assert "Row 3, 年度: give the year as four digits, not “17”." in found
    assert "Row 3, 通村屯硬化路: “也许” is not yes or no (是/否)." in found
    assert any(m.startswith("Row 4, 区划代码: give the 12-digit village code") for m in found)
    assert len(found) == 5


def test_import_is_all_or_nothing(admin: Any, registered: Any) -> None:
    """One row wrong (an unknown area, a population below the poor, the same village
    twice, a county fact on a village): nothing is written, and each row is named."""
    registered(admin, paired=False)
    items = read_facts(
        csv_bytes(
            "区划代码,年度,农村户籍人口（人）,农村低保标准（元/人·年）,数据来源",
            f"{GUANGXI_VILLAGE_2},2017,900,,台账",
            f"{GUANGXI_VILLAGE},2017,1,,台账",
            "450102999201,2017,100,,台账",
            f"{GUANGXI_VILLAGE_2},2017,950,,台账",
            f"{GUANGXI_VILLAGE_2},2016,100,3000,台账",
            "450103100201,2017,100,,台账",
        )
    )
    with pytest.raises(ValidationError) as exc:
        services.import_area_facts(admin, items)
    found = exc.value.messages
    assert any(m.startswith("Row 3, 农村户籍人口（人）: The rural population (1)") for m in found)
    assert "Row 4, 区划代码: No area has the code 450102999201." in found
    assert f"Row 5, 区划代码: {GUANGXI_VILLAGE_2} 2017 is also on row 2." in found
    assert "Row 6, 农村低保标准（元/人·年）: This is not a fact of a village." in found
    assert "Row 7, 区划代码: No area has the code 450103100201." in found  # outside: the same
    assert not AreaFacts.objects.exists()


def test_import_without_area_column_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        read_facts(csv_bytes("村名,人口", "三塘村,100"))
    assert "No title row with an area code column" in exc.value.messages[0]


def test_template_round_trip(admin: Any) -> None:
    """The template lists the area's counties and villages with their stored facts; filled
    in and imported, it updates them (xlsx)."""
    save(admin, rural_population=1000, has_clinic=True)
    data = template(Area.objects.get(code="450102"), YEAR)
    wb = load_workbook(io.BytesIO(data))
    ws = wb[wb.sheetnames[0]]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    codes = [r[0] for r in rows[1:]]
    assert codes == ["450102", GUANGXI_VILLAGE, GUANGXI_VILLAGE_2, "450102101201"]
    clinic = header.index("有村卫生室和村医")
    assert rows[2][clinic] == "是"
    population = header.index("农村户籍人口（人）")
    ws.cell(row=3, column=population + 1, value=1100)
    out = io.BytesIO()
    wb.save(out)
    items = read_facts(out.getvalue())
    services.import_area_facts(admin, [i for i in items if i.area_code == GUANGXI_VILLAGE])
    record = AreaFacts.objects.get(area_id=GUANGXI_VILLAGE, year=YEAR)
    assert record.rural_population == 1100 and record.has_clinic is True
