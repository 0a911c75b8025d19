"""The identification procedure (DOMAIN.md §3; seed 000: 两入户、两评议、两审核、两公示、一公告).

Steps in order, area by area; a notice's objections resolved before the next step; the
list changed only by written decisions; the announcement registers through the registry's
transitions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fupin.identify import services
from fupin.identify.models import CampaignHousehold, CampaignStatus, Decision, StepRecord
from fupin.identify.tests.conftest import household, signature
from fupin.registry.models import Household, StatusChange

DAY = dt.date(2017, 1, 3)
VILLAGE = "450102100201"  # 三塘村
OTHER_VILLAGE = "450102100202"  # 四塘村
TOWNSHIP = "450102100"  # 三塘镇


def record(user: Any, campaign: Any, index: int, area: str, date: dt.date = DAY, **kw: Any) -> Any:
    kw.setdefault("participants", "村民小组长、村民代表 12 人")
    kw.setdefault("signatures", [signature()])
    return services.record_step(user, campaign, step_index=index, area_code=area, date=date, **kw)


def messages(exc: ValidationError) -> str:
    return " ".join(m for ms in exc.message_dict.values() for m in ms)


def test_the_guangxi_procedure_is_shipped_as_data(campaign: Any) -> None:
    """Seed 000: two visits, two deliberations, two reviews, two notices, one announcement."""
    kinds = [s.kind for s in campaign.steps]
    assert kinds.count("visit") == 2
    assert kinds.count("deliberation") == 2
    assert kinds.count("review") == 2
    assert kinds.count("notice") == 2
    assert kinds[-1] == "announcement" and kinds.count("announcement") == 1
    assert campaign.procedure["code"] == "guangxi-2015"


def test_a_step_cannot_be_skipped(campaign: Any, county_user: Any) -> None:
    """DOMAIN.md §3: each step has a record; the deliberation needs the visit before it."""
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 1, VILLAGE)
    assert "三塘村" in messages(exc.value)
    assert not StepRecord.objects.exists()
    record(county_user, campaign, 0, VILLAGE)
    record(county_user, campaign, 1, VILLAGE)  # now in order


def test_a_township_step_waits_for_all_its_villages(
    campaign: Any, county_user: Any, run_steps: Any
) -> None:
    """A township review covers its villages: each must have passed the step before."""
    run_steps(campaign, 0, 5)  # up to the second deliberation, everywhere
    last = StepRecord.objects.filter(step_index=4).latest("date").date
    record(county_user, campaign, 5, TOWNSHIP, last)  # 三塘镇's villages are all through
    # The county review cannot come before the other township (五塘镇) is reviewed.
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 7, "450102", last)
    assert "五塘村" in messages(exc.value)


def test_record_area_must_match_the_steps_level(campaign: Any, county_user: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 0, TOWNSHIP)
    assert "area" in exc.value.message_dict


def test_a_step_is_recorded_once_per_area(campaign: Any, county_user: Any) -> None:
    record(county_user, campaign, 0, VILLAGE)
    with pytest.raises(ValidationError):
        record(county_user, campaign, 0, VILLAGE)


def test_a_record_needs_participants_signatures_and_a_past_date(
    campaign: Any, county_user: Any
) -> None:
    """DOMAIN.md §3: each step has a record, a date, the people who signed."""
    with pytest.raises(ValidationError) as exc:
        record(
            county_user,
            campaign,
            0,
            VILLAGE,
            date=dt.date.today() + dt.timedelta(days=1),
            participants=" ",
            signatures=[],
        )
    assert set(exc.value.message_dict) == {"date", "participants", "signatures"}
    assert not StepRecord.objects.exists()


def test_notice_objection_must_be_resolved_before_the_next_step(
    campaign: Any, county_user: Any, run_steps: Any
) -> None:
    """DOMAIN.md §3: objections raised during a notice are handled before the next step."""
    end = run_steps(campaign, 0, 2)
    notice_day = end + dt.timedelta(days=1)
    notice = record(county_user, campaign, 2, VILLAGE, notice_day)
    assert notice.ends_on == notice_day + dt.timedelta(days=6)  # a 7-day notice
    target = household(campaign, 20)
    objection = services.raise_objection(
        county_user,
        notice,
        target,
        raised_on=notice_day + dt.timedelta(days=2),
        raised_by="村民李四",
        text="该户在县城有商品房。",
    )
    after = notice.ends_on + dt.timedelta(days=1)
    # During the period: refused for the date; after it: refused for the open objection.
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 3, VILLAGE, notice.ends_on)
    assert "date" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 3, VILLAGE, after)
    assert "异议" in messages(exc.value)  # objections not resolved
    services.resolve_objection(
        county_user,
        objection,
        upheld=True,
        resolution="经核实，该户 2015 年购买县城商品房一套，取消拟识别。",
        resolved_on=after,
    )
    target.refresh_from_db()
    assert not target.on_list  # upheld: taken off the list, with the resolution as reason
    assert Decision.objects.get(campaign_household=target).reason.startswith("经核实")
    record(county_user, campaign, 3, VILLAGE, after)


def test_an_objection_is_raised_within_the_notice_period(
    campaign: Any, county_user: Any, run_steps: Any
) -> None:
    end = run_steps(campaign, 0, 2)
    notice = record(county_user, campaign, 2, VILLAGE, end + dt.timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        services.raise_objection(
            county_user,
            notice,
            household(campaign, 20),
            raised_on=notice.ends_on + dt.timedelta(days=1),
            raised_by="匿名",
            text="异议",
        )
    assert "raised_on" in exc.value.message_dict
    visit = StepRecord.objects.get(step_index=0, area_id=VILLAGE)
    with pytest.raises(ValidationError):
        services.raise_objection(
            county_user, visit, household(campaign, 20), raised_on=DAY, raised_by="匿名", text="x"
        )


def test_a_dismissed_objection_needs_a_resolution_and_changes_nothing(
    campaign: Any, county_user: Any, run_steps: Any
) -> None:
    end = run_steps(campaign, 0, 2)
    notice = record(county_user, campaign, 2, VILLAGE, end + dt.timedelta(days=1))
    target = household(campaign, 25)
    objection = services.raise_objection(
        county_user, notice, target, raised_on=notice.date, raised_by="匿名", text="有车"
    )
    with pytest.raises(ValidationError):
        services.resolve_objection(
            county_user, objection, upheld=False, resolution="", resolved_on=notice.date
        )
    services.resolve_objection(
        county_user, objection, upheld=False, resolution="核实无车。", resolved_on=notice.date
    )
    target.refresh_from_db()
    assert target.on_list
    with pytest.raises(ValidationError):  # resolved once
        services.resolve_objection(
            county_user, objection, upheld=True, resolution="again", resolved_on=notice.date
        )


def test_deliberation_moves_a_household_across_the_line_only_with_a_reason(
    campaign: Any, county_user: Any
) -> None:
    """Issue 4 item 5: village deliberation can move a household across the line only with
    a written reason, listed in the campaign report."""
    record(county_user, campaign, 0, VILLAGE)
    above = household(campaign, 40)
    assert not above.selected and not above.on_list
    decision = services.DecisionInput(above.pk, True, " ")
    with pytest.raises(ValidationError) as exc:
        record(county_user, campaign, 1, VILLAGE, decisions=[decision])
    assert "理由" in messages(exc.value)  # the written reason
    reason = "户主去年重病，医疗支出大，评议一致同意纳入。"
    record(
        county_user,
        campaign,
        1,
        VILLAGE,
        decisions=[services.DecisionInput(above.pk, True, reason)],
    )
    above.refresh_from_db()
    assert above.on_list and above.crossed_line
    report = list(services.crossings(campaign, county_user))
    assert [c.pk for c in report] == [above.pk]
    assert report[0].decisions.get().reason == reason


def test_only_a_deliberation_puts_a_household_on_the_list(campaign: Any, county_user: Any) -> None:
    above = household(campaign, 40)
    with pytest.raises(ValidationError) as exc:
        record(
            county_user,
            campaign,
            0,
            VILLAGE,
            decisions=[services.DecisionInput(above.pk, True, "入户发现困难")],
        )
    assert "评议" in messages(exc.value)  # only a deliberation
    # A visit may take one off, with its reason.
    below = household(campaign, 20)
    record(
        county_user,
        campaign,
        0,
        VILLAGE,
        decisions=[services.DecisionInput(below.pk, False, "入户发现新建砖混住房")],
    )
    below.refresh_from_db()
    assert not below.on_list


def test_a_vetoed_household_cannot_be_put_on_the_list(campaign: Any, county_user: Any) -> None:
    """Seed 000 / DOMAIN.md §10: a veto item (一票否决) disqualifies whatever the score."""
    record(county_user, campaign, 0, OTHER_VILLAGE)
    vetoed = household(campaign, 30)
    with pytest.raises(ValidationError) as exc:
        record(
            county_user,
            campaign,
            1,
            OTHER_VILLAGE,
            decisions=[services.DecisionInput(vetoed.pk, True, "村民同意")],
        )
    assert "一票否决" in messages(exc.value)


def test_a_village_cadre_records_only_in_the_own_village(campaign: Any, make_user: Any) -> None:
    cadre = make_user("cadre", OTHER_VILLAGE, "data_officer")
    with pytest.raises(PermissionDenied):
        record(cadre, campaign, 0, VILLAGE)
    record(cadre, campaign, 0, OTHER_VILLAGE)
    viewer = make_user("viewer", OTHER_VILLAGE, "viewer")
    with pytest.raises(PermissionDenied):
        record(viewer, campaign, 1, OTHER_VILLAGE)


def test_the_announcement_registers_the_list_with_dated_history(
    campaign: Any, county_user: Any, run_steps: Any
) -> None:
    """Issue 4 item 5: the final announcement registers the households (status transitions
    with history): proposed at the first deliberation, in notice from the first notice,
    registered on the announcement's day."""
    dropped = household(campaign, 25)
    record(county_user, campaign, 0, VILLAGE)
    record(
        county_user,
        campaign,
        0,
        OTHER_VILLAGE,
    )
    record(county_user, campaign, 0, "450102101201")
    record(
        county_user,
        campaign,
        1,
        VILLAGE,
        DAY + dt.timedelta(days=1),
        decisions=[services.DecisionInput(dropped.pk, False, "评议：家有两名稳定务工劳动力")],
    )
    for village in (OTHER_VILLAGE, "450102101201"):
        record(county_user, campaign, 1, village, DAY + dt.timedelta(days=1))
    last = run_steps(campaign, 2, len(campaign.steps), DAY + dt.timedelta(days=2))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ANNOUNCED
    on_list = CampaignHousehold.objects.filter(campaign=campaign, on_list=True)
    assert sorted(on_list.values_list("score", flat=True)) == [18, 20, 22]
    for c in on_list:
        h = Household.objects.get(pk=c.household_id)
        assert h.status == "registered" and h.identification_year == last.year
        history = list(StatusChange.objects.filter(household=h).values_list("transition", "date"))
        assert [t for t, _d in history] == ["propose", "start_notice", "register"]
        assert history[0][1] == DAY + dt.timedelta(days=1)
        assert history[2][1] == last
    assert Household.objects.get(pk=dropped.household_id).status == "surveyed"
    with pytest.raises(ValidationError):  # the procedure is over
        record(county_user, campaign, 0, VILLAGE)


