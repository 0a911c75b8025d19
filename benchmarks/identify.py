"""Benchmark: score + cutoff a generated province (issue 4 item 6).

`run(households, workdir)` generates a province with `engine.synth.generate` (not timed
against the target) and measures, in the same run and on the same files:

1. fupin on DuckDB: `engine.score.run_score` with the default scorecard, then
   `engine.cutoff.run_cutoff` with the generated `quotas.csv`;
2. the floor: the same computation as hand-written DuckDB SQL — one SELECT generated from
   the same parsed scorecard (`score_sql`, mirroring engine/score.py) written to Parquet,
   then `benchmarks.identify_sql.cutoff_sql` — checked equal to fupin's result;
3. a per-household Python loop of the kind PMT modules in peer systems run (rows as dicts,
   each item scored in Python, sort per county, cut in Python) on a 100k sample,
   extrapolated linearly to the full size;
4. fupin on Spark local mode on a 200k sample, with and without the session start.

Run alone: `uv run python -m benchmarks --only identify` (or --quick).
"""

from __future__ import annotations

import csv
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.identify_sql import cutoff_sql
from engine import synth
from engine.cutoff import run_cutoff
from engine.score import MEMBER_COLUMNS, run_score
from engine.scorecard import Item, Scorecard, load_scorecard

TITLE = "Identify: score + cutoff a province"
TARGET = "4.88M households scored and cut in ≤ 15 s; fupin within 1.5× of the hand-written SQL"

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "engine" / "scorecards" / "guangxi-2015-illustrative.yaml"
SEED = 2017
PY_SAMPLE = 100_000
SPARK_SAMPLE = 200_000

# The per-household facts engine.score.member_facts derives from members.parquet, as SQL
# aggregates with the same meaning (a null counts as false).
MEMBER_FACTS_SQL = {
    "labour_people": "count_if(labour_skill IN ('ordinary', 'skilled'))",
    "skilled_labour_people": "count_if(labour_skill = 'skilled')",
    "lost_labour_people": "count_if(labour_skill = 'lost')",
    "adults_junior_or_above": "count_if(education IN ('junior', 'senior', 'college'))",
    "illiterate_adults": "count_if(education = 'illiterate')",
    "dropouts": "count_if(dropout_reason <> '')",
    "college_students": "count_if(schooling IN ('higher_vocational', 'college'))",
    "mandarin_speakers": "count_if(speaks_mandarin)",
    "chronic_ill_people": "count_if(has_chronic_illness)",
    "serious_ill_people": "count_if(has_serious_illness)",
    "disabled_people": "count_if(is_disabled)",
    "severe_disabled_people": "count_if(is_disabled AND disability_grade <= 2)",
    "migrant_people": "count_if(migrant_place <> '')",
    "migrant_months": "coalesce(sum(CAST(migrant_months AS BIGINT)), 0)",
    "medical_insured_people": "count_if(has_medical_insurance)",
    "pension_insured_people": "count_if(has_pension)",
    "serious_illness_insured_people": "count_if(has_serious_illness_insurance)",
    "commercial_insured_people": "count_if(has_commercial_insurance)",
}

NUMERIC: tuple[str, ...] = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
NUMERIC += tuple(f"U{t}" for t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value)) if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------
# The floor: hand-written SQL generated from the parsed scorecard


