"""Synthetic department records (engine/departments.py): who has one, errors, truth.

Sources: issue 5 item 3 (`fupin generate … --departments`: records with realistic errors and a
ground truth), DOMAIN.md §3 (cross-department checks: 四类人员 among the better-off, 低保 /
特困 / disabled / seriously ill as 应纳尽纳 candidates), GB 11643 (resident IDs).
"""

from __future__ import annotations

import unicodedata
from io import StringIO
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine import departments as dep
from engine import synth

HOUSEHOLDS = 3000
SEED = 7


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dep")
    synth.generate(path, HOUSEHOLDS, SEED, chunk=1000)
    dep.generate_departments(path)
    return path


def _all(path: Path) -> dict[str, pa.Table]:
    d = path / "departments" if (path / "departments").exists() else path
    return {kind: pq.read_table(d / f"{kind}.parquet") for kind in (*dep.KINDS, "truth")}


def _joined(path: Path) -> list[dict]:
    """Every record with its truth and, for registry people, their true ID and name."""
    tables = _all(path)
    members = pq.read_table(path / "members.parquet", columns=["person_id", "id_number", "name"])
    people = {
        pid: (i, n)
        for pid, i, n in zip(
            members["person_id"].to_pylist(),
            members["id_number"].to_pylist(),
            members["name"].to_pylist(),
            strict=True,
        )
    }
    truth = {
        (d, r): (p, e)
        for d, r, p, e in zip(
            *(tables["truth"][c].to_pylist() for c in tables["truth"].column_names), strict=True
        )
    }
    rows = []
    for kind in dep.KINDS:
        t = tables[kind]
        for rid, idn, name in zip(
            t["record_id"].to_pylist(),
            t["id_number"].to_pylist(),
            t["name"].to_pylist(),
            strict=True,
        ):
            person, error = truth[(kind, rid)]
            true_id, true_name = people.get(person, (None, None)) if person else (None, None)
            rows.append(
                {
                    "kind": kind,
                    "id": idn,
                    "name": name,
                    "person": person,
                    "error": error,
                    "true_id": true_id,
                    "true_name": true_name,
                }
            )
    return rows


def _valid(id_number: str) -> bool:
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    return str(synth.check_digits(np.array([int(id_number[:17])]))[0]) == id_number[17]


def test_same_seed_same_records_other_seed_other_records(province: Path, tmp_path: Path) -> None:
    """Issue 5 item 3: the generator is deterministic by seed."""
    dep.generate_departments(province, tmp_path / "again")
    dep.generate_departments(province, tmp_path / "other", seed=SEED + 1)
    first, again, other = _all(province), _all(tmp_path / "again"), _all(tmp_path / "other")
    for kind in (*dep.KINDS, "truth"):
        assert first[kind].equals(again[kind]), kind
    assert not first["vehicles"].equals(other["vehicles"])


def test_chunking_does_not_change_the_records(province: Path, tmp_path: Path) -> None:
    """Memory stays flat by reading people in chunks; the chunk size changes nothing."""
    dep.generate_departments(province, tmp_path / "small", chunk=777)
    whole, small = _all(province), _all(tmp_path / "small")
    for kind in (*dep.KINDS, "truth"):
        a = whole[kind].sort_by(
            [("record_id", "ascending")]
            if kind != "truth"
            else [("dataset", "ascending"), ("record_id", "ascending")]
        )
        b = small[kind].sort_by(
            [("record_id", "ascending")]
            if kind != "truth"
            else [("dataset", "ascending"), ("record_id", "ascending")]
        )
        assert a.equals(b), kind


