"""The registry's columnar snapshot for the engine jobs (DESIGN.md "Data flow" 3): the
layout of a generated province, area-scoped, and scored exactly as the generated files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import synth
from engine.score import run_score
from fupin.core.models import User
from fupin.core.testing import person
from fupin.registry import enums, loading, services
from fupin.registry.models import Household, Member
from fupin.registry.snapshot import LIFE_CYCLE, write_snapshot

CARD = Path(synth.__file__).resolve().parent / "scorecards" / "guangxi-2015-illustrative.yaml"
N = 300


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("province")
    synth.generate(path, N, seed=23)
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


@pytest.fixture
def crafted(make_household: Callable[..., Household], county_user: User) -> dict[str, Any]:
    """A household with two years of income and a member who left; one with no 2016 income."""
    head = person(
        education="junior",
        labour_skill="skilled",
        migrant_place="out_of_province",
        migrant_months=8,
    )
    wife = person("02", male=False, is_disabled=True, disability_grade=2, has_chronic_illness=True)
    son = person("03", born=dt.date(1995, 3, 1), labour_skill="ordinary")
    first = make_household(
        members=[head, wife, son],
        farmland_mu=Decimal("3.5"),
        other_causes=["1", "3"],
        cars=1,
        income={"year": 2016, "wage": 6000, "business": 1000, "business_cost": 200},
    )
    services.set_income(county_user, first, {"year": 2017, "wage": 9000})
    left = Member.objects.get(household=first, relation="03")
    services.remove_member(county_user, left, dt.date(2017, 6, 1), "death")
    second = make_household(
        village="450102101201",
        members=[person(name="李四")],
        head_name="李四",
        income={"year": 2017, "wage": 3000},
    )
    return {"first": first, "second": second, "left": left}


@pytest.mark.django_db
def test_columns_and_values_of_crafted_households(
    crafted: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §9 fields under synth's names; `people` and income as the registry computes
    them (latest year by default; current members only)."""
    seen: list[tuple[str, int, int | None]] = []
    counts = write_snapshot(county_user, "450102", tmp_path, lambda *a: seen.append(a))
    assert counts == {"households": 2, "members": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "households.parquet",
        "incomes.parquet",
        "members.parquet",
    ]

    first, second = crafted["first"], crafted["second"]
    households = {r["household_id"]: r for r in _rows(tmp_path / "households.parquet")}
    assert set(households) == {first.pk, second.pk}
    row = households[first.pk]
    assert (row["county_code"], row["village_code"], row["people"]) == ("450102", "450102100201", 2)
    assert row["head_name"] == "张三" and row["main_cause"] == "9"
    assert row["other_causes"] == "1,3"
    assert row["farmland_mu"] == Decimal("3.50") and row["cars"] == 1
    assert row["has_household_power"] is True and row["is_dilapidated"] is False
    assert (row["income_year"], row["wage"], row["business"]) == (2017, Decimal("9000.00"), 0)
    assert row["per_capita_income"] == Decimal("4500.00")
    assert households[second.pk]["county_code"] == "450102"
    assert households[second.pk]["per_capita_income"] == Decimal("3000.00")

    members = _rows(tmp_path / "members.parquet")
    assert [m["household_id"] for m in members] == sorted([first.pk, first.pk, second.pk])
    assert crafted["left"].pk not in {m["person_id"] for m in members}
    by_relation = {m["relation"]: m for m in members if m["household_id"] == first.pk}
    head, wife = by_relation["01"], by_relation["02"]
    assert (head["sex"], head["birth_date"]) == ("M", dt.date(1970, 5, 1))
    assert (head["labour_skill"], head["migrant_place"], head["migrant_months"]) == (
        "skilled",
        "out_of_province",
        8,
    )
    assert (head["disability_grade"], wife["disability_grade"]) == (None, 2)
    assert wife["is_disabled"] and wife["has_chronic_illness"] and wife["sex"] == "F"

    meta = pq.read_schema(tmp_path / "households.parquet").metadata
    assert meta[b"fupin.snapshot_area"] == b"450102"
    assert meta[b"fupin.households"] == b"2"
    assert dt.datetime.fromisoformat(meta[b"fupin.snapshot_at"].decode()).tzinfo is not None
    assert pq.read_schema(tmp_path / "members.parquet").metadata[b"fupin.households"] == b"2"

    phases = [phase for phase, _d, _t in seen]
    # In the user's language.
    assert phases[0] == "正在读取农户" and phases[-1] == "正在读取家庭成员"
    assert seen[-1][1:] == (3, 3)


