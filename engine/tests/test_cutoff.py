"""The cutoff per county (DOMAIN.md §3; issue 4 item 3 and the `cutoff` half of item 4)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from benchmarks.identify_sql import cutoff_sql
from engine.backends import spark_session
from engine.cutoff import CutoffError, cutoff, run_cutoff

A, B, C, D = "450102", "450103", "450104", "450105"


def _scores(rows: list[tuple[str, str, int, float, bool]]) -> ibis.Table:
    ids, counties, people, scores, vetoed = zip(*rows, strict=True)
    return ibis.memtable(
        pa.table(
            {
                "household_id": pa.array(ids, pa.string()),
                "county_code": pa.array(counties, pa.string()),
                "people": pa.array(people, pa.int64()),
                "score": pa.array(scores, pa.float64()),
                "vetoed": pa.array(vetoed, pa.bool_()),
            }
        )
    )


def _quotas(quotas: dict[str, int]) -> ibis.Table:
    return ibis.memtable(
        pa.table(
            {
                "county_code": pa.array(list(quotas), pa.string()),
                "quota_people": pa.array(list(quotas.values()), pa.int64()),
            }
        )
    )


def _run(
    rows: list[tuple[str, str, int, float, bool]], quotas: dict[str, int], **kw: Any
) -> tuple[dict[str, bool], dict[str, dict[str, Any]]]:
    households, counties = cutoff(_scores(rows), _quotas(quotas), **kw)
    h = households.to_pyarrow().to_pylist()
    c = counties.to_pyarrow().to_pylist()
    return {r["household_id"]: r["selected"] for r in h}, {r["county_code"]: r for r in c}


def test_ties_at_the_line_are_all_selected() -> None:
    """Issue 4 item 3: the line is the score where cumulative people reach the quota; every
    household at the line is in, even past the quota."""
    rows = [
        ("h1", A, 3, 10.0, False),
        ("h2", A, 2, 20.0, False),  # cumulative 5 ≥ 4: the line is 20
        ("h3", A, 2, 20.0, False),  # tied at the line: in, though the quota is met
        ("h4", A, 4, 30.0, False),
    ]
    selected, counties = _run(rows, {A: 4})
    assert selected == {"h1": True, "h2": True, "h3": True, "h4": False}
    assert counties[A] == {
        "county_code": A,
        "quota_people": 4,
        "line": 20.0,
        "selected_people": 7,
        "selected_households": 3,
        "deviation": 3,
    }


def test_quota_exactly_met_stops_there() -> None:
    """Issue 4 item 3: the first household whose people reach the quota sets the line."""
    rows = [("h1", A, 2, 1.0, False), ("h2", A, 2, 2.0, False), ("h3", A, 2, 3.0, False)]
    selected, counties = _run(rows, {A: 4})
    assert selected == {"h1": True, "h2": True, "h3": False}
    assert counties[A]["line"] == 2.0 and counties[A]["deviation"] == 0


def test_quota_larger_than_the_county_selects_everyone() -> None:
    """Issue 4 item 3: when a county's people fall short of its quota, all are proposed."""
    rows = [("h1", A, 3, 10.0, False), ("h2", A, 2, 50.0, False), ("h3", A, 1, 5.0, True)]
    selected, counties = _run(rows, {A: 100})
    assert selected == {"h1": True, "h2": True, "h3": False}
    assert counties[A]["line"] == 50.0
    assert counties[A]["selected_people"] == 5
    assert counties[A]["deviation"] == -95


def test_zero_quota_selects_nobody() -> None:
    """Issue 4 item 3: a zero quota proposes no one and draws no line."""
    selected, counties = _run([("h1", A, 1, 0.0, False), ("h2", A, 5, 1.0, False)], {A: 0})
    assert selected == {"h1": False, "h2": False}
    assert counties[A]["line"] is None
    assert counties[A]["selected_households"] == 0 and counties[A]["deviation"] == 0


