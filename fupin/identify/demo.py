"""The identification half of `fupin demo`: a 2019 campaign over the demo county, scored
on the shipped scorecard (DOMAIN.md §2–3), through `fupin.identify.services`.

The demo's registry holds the households surveyed in 2017 that were never identified; the
campaign scores them and draws the county's line from its quota. Scoring is a job: with
`make demo` the worker beside the server runs it; on the immediate backend (the tests) it
runs at once.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from fupin.core import audit, jobs
from fupin.core.models import User
from fupin.identify import services
from fupin.identify.models import Campaign, CampaignHousehold
from fupin.registry.demo import DEMO_MARK
from fupin.registry.models import Household, Member

NAME = "2019年精准识别（演示）"
YEAR = 2019
#: The quota: about this share of the people of the surveyed households (the candidates).
QUOTA_SHARE = 1 / 3


def demo_campaign(county: str) -> Campaign | None:
    """The county's demo campaign, if it was made."""
    return Campaign.objects.filter(area_id=county, name=NAME).order_by("-pk").first()


def load_identify_demo(county: str, admin: User) -> Campaign | None:
    """Open the demo campaign with its quota and start scoring it; None when the county has
    no surveyed household left to identify or the campaign exists already."""
    if demo_campaign(county) is not None:
        return None
    candidates = Household.objects.in_area(county).filter(status__in=services.CANDIDATE_STATUSES)
    people = Member.objects.filter(household__in=candidates, left_on__isnull=True).count()
    if not people:
        return None
    scorecards = services.install_shipped_scorecards()
    # The demo county is Guangxi's; the Guangxi-style card is the one shipped.
    scorecard = next((s for s in scorecards if "guangxi" in s.name.lower()), scorecards[0])
    campaign = services.create_campaign(
        admin, area_code=county, name=NAME, year=YEAR, scorecard=scorecard
    )
    services.set_quotas(
        admin, campaign, {county: round(people * QUOTA_SHARE)}, reason=f"{DEMO_MARK}：统计部门规模"
    )
    services.score_campaign(admin, campaign)
    campaign.refresh_from_db()
    return campaign


def campaign_line(campaign: Campaign) -> dict[str, Any]:
    """What the demo's report says of the campaign: its quota and the scoring job's state."""
    county = campaign.counties.first()
    job = campaign.score_job
    return {
        "name": campaign.name,
        "quota": county.quota_people if county else 0,
        "status": campaign.get_status_display(),
        "job": job.get_state_display() if job else "",
    }


def reset_identify_demo(county: str) -> int:
    """Delete the campaigns over the county (their scores, records and decisions go with
    them), before the demo's households are deleted; returns how many. A campaign over a
    wider area that includes the county's households is real work of several counties:
    the reset is refused (ValueError) rather than cut into it. Audited."""
    wider = (
        CampaignHousehold.objects.filter(village__code__startswith=county)
        .filter(~Q(campaign__area_id=county))
        .values_list("campaign__name", flat=True)
        .distinct()
    )
    if wider:
        raise ValueError(
            f"campaigns over a wider area include households of county {county}: "
            f"{', '.join(wider)}; refusing to delete them"
        )
    campaigns = Campaign.objects.filter(area_id=county)
    names = list(campaigns.values_list("name", flat=True))
    if not names:
        return 0
    # A scoring job still waiting for the worker would look for a campaign that is gone.
    for campaign in campaigns.filter(score_job__isnull=False).select_related("score_job"):
        assert campaign.score_job is not None
        jobs.request_cancel(campaign.score_job)
    campaigns.delete()
    audit.record(
        user=None,
        action="identify.demo.reset",
        object_type="core.area",
        object_id=county,
        area_code=county,
        before={"campaigns": names},
        after={"campaigns": []},
        reason=f"{DEMO_MARK}：fupin demo --reset",
    )
    return len(names)
