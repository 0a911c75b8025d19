"""The household exit procedure (issue 7 item 2; seed 000 Guangxi 严程序 双认定; seed 003
Gansu 3342): proposals, steps in order, objections during the notice, the acceptance form
signed by three, the sign-off chain, and the announcement that makes the households exit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from fupin.core.models import AuditEntry
from fupin.exit import services
from fupin.exit.models import (
    Acceptance,
    ExitDecision,
    ExitStepRecord,
    RoundHousehold,
    RoundStatus,
    Signoff,
)
from fupin.exit.tests.conftest import (
    GANSU_VILLAGE,
    GUANGXI_OTHER_TOWNSHIP,
    GUANGXI_VILLAGE,
    GUANGXI_VILLAGE_2,
    HUNAN_VILLAGE,
    all_met,
    drawn,
    scan,
    three_signatures,
)
from fupin.registry.models import Household, StatusChange

PROPOSED = dt.date(2017, 10, 9)
CHECKED = dt.date(2017, 10, 12)
DAY = dt.date(2017, 10, 15)
TOWNSHIP = "450102100"  # 三塘镇
OTHER_TOWNSHIP = "450102101"  # 五塘镇


def messages(exc: ValidationError) -> str:
    return " ".join(m for ms in exc.message_dict.values() for m in ms)


def record(user: Any, round_: Any, index: int, area: str, date: dt.date = DAY, **kw: Any) -> Any:
    kw.setdefault("participants", "村两委、驻村工作队、村民代表 12 人")
    kw.setdefault("signatures", [scan()])
    return services.record_step(user, round_, step_index=index, area_code=area, date=date, **kw)


def accept(user: Any, rh: RoundHousehold, **kw: Any) -> Acceptance:
    kw.setdefault("items", all_met(rh.round))
    kw.setdefault("signatures", three_signatures())
    kw.setdefault("team", "县乡村干部、第一书记、驻村工作队员")
    kw.setdefault("checked_on", CHECKED)
    return services.record_acceptance(user, rh, **kw)


@pytest.fixture
def guangxi_round(admin: Any) -> Any:
    return services.open_round(admin, area_code="450102", name="2017年兴宁区脱贫", year=2017)


@pytest.fixture
def proposed(admin: Any, registered: Any, guangxi_round: Any) -> list[RoundHousehold]:
    """Three households proposed by the system (two in 三塘村, one in 五塘村)."""
    for village in (GUANGXI_VILLAGE, GUANGXI_VILLAGE, GUANGXI_OTHER_TOWNSHIP):
        registered(admin, village)
    assert services.propose_from_standard(admin, guangxi_round, date=PROPOSED) == 3
    return list(RoundHousehold.objects.filter(round=guangxi_round).order_by("pk"))


def test_round_copies_the_provinces_procedure_and_standards(guangxi_round: Any) -> None:
    """Seed 000 (Guangxi): 双认定 first; standards 八有一超 and the national one."""
    assert guangxi_round.procedure["code"] == "guangxi-2016"
    assert guangxi_round.steps[0].kind == "acceptance"
    assert [s["code"] for s in guangxi_round.standards] == [
        "guangxi-household", "national-household",
    ]  # fmt: skip
    assert guangxi_round.acceptance_standard["code"] == "guangxi-household"
    assert guangxi_round.poverty_line == 3335
    assert AuditEntry.objects.filter(action="exit.round.open").count() == 1


def test_system_proposes_every_household_whose_data_meet_the_standard(
    admin: Any, registered: Any, guangxi_round: Any
) -> None:
    """Issue 7: proposed by the system — every registered household whose data meet the
    standard — each through the registry's propose_exit, with the results kept."""
    good = registered(admin)
    poor_road = registered(admin, road_surface="earth")
    low = registered(admin, income={"year": 2017, "wage": 4000, "business": 0})
    assert services.propose_from_standard(admin, guangxi_round, date=PROPOSED) == 1
    rh = RoundHousehold.objects.get(round=guangxi_round)
    assert rh.household_id == good.pk and rh.proposed_by == "system"
    assert {r["outcome"] for r in rh.results} == {"met", "to_confirm"}
    assert Household.objects.get(pk=good.pk).status == "exit_proposed"
    for h in (poor_road, low):
        assert Household.objects.get(pk=h.pk).status == "registered"
    change = StatusChange.objects.get(household=good, transition="propose_exit")
    assert change.date == PROPOSED and guangxi_round.name in change.reason


