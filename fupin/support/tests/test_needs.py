"""Social help (issue 6 item 6, 精准扶贫直通车): a village's or household's need goes through
the four stages of seed 000 (Shandong section): “分‘汇集需求——认领申报——组织实施——成效验收’
四个阶段” — submitted and reviewed, claimed by a donor, carried out, accepted with a grade."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fupin.core.models import AuditEntry
from fupin.core.testing import person
from fupin.registry.services import transition_household
from fupin.support import forms, services, views
from fupin.support.models import Need, NeedStatus

SANTANG = "450102100201"  # 三塘村
SITANG = "450102100202"  # 四塘村
TODAY = timezone.localdate


@pytest.fixture
def village_staff(make_user: Callable[..., Any]) -> Any:
    return make_user("santang", SANTANG, "data_officer")


@pytest.fixture
def township_manager(make_user: Callable[..., Any]) -> Any:
    return make_user("xiang", "450102100", "administrator")


@pytest.fixture
def household(county_user: Any, make_household: Callable[..., Any]) -> Any:
    h = make_household(
        head_name="韦秀英", members=[person(name="韦秀英"), person("02", name="覃大明")]
    )
    for step, date in (
        ("propose", dt.date(2016, 12, 10)),
        ("start_notice", dt.date(2016, 12, 11)),
        ("register", dt.date(2016, 12, 20)),
    ):
        transition_household(county_user, h, step, reason="test", date=date)
    h.refresh_from_db()
    return h


def village_need(user: Any, areas: Any, village: str = SANTANG, title: str = "村道硬化") -> Need:
    return services.submit_need(
        user,
        village=areas[village],
        title=title,
        description="村里到镇上的4公里土路需要硬化。",
        amount=Decimal("120000"),
    )


def published(user: Any, manager: Any, areas: Any, **kwargs: Any) -> Need:
    need = village_need(user, areas, **kwargs)
    return services.review_need(manager, need, publish=True, note="属实")


def claimed(user: Any, manager: Any, areas: Any) -> Need:
    need = published(user, manager, areas)
    return services.claim_need(
        user, need, donor="南宁某建材公司", donor_contact="0771-5550000", claimed_on=TODAY()
    )


def carried_out(user: Any, manager: Any, areas: Any) -> Need:
    need = claimed(user, manager, areas)
    return services.record_carried_out(
        user, need, carried_out_on=TODAY(), outcome="已硬化4公里村道。"
    )


# -- the four stages --------------------------------------------------------------------


def test_the_four_stages_in_order(areas: Any, village_staff: Any, township_manager: Any) -> None:
    """Seed 000 (Shandong): 汇集需求 → 认领申报 → 组织实施 → 成效验收, each step audited."""
    need = village_need(village_staff, areas)
    assert need.status == NeedStatus.SUBMITTED
    need = services.review_need(township_manager, need, publish=True, note="属实")
    assert (need.status, need.reviewed_on) == (NeedStatus.PUBLISHED, TODAY())
    need = services.claim_need(
        village_staff,
        need,
        donor="南宁某建材公司",
        donor_contact="0771-5550000",
        claimed_on=TODAY(),
    )
    assert (need.status, need.donor) == (NeedStatus.CLAIMED, "南宁某建材公司")
    need = services.record_carried_out(
        village_staff, need, carried_out_on=TODAY(), outcome="已硬化4公里村道。"
    )
    assert need.status == NeedStatus.CARRIED_OUT
    need = services.accept_need(
        township_manager, need, grade="excellent", accepted_on=TODAY(), note="群众满意"
    )
    need.refresh_from_db()
    assert (need.status, need.grade, need.accepted_on) == (
        NeedStatus.ACCEPTED,
        "excellent",
        TODAY(),
    )
    actions = list(
        AuditEntry.objects.filter(object_type="support.need", object_id=str(need.pk))
        .order_by("pk")
        .values_list("action", "username")
    )
    assert actions == [
        ("support.need.submit", "santang"),
        ("support.need.publish", "xiang"),
        ("support.need.claim", "santang"),
        ("support.need.carry_out", "santang"),
        ("support.need.accept", "xiang"),
    ]
    assert [s.action for s in services.need_history(need)] == [
        "submit",
        "publish",
        "claim",
        "carry_out",
        "accept",
    ]


@pytest.mark.parametrize(
    ("stage", "step"),
    [
        ("submitted", "claim"),
        ("submitted", "carry_out"),
        ("submitted", "accept"),
        ("published", "review"),
        ("published", "carry_out"),
        ("published", "accept"),
        ("claimed", "review"),
        ("claimed", "claim"),
        ("claimed", "accept"),
        ("carried_out", "claim"),
        ("carried_out", "carry_out"),
    ],
)
def test_a_step_out_of_order_is_refused(
    areas: Any, village_staff: Any, township_manager: Any, stage: str, step: str
) -> None:
    """Seed 000 (Shandong): the four stages come in order; a step before its stage is refused
    with the rule's text and changes nothing."""
    make = {
        "submitted": lambda: village_need(village_staff, areas),
        "published": lambda: published(village_staff, township_manager, areas),
        "claimed": lambda: claimed(village_staff, township_manager, areas),
        "carried_out": lambda: carried_out(village_staff, township_manager, areas),
    }
    need = make[stage]()
    run = {
        "review": lambda: services.review_need(township_manager, need, publish=True),
        "claim": lambda: services.claim_need(
            village_staff, need, donor="某公司", donor_contact="0771-1", claimed_on=TODAY()
        ),
        "carry_out": lambda: services.record_carried_out(
            village_staff, need, carried_out_on=TODAY(), outcome="做了"
        ),
        "accept": lambda: services.accept_need(
            township_manager, need, grade="good", accepted_on=TODAY()
        ),
    }
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        run[step]()
    assert "四个阶段" in str(exc.value)
    need.refresh_from_db()
    assert need.status == stage
    assert AuditEntry.objects.count() == entries


