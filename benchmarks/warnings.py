"""Benchmark: the nightly return-to-poverty warning job (issue 7 item 5) over a province.

`run(households, workdir)` generates a province with `engine.synth.generate` and its
monitoring data with `engine.monitoring_data.generate_monitoring` (statuses, income
history, events; not timed against the target), then measures:

1. fupin: `engine.warnings.run_warnings` on DuckDB with the Anhui rules
   (engine/warning_rules/anhui-2017.toml), in a process of its own so that its peak
   resident memory is its own; the warnings per rule;
2. the baseline: the same rules evaluated per household in a Python loop (rows as dicts,
   each household's events and incomes looked up, each rule's expression interpreted with
   SQL's null semantics) on a sample of `PY_SAMPLE` households, extrapolated linearly, and
   its warnings checked equal to fupin's on the sample.

Run alone: `uv run python -m benchmarks --only warnings` (or --quick).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine import synth
from engine.monitoring_data import generate_monitoring
from engine.warnings import Fact, WarningRules, load_rules

TITLE = "Warnings: the nightly return-to-poverty job over a province"
TARGET = "1M households (with statuses, incomes and events) evaluated in under 60 s on DuckDB"

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "engine" / "warning_rules" / "anhui-2017.toml"
SEED = 2020
ON = dt.date(2020, 6, 30)
#: DOMAIN.md §10: about 4,000 yuan in 2020 (the command takes it from the policy table).
POVERTY_LINE = 4000.0
PY_SAMPLE = 20_000

_CHILD = """
import json, resource, sys, datetime as dt
from engine.warnings import run_warnings
r = run_warnings(sys.argv[1], sys.argv[2], sys.argv[3], on=dt.date.fromisoformat(sys.argv[4]),
                 poverty_line=float(sys.argv[5]))
r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("@@" + json.dumps(r, default=str))
"""


def fupin(data: Path, out: Path) -> dict[str, Any]:
    """run_warnings in a fresh process: its seconds (imports excluded), counts, peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data), str(RULES), str(out), ON.isoformat(),
         str(POVERTY_LINE)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("@@"):
            result: dict[str, Any] = json.loads(line[2:])
            return result
    raise RuntimeError(proc.stderr[-2000:])


# ---------------------------------------------------------------------------------------------
# The baseline: one household at a time, in Python


def _money(x: Any) -> Any:
    return Decimal(str(x)) if isinstance(x, float) else x


