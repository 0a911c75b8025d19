"""The score job (issue 4 items 1, 2, 4): band / map / boolean / per-capita / veto semantics,
the default scorecard on generated data, and DuckDB and Spark agreeing row for row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import synth
from engine.backends import spark_session
from engine.score import run_score, score
from engine.scorecard import ScorecardError, parse_scorecard

DEFAULT = Path(__file__).resolve().parents[1] / "scorecards" / "guangxi-2015-illustrative.yaml"

CARD = """\
name: Tiny
version: "1"
effective: 2016-01-01
categories:
  - id: c
    items:
      - {id: land, per_capita: farmland_mu, bands: [{max: 1, points: 0}, {min: 1, max: 2, points: 3}, {min: 2, points: 5}], default: 9}
      - {id: area, column: housing_area_m2, bands: [{min: 50, max: 100, points: 1}, {min: 100, points: 2}], default: 7}
      - {id: road, column: road_surface, map: {asphalt: 3, earth: 0}, default: 1}
      - {id: water, column: water_safe, true: 4, false: 0}
      - {id: ghost, column: not_recorded, optional: true, true: 50, false: 60}
  - id: veto
    items:
      - {id: car, column: cars, veto: true, when: {min: 1}}
      - {id: salary, column: public_salary, optional: true, veto: true, when: true}
      - {id: tekun, column: attribute, veto: true, when: [tekun]}
