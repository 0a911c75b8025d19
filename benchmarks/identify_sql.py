"""Identification as hand-written DuckDB SQL: the floor the engine's benchmark compares with.

`cutoff_sql` is the same computation as `engine.cutoff.cutoff` (issue 4 item 3, higher score
= better off) written as one DuckDB query over the scores' Parquet and `quotas.csv`; the
tests check that both agree row for row. `benchmarks/identify.py` (issue 4 item 6) runs it
beside the engine on a generated province.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

NEAR_LINE_POINTS = 2

CUTOFF_SQL = """
CREATE OR REPLACE TEMP TABLE quotas AS
    SELECT county_code, CAST(quota_people AS BIGINT) AS quota_people
    FROM read_csv($quotas, header = true,
                  columns = {'county_code': 'VARCHAR', 'quota_people': 'BIGINT'});
CREATE OR REPLACE TEMP TABLE scores AS
    SELECT * REPLACE (CAST(people AS BIGINT) AS people) FROM read_parquet($scores);
CREATE OR REPLACE TEMP TABLE lines AS
WITH ranked AS (
    SELECT s.county_code, s.score, q.quota_people,
           SUM(s.people) OVER (PARTITION BY s.county_code ORDER BY s.score, s.household_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative
    FROM scores s JOIN quotas q USING (county_code)
    WHERE NOT s.vetoed
)
SELECT county_code,
       CASE WHEN any_value(quota_people) = 0 THEN NULL
            ELSE coalesce(min(score) FILTER (WHERE cumulative >= quota_people), max(score))
       END AS line
FROM ranked GROUP BY county_code;
"""

HOUSEHOLDS_SQL = f"""
SELECT s.household_id, s.county_code, s.people, s.score, s.vetoed,
       coalesce(NOT s.vetoed AND s.score <= l.line, false) AS selected,
       coalesce(NOT s.vetoed AND abs(s.score - l.line) <= {NEAR_LINE_POINTS}, false) AS near_line
FROM scores s LEFT JOIN lines l USING (county_code)
ORDER BY s.county_code, s.household_id
"""

COUNTIES_SQL = """
WITH totals AS (
    SELECT county_code, sum(people) AS people, count(*) AS households
    FROM scores s JOIN lines l USING (county_code)
    WHERE NOT s.vetoed AND s.score <= l.line
    GROUP BY county_code
)
SELECT q.county_code, q.quota_people, l.line,
       CAST(coalesce(t.people, 0) AS BIGINT) AS selected_people,
       CAST(coalesce(t.households, 0) AS BIGINT) AS selected_households,
       CAST(coalesce(t.people, 0) - q.quota_people AS BIGINT) AS deviation
FROM quotas q LEFT JOIN lines l USING (county_code) LEFT JOIN totals t USING (county_code)
ORDER BY q.county_code
"""


def cutoff_sql(
    scores_parquet: str | Path, quotas_csv: str | Path, con: duckdb.DuckDBPyConnection | None = None
) -> tuple[pa.Table, pa.Table]:
    """(households, counties) as `engine.cutoff.run_cutoff` writes them, sorted alike.

    Expects a `vetoed` column; no input checks (the engine's job, not the floor's).
    """
    con = con or duckdb.connect()
    params = {"scores": str(scores_parquet), "quotas": str(quotas_csv)}
    # DuckDB binds parameters in the last statement only: one statement at a time.
    for statement in filter(str.strip, CUTOFF_SQL.split(";")):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement, used or None)
    households = con.sql(HOUSEHOLDS_SQL).to_arrow_table()
    counties = con.sql(COUNTIES_SQL).to_arrow_table()
    return households, counties
