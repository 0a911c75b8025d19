"""Monitoring tests: crafted households in 兴宁区 (Guangxi test tree of the root conftest),
with children of every schooling the exchange looks at, so a test sees exactly the data it
sets. The list is drawn on 15 January 2025 (school year 2024–2025), as seed 004's “每年1月底前”."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation
from openpyxl import load_workbook

from fupin.core.testing import person
from fupin.registry.models import Household

SANTANG = "450102100201"  # 三塘村 (三塘镇)
SITANG = "450102100202"  # 四塘村 (三塘镇)
WUTANG = "450102101201"  # 五塘村 (五塘镇)
CHANGTANG = "450103100201"  # 长塘村 (青秀区, another county)
DRAWN_ON = dt.date(2025, 1, 15)
SCHOOL_YEAR = 2024


@pytest.fixture(autouse=True)
def _english() -> Any:
    # Refusals are checked by their English msgids, whatever the catalogue holds.
    with translation.override("en"):
        yield


def child(name: str, born: dt.date, schooling: str, education: str = "primary", **kw: Any) -> dict:
    return person("03", name=name, born=born, schooling=schooling, education=education, **kw)


def set_status(household: Household, status: str) -> Household:
    # Test setup: the life cycle's own steps are the registry's tests' business.
    Household.objects.filter(pk=household.pk).update(status=status)
    household.refresh_from_db()
    return household


@pytest.fixture
def province_admin(make_user: Callable[..., Any]) -> Any:
    return make_user("province", "45", "administrator")


@pytest.fixture
def village_viewer(make_user: Callable[..., Any]) -> Any:
    return make_user("santang_viewer", SANTANG, "viewer")


@pytest.fixture
def county_reviewer(make_user: Callable[..., Any]) -> Any:
    return make_user("county_reviewer", "450102", "reviewer")


@pytest.fixture
def families(make_household: Callable[..., Any], province_admin: Any) -> dict[str, Household]:
    """Households with every kind of child:

    - 韦家 (三塘村, registered): 韦小学 in primary, 韦大学 at college, 韦辍学 aged 10 out of
      school, 韦初毕 aged 15 out of school with junior secondary done, 韦幼儿 aged 4 at home,
      韦学前 aged 4 in pre-school;
    - 黄家 (五塘村, registered): 黄初中 in grades 7–9;
    - 覃家 (三塘村, only surveyed): 覃小学 in primary;
    - 蒙家 (四塘村, exited): 蒙高中 at senior secondary;
    - 陆家 (长塘村, another county, registered): 陆小学 in primary.
    """
    wei = make_household(
        SANTANG,
        head_name="韦大明",
        members=[
            person(name="韦大明"),
            child("韦小学", dt.date(2015, 3, 1), "primary"),
            child("韦大学", dt.date(2004, 9, 1), "college", "senior"),
            child("韦辍学", dt.date(2014, 6, 1), "none"),
            child("韦初毕", dt.date(2009, 6, 1), "none", "junior"),
            child("韦幼儿", dt.date(2020, 6, 1), "none", "preschool_age"),
            child("韦学前", dt.date(2020, 7, 1), "preschool", "preschool_age"),
        ],
    )
    huang = make_household(
        WUTANG,
        head_name="黄二妹",
        members=[
            person(name="黄二妹", male=False),
            child("黄初中", dt.date(2011, 2, 1), "grades_7_9"),
        ],
    )
    qin = make_household(
        SANTANG,
        head_name="覃三",
        members=[person(name="覃三"), child("覃小学", dt.date(2016, 1, 1), "primary")],
    )
    meng = make_household(
        SITANG,
        head_name="蒙四",
        members=[person(name="蒙四"), child("蒙高中", dt.date(2008, 5, 1), "senior", "junior")],
    )
    from fupin.registry import services as registry

    lu = registry.create_household(
        province_admin,
        {"village": CHANGTANG, "head_name": "陆五", "main_cause": "9"},
        [person(name="陆五", area="450103"), child("陆小学", dt.date(2016, 4, 1), "primary")],
        {"year": 2016, "wage": 6000, "business": 0},
        surveyed_on=dt.date(2016, 12, 1),
    )
    for household, status in ((wei, "registered"), (huang, "registered"), (meng, "exited")):
        set_status(household, status)
    set_status(lu, "registered")
    return {"wei": wei, "huang": huang, "qin": qin, "meng": meng, "lu": lu}


#: The children of the 兴宁区 families the exchange must send (see `families`).
SENT_IN_COUNTY = {"韦小学", "韦大学", "韦辍学", "韦学前", "黄初中", "蒙高中"}


def sheet_rows(data: bytes) -> list[list[Any]]:
    """The first sheet of an xlsx, as lists of values."""
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def workbook(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
