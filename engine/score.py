"""The score job: one Ibis expression that scores every household on a scorecard.

    out = score(table, card)      # household_id, county_code, people, score, vetoed,
                                  # p_<item> per scored item, v_<item> per veto item
    run_score(input_dir, card_path, out_file, engine="duckdb" | "spark")

Points are integers (int32) on both engines: integer sums are exact, so DuckDB and Spark
agree bit for bit. Numeric columns (Arrow decimals included) are compared as float64, and a
per-capita value is the column divided by `people` in float64 — IEEE division, the same on
both engines. A null value matches no band, no code and counts as false, so it gets the
item's `default` (bands, map) or `false` points and never vetoes. An `optional` item whose
column is missing scores its default (0 unless given) and never vetoes.
This module never imports Django.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.backends import Engine, connect
from engine.scorecard import Item, Scorecard, check_columns, load_scorecard

Progress = Callable[[str, int, int | None], None]
KEYS = ("household_id", "county_code", "people")


def _value(t: ir.Table, item: Item) -> ir.Value:
    col = t[item.column]
    if item.per_capita:
        people = t["people"].cast("float64")
        # An empty household (people 0 or null) has no per-capita value: null, default points.
        return ibis.ifelse(people > 0, col.cast("float64") / people, ibis.null("float64"))
    ranged = item.veto is not None and item.veto.equals is None and not item.veto.codes
    if item.kind == "bands" or ranged:
        return col.cast("float64")
    return col


def _in_range(x: ir.Value, lo: float | None, hi: float | None) -> ir.BooleanValue:
    conds = []
    if lo is not None:
        conds.append(x >= lo)
    if hi is not None:
        conds.append(x < hi)
    out = conds[0]
    for c in conds[1:]:
        out = out & c
    return out  # type: ignore[no-any-return]


def _pts(n: int) -> ir.Value:
    return ibis.literal(n, type="int32")


def _points(t: ir.Table, item: Item) -> ir.Value:
    x = _value(t, item)
    if item.kind == "boolean":
        return ibis.ifelse(x.fill_null(False), _pts(item.if_true), _pts(item.if_false))
    if item.kind == "bands":
        branches = [(_in_range(x, b.min, b.max), _pts(b.points)) for b in item.bands]
    else:
        codes = [(c, p) for c, p in item.mapping]
        key = x.cast("string") if x.type().is_numeric() else x
        branches = [(key == c, _pts(p)) for c, p in codes]
    # A null condition is not true in SQL, so nulls fall through to the default.
    return ibis.cases(*branches, else_=_pts(item.default))


def _vetoes(t: ir.Table, item: Item) -> ir.BooleanValue:
    assert item.veto is not None
    v, x = item.veto, _value(t, item)
    if v.equals is not None:
        cond = x.fill_null(not v.equals) == v.equals
    elif v.codes:
        key = x.cast("string") if x.type().is_numeric() else x
        cond = key.isin(list(v.codes))
    else:
        cond = _in_range(x, v.min, v.max)
    return cond.fill_null(False)  # type: ignore[no-any-return]


def score(table: ir.Table, card: Scorecard) -> ir.Table:
    """Score every household: keys, total score, vetoed, and each item's points.

    Raises ScorecardError (line and item) for a missing or ill-typed column.
    """
    schema = table.schema()
    missing = check_columns(card, {name: str(dtype) for name, dtype in schema.items()})
    for key in KEYS:
        if key not in schema:
            raise ValueError(f"the input has no {key!r} column")
    absent = {i.id for i in missing}
    cols: dict[str, ir.Value] = {k: table[k] for k in KEYS}
    points: list[ir.Value] = []
    for item in card.scored_items:
        p = _pts(item.default) if item.id in absent else _points(table, item)
        points.append(p)
    total = points[0] if points else _pts(0)
    for p in points[1:]:
        total = total + p
    vetoes = [ibis.literal(False) if i.id in absent else _vetoes(table, i) for i in card.veto_items]
    vetoed: ir.Value = ibis.literal(False)
    for v in vetoes:
        vetoed = vetoed | v
    cols["score"] = total.cast("int32")
    cols["vetoed"] = vetoed
    for item, p in zip(card.scored_items, points, strict=True):
        cols[f"p_{item.id}"] = p.cast("int32")
    for item, v in zip(card.veto_items, vetoes, strict=True):
        cols[f"v_{item.id}"] = v
    return table.select(**cols)


def _count(rows: ir.Table, cond: ir.BooleanValue) -> ir.Value:
    # A filtered count (a null condition is not true, so it counts as false) rather than a
    # sum of 0/1: DuckDB counts in an int64 where it sums in a 128-bit integer, which made
    # this grouping of every member the costliest step of the score. Spark compiles the same
    # count to a sum, null when no row counts: fill_null keeps both engines at 0.
    return rows.count(where=cond).fill_null(0)


def member_facts(members: ir.Table) -> ir.Table:
    """Per-household counts from `members.parquet` (engine/synth.py's member fields), the
    facts the labour, schooling, illness, migrant-work and insurance items read.

    The registry keeps these on the members, not the household; the card reads them as
    household columns, so they are derived here — in the same Ibis expression, on either
    engine — rather than stored twice.
    """
    m = members
    return m.group_by("household_id").aggregate(
        labour_people=_count(m, m.labour_skill.isin(["ordinary", "skilled"])),
        skilled_labour_people=_count(m, m.labour_skill == "skilled"),
        lost_labour_people=_count(m, m.labour_skill == "lost"),
        adults_junior_or_above=_count(m, m.education.isin(["junior", "senior", "college"])),
        illiterate_adults=_count(m, m.education == "illiterate"),
        dropouts=_count(m, m.dropout_reason != ""),
        college_students=_count(m, m.schooling.isin(["higher_vocational", "college"])),
        mandarin_speakers=_count(m, m.speaks_mandarin),
        chronic_ill_people=_count(m, m.has_chronic_illness),
        serious_ill_people=_count(m, m.has_serious_illness),
        disabled_people=_count(m, m.is_disabled),
        severe_disabled_people=_count(m, m.is_disabled & (m.disability_grade <= 2)),
        migrant_people=_count(m, m.migrant_place != ""),
        migrant_months=m.migrant_months.cast("int64").sum().fill_null(0),
        medical_insured_people=_count(m, m.has_medical_insurance),
        pension_insured_people=_count(m, m.has_pension),
        serious_illness_insured_people=_count(m, m.has_serious_illness_insurance),
        commercial_insured_people=_count(m, m.has_commercial_insurance),
    )


MEMBER_COLUMNS = (
    "household_id", "labour_skill", "education", "dropout_reason", "schooling",
    "speaks_mandarin", "has_chronic_illness", "has_serious_illness", "is_disabled",
    "disability_grade", "migrant_place", "migrant_months", "has_medical_insurance",
    "has_pension", "has_serious_illness_insurance", "has_commercial_insurance",
)  # fmt: skip


def with_member_facts(households: ir.Table, members: ir.Table) -> ir.Table:
    """Households with `member_facts` added (0 for a household without members); a fact
    the household table already has is kept as it is."""
    facts = member_facts(members)
    new = [c for c in facts.columns if c != "household_id" and c not in households.columns]
    if not new:
        return households
    facts = facts.select("household_id", *new)
    joined = households.left_join(facts, "household_id")
    return joined.select(*households.columns, **{c: joined[c].fill_null(0) for c in new})


def run_score(
    input_dir: Path | str,
    card_path: Path | str,
    out_file: Path | str,
    engine: Engine = "duckdb",
    progress: Progress | None = None,
    *,
    session: Any = None,
) -> dict[str, Any]:
    """Score `input_dir/households.parquet` (with `member_facts` from `members.parquet` when
    the folder has one) and write `out_file` (Parquet, by household_id).

    Written under a temporary name and renamed, so a failed run leaves no half file.
    Returns counts and seconds.
    """
    started = time.monotonic()
    card = load_scorecard(card_path)
    source = Path(input_dir) / "households.parquet"
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    total = pq.ParquetFile(source).metadata.num_rows
    if progress:
        progress("Scoring", 0, total)
    con = connect(engine, session)
    table = con.read_parquet(str(source))
    members = Path(input_dir) / "members.parquet"
    if members.exists():
        # Only when the member fields are all there (an export may carry fewer).
        member_table = con.read_parquet(str(members))
        if set(MEMBER_COLUMNS) <= set(member_table.columns):
            table = with_member_facts(table, member_table)
    scored = score(table, card).order_by("household_id")
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    meta = {
        "fupin.scorecard": card.name,
        "fupin.scorecard_version": card.version,
        "fupin.direction": card.direction,
    }
    try:
        if engine == "duckdb":
            households, vetoed = _copy_parquet(con, scored, tmp, meta)
        else:
            households, vetoed = _write_arrow(scored, tmp, meta)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    if progress:
        progress("Scoring", total, total)
        progress("Written", households, households)
    return {"households": households, "vetoed": vetoed, "seconds": time.monotonic() - started}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _copy_parquet(con: Any, scored: ir.Table, path: Path, meta: dict[str, str]) -> tuple[int, int]:
    """Write with DuckDB's own parallel Parquet writer (COPY): handing ~100 columns of
    millions of rows to Arrow and writing them on one thread took longer than scoring them.

    DuckDB marks a column REQUIRED when its statistics show no null, which depends on the
    input; the `CASE` (an identity) hides that, so every column stays optional, as on Spark.
    """
    names = ", ".join(
        f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} END AS {q}"
        for q in ('"' + c.replace('"', '""') + '"' for c in scored.columns)
    )
    kv = ", ".join(f"{_sql_text(k)}: {_sql_text(v)}" for k, v in meta.items())
    con.raw_sql(
        # Sorted inside, before the CASE: sorting its output took twice as long. A projection
        # keeps its input's order and PRESERVE_ORDER makes the writer keep it too.
        f"COPY (SELECT {names} FROM ({con.compile(scored)})) TO {_sql_text(str(path))} "
        f"(FORMAT parquet, COMPRESSION zstd, PRESERVE_ORDER true, KV_METADATA {{{kv}}})"
    )
    households, vetoed = con.raw_sql(
        f"SELECT count(*), count_if(vetoed) FROM read_parquet({_sql_text(str(path))})"
    ).fetchone()
    return int(households), int(vetoed)


def _write_arrow(scored: ir.Table, path: Path, meta: dict[str, str]) -> tuple[int, int]:
    result = scored.to_pyarrow()
    pq.write_table(
        result.replace_schema_metadata(meta), path, compression="zstd", row_group_size=1 << 20
    )
    return result.num_rows, int(pc.sum(result["vetoed"]).as_py() or 0)
