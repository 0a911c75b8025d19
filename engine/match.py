"""The matching job (数据比对, issue 5 item 2): people against department records, and the
people registered more than once.

    run_match(people_file, records_dir, out_dir, engine="duckdb" | "spark")
      → out_dir/matches.parquet     person_id, dataset, record_id, method, score
        out_dir/duplicates.parquet  person_id, other_person_id, method, score, scope

Stages, per department record:

1. `exact` — a hash join on the normalised ID (engine/normalize.py, SQL on either engine).
   The names are compared squeezed (no spaces or dots) in SQL; the few pairs that still
   differ are compared again after NFKC and traditional → simplified, once per unique pair,
   and stay `exact_name_differs` (score 0.6–0.9 by name similarity) when they really differ.
2. Records with no exact match (their ID fails the check digit, or nobody has it) are
   paired with candidates blocked on what a typo leaves intact: issuing area + birth
   date + sex, or name pinyin + birth date, or issuing area + sequence number (a typo in
   the birth date), or — for an invalid ID — the ID with two adjacent characters swapped
   back (a swap across two parts changes both, so no block survives it). A record whose
   ID is invalid and one digit away (one substitution or one adjacent transposition)
   from a person's ID with the same name is `id_corrected`; otherwise a candidate born
   the same day scoring `name_weight * name_similarity + (1 - name_weight) *
   id_similarity >= fuzzy` is `fuzzy`. A namesake born another day never matches
   (different birth dates are not fuzzy, and his ID is more than one digit away).
   Only the best candidate per record is kept (highest score, then lowest person_id).

Similarities are computed in Python, once per candidate pair, in `name_similarity` and
`id_similarity` — one implementation for both engines, so DuckDB and Spark give the same
bytes. The candidate set is the small leftover; the big path is SQL only: on DuckDB the
exact pairs whose names agree go from the join to matches.parquet by COPY, and Python
sees only the pairs whose names differ and the candidates.

Duplicates: the same normalised ID in two households (`exact`, score 1), and near
duplicates — same name pinyin, same birth date, IDs one digit apart (`near_id`) — each with
the scope the two county codes share: `county`, `city` (first 4 digits) or `province`.
This module never imports Django.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.backends import Engine, connect
from engine.normalize import name_keys, normalize_name, squeeze_name, with_ids

Progress = Callable[[str, int, int | None], None]

PEOPLE_COLUMNS = {
    "person_id": "integer",
    "household_id": "integer",
    "county_code": "string",
    "id_number": "string",
    "name": "string",
}
#: Characters of a resident ID (GB 11643).
ID_LENGTH = 18
RECORD_COLUMNS = {"record_id": "integer", "id_number": "string", "name": "string"}

MATCH_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("dataset", pa.string()),
        ("record_id", pa.int64()),
        ("method", pa.string()),
        ("score", pa.float64()),
    ]
)
DUPLICATE_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("other_person_id", pa.int64()),
        ("method", pa.string()),
        ("score", pa.float64()),
        ("scope", pa.string()),
    ]
)


@dataclass(frozen=True)
class Thresholds:
    """The matcher's parameters (keyword arguments of `run_match`), with their defaults.

    fuzzy: lowest combined score of a `fuzzy` match (0.85: an exact name with an ID one
        digit away scores 0.875 and matches; an exact name two digits away scores 0.75 and
        does not — that is a namesake born the same day, not a typo).
    name_weight: weight of name similarity in the combined score (the ID has the rest).
    id_corrected: score of an `id_corrected` match.
    name_differs_floor / name_differs_ceiling: an `exact_name_differs` match scores from
        the floor (names nothing alike) to the ceiling (names alike but not equal).
    """

    fuzzy: float = 0.85
    name_weight: float = 0.5
    id_corrected: float = 0.95
    name_differs_floor: float = 0.6
    name_differs_ceiling: float = 0.9


# --- similarities, one implementation for both engines ------------------------------------


def levenshtein(a: str, b: str) -> int:
    """Edit distance in characters (code points)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _ratio(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def name_similarity(a_norm: str, b_norm: str, a_pinyin: str, b_pinyin: str) -> float:
    """The better of the character and the pinyin Levenshtein ratios: a homophone (张伟 /
    章伟) is as good as the same name, a wrong character of three is 2/3."""
    if not a_norm or not b_norm:
        return 0.0
    return max(_ratio(a_norm, b_norm), _ratio(a_pinyin, b_pinyin))


def id_edits(a: str, b: str) -> int:
    """0 for equal IDs, 1 for one substituted character or two adjacent ones swapped,
    otherwise the number of differing positions (99 when the lengths differ)."""
    if len(a) != len(b):
        return 99
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    ):
        return 1
    return len(diff)


