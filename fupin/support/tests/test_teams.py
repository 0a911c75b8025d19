"""Resident teams (驻村工作队, issue 6 item 2): members and their roles, GPS check-ins against
the village's geofence, and the monthly attendance against the ≥ 20 days rule (Hunan) —
counted by local date in Asia/Shanghai, area-scoped throughout."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fupin.core.models import AuditEntry
from fupin.core.validators import build_resident_id
from fupin.support import services
from fupin.support.models import Cadre, CheckIn, Geofence, ResidentTeam, TeamMember

VILLAGE = "450102100201"  # 三塘村
OTHER_VILLAGE = "450102100202"  # 四塘村
FAR_VILLAGE = "450103100201"  # 长塘村, another county
CENTRE = (22.850000, 108.400000)
#: About 0.0045° of latitude is 500 m; 0.045° is 5 km.
NEAR = (22.853000, 108.400000)
FAR = (22.900000, 108.400000)
UTC = dt.UTC
TERM = dt.date(2017, 1, 1)
_ids = itertools.count(1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def shanghai(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=services.team_timezone())


@pytest.fixture
def make_cadre(areas: Any) -> Callable[..., Cadre]:
    def make(name: str = "李四", area: str = "450102", user: Any = None) -> Cadre:
        seq = next(_ids) * 2 + 1
        return Cadre.objects.create(
            name=name,
            sex="1",
            id_number=build_resident_id("450102", dt.date(1980, 1, 1), seq),
            employer="兴宁区农业局",
            level="county",
            area=areas[area],
            user=user,
        )

    return make


@pytest.fixture
def team(county_user: Any) -> ResidentTeam:
    return services.create_team(
        county_user, village=VILLAGE, sending_unit="兴宁区农业局", term_start=TERM
    )


@pytest.fixture
def member_user(make_user: Callable[..., Any]) -> Any:
    return make_user("wang", "450102", "support_cadre")


@pytest.fixture
def member(county_user: Any, team: ResidentTeam, make_cadre: Any, member_user: Any) -> TeamMember:
    cadre = make_cadre("王五", user=member_user)
    return services.add_member(county_user, team, cadre=cadre, role="member", joined_on=TERM)


@pytest.fixture
def fence(county_user: Any) -> Geofence:
    return services.set_geofence(county_user, VILLAGE, *CENTRE, 1000)


def check(user: Any, member: TeamMember, at: dt.datetime, where: tuple[float, float]) -> CheckIn:
    return services.check_in(user, member, at=at, latitude=where[0], longitude=where[1])


# -- roles ---------------------------------------------------------------------------------


def test_one_first_secretary_and_one_leader_per_team(
    county_user: Any, team: ResidentTeam, make_cadre: Any
) -> None:
    """Issue 6 item 2: a team has a first secretary (第一书记) and a leader — one of each."""
    services.add_member(
        county_user, team, cadre=make_cadre("甲"), role="first_secretary", joined_on=TERM
    )
    services.add_member(county_user, team, cadre=make_cadre("乙"), role="leader", joined_on=TERM)
    with pytest.raises(ValidationError) as exc:
        services.add_member(
            county_user, team, cadre=make_cadre("丙"), role="first_secretary", joined_on=TERM
        )
    assert "role" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.add_member(
            county_user, team, cadre=make_cadre("丁"), role="leader", joined_on=TERM
        )
    # Several ordinary members are fine.
    services.add_member(county_user, team, cadre=make_cadre("戊"), role="member", joined_on=TERM)
    services.add_member(county_user, team, cadre=make_cadre("己"), role="member", joined_on=TERM)


def test_a_new_first_secretary_after_the_old_one_left(
    county_user: Any, team: ResidentTeam, make_cadre: Any
) -> None:
    """Issue 6 item 2: the one-first-secretary limit is on active memberships only."""
    old = services.add_member(
        county_user, team, cadre=make_cadre("甲"), role="first_secretary", joined_on=TERM
    )
    services.end_membership(county_user, old, left_on=dt.date(2017, 3, 31))
    with pytest.raises(ValidationError):  # overlaps the old one's last day
        services.add_member(
            county_user,
            team,
            cadre=make_cadre("乙"),
            role="first_secretary",
            joined_on=dt.date(2017, 3, 31),
        )
    services.add_member(
        county_user,
        team,
        cadre=make_cadre("丙"),
        role="first_secretary",
        joined_on=dt.date(2017, 4, 1),
    )
    assert team.members.filter(role="first_secretary").count() == 2


def test_a_cadre_is_on_one_active_team_at_a_time(
    county_user: Any, team: ResidentTeam, make_cadre: Any
) -> None:
    """Issue 6 item 2 (brief): a cadre serves on one active team, so his days belong to one
    village."""
    other = services.create_team(
        county_user, village=OTHER_VILLAGE, sending_unit="兴宁区教育局", term_start=TERM
    )
    cadre = make_cadre("甲")
    first = services.add_member(county_user, team, cadre=cadre, role="member", joined_on=TERM)
    with pytest.raises(ValidationError) as exc:
        services.add_member(county_user, other, cadre=cadre, role="member", joined_on=TERM)
    assert "三塘村" in exc.value.message_dict["cadre"][0]
    services.end_membership(county_user, first, left_on=dt.date(2017, 5, 31))
    services.add_member(
        county_user, other, cadre=cadre, role="member", joined_on=dt.date(2017, 6, 1)
    )


def test_team_changes_need_the_manage_right_and_the_area(
    make_user: Callable[..., Any], county_user: Any
) -> None:
    """Project rule (DESIGN.md): every service checks the right and the area; audited."""
    officer = make_user("officer", "450102", "data_officer")
    with pytest.raises(PermissionDenied):
        services.create_team(officer, village=VILLAGE, sending_unit="x", term_start=TERM)
    with pytest.raises(PermissionDenied):
        services.create_team(county_user, village=FAR_VILLAGE, sending_unit="x", term_start=TERM)
    with pytest.raises(ValidationError):
        services.create_team(county_user, village="450102100", sending_unit="x", term_start=TERM)
    team = services.create_team(county_user, village=VILLAGE, sending_unit="x", term_start=TERM)
    assert AuditEntry.objects.filter(action="support.team.create", object_id=str(team.pk)).exists()


# -- check-ins and the geofence -------------------------------------------------------------


def test_check_in_outside_the_geofence_is_marked(
    member: TeamMember, member_user: Any, fence: Geofence
) -> None:
    """Issue 6 item 2 / seed 000 (Hunan: 实行GPS定位管理): a check-in outside the village's
    geofence is marked; one inside is not."""
    inside = check(member_user, member, utc(2017, 3, 1, 2), NEAR)
    outside = check(member_user, member, utc(2017, 3, 1, 3), FAR)
    assert inside.inside is True
    assert 300 < inside.distance_m < 400
    assert outside.inside is False
    assert 5000 < outside.distance_m < 6000
    assert AuditEntry.objects.filter(action="support.checkin.record").count() == 2


def test_geofence_from_the_first_check_ins(member: TeamMember, member_user: Any) -> None:
    """Issue 6 item 2 / support.toml team.geofence_from_first_checkins: a village without a
    fence gets one centred on its first N check-ins, which are judged then."""
    n = 5
    points = [(22.850 + i * 0.001, 108.400) for i in range(n)]  # mean latitude 22.852
    made = [check(member_user, member, utc(2017, 3, 1 + i, 2), p) for i, p in enumerate(points)]
    assert all(c.inside is None and c.distance_m is None for c in made[:-1])
    fence = Geofence.objects.get(village_id=VILLAGE)
    assert fence.source == "checkins"
    assert float(fence.latitude) == pytest.approx(22.852)
    assert float(fence.longitude) == pytest.approx(108.4)
    assert fence.radius_m == 3000
    assert made[-1].inside is True
    assert list(CheckIn.objects.filter(inside__isnull=True)) == []
    # The first one lies 0.002° (≈ 222 m) from the centre.
    assert 200 < CheckIn.objects.get(pk=made[0].pk).distance_m < 250
    assert check(member_user, member, utc(2017, 3, 7, 2), FAR).inside is False
    assert AuditEntry.objects.filter(action="support.geofence.set").count() == 1


def test_county_fence_judges_the_village_again(
    county_user: Any, member: TeamMember, member_user: Any, fence: Geofence
) -> None:
    """Issue 6 item 2: the county sets the fence; a corrected fence corrects the marks."""
    c = check(member_user, member, utc(2017, 3, 1, 2), FAR)
    assert c.inside is False
    services.set_geofence(county_user, VILLAGE, *FAR, 500)
    c.refresh_from_db()
    assert c.inside is True and c.distance_m == 0


def test_check_in_validation(
    member: TeamMember, member_user: Any, make_user: Callable[..., Any]
) -> None:
    """Brief: coordinates in range, no time in the future beyond a little clock skew, the
    member on the team that day, only the member himself or a manager."""
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        services.check_in(member_user, member, at=now, latitude=91, longitude=200)
    assert set(exc.value.message_dict) == {"latitude", "longitude"}
    with pytest.raises(ValidationError) as exc:
        check(member_user, member, now + dt.timedelta(hours=1), NEAR)
    assert "at" in exc.value.message_dict
    check(member_user, member, now + dt.timedelta(minutes=2), NEAR)  # clock skew
    with pytest.raises(ValidationError):  # before he joined (local date 2016-12-31)
        check(member_user, member, utc(2016, 12, 31, 10), NEAR)
    check(member_user, member, utc(2016, 12, 31, 17), NEAR)  # 2017-01-01 01:00 in Shanghai
    stranger = make_user("zhao", "450102", "support_cadre")
    with pytest.raises(PermissionDenied):
        check(stranger, member, utc(2017, 3, 1), NEAR)


def test_manager_records_a_check_in_for_a_member(
    county_user: Any, member: TeamMember, fence: Geofence
) -> None:
    """Brief: a user with manage_support may record a check-in for a member."""
    assert check(county_user, member, utc(2017, 3, 1, 2), NEAR).inside is True


def test_no_check_in_after_leaving(
    county_user: Any, member: TeamMember, member_user: Any, fence: Geofence
) -> None:
    """Brief: a check-in is made by a member active on that date; a membership is not ended
    before a check-in already made."""
    check(member_user, member, utc(2017, 3, 10, 2), NEAR)
    with pytest.raises(ValidationError):
        services.end_membership(county_user, member, left_on=dt.date(2017, 3, 9))
    services.end_membership(county_user, member, left_on=dt.date(2017, 3, 10))
    member.refresh_from_db()
    with pytest.raises(ValidationError):
        check(member_user, member, utc(2017, 3, 11, 2), NEAR)


# -- attendance ------------------------------------------------------------------------------


def _days(user: Any, member: TeamMember, year: int, month: int, days: range, where: Any) -> None:
    for d in days:
        check(user, member, shanghai(year, month, d, 9), where)


def test_attendance_counts_local_dates_in_shanghai(
    team: ResidentTeam, member: TeamMember, member_user: Any, fence: Geofence
) -> None:
    """Issue 6 "Done when": the count around month boundaries and time zones
    (Asia/Shanghai, support.toml team.timezone). 2017-03-31T17:30Z is 2017-04-01 01:30 in
    Shanghai: April, not March; 2017-04-30T16:30Z is 2017-05-01 00:30: May."""
    check(member_user, member, utc(2017, 3, 31, 17, 30), NEAR)
    check(member_user, member, utc(2017, 3, 31, 15, 59), NEAR)  # 23:59 on 31 March
    check(member_user, member, utc(2017, 4, 30, 16, 30), NEAR)
    # The server's own zone does not matter: the village's is support.toml's.
    with timezone.override(dt.UTC):
        (march,) = services.attendance(team, 2017, 3)
        (april,) = services.attendance(team, 2017, 4)
        (may,) = services.attendance(team, 2017, 5)
    assert (march.days_inside, april.days_inside, may.days_inside) == (1, 1, 1)


def test_a_day_counts_once_and_outside_only_days_do_not_count(
    team: ResidentTeam, member: TeamMember, member_user: Any, fence: Geofence
) -> None:
    """Seed 000 (Hunan: 每月驻村时间不少于20天，实行GPS定位管理): days in the village are
    distinct local dates with a check-in inside; several check-ins a day count once; a day
    with only outside check-ins does not count."""
    for hour in (8, 12, 18):
        check(member_user, member, shanghai(2017, 4, 3, hour), NEAR)
    check(member_user, member, shanghai(2017, 4, 4, 8), FAR)
    check(member_user, member, shanghai(2017, 4, 4, 20), FAR)
    check(member_user, member, shanghai(2017, 4, 5, 8), FAR)  # out in the morning,
    check(member_user, member, shanghai(2017, 4, 5, 18), NEAR)  # back in the evening
    (row,) = services.attendance(team, 2017, 4)
    assert row.days_inside == 2
    assert row.days_outside_only == 1
    assert row.days_on_team == 30


def test_members_short_of_twenty_days_are_listed(
    county_user: Any,
    team: ResidentTeam,
    member: TeamMember,
    member_user: Any,
    fence: Geofence,
    make_cadre: Any,
    make_user: Callable[..., Any],
) -> None:
    """Seed 000 (Hunan: 每月驻村时间不少于20天): a member with 19 days in the village falls
    short, one with 20 does not — in February (28 days) too: the rule is not pro-rated by
    the month's length."""
    diligent_user = make_user("diligent", "450102", "support_cadre")
    diligent = services.add_member(
        county_user,
        team,
        cadre=make_cadre("勤", user=diligent_user),
        role="leader",
        joined_on=TERM,
    )
    _days(member_user, member, 2017, 2, range(1, 20), NEAR)  # 19 days
    _days(member_user, member, 2017, 2, range(20, 25), FAR)  # 5 days outside
    _days(diligent_user, diligent, 2017, 2, range(1, 21), NEAR)  # 20 days
    rows = {r.member.pk: r for r in services.attendance(team, 2017, 2)}
    assert rows[member.pk].days_inside == 19 and rows[member.pk].required == 20
    assert rows[member.pk].short
    assert rows[diligent.pk].days_inside == 20 and not rows[diligent.pk].short


