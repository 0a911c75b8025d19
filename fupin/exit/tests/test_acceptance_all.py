"""The household check (入户核实) in every province's exit procedure: the national rule
(《关于建立贫困退出机制的意见》 2016, DOMAIN.md §5) — “经村两委和驻村工作队核实、拟退出贫困户
认可” after the village's deliberation. Its form checks every confirm and data item of every
household standard of the round (Hunan: its eight situations and the national standard), so
the 两不愁 items (吃穿) are confirmed at the household in every province, not only by
Guangxi's 双认定 (seed 000)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from fupin.exit import checks, policy, services
from fupin.exit.models import RoundHousehold
from fupin.exit.tests.conftest import HUNAN_VILLAGE, scan, three_signatures
from fupin.registry.models import HouseholdIncome

PROPOSED = dt.date(2018, 10, 9)
CHECKED = dt.date(2018, 10, 12)
DAY = dt.date(2018, 10, 15)


@pytest.fixture
def hunan_admin(make_user_in: Any) -> Any:
    return make_user_in("hunan", "430523", "administrator")


@pytest.fixture
def hunan_round(hunan_admin: Any, registered: Any) -> Any:
    """A 2018 round of 邵阳县 with one household proposed by the system."""
    h = registered(hunan_admin, HUNAN_VILLAGE)
    HouseholdIncome.objects.filter(household=h).update(year=2018)
    round_ = services.open_round(hunan_admin, area_code="430523", name="2018年邵阳县", year=2018)
    assert services.propose_from_standard(hunan_admin, round_, date=PROPOSED) == 1
    return round_


def findings(round_: Any, **unmet: str) -> dict[str, services.ItemInput]:
    """Every line of the round's form met, except the keys named (with a note)."""
    return {
        line.key: services.ItemInput(line.key not in unmet, unmet.get(line.key, ""))
        for line in services.acceptance_items(round_)
    }


def check(user: Any, rh: RoundHousehold, items: dict[str, services.ItemInput]) -> Any:
    return services.record_acceptance(
        user,
        rh,
        checked_on=CHECKED,
        team="村两委、驻村工作队",
        items=items,
        signatures=three_signatures(),
    )


def step(user: Any, round_: Any, index: int, area: str, date: dt.date = DAY) -> Any:
    return services.record_step(
        user,
        round_,
        step_index=index,
        area_code=area,
        date=date,
        participants="村两委、驻村工作队",
        signatures=[scan()],
    )


def outcome(c: checks.HouseholdCheck, standard: str, item: str) -> str:
    found = next(s for s in c.standards if s.standard.code == standard)
    return next(r.outcome for r in found.results if r.item.code == item)


def test_every_procedure_has_a_household_check_after_the_deliberation_domain_5() -> None:
    """DOMAIN.md §5 (2016 national rule): 经村两委和驻村工作队核实、拟退出贫困户认可 — after
    the deliberation, before the notice, in the national and Gansu procedures; Guangxi's
    双认定 is its check (seed 000)."""
    exit_policy = policy.policy()
    for code in ("national-2016", "gansu-2016"):
        kinds = [s.kind for s in exit_policy.procedures[code].steps]
        assert kinds[:3] == ["deliberation", "acceptance", "notice"], code
        check_step = exit_policy.procedures[code].steps[1]
        assert check_step.label_zh == "入户核实" and not check_step.optional
    assert "acceptance" in [s.kind for s in exit_policy.procedures["guangxi-2016"].steps]
    hunan = policy.rules_for(HUNAN_VILLAGE)
    assert hunan.acceptances == ("hunan-household", "national-household")
    assert policy.rules_for("620123100201").acceptances == ("national-household",)
    assert policy.rules_for("340102").acceptances == ("national-household",)
    assert policy.rules_for("450102").acceptances == ("guangxi-household",)


def test_acceptance_is_a_standard_or_a_list_of_standards() -> None:
    """exit.toml: `acceptance` names one standard (a string) or several (a list)."""
    text = policy.POLICY_FILE.read_text(encoding="utf-8")
    parsed = policy.parse_policy(text)
    assert parsed.provinces[0].acceptance == "guangxi-household"
    twice = text.replace(
        'acceptance = ["hunan-household", "national-household"]',
        'acceptance = ["hunan-household", "hunan-household"]',
    )
    with pytest.raises(ValueError, match="twice"):
        policy.parse_policy(twice)


def test_hunan_form_lists_every_item_of_both_standards_domain_5_seed_000(
    hunan_round: Any,
) -> None:
    """The form of a Hunan round: every confirm and data item of hunan-household (seed 000,
    八种情形) and national-household (DOMAIN.md §5, 一超过两不愁三保障), once each."""
    lines = services.acceptance_items(hunan_round)
    keys = [line.key for line in lines]
    assert len(keys) == len(set(keys))
    assert {"national-household:food", "national-household:clothing"} <= set(keys)
    assert "hunan-household:food_clothing" in keys
    assert "national-household:income" in keys and "hunan-household:water" in keys
    expected = sum(len(s.items) for s in services.acceptance_standards(hunan_round))
    assert len(lines) == expected