def id_similarity(a: str, b: str) -> float:
    """1 for equal IDs, 0.75 one edit apart, 0.5 two, 0.25 three, 0 beyond."""
    return max(0.0, 1.0 - id_edits(a, b) / 4)


def scope(county_a: str | None, county_b: str | None) -> str:
    a, b = county_a or "", county_b or ""
    if a and a == b:
        return "county"
    if a[:4] and a[:4] == b[:4]:
        return "city"
    return "province"


# --- inputs ------------------------------------------------------------------------------


def _check_schema(t: ir.Table, wanted: dict[str, str], source: str) -> None:
    schema = t.schema()
    for column, kind in wanted.items():
        if column not in schema:
            raise ValueError(f"{source} has no {column!r} column")
        dtype = schema[column]
        ok = dtype.is_integer() if kind == "integer" else dtype.is_string()
        if not ok:
            raise ValueError(f"{source}: column {column!r} is {dtype}, expected {kind}")


def record_files(records_dir: Path) -> list[Path]:
    """Every DIR/<kind>.parquet, by kind; the ground truth a generator writes is not one."""
    return sorted(p for p in records_dir.glob("*.parquet") if p.stem != "truth")


def load_people(con: Any, people_file: Path) -> ir.Table:
    t = con.read_parquet(str(people_file))
    _check_schema(t, PEOPLE_COLUMNS, str(people_file))
    return t.select(
        person_id=t.person_id.cast("int64"),
        household_id=t.household_id.cast("int64"),
        county_code=t.county_code,
        id_number=t.id_number,
        name=t["name"].fill_null(""),
    )


def load_records(con: Any, files: list[Path]) -> ir.Table:
    parts = []
    for path in files:
        t = con.read_parquet(str(path))
        _check_schema(t, RECORD_COLUMNS, str(path))
        parts.append(
            t.select(
                dataset=ibis.literal(path.stem, type="string"),
                record_id=t.record_id.cast("int64"),
                id_number=t.id_number,
                name=t["name"].fill_null(""),
            )
        )
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


# --- stages ------------------------------------------------------------------------------


def exact_pairs(people: ir.Table, records: ir.Table) -> ir.Table:
    """The hash join on normalised IDs: dataset, record_id, person_id, and whether the
    squeezed names agree (the names kept only where they do not)."""
    p = people.select("person_id", "id_norm", p_name="name")
    r = records.filter(records.id_norm != "").select(
        "dataset", "record_id", "id_norm", r_name="name"
    )
    j = r.join(p, "id_norm")
    same = (squeeze_name(j.r_name) == squeeze_name(j.p_name)).fill_null(False)
    return j.select(
        "dataset",
        "record_id",
        "person_id",
        same=same,
        r_name=ibis.ifelse(same, ibis.null("string"), j.r_name),
        p_name=ibis.ifelse(same, ibis.null("string"), j.p_name),
    )


def _keys(names: list[str]) -> dict[str, tuple[str, str]]:
    k = name_keys(names).to_pydict()
    return {
        n: (norm, pin)
        for n, norm, pin in zip(k["name"], k["name_norm"], k["name_pinyin"], strict=True)
    }


