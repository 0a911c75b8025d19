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
