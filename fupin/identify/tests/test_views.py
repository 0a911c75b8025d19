"""The identification pages (issue 4 item 5): campaigns, counties, a household's score
explained, the procedure's records and objections, the report — area-scoped throughout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from fupin.core.models import JobRun, JobState
from fupin.identify import services
from fupin.identify.models import (
    Campaign,
    CampaignCounty,
    CampaignHousehold,
    CampaignStatus,
    Decision,
    Objection,
    ObjectionStatus,
    StepRecord,
)
from fupin.identify.tests.conftest import household, signature

VILLAGE = "450102100201"  # 三塘村
OTHER_VILLAGE = "450102100202"  # 四塘村
DAY = dt.date(2017, 1, 3)


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"identify:{name}", args=args)


@pytest.fixture
def admin_client(client: Client, county_user: Any) -> Client:
    return login(client, county_user)


@pytest.fixture
def cadre(make_user: Callable[..., Any]) -> Any:
    """A village cadre of 三塘村 (data officer: may see and record steps)."""
    return make_user("cadre", VILLAGE, "data_officer")


@pytest.fixture
def draft(county_user: Any) -> Campaign:
    card = services.install_shipped_scorecards()[0]
    return services.create_campaign(
        county_user, area_code="450102", name="2016 兴宁区识别", year=2016, scorecard=card
    )


def test_every_page_renders_for_the_county_administrator(
    admin_client: Client, campaign: Campaign, county_user: Any
) -> None:
    target = household(campaign, 25)
    pages = [
        reverse("identify:campaign_list"),
        url("campaign_create"),
        url("campaign_detail", campaign.pk),
        url("county_detail", campaign.pk, "450102"),
        url("household_score", campaign.pk, target.pk),
        url("step_list", campaign.pk),
        url("step_record", campaign.pk),
        url("campaign_report", campaign.pk),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    detail = admin_client.get(url("campaign_detail", campaign.pk)).content.decode()
    assert "两入户、两评议、两审核、两公示、一公告" in detail or "Two visits" in detail
    assert url("county_detail", campaign.pk, "450102") in detail
    home = admin_client.get("/").content.decode()
    assert reverse("identify:campaign_list") in home  # the nav link


def test_campaign_form_opens_a_campaign_with_the_shipped_defaults(
    admin_client: Client, county_user: Any
) -> None:
    """The shipped scorecard is offered on a fresh database; the procedure defaults to the
    province's (procedures.toml: Guangxi for 45) and the line to the year's (policy)."""
    page = admin_client.get(url("campaign_create"))
    form = page.context["form"]
    assert form.fields["scorecard"].queryset.exists()
    assert form.fields["procedure"].initial == "guangxi-2015"
    response = admin_client.post(
        url("campaign_create"),
        {
            "area": "450102",
            "name": "2016 识别",
            "year": "2016",
            "scorecard": form.fields["scorecard"].queryset.first().pk,
            "poverty_line": "",
            "procedure": "guangxi-2015",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("campaign_detail", campaign.pk)
    assert campaign.poverty_line == services.policy.poverty_line(2016)


def test_campaign_form_shows_the_services_refusal_on_its_field(
    admin_client: Client, county_user: Any
) -> None:
    page = admin_client.get(url("campaign_create"))
    card = page.context["form"].fields["scorecard"].queryset.first()
    response = admin_client.post(
        url("campaign_create"),
        {"area": "450102", "name": "x", "year": "1999", "scorecard": card.pk,
         "procedure": "guangxi-2015"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["year"]
    assert not Campaign.objects.exists()


def test_village_cadre_sees_the_county_campaign_but_only_own_households(
    client: Client, campaign: Campaign, cadre: Any
) -> None:
    """DOMAIN.md §3 / scoping: a county's campaign is seen by its village cadres, who see
    only their own village's households in it."""
    login(client, cadre)
    listing = client.get(reverse("identify:campaign_list")).content.decode()
    assert campaign.name in listing
    county = client.get(url("county_detail", campaign.pk, "450102"))
    assert county.status_code == 200
    # 三塘村's non-vetoed households score 20, 25 and 40; nothing of 四塘村 or 五塘村.
    assert county.context["table"]["rows"] == [[20, 1], [25, 1], [40, 1]]
    near = list(county.context["near"])
    assert [c.village_id for c in near] == [VILLAGE]
    own = household(campaign, 20)
    other = household(campaign, 22)  # 四塘村
    assert client.get(url("household_score", campaign.pk, own.pk)).status_code == 200
    assert client.get(url("household_score", campaign.pk, other.pk)).status_code == 404