def test_member_who_joined_mid_month_needs_his_share(
    county_user: Any, team: ResidentTeam, make_cadre: Any, fence: Geofence
) -> None:
    """Seed 000 (Hunan ≥ 20 days) applied to part of a month (decision, see
    `services.attendance`): joined on 16 April, 15 days on the team, needs ceil(20×15/30)
    = 10 days; he is listed, not dropped."""
    late = services.add_member(
        county_user, team, cadre=make_cadre("晚"), role="member", joined_on=dt.date(2017, 4, 16)
    )
    _days(county_user, late, 2017, 4, range(16, 25), NEAR)  # 9 days
    (row,) = services.attendance(team, 2017, 4)
    assert (row.days_on_team, row.required, row.days_inside) == (15, 10, 9)
    assert row.short
    check(county_user, late, shanghai(2017, 4, 25, 9), NEAR)
    (row,) = services.attendance(team, 2017, 4)
    assert not row.short
    assert services.attendance(team, 2017, 3) == []  # not yet on the team in March


# -- pages -----------------------------------------------------------------------------------


def url(name: str, *args: Any) -> str:
    return reverse(f"support:{name}", args=args)


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_team(county_user: Any) -> ResidentTeam:
    return services.create_team(
        county_user, village=OTHER_VILLAGE, sending_unit="兴宁区教育局", term_start=TERM
    )


