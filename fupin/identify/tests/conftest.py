"""A scored campaign in 兴宁区 (450102) without running the engine: crafted scores, so the
procedure's tests know exactly who is on the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fupin.identify import services
from fupin.identify.models import Campaign, CampaignHousehold

# village → [(score, people, vetoed, selected)]
CRAFTED = {
    "450102100201": [(20, 2, False, True), (25, 3, False, True), (40, 4, False, False)],
    "450102100202": [(22, 2, False, True), (30, 2, True, False)],
    "450102101201": [(18, 1, False, True), (41, 2, False, False)],
}


def signature(name: str = "record.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\xff\xd8 signed record scan", content_type="image/jpeg")


@pytest.fixture
def campaign(county_user: Any, make_household: Callable[..., Any]) -> Campaign:
    card = services.install_shipped_scorecards()[0]
    campaign = services.create_campaign(
        county_user, area_code="450102", name="2016 识别", year=2016, scorecard=card
    )
    services.set_quotas(county_user, campaign, {"450102": "8"})
    scored = []
    n = 0
    for village, rows in CRAFTED.items():
        for score, people, vetoed, selected in rows:
            n += 1
            h = make_household(village=village, head_name=f"户主{n}")
            scored.append(
                services.ScoredHousehold(
                    household_id=h.pk,
                    county_code="450102",
                    people=people,
                    score=score,
                    vetoed=vetoed,
                    selected=selected,
                    near_line=abs(score - 25) <= 2,
                    points={"household_size": 2, "attribute": score - 2},
                    vetoes=["car"] if vetoed else [],
                )
            )
    services.store_scores(
        county_user,
        campaign,
        scored,
        [services.CountyLine("450102", 25, 8, 4, 0)],
    )
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def areas_of_level(areas: dict[str, Any]) -> Callable[[str], list[str]]:
    lengths = {"village": 12, "township": 9, "county": 6}

    def pick(level: str) -> list[str]:
        return sorted(c for c in areas if len(c) == lengths[level] and c.startswith("450102"))

    return pick


@pytest.fixture
def run_steps(
    county_user: Any, areas_of_level: Callable[[str], list[str]]
) -> Callable[..., dt.date]:
    """Record steps [start, stop) everywhere, each a day (a notice its period) after the last;
    returns the date of the last record."""

    def run(
        campaign: Campaign, start: int, stop: int, day: dt.date = dt.date(2017, 1, 3)
    ) -> dt.date:
        for index in range(start, stop):
            step = campaign.steps[index]
            for code in areas_of_level(step.level):
                services.record_step(
                    county_user,
                    campaign,
                    step_index=index,
                    area_code=code,
                    date=day,
                    participants="村两委、驻村工作队、村民代表",
                    signatures=[signature()],
                )
            day += dt.timedelta(days=step.days or 1)
        return day - dt.timedelta(days=1)

    return run


def household(campaign: Campaign, score: int) -> CampaignHousehold:
    return CampaignHousehold.objects.get(campaign=campaign, score=score)
