"""The demo county's support and identification data (`fupin demo`): made through the
services, so it obeys the same rules a county office does (DOMAIN.md §4)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Q

from fupin.core.models import User
from fupin.identify.demo import load_identify_demo
from fupin.identify.models import Campaign
from fupin.registry import demo
from fupin.registry.models import Household
from fupin.support import policy
from fupin.support.models import Cadre, Pairing, Plan, ResidentTeam, Visit

pytestmark = pytest.mark.django_db
COUNTY = demo.DEFAULT_COUNTY


@pytest.fixture
def loaded(settings: Any, tmp_path: Any) -> demo.DemoResult:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    result = demo.load_demo(COUNTY, 60, seed=5, divisions="county")
    admin = User.objects.get(username=demo.demo_username("county_admin", COUNTY))
    load_identify_demo(COUNTY, admin)
    return result


def test_every_household_that_must_have_a_cadre_in_the_demo_township_has_one(
    loaded: demo.DemoResult,
) -> None:
    """Seed 004 (Anhui): no household without a cadre; at most 3 households per cadre."""
    rules = policy.rules().pairing
    township = Cadre.objects.filter(user__username="support_cadre").values_list(
        "pairings__household__village_id", flat=True
    )[0][:9]
    must = Household.objects.in_area(township).filter(status__in=rules.must_be_paired_statuses)
    assert must.exists()
    active = Q(pairings__ended_on__isnull=True)
    assert not must.annotate(n=Count("pairings", filter=active)).exclude(n=1).exists()
    busiest = Cadre.objects.annotate(n=Count("pairings", filter=active)).order_by("-n").first()
    assert busiest is not None and busiest.n <= rules.max_households_per_cadre
    assert ResidentTeam.objects.exists() and Plan.objects.exists() and Visit.objects.exists()


def test_the_demo_campaign_is_scored_against_a_third_of_the_candidates(
    loaded: demo.DemoResult,
) -> None:
    campaign = Campaign.objects.get(area_id=COUNTY)
    assert campaign.status == "scored"  # the immediate job backend under pytest
    county = campaign.counties.get()
    assert county.line is not None and county.selected_people >= county.quota_people > 0


def test_reset_removes_the_demo_support_and_campaign(loaded: demo.DemoResult) -> None:
    assert Pairing.objects.exists() and Campaign.objects.exists()
    demo.reset_county(COUNTY)
    assert not Pairing.objects.exists()
    assert not Plan.objects.exists()
    assert not Cadre.objects.exists()
    assert not Campaign.objects.filter(area_id=COUNTY).exists()