@pytest.mark.django_db
def test_life_cycle_and_income_history(
    crafted: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """Issue 7 (exit and monitoring read the snapshot): each household's status, since
    when, the years it was registered and exited; every year's income, net and per person
    (a fall in income is a return-to-poverty warning, DOMAIN.md §6)."""
    first = crafted["first"]
    services.transition_household(county_user, first, "propose", reason="评议通过")
    write_snapshot(county_user, "450102", tmp_path)
    households = {r["household_id"]: r for r in _rows(tmp_path / "households.parquet")}
    row = households[first.pk]
    assert row["status"] == "proposed" and row["status_date"] is not None
    assert (row["identification_year"], row["exit_year"]) == (None, None)
    assert households[crafted["second"].pk]["status"] == "surveyed"

    incomes = [r for r in _rows(tmp_path / "incomes.parquet") if r["household_id"] == first.pk]
    assert [(r["year"], r["net_income"], r["per_capita_income"]) for r in incomes] == [
        (2016, Decimal("6800.00"), Decimal("3400.00")),
        (2017, Decimal("9000.00"), Decimal("4500.00")),
    ]


@pytest.mark.django_db
def test_a_named_year_reads_that_years_income(
    crafted: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §9: per-capita net income = (all income − business costs) ÷ household
    size, for the year asked; a household without income that year has none."""
    write_snapshot(county_user, "450102", tmp_path, year=2016)
    households = {r["household_id"]: r for r in _rows(tmp_path / "households.parquet")}
    row = households[crafted["first"].pk]
    assert (row["income_year"], row["wage"], row["business_cost"]) == (2016, 6000, 200)
    assert row["per_capita_income"] == Decimal("3400.00")  # (6000 + 1000 − 200) ÷ 2
    other = households[crafted["second"].pk]
    assert other["income_year"] is None and other["wage"] is None
    assert other["per_capita_income"] is None


@pytest.mark.django_db
def test_households_outside_the_users_area_never_appear(
    crafted: dict[str, Any], make_user: Callable[..., User], tmp_path: Path
) -> None:
    """DESIGN.md: every query of people's data is area-scoped to the user's subtree."""
    city = make_user("city", "4501", "administrator")
    elsewhere = services.create_household(
        city,
        {"village": "450103100201", "head_name": "王五"},
        [person(name="王五", area="450103")],
        {"year": 2016, "wage": 1000},
        surveyed_on=dt.date(2016, 12, 1),
    )
    county = User.objects.get(username="county")
    township = make_user("township", "450102100", "data_officer")

    def ids(user: User, area: str, name: str) -> tuple[set[int], set[int]]:
        write_snapshot(user, area, tmp_path / name)
        households = {r["household_id"] for r in _rows(tmp_path / name / "households.parquet")}
        members = {r["household_id"] for r in _rows(tmp_path / name / "members.parquet")}
        return households, members

    first, second = crafted["first"].pk, crafted["second"].pk
    # Asking for the province gives only what the user may see.
    assert ids(county, "45", "county") == ({first, second}, {first, second})
    assert ids(county, "450103", "other") == (set(), set())
    assert ids(township, "450102", "township") == ({first}, {first})
    assert ids(city, "450103", "city") == ({elsewhere.pk}, {elsewhere.pk})
    assert ids(city, "4501", "all") == ({first, second, elsewhere.pk},) * 2
    # An empty snapshot still has the columns a job reads.
    empty = pq.read_table(tmp_path / "other" / "households.parquet")
    assert empty.num_rows == 0 and "per_capita_income" in empty.column_names


@pytest.mark.django_db
def test_statuses_limit_the_households_and_their_members(
    crafted: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    """DOMAIN.md §2 (one life cycle): a job takes the households at the stages it works on
    — identification scores the surveyed, not those already registered."""
    first, second = crafted["first"], crafted["second"]
    # The life-cycle steps are not under test here: set the status directly.
    Household.objects.filter(pk=second.pk).update(status=enums.HouseholdStatus.REGISTERED)
    counts = write_snapshot(
        county_user, "450102", tmp_path, statuses=[enums.HouseholdStatus.SURVEYED]
    )
    assert counts == {"households": 1, "members": 2}
    assert {r["household_id"] for r in _rows(tmp_path / "members.parquet")} == {first.pk}


@pytest.mark.django_db
def test_duckdb_reads_the_snapshot(
    crafted: dict[str, Any], county_user: User, tmp_path: Path
) -> None:
    write_snapshot(county_user, "450102", tmp_path)
    households = str(tmp_path / "households.parquet")
    members = str(tmp_path / "members.parquet")
    got = duckdb.sql(
        f"""select h.household_id, h.people, count(m.person_id) as found,
                   sum(m.migrant_months) as months
            from read_parquet('{households}') h
            left join read_parquet('{members}') m using (household_id)
            group by all order by h.household_id"""
    ).fetchall()
    assert got == [(crafted["first"].pk, 2, 2, 8), (crafted["second"].pk, 1, 1, 0)]


@pytest.mark.django_db
def test_a_loaded_province_scores_exactly_as_its_generated_files(
    generated: Path, tmp_path: Path
) -> None:
    """DESIGN.md "Data flow" 3: batch work reads a snapshot of the registry; the default
    scorecard gives every household the same score, vetoes and item points on the snapshot
    as on the generated files it was loaded from."""
    loaded = loading.load_directory(generated)
    assert loaded.ok, loaded.errors[:3]
    loader = User.objects.get(username="fupin-load-45")
    snap = tmp_path / "snapshot"
    counts = write_snapshot(loader, "45", snap, chunk=64)  # several row groups
    generated_members = pq.read_metadata(generated / "members.parquet").num_rows
    assert counts == {"households": N, "members": generated_members}

    # The same columns with the same types as the generator writes, and the life cycle
    # (which a survey file does not have) after them.
    for name in ("households.parquet", "members.parquet"):
        ours, theirs = pq.read_schema(snap / name), pq.read_schema(generated / name)
        if name == "households.parquet":
            assert ours.names[len(theirs) :] == LIFE_CYCLE
            ours = pa.schema(list(ours)[: len(theirs)])
        assert ours.remove_metadata() == theirs.remove_metadata(), name

    run_score(generated, CARD, tmp_path / "generated.parquet")
    run_score(snap, CARD, tmp_path / "snapshot.parquet")
    expected = _rows(tmp_path / "generated.parquet")
    got = {r["household_id"]: r for r in _rows(tmp_path / "snapshot.parquet")}
    assert len(expected) == len(got) == N

    # The link between the two: the head's resident ID.
    heads = pq.read_table(generated / "members.parquet", columns=["household_id", "id_number"])
    head_rows = pq.read_table(generated / "members.parquet", columns=["relation"])
    generated_head = {
        hid: rid
        for hid, rid, rel in zip(
            heads["household_id"].to_pylist(),
            heads["id_number"].to_pylist(),
            head_rows["relation"].to_pylist(),
            strict=True,
        )
        if rel == "01"
    }
    registry_id = dict(
        Member.objects.filter(relation="01").values_list("id_number", "household_id")
    )
    assert len(registry_id) == N
    item_columns = [c for c in expected[0] if c.startswith(("p_", "v_"))]
    assert len(item_columns) > 80  # the card's scored and veto items, member facts included
    member_items = {"p_labour_people", "p_chronic_illness", "p_medical_insurance"}
    assert member_items <= set(item_columns)
    vetoed = 0
    for row in expected:
        mine = got[registry_id[generated_head[row["household_id"]]]]
        for column in ("county_code", "people", "score", "vetoed", *item_columns):
            assert mine[column] == row[column], (row["household_id"], column)
        vetoed += row["vetoed"]
    # Not a trivial agreement: scores spread and some households are vetoed.
    assert len({r["score"] for r in expected}) > 10 and 0 < vetoed < N

    # Naming the year computes per-capita income as the registry stores it (to the fen,
    # half up) for every household size.
    write_snapshot(loader, "45", tmp_path / "2016", year=2016)
    stored = pq.read_table(snap / "households.parquet")
    computed = pq.read_table(tmp_path / "2016" / "households.parquet")
    assert computed.column("household_id") == stored.column("household_id")
    assert computed.column("per_capita_income") == stored.column("per_capita_income")
    assert len(set(stored.column("people").to_pylist())) >= 6
