"""`fupin load` (issue 3, item 1): generated households into the registry, in bulk, through
the same validation as every other entry, all-or-nothing per batch, resumable."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from engine import synth
from fupin.core.models import AuditEntry, User
from fupin.registry import enums, loading
from fupin.registry.models import Household, HouseholdIncome, Member
from fupin.registry.validation import HOUSEHOLD_FIELDS, INCOME_FIELDS, MEMBER_FIELDS

N = 200


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("province")
    synth.generate(path, N, seed=11)
    return path


def test_columns_are_the_registry_fields(generated: Path) -> None:
    """DOMAIN.md §9: every field of the registry form is a column, with the form's codes."""
    households = pq.read_table(generated / "households.parquet")
    members = pq.read_table(generated / "members.parquet")
    for name in HOUSEHOLD_FIELDS:
        assert (name if name != "village" else "village_code") in households.column_names
    for name in ["household_id", "county_code", "people", "income_year", *INCOME_FIELDS]:
        assert name in households.column_names
    for name in ["person_id", "household_id", *MEMBER_FIELDS, "sex", "birth_date"]:
        assert name in members.column_names
    assert "wealth" not in households.column_names and "poor" not in households.column_names
    closed = [
        (households, "identification_standard", enums.IdentificationStandard),
        (households, "attribute", enums.PovertyAttribute),
        (households, "road_surface", enums.RoadSurface),
        (households, "housing_structure", enums.HousingStructure),
        (households, "dilapidation_grade", enums.DilapidationGrade),
        (households, "main_fuel", enums.Fuel),
        (members, "relation", enums.Relation),
        (members, "ethnicity", enums.Ethnicity),
        (members, "political_status", enums.PoliticalStatus),
        (members, "education", enums.Education),
        (members, "schooling", enums.Schooling),
        (members, "dropout_reason", enums.DropoutReason),
        (members, "labour_skill", enums.LabourSkill),
        (members, "migrant_place", enums.MigrantPlace),
        (members, "sex", enums.Sex),
    ]
    for table, column, choices in closed:
        values = set(pc.unique(table.column(column)).to_pylist()) - {""}
        assert values <= set(choices.values), column
    # every code the generator can write, not just those this sample happened to draw
    for codes, choices in (
        (synth.RELATIONS, enums.Relation),
        (synth.EDUCATION, enums.Education),
        (synth.SCHOOLING, enums.Schooling),
        (synth.DROPOUT, enums.DropoutReason),
        (synth.LABOUR, enums.LabourSkill),
        (synth.MIGRANT, enums.MigrantPlace),
        (synth.POLITICAL, enums.PoliticalStatus),
        (synth.ROAD, enums.RoadSurface),
        (synth.STRUCTURE, enums.HousingStructure),
        (synth.FUEL, enums.Fuel),
        (synth.ATTRIBUTE, enums.PovertyAttribute),
    ):
        assert set(codes.tolist()) - {""} <= set(choices.values)
    peoples = {c for mix in synth.ETHNIC_MIX.values() for c in mix}
    assert peoples <= set(enums.Ethnicity.values)


@pytest.mark.django_db
def test_load_creates_exactly_the_households_and_a_second_load_changes_nothing(
    generated: Path,
) -> None:
    """Issue 3: `fupin load` puts the generated households into the registry through the
    import's validation; loading again updates instead of duplicating (nothing changed)."""
    seen: list[tuple[int, int]] = []
    result = loading.load_directory(generated, batch=80, progress=lambda d, t: seen.append((d, t)))
    assert result.ok, result.errors[:3]
    assert (result.households, result.done, result.created, result.batches) == (N, N, N, 3)
    assert result.areas_loaded > 16_000  # Guangxi's divisions, loaded because missing
    assert seen[0] == (0, N) and seen[-1] == (N, N)
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)

    households = pq.read_table(generated / "households.parquet").to_pylist()
    members = pq.read_table(generated / "members.parquet").to_pylist()
    assert Household.objects.count() == N
    assert Member.objects.count() == len(members) == result.members_created
    assert HouseholdIncome.objects.count() == N

    # Field by field: each household found by its head's resident ID.
    heads = {m["household_id"]: m["id_number"] for m in members if m["relation"] == "01"}
    by_head = {
        m.id_number: m.household
        for m in Member.objects.filter(relation="01").select_related("household")
    }
    for row in households[::7]:
        h = by_head[heads[row["household_id"]]]
        assert h.village_id == row["village_code"]
        assert h.code.startswith(row["village_code"])
        assert h.status == enums.HouseholdStatus.SURVEYED
        for name in ("head_name", "attribute", "road_surface", "housing_structure", "cars"):
            assert getattr(h, name) == row[name], name
        for name in ("farmland_mu", "housing_area_m2", "distance_to_road_km"):
            assert getattr(h, name) == row[name], name
        assert h.people == row["people"]
        assert h.per_capita_income == row["per_capita_income"]
        income = h.incomes.get()
        assert income.year == row["income_year"] == synth.INCOME_YEAR
        assert income.wage == row["wage"] and income.business_cost == row["business_cost"]
    recorded = {m.id_number: m for m in Member.objects.all()}
    for row in members[::5]:
        m = recorded[row["id_number"]]
        assert (m.name, m.sex, m.birth_date, m.relation) == (
            row["name"],
            row["sex"],
            row["birth_date"],
            row["relation"],
        )
        assert (m.education, m.labour_skill, m.migrant_months, m.disability_grade) == (
            row["education"],
            row["labour_skill"],
            row["migrant_months"],
            row["disability_grade"],
        )

    # The console loads as the province's loading account, and every household is audited.
    loader = User.objects.get(username="fupin-load-45")
    assert loader.area_id == "45" and loader.roles == ["data_officer"]
    assert not loader.check_password("")
    created = AuditEntry.objects.filter(action="registry.household.create")
    assert created.count() == N
    assert set(created.values_list("user", flat=True)) == {loader.pk}
    assert "households.parquet sha256:" in created.first().reason  # type: ignore[union-attr]

    again = loading.load_directory(generated, batch=80)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, N)
    assert again.areas_loaded == 0
    assert Household.objects.count() == N and Member.objects.count() == len(members)
    assert User.objects.filter(username__startswith="fupin-load-").count() == 1


