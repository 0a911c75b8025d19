"""Support cadres and their pairings with households (issue 6 item 1, DOMAIN.md §4).

Every rule of `policy/support.toml` [pairing] refuses with its own text and source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from fupin.core.models import AuditEntry
from fupin.core.services import StaleEdit
from fupin.core.testing import person
from fupin.exit import guards as exit_guards
from fupin.registry import services as registry
from fupin.registry.models import Household
from fupin.support import services
from fupin.support.models import Cadre, Pairing, PairingEndCause
from fupin.support.policy import rules

VILLAGE = "450102100201"  # 三塘村
OTHER_VILLAGE = "450102100202"  # 四塘村
START = dt.date(2017, 3, 1)
_ids = iter(range(100, 999))


def cadre_data(**fields: Any) -> dict[str, Any]:
    return {
        "name": "王干部",
        "sex": "1",
        "id_number": person(born=dt.date(1975, 3, 3), area="450103")["id_number"],
        "employer": "兴宁区扶贫办",
        "post": "科员",
        "phone": "13800000000",
        "in_service": True,
        "level": "county",
        "area": "450102",
        **fields,
    }


def register(user: Any, household: Household, *steps: str) -> Household:
    """Move a surveyed household along the life cycle with dated steps in early 2017."""
    day = dt.date(2017, 1, 5)
    for step in ("propose", "start_notice", "register", *steps):
        registry.transition_household(user, household, step, reason="评议通过", date=day)
        household.refresh_from_db()
        day += dt.timedelta(days=10)
    return household


@pytest.fixture(autouse=True)
def _english() -> Any:
    # The refusals are checked by their English msgids, whatever the catalogue holds.
    with translation.override("en"):
        yield


@pytest.fixture
def make_cadre(county_user: Any) -> Callable[..., Cadre]:
    def make(**fields: Any) -> Cadre:
        return services.create_cadre(county_user, cadre_data(**fields))

    return make


@pytest.fixture
def poor(county_user: Any, make_household: Callable[..., Any]) -> Callable[..., Household]:
    """A registered household of 三塘村 (or another village)."""

    def make(village: str = VILLAGE, **fields: Any) -> Household:
        return register(county_user, make_household(village=village, **fields))

    return make


def refusal(exc: pytest.ExceptionInfo[ValidationError], key: str) -> str:
    return " ".join(exc.value.message_dict[key])


# -- cadres ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_and_update_cadre_audited_with_masked_id(county_user, make_cadre) -> None:
    """Every change is audited (project rule); the trail shows the ID masked."""
    cadre = make_cadre()
    entry = AuditEntry.objects.get(action="support.cadre.create", object_id=str(cadre.pk))
    assert entry.after["id_number"] == cadre.masked_id != cadre.id_number
    services.update_cadre(county_user, cadre, {"post": "副科长"}, expected_version=1)
    cadre.refresh_from_db()
    assert (cadre.post, cadre.version) == ("副科长", 2)
    update = AuditEntry.objects.get(action="support.cadre.update")
    assert (update.before, update.after) == ({"post": "科员"}, {"post": "副科长"})


@pytest.mark.django_db
def test_update_cadre_refuses_a_stale_version(county_user, make_cadre) -> None:
    """Optimistic locking: an edit made on an old copy is refused, not silently merged."""
    cadre = make_cadre()
    services.update_cadre(county_user, cadre, {"post": "副科长"}, expected_version=1)
    with pytest.raises(StaleEdit):
        services.update_cadre(county_user, cadre, {"post": "科长"}, expected_version=1)


@pytest.mark.django_db
def test_cadre_fields_and_area_are_checked(county_user, make_cadre, make_user) -> None:
    """A cadre's resident ID is valid and unique; his area lies in the user's reach."""
    first = make_cadre()
    with pytest.raises(ValidationError) as exc:
        services.create_cadre(county_user, cadre_data(id_number=first.id_number))
    assert "already on the list" in refusal(exc, "id_number")
    with pytest.raises(ValidationError) as exc:
        services.create_cadre(county_user, cadre_data(id_number="450102197501010000"))
    assert "id_number" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_cadre(county_user, cadre_data(area="450103"))
    assert "outside your area" in refusal(exc, "area")
    clerk = make_user("clerk", "450102", "data_officer")
    with pytest.raises(PermissionDenied):
        services.create_cadre(clerk, cadre_data())


@pytest.mark.django_db
def test_link_login_needs_a_support_cadre_account_in_reach(
    county_user, make_cadre, make_user
) -> None:
    """A cadre logs in as a support cadre (issue 6 item 1); one account, one cadre."""
    cadre = make_cadre()
    officer = make_user("officer", VILLAGE, "data_officer")
    with pytest.raises(ValidationError) as exc:
        services.link_login(county_user, cadre, officer)
    assert "support-cadre role" in refusal(exc, "login")
    outside = make_user("outside", "450103100201", "support_cadre")
    with pytest.raises(ValidationError) as exc:
        services.link_login(county_user, cadre, outside)
    assert "outside your area" in refusal(exc, "login")
    login = make_user("wang", VILLAGE, "support_cadre")
    services.link_login(county_user, cadre, login)
    assert Cadre.objects.get(user=login) == cadre
    other = make_cadre(name="李干部", id_number=person(area="450103")["id_number"])
    with pytest.raises(ValidationError) as exc:
        services.link_login(county_user, other, login)
    assert "another cadre" in refusal(exc, "login")
    assert AuditEntry.objects.filter(action="support.cadre.link_login").count() == 1


# -- the pairing rules -----------------------------------------------------------------------


@pytest.mark.django_db
def test_pair_and_end_are_audited(county_user, make_cadre, poor) -> None:
    """Every change audited; a pairing ends dated and reasoned and stays as history."""
    cadre, household = make_cadre(), poor()
    pairing = services.pair(county_user, cadre, household, START)
    services.end_pairing(
        county_user, pairing, dt.date(2018, 1, 1), "调任市里", cause=PairingEndCause.CADRE_LEFT
    )
    pairing.refresh_from_db()
    assert (pairing.ended_on, pairing.end_cause, pairing.end_reason) == (
        dt.date(2018, 1, 1),
        "cadre_left",
        "调任市里",
    )
    actions = list(
        AuditEntry.objects.filter(action__startswith="support.pairing").values_list(
            "action", "area_code"
        )
    )
    assert actions == [("support.pairing.create", VILLAGE), ("support.pairing.end", VILLAGE)]


@pytest.mark.django_db
def test_at_most_three_households_per_cadre(county_user, make_cadre, poor) -> None:
    """Seed 004 (Anhui): 每名帮扶联系人所联系的贫困家庭一般不超过3户."""
    cadre = make_cadre()
    for _ in range(rules().pairing.max_households_per_cadre):
        services.pair(county_user, cadre, poor(), START)
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, poor(), START)
    text = refusal(exc, "cadre")
    assert "already supports 3 households; at most 3 at a time" in text
    assert "每名帮扶联系人所联系的贫困家庭一般不超过3户" in text


@pytest.mark.django_db
def test_the_limit_counts_only_active_pairings(county_user, make_cadre, poor) -> None:
    """Seed 004 (Anhui): ≤ 3 households *at a time* — ended pairings free a place."""
    cadre = make_cadre()
    pairings = [services.pair(county_user, cadre, poor(), START) for _ in range(3)]
    services.end_pairing(
        county_user,
        pairings[0],
        dt.date(2017, 6, 1),
        "户籍迁出",
        cause=PairingEndCause.HOUSEHOLD_CLOSED,
    )
    fourth = services.pair(county_user, cadre, poor(), dt.date(2017, 6, 2))
    assert services.active_pairings(cadre).count() == 3
    assert Pairing.objects.filter(cadre=cadre).count() == 4
    assert fourth.ended_on is None


@pytest.mark.django_db
def test_cadre_must_be_in_service(county_user, make_cadre, poor) -> None:
    """Seed 004 (Anhui): 帮扶联系人必须是……在编干部或企业中层以上管理人员."""
    cadre = make_cadre(in_service=False)
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, poor(), START)
    text = refusal(exc, "cadre")
    assert "is not an in-service cadre" in text and "在编干部" in text


@pytest.mark.django_db
def test_cadre_must_be_of_an_eligible_level(county_user, make_cadre, poor) -> None:
    """Seed 004 (Anhui): 乡镇以上党政机关、事业单位……: a village's own staff may not."""
    cadre = make_cadre(level="village")
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, poor(), START)
    text = refusal(exc, "cadre")
    assert "whose staff may not support households" in text and "乡镇以上" in text


