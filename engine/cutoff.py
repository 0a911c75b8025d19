"""The cutoff per county (DOMAIN.md §3, issue 4 item 3): who is proposed, like the college line.

Per county, the non-vetoed households are ranked poorest first (ascending score when a higher
score means better off, as in Guangxi), ties broken by `household_id` so that DuckDB and Spark
agree row for row. The line is the score of the first household at which the cumulative number
of **people** reaches the county's quota; every non-vetoed household at or beyond the line is
selected, so all households tied at the line are in (the county may exceed its quota — the
deviation is reported). A county whose people fall short of its quota has all its non-vetoed
households selected (the line is then the score of the best-off of them); a zero quota selects
nobody (no line). Vetoed households (一票否决) are never selected and do not count toward the
quota. A county with households but no quota is an error: guessing one would decide who is
poor.

`cutoff` is a pure function over Ibis tables; `run_cutoff` reads Parquet scores and
`quotas.csv`, runs it on DuckDB (default) or PySpark, and writes `households.parquet` and
`counties.csv`. The households output carries one column beyond the issue's list, `near_line`:
non-vetoed households within `NEAR_LINE_POINTS` of the line, which the county report shows
(a flag rather than a third file, so the report needs no second join).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.backends import ENGINES, Engine, connect

Progress = Callable[[int, int], None]

#: Households within this many points of the line are listed in the county report (issue 4).
NEAR_LINE_POINTS = 2

HOUSEHOLD_COLUMNS = ("household_id", "county_code", "people", "score", "vetoed", "selected")
COUNTY_COLUMNS = (
    "county_code",
    "quota_people",
    "line",
    "selected_people",
    "selected_households",
    "deviation",
)
COUNTY_CODE = re.compile(r"^\d{6}$")


class CutoffError(ValueError):
    """Input the cutoff cannot work with; the message says what and where."""


def cutoff(
    scores: ibis.Table, quotas: ibis.Table, *, higher_is_better_off: bool = True
) -> tuple[ibis.Table, ibis.Table]:
    """Households with `selected` and `near_line`, and the per-county summary.

    `scores`: `household_id, county_code, people, score, vetoed`; `quotas`:
    `county_code, quota_people` (one row per county). Raises `CutoffError` when a county with
    households has no quota. Not wholly lazy: that check runs one small query, and the lines
    (one row per county) are computed and cached here; the returned tables are lazy.
    """
    missing = (
        scores.select("county_code")
        .distinct()
        .anti_join(quotas, "county_code")
        .order_by("county_code")
        .to_pyarrow()["county_code"]
        .to_pylist()
    )
    if missing:
        raise CutoffError(f"No quota for county {', '.join(map(str, missing))}.")

    score_type = scores.schema()["score"]
    # Poorest first; household_id makes the order total, hence identical on every engine.
    poorest_first = scores.score.asc() if higher_is_better_off else scores.score.desc()
    window = ibis.cumulative_window(
        group_by=scores.county_code, order_by=[poorest_first, scores.household_id.asc()]
    )
    eligible = scores.filter(~scores.vetoed)
    ranked = eligible.mutate(cumulative_people=eligible.people.sum().over(window)).join(
        quotas, "county_code"
    )
    reached = (ranked.cumulative_people >= ranked.quota_people) & (ranked.quota_people > 0)
    # Score and cumulative people grow together along the order, so the first household that
    # reaches the quota has the smallest (largest) score among those that have reached it.
    if higher_is_better_off:
        first_reached = ranked.score.min(where=reached)
        best_off = ranked.score.max()
    else:
        first_reached = ranked.score.max(where=reached)
        best_off = ranked.score.min()
    per_county = ranked.group_by(["county_code", "quota_people"]).aggregate(
        first_reached=first_reached, best_off=best_off
    )
    lines = per_county.select(
        "county_code",
        line=ibis.cases(
            (per_county.quota_people == 0, ibis.null(score_type)),
            (per_county.first_reached.notnull(), per_county.first_reached),
            else_=per_county.best_off,
        ).cast(score_type),
    )
    # One row per county, read by both outputs: computing it once (a temporary table on
    # DuckDB, a persisted frame on Spark) halves the work — the window is the costly part.
    lines = lines.cache()

    joined = scores.left_join(lines, "county_code")
    beyond = joined.score <= joined.line if higher_is_better_off else joined.score >= joined.line
    eligible_with_line = ~joined.vetoed & joined.line.notnull()
    households = joined.select(
        "household_id",
        "county_code",
        "people",
        "score",
        "vetoed",
        selected=(eligible_with_line & beyond).fill_null(False),
        near_line=(
            eligible_with_line & ((joined.score - joined.line).abs() <= NEAR_LINE_POINTS)
        ).fill_null(False),
    )

    chosen = households.filter(households.selected)
    totals = chosen.group_by("county_code").aggregate(
        selected_people=chosen.people.sum().cast("int64"),
        selected_households=chosen.count().cast("int64"),
    )
    with_lines = quotas.left_join(lines, "county_code").select(
        "county_code", "quota_people", "line"
    )
    summed = with_lines.left_join(totals, "county_code")
    selected_people = summed.selected_people.fill_null(0)
    counties = summed.select(
        "county_code",
        summed.quota_people.cast("int64").name("quota_people"),
        "line",
        selected_people=selected_people,
        selected_households=summed.selected_households.fill_null(0),
        deviation=selected_people - summed.quota_people.cast("int64"),
    )
    return households, counties


# ---------------------------------------------------------------------------------------------
# Files and engines


def read_quotas(path: str | Path) -> pa.Table:
    """`quotas.csv` as `county_code` (6-character text) and `quota_people` (int64)."""
    path = Path(path)
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={"county_code": pa.string(), "quota_people": pa.string()},
                strings_can_be_null=False,
            ),
        )
    except FileNotFoundError:
        raise CutoffError(f"{path}: no such file.") from None
    except pa.ArrowInvalid as exc:
        raise CutoffError(f"{path}: not a readable CSV file ({exc}).") from None
    lacking = [c for c in ("county_code", "quota_people") if c not in table.column_names]
    if lacking:
        raise CutoffError(
            f"{path}: missing column {', '.join(lacking)} "
            "(expected the header county_code,quota_people)."
        )
    codes = [c.strip() for c in table.column("county_code").to_pylist()]
    quotas = [q.strip() for q in table.column("quota_people").to_pylist()]
    seen: set[str] = set()
    for line, (code, quota) in enumerate(zip(codes, quotas, strict=True), start=2):
        if not COUNTY_CODE.match(code):
            raise CutoffError(f"{path}, line {line}: county code {code!r} is not 6 digits.")
        if code in seen:
            raise CutoffError(f"{path}, line {line}: county {code} has a second quota.")
        seen.add(code)
        if not quota.isdigit():
            raise CutoffError(
                f"{path}, line {line}: quota {quota!r} of county {code} is not a whole number "
                "of people ≥ 0."
            )
    return pa.table(
        {
            "county_code": pa.array(codes, pa.string()),
            "quota_people": pa.array([int(q) for q in quotas], pa.int64()),
        }
    )


def check_scores(table: ibis.Table, source: str) -> ibis.Table:
    """Check the scores' columns, types and values; add `vetoed = false` when absent.

    A repeated `household_id` is caught later, on the sorted output (`check_unique`): a count
    of distinct IDs here would cost more than the whole cutoff.
    """
    schema = table.schema()
    lacking = [c for c in ("household_id", "county_code", "people", "score") if c not in schema]
    if lacking:
        raise CutoffError(f"{source}: missing column {', '.join(lacking)}.")
    expected: dict[str, tuple[Callable[[dt.DataType], bool], str]] = {
        "household_id": (lambda t: t.is_string() or t.is_integer(), "text or integer"),
        "county_code": (lambda t: t.is_string(), "text (6-digit codes)"),
        "people": (lambda t: t.is_integer(), "integer"),
        "score": (lambda t: t.is_numeric() and not t.is_boolean(), "numeric"),
        "vetoed": (lambda t: t.is_boolean(), "boolean"),
    }
    for column, (ok, wanted) in expected.items():
        if column in schema and not ok(schema[column]):
            raise CutoffError(f"{source}: column {column} is {schema[column]}, expected {wanted}.")
    if "vetoed" not in schema:
        table = table.mutate(vetoed=ibis.literal(False))
    table = table.select(
        "household_id", "county_code", table.people.cast("int64").name("people"), "score", "vetoed"
    )
    facts = table.aggregate(
        null_ids=table.household_id.isnull().sum(),
        null_counties=table.county_code.isnull().sum(),
        bad_people=(table.people.isnull() | (table.people < 0)).sum(),
        null_scores=(table.score.isnull() & ~table.vetoed.fill_null(False)).sum(),
        null_vetoed=table.vetoed.isnull().sum(),
    ).to_pyarrow()
    row = {k: int(v or 0) for k, v in facts.to_pylist()[0].items()}
    problems = []
    if row["null_ids"] or row["null_counties"] or row["null_vetoed"]:
        problems.append("empty household_id, county_code or vetoed")
    if row["bad_people"]:
        problems.append(f"{row['bad_people']} households with empty or negative people")
    if row["null_scores"]:
        problems.append(f"{row['null_scores']} non-vetoed households without a score")
    if problems:
        raise CutoffError(f"{source}: {'; '.join(problems)}.")
    return table


def check_unique(households: pa.Table, source: str) -> None:
    """No `household_id` twice in a county (`households` sorted by county, household_id).

    The tie-breaker needs IDs unique within a county for a total order; on sorted rows a
    repeat sits next to its twin, so comparing neighbours finds it cheaply.
    """
    if households.num_rows < 2:
        return
    ids = households.column("household_id").combine_chunks()
    codes = households.column("county_code").combine_chunks()
    repeated = pc.and_(pc.equal(ids[1:], ids[:-1]), pc.equal(codes[1:], codes[:-1]))
    count = pc.sum(repeated).as_py() or 0
    if count:
        first = ids[1:].filter(repeated)[0].as_py()
        raise CutoffError(f"{source}: {count} repeated household_id (for example {first}).")


def run_cutoff(
    scores_file: str | Path,
    quotas_file: str | Path,
    out_dir: str | Path,
    engine: Engine = "duckdb",
    progress: Progress | None = None,
    *,
    higher_is_better_off: bool = True,
    spark: Any = None,
) -> tuple[pa.Table, pa.Table]:
    """Read, cut, write `out_dir/households.parquet` and `out_dir/counties.csv`.

    Both outputs are sorted (households by county then household_id; counties by code) so
    that the files are the same whichever engine wrote them. Returns what was written.
    `progress(step, 4)` is called as the steps finish.
    """
    steps = 4
    if progress:
        progress(0, steps)
    scores_path = Path(scores_file)
    if not scores_path.exists():
        raise CutoffError(f"{scores_path}: no such file.")
    quotas = read_quotas(quotas_file)
    if engine not in ENGINES:
        raise CutoffError(f"Unknown engine {engine!r}: use duckdb or spark.")
    con = connect(engine, spark)
    try:
        raw = con.read_parquet(str(scores_path))
    except Exception as exc:  # the backends raise their own types for unreadable files
        raise CutoffError(f"{scores_path}: not a readable Parquet file ({exc}).") from None
    # Materialised once: the checks, the window and the outputs each read it.
    scores = check_scores(raw, str(scores_path)).cache()
    quota_table = con.create_table("fupin_quotas", quotas, overwrite=True)
    if progress:
        progress(1, steps)
    try:
        households, counties = cutoff(
            scores, quota_table, higher_is_better_off=higher_is_better_off
        )
    except CutoffError as exc:
        raise CutoffError(f"{quotas_file}: {exc}") from None
    house_arrow = households.order_by(["county_code", "household_id"]).to_pyarrow()
    if progress:
        progress(2, steps)
    check_unique(house_arrow, str(scores_path))
    county_arrow = counties.order_by("county_code").to_pyarrow()
    house_arrow, county_arrow = normalise(house_arrow, county_arrow, scores.schema()["score"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(house_arrow, out / "households.parquet")
    if progress:
        progress(3, steps)
    pacsv.write_csv(county_arrow, out / "counties.csv")
    if progress:
        progress(4, steps)
    return house_arrow, county_arrow


def normalise(
    households: pa.Table, counties: pa.Table, score_type: dt.DataType
) -> tuple[pa.Table, pa.Table]:
    """Fix the output schemas, so that both engines write byte-for-byte comparable files."""
    score = score_type.to_pyarrow()
    households = households.select([*HOUSEHOLD_COLUMNS, "near_line"]).cast(
        pa.schema(
            [
                ("household_id", households.schema.field("household_id").type),
                ("county_code", pa.string()),
                ("people", pa.int64()),
                ("score", score),
                ("vetoed", pa.bool_()),
                ("selected", pa.bool_()),
                ("near_line", pa.bool_()),
            ]
        )
    )
    counties = counties.select(list(COUNTY_COLUMNS)).cast(
        pa.schema(
            [
                ("county_code", pa.string()),
                ("quota_people", pa.int64()),
                ("line", score),
                ("selected_people", pa.int64()),
                ("selected_households", pa.int64()),
                ("deviation", pa.int64()),
            ]
        )
    )
    # Strings that the engines may hand back as large_string or string_view come out alike.
    if pa.types.is_large_string(households.schema.field("household_id").type):
        households = households.set_column(
            0, "household_id", pc.cast(households.column(0), pa.string())
        )
    return households, counties
