"""The return-to-poverty warning job (返贫预警, issue 7 item 5): warning rules as data, evaluated
over a registry snapshot as one Ibis expression, nightly or on demand.

    rules = load_rules("engine/warning_rules/anhui-2017.toml")   # WarningRulesError lists
    run_warnings(data_dir, rules, out_dir, on=date(2020, 6, 30), poverty_line=4000)
      → out_dir/warnings.parquet   household_id, county_code, village_code, rule, level,
                                   category, risk, response, raised_on, due_on, evidence

Anhui (seed 004, 建立返贫预警机制): compare exited households' income, latent risk factors and
follow-up measures in the system and warn automatically (DOMAIN.md §6); its 2020 trigger:
income below about 1.5 × the line, or rigid spending clearly above last year's income
(DOMAIN.md §10). The rules file (format: engine/warning_rules/FORMAT.md) says which
household columns, member facts (engine.score.member_facts) and derived facts a rule reads,
who it watches (statuses), how urgent it is (level), what must be done by when (response,
deadline_days), and under which monitoring category and risk type it is filed.

**The data directory** (engine/synth.py writes the first two, engine/monitoring_data.py the
rest): `households.parquet` (may carry `status`, `status_date`, `exit_year`,
`identification_year`; else they come from `statuses.parquet`), `members.parquet`,
`incomes.parquet` (household_id, year, per_capita_income: the income history) and
`events.parquet` (household_id, person_id, kind, date, amount, source). A missing members or
events file means "no data": the facts taken from it are null and no rule reading them fires.

**Income.** The history is incomes.parquet plus the household's own (income_year,
per_capita_income) for a year the file lacks. The income the rules see as
`per_capita_income` / `income_year` is the latest year of that history not after the year
of `on`; an `income_offset` fact is the history's income that many years before it.

**Events.** An event fact counts (or sums the amount of) the household's events of some
kinds in the `window_days` days up to `on`: on − window_days < date ≤ on.

Every rule is a filter of the same joined table; the warnings are their union, one row per
household per rule that fires, ordered by household and rule (file order). The same
expression runs on DuckDB and Spark; evidence shows every value a rule read (a derived
fact's inputs too), decimals as themselves and other fractions rounded to 4 places, so both
engines print the same text. This module never imports Django.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from engine.backends import Engine, connect
from engine.rules import Param, Rule, RuleError, compile_rule, evidence, parse_rule
from engine.score import MEMBER_COLUMNS, member_facts

Progress = Callable[[str, int, int | None], None]

#: red: the household may already be back below the line or faces a cost it cannot meet;
#: orange: a shock or a marked fall that needs a visit soon; yellow: watch (near the line).
LEVELS = ("red", "orange", "yellow")
#: visit: the support cadre or village visits (入户回访); measure: a support measure is
#: taken (medical aid, housing renovation, a job, a loan extension); assess: the return
#: check starts (现场核查 → 群众评议 → 乡镇审核 → 县级认定, seed 004).
RESPONSES = ("visit", "measure", "assess")
#: The post-2020 monitored kinds (DOMAIN.md §10): 脱贫不稳定户, 边缘易致贫户, 突发严重困难户.
CATEGORIES = ("unstable_exited", "marginal", "sudden_hardship")
#: Risk types (DOMAIN.md §10): 因病, 因灾, 因残, 缺劳动力, 意外事故, 产业失败, 务工就业不稳,
#: 因学, 其他.
RISKS = (
    "illness",
    "disaster",
    "disability",
    "lack_of_labour",
    "accident",
    "industry_failure",
    "unstable_employment",
    "schooling",
    "other",
)
#: The registry's household statuses (fupin/registry/enums.py HouseholdStatus).
STATUSES = (
    "surveyed",
    "proposed",
    "in_notice",
    "registered",
    "exit_proposed",
    "exited",
    "closed",
    "excluded",
    "returned",
)
#: Warnings watch households out of poverty: exited (still consolidating) and closed (销号).
DEFAULT_STATUSES = ("exited", "closed")
#: Event kinds of events.parquet (FORMAT.md); a rules file naming another kind is refused.
EVENT_KINDS = (
    "medical_expense",
    "disaster",
    "labour_loss",
    "migrant_unemployed",
    "loan_overdue",
    "dropout",
    "house_dilapidated",
)
AGGREGATES = ("count", "sum")
#: Parameters the job supplies: the line in force and the year of `on`.
RESERVED_PARAMS = ("poverty_line", "year")
STATUS_COLUMNS = ("status", "status_date", "exit_year", "identification_year")
KEYS = ("household_id", "county_code", "village_code")
FILE = "warnings.parquet"

WARNING_SCHEMA = pa.schema(
    [
        ("household_id", pa.int64()),
        ("county_code", pa.string()),
        ("village_code", pa.string()),
        ("rule", pa.string()),
        ("level", pa.string()),
        ("category", pa.string()),
        ("risk", pa.string()),
        ("response", pa.string()),
        ("raised_on", pa.date32()),
        ("due_on", pa.date32()),
        ("evidence", pa.string()),
    ]
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Incomes and amounts are money: two decimals, wide enough for any household's sum.
_MONEY = idt.Decimal(18, 2)
#: How evidence shows a fraction (a float column): rounded, as a decimal both engines print
#: alike (DuckDB and Spark print doubles differently, e.g. 1e-05 against 1.0E-5).
_SHOWN = idt.Decimal(38, 4)


# --- the rules file ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int | None
    where: str | None
    message: str

    def format(self, source: str) -> str:
        at = f"{source}:{self.line}" if self.line else source
        return f"{at}: {self.where + ': ' if self.where else ''}{self.message}"


class WarningRulesError(ValueError):
    """A rules file (or rules against data) that cannot be used; `problems` holds every one
    found, in file order, each naming its line and its rule or fact."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.where or ""))
        super().__init__("\n".join(p.format(source) for p in self.problems))