def test_cadre_proposes_a_household_with_a_reason(
    admin: Any, registered: Any, guangxi_round: Any
) -> None:
    h = registered(admin, road_surface="earth")
    with pytest.raises(ValidationError, match="reason"):
        services.propose_household(admin, guangxi_round, h, reason=" ", date=PROPOSED)
    rh = services.propose_household(
        admin, guangxi_round, h, reason="入户路已硬化，数据待更新", date=PROPOSED
    )
    assert rh.proposed_by == "cadre"
    assert any(r["item"] == "road" and r["outcome"] == "not_met" for r in rh.results)
    with pytest.raises(ValidationError, match="already in this round"):
        services.propose_household(admin, guangxi_round, h, reason="再次", date=PROPOSED)


def test_hunan_situation_refuses_a_cadres_proposal_seed_000(
    make_user_in: Any, registered: Any
) -> None:
    """Seed 000 (Hunan): a household in one of the eight situations cannot be proposed."""
    hunan = make_user_in("hunan", "430523", "administrator")
    round_ = services.open_round(hunan, area_code="430523", name="2018年邵阳县脱贫", year=2018)
    h = registered(hunan, HUNAN_VILLAGE, water_safe=False)
    with pytest.raises(ValidationError) as exc:
        services.propose_household(hunan, round_, h, reason="拟脱贫", date=dt.date(2018, 10, 9))
    assert "No safe drinking water" in messages(exc.value)
    assert not RoundHousehold.objects.exists()
    assert Household.objects.get(pk=h.pk).status == "registered"


def test_acceptance_needs_every_item(admin: Any, proposed: list[RoundHousehold]) -> None:
    """Seed 000 (Guangxi 双认定): 对照“八有一超”逐项入户核实 — an item not checked refuses."""
    items = all_met(proposed[0].round)
    del items["water"]
    with pytest.raises(ValidationError) as exc:
        accept(admin, proposed[0], items=items)
    assert "item_water" in exc.value.message_dict
    items["water"] = services.ItemInput(None)
    with pytest.raises(ValidationError):
        accept(admin, proposed[0], items=items)
    items["water"] = services.ItemInput(False)  # not met, and nothing said about it
    with pytest.raises(ValidationError, match="say what was found"):
        accept(admin, proposed[0], items=items)
    assert not Acceptance.objects.exists()


@pytest.mark.parametrize("role", ["head", "team", "cadre"])
def test_acceptance_cannot_skip_a_signature_seed_000(
    admin: Any, proposed: list[RoundHousehold], role: str
) -> None:
    """Seed 000: 贫困户户主、验收工作队员及帮扶联系人在验收表上共同签字确认 — each of the
    three, or nothing is recorded."""
    with pytest.raises(ValidationError) as exc:
        accept(admin, proposed[0], signatures=three_signatures(**{role: None}))
    assert f"sig_{role}" in exc.value.message_dict
    assert not Acceptance.objects.exists()