"""  # noqa: E501


def tiny() -> pa.Table:
    return pa.table(
        {
            "household_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "county_code": ["450102"] * 5,
            "people": pa.array([2, 1, 4, 0, 3], pa.int16()),
            # per capita: 1.0 (band [1,2)), 0.5, 3.0, none (0 people → default), null
            "farmland_mu": pa.array([2, 0.5, 12, 3, None], pa.float64()).cast(pa.decimal128(9, 2)),
            # 100 is the lower edge of the top band (half-open); 49.99 in no band → default
            "housing_area_m2": pa.array([100, 99.99, 49.99, None, 50], pa.float64()),
            "road_surface": ["asphalt", "earth", "gravel", None, "asphalt"],
            "water_safe": [True, False, None, True, True],
            "cars": pa.array([0, 1, 0, None, 2], pa.int16()),
            "attribute": ["general", "general", "tekun", "general", "dibao"],
        }
    )


def expected() -> dict[str, list[Any]]:
    return {
        "p_land": [3, 0, 5, 9, 9],
        "p_area": [2, 1, 7, 7, 1],
        "p_road": [3, 0, 1, 1, 3],
        "p_water": [4, 0, 0, 4, 4],
        "p_ghost": [0, 0, 0, 0, 0],
        "v_car": [False, True, False, False, True],
        "v_salary": [False] * 5,
        "v_tekun": [False, False, True, False, False],
        "vetoed": [False, True, True, False, True],
        "score": [12, 1, 13, 21, 17],
    }


def test_semantics_on_a_tiny_table() -> None:
    """Issue 4 item 2: bands half-open, map with default, boolean (null = false),
    per-capita (0 people → default), optional columns, veto whatever the score."""
    card = parse_scorecard(CARD)
    out = score(ibis.memtable(tiny()), card).order_by("household_id").to_pyarrow()
    assert out.column_names[:5] == ["household_id", "county_code", "people", "score", "vetoed"]
    got = out.to_pydict()
    for column, values in expected().items():
        assert got[column] == values, column
    assert out.schema.field("score").type == pa.int32()


def test_missing_or_ill_typed_column_names_line_and_item() -> None:
    card = parse_scorecard(CARD, "tiny.yaml")
    table = ibis.memtable(
        tiny().drop_columns(["road_surface"]).append_column("cars2", pa.array([1] * 5))
    )
    with pytest.raises(ScorecardError, match=r"tiny\.yaml:9: item road: unknown column"):
        score(table, card)
    bad = tiny().set_column(7, "cars", pa.array(["0"] * 5))
    with pytest.raises(ScorecardError, match=r"tiny\.yaml:14: item car: column 'cars' is string"):
        score(ibis.memtable(bad), card)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    synth.generate(out, households=2000, seed=7)
    return out


def test_default_scorecard_finds_the_poor(generated: Path, tmp_path: Path) -> None:
    """Issue 4 item 2: the default card runs on generated data, and households poor by
    the ground truth score lower on average than the others."""
    result = run_score(generated, DEFAULT, tmp_path / "scores.parquet")
    assert result["households"] == 2000
    scores = pq.read_table(tmp_path / "scores.parquet")
    truth = pq.read_table(generated / "truth.parquet")
    assert scores["household_id"].to_pylist() == truth["household_id"].to_pylist()
    s = np.asarray(scores["score"])
    poor = np.asarray(truth["poor"])
    assert s[poor].mean() + 10 < s[~poor].mean()
    assert 0 < result["vetoed"] < 2000 * 0.2
    # The member-level facts (labour, illness, insurance…) come from members.parquet.
    for column in ("p_labour_share", "p_chronic_illness", "p_medical_insurance"):
        assert len(set(scores[column].to_pylist())) > 1, column
    meta = scores.schema.metadata
    assert meta[b"fupin.direction"] == b"higher_is_better_off"


def test_scores_file_schema_and_counts_do_not_depend_on_the_data(tmp_path: Path) -> None:
    """Issue 4 item 1: every scores file of one card has the same schema, whether or not
    the input has empty values (DuckDB would mark a column without nulls as required),
    carries the card in its metadata, and the returned counts are those of the file."""
    card_file = tmp_path / "tiny.yaml"
    card_file.write_text(CARD, encoding="utf-8")
    full = tiny().filter(pa.array([True, True, True, False, False]))
    schemas = []
    for name, table in (("nulls", tiny()), ("full", full)):
        (tmp_path / name).mkdir()
        pq.write_table(table, tmp_path / name / "households.parquet")
        result = run_score(tmp_path / name, card_file, tmp_path / name / "scores.parquet")
        written = pq.read_table(tmp_path / name / "scores.parquet")
        assert result["households"] == written.num_rows == table.num_rows
        assert result["vetoed"] == sum(written["vetoed"].to_pylist())
        assert written["household_id"].to_pylist() == sorted(table["household_id"].to_pylist())
        assert written.schema.metadata[b"fupin.scorecard"] == b"Tiny"
        assert written.schema.metadata[b"fupin.scorecard_version"] == b"1"
        schemas.append(written.schema)
    assert schemas[0] == schemas[1]
    assert all(field.nullable for field in schemas[0])
    assert not list(tmp_path.glob("*/.*.part"))


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("pyspark")
    session = spark_session(str(tmp_path_factory.mktemp("warehouse")))
    yield session
    # The cutoff tests may share getOrCreate's session: leave stopping to the JVM's exit.


def test_duckdb_and_spark_agree(generated: Path, tmp_path: Path, spark: Any) -> None:
    """Issue 4 item 1: the same expression on both engines gives identical files."""
    tiny_dir = tmp_path / "tiny"
    tiny_dir.mkdir()
    pq.write_table(tiny(), tiny_dir / "households.parquet")
    tiny_card = tmp_path / "tiny.yaml"
    tiny_card.write_text(CARD, encoding="utf-8")
    for source, card in ((generated, DEFAULT), (tiny_dir, tiny_card)):
        run_score(source, card, tmp_path / "duck.parquet")
        run_score(source, card, tmp_path / "spark.parquet", engine="spark", session=spark)
        duck = pq.read_table(tmp_path / "duck.parquet")
        sparked = pq.read_table(tmp_path / "spark.parquet")
        assert duck.schema == sparked.schema
        assert duck.equals(sparked)
