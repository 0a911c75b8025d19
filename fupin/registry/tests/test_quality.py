"""The national data-quality rules, DOMAIN.md §9 (全国扶贫开发信息系统): a household that
breaks one is listed for correction, not silently accepted."""

import datetime as dt

import pytest

from fupin.core.testing import person
from fupin.registry import quality, services
from fupin.registry.models import Household, Member


def rules_of(h):
    return set(h.quality_issues.values_list("rule", flat=True))


@pytest.mark.django_db
def test_clean_household_has_no_findings(make_household):
    h = make_household()
    assert rules_of(h) == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "members", "rule"),
    [
        ({"main_cause": "1"}, None, "cause_illness_all_healthy"),  # 因病 but all healthy
        ({"main_cause": "3"}, None, "cause_schooling_no_student"),  # 因学 but no student
        ({"main_cause": "2"}, None, "cause_disability_no_disabled"),  # 因残, nobody disabled
        ({"attribute": "dibao"}, None, "dibao_without_dibao_member"),  # 低保户, no 低保 member
        ({"attribute": "tekun"}, None, "tekun_with_labourer"),  # 五保户 with a labourer 16–65
        ({"farmland_mu": 120}, None, "farmland_too_large"),  # > 50 亩 per person
        ({"forest_mu": 150}, None, "forest_too_large"),  # > 70 亩 per person
        ({}, [person(), person("02", male=True)], "head_spouse_same_sex"),
        ({}, [person("03")], "head_count"),
    ],
)
def test_each_rule_flags_its_case(make_household, fields, members, rule):
    h = make_household(members=members, **fields)
    assert rule in rules_of(h)


@pytest.mark.django_db
def test_business_income_without_cost_and_income_range(make_household):
    h = make_household(income={"year": 2016, "business": 5000})
    assert "business_income_without_cost" in rules_of(h)
    poor = make_household(income={"year": 2016, "wage": 0})
    assert "income_out_of_range" in rules_of(poor)  # per-capita ≤ 0
    rich = make_household(income={"year": 2016, "wage": 300000})
    assert "income_out_of_range" in rules_of(rich)  # > 100,000


@pytest.mark.django_db
def test_the_same_person_in_two_households_is_found_at_its_level(make_household, make_user):
    head = person()
    make_household(members=[head])
    twin = make_household(village="450102101201", members=[{**head, "name": "张三"}])
    assert "duplicate_person_county" in rules_of(twin)
    city = make_user("city", "4501", "data_officer")
    elsewhere = services.create_household(
        city, {"village": "450103100201", "head_name": "张三"}, [head]
    )
    assert "duplicate_person_city" in rules_of(elsewhere)


@pytest.mark.django_db
def test_migrant_months_rule_catches_loaded_data(make_household):
    """Forms refuse months > 12 outright; data loaded in bulk is caught by the rule."""
    h = make_household()
    Member.objects.filter(household=h, relation="01").update(migrant_months=14)
    h = Household.objects.get(pk=h.pk)
    assert "migrant_months_out_of_range" in {f.rule for f in quality.evaluate(h)}


@pytest.mark.django_db
def test_fixing_the_data_clears_the_warning(make_household, county_user):
    h = make_household(main_cause="1")
    assert "cause_illness_all_healthy" in rules_of(h)
    head = h.members.get(relation="01")
    services.save_member(county_user, h, {"has_serious_illness": True}, member=head)
    assert "cause_illness_all_healthy" not in rules_of(h)


@pytest.mark.django_db
def test_thresholds_are_versioned_data():
    t = quality.thresholds(dt.date(2017, 1, 1))
    assert t["max_farmland_mu_per_person"] == 50
    assert t["max_per_capita_income"] == 100000
    with pytest.raises(LookupError):
        quality.thresholds(dt.date(2000, 1, 1))


@pytest.mark.django_db
def test_batch_report_counts_by_sub_area(make_household, county_user):
    make_household(main_cause="1")
    make_household(village="450102101201", main_cause="1")
    make_household(village="450102101201")
    assert services.recheck_quality(county_user, "450102") == 3
    rows = quality.report(Household.objects.for_user(county_user), 9)
    by_area = {(r["area"], r["rule"]): r["households"] for r in rows}
    assert by_area[("450102100", "cause_illness_all_healthy")] == 1
    assert by_area[("450102101", "cause_illness_all_healthy")] == 1


@pytest.mark.django_db
def test_console_report_lists_problems_by_sub_area(make_household):
    from io import StringIO

    from django.core.management import call_command

    make_household(main_cause="1")
    out = StringIO()
    call_command("quality", "report", "--area", "450102", "--recheck", stdout=out)
    text = out.getvalue()
    assert "450102100 三塘镇" in text
    assert str(quality.TITLES["cause_illness_all_healthy"]) in text
