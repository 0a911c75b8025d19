"""The registry snapshot as of a day (fupin/registry/snapshot.py, "As of a day").

DOMAIN.md §2 (status history: one life cycle, every transition dated): a household's status
on a day is the `to_status` of its last StatusChange on or before it, so a past year's poor
people are that year's. DOMAIN.md §5 (village and county exit by poverty incidence) is what
reads it: the incidence of a past year counts the people poor on its 31 December.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from engine.standards import POOR_STATUSES
from fupin.core.models import User
from fupin.core.testing import person
from fupin.exit import guards as exit_guards
from fupin.registry import loading, services
from fupin.registry.models import Household, Member
from fupin.registry.snapshot import INCOMES_FILE, LIFE_CYCLE, write_snapshot

pytestmark = pytest.mark.django_db

END_2016 = dt.date(2016, 12, 31)
END_2018 = dt.date(2018, 12, 31)


def step(user: User, household: Household, name: str, day: dt.date) -> None:
    services.transition_household(user, household, name, reason="测试", date=day)
    household.refresh_from_db()


def register(user: User, household: Household, day: dt.date) -> None:
    """propose → start_notice → register, ten days apart from `day`."""
    for name in ("propose", "start_notice", "register"):
        step(user, household, name, day)
        day += dt.timedelta(days=10)


def households(path: Path) -> dict[int, dict[str, Any]]:
    return {r["household_id"]: r for r in pq.read_table(path / "households.parquet").to_pylist()}


def members(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path / "members.parquet").to_pylist()


@pytest.fixture
def history(make_household: Callable[..., Household], county_user: User) -> dict[str, Any]:
    """`exited`: surveyed 2015, registered 2015, exited 2017, with a son who left in 2017 and
    a daughter born in 2017; `late`: surveyed 2015 but first moved in 2018, registered then."""
    son = person("03", born=dt.date(1995, 3, 1))
    daughter = person("03", born=dt.date(2017, 5, 1), male=False)
    exited = make_household(
        members=[person(), person("02", male=False), son, daughter],
        surveyed_on=dt.date(2015, 3, 1),
        income={"year": 2016, "wage": 4000},
    )
    services.set_income(county_user, exited, {"year": 2018, "wage": 24000})
    register(county_user, exited, dt.date(2015, 4, 1))
    left = Member.objects.get(household=exited, id_number=son["id_number"])
    services.remove_member(county_user, left, dt.date(2017, 6, 1), "death")
    step(county_user, exited, "propose_exit", dt.date(2017, 10, 1))
    with exit_guards.outside_procedure("test: a 2017 exit as history"):
        step(county_user, exited, "exit", dt.date(2017, 11, 1))
    late = make_household(village="450102101201", surveyed_on=dt.date(2015, 3, 1), head_name="李四")
    register(county_user, late, dt.date(2018, 2, 1))
    return {"exited": exited, "late": late, "left": left}


def test_a_household_is_counted_by_its_status_on_the_day(
    history: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §2: registered in 2015 and exited in 2017 — poor on 31 December 2016, not
    on 31 December 2018; a household whose first change is in 2018 had no status in 2016
    and is not written. §5: only the poor statuses count for the incidence."""
    exited, late = history["exited"], history["late"]
    old, new = tmp_path / "2016", tmp_path / "2018"
    write_snapshot(county_user, "450102", old, statuses=POOR_STATUSES, on=END_2016, year=2016)
    write_snapshot(county_user, "450102", new, statuses=POOR_STATUSES, on=END_2018, year=2018)
    in_2016, in_2018 = households(old), households(new)
    assert set(in_2016) == {exited.pk}
    assert set(in_2018) == {late.pk}
    row = in_2016[exited.pk]
    assert (row["status"], row["status_date"]) == ("registered", dt.date(2015, 4, 21))
    assert (row["identification_year"], row["exit_year"]) == (2015, None)
    assert row["income_year"] == 2016
    # The incomes of the households written, up to the day's year only.
    incomes = pq.read_table(old / INCOMES_FILE).to_pylist()
    assert [(r["household_id"], r["year"]) for r in incomes] == [(exited.pk, 2016)]
    meta = pq.read_metadata(old / "households.parquet").metadata
    assert meta[b"fupin.snapshot_on"] == b"2016-12-31"