@pytest.mark.django_db
def test_cadre_must_not_be_a_registered_poor_person(
    county_user, make_cadre, make_household, poor
) -> None:
    """DOMAIN.md §4: a support cadre cannot be a registered poor person (by resident ID)."""
    member = person(area="450102", born=dt.date(1980, 1, 1))
    household = make_household(members=[member])
    cadre = make_cadre(id_number=member["id_number"])
    # Only surveyed: not (yet) a registered poor person, so the pairing is allowed.
    first = services.pair(county_user, cadre, poor(), START)
    register(county_user, household)
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, poor(), START)
    assert "is a registered poor person" in refusal(exc, "cadre")
    assert first.ended_on is None


@pytest.mark.django_db
def test_inactive_cadre_is_refused(county_user, make_cadre, poor) -> None:
    """A cadre taken off the list supports no new household; he cannot be taken off while
    households depend on him (DOMAIN.md §4: no household without a cadre)."""
    cadre = make_cadre()
    pairing = services.pair(county_user, cadre, poor(), START)
    with pytest.raises(ValidationError) as exc:
        services.update_cadre(county_user, cadre, {"active": False}, expected_version=None)
    assert "still supports households (1)" in refusal(exc, "active")
    services.end_pairing(county_user, pairing, START, "退休", cause=PairingEndCause.CADRE_LEFT)
    services.update_cadre(county_user, cadre, {"active": False}, expected_version=None)
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, poor(), START)
    assert "no longer an active cadre" in refusal(exc, "cadre")