def _with_bad_id(source: Path, target: Path, person: int) -> None:
    """A copy of the generated directory with one member's resident ID mistyped."""
    shutil.copytree(source, target)
    table = pq.read_table(target / "members.parquet")
    ids = table.column("id_number").to_pylist()
    ids[person - 1] = ids[person - 1][:17] + ("0" if ids[person - 1][17] != "0" else "1")
    index = table.column_names.index("id_number")
    table = table.set_column(index, "id_number", pa.array(ids, type=pa.string()))
    pq.write_table(table, target / "members.parquet")


@pytest.mark.django_db
def test_a_batch_with_an_error_is_not_written_and_the_load_resumes(
    generated: Path, tmp_path: Path
) -> None:
    """Each batch is all or nothing; loading stops at the first bad batch and names the row;
    run again after the fix, the load picks up where it stopped without duplicating."""
    members = pq.read_table(generated / "members.parquet", columns=["person_id", "household_id"])
    owner = dict(zip(*(members.column(c).to_pylist() for c in members.column_names), strict=True))
    person = next(p for p, h in owner.items() if h == 150)
    bad = tmp_path / "bad"
    _with_bad_id(generated, bad, person)

    result = loading.load_directory(bad, batch=100)
    assert not result.ok
    assert result.done == result.created == 100 and result.failed_rows == (101, 200)
    assert Household.objects.count() == 100  # the second batch wrote nothing
    error = result.errors[0]
    assert (error.sheet, error.row, error.field) == ("members", person, "id_number")
    assert "check digit" in error.message or "校验" in error.message

    resumed = loading.load_directory(generated, batch=100)
    assert resumed.ok
    assert (resumed.unchanged, resumed.created) == (100, 100)
    assert Household.objects.count() == N


@pytest.mark.django_db
def test_the_commands(
    generated: Path, tmp_path: Path, county_user: User, make_user: Callable[..., User]
) -> None:
    """`fupin generate` then `fupin load`, with progress and a summary; a user whose area
    does not cover the villages is refused row by row and nothing is written."""
    out = StringIO()
    call_command("generate", households=30, seed=3, out=tmp_path / "g", stdout=out)
    assert "30" in out.getvalue()
    assert (tmp_path / "g" / "quotas.csv").is_file()

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("load", str(tmp_path / "g"), user="county", stdout=StringIO(), stderr=err)
    assert "village" in err.getvalue() or "村" in err.getvalue()
    assert Household.objects.count() == 0

    out = StringIO()
    call_command("load", str(tmp_path / "g"), stdout=out)
    assert Household.objects.count() == 30
    assert "fupin-load-45" in out.getvalue()

    with pytest.raises(CommandError):
        call_command("load", str(tmp_path / "nowhere"), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("load", str(tmp_path / "g"), user="nobody", stdout=StringIO())
    make_user("reader", "45", "viewer")
    with pytest.raises(CommandError, match=r"right|权"):
        call_command("load", str(tmp_path / "g"), user="reader", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("generate", households=0, out=tmp_path / "x", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("generate", households=5, province="99", out=tmp_path / "x")


def test_unreadable_directories_are_refused(generated: Path, tmp_path: Path) -> None:
    with pytest.raises(loading.LoadError, match=r"members\.parquet"):
        shutil.copy(generated / "households.parquet", tmp_path / "households.parquet")
        loading.open_files(tmp_path)
    table = pq.read_table(generated / "members.parquet").drop_columns(["relation"])
    pq.write_table(table, tmp_path / "members.parquet")
    with pytest.raises(loading.LoadError, match="relation"):
        loading.open_files(tmp_path)
    # members out of step with households: a household whose members are missing
    full = pq.read_table(generated / "members.parquet")
    keep = pc.not_equal(full.column("household_id"), 3)
    pq.write_table(full.filter(keep), tmp_path / "members.parquet")
    with pytest.raises(loading.LoadError, match=r"\b3\b"):
        list(loading.iter_records(tmp_path, batch=50))


def test_decimal_columns_keep_their_places(generated: Path) -> None:
    records = next(loading.iter_records(generated, batch=10))
    assert len(records) == 10
    first = records[0]
    assert isinstance(first.household["farmland_mu"], Decimal)
    assert first.household["village"].startswith("45")
    assert first.income is not None and first.income["year"] == synth.INCOME_YEAR
    assert first.members[0][1]["relation"] == "01"
    assert [row for row, _m in first.members] == list(range(1, len(first.members) + 1))
    assert isinstance(first.household["cars"], int)
    assert all("sex" in m and "birth_date" in m for _r, m in first.members)
    assert not any(key in first.household for key in ("wealth", "poor", "household_id"))
    assert str(first.household["housing_area_m2"]).endswith(".00")