def test_a_rejected_need_is_never_published_nor_claimed(
    areas: Any, village_staff: Any, township_manager: Any
) -> None:
    """Seed 000 (Shandong): only a reviewed need is published (经识别分类……对外发布); a
    rejection says why, so the village can correct it."""
    need = village_need(village_staff, areas)
    with pytest.raises(ValidationError) as exc:
        services.review_need(township_manager, need, publish=False, note="  ")
    assert "note" in exc.value.message_dict
    need = services.review_need(township_manager, need, publish=False, note="与村规划重复")
    assert (need.status, need.review_note) == (NeedStatus.REJECTED, "与村规划重复")
    with pytest.raises(ValidationError):
        services.claim_need(
            village_staff, need, donor="某公司", donor_contact="0771-1", claimed_on=TODAY()
        )
    assert services.public_needs() == []


def test_dates_are_not_in_the_future_and_follow_the_stages(
    areas: Any, village_staff: Any, township_manager: Any
) -> None:
    """Seed 000 (Shandong): each stage follows the one before it, so its date does too; no
    stage is recorded before it happened."""
    need = published(village_staff, township_manager, areas)
    tomorrow, yesterday = TODAY() + dt.timedelta(days=1), TODAY() - dt.timedelta(days=1)
    for day in (tomorrow, yesterday):  # yesterday: before the need was published
        with pytest.raises(ValidationError) as exc:
            services.claim_need(
                village_staff, need, donor="某公司", donor_contact="0771-1", claimed_on=day
            )
        assert "claimed_on" in exc.value.message_dict
    need = services.claim_need(
        village_staff, need, donor="某公司", donor_contact="0771-1", claimed_on=TODAY()
    )
    with pytest.raises(ValidationError) as exc:
        services.record_carried_out(village_staff, need, carried_out_on=yesterday, outcome="做了")
    assert "carried_out_on" in exc.value.message_dict
    need = services.record_carried_out(village_staff, need, carried_out_on=TODAY(), outcome="做了")
    with pytest.raises(ValidationError) as exc:
        services.accept_need(township_manager, need, grade="good", accepted_on=tomorrow)
    assert "accepted_on" in exc.value.message_dict