def classify_exact(pairs: pa.Table, th: Thresholds) -> pa.Table:
    """Methods and scores of the exact pairs (names compared again after normalisation)."""
    differ = pairs.filter(pc.invert(pairs["same"]))
    r_names, p_names = differ["r_name"].to_pylist(), differ["p_name"].to_pylist()
    keys = _keys(r_names + p_names)
    pair_score: dict[tuple[str, str], float] = {}
    for a, b in set(zip(r_names, p_names, strict=True)):
        (an, ap), (bn, bp) = keys[a], keys[b]
        if an and an == bn:
            pair_score[(a, b)] = 1.0
        else:
            sim = name_similarity(an, bn, ap, bp)
            span = th.name_differs_ceiling - th.name_differs_floor
            pair_score[(a, b)] = th.name_differs_floor + span * sim
    # Vectorised over all the exact pairs; Python only for the few whose names differ.
    scores = np.ones(pairs.num_rows, dtype=np.float64)
    differs = np.flatnonzero(~pairs["same"].to_numpy(zero_copy_only=False))
    scores[differs] = [pair_score[ab] for ab in zip(r_names, p_names, strict=True)]
    # The only score of 1.0 after a name difference is a name equal once normalised.
    method = pc.if_else(pa.array(scores == 1.0), "exact", "exact_name_differs")
    return pa.table(
        {
            "person_id": pairs["person_id"],
            "dataset": pairs["dataset"],
            "record_id": pairs["record_id"],
            "method": pa.array(method, pa.string()),
            "score": pa.array(scores, pa.float64()),
        },
        schema=MATCH_SCHEMA,
    )


def candidate_pairs(people: ir.Table, leftover: ir.Table, keys: ir.Table) -> ir.Table:
    """Leftover records × people sharing a block: area + birth + sex, pinyin + birth, or
    area + sequence number. `keys` maps name → name_norm, name_pinyin."""
    p = people.left_join(keys, "name").select(
        "person_id", "id_norm", "area", "birth", "sex", "name_pinyin",
        p_seq=people.id_norm.substr(14, 3), p_name="name", p_id="id_norm",
    )  # fmt: skip
    r = leftover.left_join(keys, "name").select(
        "dataset", "record_id", "area", "birth", "sex", "name_pinyin", "id_valid",
        r_seq=leftover.id_norm.substr(14, 3), r_name="name", r_id="id_norm",
    )  # fmt: skip
    r = r.filter(r.area.notnull())
    pick = ("dataset", "record_id", "person_id")
    by_area = r.join(p, ["area", "birth", "sex"]).select(*pick)
    by_name = r.join(p, ["name_pinyin", "birth"]).select(*pick)
    # A pair of this block born on different days can only be `id_corrected`, which needs
    # the same normalised name, hence the same pinyin: joined on it too, the block stays
    # small (area + sequence number alone paired each typo with ~50 people per county).
    by_seq = r.join(
        p, [r.area == p.area, r.r_seq == p.p_seq, r.name_pinyin == p.name_pinyin]
    ).select(*pick)
    blocked = ibis.union(by_area, by_name, by_seq, swapped_pairs(p, r), distinct=True)
    with_r = blocked.join(r.select("dataset", "record_id", "r_id", "r_name", "id_valid"),
                          ["dataset", "record_id"])  # fmt: skip
    both = with_r.join(p.select("person_id", "p_id", "p_name"), "person_id")
    return both.select(
        "dataset", "record_id", "person_id", "r_id", "r_name", "id_valid", "p_id", "p_name"
    )


def swapped_pairs(p: ir.Table, r: ir.Table) -> ir.Table:
    """Records whose invalid ID becomes a person's ID when two adjacent characters are
    swapped back: a hash join per swap position. The blocks above miss a swap across the
    boundary of two ID parts (issuing area | birth date, birth date | sequence number): it
    changes both, so no block key stays intact. `p` and `r` as in `candidate_pairs`."""
    bad = r.filter(~r.id_valid & (r.r_id.length() == ID_LENGTH))
    swaps = [
        bad.select(
            "dataset",
            "record_id",
            swapped=bad.r_id.substr(0, i)
            + bad.r_id.substr(i + 1, 1)
            + bad.r_id.substr(i, 1)
            + bad.r_id.substr(i + 2),
        )
        for i in range(ID_LENGTH - 1)
    ]
    variants = ibis.union(*swaps, distinct=True)
    joined = variants.join(p.select("person_id", "p_id"), variants.swapped == p.p_id)
    return joined.select("dataset", "record_id", "person_id")


def classify_candidates(cands: pa.Table, th: Thresholds) -> pa.Table:
    """The best `id_corrected` or `fuzzy` match of each leftover record, if any."""
    rows = cands.to_pylist()
    keys = _keys([row["r_name"] for row in rows] + [row["p_name"] for row in rows])
    best: dict[tuple[str, int], tuple[float, int, str]] = {}
    similar: dict[tuple[str, str, str, str], float] = {}
    for row in rows:
        r_id, p_id = row["r_id"], row["p_id"]
        (rn, rp), (pn, pp) = keys[row["r_name"]], keys[row["p_name"]]
        edits = id_edits(r_id, p_id)
        if not row["id_valid"] and edits == 1 and rn and rn == pn:
            method, score = "id_corrected", th.id_corrected
        elif r_id[6:14] == p_id[6:14] and len(p_id) == 18:
            id_sim = id_similarity(r_id, p_id)
            # Most candidates are strangers of the same block, IDs digits apart: not even an
            # identical name would lift them to the threshold, so the (Python) Levenshtein
            # of their names is never computed. Same arithmetic, name similarity 1.0.
            if th.name_weight * 1.0 + (1 - th.name_weight) * id_sim < th.fuzzy:
                continue
            names = (rn, pn, rp, pp)
            name_sim = similar.get(names)
            if name_sim is None:
                name_sim = similar[names] = name_similarity(rn, pn, rp, pp)
            score = th.name_weight * name_sim + (1 - th.name_weight) * id_sim
            if score < th.fuzzy:
                continue
            method = "fuzzy"
        else:
            continue
        key = (row["dataset"], row["record_id"])
        candidate = (score, row["person_id"], method)
        held = best.get(key)
        if held is None or (score, -row["person_id"]) > (held[0], -held[1]):
            best[key] = candidate
    items = sorted(best.items())
    return pa.table(
        {
            "person_id": pa.array([v[1] for _, v in items], pa.int64()),
            "dataset": pa.array([k[0] for k, _ in items], pa.string()),
            "record_id": pa.array([k[1] for k, _ in items], pa.int64()),
            "method": pa.array([v[2] for _, v in items], pa.string()),
            "score": pa.array([v[0] for _, v in items], pa.float64()),
        },
        schema=MATCH_SCHEMA,
    )


def duplicate_pairs(people: ir.Table) -> ir.Table:
    """People sharing a normalised ID in different households."""
    a = people.filter(people.id_norm != "").select(
        "id_norm", person_id="person_id", hh="household_id", county="county_code"
    )
    b = a.select("id_norm", other_person_id="person_id", other_hh="hh", other_county="county")
    j = a.join(b, "id_norm")
    j = j.filter((j.person_id < j.other_person_id) & (j.hh != j.other_hh))
    return j.select("person_id", "other_person_id", "county", "other_county")


def near_duplicate_candidates(people: ir.Table, keys: ir.Table) -> ir.Table:
    """People in different households with the same name pinyin and birth date, and
    different IDs: the one-digit test is `classify_near_duplicates`'s."""
    p = people.filter(people.birth.notnull()).left_join(keys, "name")
    a = p.select(
        "birth", "name_pinyin", "person_id", "id_norm", "name",
        hh="household_id", county="county_code",
    )  # fmt: skip
    b = a.select(
        "birth", "name_pinyin", other_person_id="person_id", other_id="id_norm",
        other_name="name", other_hh="hh", other_county="county",
    )  # fmt: skip
    j = a.join(b, ["birth", "name_pinyin"])
    j = j.filter(
        (j.person_id < j.other_person_id) & (j.hh != j.other_hh) & (j.id_norm != j.other_id)
    )
    return j.select("person_id", "other_person_id", "id_norm", "other_id", "county",
                    "other_county")  # fmt: skip


def classify_duplicates(exact: pa.Table, near: pa.Table, th: Thresholds) -> pa.Table:
    rows: list[tuple[int, int, str, float, str]] = []
    for row in exact.to_pylist():
        rows.append(
            (row["person_id"], row["other_person_id"], "exact", 1.0,
             scope(row["county"], row["other_county"]))
        )  # fmt: skip
    for row in near.to_pylist():
        if id_edits(row["id_norm"], row["other_id"]) != 1:
            continue
        # Same pinyin is a name similarity of 1; the ID is one digit away.
        score = th.name_weight + (1 - th.name_weight) * id_similarity(
            row["id_norm"], row["other_id"]
        )
        rows.append(
            (row["person_id"], row["other_person_id"], "near_id", score,
             scope(row["county"], row["other_county"]))
        )  # fmt: skip
    rows.sort()
    return pa.table(
        {
            "person_id": pa.array([r[0] for r in rows], pa.int64()),
            "other_person_id": pa.array([r[1] for r in rows], pa.int64()),
            "method": pa.array([r[2] for r in rows], pa.string()),
            "score": pa.array([r[3] for r in rows], pa.float64()),
            "scope": pa.array([r[4] for r in rows], pa.string()),
        },
        schema=DUPLICATE_SCHEMA,
    )