def test_hunan_household_check_confirms_food_and_clothing_domain_5_seed_000(
    hunan_admin: Any, hunan_round: Any
) -> None:
    """DOMAIN.md §5 (两不愁: 不愁吃、不愁穿) and seed 000 (Hunan 情形一): the household check
    confirms 吃穿 for both standards; the household page then shows them met, not "to
    confirm"."""
    (rh,) = RoundHousehold.objects.filter(round=hunan_round)
    household = rh.household
    before = checks.check_household(
        household, 2018, confirmed=services.confirmed_items(household, 2018)
    )
    assert outcome(before, "national-household", "food") == "to_confirm"
    assert outcome(before, "hunan-household", "food_clothing") == "to_confirm"
    acceptance = check(hunan_admin, rh, findings(hunan_round))
    assert acceptance.all_met
    assert {i["standard"] for i in acceptance.items} == {"hunan-household", "national-household"}
    confirmed = services.confirmed_items(household, 2018)
    assert set(confirmed) == {"hunan-household", "national-household"}
    after = checks.check_household(household, 2018, confirmed=confirmed)
    for standard, item in (
        ("national-household", "food"),
        ("national-household", "clothing"),
        ("hunan-household", "food_clothing"),
    ):
        assert outcome(after, standard, item) == "met", (standard, item)
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(hunan_admin)
    page = c.get(reverse("exit:household", args=[household.pk]) + "?year=2018")
    assert page.status_code == 200
    assert f"Household check {CHECKED.isoformat()}" in page.content.decode()
    form_page = c.get(reverse("exit:acceptance", args=[hunan_round.pk, rh.pk]))
    assert form_page.status_code == 200 and "Household check" in form_page.content.decode()


def test_hunan_situation_one_not_met_takes_the_household_off_at_the_check_seed_000(
    hunan_admin: Any, hunan_round: Any
) -> None:
    """Seed 000 (Hunan): 八种情形的贫困户, 一律不得退出 — 情形一 (吃穿) found not met at the
    household takes it off the list at the household check, with the finding as reason."""
    (rh,) = RoundHousehold.objects.filter(round=hunan_round)
    check(
        hunan_admin,
        rh,
        findings(hunan_round, **{"hunan-household:food_clothing": "冬衣不足"}),
    )
    step(hunan_admin, hunan_round, 0, HUNAN_VILLAGE, DAY)
    record = step(hunan_admin, hunan_round, 1, HUNAN_VILLAGE, DAY + dt.timedelta(days=1))
    rh.refresh_from_db()
    assert not rh.on_list
    decision = record.decisions.get()
    assert "Household check" in decision.reason and "冬衣不足" in decision.reason
    assert services.confirmed_items(rh.household, 2018) == {}


def test_a_met_item_needs_no_note_but_an_unmet_one_does_domain_5(
    hunan_admin: Any, hunan_round: Any
) -> None:
    """Every line is checked; an item not met says what was found (as 双认定, seed 000)."""
    (rh,) = RoundHousehold.objects.filter(round=hunan_round)
    items = findings(hunan_round)
    del items["national-household:clothing"]
    items["national-household:food"] = services.ItemInput(False, "")
    with pytest.raises(ValidationError) as exc:
        check(hunan_admin, rh, items)
    assert set(exc.value.message_dict) >= {
        "item_national-household:clothing",
        "item_national-household:food",
    }


def test_national_procedure_cannot_skip_the_household_check_domain_5(
    hunan_admin: Any, hunan_round: Any
) -> None:
    """DOMAIN.md §5: the check is a step of the national procedure — not optional when the
    round is opened, not skipped to the notice, not recorded without every form."""
    with pytest.raises(ValidationError, match="optional"):
        services.open_round(
            hunan_admin, area_code="430523", name="x", year=2018, leave_out=["household_check"]
        )
    step(hunan_admin, hunan_round, 0, HUNAN_VILLAGE, DAY)
    with pytest.raises(ValidationError, match="cannot be recorded before"):
        step(hunan_admin, hunan_round, 2, HUNAN_VILLAGE, DAY + dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="no completed acceptance form"):
        step(hunan_admin, hunan_round, 1, HUNAN_VILLAGE, DAY + dt.timedelta(days=1))


def test_a_round_opened_before_keeps_its_procedure(hunan_admin: Any, hunan_round: Any) -> None:
    """A round copies its procedure when opened (as a campaign does): a round opened before
    the household check (no such step, no acceptance standard) is not migrated — its steps
    run without a form and the household page reads no form."""
    data = dict(hunan_round.procedure)
    data["steps"] = [s for s in data["steps"] if s["kind"] != "acceptance"]
    hunan_round.procedure = data
    hunan_round.acceptance_standard = {}
    hunan_round.save()
    assert services.acceptance_items(hunan_round) == []
    assert [s.kind for s in hunan_round.steps][:2] == ["deliberation", "notice"]
    step(hunan_admin, hunan_round, 0, HUNAN_VILLAGE, DAY)
    step(hunan_admin, hunan_round, 1, HUNAN_VILLAGE, DAY + dt.timedelta(days=1))