def test_the_grade_is_given_only_at_acceptance(
    areas: Any, village_staff: Any, township_manager: Any
) -> None:
    """Seed 000 (Shandong): the acceptance 评选出优秀、良好、一般、较差四个等次 — nothing is
    graded before it, and only those four grades exist."""
    need = carried_out(village_staff, township_manager, areas)
    assert need.grade == ""
    for form in (forms.NeedForm, forms.ReviewNeedForm, forms.ClaimNeedForm, forms.CarriedOutForm):
        assert "grade" not in form.base_fields
    assert [c for c, _ in forms.AcceptNeedForm.base_fields["grade"].choices] == [  # type: ignore[attr-defined]
        "excellent",
        "good",
        "fair",
        "poor",
    ]
    with pytest.raises(ValidationError) as exc:
        services.accept_need(township_manager, need, grade="outstanding", accepted_on=TODAY())
    assert "grade" in exc.value.message_dict
    need = services.accept_need(township_manager, need, grade="fair", accepted_on=TODAY())
    assert need.grade == "fair"


def test_only_a_manager_of_a_township_or_above_reviews_and_accepts(
    areas: Any, make_user: Callable[..., Any], village_staff: Any, township_manager: Any
) -> None:
    """Seed 000 (Shandong): the poverty office publishes (统一由扶贫办……对外发布) and leads the
    acceptance (由扶贫办牵头组成验收小组); the village that asks does not approve itself."""
    village_admin = make_user("cunzhang", SANTANG, "administrator")
    need = village_need(village_staff, areas)
    for user in (village_admin, village_staff):
        with pytest.raises(PermissionDenied):
            services.review_need(user, need, publish=True)
    need = carried_out(village_staff, township_manager, areas)
    with pytest.raises(PermissionDenied):
        services.accept_need(village_admin, need, grade="good", accepted_on=TODAY())


def test_a_household_need_is_for_a_poor_household_and_names_no_one(
    areas: Any, village_staff: Any, household: Any, make_household: Callable[..., Any]
) -> None:
    """Seed 000 (Shandong): 贫困村、贫困户帮扶需求; DESIGN.md privacy rule: the text that will be
    published carries no person's name, resident ID or phone number."""
    surveyed = make_household(head_name="李四")
    with pytest.raises(ValidationError) as exc:
        services.submit_need(
            village_staff, household=surveyed, title="修缮房屋", description="危房", amount=8000
        )
    assert "household" in exc.value.message_dict
    for text in ("韦秀英家需要修缮房屋", "联系13812345678", "身份证450102197005010011"):
        with pytest.raises(ValidationError) as exc:
            services.submit_need(
                village_staff, household=household, title="修缮房屋", description=text, amount=1
            )
        assert "description" in exc.value.message_dict
    need = services.submit_need(
        village_staff,
        household=household,
        title="修缮房屋",
        description="一户C级危房需要加固屋顶。",
        amount=Decimal("8000"),
    )
    assert need.village_id == SANTANG


# -- the public page ---------------------------------------------------------------------


def test_the_public_page_needs_no_login(areas: Any) -> None:
    """Issue 6 item 6: needs are published for companies and donors, who have no login."""
    assert views.need_public.login_required is False  # type: ignore[attr-defined]
    response = Client().get("/support/needs/public/")
    assert response.status_code == 200
    staff_page = Client().get(reverse("support:need_list"))
    assert staff_page.status_code == 302  # the staff pages still need a login


def test_the_public_page_shows_published_needs_only_and_no_personal_data(
    areas: Any, village_staff: Any, township_manager: Any, household: Any
) -> None:
    """Issue 6 item 6 and DESIGN.md privacy rule: only published needs are public, with the
    village, title, description and amount — never a person's name, ID, phone or income."""
    village_need(village_staff, areas, title="待审的需求")
    rejected = village_need(village_staff, areas, title="被退回的需求")
    services.review_need(township_manager, rejected, publish=False, note="重复")
    taken = published(village_staff, township_manager, areas, title="已被认领的需求")
    services.claim_need(
        village_staff, taken, donor="某公司", donor_contact="0771-1", claimed_on=TODAY()
    )
    published(village_staff, township_manager, areas, title="村道硬化")
    for_household = services.submit_need(
        village_staff,
        household=household,
        title="修缮房屋",
        description="一户C级危房需要加固屋顶。",
        amount=Decimal("8000"),
    )
    services.review_need(township_manager, for_household, publish=True)

    page = Client().get("/support/needs/public/").content.decode()
    assert "村道硬化" in page and "修缮房屋" in page and "三塘村" in page
    for hidden in ("待审的需求", "被退回的需求", "已被认领的需求", "某公司"):
        assert hidden not in page
    member = household.members.first()
    for personal in ("韦秀英", "覃大明", household.code, member.id_number, "0771-1"):
        assert personal not in page
    rows = {n.title: n for n in services.public_needs()}
    assert set(rows) == {"村道硬化", "修缮房屋"}
    assert rows["修缮房屋"].for_household and not rows["村道硬化"].for_household


