"""`fupin demo`: the synthetic county is realistic, valid and loaded through the services."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import Counter
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from fupin.core.area_services import mark_village_flags
from fupin.core.divisions import iter_divisions
from fupin.core.models import Area, AreaLevel, AuditEntry, User
from fupin.core.testing import person
from fupin.core.validators import parse_resident_id
from fupin.exit.demo import YEAR
from fupin.exit.models import AreaFacts
from fupin.registry import demo, services
from fupin.registry.enums import Relation
from fupin.registry.models import Household, Member, QualityIssue, StatusChange

COUNTY = demo.DEFAULT_COUNTY
IDENTIFIED = {"registered", "exit_proposed", "exited", "closed"}


@pytest.fixture(scope="module")
def villages() -> list[tuple[str, str, str]]:
    """The county's 村委会 straight from the vendored table: generation needs no database."""
    return [
        (code, name, parent or "")
        for code, name, parent in iter_divisions(AreaLevel.VILLAGE, {COUNTY[:2]})
        if code.startswith(COUNTY) and 200 <= int(code[9:]) <= 499
    ]


@pytest.fixture(scope="module")
def county(villages: list[tuple[str, str, str]]) -> demo.DemoCounty:
    return demo.generate(villages, 600, seed=11, county=COUNTY)


