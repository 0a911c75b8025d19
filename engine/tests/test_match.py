"""The matching job (issue 5 item 2; DOMAIN.md §3 "Cross-department checks", seed 000:
Guangxi compared its registry with other departments' records; Hunan's 四类人员): every
match method, typos found, namesakes not, duplicates by scope, DuckDB = Spark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.backends import spark_session
from engine.match import id_edits, run_match
from engine.normalize import check_char


def rid(area: str, birth: str, seq: str) -> str:
    body = area + birth + seq
    return body + check_char(body)


def typo(id18: str, pos: int) -> str:
    """One digit changed: the check digit no longer holds (MOD 11-2 catches every one)."""
    digit = str((int(id18[pos]) + 3) % 10)
    return id18[:pos] + digit + id18[pos + 1 :]


def swap(id18: str, pos: int) -> str:
    """Characters `pos` and `pos + 1` swapped, as a typist does; the check digit must fail."""
    out = id18[:pos] + id18[pos + 1] + id18[pos] + id18[pos + 2 :]
    assert out != id18 and check_char(out[:17]) != out[17]
    return out


def x_id() -> str:
    for seq in range(101, 999, 2):
        if check_char(f"45010219850315{seq}") == "X":
            return rid("450102", "19850315", str(seq))
    raise AssertionError


ZHANG = rid("450102", "19900101", "123")
CHEN = x_id()
MAIMAITI = rid("653101", "19780512", "035")
LINA = rid("450102", "19850704", "046")
WANGFANG = rid("450102", "19920220", "028")
HUANGLI = rid("450103", "19700909", "066")
LIUYANG = rid("450102", "19881111", "071")
LIUYANG_TYPO = typo(LIUYANG, 15)

PEOPLE = [
    # person_id, household_id, county_code, id_number, name
    (1, 10, "450102", ZHANG, "张伟"),
    (2, 20, "450102", CHEN, "陈国华"),
    (3, 30, "653101", MAIMAITI, "买买提·艾力"),
    (4, 40, "450102", LINA, "李娜"),
    (5, 50, "450102", WANGFANG, "王芳"),
    (6, 60, "450103", HUANGLI, "黄丽"),
    (7, 70, "450102", HUANGLI, "黄丽"),  # the same ID in a second household, same city
    (8, 80, "450102", LIUYANG, "刘洋"),
    (9, 90, "460105", LIUYANG_TYPO, "刘洋"),  # registered again in Hainan, ID mistyped
    (11, 10, "450102", rid("450102", "19650101", "111"), "张大山"),
]

VEHICLES = [
    # record_id, id_number, name, plate
    (1, ZHANG.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "张 伟"),
    (2, CHEN.lower(), "陳國華"),
    (3, f"{MAIMAITI[:6]} {MAIMAITI[6:14]}-{MAIMAITI[14:]}", "买买提•艾力"),
    (4, LINA[:6] + LINA[8:17], "李娜"),  # the old 15-digit ID
    (5, ZHANG, "李四"),  # the ID is 张伟's, the name someone else's
    (6, typo(CHEN, 9), "陈国华"),  # a typo in the birth month
    (7, rid("450102", "19930220", "028"), "王芳"),  # a namesake born a year later
    (8, typo(ZHANG, 15), "章伟"),  # a homophone name and a typo in the ID
    (9, WANGFANG[:17] + ("1" if WANGFANG[17] != "1" else "2"), "王芳"),  # wrong check digit
    (10, rid("450102", "19900101", "135"), "张伟"),  # a namesake born the same day
    (11, swap(LINA, 5), "李娜"),  # a swap across issuing area | birth date
    (12, swap(LIUYANG, 13), "刘洋"),  # a swap across birth date | sequence number
]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("match")
    cols = list(zip(*PEOPLE, strict=True))
    pq.write_table(
        pa.table(
            {
                "person_id": pa.array(cols[0], pa.int64()),
                "household_id": pa.array(cols[1], pa.int64()),
                "county_code": cols[2],
                "id_number": cols[3],
                "name": cols[4],
            }
        ),
        root / "people.parquet",
    )
    records = root / "departments"
    records.mkdir()
    v = list(zip(*VEHICLES, strict=True))
    pq.write_table(
        pa.table(
            {
                "record_id": pa.array(v[0], pa.int64()),
                "id_number": v[1],
                "name": v[2],
                "plate": [f"桂A{i:05d}" for i in v[0]],
            }
        ),
        records / "vehicles.parquet",
    )
    # A death record of 张大山, and the generator's ground truth, which is not a dataset.
    pq.write_table(
        pa.table({"record_id": pa.array([1], pa.int64()),
                  "id_number": [PEOPLE[-1][3]], "name": ["张大山"]}),
        records / "deaths.parquet",
    )  # fmt: skip
    pq.write_table(pa.table({"dataset": ["deaths"]}), records / "truth.parquet")
    return root / "people.parquet", records


@pytest.fixture(scope="module")
def duck(crafted: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("duck")
    run_match(*crafted, out)
    return out


def _matches(out: Path) -> dict[tuple[str, int], tuple[int, str, float]]:
    rows = pq.read_table(out / "matches.parquet").to_pylist()
    return {(r["dataset"], r["record_id"]): (r["person_id"], r["method"], r["score"]) for r in rows}


def test_exact_after_normalising(duck: Path) -> None:
    """Issue 5 item 2: full-width digits, lower-case x, spaces and hyphens, 15-digit IDs;
    traditional characters, spaces and middle dots in names — all `exact`, score 1."""
    m = _matches(duck)
    for record, person in ((1, 1), (2, 2), (3, 3), (4, 4)):
        assert m[("vehicles", record)] == (person, "exact", 1.0)
    assert m[("deaths", 1)] == (11, "exact", 1.0)


def test_exact_name_differs_scores_lower(duck: Path) -> None:
    """Issue 5 item 2: the ID agrees, the name does not — a finding, with a lower score."""
    person, method, score = _matches(duck)[("vehicles", 5)]
    assert (person, method) == (1, "exact_name_differs")
    assert 0.0 <= score < 1.0


def test_mistyped_ids_are_still_found(duck: Path) -> None:
    """Issue 5 item 2: an ID failing the check digit, one digit from a person's with the
    same name, is `id_corrected` — even when the typo is in the birth date or the check
    digit itself; a homophone name with a mistyped ID is `fuzzy` above the threshold."""
    m = _matches(duck)
    assert m[("vehicles", 6)][:2] == (2, "id_corrected")
    # Two adjacent digits swapped across two parts of the ID: no block key survives it.
    assert m[("vehicles", 11)][:2] == (4, "id_corrected")
    assert m[("vehicles", 12)][:2] == (8, "id_corrected")
    assert m[("vehicles", 9)][:2] == (5, "id_corrected")
    person, method, score = m[("vehicles", 8)]
    assert (person, method) == (1, "fuzzy")
    assert 0.85 <= score <= 1.0


def test_namesakes_do_not_match(duck: Path) -> None:
    """Issue 5 item 2: a namesake born another day, or the same day with another valid ID
    (another sequence number), is another person."""
    m = _matches(duck)
    assert ("vehicles", 7) not in m
    assert ("vehicles", 10) not in m


def test_every_score_in_range_and_sorted(duck: Path) -> None:
    t = pq.read_table(duck / "matches.parquet")
    assert all(0.0 <= s <= 1.0 for s in t["score"].to_pylist())
    keys = list(zip(t["dataset"].to_pylist(), t["record_id"].to_pylist(), strict=True))
    assert keys == sorted(keys)


def test_thresholds_are_parameters(crafted: tuple[Path, Path], tmp_path: Path) -> None:
    """A stricter fuzzy threshold drops the homophone-plus-typo match."""
    run_match(*crafted, tmp_path, fuzzy=0.9)
    assert ("vehicles", 8) not in _matches(tmp_path)
    with pytest.raises(ValueError, match="unknown threshold"):
        run_match(*crafted, tmp_path, fuzzyness=0.9)


def test_duplicates_with_scope(duck: Path) -> None:
    """Issue 5 item 2: people registered in two households — the same ID in two counties
    of one city (`city`), and the same name, birth date and an ID one digit off in
    another province (`province`)."""
    rows = pq.read_table(duck / "duplicates.parquet").to_pylist()
    got = {(r["person_id"], r["other_person_id"]): (r["method"], r["scope"]) for r in rows}
    assert got == {(6, 7): ("exact", "city"), (8, 9): ("near_id", "province")}
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)


def test_id_edits() -> None:
    """One substitution or one adjacent transposition is one edit."""
    assert id_edits(ZHANG, ZHANG) == 0
    assert id_edits(ZHANG, typo(ZHANG, 3)) == 1
    swapped = ZHANG[:14] + ZHANG[15] + ZHANG[14] + ZHANG[16:]
    assert id_edits(ZHANG, swapped) == (0 if ZHANG[14] == ZHANG[15] else 1)
    assert id_edits(ZHANG, ZHANG[:15]) == 99


def test_missing_column_is_reported(crafted: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "records"
    bad.mkdir()
    pq.write_table(pa.table({"record_id": [1], "name": ["x"]}), bad / "dibao.parquet")
    with pytest.raises(ValueError, match="'id_number'"):
        run_match(crafted[0], bad, tmp_path / "out")
    pq.write_table(
        pa.table({"record_id": ["1"], "id_number": ["x"], "name": ["x"]}), bad / "dibao.parquet"
    )
    with pytest.raises(ValueError, match="'record_id' is string"):
        run_match(crafted[0], bad, tmp_path / "out")


def test_exact_only(crafted: tuple[Path, Path], duck: Path, tmp_path: Path) -> None:
    """The exact stage alone (what the benchmark of 20M people × 50M records times): the
    same `exact` and `exact_name_differs` matches as the full run, nothing else, and no
    duplicates file; DuckDB's memory limit is a parameter."""
    result = run_match(*crafted, tmp_path, exact_only=True, memory_limit="1GB")
    got = _matches(tmp_path)
    full = {k: v for k, v in _matches(duck).items() if v[1].startswith("exact")}
    assert got == full
    methods = {"exact": 5, "exact_name_differs": 1, "id_corrected": 0, "fuzzy": 0}
    assert result["by_method"] == methods
    assert not (tmp_path / "duplicates.parquet").exists()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("pyspark")
    session = spark_session(str(tmp_path_factory.mktemp("warehouse")))
    yield session
    session.stop()


def test_duckdb_and_spark_agree(
    crafted: tuple[Path, Path], duck: Path, tmp_path: Path, spark: Any
) -> None:
    """Issue 5 item 2: DuckDB and Spark give the same matches and duplicates."""
    run_match(*crafted, tmp_path, engine="spark", session=spark)
    for name in ("matches.parquet", "duplicates.parquet"):
        assert pq.read_table(duck / name).equals(pq.read_table(tmp_path / name)), name
