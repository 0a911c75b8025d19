"""Scoring a campaign as a job over the registry (issue 4 item 5; DOMAIN.md §3 cutoff by
quota): registry snapshot → engine score → per-county cutoff → stored with every item's
points."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from engine.scorecard import parse_scorecard
from fupin.core.models import JobState
from fupin.identify import services
from fupin.identify.models import CampaignCounty, CampaignHousehold, CampaignStatus
from fupin.registry import services as registry_services


@pytest.fixture
def county(county_user: Any, make_household: Any) -> list[Any]:
    made = []
    for i, (village, area) in enumerate(
        [("450102100201", 20), ("450102100201", 60), ("450102100202", 140), ("450102101201", 35)]
    ):
        made.append(make_household(village=village, head_name=f"户主{i}", housing_area_m2=area))
    return made


def campaign_for(user: Any, quota: int) -> Any:
    card = services.install_shipped_scorecards()[0]
    campaign = services.create_campaign(
        user, area_code="450102", name="2016 识别", year=2016, scorecard=card
    )
    services.set_quotas(user, campaign, {"450102": str(quota)})
    return campaign


def test_scoring_stores_every_candidates_points_and_draws_the_line(
    county_user: Any, county: list[Any]
) -> None:
    """The line is the score at which the cumulative people reach the quota, poorest
    first; each household keeps its per-item points so the page can say why."""
    campaign = campaign_for(county_user, 4)
    job = services.score_campaign(county_user, campaign)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCORED
    rows = list(
        CampaignHousehold.objects.filter(campaign=campaign).order_by("score", "household_id")
    )
    assert {r.household_id for r in rows} == {h.pk for h in county}
    card = parse_scorecard(campaign.scorecard.text)
    for r in rows:
        assert set(r.points) == {i.id for i in card.scored_items}
        assert sum(r.points.values()) == r.score
        assert r.on_list == r.selected
    line = CampaignCounty.objects.get(campaign=campaign).line
    # Each household has 2 people: the quota of 4 is reached at the second poorest.
    assert line == rows[1].score
    assert {r.household_id for r in rows if r.selected} == {
        r.household_id for r in rows if r.score <= line and not r.vetoed
    }


def test_only_surveyed_households_are_candidates(county_user: Any, county: list[Any]) -> None:
    """DOMAIN.md §2: identification proposes surveyed households; one already on its way
    (proposed) is not scored again."""
    registry_services.transition_household(
        county_user, county[0], "propose", reason="上次识别", date=dt.date(2016, 12, 5)
    )
    campaign = campaign_for(county_user, 4)
    services.score_campaign(county_user, campaign)
    ids = set(
        CampaignHousehold.objects.filter(campaign=campaign).values_list("household_id", flat=True)
    )
    assert county[0].pk not in ids and len(ids) == 3


def test_scoring_refuses_a_county_without_quota(make_user: Any, county: list[Any]) -> None:
    """Issue 4 item 4: a county without a quota is an error — guessing one decides who is poor."""
    city = make_user("city", "4501", "administrator")
    card = services.install_shipped_scorecards()[0]
    campaign = services.create_campaign(
        city, area_code="4501", name="南宁市识别", year=2016, scorecard=card
    )
    services.set_quotas(city, campaign, {"450103": "10"})
    with pytest.raises(ValidationError) as exc:
        services.score_campaign(city, campaign)
    assert "450102" in str(exc.value)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