def _arith(op: ast.operator, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(op, ast.Div):
        return None if b == 0 else float(a) / float(b)
    if isinstance(a, float) != isinstance(b, float):  # Decimal with float: as doubles
        a, b = float(a), float(b)
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    return a * b


_CMP = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def py_eval(node: ast.AST, row: Mapping[str, Any]) -> Any:
    """A rule-language expression on one row, nulls as SQL: what engine/rules.py compiles."""
    if isinstance(node, ast.Expression):
        return py_eval(node.body, row)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return row.get(node.id)
    if isinstance(node, ast.BoolOp):
        values = [py_eval(v, row) for v in node.values]
        if isinstance(node.op, ast.And):
            if any(v is False for v in values):
                return False
            return None if any(v is None for v in values) else True
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False
    if isinstance(node, ast.UnaryOp):
        v = py_eval(node.operand, row)
        if v is None:
            return None
        return (not v) if isinstance(node.op, ast.Not) else -v
    if isinstance(node, ast.BinOp):
        return _arith(node.op, py_eval(node.left, row), py_eval(node.right, row))
    if isinstance(node, ast.Compare):
        left = py_eval(node.left, row)
        result: bool | None = True
        for op, comp in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(comp, ast.List | ast.Tuple)
                options = [e.value for e in comp.elts if isinstance(e, ast.Constant)]
                test = None if left is None else (left in options) == isinstance(op, ast.In)
            else:
                right = py_eval(comp, row)
                test = None if left is None or right is None else _CMP[type(op)](left, right)
                left = right
            if test is False:
                return False
            if test is None:
                result = None
        return result
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [py_eval(a, row) for a in node.args]
        if node.func.id == "coalesce":
            return next((a for a in args if a is not None), None)
        if any(a is None for a in args):
            return None
        if node.func.id == "abs":
            return abs(args[0])
        return min(args) if node.func.id == "min" else max(args)
    raise ValueError(f"cannot evaluate {ast.dump(node)}")


def _event_fact(fact: Fact, events: list[dict[str, Any]], on: dt.date) -> Any:
    start = on - dt.timedelta(days=fact.window_days)
    hits = [e for e in events if e["kind"] in fact.kinds and start < e["date"] <= on]
    if fact.aggregate == "count":
        return len(hits)
    return sum((e["amount"] or Decimal(0) for e in hits), Decimal(0))


def python_loop(
    households: pa.Table,
    statuses: pa.Table,
    incomes: pa.Table,
    events: pa.Table,
    rules: WarningRules,
    on: dt.date,
    poverty_line: float,
) -> set[tuple[int, str]]:
    """(household_id, rule) of every warning, one household at a time."""
    params: dict[str, Any] = {**rules.params, "poverty_line": poverty_line, "year": on.year}
    status = {r["household_id"]: r for r in statuses.to_pylist()}
    history: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in incomes.to_pylist():
        history[r["household_id"]][r["year"]] = r["per_capita_income"]
    by_household: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in events.to_pylist():
        by_household[e["household_id"]].append(e)
    trees = {r.code: r.when.tree for r in rules.rules}
    out: set[tuple[int, str]] = set()
    for row in households.to_pylist():
        hid = row["household_id"]
        row.update({k: v for k, v in status.get(hid, {}).items() if k not in row})
        years = dict(history.get(hid, {}))
        if row.get("income_year") is not None and row["income_year"] not in years:
            years[row["income_year"]] = _money(row["per_capita_income"])
        known = [y for y in years if y <= on.year]
        current = max(known) if known else None
        row["income_year"] = current
        row["per_capita_income"] = years[current] if current is not None else None
        mine = by_household.get(hid, [])
        for fact in rules.facts:
            if fact.kinds:
                row[fact.name] = _event_fact(fact, mine, on)
            elif fact.income_offset is not None:
                row[fact.name] = (
                    years.get(current + fact.income_offset) if current is not None else None
                )
            else:
                assert fact.expr is not None
                row[fact.name] = py_eval(fact.expr.tree, {**params, **row})
        scope = {**params, **row}
        for rule in rules.rules:
            if row.get("status") in rule.statuses and py_eval(trees[rule.code], scope) is True:
                out.add((hid, rule.code))
    return out


def _sample(data: Path, n: int) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """The first `n` households and their statuses, incomes and events."""
    households = pq.read_table(data / "households.parquet").slice(0, n)
    ids = households["household_id"]

    def mine(name: str) -> pa.Table:
        t = pq.read_table(data / name)
        return t.filter(pc.is_in(t["household_id"], value_set=ids))

    return households, mine("statuses.parquet"), mine("incomes.parquet"), mine("events.parquet")


def _s(seconds: float) -> float:
    return round(seconds, 2)


def run(households: int, workdir: Path) -> dict[str, Any]:
    data = workdir / "province"
    gen = synth.generate(data, households, SEED)
    mon = generate_monitoring(data, SEED, ON)
    rules = load_rules(RULES)

    # 1. fupin on DuckDB, in its own process.
    result = fupin(data, workdir / "out")
    warnings = pq.read_table(workdir / "out" / "warnings.parquet")

    # 2. The per-household Python loop on a sample, extrapolated linearly.
    py_n = min(PY_SAMPLE, households)
    sample = _sample(data, py_n)
    started = time.monotonic()
    py_found = python_loop(*sample, rules, ON, POVERTY_LINE)
    py_seconds = time.monotonic() - started
    ids = sample[0]["household_id"]
    mine = warnings.filter(pc.is_in(warnings["household_id"], value_set=ids))
    fupin_found = set(zip(mine["household_id"].to_pylist(), mine["rule"].to_pylist(), strict=True))
    agree = py_found == fupin_found
    py_full = py_seconds * households / py_n
    peak = result["peak_rss_mb"]
    n = f"{households:,}"
    rows = [
        {
            "what": "fupin run_warnings on DuckDB (own process)",
            "households": n,
            "seconds": _s(result["seconds"]),
            "warnings": f"{result['warnings']:,}",
            "peak RSS": f"{peak:,.0f} MB",
        },
        {
            "what": f"per-household Python loop, {py_n:,} sample",
            "households": f"{py_n:,}",
            "seconds": _s(py_seconds),
            "warnings": f"{len(py_found):,}",
            "peak RSS": "",
        },
        {
            "what": "… extrapolated to the full size",
            "households": n,
            "seconds": round(py_full, 1),
            "warnings": "",
            "peak RSS": "",
        },
    ]
    level = result["by_level"]
    by_rule = ", ".join(f"{code} {count:,}" for code, count in result["by_rule"].items())
    statuses = Counter(mon.statuses)
    return {
        "title": TITLE,
        "rows": rows,
        "size": households,
        "by_rule": result["by_rule"],
        "notes": [
            f"Province: `engine.synth.generate(out, {n}, seed={SEED})` ({gen.members:,} "
            f"people, {gen.seconds:.1f} s) and `engine.monitoring_data.generate_monitoring"
            f"(out, {SEED}, on={ON})` ({mon.seconds:.1f} s): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))
            + f" households; {mon.income_rows:,} income rows; "
            f"{sum(mon.events.values()):,} events ("
            + ", ".join(f"{k} {v:,}" for k, v in mon.events.items())
            + "). Not part of the figures.",
            f"fupin: {result['seconds']:.2f} s for {n} households "
            f"({'within' if result['seconds'] < 60 else 'over'} the 60 s target) — "
            f"one Ibis expression (status, current income and history, event facts in one "
            f"grouping, {len(rules.rules)} rules as filters of the joined table, their union) "
            f"read from Parquet and written to warnings.parquet; peak RSS {peak:,.0f} MB "
            "(the job's own process, Python and DuckDB included). Rules: "
            f"`{RULES.relative_to(ROOT)}` {rules.version}, on {ON}, line {POVERTY_LINE:,.0f} "
            "yuan (DOMAIN.md §10).",
            f"Warnings: {result['warnings']:,} for {result['warned_households']:,} households "
            f"(red {level['red']:,}, orange {level['orange']:,}, yellow {level['yellow']:,}); "
            f"by rule: {by_rule}.",
            f"Python loop: rows as dicts (`to_pylist`), each household's statuses, incomes and "
            f"events looked up, facts computed and every rule's expression interpreted with "
            f"SQL nulls, on the first {py_n:,} households; extrapolated linearly to {n} (an "
            f"estimate, not a measurement). Its warnings equal fupin's on the sample: "
            f"{'yes' if agree else 'NO'} ({len(py_found):,} against {len(fupin_found):,}).",
        ],
    }