def test_vetoed_never_selected_nor_counted() -> None:
    """DOMAIN.md §3 (一票否决): a vetoed household is never proposed, whatever its score, and
    its people do not fill the quota."""
    rows = [
        ("h1", A, 5, 1.0, True),  # poorest by score, but vetoed
        ("h2", A, 2, 2.0, False),
        ("h3", A, 2, 3.0, False),  # cumulative 4 (without h1) reaches the quota
        ("h4", A, 2, 4.0, False),
    ]
    selected, counties = _run(rows, {A: 4})
    assert selected == {"h1": False, "h2": True, "h3": True, "h4": False}
    assert counties[A]["line"] == 3.0 and counties[A]["selected_people"] == 4


def test_all_vetoed_county() -> None:
    selected, counties = _run([("h1", A, 3, 1.0, True)], {A: 2})
    assert selected == {"h1": False}
    assert counties[A]["line"] is None and counties[A]["deviation"] == -2


def test_one_person_county() -> None:
    """Issue 4 Done-when: a county of one household of one person."""
    selected, counties = _run([("h1", A, 1, 42.0, False)], {A: 1})
    assert selected == {"h1": True}
    assert counties[A]["line"] == 42.0 and counties[A]["deviation"] == 0


def test_counties_are_independent_and_quota_counties_without_households_listed() -> None:
    rows = [("a1", A, 1, 5.0, False), ("a2", A, 1, 6.0, False), ("b1", B, 1, 1.0, False)]
    selected, counties = _run(rows, {A: 1, B: 1, C: 3})
    assert selected == {"a1": True, "a2": False, "b1": True}
    assert counties[C]["line"] is None and counties[C]["deviation"] == -3


def test_lower_score_better_off() -> None:
    """Issue 4 item 2: a scorecard may say that a lower score is better off."""
    rows = [("h1", A, 2, 10.0, False), ("h2", A, 2, 20.0, False), ("h3", A, 2, 30.0, False)]
    selected, counties = _run(rows, {A: 3}, higher_is_better_off=False)
    assert selected == {"h1": False, "h2": True, "h3": True}
    assert counties[A]["line"] == 20.0


def test_deterministic_whatever_the_input_order() -> None:
    """Issue 4 item 1: a total order (score, household_id) gives the same answer every time."""
    rng = random.Random(3)
    rows = [
        (f"h{i:03}", rng.choice([A, B]), rng.randint(1, 6), float(rng.randint(0, 5)), False)
        for i in range(200)
    ]
    first = _run(rows, {A: 100, B: 80})
    rng.shuffle(rows)
    assert _run(rows, {A: 100, B: 80}) == first


def test_near_line_flag() -> None:
    """Issue 4 item 3: the report lists the households within 2 points of the line."""
    rows = [
        ("h1", A, 1, 7.0, False),
        ("h2", A, 1, 8.0, False),
        ("h3", A, 1, 10.0, False),  # the line
        ("h4", A, 1, 12.0, False),
        ("h5", A, 1, 12.5, False),
        ("h6", A, 1, 11.0, True),  # vetoed: not a candidate, not listed
    ]
    households, _ = cutoff(_scores(rows), _quotas({A: 3}))
    near = {r["household_id"] for r in households.to_pyarrow().to_pylist() if r["near_line"]}
    assert near == {"h2", "h3", "h4"}


def test_county_without_quota_is_an_error() -> None:
    """Issue 4 item 4: a county with households but no quota fails, naming the counties."""
    rows = [("a", A, 1, 1.0, False), ("b", B, 1, 1.0, False), ("d", D, 1, 1.0, False)]
    with pytest.raises(CutoffError, match=f"No quota for county {B}, {D}"):
        cutoff(_scores(rows), _quotas({A: 1}))


# ---------------------------------------------------------------------------------------------
# Files: run_cutoff, its checks, the hand-written SQL and the two engines


