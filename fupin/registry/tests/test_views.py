"""The registry pages: list, filters, detail, forms, export — scoped, validated by services."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from fupin.core.models import AuditEntry
from fupin.core.services import StaleEdit
from fupin.core.testing import person
from fupin.registry import services
from fupin.registry.forms import HouseholdForm, IncomeForm, MemberFormSet
from fupin.registry.models import Household, Member, StatusChange

LIST = reverse("registry:household_list")
EXPORT = reverse("registry:household_export")
CREATE = reverse("registry:household_create")


def login(client: Any, user: Any) -> Any:
    """Log in and read the pages in English (the msgids), whatever the catalogue holds."""
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def english(message: Any) -> str:
    with translation.override("en"):
        return str(message)


def form_values(form: Any) -> dict[str, Any]:
    """What a browser would submit for an unchanged form: every field's initial value."""
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        widget = field.field.widget
        if widget.input_type == "checkbox" if hasattr(widget, "input_type") else False:
            if isinstance(value, list):
                data[field.html_name] = value
            elif value:
                data[field.html_name] = "on"
            continue
        if value is None:
            value = ""
        if hasattr(value, "pk"):
            value = value.pk
        data[field.html_name] = value
    return data


def create_post(user: Any, village: str, members: list[dict], **household: Any) -> dict[str, Any]:
    """The POST of the create page: household fields, member rows, last year's income."""
    data = form_values(HouseholdForm(user=user))
    data.update({"village": village, "head_name": "王五", **household})
    formset = MemberFormSet(prefix="members")
    data.update(form_values(formset.management_form))
    data["members-TOTAL_FORMS"] = str(len(members))
    for i, row in enumerate(members):
        member_form = formset.form(prefix=f"members-{i}")
        values = form_values(member_form)
        values = {k: v for k, v in values.items()}
        for key, value in row.items():
            name = f"members-{i}-{key}"
            if isinstance(value, bool):
                if value:
                    values[name] = "on"
                else:
                    values.pop(name, None)
            else:
                values[name] = value
        data.update(values)
    data.update(form_values(IncomeForm(prefix="income")))
    data.update({"income-year": "2016", "income-wage": "9000"})
    return data


@pytest.fixture
def province_user(make_user: Any) -> Any:
    return make_user("province", "45", "administrator")


@pytest.fixture
def two_counties(make_household: Any, province_user: Any) -> tuple[Household, Household]:
    """One household in 兴宁区 (the county user's) and one in 青秀区 (another county)."""
    mine = make_household(head_name="张三")
    other = services.create_household(
        province_user,
        {"village": "450103100201", "head_name": "李四", "main_cause": "1"},
        [person(area="450103", has_chronic_illness=True)],
        {"year": 2016, "wage": 5000},
    )
    return mine, other


# -- list, scoping, filters ----------------------------------------------------------------


@pytest.mark.django_db
def test_list_needs_login(client: Any) -> None:
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_list_shows_only_the_users_area(client, county_user, two_counties) -> None:
    """DOMAIN.md §1: every user is bound to one area and sees only data inside it."""
    mine, other = two_counties
    response = login(client, county_user).get(LIST)
    assert response.status_code == 200
    content = response.content.decode()
    assert mine.code in content
    assert other.code not in content
    assert "李四" not in content