def test_team_list_is_area_scoped(
    county_user: Any, team: ResidentTeam, other_team: ResidentTeam, make_user: Callable[..., Any]
) -> None:
    """Project rule (scoping): the county sees its villages' teams; a village user only his
    own village's team; another county's user sees none and gets 404 on the pages."""
    page = as_user(county_user).get(url("team_list")).content.decode()
    assert "兴宁区农业局" in page and "兴宁区教育局" in page
    narrowed = as_user(county_user).get(url("team_list"), {"area": OTHER_VILLAGE}).content.decode()
    assert "兴宁区教育局" in narrowed and "兴宁区农业局" not in narrowed
    village_user = make_user("sancun", VILLAGE, "data_officer")
    page = as_user(village_user).get(url("team_list")).content.decode()
    assert "兴宁区农业局" in page and "兴宁区教育局" not in page
    client = as_user(village_user)
    assert client.get(url("team_detail", other_team.pk)).status_code == 404
    assert client.get(url("team_attendance_month", other_team.pk, 2017, 4)).status_code == 404
    assert client.get(url("team_list"), {"area": "450103"}).status_code == 404
    outsider = as_user(make_user("qingxiu", "450103", "administrator"))
    assert outsider.get(url("team_detail", team.pk)).status_code == 404
    assert outsider.get(url("team_geofence", VILLAGE)).status_code == 404
    assert "兴宁区农业局" not in outsider.get(url("team_list")).content.decode()