def score_sql(card: Scorecard, households: str, members: str | None, types: dict[str, str]) -> str:
    """One SELECT scoring every household as engine/score.py does (same columns, same order).

    `types`: the DuckDB type of each column of the households file plus the member facts.
    """

    def value(item: Item) -> str:
        col = f"h.{_q(item.column)}"
        if item.per_capita:
            return (
                "(CASE WHEN CAST(h.people AS DOUBLE) > 0 "
                f"THEN CAST({col} AS DOUBLE) / CAST(h.people AS DOUBLE) END)"
            )
        ranged = item.veto is not None and item.veto.equals is None and not item.veto.codes
        if item.kind == "bands" or ranged:
            return f"CAST({col} AS DOUBLE)"
        return col

    def key(item: Item) -> str:
        numeric = types[item.column].split("(")[0] in NUMERIC
        return f"CAST({value(item)} AS VARCHAR)" if numeric else value(item)

    def in_range(x: str, lo: float | None, hi: float | None) -> str:
        conds = ([f"{x} >= {_lit(float(lo))}"] if lo is not None else []) + (
            [f"{x} < {_lit(float(hi))}"] if hi is not None else []
        )
        return " AND ".join(conds)

    def points(item: Item) -> str:
        if item.column not in types:  # optional and absent
            return str(item.default)
        x = value(item)
        if item.kind == "boolean":
            return f"(CASE WHEN coalesce({x}, false) THEN {item.if_true} ELSE {item.if_false} END)"
        if item.kind == "bands":
            whens = [f"WHEN {in_range(x, b.min, b.max)} THEN {b.points}" for b in item.bands]
        else:
            k = key(item)
            whens = [f"WHEN {k} = {_lit(c)} THEN {p}" for c, p in item.mapping]
        return f"(CASE {' '.join(whens)} ELSE {item.default} END)"

    def veto(item: Item) -> str:
        v = item.veto
        assert v is not None
        if item.column not in types:
            return "false"
        x = value(item)
        if v.equals is not None:
            cond = f"coalesce({x}, {_lit(not v.equals)}) = {_lit(v.equals)}"
        elif v.codes:
            cond = f"{key(item)} IN ({', '.join(map(_lit, v.codes))})"
        else:
            cond = in_range(x, v.min, v.max)
        return f"coalesce({cond}, false)"

    pts = [points(i) for i in card.scored_items]
    vetoes = [veto(i) for i in card.veto_items]
    cols = [
        "h.household_id",
        "h.county_code",
        "h.people",
        f"CAST({' + '.join(pts) or '0'} AS INTEGER) AS score",
        f"({' OR '.join(vetoes) or 'false'}) AS vetoed",
        *[
            f"CAST({p} AS INTEGER) AS {_q('p_' + i.id)}"
            for i, p in zip(card.scored_items, pts, strict=True)
        ],
        *[f"{v} AS {_q('v_' + i.id)}" for i, v in zip(card.veto_items, vetoes, strict=True)],
    ]
    source = f"read_parquet({_lit(households)})"
    if members:
        facts = ", ".join(f"{sql} AS {name}" for name, sql in MEMBER_FACTS_SQL.items())
        # A household without members gets 0 for every fact, as in with_member_facts.
        fills = ", ".join(f"coalesce(f.{n}, 0) AS {n}" for n in MEMBER_FACTS_SQL)
        source = (
            f"(SELECT h0.*, {fills} FROM {source} h0 LEFT JOIN "
            f"(SELECT household_id, {facts} FROM read_parquet({_lit(members)}) "
            "GROUP BY household_id) f USING (household_id))"
        )
    return f"SELECT {', '.join(cols)} FROM {source} h ORDER BY h.household_id"