def _write_inputs(
    path: Path, rows: list[tuple[str, str, int, float, bool]], quotas: dict[str, int]
) -> tuple[Path, Path]:
    path.mkdir(parents=True, exist_ok=True)
    scores = path / "scores.parquet"
    pq.write_table(_scores(rows).to_pyarrow(), scores)
    quotas_file = path / "quotas.csv"
    quotas_file.write_text(
        "county_code,quota_people\n" + "".join(f"{c},{q}\n" for c, q in quotas.items())
    )
    return scores, quotas_file


def _random_inputs(n: int = 4000) -> tuple[list[tuple[str, str, int, float, bool]], dict]:
    rng = random.Random(2014)
    counties = [f"4501{i:02}" for i in range(2, 14)]
    rows = [
        (
            f"45{rng.randrange(10**8):08}{i:06}",
            rng.choice(counties),
            rng.choice([1, 1, 2, 3, 3, 4, 4, 5, 6, 8]),
            rng.randint(20, 80) + rng.choice([0.0, 0.5]),  # coarse scores: many ties
            rng.random() < 0.1,
        )
        for i in range(n)
    ]
    rows.append(("450199000001", "450199", 1, 33.0, False))  # a one-person county
    quotas = {c: rng.randint(200, 900) for c in counties}
    quotas[counties[0]] = 0  # zero quota
    quotas[counties[1]] = 100_000  # more than the county
    quotas["450199"] = 1
    return rows, quotas


def test_run_cutoff_writes_sorted_files(tmp_path: Path) -> None:
    rows, quotas = _random_inputs(500)
    scores, quotas_file = _write_inputs(tmp_path, rows, quotas)
    steps: list[tuple[int, int]] = []
    run_cutoff(scores, quotas_file, tmp_path / "out", progress=lambda d, t: steps.append((d, t)))
    households = pq.read_table(tmp_path / "out" / "households.parquet")
    assert households.column_names[:6] == [
        "household_id",
        "county_code",
        "people",
        "score",
        "vetoed",
        "selected",
    ]
    keys = list(
        zip(
            households["county_code"].to_pylist(),
            households["household_id"].to_pylist(),
            strict=True,
        )
    )
    assert keys == sorted(keys) and len(keys) == len(rows)
    counties = pacsv.read_csv(
        tmp_path / "out" / "counties.csv",
        convert_options=pacsv.ConvertOptions(column_types={"county_code": pa.string()}),
    )
    assert counties["county_code"].to_pylist() == sorted(quotas)
    assert steps[0] == (0, 4) and steps[-1] == (4, 4)