def test_without_statuses_every_household_has_its_life_cycle_of_the_day(
    history: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §2: every household is written with the life cycle of the day — the
    exited one as exited since 2017 (exit year 2017); the late one without status (null),
    its years unknown as well, since its first step comes later."""
    exited, late = history["exited"], history["late"]
    write_snapshot(county_user, "450102", tmp_path / "a", on=END_2016)
    write_snapshot(county_user, "450102", tmp_path / "b", on=END_2018)
    in_2016, in_2018 = households(tmp_path / "a"), households(tmp_path / "b")
    assert {k: in_2016[late.pk][k] for k in LIFE_CYCLE} == dict.fromkeys(LIFE_CYCLE)
    assert {k: in_2018[exited.pk][k] for k in LIFE_CYCLE} == {
        "status": "exited",
        "status_date": dt.date(2017, 11, 1),
        "identification_year": 2015,
        "exit_year": 2017,
    }
    assert in_2018[late.pk]["status"] == "registered"
    assert in_2018[late.pk]["identification_year"] == 2018


def test_members_are_those_present_on_the_day(
    history: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """§5 (incidence counts people): a member who left in 2017 counts on 31 December 2016
    and not in 2018; a child born in 2017 counts in 2018 and not in 2016. `people` is the
    count of members written for the household, in both files."""
    exited, left = history["exited"], history["left"]
    old, new = tmp_path / "2016", tmp_path / "2018"
    write_snapshot(county_user, "450102", old, on=END_2016, year=2016)
    write_snapshot(county_user, "450102", new, on=END_2018, year=2018)
    for path, expected in ((old, 3), (new, 3)):
        rows = [m for m in members(path) if m["household_id"] == exited.pk]
        assert households(path)[exited.pk]["people"] == len(rows) == expected
        people = {r["people"] for r in pq.read_table(path / INCOMES_FILE).to_pylist()
                  if r["household_id"] == exited.pk}  # fmt: skip
        assert people == {expected}
    born_2016 = {m["birth_date"] for m in members(old) if m["household_id"] == exited.pk}
    assert dt.date(2017, 5, 1) not in born_2016
    assert left.pk in {m["person_id"] for m in members(old)}
    assert left.pk not in {m["person_id"] for m in members(new)}
    assert dt.date(2017, 5, 1) in {m["birth_date"] for m in members(new)}
    # The per-person income of the year is over the people of the day: 4,000 ÷ 3.
    assert str(households(old)[exited.pk]["per_capita_income"]) == "1333.33"


def test_the_last_change_of_the_day_wins(
    make_household: Callable[..., Household], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §2: three steps on one day — the status that day is the last one recorded
    (highest primary key), and a step the day after is not yet taken."""
    household = make_household(surveyed_on=dt.date(2016, 3, 1))
    day = dt.date(2016, 6, 1)
    for name in ("propose", "start_notice", "register"):
        step(county_user, household, name, day)
    step(county_user, household, "propose_exit", day + dt.timedelta(days=1))
    write_snapshot(county_user, "450102", tmp_path, statuses=["registered"], on=day)
    row = households(tmp_path)[household.pk]
    assert (row["status"], row["status_date"], row["identification_year"]) == (
        "registered",
        day,
        2016,
    )


def test_a_household_without_history_keeps_its_stored_status(
    make_household: Callable[..., Household], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §2, the fallback written in the module's docstring: a household with no
    StatusChange (created or imported, never moved: surveyed since it was recorded) is read
    as it stands; a stored year after the day's year is not yet the household's."""
    household = make_household(surveyed_on=dt.date(2016, 3, 1))
    write_snapshot(county_user, "450102", tmp_path / "a", statuses=["surveyed"], on=END_2016)
    row = households(tmp_path / "a")[household.pk]
    assert (row["status"], row["status_date"]) == ("surveyed", dt.date(2016, 3, 1))
    # A row written straight to the table (old data) without history: as it stands.
    Household.objects.filter(pk=household.pk).update(
        status="exited", identification_year=2015, exit_year=2019
    )
    write_snapshot(county_user, "450102", tmp_path / "b", on=END_2016)
    row = households(tmp_path / "b")[household.pk]
    assert (row["status"], row["identification_year"], row["exit_year"]) == ("exited", 2015, None)


def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = timezone.now()
    monkeypatch.setattr("fupin.registry.snapshot.timezone.now", lambda: moment)


def test_without_a_day_the_files_are_todays_registry_unchanged(
    history: dict[str, Any], county_user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `on`, the snapshot is the one taken the old way: the stored status, `people`
    and life cycle, current members only, every year's income — read here straight from the
    models, and the files the same bytes whether `on` is left out or passed as None."""
    _frozen(monkeypatch)
    default, explicit = tmp_path / "default", tmp_path / "none"
    write_snapshot(county_user, "450102", default, statuses=(*POOR_STATUSES, "exited"))
    write_snapshot(county_user, "450102", explicit, statuses=(*POOR_STATUSES, "exited"), on=None)
    for name in (loading.HOUSEHOLDS_FILE, loading.MEMBERS_FILE, INCOMES_FILE):
        assert (default / name).read_bytes() == (explicit / name).read_bytes()
    assert b"fupin.snapshot_on" not in pq.read_metadata(default / "households.parquet").metadata
    stored = {
        h.pk: {"people": h.people, **{k: getattr(h, k) for k in LIFE_CYCLE}}
        for h in Household.objects.all()
    }
    written = households(default)
    assert {k: {n: r[n] for n in ("people", *LIFE_CYCLE)} for k, r in written.items()} == stored
    current = set(Member.objects.filter(left_on__isnull=True).values_list("pk", flat=True))
    assert {m["person_id"] for m in members(default)} == current
    years = {
        (r["household_id"], r["year"]) for r in pq.read_table(default / INCOMES_FILE).to_pylist()
    }
    assert years == {(history["exited"].pk, 2016), (history["exited"].pk, 2018),
                     (history["late"].pk, 2016)}  # fmt: skip
    # Today's registry as of today is the same registry: the same rows.
    as_of_today = tmp_path / "today"
    write_snapshot(county_user, "450102", as_of_today, on=timezone.localdate())
    for name in (loading.HOUSEHOLDS_FILE, loading.MEMBERS_FILE, INCOMES_FILE):
        assert (
            pq.read_table(as_of_today / name).to_pylist()
            == pq.read_table(default / name).to_pylist()
        )