def test_team_pages_set_up_a_team(county_user: Any, make_cadre: Any) -> None:
    """Issue 6 item 2: a team per village with its sending unit, term and members; a
    refusal comes back on the form in the user's language."""
    client = as_user(county_user)
    response = client.post(
        url("team_create"),
        {"village": VILLAGE, "sending_unit": "南宁市财政局", "term_start": "2017-01-01"},
    )
    team = ResidentTeam.objects.get(sending_unit="南宁市财政局")
    assert response.status_code == 302
    first, second = make_cadre("甲"), make_cadre("乙")
    for cadre in (first, second):
        response = client.post(
            url("team_member_add", team.pk),
            {"cadre": cadre.pk, "role": "first_secretary", "joined_on": "2017-01-02"},
        )
    assert response.status_code == 400
    assert "已有" in response.content.decode() or "already" in response.content.decode()
    assert list(team.members.values_list("cadre__name", flat=True)) == ["甲"]
    page = client.get(url("team_detail", team.pk)).content.decode()
    assert "甲" in page and "南宁市财政局" in page


def test_attendance_page_lists_who_falls_short(
    county_user: Any,
    team: ResidentTeam,
    member: TeamMember,
    member_user: Any,
    fence: Geofence,
    make_cadre: Any,
) -> None:
    """Seed 000 (Hunan ≥ 20 days) / issue 6 item 2: the monthly page lists who falls short
    and navigates between months."""
    diligent = services.add_member(
        county_user, team, cadre=make_cadre("勤"), role="leader", joined_on=TERM
    )
    _days(county_user, diligent, 2017, 4, range(1, 21), NEAR)
    _days(member_user, member, 2017, 4, range(1, 4), NEAR)
    response = as_user(county_user).get(url("team_attendance_month", team.pk, 2017, 4))
    page = response.content.decode()
    short = page[page.index("attendance-short-list") : page.index("attendance-table")]
    assert "王五" in short and "勤" not in short
    assert url("team_attendance_month", team.pk, 2017, 3) in page
    assert url("team_attendance_month", team.pk, 2017, 5) in page
    assert (
        as_user(county_user).get(url("team_attendance_month", team.pk, 2017, 13)).status_code == 404
    )
    current = as_user(county_user).get(url("team_attendance", team.pk))
    assert current.status_code == 302