def test_a_signature_must_be_a_drawing_or_a_scan(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    blank = three_signatures(head=services.SignatureInput("户主", drawn=drawn(blank=True)))
    with pytest.raises(ValidationError, match="empty"):
        accept(admin, proposed[0], signatures=blank)
    bad = three_signatures(head=services.SignatureInput("户主", drawn="data:image/png;base64,xx"))
    with pytest.raises(ValidationError, match="could not be read"):
        accept(admin, proposed[0], signatures=bad)
    nameless = three_signatures(team=services.SignatureInput(" ", scan=scan()))
    with pytest.raises(ValidationError, match="name of who signed"):
        accept(admin, proposed[0], signatures=nameless)


def test_the_cadre_who_signs_is_the_paired_one(
    admin: Any, registered: Any, guangxi_round: Any
) -> None:
    """The support cadre is the one of the household's active pairing (fupin/support);
    without one the form is refused."""
    registered(admin, paired=False)
    services.propose_from_standard(admin, guangxi_round, date=PROPOSED)
    rh = RoundHousehold.objects.get()
    with pytest.raises(ValidationError) as exc:
        accept(admin, rh)
    assert "no support cadre" in messages(exc.value)


def test_completed_acceptance_keeps_items_and_three_signatures(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    acceptance = accept(admin, proposed[0])
    assert acceptance.all_met and len(acceptance.items) == 9
    sigs = {s.role: s for s in acceptance.signatures.all()}
    assert set(sigs) == {"head", "team", "cadre"}
    assert sigs["head"].method == "drawn" and sigs["team"].method == "scan"
    assert sigs["cadre"].name == "王干部"
    assert sigs["head"].file.file.read().startswith(b"\x89PNG")
    assert AuditEntry.objects.filter(action="exit.acceptance.record").count() == 1
    with pytest.raises(ValidationError, match="already recorded"):
        accept(admin, proposed[0])


def test_acceptance_step_needs_every_form_and_takes_off_the_unmet(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    """The acceptance step of a village waits for every household's form; a household with
    an item not met leaves the list there and goes back to registered."""
    first, second, _other = proposed
    accept(admin, first)
    with pytest.raises(ValidationError) as exc:
        record(admin, first.round, 0, GUANGXI_VILLAGE)
    assert second.household.code in messages(exc.value)
    accept(admin, second, items=all_met(first.round, water="水窖未建成，饮水困难"))
    rec = record(admin, first.round, 0, GUANGXI_VILLAGE)
    second.refresh_from_db()
    assert not second.on_list
    decision = ExitDecision.objects.get(record=rec)
    assert decision.round_household == second and "水窖未建成" in decision.reason
    assert Household.objects.get(pk=second.household_id).status == "registered"


def test_a_step_cannot_be_skipped(admin: Any, proposed: list[RoundHousehold]) -> None:
    """DOMAIN.md §3 (as for identification): the deliberation needs the acceptance before."""
    with pytest.raises(ValidationError) as exc:
        record(admin, proposed[0].round, 1, GUANGXI_VILLAGE)
    assert "三塘村" in messages(exc.value)
    assert not ExitStepRecord.objects.exists()


def test_the_signed_record_and_participants_are_required(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    for rh in proposed[:2]:
        accept(admin, rh)
    with pytest.raises(ValidationError) as exc:
        record(admin, proposed[0].round, 0, GUANGXI_VILLAGE, participants=" ", signatures=[])
    assert {"participants", "signatures"} <= set(exc.value.message_dict)


def _through_notice(admin: Any, proposed: list[RoundHousehold]) -> Any:
    """Acceptance, deliberation and notice (7 days from 17 October) in both villages."""
    round_ = proposed[0].round
    for rh in proposed:
        accept(admin, rh)
    for village in (GUANGXI_VILLAGE, GUANGXI_OTHER_TOWNSHIP):
        record(admin, round_, 0, village, DAY)
        record(admin, round_, 1, village, DAY + dt.timedelta(days=1))
    notice = record(admin, round_, 2, GUANGXI_VILLAGE, dt.date(2017, 10, 17))
    record(admin, round_, 2, GUANGXI_OTHER_TOWNSHIP, dt.date(2017, 10, 17))
    assert notice.ends_on == dt.date(2017, 10, 23)
    return notice


def test_objection_during_the_notice_must_be_resolved_first(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    """An objection raised during the notice holds the next step until it is resolved;
    upheld, the household leaves the list and goes back to registered."""
    notice = _through_notice(admin, proposed)
    round_ = notice.round
    with pytest.raises(ValidationError, match="runs until 2017-10-23"):
        record(admin, round_, 3, TOWNSHIP, dt.date(2017, 10, 23))
    target = RoundHousehold.objects.get(pk=proposed[0].pk)
    objection = services.raise_objection(
        admin, notice, target, raised_on=dt.date(2017, 10, 19), raised_by="村民（实名）",
        text="该户主要收入来自临时务工，收入不稳定",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="not resolved"):
        record(admin, round_, 3, TOWNSHIP, dt.date(2017, 10, 24))
    services.resolve_objection(
        admin, objection, upheld=True, resolution="经核实，务工收入不稳定，暂缓脱贫",
        resolved_on=dt.date(2017, 10, 24),
    )  # fmt: skip
    target.refresh_from_db()
    assert not target.on_list
    assert Household.objects.get(pk=target.household_id).status == "registered"
    record(admin, round_, 3, TOWNSHIP, dt.date(2017, 10, 24))


def test_objection_outside_the_notice_is_refused(
    admin: Any, proposed: list[RoundHousehold]
) -> None:
    notice = _through_notice(admin, proposed)
    with pytest.raises(ValidationError, match="between 2017-10-17 and 2017-10-23"):
        services.raise_objection(
            admin, notice, RoundHousehold.objects.get(pk=proposed[0].pk),
            raised_on=dt.date(2017, 10, 25), raised_by="匿名", text="x",
        )  # fmt: skip


def test_a_full_round_from_proposal_to_exit(admin: Any, proposed: list[RoundHousehold]) -> None:
    """Issue 7 item 2, start to end: proposed by the system, 双认定 at each household,
    deliberation, notice, township and county review, announcement — the households on
    the list exit through the registry's `exit`, dated the announcement."""
    notice = _through_notice(admin, proposed)
    round_ = notice.round
    review = dt.date(2017, 10, 24)
    record(admin, round_, 3, TOWNSHIP, review)
    with pytest.raises(ValidationError, match="五塘村"):
        record(admin, round_, 4, "450102", review)  # 五塘镇 not reviewed yet
    record(admin, round_, 3, OTHER_TOWNSHIP, review)
    record(admin, round_, 4, "450102", dt.date(2017, 10, 25))
    announced = dt.date(2017, 10, 26)
    record(admin, round_, 5, "450102", announced, participants="县扶贫开发领导小组")
    round_.refresh_from_db()
    assert round_.status == RoundStatus.ANNOUNCED
    for rh in proposed:
        h = Household.objects.get(pk=rh.household_id)
        assert h.status == "exited" and h.exit_year == 2017 and h.status_date == announced
        assert RoundHousehold.objects.get(pk=rh.pk).exited
    with pytest.raises(ValidationError, match="announced"):
        record(admin, round_, 5, "450102", announced)


def test_announcement_refuses_a_household_without_acceptance(
    admin: Any, registered: Any, guangxi_round: Any
) -> None:
    """Guangxi: no exit at the announcement without a completed acceptance (双认定), even if
    the steps were recorded — e.g. a form removed from the database by hand."""
    registered(admin)
    services.propose_from_standard(admin, guangxi_round, date=PROPOSED)
    rh = RoundHousehold.objects.get()
    accept(admin, rh)
    for index, area in enumerate(
        [GUANGXI_VILLAGE, GUANGXI_VILLAGE, GUANGXI_VILLAGE, TOWNSHIP, "450102"]
    ):
        record(admin, guangxi_round, index, area, DAY + dt.timedelta(days=8 * index))
    Acceptance.objects.all().delete()
    with pytest.raises(ValidationError, match="no completed acceptance"):
        record(admin, guangxi_round, 5, "450102", dt.date(2017, 12, 1))
    assert Household.objects.get(pk=rh.household_id).status == "exit_proposed"


def test_a_proposal_after_the_village_started_is_refused(
    admin: Any, registered: Any, proposed: list[RoundHousehold]
) -> None:
    for rh in proposed[:2]:
        accept(admin, rh)
    record(admin, proposed[0].round, 0, GUANGXI_VILLAGE)
    late = registered(admin)
    with pytest.raises(ValidationError, match="procedure has started in its village"):
        services.propose_household(admin, proposed[0].round, late, reason="补报")
    # Another village of the round has not started: a cadre may still propose there.
    other = registered(admin, GUANGXI_VILLAGE_2)
    services.propose_household(admin, proposed[0].round, other, reason="补报", date=PROPOSED)


# --------------------------------------------------------------------------------------
# Gansu 3342
# --------------------------------------------------------------------------------------


@pytest.fixture
def gansu(make_user_in: Any) -> Any:
    return make_user_in("gansu", "620123", "administrator")


def signers(round_: Any, **override: Any) -> list[services.SignoffInput]:
    chain = round_.signoff_chain("signoff_3342")
    out = {
        p.code: services.SignoffInput(p.code, f"签字人{i}", dt.date(2017, 11, 18), scan(f"{i}.jpg"))
        for i, p in enumerate(chain.parties)
    }
    out.update(override)
    return [v for v in out.values() if v is not None]


def _to_signoff(gansu: Any, registered: Any, **kw: Any) -> Any:
    round_ = services.open_round(
        gansu, area_code="620123", name="2017年榆中县脱贫", year=2017, **kw
    )
    registered(gansu, GANSU_VILLAGE)
    assert services.propose_from_standard(gansu, round_, date=PROPOSED) == 1
    # The household check (入户核实, DOMAIN.md §5) after the deliberation: its form first.
    accept(gansu, RoundHousehold.objects.get(round=round_))
    areas = [GANSU_VILLAGE, GANSU_VILLAGE, GANSU_VILLAGE, "620123100", "620123"]
    for index, area in enumerate(areas):
        record(gansu, round_, index, area, DAY + dt.timedelta(days=8 * index))
    return round_


def test_gansu_3342_sign_off_needs_all_twelve_seed_003(gansu: Any, registered: Any) -> None:
    """Seed 003 (Gansu 3342): 3 village, 3 township, 4 county and 2 city officials sign —
    names, posts, dates, scans; one missing refuses the record."""
    round_ = _to_signoff(gansu, registered)
    day = dt.date(2017, 11, 20)
    assert round_.steps[5].kind == "signoff"
    with pytest.raises(ValidationError) as exc:
        record(
            gansu, round_, 5, GANSU_VILLAGE, day, signoffs=signers(round_, county_statistics=None)
        )
    assert "县统计局局长" in messages(exc.value) or "statistics" in messages(exc.value)
    no_scan = services.SignoffInput("city_head", "市州长", dt.date(2017, 11, 18), None)
    with pytest.raises(ValidationError, match="scan"):
        record(gansu, round_, 5, GANSU_VILLAGE, day, signoffs=signers(round_, city_head=no_scan))
    rec = record(gansu, round_, 5, GANSU_VILLAGE, day, signoffs=signers(round_))
    assert Signoff.objects.filter(record=rec).count() == 12
    assert set(Signoff.objects.values_list("tier", flat=True)) == {
        "village", "township", "county", "city",
    }  # fmt: skip
    record(gansu, round_, 6, "620123", dt.date(2017, 11, 21))
    assert Household.objects.get().status == "exited"


def test_gansu_round_may_leave_out_the_optional_sign_off(gansu: Any, registered: Any) -> None:
    """Issue 7: the 3342 sign-off is an optional step — chosen when the round is opened."""
    round_ = _to_signoff(gansu, registered, leave_out=["signoff_3342"])
    assert "signoff" not in [s.kind for s in round_.steps]
    record(gansu, round_, 5, "620123", dt.date(2017, 11, 21))
    assert Household.objects.get().status == "exited"
    with pytest.raises(ValidationError, match="optional"):
        services.open_round(
            gansu, area_code="620123", name="x", year=2017, leave_out=["announcement"]
        )


def test_only_a_reviewer_records_the_announcement(
    admin: Any, make_user_in: Any, proposed: list[RoundHousehold]
) -> None:
    """The announcement makes the households exit (`exit` needs registry.review_household):
    a data officer may record every other step, and is told so rather than refused blindly."""
    officer = make_user_in("officer", "450102", "data_officer")
    notice = _through_notice(admin, proposed)
    round_ = notice.round
    for township in (TOWNSHIP, OTHER_TOWNSHIP):
        record(officer, round_, 3, township, dt.date(2017, 10, 24))
    record(officer, round_, 4, "450102", dt.date(2017, 10, 25))
    with pytest.raises(ValidationError, match="a reviewer records it"):
        record(officer, round_, 5, "450102", dt.date(2017, 10, 26))
    assert not Household.objects.filter(status="exited").exists()