@pytest.mark.django_db
def test_a_household_has_at_most_one_active_cadre(county_user, make_cadre, poor) -> None:
    """DOMAIN.md §4: one cadre per household — a second active pairing is refused."""
    household = poor()
    first = make_cadre()
    second = make_cadre(name="李干部", id_number=person(area="450103")["id_number"])
    services.pair(county_user, first, household, START)
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, second, household, START)
    text = refusal(exc, "household")
    assert "already has a cadre, 王干部" in text and "DOMAIN.md §4" in text
    assert services.active_pairings(second).count() == 0


@pytest.mark.django_db
def test_only_registered_consolidating_or_proposed_households(
    county_user, make_cadre, make_household
) -> None:
    """support.toml must_be_paired_statuses (+ proposed): not a surveyed household."""
    cadre = make_cadre()
    surveyed = make_household()
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, surveyed, START)
    assert "A household that is Surveyed is not paired" in refusal(exc, "household")
    registry.transition_household(
        county_user, surveyed, "propose", reason="评议", date=dt.date(2017, 1, 5)
    )
    surveyed.refresh_from_db()
    assert services.pair(county_user, cadre, surveyed, START).household == surveyed


@pytest.mark.django_db
def test_dates_not_in_future_nor_before_the_household_entered(
    county_user, make_cadre, poor
) -> None:
    """A pairing is dated within the household's life on the registry (DOMAIN.md §2)."""
    cadre, household = make_cadre(), poor()
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, household, dt.date.today() + dt.timedelta(days=2))
    assert "future" in refusal(exc, "started_on")
    with pytest.raises(ValidationError) as exc:
        services.pair(county_user, cadre, household, dt.date(2016, 6, 1))
    assert "before the household entered the registry (2017-01-05)" in refusal(exc, "started_on")
    pairing = services.pair(county_user, cadre, household, START)
    with pytest.raises(ValidationError) as exc:
        services.end_pairing(
            county_user, pairing, dt.date(2017, 2, 1), "x", cause=PairingEndCause.OTHER
        )
    assert "cannot end before it started (2017-03-01)" in refusal(exc, "ended_on")


@pytest.mark.django_db
def test_pairing_outside_the_users_area_is_forbidden(
    make_user, make_cadre, poor, county_user
) -> None:
    """Area scoping (DESIGN.md): a township administrator pairs only in his township."""
    cadre = make_cadre(area="450102101")
    township = make_user("wutang", "450102101", "administrator")
    with pytest.raises(PermissionDenied):
        services.pair(township, cadre, poor(VILLAGE), START)
    assert services.pair(township, cadre, poor("450102101201"), START).cadre == cadre