def test_exact_number_of_records_and_columns(province: Path, tmp_path: Path) -> None:
    """The benchmark asks for an exact number of records; every kind has its agreed columns
    (issue 5: record_id, id_number, name plus the kind's own)."""
    people = pq.ParquetFile(province / "members.parquet").metadata.num_rows
    tables = _all(province)
    assert sum(tables[k].num_rows for k in dep.KINDS) == round(dep.RECORDS_PER_PERSON * people)
    assert tables["truth"].num_rows == round(dep.RECORDS_PER_PERSON * people)
    for kind in dep.KINDS:
        t = tables[kind]
        assert t.column_names == ["record_id", "id_number", "name", *dep.KIND_COLUMNS[kind]]
        assert pc.count_distinct(t["record_id"]).as_py() == t.num_rows
    result = dep.generate_departments(province, tmp_path / "n", records=5001)
    assert result.total == 5001
    assert (
        sum(pq.ParquetFile(tmp_path / "n" / f"{k}.parquet").metadata.num_rows for k in dep.KINDS)
        == 5001
    )
    # So few records that the registry's people alone would fill them: thinned, not cut off.
    few = dep.generate_departments(province, tmp_path / "few", records=300)
    assert few.total == 300
    assert all(few.records[k] - few.insiders[k] >= 0 for k in dep.KINDS)


def test_clean_records_carry_the_persons_id_and_name(province: Path) -> None:
    """A record without error has the person's valid 18-digit ID and name (GB 11643)."""
    rows = [r for r in _joined(province) if r["error"] == "none" and r["person"] is not None]
    assert len(rows) > 1000
    for r in rows:
        assert r["id"] == r["true_id"] and r["name"] == r["true_name"]
        assert _valid(r["id"])


def test_outsiders_have_valid_ids_no_registry_person_holds(province: Path) -> None:
    """Records of other residents of the province: fresh valid IDs, not in the people file."""
    members = set(pq.read_table(province / "members.parquet")["id_number"].to_pylist())
    rows = [r for r in _joined(province) if r["person"] is None]
    clean = [r for r in rows if r["error"] == "none"]
    assert len(clean) > 10_000
    assert all(_valid(r["id"]) and r["id"] not in members for r in clean)
    assert len({r["id"] for r in clean}) == len(clean)
    assert all(r["id"][:2] == "45" for r in clean)  # the province's issuing areas


def _one_char_swapped(a: str, b: str, table: dict[str, str]) -> bool:
    diff = [i for i in range(len(a)) if a[i] != b[i]] if len(a) == len(b) else []
    return len(diff) == 1 and b[diff[0]] in table.get(a[diff[0]], "")


def test_every_error_appears_and_is_what_the_truth_says(province: Path) -> None:
    """Issue 5 item 3: typos, transpositions, 15-digit IDs, full-width digits, lower-case x,
    spaces, name typos, homophones, traditional characters, spaced or dotted names — each
    present and each exactly the damage the truth file names."""
    rows = [r for r in _joined(province) if r["person"] is not None]
    seen = {r["error"] for r in rows}
    assert seen == set(dep.ERRORS)
    for r in rows:
        i, t, n, tn, e = r["id"], r["true_id"], r["name"], r["true_name"], r["error"]
        if e in ("id_typo", "id_transposed", "id15", "fullwidth", "lower_x", "spaces"):
            assert n == tn
            assert i != t
        if e == "id_typo":
            assert len(i) == 18 and sum(a != b for a, b in zip(i, t, strict=True)) == 1
            assert not _valid(i)
        elif e == "id_transposed":
            d = [k for k in range(18) if i[k] != t[k]]
            assert len(d) == 2 and d[1] == d[0] + 1 and i[d[0]] == t[d[1]] and i[d[1]] == t[d[0]]
            assert not _valid(i)
        elif e == "id15":
            assert i == t[:6] + t[8:17] and t[6:8] == "19"
        elif e == "fullwidth":
            assert unicodedata.normalize("NFKC", i) == t and not i.isascii()
        elif e == "lower_x":
            assert i == t[:-1] + "x" and t.endswith("X")
        elif e == "spaces":
            assert i.replace(" ", "") == t and " " in i
        elif e in ("name_typo", "homophone", "traditional", "name_spaces"):
            assert i == t
            assert n != tn
        if e == "name_typo":
            assert _one_char_swapped(tn, n, dep.LOOKALIKES)
        elif e == "homophone":
            assert _one_char_swapped(tn, n, dep.HOMOPHONES)
        elif e == "traditional":
            assert n == tn.translate(str.maketrans(dep.TRADITIONAL))
        elif e == "name_spaces":
            squeeze = {ord(c): None for c in " \u3000·•・."}
            assert n.translate(squeeze) == tn.translate(squeeze)


