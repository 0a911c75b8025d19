"""Registered poor people without insurance (issue 7 item 6, “likewise for health”; DOMAIN.md
§4 health aid and §9 insurance fields): without basic medical insurance (基本医疗保险) — the
ground of seed 004's 351 cover, which pays only after the insurance — and without
serious-illness insurance (大病保险), by county, township and village."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fupin.core.testing import person
from fupin.monitor import services
from fupin.monitor.tests.conftest import SANTANG, SITANG, WUTANG, set_status


@pytest.fixture
def insured(make_household: Any) -> dict[str, Any]:
    """三塘村: two registered households with one uninsured member each (one of them has
    also left the household), and a surveyed household with an uninsured member; 四塘村: an
    exited household with two uninsured; 五塘村: a registered household, all insured, none
    with serious-illness insurance."""
    a = make_household(
        SANTANG,
        members=[
            person(name="甲一", has_medical_insurance=False),
            person("02", name="甲二", male=False, has_serious_illness_insurance=True),
        ],
    )
    b = make_household(
        SANTANG,
        members=[person(name="乙一"), person("03", name="乙二", has_medical_insurance=False)],
    )
    c = make_household(SANTANG, members=[person(name="丙一", has_medical_insurance=False)])
    d = make_household(
        SITANG,
        members=[
            person(name="丁一", has_medical_insurance=False),
            person("02", name="丁二", male=False, has_medical_insurance=False),
        ],
    )
    e = make_household(WUTANG, members=[person(name="戊一"), person("02", name="戊二", male=False)])
    for h, status in ((a, "registered"), (b, "registered"), (d, "exited"), (e, "registered")):
        set_status(h, status)
    # A member who left (moved out) is no longer the household's: not on the list.
    from fupin.registry.models import Member

    Member.objects.filter(name="乙二").update(left_on=dt.date(2020, 1, 1), left_reason="moved_out")
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_people_without_basic_insurance_by_village(insured: Any, county_user: Any) -> None:
    """Registered poor people (exited ones included, 脱贫不脱政策) without basic medical
    insurance, by village; not a surveyed household's member, not a member who left."""
    groups = services.uninsured_by_area(county_user, "basic", "village")
    assert [
        (g["code"], g["name"], g["people"], g["uninsured"], g["households"]) for g in groups
    ] == [
        (SANTANG, "三塘村", 3, 1, 1),
        (SITANG, "四塘村", 2, 2, 1),
    ]
    names = set(services.uninsured_members(county_user, "basic").values_list("name", flat=True))
    assert names == {"甲一", "丁一", "丁二"}


def test_by_township_and_county(insured: Any, county_user: Any) -> None:
    assert [
        (g["name"], g["people"], g["uninsured"])
        for g in services.uninsured_by_area(county_user, "basic", "township")
    ] == [("三塘镇", 5, 3)]
    assert [
        (g["name"], g["people"], g["uninsured"])
        for g in services.uninsured_by_area(county_user, "basic", "county")
    ] == [("兴宁区", 7, 3)]


def test_serious_illness_insurance_list(insured: Any, county_user: Any) -> None:
    """The same for serious-illness insurance (大病保险): everyone but 甲二 lacks it."""
    groups = services.uninsured_by_area(county_user, "serious", "village")
    assert [(g["name"], g["uninsured"]) for g in groups] == [
        ("三塘村", 2),
        ("四塘村", 2),
        ("五塘村", 2),
    ]


def test_the_list_is_one_aggregate_query(
    insured: Any, county_user: Any, django_assert_num_queries: Any
) -> None:
    """An aggregate query (and one for the area names), not a loop over people."""
    with django_assert_num_queries(2):
        services.uninsured_by_area(county_user, "basic", "village")


def test_the_list_is_scoped_to_the_users_area(insured: Any, make_user: Any) -> None:
    village_user = make_user("sitang", SITANG, "viewer")
    groups = services.uninsured_by_area(village_user, "basic", "village")
    assert [g["code"] for g in groups] == [SITANG]
    assert not services.uninsured_members(village_user, "basic", SANTANG).exists()


def test_an_unknown_kind_or_level_is_an_error(county_user: Any) -> None:
    with pytest.raises(ValueError):
        services.uninsured_by_area(county_user, "dental", "village")
    with pytest.raises(ValueError):
        services.uninsured_by_area(county_user, "basic", "hamlet")