def test_a_campaign_outside_the_users_area_is_404(
    client: Client, campaign: Campaign, make_user: Callable[..., Any]
) -> None:
    login(client, make_user("other", "450103", "administrator"))
    assert client.get(url("campaign_detail", campaign.pk)).status_code == 404
    assert client.get(url("county_detail", campaign.pk, "450102")).status_code == 404


def test_county_page_shows_the_line_on_the_histogram_and_the_households_near_it(
    admin_client: Client, campaign: Campaign
) -> None:
    response = admin_client.get(url("county_detail", campaign.pk, "450102"))
    option = response.context["option"]
    assert option["series"][0]["markLine"]["data"][0]["xAxis"] == "25"
    # The vetoed household (30, 四塘村) is not in the distribution.
    assert [30, 1] not in response.context["table"]["rows"]
    html = response.content.decode()
    assert 'id="score-histogram-option"' in html
    assert reverse("registry:household_detail", args=[household(campaign, 25).household_id]) in html


def test_household_explanation_lists_items_with_their_maximum_and_the_vetoes(
    admin_client: Client, campaign: Campaign
) -> None:
    """Issue 4: each household's score keeps its per-item points so the interface can say
    why; veto items (一票否决) that fired are shown."""
    vetoed = household(campaign, 30)
    CampaignHousehold.objects.filter(pk=vetoed.pk).update(vetoes=["veto_car"])
    response = admin_client.get(url("household_score", campaign.pk, vetoed.pk))
    cats = response.context["categories"]
    rows = {r["item"].id: r for c in cats for r in c["items"]}
    assert rows["household_size"]["points"] == 2
    assert rows["household_size"]["max"] == rows["household_size"]["item"].max_points
    assert response.context["vetoes"] == ["拥有小汽车"]


def test_record_step_form_shows_a_skipped_step_as_the_forms_error(
    admin_client: Client, campaign: Campaign
) -> None:
    """DOMAIN.md §3 (seed 000): no step is skipped — the refusal is shown on the form."""
    response = admin_client.post(
        url("step_record", campaign.pk),
        {"step": "1", "area": VILLAGE, "date": DAY.isoformat(), "participants": "村民小组",
         "signatures": signature()},
    )  # fmt: skip
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["step"])
    assert "三塘村" in errors
    assert not StepRecord.objects.exists()


def test_record_step_form_records_a_step_with_signature_and_a_decision(
    admin_client: Client, campaign: Campaign
) -> None:
    """DOMAIN.md §3: a step has a date, participants and the signed record; a visit may take
    a household off the list, with a written reason."""
    shown = admin_client.get(url("step_record", campaign.pk), {"step": "0", "area": VILLAGE})
    covered = [row["c"].score for row in shown.context["rows"]]
    assert sorted(covered) == [20, 25, 40]
    target = household(campaign, 20)
    response = admin_client.post(
        url("step_record", campaign.pk),
        {
            "step": "0",
            "area": VILLAGE,
            "date": DAY.isoformat(),
            "participants": "村两委、驻村工作队",
            "signatures": [signature("p1.jpg"), signature("p2.jpg")],
            f"change_{target.pk}": "1",
            f"reason_{target.pk}": "入户核实：家中有在编教师。",
        },
    )
    record = StepRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("record_detail", campaign.pk, record.pk)
    assert record.signatures.count() == 2
    target.refresh_from_db()
    assert not target.on_list
    assert Decision.objects.get().reason.startswith("入户核实")
    page = admin_client.get(url("step_list", campaign.pk)).content.decode()
    attachment = record.signatures.first()
    link = url("signature_download", campaign.pk, record.pk, attachment.pk)
    assert link in page
    assert admin_client.get(link).status_code == 200
    # The report lists the crossing with the step and its reason.
    report = admin_client.get(url("campaign_report", campaign.pk)).content.decode()
    assert "入户核实：家中有在编教师。" in report