def test_error_rate_is_the_documented_share(province: Path) -> None:
    """Each kind's share of damaged records is its ERROR_RATE (3–5 %), within sampling noise."""
    truth = pq.read_table(province / "departments" / "truth.parquet")
    for kind in dep.KINDS:
        t = truth.filter(pc.equal(truth["dataset"], kind))
        n = t.num_rows
        bad = pc.sum(pc.not_equal(t["error"], "none")).as_py() or 0
        rate = dep.ERROR_RATE[kind]
        assert 0.03 <= rate <= 0.05
        assert abs(bad - rate * n) <= 4 * (rate * n) ** 0.5 + 2, kind


def _insiders(province: Path, kind: str) -> set[int]:
    truth = pq.read_table(province / "departments" / "truth.parquet")
    t = truth.filter(pc.and_(pc.equal(truth["dataset"], kind), pc.is_valid(truth["person_id"])))
    return set(t["person_id"].to_pylist())


def test_who_has_which_record_is_plausible(province: Path) -> None:
    """DOMAIN.md §3: cars, flats and companies among the better-off (the 四类人员 the
    checks are for); deaths among the old; 低保 / 特困 / disability / serious-illness records
    mostly of those the registry marks so; students of school age."""
    members = pq.read_table(province / "members.parquet").to_pydict()
    truth = pq.read_table(province / "truth.parquet")
    wealth_of = dict(
        zip(truth["household_id"].to_pylist(), truth["wealth"].to_pylist(), strict=True)
    )
    pid = np.array(members["person_id"])
    wealth = np.array([wealth_of[h] for h in members["household_id"]])
    age = synth.SURVEY_DATE.astype("datetime64[Y]").astype(int) - np.array(
        [d.year - 1970 for d in members["birth_date"]]
    )
    adult = age >= 18
    poorest = adult & (wealth <= np.quantile(wealth[adult], 0.2))
    richest = adult & (wealth >= np.quantile(wealth[adult], 0.8))

    def share(kind: str, who: np.ndarray) -> float:
        has = np.isin(pid, list(_insiders(province, kind)))
        return float(has[who].mean())

    for kind in ("vehicles", "commercial_housing", "business_registrations", "public_payroll"):
        assert share(kind, richest) > 3 * share(kind, poorest), kind
    assert share("dibao", poorest) > 3 * share("dibao", richest)
    assert share("deaths", age >= 70) > 10 * share("deaths", (age >= 18) & (age < 50))
    for kind, flag in (
        ("dibao", "is_dibao"),
        ("tekun", "is_wubao"),
        ("disability_certificates", "is_disabled"),
        ("serious_illness", "has_serious_illness"),
    ):
        marked = np.array(members[flag])
        assert share(kind, marked) > 0.6 and share(kind, ~marked) < 0.1, kind
    student_ages = age[np.isin(pid, list(_insiders(province, "students")))]
    assert student_ages.min() >= 5 and student_ages.max() <= 25


def test_name_tables_are_what_they_say() -> None:
    """Homophones share their pinyin (tone aside); traditional forms convert back to the
    simplified character (OpenCC); look-alikes are other characters."""
    from opencc import OpenCC
    from pypinyin import Style, pinyin

    def sounds(c: str) -> set[str]:
        return set(pinyin(c, style=Style.NORMAL, heteronym=True)[0])

    for char, options in dep.HOMOPHONES.items():
        for other in options:
            assert sounds(char) & sounds(other), (char, other)
    t2s = OpenCC("t2s")
    for simple, traditional in dep.TRADITIONAL.items():
        assert t2s.convert(traditional) == simple, (simple, traditional)
    assert all(c not in options for c, options in dep.LOOKALIKES.items())


def test_generate_command_writes_departments(tmp_path: Path) -> None:
    """`fupin generate … --departments` (issue 5 item 3) writes every kind and the truth."""
    from django.core.management import call_command

    out = StringIO()
    call_command(
        "generate", households=40, seed=3, out=tmp_path, departments=True, records=400, stdout=out
    )
    names = {p.name for p in (tmp_path / "departments").iterdir()}
    assert names == {f"{k}.parquet" for k in dep.KINDS} | {"truth.parquet"}
    assert pq.read_table(tmp_path / "departments" / "truth.parquet").num_rows == 400
    assert "400" in out.getvalue()