@dataclass(frozen=True)
class Fact:
    """A per-household column derived for the rules: from events (`kinds` within
    `window_days` before `on`, counted or their amounts summed), from the income history
    (`income_offset` years before the current income year), or an expression (`expr`) over
    household columns, member facts, earlier facts and parameters."""

    name: str
    line: int | None
    kinds: tuple[str, ...] = ()
    window_days: int = 0
    aggregate: str = "count"
    income_offset: int | None = None
    expr: Rule | None = None
    label: str = ""

    @property
    def source(self) -> str:
        if self.kinds:
            return "events"
        return "income" if self.income_offset is not None else "expr"


@dataclass(frozen=True)
class WarningRule:
    """One warning: `when` holds for a household of one of `statuses` → a warning of
    `level`, filed under `category` and `risk`, answered by `response` within
    `deadline_days` days."""

    code: str
    label: str
    label_en: str
    level: str
    statuses: tuple[str, ...]
    when: Rule
    response: str
    deadline_days: int
    categories: tuple[tuple[str, str], ...]  # (status, category) for every status
    risk: str
    line: int | None

    def category(self, status: str) -> str:
        return dict(self.categories)[status]


@dataclass(frozen=True)
class WarningRules:
    name: str
    version: str
    effective: dt.date
    source: str
    params: dict[str, Param]
    facts: tuple[Fact, ...]
    rules: tuple[WarningRule, ...]
    path: str = "<rules>"

    def fact(self, name: str) -> Fact | None:
        return next((f for f in self.facts if f.name == name), None)


class _Lines:
    """Where entries and keys sit in the text: tomllib keeps no positions, and a province
    fixing its file needs the line."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []
        for i, line in enumerate(self.lines, 1):
            m = re.match(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?", line)
            if m:
                self.headers.append((i, m.group(1)))

    def entry(self, table: str, index: int) -> tuple[int | None, int]:
        starts = [i for i, name in self.headers if name == table]
        if index >= len(starts):
            return None, len(self.lines)
        start = starts[index]
        after = [i for i, _n in self.headers if i > start]
        return start, (after[0] - 1 if after else len(self.lines))

    def key(self, table: str, index: int, key: str) -> int | None:
        start, end = self.entry(table, index)
        if start is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, end + 1):
            if pattern.match(self.lines[i - 1]):
                return i
        return start

    def top(self, key: str) -> int | None:
        first = self.headers[0][0] if self.headers else len(self.lines) + 1
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((i for i in range(1, first) if pattern.match(self.lines[i - 1])), None)


_TOP_KEYS = {"name", "version", "effective", "source", "params", "fact", "rule"}
_FACT_KEYS = {"name", "label", "events", "window_days", "aggregate", "income_offset", "expr"}
_RULE_KEYS = {
    "code", "label", "label_en", "level", "statuses", "when", "response", "deadline_days",
    "category", "risk",
}  # fmt: skip


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(value: Any, options: tuple[str, ...]) -> str | None:
    return None if value in options else f"must be one of {', '.join(options)}, not {value!r}"


def parse_rules(text: str, source: str = "<rules>") -> WarningRules:
    """Parse and check a rules file; every problem found is reported at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WarningRulesError(source, [Problem(None, None, f"not valid TOML ({exc})")]) from None
    where = _Lines(text)
    problems: list[Problem] = []

    def bad(line: int | None, what: str | None, message: str) -> None:
        problems.append(Problem(line, what, message))

    for key in sorted(set(data) - _TOP_KEYS):
        bad(where.top(key), None, f"unknown key {key!r}")
    head: dict[str, Any] = {}
    for key in ("name", "version", "source"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            bad(where.top(key), None, f"{key} must be a non-empty string")
        head[key] = value
    effective = data.get("effective")
    if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
        bad(where.top("effective"), None, "effective must be a date, e.g. 2017-06-01")

    params: dict[str, Param] = {}
    raw_params = data.get("params", {})
    if not isinstance(raw_params, dict):
        bad(where.top("params"), None, "params must be a table of name = value")
        raw_params = {}
    param_line = next((i for i, n in where.headers if n == "params"), None)
    for name, value in raw_params.items():
        if name in RESERVED_PARAMS:
            bad(param_line, f"param {name}", "is given by the job: remove it from the file")
        elif not _NAME.match(name):
            bad(param_line, f"param {name}", "a name is lower-case letters, digits and _")
        elif not isinstance(value, int | float | str | bool):
            bad(param_line, f"param {name}", "must be a number, a string or true/false")
        else:
            params[name] = value

    member_names = set(member_fact_names())
    facts: list[Fact] = []
    raw_facts = data.get("fact", [])
    for i, raw in enumerate(raw_facts if isinstance(raw_facts, list) else []):
        line = where.entry("fact", i)[0]
        if not isinstance(raw, dict):
            bad(line, f"fact {i + 1}", "must be a table")
            continue
        name = raw.get("name")
        what = f"fact {name}" if isinstance(name, str) else f"fact {i + 1}"

        def at(key: str, i: int = i) -> int | None:
            return where.key("fact", i, key)

        for key in sorted(set(raw) - _FACT_KEYS):
            bad(at(key), what, f"unknown key {key!r}")
        if not isinstance(name, str) or not _NAME.match(name):
            bad(at("name"), what, "name must be lower-case letters, digits and _")
            continue
        clash = (
            "a fact of the same name comes earlier"
            if any(f.name == name for f in facts)
            else "is a parameter's name"
            if name in params or name in RESERVED_PARAMS
            else "is a member fact's name (engine.score.member_facts)"
            if name in member_names
            else None
        )
        if clash:
            bad(at("name"), what, clash)
        sources = [k for k in ("events", "income_offset", "expr") if k in raw]
        if len(sources) != 1:
            bad(line, what, "needs exactly one of events, income_offset or expr")
            continue
        label = raw.get("label", "")
        if sources == ["events"]:
            kinds = raw["events"]
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not isinstance(kinds, list) or not kinds:
                bad(at("events"), what, "events must be a non-empty list of event kinds")
                continue
            unknown = [k for k in kinds if k not in EVENT_KINDS]
            if unknown:
                bad(
                    at("events"),
                    what,
                    f"unknown event kind {', '.join(map(repr, unknown))} "
                    f"(kinds: {', '.join(EVENT_KINDS)})",
                )
            window = raw.get("window_days")
            if not _is_int(window) or window < 1:
                bad(at("window_days"), what, "window_days must be a whole number of days ≥ 1")
                window = 1
            aggregate = raw.get("aggregate", "count")
            wrong = _one_of(aggregate, AGGREGATES)
            if wrong:
                bad(at("aggregate"), what, f"aggregate {wrong}")
            facts.append(Fact(name, line, tuple(kinds), window, aggregate, label=label))
        elif sources == ["income_offset"]:
            offset = raw["income_offset"]
            if not _is_int(offset) or offset >= 0:
                bad(
                    at("income_offset"),
                    what,
                    "income_offset must be a negative whole number of years (-1: the year "
                    "before the current income)",
                )
                continue
            facts.append(Fact(name, line, income_offset=offset, label=label))
        else:
            try:
                expr = parse_rule(str(raw["expr"]))
            except RuleError as exc:
                bad(at("expr"), what, f"expr: {exc}")
                continue
            later = [n for n in expr.names if n == name or n in _later_fact_names(raw_facts, i)]
            if later:
                bad(at("expr"), what, f"reads {', '.join(later)}, defined at or after it")
            facts.append(Fact(name, line, expr=expr, label=label))

    rules: list[WarningRule] = []
    codes: set[str] = set()  # of every rule, faulty ones too, so a repeat is still caught
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        bad(None, None, "the file has no [[rule]]")
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        line = where.entry("rule", i)[0]
        if not isinstance(raw, dict):
            bad(line, f"rule {i + 1}", "must be a table")
            continue
        code = raw.get("code")
        what = f"rule {code}" if isinstance(code, str) else f"rule {i + 1}"

        def at(key: str, i: int = i) -> int | None:
            return where.key("rule", i, key)

        before = len(problems)
        for key in sorted(set(raw) - _RULE_KEYS):
            bad(at(key), what, f"unknown key {key!r}")
        if not isinstance(code, str) or not _NAME.match(code):
            bad(at("code"), what, "code must be lower-case letters, digits and _")
        elif code in codes:
            bad(at("code"), what, "a rule of the same code comes earlier")
        else:
            codes.add(code)
        for key in ("label", "label_en"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                bad(at(key), what, f"{key} must be a non-empty string")
        for key, options in (("level", LEVELS), ("response", RESPONSES), ("risk", RISKS)):
            wrong = _one_of(raw.get(key), options)
            if wrong:
                bad(at(key), what, f"{key} {wrong}")
        deadline: Any = raw.get("deadline_days")
        if not _is_int(deadline) or deadline < 1:
            bad(at("deadline_days"), what, "deadline_days must be a whole number of days ≥ 1")
        statuses = raw.get("statuses", list(DEFAULT_STATUSES))
        if not isinstance(statuses, list) or not statuses:
            bad(at("statuses"), what, "statuses must be a non-empty list of statuses")
            statuses = []
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            bad(
                at("statuses"),
                what,
                f"unknown status {', '.join(map(repr, unknown))} (statuses: {', '.join(STATUSES)})",
            )
        category = raw.get("category")
        categories: list[tuple[str, str]] = []
        if isinstance(category, str):
            wrong = _one_of(category, CATEGORIES)
            if wrong:
                bad(at("category"), what, f"category {wrong}")
            categories = [(s, category) for s in statuses]
        elif isinstance(category, dict):
            for status, cat in category.items():
                if status not in statuses:
                    bad(at("category"), what, f"category for {status!r}, not in statuses")
                wrong = _one_of(cat, CATEGORIES)
                if wrong:
                    bad(at("category"), what, f"category of {status} {wrong}")
            lacking = [s for s in statuses if s not in category]
            if lacking:
                bad(at("category"), what, f"no category for status {', '.join(lacking)}")
            categories = [(s, category.get(s, "")) for s in statuses]
        else:
            bad(
                at("category"),
                what,
                f"category must be one of {', '.join(CATEGORIES)}, or a table of them by status",
            )
        when = raw.get("when")
        rule: Rule | None = None
        if not isinstance(when, str):
            bad(at("when"), what, "when must be a rule, as a string")
        else:
            try:
                rule = parse_rule(when)
            except RuleError as exc:
                bad(at("when"), what, f"when: {exc}")
        if len(problems) > before or rule is None:
            continue
        rules.append(
            WarningRule(
                code=str(code),
                label=raw["label"],
                label_en=raw["label_en"],
                level=raw["level"],
                statuses=tuple(statuses),
                when=rule,
                response=raw["response"],
                deadline_days=deadline,
                categories=tuple(categories),
                risk=raw["risk"],
                line=line,
            )
        )
    if problems:
        raise WarningRulesError(source, problems)
    assert isinstance(effective, dt.date)
    return WarningRules(
        name=head["name"],
        version=head["version"],
        effective=effective,
        source=head["source"],
        params=params,
        facts=tuple(facts),
        rules=tuple(rules),
        path=source,
    )


def _later_fact_names(raw_facts: list[Any], index: int) -> set[str]:
    return {str(f["name"]) for f in raw_facts[index + 1 :] if isinstance(f, dict) and f.get("name")}


def load_rules(path: Path | str) -> WarningRules:
    path = Path(path)
    return parse_rules(path.read_text(encoding="utf-8"), str(path))


@cache
def member_fact_names() -> tuple[str, ...]:
    """The facts engine.score.member_facts derives per household (labour_people, …)."""
    types = {c: "string" for c in MEMBER_COLUMNS}
    types.update(household_id="int64", disability_grade="int8", migrant_months="int8")
    for c in MEMBER_COLUMNS:
        if c.startswith(("has_", "is_", "speaks_")):
            types[c] = "boolean"
    return tuple(c for c in member_facts(ibis.table(types)).columns if c != "household_id")


# --- the job -----------------------------------------------------------------------------


def _read(con: Any, path: Path, required: tuple[str, ...]) -> ir.Table:
    t = con.read_parquet(str(path))
    lacking = [c for c in required if c not in t.columns]
    if lacking:
        raise ValueError(f"{path} has no {', '.join(map(repr, lacking))} column")
    return t


def _income_history(con: Any, data_dir: Path, households: ir.Table, on: dt.date) -> ir.Table | None:
    """household_id, year, income: incomes.parquet plus each household's own year."""
    parts = []
    path = data_dir / "incomes.parquet"
    if path.exists():
        inc = _read(con, path, ("household_id", "year", "per_capita_income"))
        parts.append(
            inc.select(
                household_id=inc.household_id.cast("int64"),
                year=inc.year.cast("int64"),
                income=inc.per_capita_income.cast(_MONEY),
            )
        )
    if {"income_year", "per_capita_income"} <= set(households.columns):
        own = households.select(
            household_id=households.household_id.cast("int64"),
            year=households.income_year.cast("int64"),
            income=households.per_capita_income.cast(_MONEY),
        )
        own = own.filter(own.year.notnull())
        parts.append(own.anti_join(parts[0], ["household_id", "year"]) if parts else own)
    if not parts:
        return None
    history = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return history.filter(history.year <= on.year)


def _events(
    con: Any, data_dir: Path, facts: list[Fact], on: dt.date
) -> tuple[ir.Table | None, dict[str, ir.Value]]:
    """One grouping of the events in the widest window, a filtered aggregate per fact; or,
    without events.parquet, a typed null per fact (no data)."""
    path = data_dir / "events.parquet"
    nulls = {f.name: ibis.null(_MONEY if f.aggregate == "sum" else "int64") for f in facts}
    if not facts or not path.exists():
        return None, nulls
    needs_amount = any(f.aggregate == "sum" for f in facts)
    required = ("household_id", "kind", "date") + (("amount",) if needs_amount else ())
    e = _read(con, path, required)
    widest = max(f.window_days for f in facts)
    kinds = sorted({k for f in facts for k in f.kinds})
    day = e.date.cast("date")
    e = e.filter(e.kind.isin(kinds) & (day > on - dt.timedelta(days=widest)) & (day <= on)).select(
        household_id=e.household_id.cast("int64"),
        kind=e.kind,
        day=day,
        **({"amount": e.amount.cast(_MONEY)} if needs_amount else {}),
    )
    aggs: dict[str, ir.Value] = {}
    for f in facts:
        cond = e.kind.isin(list(f.kinds)) & (e.day > on - dt.timedelta(days=f.window_days))
        if f.aggregate == "sum":
            aggs[f.name] = e.amount.sum(where=cond).cast(_MONEY)
        else:
            # A filtered count, as engine.score._count: Spark compiles it to a sum that is
            # null when nothing counts, hence the fill below.
            aggs[f.name] = e.count(where=cond)
    return e.group_by("household_id").aggregate(**aggs), {}


def household_table(
    con: Any,
    data_dir: Path,
    rules: WarningRules,
    on: dt.date,
    params: Mapping[str, Param],
) -> ir.Table:
    """Households with status, current income, member facts and every derived fact: the
    table the rules filter. Raises WarningRulesError when a rule reads an unknown name."""
    source = data_dir / "households.parquet"
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    h = _read(con, source, KEYS)
    h = h.mutate(household_id=h.household_id.cast("int64"))
    if "status" not in h.columns:
        path = data_dir / "statuses.parquet"
        if not path.exists():
            raise ValueError(
                f"{source} has no 'status' column and {data_dir} has no statuses.parquet"
            )
        s = _read(con, path, ("household_id", "status"))
        s = s.select(
            household_id=s.household_id.cast("int64"),
            **{c: s[c] for c in STATUS_COLUMNS if c in s.columns and c not in h.columns},
        )
        joined = h.left_join(s, "household_id")
        h = joined.select(*h.columns, *[c for c in s.columns if c != "household_id"])

    # Member facts are aggregated only when read (a household table may carry its own).
    read: set[str] = set()
    for rule in rules.rules:
        read.update(rule.when.names)
    for fact in rules.facts:
        if fact.expr is not None:
            read.update(fact.expr.names)
    fact_names = {f.name for f in rules.facts}
    members = (set(member_fact_names()) & read) - set(h.columns)
    for clash in sorted(fact_names & set(h.columns)):
        clashing = rules.fact(clash)
        line = clashing.line if clashing else None
        raise WarningRulesError(
            rules.path, [Problem(line, f"fact {clash}", f"is a column of {source.name}")]
        )

    history = _income_history(con, data_dir, h, on)
    income_facts = [f for f in rules.facts if f.income_offset is not None]
    if history is not None:
        current = history.group_by("household_id").aggregate(current_year=history.year.max())
        cur = current.join(
            history,
            [
                current.household_id == history.household_id,
                current.current_year == history.year,
            ],
        ).select(
            current.household_id, income_year=current.current_year, current_income=history.income
        )
        for f in income_facts:
            past = history.select(
                "household_id", past_year=history.year, **{f.name: history.income}
            )
            joined = cur.left_join(
                past,
                [
                    cur.household_id == past.household_id,
                    cur.income_year + f.income_offset == past.past_year,
                ],
            )
            cur = joined.select(*cur.columns, f.name)
        keep = [c for c in h.columns if c not in ("income_year", "per_capita_income")]
        joined = h.left_join(cur, "household_id")
        h = joined.select(
            *keep,
            income_year=joined.income_year,
            per_capita_income=joined.current_income,
            **{f.name: joined[f.name] for f in income_facts},
        )
    else:
        h = h.mutate(**{f.name: ibis.null(_MONEY) for f in income_facts})

    if members:
        path = data_dir / "members.parquet"
        if path.exists():
            m = con.read_parquet(str(path))
            lacking = [c for c in MEMBER_COLUMNS if c not in m.columns]
            if lacking:
                raise ValueError(
                    f"{path} has no {', '.join(map(repr, lacking))} column, needed for the "
                    f"member facts {', '.join(sorted(members))}"
                )
            m = m.mutate(household_id=m.household_id.cast("int64"))
            mf = member_facts(m).select("household_id", *sorted(members))
            joined = h.left_join(mf, "household_id")
            h = joined.select(*h.columns, **{c: joined[c].fill_null(0) for c in sorted(members)})
        else:
            h = h.mutate(**{c: ibis.null("int64") for c in sorted(members)})

    event_facts = [f for f in rules.facts if f.kinds]
    counts, nulls = _events(con, data_dir, event_facts, on)
    if counts is not None:
        joined = h.left_join(counts, "household_id")
        zero = {
            f.name: joined[f.name].fill_null(0).cast(_MONEY if f.aggregate == "sum" else "int64")
            for f in event_facts
        }
        h = joined.select(*h.columns, **zero)
    elif nulls:
        h = h.mutate(**nulls)

    unknown: list[Problem] = []
    for fact in rules.facts:
        if fact.expr is None:
            continue
        missing = [n for n in fact.expr.names if n not in h.columns and n not in params]
        if missing:
            unknown.append(_unknown(fact.line, f"fact {fact.name}", missing, source))
            continue
        h = h.mutate(**{fact.name: compile_rule(fact.expr, h, params)})
    for rule in rules.rules:
        missing = [n for n in rule.when.names if n not in h.columns and n not in params]
        if missing:
            unknown.append(_unknown(rule.line, f"rule {rule.code}", missing, source))
    if unknown:
        raise WarningRulesError(rules.path, unknown)
    return h


def _unknown(line: int | None, what: str, names: list[str], source: Path) -> Problem:
    return Problem(
        line,
        what,
        f"reads {', '.join(map(repr, names))}: neither a column of {source.name}, a member "
        "fact, a fact of the file nor a parameter",
    )


def _shown_names(rules: WarningRules, names: tuple[str, ...]) -> tuple[str, ...]:
    """The names a rule reads, each derived fact followed by what it reads in turn, so the
    evidence of `income_change <= -0.3` shows the two incomes as well."""
    out: list[str] = []

    def add(name: str) -> None:
        if name in out:
            return
        out.append(name)
        fact = rules.fact(name)
        if fact is not None and fact.expr is not None:
            for inner in fact.expr.names:
                add(inner)

    for name in names:
        add(name)
    return tuple(out)


def warnings_table(
    table: ir.Table, rules: WarningRules, on: dt.date, params: Mapping[str, Param]
) -> ir.Table:
    """One row per household per rule that fires (WARNING_SCHEMA), by household and rule."""
    schema = table.schema()
    fractions = [c for c, t in schema.items() if t.is_floating()]
    branches = []
    for index, rule in enumerate(rules.rules):
        cond = table.status.isin(list(rule.statuses)) & compile_rule(
            rule.when, table, params
        ).fill_null(False)
        fired = table.filter(cond)
        shown = fired.mutate(**{c: fired[c].round(4).cast(_SHOWN) for c in fractions})
        cats = dict(rule.categories)
        if len(set(cats.values())) == 1:
            category: ir.Value = ibis.literal(next(iter(cats.values())), type="string")
        else:
            category = ibis.cases(
                *[(shown.status == s, ibis.literal(c, type="string")) for s, c in cats.items()],
                else_=ibis.null("string"),
            )
        note = evidence(
            dataclasses.replace(rule.when, names=_shown_names(rules, rule.when.names)),
            shown,
            params,
        )
        branches.append(
            shown.select(
                household_id=shown.household_id,
                county_code=shown.county_code.cast("string"),
                village_code=shown.village_code.cast("string"),
                rule=ibis.literal(rule.code, type="string"),
                level=ibis.literal(rule.level, type="string"),
                category=category,
                risk=ibis.literal(rule.risk, type="string"),
                response=ibis.literal(rule.response, type="string"),
                raised_on=ibis.literal(on, type="date"),
                due_on=ibis.literal(on + dt.timedelta(days=rule.deadline_days), type="date"),
                evidence=note,
                rule_order=ibis.literal(index, type="int32"),
            )
        )
    union = ibis.union(*branches) if len(branches) > 1 else branches[0]
    return union.order_by(["household_id", "rule_order"]).drop("rule_order")


def run_warnings(
    data_dir: Path | str,
    rules: WarningRules | Path | str,
    out_dir: Path | str,
    *,
    on: dt.date,
    poverty_line: float,
    engine: Engine = "duckdb",
    progress: Progress | None = None,
    session: Any = None,
) -> dict[str, Any]:
    """Evaluate `rules` over the households of `data_dir` on the day `on` with the line in
    force, and write `out_dir/warnings.parquet` (under a temporary name, then renamed, so a
    failed run leaves no half file). Returns counts per rule and level and the seconds."""
    started = time.monotonic()
    if not isinstance(rules, WarningRules):
        rules = load_rules(rules)
    if isinstance(on, dt.datetime) or not isinstance(on, dt.date):
        raise ValueError(f"on must be a date, not {on!r}")
    if not poverty_line or poverty_line <= 0:
        raise ValueError("the poverty line must be a positive number of yuan")
    data_dir = Path(data_dir)
    params: dict[str, Param] = {
        **rules.params,
        "poverty_line": float(poverty_line),
        "year": on.year,
    }
    source = data_dir / "households.parquet"
    total = pq.ParquetFile(source).metadata.num_rows if source.exists() else None
    if progress:
        progress("Reading", 0, total)
    con = connect(engine, session)
    table = household_table(con, data_dir, rules, on, params)
    expr = warnings_table(table, rules, on, params)
    if progress:
        progress("Evaluating", 0, total)
    # The warnings are a small share of the households: through Arrow on both engines, so
    # both write the same schema with the same writer.
    result = expr.to_pyarrow().cast(WARNING_SCHEMA)
    if progress:
        progress("Evaluating", total or 0, total)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    tmp = out / f".{FILE}.part"
    meta = {
        "fupin.rules": rules.name,
        "fupin.rules_version": rules.version,
        "fupin.on": on.isoformat(),
        "fupin.poverty_line": str(float(poverty_line)),
    }
    try:
        pq.write_table(result.replace_schema_metadata(meta), tmp, compression="zstd")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    by_rule = Counter(result["rule"].to_pylist())
    by_level = Counter(result["level"].to_pylist())
    if progress:
        progress("Written", result.num_rows, result.num_rows)
    return {
        "households": total,
        "warnings": result.num_rows,
        "warned_households": len(set(result["household_id"].to_pylist())),
        "by_rule": {r.code: by_rule.get(r.code, 0) for r in rules.rules},
        "by_level": {level: by_level.get(level, 0) for level in LEVELS},
        "out": path,
        "seconds": time.monotonic() - started,
    }