@pytest.mark.django_db
def test_detail_of_another_areas_household_is_404(client, county_user, two_counties) -> None:
    """DOMAIN.md §1: a household outside the user's area does not exist for him."""
    mine, other = two_counties
    login(client, county_user)
    assert client.get(reverse("registry:household_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("registry:household_detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("registry:household_edit", args=[other.pk])).status_code == 404


@pytest.mark.django_db
def test_village_user_sees_only_the_village(client, make_user, make_household) -> None:
    here = make_household(village="450102100201")
    there = make_household(village="450102100202")
    user = make_user("village", "450102100201", "data_officer")
    content = login(client, user).get(LIST).content.decode()
    assert here.code in content
    assert there.code not in content


@pytest.mark.django_db
def test_filter_by_status(client, county_user, make_household) -> None:
    """DOMAIN.md §2: the life cycle; the list filters by the household's current status."""
    proposed = make_household(head_name="甲")
    surveyed = make_household(head_name="乙")
    services.transition_household(county_user, proposed, "propose", reason="评分低于分数线")
    content = login(client, county_user).get(LIST, {"status": "proposed"}).content.decode()
    assert proposed.code in content
    assert surveyed.code not in content


@pytest.mark.django_db
def test_filter_by_cause_includes_other_causes(client, county_user, make_household) -> None:
    """DOMAIN.md §9: one main cause and several other causes; a cause filter finds both."""
    main = make_household(main_cause="1", members=[person(has_chronic_illness=True)])
    other = make_household(main_cause="9", other_causes=["1", "7"])
    neither = make_household(main_cause="9", other_causes=["7"])
    content = login(client, county_user).get(LIST, {"cause": "1"}).content.decode()
    assert main.code in content
    assert other.code in content
    assert neither.code not in content


@pytest.mark.django_db
def test_filter_by_income_band(client, county_user, make_household) -> None:
    """DOMAIN.md §9: per-capita net income = (all income − business costs) ÷ household size."""
    poor = make_household(income={"year": 2016, "wage": 2000})  # 1,000 a person
    better = make_household(income={"year": 2016, "wage": 20000})  # 10,000 a person
    unknown = make_household(income={})
    login(client, county_user)
    content = client.get(LIST, {"income_band": "lt3000"}).content.decode()
    assert poor.code in content and better.code not in content and unknown.code not in content
    content = client.get(LIST, {"income_band": "ge8000"}).content.decode()
    assert better.code in content and poor.code not in content
    content = client.get(LIST, {"income_band": "none"}).content.decode()
    assert unknown.code in content and poor.code not in content


@pytest.mark.django_db
def test_filter_by_quality_problem(client, county_user, make_household) -> None:
    """DOMAIN.md §9: a 低保户 with no 低保 member is listed for correction."""
    broken = make_household(attribute="dibao")
    fine = make_household(attribute="dibao", members=[person(is_dibao=True)])
    login(client, county_user)
    content = client.get(LIST, {"quality": "dibao_without_dibao_member"}).content.decode()
    assert broken.code in content
    assert fine.code not in content
    assert broken.code in client.get(LIST, {"quality": "any"}).content.decode()


@pytest.mark.django_db
def test_filter_by_area_and_search(client, county_user, make_household) -> None:
    a = make_household(village="450102100201", head_name="赵六")
    b = make_household(village="450102101201", head_name="钱七")
    login(client, county_user)
    content = client.get(LIST, {"area": "450102101"}).content.decode()
    assert b.code in content and a.code not in content
    content = client.get(LIST, {"q": "赵六"}).content.decode()
    assert a.code in content and b.code not in content


@pytest.mark.django_db
def test_htmx_filter_returns_only_the_results(client, county_user, make_household) -> None:
    h = make_household()
    response = login(client, county_user).get(
        LIST, {"status": "surveyed"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="household-results"
    )
    content = response.content.decode()
    assert h.code in content
    assert "<html" not in content
    assert 'id="household-results"' in content
    assert "HX-Request" in response["Vary"]
    # Sorting and paging are swapped in place; a household's link opens a normal page.
    assert '<thead hx-boost="true"' in content
    container = content[content.index('id="household-results"') :].split(">", 1)[0]
    assert "hx-boost" not in container


@pytest.mark.django_db
def test_list_pages_by_fifty(client, county_user, make_household) -> None:
    for _ in range(51):
        make_household(members=[person()])
    login(client, county_user)
    first = client.get(LIST).content.decode()
    assert "4501021002010050" in first and "4501021002010051" not in first
    second = client.get(LIST, {"page": 2}).content.decode()
    assert "4501021002010051" in second
    # A longer page may be asked for, within reason; the export is the way to get all rows.
    assert client.get(LIST, {"per_page": 100000}).context["table"].paginator.per_page == 500
    assert client.get(LIST, {"page": "x"}).status_code == 200


# -- detail --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_shows_members_income_and_warnings(client, make_user, make_household) -> None:
    """DESIGN.md privacy: resident IDs are masked unless the role needs them."""
    h = make_household(attribute="dibao")
    head = h.members.get(relation="01")
    reviewer = make_user("reviewer", "450102", "reviewer")
    content = login(client, reviewer).get(h.get_absolute_url()).content.decode()
    assert head.masked_id in content
    assert head.id_number not in content
    assert english("Subsistence-allowance household without a member on the allowance") in content
    assert "3,000.00" in content  # 6,000 ÷ 2 people
    officer = make_user("officer", "450102", "data_officer")
    content = login(client, officer).get(h.get_absolute_url()).content.decode()
    assert head.id_number in content


@pytest.mark.django_db
def test_left_member_is_shown_greyed_with_reason(client, county_user, make_household) -> None:
    h = make_household(members=[person(), person("03", name="小明")])
    son = h.members.get(relation="03")
    services.remove_member(county_user, son, dt.date(2017, 3, 1), "married_out")
    content = login(client, county_user).get(h.get_absolute_url()).content.decode()
    assert "member-left" in content
    assert "2017-03-01" in content
    assert english("Married out") in content


# -- create --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_household_through_the_form(client, county_user, areas) -> None:
    data = create_post(
        county_user,
        "450102100201",
        [person(name="王五"), person("02", name="刘芳", male=False)],
        main_cause="9",
    )
    response = login(client, county_user).post(CREATE, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    h = Household.objects.get()
    assert response["Location"] == h.get_absolute_url()
    assert h.people == 2
    assert h.per_capita_income == 4500
    assert AuditEntry.objects.filter(action="registry.household.create", object_id=str(h.pk))


@pytest.mark.django_db
def test_create_with_a_bad_id_shows_it_on_the_member_and_writes_nothing(
    client, county_user, areas
) -> None:
    """DOMAIN.md §2: the ID's check digit (GB 11643) must be right; all or nothing."""
    bad = person("02", name="刘芳", male=False)
    last = bad["id_number"][-1]
    bad["id_number"] = bad["id_number"][:-1] + ("0" if last != "0" else "1")
    data = create_post(county_user, "450102100201", [person(name="王五"), bad])
    response = login(client, county_user).post(CREATE, data)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-field="members-1-id_number"' in content
    assert 'data-field="members-0-id_number"' not in content
    assert "check digit" in content
    assert not Household.objects.exists()
    assert not Member.objects.exists()
    assert not AuditEntry.objects.filter(action="registry.household.create").exists()
    # The user's input is kept for correction.
    assert bad["id_number"] in content


@pytest.mark.django_db
def test_create_maps_household_and_income_errors(client, county_user, areas) -> None:
    data = create_post(county_user, "450102100201", [person()], main_cause="9")
    data["other_causes"] = ["9"]  # the main cause repeated among the others
    data["income-year"] = "1990"
    content = login(client, county_user).post(CREATE, data).content.decode()
    assert 'data-field="other_causes"' in content
    assert 'data-field="income-year"' in content
    assert not Household.objects.exists()


@pytest.mark.django_db
def test_create_form_adds_member_rows_with_htmx(client, county_user) -> None:
    response = login(client, county_user).get(
        reverse("registry:member_row"), {"members-TOTAL_FORMS": "2"}, HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert 'name="members-2-id_number"' in content
    assert 'id="id_members-TOTAL_FORMS"' in content and 'value="3"' in content


@pytest.mark.django_db
def test_viewer_cannot_open_the_create_form(client, make_user) -> None:
    viewer = make_user("viewer", "450102", "viewer")
    assert login(client, viewer).get(CREATE).status_code == 403


# -- edit, optimistic locking --------------------------------------------------------------


def edit_post(household: Household, user: Any, **changes: Any) -> dict[str, Any]:
    from fupin.registry.forms import HouseholdEditForm

    form = HouseholdEditForm(user=user, instance=household, initial={"version": household.version})
    data = form_values(form)
    data.update(changes)
    return data


@pytest.mark.django_db
def test_edit_is_saved_and_shown_in_the_history(client, county_user, make_household) -> None:
    """DESIGN.md audit: who, when, before/after and why, shown on the household's page."""
    h = make_household(phone="")
    url = reverse("registry:household_edit", args=[h.pk])
    login(client, county_user)
    data = edit_post(h, county_user, phone="13812345678", reason="电话号码更新")
    response = client.post(url, data)
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.phone == "13812345678"
    assert h.version == 2
    content = client.get(h.get_absolute_url()).content.decode()
    assert "13812345678" in content
    assert "电话号码更新" in content
    assert english("Household changed") in content


@pytest.mark.django_db
def test_edit_errors_come_from_the_service(client, county_user, make_household) -> None:
    h = make_household()
    data = edit_post(h, county_user, is_dilapidated="on", dilapidation_grade="")
    url = reverse("registry:household_edit", args=[h.pk])
    content = login(client, county_user).post(url, data).content.decode()
    assert 'data-field="dilapidation_grade"' in content
    assert english("Give the grade (C or D) of the dilapidated house.") in content
    h.refresh_from_db()
    assert h.version == 1


@pytest.mark.django_db
def test_stale_edit_shows_the_conflict_and_keeps_the_input(
    client, county_user, make_user, make_household
) -> None:
    """DESIGN.md concurrency: two editors never silently overwrite each other."""
    h = make_household(phone="")
    other = make_user("other", "450102", "data_officer")
    url = reverse("registry:household_edit", args=[h.pk])
    # Both open the form at version 1.
    first = edit_post(h, county_user, phone="13800000001")
    second = edit_post(h, other, phone="13900000002", head_name="张三丰")
    assert first["version"] == second["version"] == 1
    assert login(client, county_user).post(url, first).status_code == 302
    response = login(client, other).post(url, second)
    assert response.status_code == 200
    content = response.content.decode()
    with translation.override("en"):
        assert str(StaleEdit(2)) in content
    assert 'value="13900000002"' in content  # the second user's input is kept
    assert 'value="张三丰"' in content
    assert 'name="version" value="2"' in content  # saving again is now a deliberate choice
    h.refresh_from_db()
    assert h.phone == "13800000001"  # nothing overwritten
    assert h.head_name == "张三"


# -- members, income -----------------------------------------------------------------------


@pytest.mark.django_db
def test_add_member_and_leave(client, county_user, make_household) -> None:
    h = make_household()
    login(client, county_user)
    url = reverse("registry:member_create", args=[h.pk])
    from fupin.registry.forms import MemberEditForm

    data = form_values(MemberEditForm(initial={"version": h.version}))
    data.update(person("03", name="小华", born=dt.date(2008, 9, 1)))
    data["schooling"] = "primary"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    h.refresh_from_db()
    assert h.people == 3
    child = h.members.get(name="小华")
    leave = reverse("registry:member_leave", args=[h.pk, child.pk])
    response = client.post(
        leave,
        {"version": h.version, "left_on": "2017-01-05", "left_reason": "moved_out", "reason": ""},
    )
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.people == 2


@pytest.mark.django_db
def test_edit_forms_do_not_reveal_ids_to_a_role_without_view_full_id(
    client, make_user, make_household
) -> None:
    """DESIGN.md privacy: a support cadre may edit a member but not read the full ID."""
    h = make_household(bank_account="6230580000001234567")
    head = h.members.get(relation="01")
    recorded = head.id_number
    cadre = make_user("cadre", "450102", "support_cadre")
    login(client, cadre)
    url = reverse("registry:member_edit", args=[h.pk, head.pk])
    page = client.get(url).content.decode()
    assert head.id_number not in page
    assert head.masked_id in page
    edit_page = client.get(reverse("registry:household_edit", args=[h.pk])).content.decode()
    assert "6230580000001234567" not in edit_page
    # Left empty, the recorded ID is kept; the other changes are saved.
    from fupin.registry.forms import MemberEditForm

    data = form_values(MemberEditForm(instance=head, initial={"version": h.version}, full_id=False))
    data["migrant_place"], data["migrant_months"] = "in_county", "5"
    assert client.post(url, data).status_code == 302
    head.refresh_from_db()
    assert head.migrant_months == 5
    assert head.id_number == recorded


@pytest.mark.django_db
def test_head_cannot_leave(client, county_user, make_household) -> None:
    h = make_household()
    head = h.members.get(relation="01")
    url = reverse("registry:member_leave", args=[h.pk, head.pk])
    response = login(client, county_user).post(
        url, {"version": h.version, "left_on": "2017-01-05", "left_reason": "death"}
    )
    assert response.status_code == 200
    assert english("Name a new head of household before the head leaves.") in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_record_income(client, county_user, make_household) -> None:
    """DOMAIN.md §9: per-capita net income = (all income − business costs) ÷ household size."""
    h = make_household()
    url = reverse("registry:income_edit", args=[h.pk])
    from fupin.registry.forms import IncomeEditForm

    data = form_values(IncomeEditForm(initial={"version": h.version}))
    data.update({"year": "2017", "wage": "8000", "business": "3000", "business_cost": "1000"})
    response = login(client, county_user).post(url, data)
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.income_year == 2017
    assert h.per_capita_income == 5000


# -- status transitions --------------------------------------------------------------------


@pytest.mark.django_db
def test_transition_via_the_page_is_recorded(client, county_user, make_household) -> None:
    """DOMAIN.md §2: every transition is dated, signed and reasoned."""
    h = make_household()
    url = reverse("registry:household_transition", args=[h.pk])
    login(client, county_user)
    page = client.get(url).content.decode()
    assert 'value="propose"' in page
    response = client.post(
        url,
        {"transition": "propose", "date": "2017-03-01", "reason": "评分低于分数线", "version": 1},
    )
    assert response.status_code == 302
    change = StatusChange.objects.get(household=h)
    assert (change.from_status, change.to_status, change.user) == (
        "surveyed",
        "proposed",
        county_user,
    )
    assert change.date == dt.date(2017, 3, 1)
    content = client.get(h.get_absolute_url()).content.decode()
    assert "评分低于分数线" in content
    assert AuditEntry.objects.filter(action="registry.household.propose").exists()


@pytest.mark.django_db
def test_transition_needs_reason_and_evidence(client, county_user, make_household) -> None:
    """DOMAIN.md §3: every exclusion keeps its evidence."""
    h = make_household()
    url = reverse("registry:household_transition", args=[h.pk])
    login(client, county_user)
    response = client.post(url, {"transition": "exclude", "date": "2017-03-01", "version": 1})
    content = response.content.decode()
    assert 'data-field="reason"' in content
    assert 'data-field="attachments"' in content
    files = [
        SimpleUploadedFile("核查记录.pdf", b"%PDF-1.4 evidence", "application/pdf"),
        SimpleUploadedFile("photo.jpg", b"jpeg", "image/jpeg"),
    ]
    response = client.post(
        url,
        {
            "transition": "exclude",
            "date": "2017-03-01",
            "reason": "比对发现有商品房",
            "version": 1,
            "attachments": files,
        },
    )
    assert response.status_code == 302
    change = StatusChange.objects.get(household=h)
    assert change.attachments.count() == 2
    attachment = change.attachments.get(name="核查记录.pdf")
    download = reverse("registry:attachment_download", args=[h.pk, attachment.pk])
    assert client.get(download).status_code == 200


@pytest.mark.django_db
def test_a_viewer_cannot_take_steps(client, make_user, make_household) -> None:
    h = make_household()
    viewer = make_user("viewer", "450102", "viewer")
    url = reverse("registry:household_transition", args=[h.pk])
    assert login(client, viewer).get(url).status_code == 403


# -- export --------------------------------------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


@pytest.mark.django_db
def test_export_has_exactly_the_users_area_and_masks_ids(client, make_user, two_counties) -> None:
    """DESIGN.md privacy and area scoping: exports are scoped and IDs masked by role."""
    mine, other = two_counties
    head = mine.members.get(relation="01")
    reviewer = make_user("reviewer", "450102", "reviewer")  # may export, not see full IDs
    rows = read_csv(login(client, reviewer).get(EXPORT))
    codes = [r[0].strip() for r in rows[1:]]
    assert codes == [mine.code]
    text = "\n".join(",".join(r) for r in rows)
    assert other.code not in text and "李四" not in text
    assert head.masked_id in text
    assert head.id_number not in text
    officer = make_user("officer", "450102", "data_officer")
    text = "\n".join(",".join(r) for r in read_csv(login(client, officer).get(EXPORT)))
    assert head.id_number in text


@pytest.mark.django_db
def test_export_follows_the_filters(client, county_user, make_household) -> None:
    poor = make_household(income={"year": 2016, "wage": 2000})
    better = make_household(income={"year": 2016, "wage": 20000})
    response = login(client, county_user).get(EXPORT, {"income_band": "lt3000"})
    assert response["Content-Type"].startswith("text/csv")
    codes = [r[0].strip() for r in read_csv(response)[1:]]
    assert codes == [poor.code]
    assert better.code not in codes


@pytest.mark.django_db
def test_export_refuses_unreadable_filters(client, county_user, make_household) -> None:
    make_household()
    response = login(client, county_user).get(EXPORT, {"status": "nonsense"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_export_needs_the_permission(client, make_user, make_household) -> None:
    make_household()
    viewer = make_user("viewer", "450102", "viewer")
    assert login(client, viewer).get(EXPORT).status_code == 403


# -- data-quality report -------------------------------------------------------------------


@pytest.mark.django_db
def test_quality_report_counts_by_subarea(client, county_user, make_household) -> None:
    """DOMAIN.md §9: households breaking each national rule, counted per area."""
    make_household(village="450102100201", attribute="dibao")
    make_household(village="450102101201", attribute="dibao")
    make_household(village="450102101201")
    url = reverse("registry:quality_report")
    content = login(client, county_user).get(url).content.decode()
    assert "三塘镇" in content and "五塘镇" in content
    assert f"{LIST}?area=450102101&amp;quality=dibao_without_dibao_member" in content
    content = client.get(url, {"area": "450102101"}).content.decode()
    assert "五塘村" in content
    assert client.get(url, {"area": "450103"}).status_code == 404


@pytest.mark.django_db
def test_quality_recheck(client, county_user, make_household) -> None:
    make_household()
    response = login(client, county_user).post(
        reverse("registry:quality_recheck"), {"area": "450102"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?area=450102")