# -- 脱贫不脱钩 and reassignment ---------------------------------------------------------------


@pytest.mark.django_db
def test_no_ending_because_the_household_exited_during_the_campaign(
    county_user, make_cadre, poor
) -> None:
    """Seed 004 (Anhui) 脱贫不脱钩: 脱贫攻坚期内，对已退出的贫困人口，扶贫政策和帮扶措施不变."""
    household = poor(VILLAGE)
    register_exit = ("propose_exit", "exit")
    pairing = services.pair(county_user, make_cadre(), household, START)
    day = dt.date(2019, 11, 1)
    for step in register_exit:
        with exit_guards.outside_procedure("test: an exited household"):
            registry.transition_household(county_user, household, step, reason="达标", date=day)
        household.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.end_pairing(
            county_user,
            pairing,
            dt.date(2020, 12, 31),
            "已脱贫",
            cause=PairingEndCause.HOUSEHOLD_EXITED,
        )
    text = refusal(exc, "end_cause")
    assert "keeps its cadre until the campaign ends on 2020-12-31" in text
    assert "扶贫政策和帮扶措施不变" in text
    # After the campaign, the same cause is accepted.
    services.end_pairing(
        county_user, pairing, dt.date(2021, 1, 5), "已脱贫", cause=PairingEndCause.HOUSEHOLD_EXITED
    )
    assert Pairing.objects.get(pk=pairing.pk).ended_on == dt.date(2021, 1, 5)


@pytest.mark.django_db
def test_ending_needs_a_cause_and_a_reason(county_user, make_cadre, poor) -> None:
    """An ended pairing says why (DOMAIN.md §4: pairing history), and ends only once."""
    pairing = services.pair(county_user, make_cadre(), poor(), START)
    with pytest.raises(ValidationError) as exc:
        services.end_pairing(county_user, pairing, dt.date(2018, 1, 1), "  ", cause="bored")
    assert set(exc.value.message_dict) == {"end_cause", "end_reason"}
    services.end_pairing(
        county_user, pairing, dt.date(2018, 1, 1), "退休", cause=PairingEndCause.CADRE_LEFT
    )
    with pytest.raises(ValidationError, match="already ended on 2018-01-01"):
        services.end_pairing(
            county_user, pairing, dt.date(2018, 1, 2), "退休", cause=PairingEndCause.CADRE_LEFT
        )


@pytest.mark.django_db
def test_reassign_ends_the_old_and_pairs_the_new_in_one_step(county_user, make_cadre, poor) -> None:
    """DOMAIN.md §4: a change of cadre keeps exactly one active cadre for the household."""
    household = poor()
    old = make_cadre()
    new = make_cadre(name="李干部", id_number=person(area="450103")["id_number"])
    pairing = services.pair(county_user, old, household, START)
    day = dt.date(2018, 5, 2)
    fresh = services.reassign(county_user, pairing, new, day, "原帮扶人退休")
    old_pairing = Pairing.objects.get(pk=pairing.pk)
    assert (old_pairing.ended_on, old_pairing.end_cause) == (day, "cadre_left")
    assert (fresh.cadre, fresh.started_on, fresh.ended_on) == (new, day, None)
    active = Pairing.objects.filter(household=household, ended_on__isnull=True)
    assert list(active) == [fresh]


@pytest.mark.django_db
def test_reassign_to_a_full_cadre_changes_nothing(county_user, make_cadre, poor) -> None:
    """Seed 004 (Anhui) ≤ 3 households: a refused reassignment leaves the old pairing."""
    household = poor()
    old = make_cadre()
    full = make_cadre(name="李干部", id_number=person(area="450103")["id_number"])
    for _ in range(3):
        services.pair(county_user, full, poor(), START)
    pairing = services.pair(county_user, old, household, START)
    with pytest.raises(ValidationError) as exc:
        services.reassign(county_user, pairing, full, dt.date(2018, 5, 2), "调整")
    assert "at most 3 at a time" in refusal(exc, "cadre")
    assert Pairing.objects.get(pk=pairing.pk).ended_on is None
    with pytest.raises(ValidationError) as exc:
        services.reassign(county_user, pairing, old, dt.date(2018, 5, 2), "调整")
    assert "other than the current one" in refusal(exc, "cadre")