def test_quotas_are_checked_all_or_nothing(county_user: Any, areas: Any) -> None:
    card = services.install_shipped_scorecards()[0]
    campaign = services.create_campaign(
        county_user, area_code="450102", name="识别", year=2016, scorecard=card
    )
    with pytest.raises(ValidationError) as exc:
        services.set_quotas(county_user, campaign, {"450102": "1.5", "450103": "10"})
    text = messages(exc.value)
    assert "450103" in text and "1.5" in text
    assert not campaign.counties.exists()
    assert services.set_quotas(county_user, campaign, {"450102": "1,200"}) == 1
    assert campaign.counties.get().quota_people == 1200


def test_changing_a_quota_after_scoring_voids_the_lines(campaign: Any, county_user: Any) -> None:
    services.set_quotas(county_user, campaign, {"450102": "9"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignHousehold.objects.filter(campaign=campaign).exists()


def test_quotas_cannot_change_once_the_procedure_started(campaign: Any, county_user: Any) -> None:
    record(county_user, campaign, 0, VILLAGE)
    with pytest.raises(ValidationError):
        services.set_quotas(county_user, campaign, {"450102": "9"})


def test_campaign_defaults_the_years_poverty_line(county_user: Any, areas: Any) -> None:
    """DOMAIN.md §10: 2,952 yuan in 2016 — a line from the table, not a constant."""
    card = services.install_shipped_scorecards()[0]
    campaign = services.create_campaign(
        county_user, area_code="450102", name="识别", year=2016, scorecard=card
    )
    assert campaign.poverty_line == 2952
    with pytest.raises(ValidationError) as exc:
        services.create_campaign(county_user, area_code=VILLAGE, name="", year=2016, scorecard=card)
    assert {"area", "name"} <= set(exc.value.message_dict)