def _name_table(names: pa.Array) -> ir.Table:
    # A memtable: each engine loads the (unique-name) mapping itself, DuckDB or Spark.
    return ibis.memtable(name_keys(names.to_pylist()))


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.part")
    try:
        pq.write_table(table, tmp, compression="zstd")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _copy_parquet(con: Any, table: ir.Table, path: Path) -> None:
    """Write with DuckDB's own parallel Parquet writer (COPY), as engine/score.py does: the
    tens of millions of exact pairs never pass through Python.

    DuckDB marks a column REQUIRED when its statistics show no null; the `CASE` (an
    identity) keeps every column optional, as pyarrow writes them on Spark's path. Sorted
    inside, before the CASE; PRESERVE_ORDER makes the writer keep the order.
    """
    names = ", ".join(
        f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} END AS {q}"
        for q in ('"' + c.replace('"', '""') + '"' for c in table.columns)
    )
    tmp = path.with_name(f".{path.name}.part")
    try:
        con.raw_sql(
            f"COPY (SELECT {names} FROM ({con.compile(table)})) TO {_sql_text(str(tmp))} "
            "(FORMAT parquet, COMPRESSION zstd, PRESERVE_ORDER true)"
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _empty_matches() -> pa.Table:
    return MATCH_SCHEMA.empty_table()


def run_match(
    people_file: Path | str,
    records_dir: Path | str,
    out_dir: Path | str,
    engine: Engine = "duckdb",
    progress: Progress | None = None,
    *,
    session: Any = None,
    exact_only: bool = False,
    memory_limit: str | None = None,
    **thresholds: float,
) -> dict[str, Any]:
    """Match `people_file` against every `records_dir/<kind>.parquet`; write
    `out_dir/matches.parquet` and `out_dir/duplicates.parquet` (each under a temporary name,
    then renamed). Keyword `thresholds` override `Thresholds`' defaults.

    `exact_only`: stage 1 only (`exact` and `exact_name_differs`), and no duplicates file —
    the hash join the benchmark times. `memory_limit` (DuckDB, e.g. "12GB") caps DuckDB's
    memory; it spills to disk beyond it. DuckDB's threads stay at its default (all cores).

    Returns counts (matches by method, duplicates) and seconds.
    """
    started = time.monotonic()
    known = {f.name for f in fields(Thresholds)}
    unknown = set(thresholds) - known
    if unknown:
        raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
    th = Thresholds(**thresholds)
    people_file, records_dir, out = Path(people_file), Path(records_dir), Path(out_dir)
    if not people_file.is_file():
        raise FileNotFoundError(f"{people_file} does not exist")
    files = record_files(records_dir)
    if not files:
        raise FileNotFoundError(f"{records_dir} has no department records (*.parquet)")
    steps = 2 if exact_only else 4

    def step(phase: str, done: int) -> None:
        if progress:
            progress(phase, done, steps)

    step("Exact matching", 0)
    con = connect(engine, session)
    if engine == "duckdb" and memory_limit:
        con.raw_sql(f"SET memory_limit = {_sql_text(memory_limit)}")
    people = with_ids(load_people(con, people_file))
    records = with_ids(load_records(con, files))
    if engine == "spark":
        # Spark inlines the ID expression into every join of the plan; materialised once,
        # the plans stay small enough for the driver.
        people, records = people.cache(), records.cache()
    # Materialised (a temporary table on DuckDB): written, classified and anti-joined.
    exact_raw = exact_pairs(people, records).cache()
    # Python sees only the pairs whose squeezed names differ (a few per cent).
    differ = exact_raw.filter(~exact_raw.same).to_pyarrow()
    exact_differ = classify_exact(differ, th)

    fuzzy = _empty_matches()
    duplicates = DUPLICATE_SCHEMA.empty_table()
    if not exact_only:
        step("Fuzzy matching", 1)
        matched = exact_raw.select("dataset", "record_id")
        leftover = records.anti_join(matched, ["dataset", "record_id"])
        leftover = leftover.filter(leftover.birth.notnull()).cache()
        # One name mapping for both stages: names are keyed independently of each other,
        # so a larger mapping changes nothing, and each unique name is keyed once.
        names = pa.concat_arrays(
            [
                leftover.select("name").distinct().to_pyarrow()["name"].combine_chunks(),
                people.select("name").distinct().to_pyarrow()["name"].combine_chunks(),
            ]
        )
        keys = _name_table(names)
        cands = candidate_pairs(people, leftover, keys).to_pyarrow()
        fuzzy = classify_candidates(cands, th)

        step("Duplicates", 2)
        dup_exact = duplicate_pairs(people).to_pyarrow()
        dup_near = near_duplicate_candidates(people, keys).to_pyarrow()
        duplicates = classify_duplicates(dup_exact, dup_near, th)

    out.mkdir(parents=True, exist_ok=True)
    step("Writing", steps - 1)
    same = exact_raw.filter(exact_raw.same).select(
        "person_id",
        "dataset",
        "record_id",
        method=ibis.literal("exact", type="string"),
        score=ibis.literal(1.0, type="float64"),
    )
    found = pa.concat_tables([exact_differ, fuzzy])
    order = [("dataset", "ascending"), ("record_id", "ascending"), ("person_id", "ascending")]
    if engine == "duckdb":
        few = con.create_table("_match_found", found, temp=True, overwrite=True)
        matches_expr = ibis.union(same, few.select(*MATCH_SCHEMA.names)).order_by(
            "dataset", "record_id", "person_id"
        )
        _copy_parquet(con, matches_expr, out / "matches.parquet")
        counted = con.raw_sql(
            "SELECT method, count(*) FROM read_parquet("
            f"{_sql_text(str(out / 'matches.parquet'))}) GROUP BY method"
        ).fetchall()
        by_count = {str(m): int(n) for m, n in counted}
    else:
        matches = pa.concat_tables([same.to_pyarrow().cast(MATCH_SCHEMA), found]).sort_by(order)
        _write(matches, out / "matches.parquet")
        by_count = {
            m: int(pc.sum(pc.equal(matches["method"], m)).as_py() or 0)
            for m in ("exact", "exact_name_differs", "id_corrected", "fuzzy")
        }
    if not exact_only:
        _write(duplicates, out / "duplicates.parquet")
    step("Written", steps)
    by_method = {
        m: by_count.get(m, 0) for m in ("exact", "exact_name_differs", "id_corrected", "fuzzy")
    }
    return {
        "matches": sum(by_method.values()),
        "by_method": by_method,
        "duplicates": duplicates.num_rows,
        "records": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
        "seconds": time.monotonic() - started,
    }


__all__ = [
    "Thresholds",
    "id_similarity",
    "name_similarity",
    "normalize_name",
    "run_match",
]
