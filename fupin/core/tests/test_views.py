"""The core pages: login, home figures, area tree, audit log — all inside the user's area."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from fupin.core.testing import person
from fupin.registry import services


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.mark.django_db
def test_login_page_and_login(client, county_user) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = client.post(reverse("login"), {"username": "county", "password": "secret-pass-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "兴宁区" in home.content.decode()  # the user's area in the top bar


@pytest.mark.django_db
def test_wrong_password_is_refused(client, county_user) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("login"), {"username": "county", "password": "wrong"})
    assert response.status_code == 200
    assert "The username or password is wrong" in response.content.decode()


@pytest.mark.django_db
def test_logout_is_a_post(client, county_user) -> None:
    login(client, county_user)
    page = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("logout")}"' in page
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_home_needs_login(client) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302


@pytest.mark.django_db
def test_home_counts_only_the_users_area(client, county_user, make_user, make_household) -> None:
    """DOMAIN.md §1/§8: figures are of the user's area and link down to the households."""
    make_household()
    registered = make_household(attribute="dibao")  # breaks a data-quality rule
    for step in ("propose", "start_notice", "register"):
        services.transition_household(county_user, registered, step, reason="评议通过")
    make_household(income={})
    province = make_user("province", "45", "administrator")
    services.create_household(
        province, {"village": "450103100201", "head_name": "李四"}, [person(area="450103")]
    )
    response = login(client, county_user).get(reverse("home"))
    context = response.context
    assert context["total_households"] == 3
    assert context["problem_households"] >= 1
    assert context["no_income_households"] == 1
    statuses = {s["value"]: s for s in context["statuses"]}
    assert statuses["registered"]["households"] == 1
    assert statuses["registered"]["people"] == 2
    content = response.content.decode()
    list_url = reverse("registry:household_list")
    assert f'href="{list_url}?status=registered"' in content
    assert f'href="{list_url}?quality=any"' in content
    assert f'href="{list_url}?income_band=none"' in content
    # The other county's household is counted on the province user's home only.
    assert login(client, province).get(reverse("home")).context["total_households"] == 4


@pytest.mark.django_db
def test_language_switch_is_offered(client, county_user) -> None:
    content = login(client, county_user).get(reverse("home")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in content  # htmx posts carry the CSRF token
    assert f'action="{reverse("set_language")}"' in content
    assert 'value="zh-hans"' in content and 'value="en"' in content


@pytest.mark.django_db
def test_area_tree_children_with_counts(client, county_user, make_household) -> None:
    make_household(village="450102100201")
    make_household(village="450102100202")
    login(client, county_user)
    page = client.get(reverse("area_tree")).content.decode()
    assert "三塘镇" in page and "五塘镇" in page
    assert reverse("area_children", args=["450102100"]) in page
    partial = client.get(
        reverse("area_children", args=["450102100"]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in partial
    assert "三塘村" in partial and "四塘村" in partial
    assert f"{reverse('registry:household_list')}?area=450102100201" in partial


@pytest.mark.django_db
def test_area_outside_the_subtree_is_404(client, county_user) -> None:
    """DOMAIN.md §1: a user sees only his own area's subtree."""
    login(client, county_user)
    assert client.get(reverse("area_children", args=["450103"])).status_code == 404
    assert client.get(reverse("area_children", args=["45"])).status_code == 404
    assert client.get(reverse("area_children", args=["999999"])).status_code == 404
    assert client.get(reverse("area_tree"), {"area": "450103100"}).status_code == 404


@pytest.mark.django_db
def test_audit_log_shows_the_users_area_only(client, make_user, make_household) -> None:
    """DESIGN.md audit: every change is recorded; reviewers read their own area's log."""
    mine = make_household(head_name="张三")
    province = make_user("province", "45", "administrator")
    services.create_household(
        province, {"village": "450103100201", "head_name": "李四"}, [person(area="450103")]
    )
    reviewer = make_user("reviewer", "450102", "reviewer")
    login(client, reviewer)
    response = client.get(reverse("audit_log"))
    assert response.status_code == 200
    entries = list(response.context["page"].object_list)
    assert entries and all(e.area_code.startswith("450102") for e in entries)
    assert any(e.object_id == str(mine.pk) for e in entries)
    content = response.content.decode()
    assert "张三" in content and "李四" not in content
    filtered = client.get(reverse("audit_log"), {"action": "registry.household.update"})
    assert list(filtered.context["page"].object_list) == []
    by_user = client.get(reverse("audit_log"), {"user": "county"})
    assert len(by_user.context["page"].object_list) == len(entries)


@pytest.mark.django_db
def test_audit_log_needs_the_permission(client, make_user) -> None:
    officer = make_user("officer", "450102", "data_officer")
    assert login(client, officer).get(reverse("audit_log")).status_code == 403
    content = client.get(reverse("home")).content.decode()
    assert reverse("audit_log") not in content  # not offered in the navigation either


@pytest.mark.django_db
def test_audit_log_masks_bank_accounts_for_reviewers(client, make_user, make_household) -> None:
    """DESIGN.md privacy: reviewers read the log but not full account numbers."""
    make_household(bank_account="6230580000001234567")
    reviewer = make_user("reviewer", "450102", "reviewer")
    content = login(client, reviewer).get(reverse("audit_log")).content.decode()
    assert "6230580000001234567" not in content
    assert "623058***********67" in content


@pytest.mark.django_db
def test_county_admin_designates_a_poor_village(client, county_user, make_user):
    """DOMAIN.md §2: villages carry the flags 贫困村 and 深度贫困村, set by the county."""
    from fupin.core.models import Area, AuditEntry

    client.force_login(county_user)
    url = "/areas/450102100201/flags/"
    assert client.get(url).status_code == 200
    refused = client.post(
        url, {"is_deep_poverty_village": "on", "reason": "县扶贫开发领导小组文件"}
    )
    assert refused.status_code == 200  # deep but not poor: an error on the form
    assert not Area.objects.get(code="450102100201").is_deep_poverty_village
    done = client.post(
        url,
        {"is_poor_village": "on", "is_deep_poverty_village": "on", "reason": "县扶贫办〔2016〕3号"},
    )
    assert done.status_code == 302
    village = Area.objects.get(code="450102100201")
    assert village.is_poor_village and village.is_deep_poverty_village
    assert AuditEntry.objects.filter(action="core.area.flags", object_id="450102100201").exists()
    assert client.get("/areas/450103100201/flags/").status_code == 404  # outside the county
    officer = make_user("officer", "450102", "data_officer")
    client.force_login(officer)
    assert client.get(url).status_code == 403