# -- area scoping --------------------------------------------------------------------------


def test_needs_are_area_scoped(
    areas: Any, make_user: Callable[..., Any], village_staff: Any, county_user: Any
) -> None:
    """DESIGN.md area scoping: a village's staff see and act on their own village's needs
    only; anything else is a 404, never a 403."""
    own = village_need(village_staff, areas, title="三塘村的需求")
    sitang_staff = make_user("sitang", SITANG, "data_officer")
    other = village_need(sitang_staff, areas, village=SITANG, title="四塘村的需求")
    with pytest.raises(PermissionDenied):
        village_need(village_staff, areas, village=SITANG)

    client = Client()
    client.force_login(village_staff)
    listing = client.get(reverse("support:need_list")).content.decode()
    assert "三塘村的需求" in listing and "四塘村的需求" not in listing
    assert client.get(reverse("support:need_detail", args=[own.pk])).status_code == 200
    assert client.get(reverse("support:need_detail", args=[other.pk])).status_code == 404
    response = client.post(
        reverse("support:need_claim", args=[other.pk]),
        {"donor": "某公司", "donor_contact": "0771-1", "claimed_on": TODAY().isoformat()},
    )
    assert response.status_code == 404
    with pytest.raises(Http404):
        Need.objects.get_for_user(village_staff, pk=other.pk)

    client.force_login(county_user)
    listing = client.get(reverse("support:need_list"), {"area": SITANG}).content.decode()
    assert "四塘村的需求" in listing and "三塘村的需求" not in listing


# -- the staff pages -----------------------------------------------------------------------


def test_the_staff_pages_take_a_need_through_its_stages(
    areas: Any, village_staff: Any, township_manager: Any
) -> None:
    """Seed 000 (Shandong): the four stages from the pages; a step out of order is refused
    on the page with the rule's text."""
    staff, manager = Client(), Client()
    staff.force_login(village_staff)
    manager.force_login(township_manager)
    response = staff.post(
        reverse("support:need_create"),
        {"village": SANTANG, "title": "村道硬化", "description": "土路", "amount": "120000"},
    )
    need = Need.objects.get()
    assert response.status_code == 302
    refused = staff.post(
        reverse("support:need_claim", args=[need.pk]),
        {"donor": "某公司", "donor_contact": "0771-1", "claimed_on": TODAY().isoformat()},
    )
    assert refused.status_code == 400
    assert "四个阶段" in refused.content.decode()
    page = manager.get(reverse("support:need_detail", args=[need.pk])).content.decode()
    assert "need-step-review" in page
    manager.post(reverse("support:need_review", args=[need.pk]), {"decision": "publish"})
    staff.post(
        reverse("support:need_claim", args=[need.pk]),
        {"donor": "某公司", "donor_contact": "0771-1", "claimed_on": TODAY().isoformat()},
    )
    staff.post(
        reverse("support:need_carry_out", args=[need.pk]),
        {"carried_out_on": TODAY().isoformat(), "outcome": "已硬化"},
    )
    manager.post(
        reverse("support:need_accept", args=[need.pk]),
        {"grade": "good", "accepted_on": TODAY().isoformat()},
    )
    need.refresh_from_db()
    assert (need.status, need.grade) == (NeedStatus.ACCEPTED, "good")
    page = staff.get(reverse("support:need_detail", args=[need.pk])).content.decode()
    assert page.count('class="mb-2"') == 5  # the five recorded steps in the history
    assert "need-step" not in page