@pytest.fixture
def fast_demo(settings: Any, tmp_path: Any) -> None:
    """Evidence files go to a temporary media root; passwords hash fast."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _snapshot(c: demo.DemoCounty) -> list[Any]:
    return [
        (
            s.village,
            s.path,
            s.data,
            s.income,
            [m.member_data() for m in s.members],
            [(st.name, st.date, st.reason) for st in s.steps],
        )
        for s in c.households
    ]


def test_same_seed_same_county(villages, county):
    """DESIGN.md "demo": a seed fixes the county, so demos and bug reports reproduce."""
    again = demo.generate(villages, 600, seed=11, county=COUNTY)
    assert _snapshot(again) == _snapshot(county)
    assert again.poor_villages == county.poor_villages
    other = demo.generate(villages, 600, seed=12, county=COUNTY)
    assert _snapshot(other) != _snapshot(county)


def test_every_resident_id_is_valid_and_agrees(county):
    """DOMAIN.md §2: the ID is valid and its birth date and sex agree with the person."""
    seen: Counter[str] = Counter()
    for s in county.households:
        for m in s.members:
            rid = parse_resident_id(m.id_number)
            assert rid.birth_date == m.birth
            if not (s.defect == "head_spouse_same_sex" and m.relation == Relation.SPOUSE):
                assert rid.sex == m.sex, (m.name, m.id_number)
            seen[m.id_number] += 1
    twice = [n for n, k in seen.items() if k > 1]
    dup_defects = sum(s.defect == "duplicate_person_county" for s in county.households)
    assert len(twice) == dup_defects  # only the planted duplicates
    codes = Counter(m.id_number[:6] for m in demo.iter_people(county))
    # 隆安 was 452126 before 2002: most of the older people still carry it.
    assert codes["452126"] > codes["450123"] > 0


def test_families_are_consistent(county):
    """Relations and ages fit together (DOMAIN.md §9 relation codes)."""
    for s in county.households:
        head, *others = s.members
        assert head.relation == Relation.HEAD
        assert 25 <= head.age <= 85
        for m in others:
            if m.relation == Relation.SPOUSE:
                assert m.sex != head.sex
                assert abs(m.age - head.age) <= 15
            elif m.relation in (Relation.SON, Relation.DAUGHTER):
                assert head.age - m.age >= 18
            elif m.relation == Relation.PARENT:
                assert m.age - head.age >= 19
            if m.schooling == "primary":
                assert 6 <= m.age <= 11
            if m.schooling == "grades_7_9":
                assert 12 <= m.age <= 14
        names = [m.name for m in s.members]
        assert all(2 <= len(n) <= 3 for n in names)


def test_sizes_incomes_and_poverty_are_plausible(county):
    """Rural Guangxi 2016 (DOMAIN.md §10: line 2,952): sizes 1–8, incomes mostly 2k–15k."""
    sizes = [len(s.members) for s in county.households]
    assert min(sizes) >= 1 and max(sizes) <= 9  # 9 only with a planted duplicate
    assert 3.2 <= statistics.mean(sizes) <= 4.0
    incomes = [s.per_capita for s in county.households]
    assert all(0 < x < 100_000 for x in incomes)
    in_range = sum(2000 <= x <= 15000 for x in incomes) / len(incomes)
    assert in_range >= 0.6
    assert 5000 <= statistics.median(incomes) <= 13000
    poor = [s.per_capita for s in county.households if s.path in IDENTIFIED]
    rest = [s.per_capita for s in county.households if s.path == "surveyed"]
    assert statistics.mean(poor) < 0.75 * statistics.mean(rest)
    assert statistics.mean(s.wealth for s in county.households if s.path in IDENTIFIED) < -0.8
    share = sum(1 for s in county.households if s.poor or s.path == "excluded") / len(sizes)
    assert 0.15 <= share <= 0.25


def test_causes_follow_the_facts(county):
    """DOMAIN.md §9: 因病 needs a sick member, 因学 a student, 因残 a disabled member —
    except in the households where a defect was planted on purpose."""
    for s in county.households:
        cause = s.data.get("main_cause")
        if not cause or s.defect:
            continue
        ms = s.members
        if cause == "1":
            assert any(not m.healthy for m in ms)
        if cause == "2":
            assert any(m.disabled for m in ms)
        if cause == "3":
            assert any(m.student for m in ms)


def test_life_cycle_steps_are_dated_and_ordered(county):
    """DOMAIN.md §2: every transition dated, none before the previous one or in the future."""
    paths = Counter(s.path for s in county.households)
    for path in ("registered", "exited", "closed", "excluded", "proposed", "surveyed"):
        assert paths[path] > 0, path
    for s in county.households:
        dates = [st.date for st in s.steps]
        assert dates == sorted(dates)
        assert all(dt.date(2014, 1, 1) <= d <= demo.DEMO_AS_OF for d in dates)
        for st in s.steps:
            assert st.reason.strip()
            if st.name == "exclude":
                assert st.evidence is not None
        if s.path == "closed":
            exit_day = next(st.date for st in s.steps if st.name == "exit")
            close_day = next(st.date for st in s.steps if st.name == "close")
            assert close_day.year - exit_day.year == 3  # supported 2 years, observed 1


def test_poor_villages_are_the_poorest(county):
    """DOMAIN.md §2: about a third are 贫困村; 深度贫困村 have incidence ≥ 20%."""
    with_households = {s.village for s in county.households}
    flagged = county.poor_villages
    assert 0.25 <= len(flagged) / len(with_households) <= 0.4
    deep = [c for c, (is_deep, _inc) in flagged.items() if is_deep]
    assert deep and all(flagged[c][1] >= 0.2 for c in deep)
    unflagged = with_households - set(flagged)
    people: Counter[str] = Counter()
    poor: Counter[str] = Counter()
    for s in county.households:
        people[s.village] += len(s.members)
        if s.poor:
            poor[s.village] += len(s.members)
    top = max(poor[c] / people[c] for c in unflagged)
    assert min(inc for _d, inc in flagged.values()) >= top * 0.999


@pytest.mark.django_db
def test_small_demo_loads_through_the_services(fast_demo):
    """A 60-household county on the test database, through create_household and
    transition_household (DESIGN.md: one way in), checked from the database side."""
    started = time.monotonic()
    result = demo.load_demo(COUNTY, 60, seed=5, divisions="county")
    elapsed = time.monotonic() - started
    assert elapsed < 60  # about 5 s here; generous so a slow CI machine does not fail

    households = Household.objects.in_area(COUNTY)
    assert households.count() == result.households == 60
    # Each member's stored sex and birth date are the ID's (DOMAIN.md §2).
    members = Member.objects.in_area(COUNTY)
    assert members.count() == result.people
    for m in members:
        rid = parse_resident_id(m.id_number)
        assert (rid.sex, rid.birth_date) == (m.sex, m.birth_date)
    # Computed by the services from members and income (DOMAIN.md §9).
    for h in households:
        assert 1 <= h.people <= 9
        assert h.income_year == 2016 and h.per_capita_income is not None
        assert 0 < h.per_capita_income < 100_000
    by_status = Counter(households.values_list("status", flat=True))
    assert by_status == Counter(result.by_status)
    for status in ("surveyed", "registered", "exited", "excluded"):
        assert by_status[status] > 0, status
    identified = [float(h.per_capita_income or 0) for h in households if h.status in IDENTIFIED]
    surveyed = [float(h.per_capita_income or 0) for h in households if h.status == "surveyed"]
    assert statistics.mean(identified) < statistics.mean(surveyed)
    # The history is in the registry, signed by the demo users.
    registered = households.filter(status="registered").first()
    assert registered is not None
    steps = list(registered.status_changes.order_by("date", "id"))
    assert [s.transition for s in steps][:3] == ["propose", "start_notice", "register"]
    assert steps[2].user.username == "county_reviewer"
    assert registered.identification_year in (2014, 2015)
    exclusion = StatusChange.objects.filter(household__in=households, transition="exclude").first()
    assert exclusion is not None
    assert exclusion.attachments.count() == 1
    assert "比对" in exclusion.attachments.get().file.read().decode()
    # Planted defects show in the data-quality findings (DOMAIN.md §9).
    assert QualityIssue.objects.in_area(COUNTY).exists()
    assert sum(result.quality.values()) >= 2
    # Village flags set through the audited service.
    villages = Area.objects.filter(code__startswith=COUNTY, level=AreaLevel.VILLAGE)
    assert villages.filter(is_poor_village=True).count() == result.poor_villages > 0
    assert AuditEntry.objects.filter(action="core.area.flags").count() == result.poor_villages
    assert AuditEntry.objects.filter(action="registry.household.create").count() == 60
    # Demo users: the right areas and roles.
    expected = {
        "county_admin": ("administrator", COUNTY),
        "county_officer": ("data_officer", COUNTY),
        "county_reviewer": ("reviewer", COUNTY),
        "evaluator": ("evaluator", COUNTY),
        "viewer": ("viewer", COUNTY),
    }
    for username, (role, area) in expected.items():
        user = User.objects.get(username=username)
        assert user.roles == [role] and user.area_id == area
        assert user.check_password(demo.DEMO_PASSWORD)
    township = User.objects.get(username="township_officer")
    village = User.objects.get(username="village_officer")
    assert township.area is not None and village.area is not None
    assert township.area.level == AreaLevel.TOWNSHIP
    assert township.area.code.startswith(COUNTY)
    assert village.area.level == AreaLevel.VILLAGE
    assert village.area.code.startswith(township.area.code)
    assert households.for_user(village).exists()


@pytest.mark.django_db
def test_second_load_is_refused_and_reset_reloads(fast_demo):
    """Idempotence: loading twice adds nothing; --reset replaces the demo households."""
    first = demo.load_demo(COUNTY, 30, seed=3, divisions="county")
    with pytest.raises(demo.DemoAlreadyLoaded):
        demo.load_demo(COUNTY, 30, seed=3, divisions="county")
    assert Household.objects.in_area(COUNTY).count() == 30
    again = demo.load_demo(COUNTY, 30, seed=3, divisions="county", reset=True)
    assert again.households == 30 and again.by_status == first.by_status
    assert not any(u.created for u in again.users)  # users kept, not duplicated
    assert AuditEntry.objects.filter(action="registry.demo.reset").count() == 1


@pytest.mark.django_db
def test_reset_never_deletes_real_households(fast_demo):
    demo.load_demo(COUNTY, 20, seed=3, divisions="county")
    officer = User.objects.get(username="county_officer")
    first = Household.objects.in_area(COUNTY).first()
    assert first is not None
    village = first.village_id
    services.create_household(
        officer,
        {"village": village, "head_name": "张三", "main_cause": "9"},
        [person(area=COUNTY)],
        {"year": 2016, "wage": 6000},
        reason="入户登记",
    )
    with pytest.raises(ValueError, match="not created by the demo"):
        demo.reset_county(COUNTY)
    assert Household.objects.in_area(COUNTY).count() == 21


@pytest.mark.django_db
def test_command_prints_users_and_refuses_a_second_run(fast_demo):
    out = StringIO()
    call_command("demo", households=12, seed=1, divisions="county", stdout=out)
    text = out.getvalue()
    assert "county_admin" in text and demo.DEMO_PASSWORD in text
    assert "village_officer" in text and "户 12/12" in text  # progress: households 12/12
    # The village and county exit pages have facts to judge: every village and the county,
    # the evaluation's figures entered by the evaluator, not the county (DOMAIN.md §10).
    villages = Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith=COUNTY).count()
    facts = AreaFacts.objects.filter(year=YEAR)
    assert facts.filter(area__level=AreaLevel.VILLAGE).count() == villages > 0
    county_facts = facts.get(area_id=COUNTY)
    assert county_facts.satisfied_households and county_facts.dibao_line
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", households=12, seed=1, divisions="county", stdout=StringIO())
    # `make demo` runs `fupin demo --if-empty`: a second run reports and succeeds.
    out = StringIO()
    call_command("demo", households=12, divisions="county", if_empty=True, stdout=out)
    assert "已加载" in out.getvalue() and "county_admin" in out.getvalue()  # already loaded
    assert Household.objects.in_area(COUNTY).count() == 12


@pytest.mark.django_db
def test_mark_village_flags_is_a_county_decision(areas, make_user):
    """DOMAIN.md §2: the flags are set by the county with a reason, audited; a village may
    not mark itself; deep poverty implies poor."""
    admin = make_user("admin", "450102", "administrator")
    village_admin = make_user("vadmin", "450102100201", "administrator")
    officer = make_user("officer", "450102", "data_officer")
    other = make_user("other", "450103", "administrator")
    with pytest.raises(PermissionDenied):
        mark_village_flags(village_admin, "450102100201", True, False, "自评")
    with pytest.raises(PermissionDenied):
        mark_village_flags(officer, "450102100201", True, False, "认定")
    with pytest.raises(PermissionDenied):
        mark_village_flags(other, "450102100201", True, False, "认定")
    with pytest.raises(ValidationError):
        mark_village_flags(admin, "450102100201", False, True, "认定")
    with pytest.raises(ValidationError):
        mark_village_flags(admin, "450102100", True, False, "not a village")
    with pytest.raises(ValidationError):
        mark_village_flags(admin, "450102100201", True, False, " ")
    area = mark_village_flags(admin, "450102100201", True, True, "贫困发生率23%")
    assert area.is_poor_village and area.is_deep_poverty_village
    entry = AuditEntry.objects.get(action="core.area.flags")
    assert entry.after == {"is_poor_village": True, "is_deep_poverty_village": True}
    assert entry.reason == "贫困发生率23%" and entry.username == "admin"
    mark_village_flags(admin, "450102100201", True, True, "again")  # no change, no entry
    assert AuditEntry.objects.filter(action="core.area.flags").count() == 1


@pytest.mark.django_db
def test_two_demo_counties_live_side_by_side(fast_demo):
    """Another county's demo users carry its code, so the default county's stay intact."""
    demo.load_demo(COUNTY, 10, seed=1, divisions="county")
    other = demo.load_demo("450124", 10, seed=1, divisions="county")
    assert {u.username for u in other.users} >= {"county_admin_450124", "village_officer_450124"}
    assert User.objects.get(username="county_admin").area_id == COUNTY
    assert Household.objects.in_area("450124").count() == 10