def test_step_form_htmx_reload_returns_the_households_fragment(
    admin_client: Client, campaign: Campaign
) -> None:
    response = admin_client.get(
        url("step_record", campaign.pk),
        {"step": "0", "area": OTHER_VILLAGE},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="step-scope",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="step-scope">')
    assert len(response.context["rows"]) == 2  # 四塘村's two households


def test_a_record_without_a_signature_is_refused_on_the_field(
    admin_client: Client, campaign: Campaign
) -> None:
    response = admin_client.post(
        url("step_record", campaign.pk),
        {"step": "0", "area": VILLAGE, "date": DAY.isoformat(), "participants": "村两委"},
    )
    assert response.context["form"].errors["signatures"]
    assert not StepRecord.objects.exists()


def test_objections_are_raised_and_resolved_on_the_notice_page(
    admin_client: Client, campaign: Campaign, county_user: Any, run_steps: Any
) -> None:
    """DOMAIN.md §3: objections raised during a notice are recorded and resolved."""
    end = run_steps(campaign, 0, 2)
    notice_day = end + dt.timedelta(days=1)
    notice = services.record_step(
        county_user, campaign, step_index=2, area_code=VILLAGE, date=notice_day,
        participants="村委会", signatures=[signature()],
    )  # fmt: skip
    target = household(campaign, 25)
    page = admin_client.post(
        url("objection_raise", campaign.pk, notice.pk),
        {"household": target.pk, "raised_on": (notice.ends_on + dt.timedelta(days=3)).isoformat(),
         "raised_by": "村民", "text": "该户有车。"},
    )  # fmt: skip
    assert page.status_code == 200
    assert page.context["objection_form"].errors["raised_on"]  # outside the notice period
    response = admin_client.post(
        url("objection_raise", campaign.pk, notice.pk),
        {"household": target.pk, "raised_on": notice_day.isoformat(), "raised_by": "村民",
         "text": "该户有车。"},
    )  # fmt: skip
    assert response.status_code == 302
    objection = Objection.objects.get()
    prefix = f"o{objection.pk}"
    response = admin_client.post(
        url("objection_resolve", campaign.pk, objection.pk),
        {f"{prefix}-upheld": "upheld", f"{prefix}-resolution": "经核实属实。",
         f"{prefix}-resolved_on": (notice_day + dt.timedelta(days=1)).isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    objection.refresh_from_db()
    assert objection.status == ObjectionStatus.UPHELD
    target.refresh_from_db()
    assert not target.on_list


def test_quotas_form_saves_and_shows_a_bad_value(admin_client: Client, draft: Campaign) -> None:
    response = admin_client.post(url("quotas_edit", draft.pk), {"quota_450102": "abc"})
    assert response.status_code == 200
    assert "abc" in " ".join(response.context["quotas_form"].non_field_errors())
    assert not CampaignCounty.objects.exists()
    response = admin_client.post(url("quotas_edit", draft.pk), {"quota_450102": "1,200"})
    assert response.status_code == 302
    assert CampaignCounty.objects.get(campaign=draft).quota_people == 1200


def test_quota_file_upload_sets_the_quotas_and_reports_bad_rows(
    admin_client: Client, draft: Campaign
) -> None:
    good = SimpleUploadedFile("quotas.csv", b"county_code,quota_people\n450102,15\n")
    response = admin_client.post(url("quotas_upload", draft.pk), {"file": good})
    assert response.status_code == 302
    assert CampaignCounty.objects.get(campaign=draft).quota_people == 15
    bad = SimpleUploadedFile("quotas.csv", b"county_code,quota_people\n450102,-3\n")
    response = admin_client.post(url("quotas_upload", draft.pk), {"file": bad})
    assert response.status_code == 200
    assert "-3" in " ".join(response.context["file_form"].non_field_errors())
    assert CampaignCounty.objects.get(campaign=draft).quota_people == 15
    shapeless = SimpleUploadedFile("q.csv", b"code,n\n450102,3\n")
    response = admin_client.post(url("quotas_upload", draft.pk), {"file": shapeless})
    assert response.context["file_form"].errors["file"]


def test_score_button_runs_the_job_and_the_county_page_shows_the_line(
    admin_client: Client, draft: Campaign, make_household: Callable[..., Any]
) -> None:
    """Issue 4: scoring runs as a job over the registry; the county page shows the line."""
    for village in (VILLAGE, VILLAGE, OTHER_VILLAGE):
        make_household(village=village)
    services.set_quotas(draft.created_by, draft, {"450102": "4"})
    response = admin_client.post(url("campaign_score", draft.pk))
    job = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert job.state == JobState.SUCCEEDED, job.log
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.SCORED
    county = admin_client.get(url("county_detail", draft.pk, "450102"))
    line = CampaignCounty.objects.get(campaign=draft).line
    assert line is not None
    assert county.context["county"].line == line
    assert CampaignHousehold.objects.filter(campaign=draft).count() == 3


def test_score_without_a_quota_is_refused_with_a_message(
    admin_client: Client, draft: Campaign, make_household: Callable[..., Any]
) -> None:
    make_household(village=VILLAGE)
    response = admin_client.post(url("campaign_score", draft.pk), follow=True)
    assert "450102" in response.content.decode()
    assert not JobRun.objects.exists()
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT
