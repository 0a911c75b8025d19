"""`fupin engine score` (issue 4 item 4): writes the scores, and fails with a clear
message (file line, item) on a column the data lacks."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from engine import synth

DEFAULT = Path(synth.__file__).parent / "scorecards" / "guangxi-2015-illustrative.yaml"


def test_score_command(tmp_path: Path) -> None:
    synth.generate(tmp_path / "in", households=300, seed=3)
    out = io.StringIO()
    call_command(
        "engine",
        "score",
        "--scorecard",
        str(DEFAULT),
        "--input",
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "scores.parquet"),
        stdout=out,
    )
    table = pq.read_table(tmp_path / "scores.parquet")
    assert table.num_rows == 300
    assert table.column_names[:5] == ["household_id", "county_code", "people", "score", "vetoed"]
    assert "300" in out.getvalue()


def test_score_command_missing_column(tmp_path: Path) -> None:
    synth.generate(tmp_path / "in", households=50, seed=3)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        DEFAULT.read_text(encoding="utf-8").replace("column: cars,", "column: carz,"),
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match=r"bad\.yaml:\d+: item veto_car: unknown column 'carz'"):
        call_command(
            "engine",
            "score",
            "--scorecard",
            str(bad),
            "--input",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "s.parquet"),
            stdout=io.StringIO(),
        )
    assert not (tmp_path / "s.parquet").exists()


RULES = Path(synth.__file__).parent / "warning_rules" / "anhui-2017.toml"


def test_generate_monitoring_then_warn(tmp_path: Path) -> None:
    """Issue 7 item 5 (seed 004 建立返贫预警机制): `fupin generate --monitoring` writes the
    statuses, incomes and events a generated province lacks; `fupin engine warn` raises the
    warnings over them and says how many, by level."""
    data = tmp_path / "province"
    call_command(
        "generate", "--households", "400", "--seed", "5", "--out", str(data), "--monitoring",
        "--on", "2020-06-30", stdout=io.StringIO(),
    )  # fmt: skip
    for name in ("statuses.parquet", "incomes.parquet", "events.parquet"):
        assert (data / name).is_file(), name
    out = io.StringIO()
    call_command(
        "engine", "warn", "--rules", str(RULES), "--input", str(data), "--out",
        str(tmp_path / "warned"), "--on", "2020-06-30", "--poverty-line", "4000", stdout=out,
    )  # fmt: skip
    warnings = pq.read_table(tmp_path / "warned" / "warnings.parquet")
    assert warnings.num_rows > 0
    assert set(warnings.column("level").to_pylist()) <= {"red", "orange", "yellow"}
    assert f"{warnings.num_rows}" in out.getvalue()


def test_warn_refuses_a_bad_date_and_a_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="2020-13-01"):
        call_command(
            "engine", "warn", "--rules", str(RULES), "--input", str(tmp_path), "--out",
            str(tmp_path / "o"), "--on", "2020-13-01",
        )  # fmt: skip
    with pytest.raises(CommandError, match=r"nowhere\.toml"):
        call_command(
            "engine", "warn", "--rules", str(tmp_path / "nowhere.toml"), "--input",
            str(tmp_path), "--out", str(tmp_path / "o"),
        )  # fmt: skip