def test_phone_check_in_page(
    member: TeamMember, member_user: Any, fence: Geofence, make_user: Callable[..., Any]
) -> None:
    """Issue 6 item 2: a member checks in from a phone page (browser geolocation, JS in a
    static file); the answer says whether he was in the village."""
    client = as_user(member_user)
    page = client.get(url("team_checkin")).content.decode()
    assert "team_checkin.js" in page and "data-msg-denied" in page
    assert "<script>" not in page  # no inline JS
    answer = client.post(url("team_checkin"), {"latitude": FAR[0], "longitude": FAR[1]}).json()
    assert answer["ok"] and answer["inside"] is False
    answer = client.post(
        url("team_checkin"), {"latitude": NEAR[0], "longitude": NEAR[1], "accuracy": "12.5"}
    ).json()
    assert answer["ok"] and answer["inside"] is True
    assert CheckIn.objects.filter(member=member).count() == 2
    bad = client.post(url("team_checkin"), {"latitude": "95", "longitude": NEAR[1]})
    assert bad.status_code == 400 and not bad.json()["ok"]
    nobody = as_user(make_user("zhao", "450102", "support_cadre"))
    assert nobody.post(url("team_checkin"), {"latitude": 1, "longitude": 1}).status_code == 400
    viewer = as_user(make_user("kan", "450102", "viewer"))
    assert viewer.get(url("team_checkin")).status_code == 403


def test_county_sets_the_geofence_on_a_form(
    county_user: Any, team: ResidentTeam, member: TeamMember, make_user: Callable[..., Any]
) -> None:
    """Issue 6 item 2: the county sets the village centre and radius; others may not."""
    response = as_user(county_user).post(
        url("team_geofence", VILLAGE) + f"?team={team.pk}",
        {"latitude": "22.85", "longitude": "108.4", "radius_m": "800", "team": team.pk},
    )
    assert response.status_code == 302 and response["Location"] == url("team_detail", team.pk)
    fence = Geofence.objects.get(village_id=VILLAGE)
    assert (fence.radius_m, fence.source) == (800, "county")
    response = as_user(county_user).post(
        url("team_geofence", VILLAGE), {"latitude": "99", "longitude": "108.4", "radius_m": "800"}
    )
    assert response.status_code == 200 and "latitude" in response.context["form"].errors
    officer = as_user(make_user("officer", VILLAGE, "data_officer"))
    assert officer.get(url("team_geofence", VILLAGE)).status_code == 403
