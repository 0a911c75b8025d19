"""The registry services: one way in, validated, computed, audited."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fupin.core.models import AuditEntry
from fupin.core.services import StaleEdit
from fupin.core.testing import person
from fupin.registry import services
from fupin.registry.models import Household


@pytest.mark.django_db
def test_create_computes_size_and_per_capita_income(make_household):
    """DOMAIN.md §9: per-capita net income = (all income − business costs) ÷ household size."""
    h = make_household(
        members=[person(), person("02", male=False), person("03", born=dt.date(2005, 1, 1))],
        income={"year": 2016, "wage": 6000, "business": 3000, "business_cost": 1500},
    )
    assert h.people == 3
    assert h.per_capita_income == Decimal("2500.00")
    assert h.code == "4501021002010001"
    assert AuditEntry.objects.filter(object_id=str(h.pk), action="registry.household.create")


@pytest.mark.django_db
def test_bad_id_rejects_everything(county_user, areas):
    """Validate first, commit all or nothing: one bad ID and no household is written."""
    bad = person()
    bad["id_number"] = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        services.create_household(
            county_user,
            {"village": "450102100201", "head_name": "李四"},
            [person(), bad],
        )
    assert "members.1.id_number" in exc.value.message_dict
    assert not Household.objects.exists()


@pytest.mark.django_db
def test_stale_edit_is_refused(make_household, county_user):
    h = make_household()
    services.update_household(county_user, h, {"phone": "13800000000"}, expected_version=1)
    with pytest.raises(StaleEdit):
        services.update_household(county_user, h, {"phone": "13900000000"}, expected_version=1)
    assert Household.objects.get(pk=h.pk).phone == "13800000000"


@pytest.mark.django_db
def test_village_user_cannot_create_outside_its_village(make_user, areas):
    user = make_user("v", "450102100201", "data_officer")
    with pytest.raises(ValidationError) as exc:
        services.create_household(
            user, {"village": "450102100202", "head_name": "王五"}, [person()]
        )
    assert "village" in exc.value.message_dict


@pytest.mark.django_db
def test_transition_needs_reason_and_keeps_history(make_household, county_user):
    h = make_household()
    with pytest.raises(ValidationError):
        services.transition_household(county_user, h, "propose", reason=" ")
    services.transition_household(county_user, h, "propose", reason="评分低于分数线")
    services.transition_household(county_user, h, "start_notice", reason="村内公示7天")
    with pytest.raises(ValidationError):
        services.transition_household(county_user, h, "exit", reason="not allowed from notice")
    h.refresh_from_db()
    assert h.status == "in_notice"
    assert list(h.status_changes.values_list("to_status", flat=True)) == [
        "proposed",
        "in_notice",
    ]


@pytest.mark.django_db
def test_viewer_cannot_edit(make_household, make_user):
    h = make_household()
    viewer = make_user("viewer", "450102", "viewer")
    with pytest.raises(PermissionDenied):
        services.update_household(viewer, h, {"phone": "1"}, expected_version=None)


@pytest.mark.django_db
def test_saving_without_a_change_is_not_a_change(make_household, county_user):
    h = make_household()
    entries = AuditEntry.objects.count()
    same = services.update_household(county_user, h, {"phone": h.phone}, expected_version=1)
    assert same.version == 1
    assert AuditEntry.objects.count() == entries


@pytest.mark.django_db
def test_member_changes_move_the_callers_version_on(make_household, county_user):
    h = make_household()
    services.save_member(county_user, h, person("03", born=dt.date(2010, 1, 1)), expected_version=1)
    assert h.version == 2
    services.set_income(county_user, h, {"year": 2016, "wage": 9000}, expected_version=2)
    assert h.version == 3
    assert Household.objects.get(pk=h.pk).people == 3


@pytest.mark.django_db
def test_a_member_leaves_once(make_household, county_user):
    h = make_household()
    spouse = h.members.get(relation="02")
    services.remove_member(county_user, spouse, dt.date(2016, 5, 1), "death", reason="病故")
    with pytest.raises(ValidationError):
        services.remove_member(county_user, spouse, dt.date(2016, 6, 1), "death")
    spouse.refresh_from_db()
    assert spouse.left_on == dt.date(2016, 5, 1)
    assert Household.objects.get(pk=h.pk).people == 1


@pytest.mark.django_db
def test_no_step_before_the_household_visit(make_household, county_user):
    """DOMAIN.md §2: every transition is dated; the life cycle starts at the survey visit."""
    h = make_household(surveyed_on=dt.date(2016, 12, 1))
    with pytest.raises(ValidationError) as exc:
        services.transition_household(
            county_user, h, "propose", reason="评分低", date=dt.date(2016, 11, 30)
        )
    assert "date" in exc.value.message_dict
    services.transition_household(
        county_user, h, "propose", reason="评分低", date=dt.date(2016, 12, 1)
    )