def floor(data: Path, out: Path, card: Scorecard) -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """Score with `score_sql` into Parquet, then `cutoff_sql`; outputs written like fupin's."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    started = time.monotonic()
    households, members = str(data / "households.parquet"), str(data / "members.parquet")
    desc = con.sql(f"DESCRIBE SELECT * FROM read_parquet({_lit(households)})").fetchall()
    types = {row[0]: str(row[1]) for row in desc}
    for fact in MEMBER_FACTS_SQL:
        types.setdefault(fact, "BIGINT")
    sql = score_sql(card, households, members, types)
    scores = out / "scores.parquet"
    con.execute(f"COPY ({sql}) TO {_lit(str(scores))} (FORMAT parquet, COMPRESSION zstd)")
    scored = time.monotonic()
    house, counties = cutoff_sql(scores, data / "quotas.csv", con)
    pq.write_table(house, out / "households.parquet")
    pacsv.write_csv(counties, out / "counties.csv")
    done = time.monotonic()
    return house, counties, {"score": scored - started, "cutoff": done - scored}


# ---------------------------------------------------------------------------------------------
# The per-household Python loop of peer systems' PMT modules


def _in(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo) and (hi is None or x < hi)


def _py_value(row: dict[str, Any], item: Item) -> Any:
    v = row.get(item.column)
    if item.per_capita:
        people = row["people"]
        return float(v) / people if v is not None and people else None
    ranged = item.veto is not None and item.veto.equals is None and not item.veto.codes
    if v is not None and (item.kind == "bands" or ranged):
        return float(v)
    return v


def _py_points(row: dict[str, Any], item: Item) -> int:
    if item.column not in row:
        return item.default
    x = _py_value(row, item)
    if item.kind == "boolean":
        return item.if_true if x else item.if_false
    if x is None:
        return item.default
    if item.kind == "bands":
        for b in item.bands:
            if _in(x, b.min, b.max):
                return b.points
        return item.default
    k = x if isinstance(x, str) else str(x)
    for code, p in item.mapping:
        if k == code:
            return p
    return item.default


def _py_veto(row: dict[str, Any], item: Item) -> bool:
    v = item.veto
    assert v is not None
    if item.column not in row:
        return False
    x = _py_value(row, item)
    if v.equals is not None:
        # A null never vetoes (engine/score.py fills it with the non-vetoing value).
        return x is not None and bool(x) == v.equals
    if x is None:
        return False
    if v.codes:
        return (x if isinstance(x, str) else str(x)) in v.codes
    return _in(x, v.min, v.max)


def python_loop(
    households: pa.Table, members: pa.Table, quotas: dict[str, int], card: Scorecard
) -> tuple[dict[int, int], set[int]]:
    """Scores by household_id and the selected household_ids, one row at a time."""
    facts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEMBER_FACTS_SQL, 0))
    for m in members.select(list(MEMBER_COLUMNS)).to_pylist():
        f = facts[m["household_id"]]
        skill, edu = m["labour_skill"], m["education"]
        f["labour_people"] += skill in ("ordinary", "skilled")
        f["skilled_labour_people"] += skill == "skilled"
        f["lost_labour_people"] += skill == "lost"
        f["adults_junior_or_above"] += edu in ("junior", "senior", "college")
        f["illiterate_adults"] += edu == "illiterate"
        f["dropouts"] += bool(m["dropout_reason"])
        f["college_students"] += m["schooling"] in ("higher_vocational", "college")
        f["mandarin_speakers"] += bool(m["speaks_mandarin"])
        f["chronic_ill_people"] += bool(m["has_chronic_illness"])
        f["serious_ill_people"] += bool(m["has_serious_illness"])
        f["disabled_people"] += bool(m["is_disabled"])
        grade = m["disability_grade"]
        f["severe_disabled_people"] += bool(m["is_disabled"]) and grade is not None and grade <= 2
        f["migrant_people"] += bool(m["migrant_place"])
        f["migrant_months"] += m["migrant_months"] or 0
        f["medical_insured_people"] += bool(m["has_medical_insurance"])
        f["pension_insured_people"] += bool(m["has_pension"])
        f["serious_illness_insured_people"] += bool(m["has_serious_illness_insurance"])
        f["commercial_insured_people"] += bool(m["has_commercial_insurance"])
    scores: dict[int, int] = {}
    by_county: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for row in households.to_pylist():
        row.update(facts[row["household_id"]])
        total = sum(_py_points(row, i) for i in card.scored_items)
        scores[row["household_id"]] = total
        if not any(_py_veto(row, i) for i in card.veto_items):
            by_county[row["county_code"]].append((total, row["household_id"], row["people"]))
    selected: set[int] = set()
    for county, rows in by_county.items():
        quota = quotas[county]
        if quota == 0:
            continue
        rows.sort()
        cumulative, line = 0, rows[-1][0]
        for total, _hid, people in rows:
            cumulative += people
            if cumulative >= quota:
                line = total
                break
        selected.update(hid for total, hid, _p in rows if total <= line)
    return scores, selected


# ---------------------------------------------------------------------------------------------
# Samples and the run


def sample(data: Path, out: Path, n: int) -> dict[str, int]:
    """The first `n` households (and their members) with quotas scaled per county by the
    sample's share of the county's people, so that the cut is of the same kind."""
    out.mkdir(parents=True, exist_ok=True)
    full = pq.read_table(data / "households.parquet")
    part = full.slice(0, n)
    pq.write_table(part, out / "households.parquet")
    members = pq.read_table(data / "members.parquet")
    ids = part["household_id"]
    members = members.filter(pc.is_in(members["household_id"], value_set=ids))
    pq.write_table(members, out / "members.parquet")
    people_full = {
        r["county_code"]: r["people_sum"]
        for r in full.group_by("county_code").aggregate([("people", "sum")]).to_pylist()
    }
    people_part = {
        r["county_code"]: r["people_sum"]
        for r in part.group_by("county_code").aggregate([("people", "sum")]).to_pylist()
    }
    with open(data / "quotas.csv", encoding="utf-8") as fh:
        quotas = {r["county_code"]: int(r["quota_people"]) for r in csv.DictReader(fh)}
    scaled = {c: round(quotas[c] * people_part[c] / people_full[c]) for c in sorted(people_part)}
    with open(out / "quotas.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["county_code", "quota_people"])
        w.writerows(scaled.items())
    return scaled


def _s(seconds: float) -> float:
    return round(seconds, 2)


def run(households: int, workdir: Path) -> dict[str, Any]:
    data = workdir / "province"
    started = time.monotonic()
    gen = synth.generate(data, households, SEED)
    gen_seconds = time.monotonic() - started
    card = load_scorecard(CARD)
    quotas_csv = data / "quotas.csv"

    # 1. fupin on DuckDB.
    t0 = time.monotonic()
    run_score(data, CARD, workdir / "fupin" / "scores.parquet")
    t1 = time.monotonic()
    f_house, f_counties = run_cutoff(
        workdir / "fupin" / "scores.parquet", quotas_csv, workdir / "fupin"
    )
    t2 = time.monotonic()
    fupin = {"score": t1 - t0, "cutoff": t2 - t1, "total": t2 - t0}

    # 2. The hand-written floor, on the same files.
    s_house, s_counties, fl = floor(data, workdir / "floor", card)
    fl["total"] = fl["score"] + fl["cutoff"]
    f_sel = int(pc.sum(f_house["selected"]).as_py() or 0)
    s_sel = int(pc.sum(s_house["selected"]).as_py() or 0)
    f_lines = dict(
        zip(f_counties["county_code"].to_pylist(), f_counties["line"].to_pylist(), strict=True)
    )
    s_lines = dict(
        zip(s_counties["county_code"].to_pylist(), s_counties["line"].to_pylist(), strict=True)
    )
    f_scores = pq.read_table(
        workdir / "fupin" / "scores.parquet", columns=["household_id", "score"]
    )
    s_scores = pq.read_table(
        workdir / "floor" / "scores.parquet", columns=["household_id", "score"]
    )
    same = (
        f_sel == s_sel
        and f_lines == s_lines
        and f_scores.equals(s_scores.cast(f_scores.schema))
        and f_house.select(["household_id", "selected"]).equals(
            s_house.select(["household_id", "selected"])
        )
    )
    ratio = fupin["total"] / fl["total"]

    # 3. The per-household Python loop on a sample, extrapolated linearly.
    py_n = min(PY_SAMPLE, households)
    py_quotas = sample(data, workdir / "py-sample", py_n)
    py_house = pq.read_table(workdir / "py-sample" / "households.parquet")
    py_members = pq.read_table(workdir / "py-sample" / "members.parquet")
    t0 = time.monotonic()
    py_scores, _py_selected = python_loop(py_house, py_members, py_quotas, card)
    py_seconds = time.monotonic() - t0
    mine = f_scores.filter(pc.is_in(f_scores["household_id"], value_set=py_house["household_id"]))
    want = dict(zip(mine["household_id"].to_pylist(), mine["score"].to_pylist(), strict=True))
    py_agree = all(want.get(h) == s for h, s in py_scores.items())
    py_full = py_seconds * households / py_n
    shutil.rmtree(workdir / "py-sample", ignore_errors=True)

    # 4. Spark local mode on a sample, through the same fupin code paths.
    sp_n = min(SPARK_SAMPLE, households)
    sp_dir = workdir / "spark-sample"
    sample(data, sp_dir, sp_n)
    from engine.backends import spark_session

    t0 = time.monotonic()
    spark = spark_session()
    t1 = time.monotonic()
    run_score(sp_dir, CARD, sp_dir / "out" / "scores.parquet", engine="spark", session=spark)
    run_cutoff(
        sp_dir / "out" / "scores.parquet",
        sp_dir / "quotas.csv",
        sp_dir / "out",
        engine="spark",
        spark=spark,
    )
    t2 = time.monotonic()
    spark.stop()
    sp_with, sp_without = t2 - t0, t2 - t1
    shutil.rmtree(sp_dir, ignore_errors=True)

    n = f"{households:,}"
    rows = [
        {
            "what": "fupin on DuckDB (run_score + run_cutoff)",
            "households": n,
            "score s": _s(fupin["score"]),
            "cutoff s": _s(fupin["cutoff"]),
            "total s": _s(fupin["total"]),
            "vs floor": f"{ratio:.2f}×",
        },
        {
            "what": "hand-written DuckDB SQL (floor)",
            "households": n,
            "score s": _s(fl["score"]),
            "cutoff s": _s(fl["cutoff"]),
            "total s": _s(fl["total"]),
            "vs floor": "1.00×",
        },
        {
            "what": f"per-household Python loop, {py_n:,} sample",
            "households": f"{py_n:,}",
            "score s": "",
            "cutoff s": "",
            "total s": _s(py_seconds),
            "vs floor": f"{py_seconds / (fl['total'] * py_n / households):.0f}× (per household)",
        },
        {
            "what": "… extrapolated to the full size",
            "households": n,
            "score s": "",
            "cutoff s": "",
            "total s": round(py_full, 1),
            "vs floor": f"{py_full / fl['total']:.0f}×",
        },
        {
            "what": f"fupin on Spark local[2], {sp_n:,} sample, with session start",
            "households": f"{sp_n:,}",
            "score s": "",
            "cutoff s": "",
            "total s": _s(sp_with),
            "vs floor": "",
        },
        {
            "what": "… without session start",
            "households": f"{sp_n:,}",
            "score s": "",
            "cutoff s": "",
            "total s": _s(sp_without),
            "vs floor": "",
        },
    ]
    shutil.rmtree(data, ignore_errors=True)
    return {
        "title": TITLE,
        "rows": rows,
        "size": households,
        "notes": [
            f"Province: `engine.synth.generate(out, {households:,}, seed={SEED})`, "
            f"{gen.members:,} people in {gen.counties} counties, generated in "
            f"{gen_seconds:.1f} s (not part of the figures). Scorecard: "
            f"`{CARD.relative_to(ROOT)}` ({len(card.scored_items)} scored items, "
            f"{len(card.veto_items)} vetoes), member facts joined from members.parquet.",
            f"fupin: {fupin['total']:.2f} s for {n} households "
            f"({'within' if fupin['total'] <= 15 else 'over'} the 15 s target), "
            f"{ratio:.2f}× the hand-written SQL "
            f"({'within' if ratio <= 1.5 else 'over'} the 1.5× target). Both write the scores "
            "Parquet (with every item's points), households.parquet and counties.csv.",
            "Floor: one SELECT generated from the same parsed scorecard (CASE per item, "
            "member facts aggregated and left-joined), COPY to Parquet, then "
            "`benchmarks.identify_sql.cutoff_sql`. Results equal to fupin's "
            f"(scores, selected households, line per county): {'yes' if same else 'NO'} — "
            f"{f_sel:,} households selected by fupin, {s_sel:,} by the floor.",
            f"Python loop: rows as dicts (`to_pylist`), member facts summed per row, each item "
            f"scored in Python, sorted and cut per county; timed on the first {py_n:,} "
            f"households with quotas scaled per county, extrapolated linearly to {n} (an "
            "estimate, not a measurement). Its scores equal fupin's on the sample: "
            f"{'yes' if py_agree else 'NO'}.",
            f"Spark: fupin's own score and cutoff on PySpark (`local[2]`) on the first "
            f"{sp_n:,} households with quotas scaled per county; with and without "
            "`SparkSession` start (JVM launch).",
        ],
    }
