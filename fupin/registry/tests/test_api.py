"""The registry REST API: scoped, validated by the services, locked, in the user's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fupin.core.models import User
from fupin.core.testing import person
from fupin.registry import services
from fupin.registry.filtersets import HouseholdFilterSet
from fupin.registry.models import Household, Member, StatusChange

pytestmark = pytest.mark.django_db

VILLAGE = "450102100201"
OTHER_VILLAGE = "450102100202"
OTHER_COUNTY_VILLAGE = "450103100201"


def client_for(user: User, language: str | None = None) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    if language:
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    return client


@pytest.fixture
def county_api(county_user: User) -> APIClient:
    return client_for(county_user)


def bad_id() -> str:
    number = person()["id_number"]
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


#: The Chinese check-digit message up to its placeholder (the expected digit varies).
CHECK_DIGIT_ZH = "此身份证号码的校验位有误"


def new_household(**extra: Any) -> dict[str, Any]:
    return {
        "village": VILLAGE,
        "head_name": "李四",
        "main_cause": "1",
        "members": [person(), person("02", male=False)],
        "income": {"year": 2016, "wage": "7000", "business": "2000", "business_cost": "1000"},
        **extra,
    }


# ------------------------------------------------------------------------------ auth


def test_token_is_obtained_with_username_and_password(county_user):
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": "county", "password": "secret-pass-1"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/households/").status_code == 200


def test_wrong_password_is_refused_in_the_users_language(county_user):
    client = APIClient()
    body = {"username": "county", "password": "wrong-password"}
    response = client.post("/api/auth/token/", body, format="json")
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == ["无法使用提供的认证信息登录。"]
    response = client.post("/api/auth/token/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["non_field_errors"] == ["Unable to log in with provided credentials."]


def test_anonymous_gets_401(areas):
    assert APIClient().get("/api/households/").status_code == 401


# ----------------------------------------------------------------------- list & scope


def test_list_is_paginated_and_scoped(make_household, make_user, county_api):
    ours = make_household(village=VILLAGE)
    make_household(village=OTHER_VILLAGE)
    province = make_user("province", "45", "administrator")
    services.create_household(
        province, {"village": OTHER_COUNTY_VILLAGE, "head_name": "赵六"}, [person()]
    )

    page = county_api.get("/api/households/").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 2  # 兴宁区 only, not 青秀区
    assert {h["village"] for h in page["results"]} == {VILLAGE, OTHER_VILLAGE}

    village_api = client_for(make_user("cun", VILLAGE, "data_officer"))
    page = village_api.get("/api/households/").json()
    assert [h["code"] for h in page["results"]] == [ours.code]

    page = county_api.get("/api/households/", {"page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1
    assert page["next"] and page["previous"] is None


def test_object_outside_the_area_is_404(make_household, make_user):
    theirs = make_household(village=OTHER_VILLAGE)
    member = theirs.members.first()
    api = client_for(make_user("cun", VILLAGE, "data_officer"))
    base = f"/api/households/{theirs.pk}"
    assert api.get(f"{base}/").status_code == 404
    assert api.patch(f"{base}/", {"version": 1, "phone": "1"}, format="json").status_code == 404
    assert api.get(f"{base}/members/").status_code == 404
    assert api.get(f"{base}/members/{member.pk}/").status_code == 404
    assert api.get(f"{base}/history/").status_code == 404
    assert api.get(f"{base}/transitions/").status_code == 404
    response = api.post(f"{base}/income/", {"year": 2016, "wage": 1}, format="json")
    assert response.status_code == 404
    assert api.get("/api/households/999999/").status_code == 404


def test_member_of_another_household_is_404(make_household, county_api):
    a, b = make_household(), make_household()
    other = b.members.first()
    assert county_api.get(f"/api/households/{a.pk}/members/{other.pk}/").status_code == 404


# ---------------------------------------------------------------------- representation


def test_detail_masks_ids_unless_the_role_may_see_them(make_household, make_user, county_api):
    h = make_household()
    full = county_api.get(f"/api/households/{h.pk}/")
    assert full.status_code == 200
    assert full["ETag"] == f'"{h.version}"'
    member = full.json()["members"][0]
    number = Member.objects.get(pk=member["id"]).id_number
    assert member["id_number"] == number
    assert member["id_number_masked"] == number[:6] + "*" * 10 + number[-2:]

    viewer = client_for(make_user("viewer", "450102", "viewer"))
    member = viewer.get(f"/api/households/{h.pk}/").json()["members"][0]
    assert member["id_number"] is None
    assert member["id_number_masked"] == number[:6] + "*" * 10 + number[-2:]
    listed = viewer.get("/api/households/").json()["results"][0]["members"][0]
    assert listed["id_number"] is None


# -------------------------------------------------------------------------------- create


def test_post_creates_household_with_members_and_income(county_api):
    response = county_api.post("/api/households/", new_household(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["code"] == f"{VILLAGE}0001"
    assert data["people"] == 2
    assert data["per_capita_income"] == "4000.00"  # (7000 + 2000 − 1000) ÷ 2
    assert data["income_year"] == 2016
    assert data["income"]["net"] == "8000.00"
    assert data["status"] == "surveyed" and data["version"] == 1
    assert [m["relation"] for m in data["members"]] == ["01", "02"]
    assert data["members"][1]["sex"] == "F"
    assert response["Location"] == f"/api/households/{data['id']}/"
    household = Household.objects.get(pk=data["id"])
    assert household.per_capita_income == Decimal("4000.00")


def test_computed_fields_cannot_be_written(county_api):
    body = new_household(people=99, per_capita_income="1", status="exited", code="X", version=7)
    data = county_api.post("/api/households/", body, format="json").json()
    assert (data["people"], data["per_capita_income"], data["status"]) == (2, "4000.00", "surveyed")
    assert data["code"] != "X" and data["version"] == 1


def test_one_bad_resident_id_rejects_everything(county_api):
    body = new_household(members=[person(), {**person("02", male=False), "id_number": bad_id()}])
    response = county_api.post("/api/households/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    # DRF ≥ 3.18 reports a nested list's errors by the index of each failing item.
    assert list(errors["members"]) == ["1"]
    [message] = errors["members"]["1"]["id_number"]
    assert message.startswith(CHECK_DIGIT_ZH)
    assert not Household.objects.exists()
    assert not Member.objects.exists()


def test_service_errors_are_nested_like_drf_errors(county_api):
    """Rules only the service knows come back at the same nested place as field errors."""
    body = new_household(
        members=[person(), person("02", male=False, disability_grade=2)],
        income={"year": 1990, "wage": "100"},
        is_dilapidated=True,
    )
    response = county_api.post("/api/households/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.json()
    assert errors["members"] == {
        "1": {"disability_grade": ["Only a disabled member has a disability grade."]}
    }
    assert errors["income"]["year"][0].startswith("The income year must be between 2000")
    assert errors["dilapidation_grade"] == ["Give the grade (C or D) of the dilapidated house."]
    assert not Household.objects.exists()


def test_messages_follow_accept_language(county_api):
    body = new_household()
    del body["head_name"]
    body["members"][1]["id_number"] = bad_id()

    default = county_api.post("/api/households/", body, format="json").json()
    assert default["head_name"] == ["该字段是必填项。"]
    assert default["members"]["1"]["id_number"][0].startswith(CHECK_DIGIT_ZH)

    english = county_api.post(
        "/api/households/", body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert english["head_name"] == ["This field is required."]
    assert english["members"]["1"]["id_number"][0].startswith(
        "The check digit of this resident ID is wrong"
    )


def test_village_outside_the_area_is_a_field_error(make_user):
    api = client_for(make_user("cun", VILLAGE, "data_officer"), "en")
    response = api.post("/api/households/", new_household(village=OTHER_VILLAGE), format="json")
    assert response.status_code == 400
    assert response.json()["village"] == ["This village is outside your area."]


def test_viewer_may_not_create(make_user):
    api = client_for(make_user("viewer", "450102", "viewer"))
    assert api.post("/api/households/", new_household(), format="json").status_code == 403
    assert not Household.objects.exists()


# --------------------------------------------------------------------- update & locking


def test_patch_with_the_current_version_changes_and_bumps_it(make_household, county_api):
    h = make_household()
    response = county_api.patch(
        f"/api/households/{h.pk}/", {"phone": "13800000000", "version": 1}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "13800000000"
    assert response.json()["version"] == 2
    assert response["ETag"] == '"2"'
    response = county_api.patch(
        f"/api/households/{h.pk}/", {"phone": "13900000000"}, format="json", HTTP_IF_MATCH='"2"'
    )
    assert response.status_code == 200
    assert Household.objects.get(pk=h.pk).version == 3


def test_patch_with_a_stale_version_is_409_and_changes_nothing(make_household, county_api):
    h = make_household()
    url = f"/api/households/{h.pk}/"
    county_api.patch(url, {"phone": "13800000000", "version": 1}, format="json")
    response = county_api.patch(url, {"phone": "13900000000", "version": 1}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["current_version"] == 2
    with translation.override("zh-hans"):
        from fupin.core.services import StaleEdit

        assert body["detail"] == str(StaleEdit(2))
    assert response["ETag"] == '"2"'
    h.refresh_from_db()
    assert (h.phone, h.version) == ("13800000000", 2)

    response = county_api.patch(url, {"phone": "1"}, format="json", HTTP_IF_MATCH="1")
    assert response.status_code == 409


def test_patch_without_version_is_400(make_household, county_api):
    h = make_household()
    response = county_api.patch(f"/api/households/{h.pk}/", {"phone": "1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"version": ["该字段是必填项。"]}
    response = county_api.patch(
        f"/api/households/{h.pk}/", {"phone": "1"}, format="json", HTTP_IF_MATCH="abc"
    )
    assert response.status_code == 400 and "version" in response.json()
    assert Household.objects.get(pk=h.pk).phone == ""


def test_patch_validates_through_the_service(make_household, county_api):
    h = make_household()
    response = county_api.patch(
        f"/api/households/{h.pk}/",
        {"farmland_mu": "2", "irrigated_mu": "5", "version": 1},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json() == {"irrigated_mu": ["Irrigated farmland cannot exceed the farmland."]}
    assert Household.objects.get(pk=h.pk).version == 1


def test_viewer_patch_is_403(make_household, make_user):
    h = make_household()
    api = client_for(make_user("viewer", "450102", "viewer"))
    response = api.patch(f"/api/households/{h.pk}/", {"phone": "1", "version": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == zh("You do not have the right to do this.")
    assert Household.objects.get(pk=h.pk).phone == ""


# -------------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "params",
    [
        {"status": "proposed"},
        {"status": ["surveyed", "proposed"]},
        {"cause": "1"},
        {"cause": "7"},
        {"income_band": "lt3000"},
        {"income_band": "4500_8000"},
        {"income_band": "none"},
        {"q": "王"},
        {"ordering": "-per_capita_income"},
    ],
)
def test_filters_match_the_page(params, make_household, county_user, county_api):
    make_household(main_cause="1", income={"year": 2016, "wage": 4000})
    make_household(main_cause="9", other_causes=["7"], income={"year": 2016, "wage": 12000})
    make_household(head_name="王五", main_cause="7", income={})
    proposed = make_household(main_cause="1", income={"year": 2016, "wage": 30000})
    services.transition_household(county_user, proposed, "propose", reason="评议通过")

    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for key, value in params.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    expected = HouseholdFilterSet(query, queryset=Household.objects.for_user(county_user)).qs
    response = county_api.get("/api/households/", params)
    assert response.status_code == 200
    assert [h["id"] for h in response.json()["results"]] == [h.pk for h in expected]
    assert expected.exists()


def test_invalid_filter_value_is_400(county_api):
    response = county_api.get("/api/households/", {"status": "bogus"})
    assert response.status_code == 400
    assert "status" in response.json()


# ------------------------------------------------------------------ members and income


def test_members_can_be_added_changed_and_leave(make_household, county_api):
    h = make_household()
    base = f"/api/households/{h.pk}/members/"
    assert len(county_api.get(base).json()) == 2

    child = person("03", born=dt.date(2010, 3, 1), schooling="primary")
    response = county_api.post(base, child, format="json")
    assert response.status_code == 201, response.json()
    assert response["ETag"] == '"2"'
    member_id = response.json()["id"]
    assert Household.objects.get(pk=h.pk).people == 3

    response = county_api.patch(f"{base}{member_id}/", {"name": "张小"}, format="json")
    assert response.status_code == 400 and "version" in response.json()
    response = county_api.patch(
        f"{base}{member_id}/", {"name": "张小", "version": 2}, format="json"
    )
    assert response.status_code == 200 and response.json()["name"] == "张小"

    response = county_api.patch(
        f"{base}{member_id}/",
        {"left_on": "2017-01-02", "left_reason": "moved_out", "version": 3},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["left_on"] == "2017-01-02"
    assert Household.objects.get(pk=h.pk).people == 2

    response = county_api.patch(
        f"{base}{member_id}/", {"left_on": "2017-01-02", "version": 4}, format="json"
    )
    assert response.status_code == 400 and "left_reason" in response.json()


def test_member_with_bad_id_is_400_and_not_added(make_household, county_api):
    h = make_household()
    response = county_api.post(
        f"/api/households/{h.pk}/members/",
        {**person("03"), "id_number": bad_id()},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json()["id_number"][0].startswith("The check digit")
    assert h.members.count() == 2


def test_member_stale_version_is_409(make_household, county_api):
    h = make_household()
    member = h.members.first()
    url = f"/api/households/{h.pk}/members/{member.pk}/"
    county_api.patch(url, {"name": "甲", "version": 1}, format="json")
    response = county_api.patch(url, {"name": "乙", "version": 1}, format="json")
    assert response.status_code == 409
    assert Member.objects.get(pk=member.pk).name == "甲"


def test_income_recomputes_per_capita_income(make_household, county_api):
    h = make_household()  # 6000 in 2016 for two people
    url = f"/api/households/{h.pk}/income/"
    response = county_api.post(
        url, {"year": 2017, "wage": "5000", "transfer_dibao": "1000"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["net"] == "6000.00"
    detail = county_api.get(f"/api/households/{h.pk}/").json()
    assert (detail["income_year"], detail["per_capita_income"]) == (2017, "3000.00")
    response = county_api.post(url, {"year": 2017, "wage": "8000", "version": 2}, format="json")
    assert response.status_code == 200
    assert [i["year"] for i in county_api.get(url).json()] == [2017, 2016]

    response = county_api.post(url, {"year": 2017, "wage": "-1"}, format="json")
    assert response.status_code == 400 and "wage" in response.json()


# ---------------------------------------------------------------- life cycle and history


def test_transitions_and_history(make_household, county_api):
    h = make_household()
    base = f"/api/households/{h.pk}"
    names = [t["name"] for t in county_api.get(f"{base}/transitions/").json()]
    assert "propose" in names and "exit" not in names

    response = county_api.post(
        f"{base}/transitions/", {"name": "propose", "reason": "评分低于分数线"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["to_status"] == "proposed"
    assert response["ETag"] == '"2"'

    response = county_api.post(
        f"{base}/transitions/",
        {"name": "exit", "reason": "x"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json()["name"][0].startswith("A household that is")

    history = county_api.get(f"{base}/history/").json()
    assert [(c["from_status"], c["to_status"]) for c in history] == [("surveyed", "proposed")]
    assert history[0]["user"] == "county"


def test_transition_with_evidence_as_multipart(make_household, county_api):
    h = make_household()
    url = f"/api/households/{h.pk}/transitions/"
    response = county_api.post(url, {"name": "exclude", "reason": "公职人员"}, format="json")
    assert response.status_code == 400 and "attachments" in response.json()
    scan = SimpleUploadedFile("evidence.pdf", b"%PDF-1.4 evidence", "application/pdf")
    response = county_api.post(
        url,
        {"name": "exclude", "reason": "公职人员", "attachments": [scan], "version": "1"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["attachments"][0]["name"] == "evidence.pdf"
    assert StatusChange.objects.get().attachments.count() == 1
    assert Household.objects.get(pk=h.pk).status == "excluded"


def test_support_cadre_may_not_take_steps(make_household, make_user):
    h = make_household()
    api = client_for(make_user("cadre", "450102", "support_cadre"))
    assert api.get(f"/api/households/{h.pk}/transitions/").json() == []
    response = api.post(
        f"/api/households/{h.pk}/transitions/", {"name": "propose", "reason": "x"}, format="json"
    )
    assert response.status_code == 403


# ----------------------------------------------------------------------------- areas


def test_areas_show_the_subtree_and_the_way_down(make_user):
    api = client_for(make_user("town", "450102100", "data_officer"))

    def codes(parent: str | None = None) -> list[tuple[str, bool]]:
        response = api.get("/api/areas/", {"parent": parent} if parent else {})
        assert response.status_code == 200
        return [(a["code"], a["in_scope"]) for a in response.json()]

    assert codes() == [("45", False)]
    assert codes("45") == [("4501", False)]
    assert codes("4501") == [("450102", False)]  # not 青秀区
    assert codes("450102") == [("450102100", True)]  # not 五塘镇
    assert codes("450102100") == [("450102100201", True), ("450102100202", True)]
    assert codes("450103") == []
    assert api.get("/api/areas/450103/").status_code == 404
    village = api.get("/api/areas/450102100201/").json()
    assert village["level"] == 5 and village["has_children"] is False


# ----------------------------------------------------------------------------- schema


def test_schema_is_served_and_valid(areas):
    from django.core.management import call_command

    call_command("spectacular", validate=True, fail_on_warn=True, file="/dev/null")
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/households/{id}/" in paths
    assert "/api/households/{household_id}/members/{member_id}/" in paths


def test_docs_page_uses_no_outside_assets(areas):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "https://" not in html