def test_vetoed_column_is_optional(tmp_path: Path) -> None:
    table = pa.table(
        {
            "household_id": ["h1", "h2"],
            "county_code": [A, A],
            "people": pa.array([1, 1], pa.int32()),
            "score": pa.array([3, 4], pa.int64()),  # integer scores keep their type
        }
    )
    pq.write_table(table, tmp_path / "scores.parquet")
    (tmp_path / "quotas.csv").write_text(f"county_code,quota_people\n{A},1\n")
    households, counties = run_cutoff(
        tmp_path / "scores.parquet", tmp_path / "quotas.csv", tmp_path / "out"
    )
    assert households["vetoed"].to_pylist() == [False, False]
    assert households["selected"].to_pylist() == [True, False]
    assert counties["line"].type == pa.int64() and counties["line"].to_pylist() == [3]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"household_id": ["h"], "county_code": [A], "people": [1]}, "missing column score"),
        (
            {"household_id": ["h"], "county_code": [450102], "people": [1], "score": [1.0]},
            "column county_code is int64, expected text",
        ),
        (
            {"household_id": ["h"], "county_code": [A], "people": [1], "score": ["x"]},
            "column score is string, expected numeric",
        ),
        (
            {
                "household_id": ["h", "h"],
                "county_code": [A, A],
                "people": [1, 1],
                "score": [1.0, 2.0],
            },
            "1 repeated household_id",
        ),
        (
            {"household_id": ["h"], "county_code": [A], "people": [-1], "score": [1.0]},
            "empty or negative people",
        ),
        (
            {"household_id": ["h"], "county_code": [B], "people": [1], "score": [1.0]},
            f"No quota for county {B}",
        ),
    ],
)
def test_bad_scores_file(tmp_path: Path, table: dict[str, list[Any]], message: str) -> None:
    """Issue 4 item 4: a missing column, a bad type, a county without a quota → clear error."""
    pq.write_table(pa.table(table), tmp_path / "scores.parquet")
    (tmp_path / "quotas.csv").write_text(f"county_code,quota_people\n{A},1\n")
    with pytest.raises(CutoffError, match=message):
        run_cutoff(tmp_path / "scores.parquet", tmp_path / "quotas.csv", tmp_path / "out")
    assert not (tmp_path / "out" / "households.parquet").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("county,quota\n450102,1\n", "missing column county_code, quota_people"),
        ("county_code,quota_people\n45010,1\n", "line 2: county code '45010' is not 6 digits"),
        ("county_code,quota_people\n450102,-3\n", "line 2: quota '-3' of county 450102"),
        ("county_code,quota_people\n450102,1\n450102,2\n", "line 3: county 450102 has a second"),
    ],
)
def test_bad_quotas_file(tmp_path: Path, text: str, message: str) -> None:
    rows = [("h1", A, 1, 1.0, False)]
    scores, quotas_file = _write_inputs(tmp_path, rows, {})
    quotas_file.write_text(text)
    with pytest.raises(CutoffError, match=message):
        run_cutoff(scores, quotas_file, tmp_path / "out")


def test_quota_codes_keep_leading_zeros(tmp_path: Path) -> None:
    """County codes are text: a (hypothetical) leading zero must survive the CSV."""
    rows = [("h1", "012345", 1, 1.0, False)]
    scores, quotas_file = _write_inputs(tmp_path, rows, {"012345": 1})
    _, counties = run_cutoff(scores, quotas_file, tmp_path / "out")
    assert counties["county_code"].to_pylist() == ["012345"]
    assert "012345" in (tmp_path / "out" / "counties.csv").read_text()


def test_hand_written_sql_agrees(tmp_path: Path) -> None:
    """The benchmark's floor (benchmarks/identify_sql.py) computes exactly what fupin does."""
    rows, quotas = _random_inputs()
    scores, quotas_file = _write_inputs(tmp_path, rows, quotas)
    households, counties = run_cutoff(scores, quotas_file, tmp_path / "out")
    sql_households, sql_counties = cutoff_sql(scores, quotas_file)
    assert sql_households.to_pylist() == households.to_pylist()
    assert sql_counties.to_pylist() == counties.to_pylist()
    assert sum(households["selected"].to_pylist()) > 0


@pytest.fixture(scope="module")
def spark() -> Any:
    session = spark_session()
    yield session
    session.stop()


def test_duckdb_and_spark_write_identical_files(tmp_path: Path, spark: Any) -> None:
    """Issue 4 Done-when: DuckDB and Spark give identical households.parquet and counties.csv."""
    rows, quotas = _random_inputs()
    scores, quotas_file = _write_inputs(tmp_path, rows, quotas)
    run_cutoff(scores, quotas_file, tmp_path / "duckdb", engine="duckdb")
    run_cutoff(scores, quotas_file, tmp_path / "spark", engine="spark", spark=spark)
    duck = pq.read_table(tmp_path / "duckdb" / "households.parquet")
    sparked = pq.read_table(tmp_path / "spark" / "households.parquet")
    assert duck.schema == sparked.schema
    assert duck.to_pylist() == sparked.to_pylist()
    csv_duck = (tmp_path / "duckdb" / "counties.csv").read_text()
    assert csv_duck == (tmp_path / "spark" / "counties.csv").read_text()
    assert csv_duck.count("\n") == len(quotas) + 1
