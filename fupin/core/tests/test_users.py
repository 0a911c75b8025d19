"""User management (用户管理): a county or township administrator manages the accounts in its
area — and nothing outside it, and never locks itself out. Also the `createuser` command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from fupin.core import services
from fupin.core.models import AuditEntry, User
from fupin.core.roles import ROLE_PERMISSIONS, Role

TOWNSHIP = "450102100"  # 三塘镇
OTHER_TOWNSHIP = "450102101"  # 五塘镇
VILLAGE = "450102100201"  # 三塘村, in 三塘镇
OTHER_VILLAGE = "450102101201"  # 五塘村, in 五塘镇
NEW_PASSWORD = "brand-new-pass-9"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def township_admin(make_user):
    return make_user("sanadmin", TOWNSHIP, "administrator")


@pytest.fixture
def admin_client(client, township_admin):
    client.force_login(township_admin)
    return client


def _create_payload(**overrides):
    data = {
        "username": "cunzhuanggan",
        "full_name": "李四",
        "phone": "13800000000",
        "area": VILLAGE,
        "roles": ["data_officer"],
        "password": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "reason": "新任村扶贫专干",
    }
    data.update(overrides)
    return data


def _audit_text():
    rows = AuditEntry.objects.values_list("before", "after", "reason")
    return json.dumps(list(rows), ensure_ascii=False)


# -- creating ------------------------------------------------------------------------------


def test_township_admin_creates_a_village_user_in_its_township(admin_client):
    response = admin_client.post(reverse("users:create"), _create_payload())
    user = User.objects.get(username="cunzhuanggan")
    assert response.status_code == 302
    assert response["Location"] == reverse("users:edit", args=[user.pk])
    assert user.area_id == VILLAGE
    assert user.roles == ["data_officer"]
    assert user.phone == "13800000000"
    assert user.check_password(NEW_PASSWORD)
    actions = list(AuditEntry.objects.filter(object_id=str(user.pk)).values_list("action"))
    assert ("core.user.create",) in actions


def test_township_admin_cannot_create_a_user_in_another_township(admin_client):
    response = admin_client.post(reverse("users:create"), _create_payload(area=OTHER_VILLAGE))
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["area"]
    assert "不在您的管辖区域内" in form.errors["area"][0]  # "… is outside your area."
    assert not User.objects.filter(username="cunzhuanggan").exists()
    assert not AuditEntry.objects.exists()


def test_create_reports_every_field_error_at_once(admin_client, township_admin):
    response = admin_client.post(
        reverse("users:create"),
        _create_payload(username=township_admin.username, area="999999", password2="other"),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert {"password2"} <= set(form.errors)
    # The pair mismatch stops the form before the service; fix it and the rest shows.
    response = admin_client.post(
        reverse("users:create"),
        _create_payload(
            username=township_admin.username,
            area=OTHER_VILLAGE,
            password="short",
            password2="short",
        ),
    )
    form = response.context["form"]
    assert set(form.errors) == {"username", "area", "password"}
    assert "不在您的管辖区域内" in form.errors["area"][0]  # "… is outside your area."
    response = admin_client.post(reverse("users:create"), _create_payload(area="999999"))
    assert response.context["form"].errors["area"] == ["不存在代码为 999999 的区域。"]
    assert User.objects.count() == 1


# -- scoping -------------------------------------------------------------------------------


def test_users_of_another_township_are_invisible(admin_client, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    other = make_user("other", OTHER_VILLAGE, "data_officer")
    county = make_user("countyadmin", "450102", "administrator")

    listing = admin_client.get(reverse("users:list"))
    assert listing.status_code == 200
    shown = {row["user"].username for row in listing.context["rows"]}
    assert shown == {"sanadmin", "mine"}
    assert "三塘村" in listing.context["rows"][-1]["area_name"]

    for target in (other, county):
        assert admin_client.get(reverse("users:edit", args=[target.pk])).status_code == 404
        assert admin_client.get(reverse("users:password", args=[target.pk])).status_code == 404
        response = admin_client.post(
            reverse("users:edit", args=[target.pk]),
            {"area": VILLAGE, "roles": ["viewer"], "is_active": ""},
        )
        assert response.status_code == 404
        response = admin_client.post(
            reverse("users:password", args=[target.pk]),
            {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 404
        target.refresh_from_db()
        assert target.is_active
        assert not target.check_password(NEW_PASSWORD)
    assert admin_client.get(reverse("users:edit", args=[mine.pk])).status_code == 200
    assert admin_client.get(reverse("users:edit", args=[99999])).status_code == 404


def test_services_refuse_a_user_outside_the_area(township_admin, make_user):
    other = make_user("other", OTHER_VILLAGE, "data_officer")
    with pytest.raises(PermissionDenied):
        services.update_user(township_admin, other, is_active=False)
    with pytest.raises(PermissionDenied):
        services.set_password(township_admin, other, NEW_PASSWORD)
    other.refresh_from_db()
    assert other.is_active


def test_moving_a_user_out_of_the_area_is_refused(township_admin, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    with pytest.raises(ValidationError) as exc:
        services.update_user(township_admin, mine, area_code=OTHER_VILLAGE)
    assert list(exc.value.message_dict) == ["area"]
    mine.refresh_from_db()
    assert mine.area_id == VILLAGE


def test_list_filters_by_area_role_and_status(admin_client, make_user):
    make_user("v1", VILLAGE, "data_officer")
    make_user("v2", "450102100202", "support_cadre")
    gone = make_user("v3", VILLAGE, "support_cadre")
    gone.is_active = False
    gone.save()

    def names(**query):
        response = admin_client.get(reverse("users:list"), query)
        return {row["user"].username for row in response.context["rows"]}

    assert names(area=VILLAGE) == {"v1", "v3"}
    assert names(role="support_cadre") == {"v2", "v3"}
    assert names(active="0") == {"v3"}
    assert names(active="1", role="support_cadre") == {"v2"}
    assert names(area=OTHER_TOWNSHIP) == set()
    assert names(q="v") == {"v1", "v2", "v3"}


# -- permissions and roles -----------------------------------------------------------------


def test_users_without_manage_users_get_403(client, make_user):
    officer = make_user("officer", "450102", "data_officer", "reviewer")
    target = make_user("someone", VILLAGE, "viewer")
    client.force_login(officer)
    for url in (
        reverse("users:list"),
        reverse("users:create"),
        reverse("users:edit", args=[target.pk]),
        reverse("users:password", args=[target.pk]),
    ):
        assert client.get(url).status_code == 403
        assert client.post(url, {}).status_code == 403
    with pytest.raises(PermissionDenied):
        services.update_user(officer, target, roles=["administrator"])
    with pytest.raises(PermissionDenied):
        services.set_password(officer, target, NEW_PASSWORD)
    # Their own password is theirs to change.
    assert client.get(reverse("users:me_password")).status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in (reverse("users:list"), reverse("users:me_password")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_only_administrators_manage_users():
    holders = {role for role, perms in ROLE_PERMISSIONS.items() if "core.manage_users" in perms}
    assert holders == {Role.ADMINISTRATOR}


def test_an_administrator_can_grant_every_role(township_admin, make_user):
    mine = make_user("mine", VILLAGE, "viewer")
    services.update_user(township_admin, mine, roles=list(Role.values))
    mine.refresh_from_db()
    assert set(mine.roles) == set(Role.values)


def test_a_non_administrator_manager_cannot_grant_roles_it_lacks(make_user, monkeypatch):
    # No role but the administrator manages users today; if a province gives the right to
    # reviewers, a reviewer still must not hand out roles it does not hold.
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.REVIEWER, ROLE_PERMISSIONS[Role.REVIEWER] | {"core.manage_users"}
    )
    reviewer = make_user("rev", TOWNSHIP, "reviewer")
    target = make_user("mine", VILLAGE, "viewer")
    with pytest.raises(ValidationError) as exc:
        services.update_user(reviewer, target, roles=["viewer", "administrator"])
    assert list(exc.value.message_dict) == ["roles"]
    assert "Administrator" in exc.value.message_dict["roles"][0]
    target.refresh_from_db()
    assert target.roles == ["viewer"]
    services.update_user(reviewer, target, roles=["viewer", "reviewer"])
    target.refresh_from_db()
    assert target.roles == ["viewer", "reviewer"]
    # Nor take away one it lacks.
    boss = make_user("boss", VILLAGE, "administrator")
    with pytest.raises(ValidationError):
        services.update_user(reviewer, boss, roles=["viewer"])


def test_the_create_page_refuses_escalation_too(client, make_user, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.REVIEWER, ROLE_PERMISSIONS[Role.REVIEWER] | {"core.manage_users"}
    )
    client.force_login(make_user("rev", TOWNSHIP, "reviewer"))
    response = client.post(
        reverse("users:create"), _create_payload(roles=["reviewer", "administrator"])
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["roles"]
    assert not User.objects.filter(username="cunzhuanggan").exists()


# -- no lock-out ---------------------------------------------------------------------------


def test_an_administrator_cannot_lock_itself_out(township_admin):
    with pytest.raises(ValidationError) as exc:
        services.update_user(
            township_admin,
            township_admin,
            roles=["viewer"],
            area_code=VILLAGE,
            is_active=False,
        )
    assert set(exc.value.message_dict) == {"roles", "area", "is_active"}
    township_admin.refresh_from_db()
    assert township_admin.is_active
    assert township_admin.roles == ["administrator"]
    assert township_admin.area_id == TOWNSHIP
    assert not AuditEntry.objects.exists()
    # Its own name and phone are fine.
    services.update_user(township_admin, township_admin, full_name="王五", roles=["administrator"])
    township_admin.refresh_from_db()
    assert township_admin.full_name == "王五"


def test_the_edit_page_does_not_let_one_lock_oneself_out(admin_client, township_admin):
    url = reverse("users:edit", args=[township_admin.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.context["form"].fields["is_active"].disabled
    response = admin_client.post(
        url, {"full_name": "王五", "area": OTHER_TOWNSHIP, "roles": ["viewer"], "is_active": ""}
    )
    assert response.status_code == 302
    township_admin.refresh_from_db()
    assert township_admin.is_active
    assert township_admin.roles == ["administrator"]
    assert township_admin.area_id == TOWNSHIP
    assert township_admin.full_name == "王五"


# -- editing, passwords and the audit trail ------------------------------------------------


def test_edit_page_changes_roles_area_and_status_and_audits_them(admin_client, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    url = reverse("users:edit", args=[mine.pk])
    response = admin_client.post(
        url,
        {
            "full_name": "赵六",
            "phone": "",
            "area": "450102100202",
            "roles": ["support_cadre", "viewer"],
            "is_active": "on",
            "reason": "调到四塘村",
        },
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.area_id, sorted(mine.roles), mine.full_name) == (
        "450102100202",
        ["support_cadre", "viewer"],
        "赵六",
    )
    entry = AuditEntry.objects.get(action="core.user.update")
    assert entry.before == {"area": VILLAGE, "roles": ["data_officer"], "full_name": ""}
    assert entry.after == {
        "area": "450102100202",
        "roles": ["support_cadre", "viewer"],
        "full_name": "赵六",
    }
    assert entry.reason == "调到四塘村"
    assert entry.username == "sanadmin"
    page = admin_client.get(url)
    assert "四塘村" in page.context["area_name"]
    assert page.context["history"][0]["reason"] == "调到四塘村"


def test_saving_without_changes_writes_no_audit_entry(township_admin, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    services.update_user(township_admin, mine, roles=["data_officer"], area_code=VILLAGE)
    assert not AuditEntry.objects.exists()


def test_update_collects_every_error_before_writing(township_admin, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    with pytest.raises(ValidationError) as exc:
        services.update_user(
            township_admin,
            mine,
            roles=["boss"],
            area_code="999999",
            full_name="x" * 101,
            is_active=False,
        )
    assert set(exc.value.message_dict) == {"roles", "area", "full_name"}
    mine.refresh_from_db()
    assert mine.is_active
    assert not AuditEntry.objects.exists()


def test_password_reset_is_audited_without_the_password(admin_client, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    old_hash = mine.password
    response = admin_client.post(
        reverse("users:password", args=[mine.pk]),
        {"password": NEW_PASSWORD, "password2": NEW_PASSWORD, "reason": "忘记密码"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="core.user.set_password")
    assert entry.object_id == str(mine.pk)
    assert entry.after == {"password": "reset"}
    assert entry.reason == "忘记密码"
    text = _audit_text()
    assert NEW_PASSWORD not in text
    assert mine.password not in text
    assert old_hash not in text
    assert "pbkdf2" not in text


def test_a_weak_or_mismatched_password_is_refused(admin_client, township_admin, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    url = reverse("users:password", args=[mine.pk])
    response = admin_client.post(url, {"password": "short", "password2": "short"})
    assert list(response.context["form"].errors) == ["password"]
    response = admin_client.post(url, {"password": NEW_PASSWORD, "password2": "other-pass-1"})
    assert list(response.context["form"].errors) == ["password2"]
    with pytest.raises(ValidationError) as exc:
        services.set_password(township_admin, mine, "1234567")
    assert list(exc.value.message_dict) == ["password"]
    mine.refresh_from_db()
    assert mine.check_password("secret-pass-1")
    assert not AuditEntry.objects.exists()


def test_no_audit_entry_ever_holds_a_password(admin_client, township_admin):
    admin_client.post(reverse("users:create"), _create_payload())
    user = User.objects.get(username="cunzhuanggan")
    services.update_user(township_admin, user, roles=["viewer"], is_active=False)
    services.set_password(township_admin, user, "another-pass-2")
    admin_client.post(
        reverse("users:me_password"),
        {
            "old_password": "secret-pass-1",
            "new_password1": "my-own-pass-3",
            "new_password2": "my-own-pass-3",
        },
    )
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert actions == {
        "core.user.create",
        "core.user.update",
        "core.user.set_password",
        "core.user.change_own_password",
    }
    text = _audit_text()
    for secret in (NEW_PASSWORD, "another-pass-2", "my-own-pass-3", "secret-pass-1", "pbkdf2"):
        assert secret not in text
    call_command("audit", "verify", stdout=StringIO())


def test_a_deactivated_user_cannot_log_in(client, township_admin, make_user):
    mine = make_user("mine", VILLAGE, "data_officer")
    assert client.login(username="mine", password="secret-pass-1")
    assert client.get(reverse("users:me_password")).status_code == 200

    services.update_user(township_admin, mine, is_active=False, reason="调离")

    # The open session ends at the next request, and a new login fails.
    response = client.get(reverse("users:me_password"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not client.login(username="mine", password="secret-pass-1")
    assert authenticate(username="mine", password="secret-pass-1") is None
    page = client.post(reverse("login"), {"username": "mine", "password": "secret-pass-1"})
    assert page.status_code == 200
    assert page.context["form"].errors
    assert not page.context["user"].is_authenticated
    entry = AuditEntry.objects.get(action="core.user.update")
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})

    services.update_user(township_admin, mine, is_active=True)
    assert client.login(username="mine", password="secret-pass-1")


# -- one's own password --------------------------------------------------------------------


def test_a_user_changes_its_own_password(client, make_user):
    me = make_user("me", VILLAGE, "viewer")
    client.force_login(me)
    url = reverse("users:me_password")
    bad = client.post(
        url,
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert bad.status_code == 200
    assert "old_password" in bad.context["form"].errors
    response = client.post(
        url,
        {
            "old_password": "secret-pass-1",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.check_password(NEW_PASSWORD)
    # Still logged in after the change.
    assert client.get(url).status_code == 200
    entry = AuditEntry.objects.get(action="core.user.change_own_password")
    assert entry.username == "me"
    assert NEW_PASSWORD not in _audit_text()


def test_resetting_ones_own_password_keeps_the_session(admin_client, township_admin):
    response = admin_client.post(
        reverse("users:password", args=[township_admin.pk]),
        {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert admin_client.get(reverse("users:list")).status_code == 200


# -- the console command -------------------------------------------------------------------


def test_createuser_command_creates_and_prints_the_user(areas):
    out = StringIO()
    call_command(
        "createuser",
        "--username=zhangsan",
        "--password=secret-pass-1",
        f"--area={TOWNSHIP}",
        "--role=administrator,reviewer",
        "--full-name=张三",
        stdout=out,
    )
    user = User.objects.get(username="zhangsan")
    assert user.area_id == TOWNSHIP
    assert user.roles == ["administrator", "reviewer"]
    assert user.full_name == "张三"
    assert user.check_password("secret-pass-1")
    assert out.getvalue().strip() == (
        "Created user zhangsan in 三塘镇 with roles administrator, reviewer."
    )
    entry = AuditEntry.objects.get(action="core.user.create")
    assert entry.username == "system"
    assert "secret-pass-1" not in _audit_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--area=999999", "--role=viewer"], "area: No area has the code 999999."),
        (
            [f"--area={TOWNSHIP}", "--role=boss"],
            "roles: Unknown role boss; the roles are administrator, data_officer, reviewer, "
            "support_cadre, evaluator, viewer.",
        ),
    ],
)
def test_createuser_command_reports_a_bad_area_or_role_and_creates_nothing(areas, args, message):
    with pytest.raises(CommandError) as exc:
        call_command("createuser", "--username=zhangsan", "--password=secret-pass-1", *args)
    assert str(exc.value) == message
    assert not User.objects.exists()
    assert not AuditEntry.objects.exists()


def test_createuser_command_reports_every_problem_at_once(areas):
    with pytest.raises(CommandError) as exc:
        call_command(
            "createuser", "--username=zhangsan", "--password=short", "--area=1", "--role=boss"
        )
    lines = str(exc.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["area", "roles", "password"]
    assert not User.objects.exists()