# -- pages -------------------------------------------------------------------------------------


def page(name: str, *args: Any) -> str:
    return reverse(f"support:{name}", args=args)


@pytest.mark.django_db
def test_cadre_pages_create_pair_and_reassign(
    client: Client, county_user, make_cadre, poor
) -> None:
    """The pages do what the services do, and show a refusal's rule on the form."""
    client.force_login(county_user)
    assert client.get(page("cadre_create")).status_code == 200
    response = client.post(page("cadre_create"), {**cadre_data(), "in_service": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    cadre = Cadre.objects.get()
    households = [poor() for _ in range(4)]
    for h in households[:3]:
        response = client.post(
            page("cadre_pair", cadre.pk), {"household": h.pk, "started_on": "2017-03-01"}
        )
        assert response.status_code == 302
    response = client.post(
        page("cadre_pair", cadre.pk), {"household": households[3].pk, "started_on": "2017-03-01"}
    )
    assert response.status_code == 200
    assert "每名帮扶联系人所联系的贫困家庭一般不超过3户" in response.content.decode()
    detail = client.get(page("cadre_detail", cadre.pk)).content.decode()
    assert all(h.code in detail for h in households[:3])
    other = make_cadre(name="李干部", id_number=person(area="450103")["id_number"])
    pairing = Pairing.objects.filter(household=households[0]).get()
    assert "李干部" in client.get(page("pairing_reassign", pairing.pk)).content.decode()
    response = client.post(
        page("pairing_reassign", pairing.pk),
        {"cadre": other.pk, "on": "2018-01-02", "end_cause": "cadre_left", "reason": "退休"},
    )
    assert response.status_code == 302
    assert Pairing.objects.get(household=households[0], ended_on__isnull=True).cadre == other
    listing = client.get(page("cadre_list"), {"over_limit": "on"}).content.decode()
    assert "王干部" not in listing
    response = client.get(page("household_pair", households[3].pk))
    assert response.status_code == 200 and "李干部" in response.content.decode()


@pytest.mark.django_db
def test_cadre_pages_are_area_scoped(client: Client, make_user, make_cadre) -> None:
    """Area scoping: a cadre outside the user's area is a 404, not a 403."""
    cadre = make_cadre(area="450102101")
    client.force_login(make_user("santang", "450102100", "administrator"))
    assert client.get(page("cadre_detail", cadre.pk)).status_code == 404
    assert "王干部" not in client.get(page("cadre_list")).content.decode()


@pytest.mark.django_db
def test_end_page_shows_the_keep_after_exit_rule(
    client: Client, county_user, make_cadre, poor
) -> None:
    """Seed 004 (Anhui) 脱贫不脱钩: the end form shows the refusal with its source."""
    pairing = services.pair(county_user, make_cadre(), poor(), START)
    client.force_login(county_user)
    url = page("pairing_end", pairing.pk)
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"ended_on": "2019-06-01", "end_cause": "household_exited", "end_reason": "脱贫"}
    )
    assert response.status_code == 200
    assert "扶贫政策和帮扶措施不变" in response.content.decode()
    assert Pairing.objects.get(pk=pairing.pk).ended_on is None


@pytest.mark.django_db
def test_edit_page_links_a_login_and_reports_a_stale_version(
    client: Client, county_user, make_cadre, make_user
) -> None:
    """Optimistic locking on the page: the second of two edits is shown the conflict."""
    cadre = make_cadre()
    login = make_user("wang", VILLAGE, "support_cadre")
    client.force_login(county_user)
    url = page("cadre_edit", cadre.pk)
    form = client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(in_service="on", active="on", login=login.pk, post="副科长")
    assert client.post(url, data).status_code == 302
    cadre.refresh_from_db()
    assert (cadre.post, cadre.user) == ("副科长", login)
    response = client.post(url, {**data, "post": "科长"})  # still version 1
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Cadre.objects.get(pk=cadre.pk).post == "副科长"
