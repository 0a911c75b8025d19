"""Exit standards as data (精准脱贫): parse them, compute the facts they read, judge by them.

    std = standard_in_force("guangxi-household", dt.date(2017, 6, 30))
    facts = household_facts(households, members, on=dt.date(2017, 6, 30))
    long = evaluate(facts, std, {"poverty_line": 2952, "year": 2017})
                                   # household_id, item, outcome, evidence — one Ibis expression
    results = evaluate_household(household, members, std, params, on)   # one household
    verdict(results).can_exit

    incidence = poverty_incidence(households, villages)        # poor people ÷ rural population
    table = area_facts(facts, villages)                         # area_code + village facts
    evaluate(table, standard_in_force("guangxi-village", on), params, key="area_code")
    rank_counties(counties, load_difficulty(DIFFICULTY_FILE))   # Guangxi's 8 indicators

A standard is a TOML file (format: engine/standards/FORMAT.md) of items, each either a rule
over registry data in the language of engine/rules.py ("data") or a fact the acceptance team
checks at the household ("confirm", 双认定). Every outcome reads "met" when the item is fine
for exit — Hunan's eight situations are written as "the situation does not hold".

An item whose data are absent or null is "no_data", never "not_met": the platform shows what
it cannot judge instead of blocking or passing a household on a guess. The facts derived from
members are null for the same reason when a member's value they need is unknown.

Everything runs as Ibis expressions, the same on DuckDB and Spark; this module never imports
Django.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from engine.rules import (
    Param,
    Rule,
    RuleError,
    compile_rule,
    evidence,
    missing_names,
    negate,
    parse_rule,
)
from engine.score import _count, with_member_facts
from engine.scorecard import Problem

Outcome = Literal["met", "not_met", "no_data", "to_confirm"]
Level = Literal["household", "village", "county"]
Kind = Literal["data", "confirm"]
LEVELS: tuple[Level, ...] = ("household", "village", "county")
KINDS: tuple[Kind, ...] = ("data", "confirm")
OUTCOMES: tuple[Outcome, ...] = ("met", "not_met", "no_data", "to_confirm")

#: The shipped standards and ranking specs.
STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
#: Guangxi's county difficulty indicators (a ranking spec, not a standard).
DIFFICULTY_FILE = STANDARDS_DIR / "guangxi-county-difficulty.toml"
#: Files in STANDARDS_DIR ending so are ranking specs; every other *.toml is a standard.
DIFFICULTY_SUFFIX = "-difficulty.toml"

#: Parameters every standard may read: the year's national poverty line (yuan per person per
#: year, from the platform's table of lines) and the year judged.
PARAMS = ("poverty_line", "year")
#: Household columns the platform adds when it has them (a rule reading an absent one gives
#: "no_data"), with what they hold.
HOUSEHOLD_EXTRAS: dict[str, str] = {
    "identification_year": "year the household was registered (建档立卡)",
    "status": "the household's life-cycle status (fupin/registry/enums.py HouseholdStatus)",
    "dibao_line": "the county's rural 低保 line that year, yuan per person per year",
    "income_prev": "per-capita income of the year before, yuan",
    "measures_this_year": "support measures the household received in the year",
    "measures_with_result_this_year": "of those, measures with a recorded result",
}
#: The exit facts `household_facts` derives from members, with their definitions.
EXIT_FACTS: dict[str, str] = {
    "compulsory_age_children": "members of compulsory-school age (6–15 full years) on the day",
    "out_of_school_children": "of them, those not in school who have not completed junior "
    "secondary (a 15-year-old who reached junior secondary counts as having completed it)",
    "uninsured_people": "members without basic medical insurance (has_medical_insurance false)",
}
#: Facts of a village the registry does not hold: the platform stores them per village.
VILLAGE_FACTS: dict[str, str] = {
    "rural_population": "rural registered population (农村户籍人口), people",
    "wrongly_exited_people": "wrongly exited people estimated by the evaluation (错退), people",
    "omitted_people": "omitted poor people estimated by the evaluation (漏评), people",
    "has_special_industry": "the village has a special industry (特色产业) — true/false",
    "road_hardened": "the village and its hamlets (屯) are reached by a hardened road",
    "has_clinic": "the village has a clinic (村卫生室) with a village doctor",
    "has_service_centre": "the village has a public service centre (公共服务设施)",
    "collective_income": "the village collective's income in the year (村集体收入), yuan",
}
#: Facts of a county the platform stores, or derives from its villages (`villages_to_counties`).
COUNTY_FACTS: dict[str, str] = {
    "rural_population": "rural registered population, people (sum over its villages)",
    "wrongly_exited_people": "wrongly exited people estimated by the evaluation, people",
    "omitted_people": "omitted poor people estimated by the evaluation, people",
    "has_special_industry": "the county has leading special industries (特色产业)",
    "villages_without_hardened_road": "villages with road_hardened false",
    "villages_without_clinic": "villages with has_clinic false",
    "villages_without_service_centre": "villages with has_service_centre false",
    "dibao_line": "the county's rural 低保 line, yuan per person per year",
}
#: What `area_facts` counts over an area's poor households (from `household_facts`).
REGISTRY_AREA_FACTS: dict[str, str] = {
    "poor_households": "poor households (status in the poor statuses)",
    "dilapidated_poor_households": "of them, in a dilapidated house (is_dilapidated)",
    "uninsured_poor_people": "poor people without basic medical insurance",
    "out_of_school_poor_children": "poor children of compulsory age out of school",
    "poor_households_without_safe_water": "poor households without safe drinking water",
    "poor_households_without_power": "poor households without household power",
    "poor_households_without_tv": "poor households without radio or TV",
}
#: Statuses counted as poor people in the incidence: registered, proposed for exit but not
#: exited yet, and returned to poverty.
POOR_STATUSES = ("registered", "exit_proposed", "returned")
#: Compulsory-education age in full years, both ends included: 义务教育法 art. 11 — enrolment
#: at six full years, nine years of schooling — and the 控辍保学 documents' "6—15周岁".
COMPULSORY_AGES = (6, 15)


# ======================================================================================
# The data
# ======================================================================================


@dataclass(frozen=True)
class StandardItem:
    code: str
    label: str
    label_en: str
    kind: Kind
    rule: Rule | None
    source: str
    note: str = ""
    #: The note in Chinese, for the pages (`note` is English).
    note_zh: str = ""


@dataclass(frozen=True)
class Standard:
    code: str
    version: str
    effective: dt.date
    level: Level
    name: str
    name_en: str
    source: str
    items: tuple[StandardItem, ...]
    notes: str = ""

    def item(self, code: str) -> StandardItem:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(f"{self.code} {self.version} has no item {code!r}")


@dataclass(frozen=True)
class ItemResult:
    item: StandardItem
    outcome: Outcome
    evidence: str


@dataclass(frozen=True)
class Verdict:
    can_exit: bool
    blockers: tuple[ItemResult, ...]
    unknown: tuple[ItemResult, ...]


class StandardError(ValueError):
    """A standard (or ranking spec) that cannot be used; `problems` holds every one found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.item or ""))
        super().__init__("\n".join(p.format(source) for p in self.problems))


# ======================================================================================
# Parsing
# ======================================================================================

_HEADER_KEYS = {"code", "version", "effective", "name", "name_en", "source", "notes"}
_ITEM_KEYS = {"code", "label", "label_en", "kind", "rule", "source", "note", "note_zh"}
_INDICATOR_KEYS = {"column", "label", "label_en", "direction", "weight", "source", "note"}
_STANDARD_CODE = re.compile(r"^[a-z][a-z0-9-]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ARRAY = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]")
_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*[\"']?([A-Za-z0-9_-]+)[\"']?\s*=")


class _Lines:
    """Where keys are written. tomllib keeps no positions, so the text is scanned: each
    `[[entries]]` header starts an entry, and a key's line is its first `key =` in the
    top part or in its entry (good enough to point an editor at the fault)."""

    def __init__(self, text: str, array: str) -> None:
        self.top: dict[str, int] = {}
        self.entries: list[tuple[int, dict[str, int]]] = []
        section: dict[str, int] | None = self.top
        for n, line in enumerate(text.splitlines(), 1):
            if m := _ARRAY.match(line):
                section = {} if m.group(1) == array else None
                if section is not None:
                    self.entries.append((n, section))
                continue
            if _TABLE.match(line):
                section = None
                continue
            if section is not None and (m := _KEY.match(line)):
                section.setdefault(m.group(1), n)

    def key(self, key: str | None, index: int | None = None) -> int | None:
        if index is None:
            return self.top.get(key) if key else None
        if index >= len(self.entries):
            return None
        header, keys = self.entries[index]
        return keys.get(key, header) if key else header


class _Reader:
    def __init__(self, text: str, source: str, array: str) -> None:
        self.source = source
        self.array = array
        self.problems: list[Problem] = []
        self.lines = _Lines(text, array)
        self.text = text

    def load(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as e:
            raise StandardError(self.source, [Problem(None, None, f"not TOML: {e}")]) from None

    def fail(self, message: str, key: str | None = None, index: int | None = None,
             item: str | None = None) -> None:  # fmt: skip
        self.problems.append(Problem(self.lines.key(key, index), item, message))

    def text_value(self, m: Mapping[str, Any], key: str, index: int | None = None,
                   item: str | None = None, required: bool = True) -> str:  # fmt: skip
        if key not in m:
            if required:
                self.fail(f"missing {key!r}", None, index, item)
            return ""
        v = m[key]
        if not isinstance(v, str) or not v.strip():
            hint = " (write it in quotes)" if isinstance(v, int | float) else ""
            self.fail(f"{key!r} must be a non-empty text, not {v!r}{hint}", key, index, item)
            return ""
        return v.strip()

    def header(self, doc: Mapping[str, Any], extra: set[str]) -> dict[str, Any]:
        for key in doc:
            if key not in _HEADER_KEYS | extra | {self.array}:
                self.fail(f"unknown key {key!r}", key)
        out: dict[str, Any] = {}
        out["code"] = self.text_value(doc, "code")
        if out["code"] and not _STANDARD_CODE.match(out["code"]):
            self.fail(
                f"'code' {out['code']!r} must be lower-case letters, digits and hyphens", "code"
            )
        for key in ("version", "name", "name_en", "source"):
            out[key] = self.text_value(doc, key)
        out["notes"] = self.text_value(doc, "notes", required=False)
        effective = doc.get("effective")
        out["effective"] = dt.date(1970, 1, 1)
        if effective is None:
            self.fail("missing 'effective' (the date it takes effect, YYYY-MM-DD)")
        elif isinstance(effective, dt.date) and not isinstance(effective, dt.datetime):
            out["effective"] = effective
        else:
            self.fail(f"'effective' must be a date YYYY-MM-DD, not {effective!r}", "effective")
        return out

    def entries(self, doc: Mapping[str, Any], what: str) -> list[tuple[int, dict[str, Any]]]:
        entries = doc.get(self.array)
        if not isinstance(entries, list) or not entries:
            self.fail(f"'{self.array}' must be a non-empty list of [[{self.array}]] tables")
            return []
        out = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                self.fail(f"{what} #{index + 1} must be a table", None, index)
                continue
            out.append((index, entry))
        return out

    def done(self) -> None:
        if self.problems:
            raise StandardError(self.source, self.problems)


def parse_standard(text: str, source: str = "<standard>") -> Standard:
    """Parse and check a standard; `StandardError` lists every problem, each with the item
    (its code, or its position when the code is missing) and the line where it can."""
    r = _Reader(text, source, "items")
    doc = r.load()
    head = r.header(doc, {"level"})
    level = doc.get("level")
    if level not in LEVELS:
        where = "level" if "level" in doc else None
        r.fail(f"'level' must be one of {', '.join(LEVELS)}, not {level!r}", where)
    items: list[StandardItem] = []
    seen: dict[str, int] = {}
    for index, entry in r.entries(doc, "item"):
        item = _item(r, index, entry, seen)
        if item is not None:
            items.append(item)
    r.done()
    return Standard(
        code=head["code"],
        version=head["version"],
        effective=head["effective"],
        level=cast(Level, level),
        name=head["name"],
        name_en=head["name_en"],
        source=head["source"],
        items=tuple(items),
        notes=head["notes"],
    )


def _item(r: _Reader, index: int, m: dict[str, Any], seen: dict[str, int]) -> StandardItem | None:
    before = len(r.problems)
    code = m.get("code")
    name = code if isinstance(code, str) and code else f"#{index + 1}"
    if not isinstance(code, str) or not _NAME.match(code):
        what = "missing 'code'" if code is None else f"'code' {code!r} must be a lower-case name"
        r.fail(f"{what} (letters, digits, _)", "code" if code is not None else None, index, name)
    elif code in seen:
        r.fail(
            f"item code {code!r} is used twice (also item #{seen[code] + 1})", "code", index, name
        )
    else:
        seen[code] = index
    for key in m:
        if key not in _ITEM_KEYS:
            r.fail(f"unknown key {key!r}", key, index, name)
    label = r.text_value(m, "label", index, name)
    label_en = r.text_value(m, "label_en", index, name)
    source = r.text_value(m, "source", index, name)
    note = r.text_value(m, "note", index, name, required=False)
    note_zh = r.text_value(m, "note_zh", index, name, required=False)
    kind = m.get("kind")
    rule: Rule | None = None
    if kind not in KINDS:
        where = "kind" if "kind" in m else None
        r.fail(f"'kind' must be data or confirm, not {kind!r}", where, index, name)
    elif kind == "confirm" and "rule" in m:
        r.fail(
            "a confirm item is checked at the household and has no 'rule': "
            'remove the rule or make the item kind = "data"',
            "rule",
            index,
            name,
        )
    elif kind == "data":
        text = m.get("rule")
        if text is None:
            r.fail("a data item needs a 'rule' (or make it kind = \"confirm\")", None, index, name)
        elif not isinstance(text, str):
            r.fail(f"'rule' must be a text, not {text!r}", "rule", index, name)
        else:
            try:
                rule = parse_rule(text)
            except RuleError as e:
                r.fail(f"bad rule: {e}", "rule", index, name)
    if len(r.problems) > before:
        return None
    return StandardItem(str(code), label, label_en, cast(Kind, kind), rule, source, note, note_zh)


def load_standard(path: Path | str) -> Standard:
    path = Path(path)
    return parse_standard(path.read_text(encoding="utf-8"), source=path.name)


@cache
def _shipped(directory: Path) -> tuple[Standard, ...]:
    files = sorted(p for p in directory.glob("*.toml") if not p.name.endswith(DIFFICULTY_SUFFIX))
    standards = tuple(load_standard(p) for p in files)
    seen: dict[tuple[str, dt.date], str] = {}
    for s in standards:
        key = (s.code, s.effective)
        if key in seen:
            # Two versions in force from the same day: which one applies would be a guess.
            raise ValueError(
                f"{s.code}: versions {seen[key]} and {s.version} both take effect on {s.effective}"
            )
        seen[key] = s.version
    return standards


def shipped_standards() -> list[Standard]:
    """Every standard in engine/standards/*.toml (ranking specs excepted), by file name."""
    return list(_shipped(STANDARDS_DIR))


def standard_in_force(
    code: str, on: dt.date, standards: Iterable[Standard] | None = None
) -> Standard:
    """The version of standard `code` in force on `on`: the latest effective on or before it.
    `LookupError` when there is none."""
    candidates = [
        s
        for s in (shipped_standards() if standards is None else standards)
        if s.code == code and s.effective <= on
    ]
    if not candidates:
        raise LookupError(f"no version of standard {code!r} is in force on {on.isoformat()}")
    return max(candidates, key=lambda s: s.effective)


def unknown_names(
    standard: Standard, columns: Collection[str], params: Mapping[str, Param] | Collection[str]
) -> dict[str, list[str]]:
    """item code → the names its rule reads that are neither a column nor a parameter: what
    a platform loading a standard should fix before its items silently read "no data"."""
    known = {p: 0 for p in params}
    out = {}
    for item in standard.items:
        if item.rule is not None:
            missing = missing_names(item.rule, set(columns), known)
            if missing:
                out[item.code] = missing
    return out


# ======================================================================================
# Household facts
# ======================================================================================


def age_at(birth: ir.Value, on: dt.date) -> ir.IntegerValue:
    """Full years (周岁) on `on`: the year's difference less one before the birthday. One
    born on 29 February turns a year older on 1 March of a common year."""
    before_birthday = (birth.month() * 100 + birth.day()) > (on.month * 100 + on.day)
    return ibis.literal(on.year) - birth.year() - ibis.ifelse(before_birthday, 1, 0)  # type: ignore[no-any-return]


def exit_facts(
    members: ir.Table, on: dt.date, compulsory_ages: tuple[int, int] = COMPULSORY_AGES
) -> ir.Table:
    """Per household_id: the EXIT_FACTS, with ages on `on`, and `member_rows`.

    A fact is null (no data) when a member's value it needs is unknown: a member without a
    birth date may be a child of school age, so neither children count can be told."""
    m = members
    lo, hi = compulsory_ages
    age = age_at(m.birth_date, on)
    child = (age >= lo) & (age <= hi)
    # At the top age a child who reached junior secondary has done the nine years; the
    # registry does not say whether grade 9 was finished, and at 15 most who reached it have.
    completed = m.education.isin(["junior", "senior", "college"]) & (age >= hi)
    out_of_school = child & (m.schooling == "none") & ~completed.fill_null(False)
    g = m.group_by("household_id").aggregate(
        member_rows=m.count(),
        _no_birth=_count(m, m.birth_date.isnull()),
        _no_schooling=_count(m, child & m.schooling.isnull()),
        _no_insurance=_count(m, m.has_medical_insurance.isnull()),
        compulsory_age_children=_count(m, child),
        out_of_school_children=_count(m, out_of_school),
        uninsured_people=_count(m, negate(m.has_medical_insurance)),
    )
    none = ibis.null("int64")
    return g.select(
        "household_id",
        "member_rows",
        compulsory_age_children=ibis.ifelse(g._no_birth > 0, none, g.compulsory_age_children),
        out_of_school_children=ibis.ifelse(
            (g._no_birth + g._no_schooling) > 0, none, g.out_of_school_children
        ),
        uninsured_people=ibis.ifelse(g._no_insurance > 0, none, g.uninsured_people),
    )


def household_facts(
    households: ir.Table,
    members: ir.Table,
    on: dt.date,
    compulsory_ages: tuple[int, int] = COMPULSORY_AGES,
) -> ir.Table:
    """Households with engine.score.member_facts and the EXIT_FACTS added (ages on `on`);
    a household without (current) members gets null — unknown, never "0 uninsured, 0 out of
    school", which would read 三保障 as met for nobody. A fact the household table already
    has is kept."""
    base = with_member_facts(households, members)
    facts = exit_facts(members, on, compulsory_ages)
    new = [c for c in EXIT_FACTS if c not in base.columns]
    if not new:
        return base
    joined = base.left_join(facts.select("household_id", "member_rows", *new), "household_id")
    # No member row: nothing to judge the household's people by — null (no data), as is a
    # null from exit_facts (unknown).
    return joined.select(*base.columns, **{c: joined[c].cast("int64") for c in new})


# ======================================================================================
# Judging
# ======================================================================================


def _judge(item: StandardItem, table: ir.Table, params: Mapping[str, Param]) -> tuple[Any, Any]:
    if item.kind == "confirm" or item.rule is None:
        return ibis.literal("to_confirm"), ibis.literal("")
    note = evidence(item.rule, table, params)
    if missing_names(item.rule, table.columns, params):
        return ibis.literal("no_data"), note
    cond = compile_rule(item.rule, table, params)
    if cond.type().is_null():  # a bare column of one household's None: unknown
        cond = cond.cast("boolean")
    if not cond.type().is_boolean():
        raise RuleError(item.rule.text, f"item {item.code}: the rule is not a condition")
    outcome = ibis.cases((cond.isnull(), "no_data"), (cond, "met"), else_="not_met")
    return outcome, note


def evaluate(
    table: ir.Table,
    standard: Standard,
    params: Mapping[str, Param],
    key: str = "household_id",
) -> ir.Table:
    """Judge every row of `table` on every item: `key, item, outcome, evidence`, one row per
    row and item, as one Ibis expression (a union of one projection per item).

    A data item whose columns are absent, or whose rule is null on a row, is "no_data"; a
    confirm item is "to_confirm". Rows come in no particular order."""
    if key not in table.columns:
        raise ValueError(f"the table has no {key!r} column")
    parts = []
    for item in standard.items:
        outcome, note = _judge(item, table, params)
        parts.append(
            table.select(
                table[key],
                item=ibis.literal(item.code),
                outcome=outcome.cast("string"),
                evidence=note.cast("string"),
            )
        )
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


#: The member columns `household_facts` reads (engine/synth.py's member fields), typed:
#: `evaluate_household` builds its members with it, a missing field as unknown (null).
MEMBER_SCHEMA = pa.schema(
    [
        ("household_id", pa.int64()),
        ("birth_date", pa.date32()),
        ("labour_skill", pa.string()),
        ("education", pa.string()),
        ("dropout_reason", pa.string()),
        ("schooling", pa.string()),
        ("speaks_mandarin", pa.bool_()),
        ("has_chronic_illness", pa.bool_()),
        ("has_serious_illness", pa.bool_()),
        ("is_disabled", pa.bool_()),
        ("disability_grade", pa.int8()),
        ("migrant_place", pa.string()),
        ("migrant_months", pa.int8()),
        ("has_medical_insurance", pa.bool_()),
        ("has_pension", pa.bool_()),
        ("has_serious_illness_insurance", pa.bool_()),
        ("has_commercial_insurance", pa.bool_()),
    ]
)


def _plain(value: Any) -> Any:
    # A Django TextChoices member is an Enum: Arrow wants its value.
    return value.value if isinstance(value, enum.Enum) else value


def _household_table(household: Mapping[str, Any]) -> pa.Table:
    columns = {}
    for name, value in household.items():
        try:
            columns[name] = pa.array([_plain(value)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
            raise ValueError(f"household field {name!r}: {value!r} is not a plain value") from e
    return pa.table(columns)


def evaluate_household(
    household: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    standard: Standard,
    params: Mapping[str, Param],
    on: dt.date,
    extra: Mapping[str, Any] | None = None,
) -> list[ItemResult]:
    """Judge one household (its fields, its members' fields, and `extra` columns such as
    identification_year) with the very expressions of `household_facts` and `evaluate`, on
    an in-memory DuckDB. Results come in the standard's item order."""
    fields = {**household, **(extra or {}), "household_id": 1}
    rows = [{k: _plain(v) for k, v in {**member, "household_id": 1}.items()} for member in members]
    con = ibis.duckdb.connect()
    h = ibis.memtable(_household_table(fields))
    m = ibis.memtable(pa.Table.from_pylist(rows, schema=MEMBER_SCHEMA))
    long = con.to_pyarrow(evaluate(household_facts(h, m, on), standard, params)).to_pylist()
    found = {row["item"]: row for row in long}
    return [
        ItemResult(item, cast(Outcome, found[item.code]["outcome"]), found[item.code]["evidence"])
        for item in standard.items
    ]


def verdict(results: Sequence[ItemResult], confirmed: bool | Collection[str] = False) -> Verdict:
    """Can the household exit? Only when every item is met. A confirm item counts as met
    when `confirmed` is True (the acceptance team checked them all) or names its code;
    else it stays unknown, as do "no_data" items. Blockers are the "not_met" items."""
    blockers, unknown = [], []
    for r in results:
        if r.outcome == "not_met":
            blockers.append(r)
        elif r.outcome == "no_data":
            unknown.append(r)
        elif r.outcome == "to_confirm":
            done = confirmed is True or (
                not isinstance(confirmed, bool) and r.item.code in confirmed
            )
            if not done:
                unknown.append(r)
    return Verdict(not blockers and not unknown, tuple(blockers), tuple(unknown))


# ======================================================================================
# Areas: poverty incidence and the facts of village and county standards
# ======================================================================================


def _strict_sum(t: ir.Table, col: ir.Value, where: ir.BooleanValue | None = None) -> ir.Value:
    """A sum that is null when a value summed is unknown: an area with one village of unknown
    population has an unknown population, not a smaller one."""
    unknown = col.isnull() if where is None else where & col.isnull()
    total = col.cast("int64").sum(where=where).fill_null(0)
    return ibis.ifelse(_count(t, unknown) > 0, ibis.null("int64"), total)


def _strict_count(
    t: ir.Table, cond: ir.BooleanValue, where: ir.BooleanValue | None = None
) -> ir.Value:
    """Rows where `cond` holds (among `where`); null when `cond` is unknown on one of them."""
    scope = ibis.literal(True) if where is None else where
    return ibis.ifelse(
        _count(t, scope & cond.isnull()) > 0, ibis.null("int64"), _count(t, scope & cond)
    )


def _ratio(numerator: ir.Value, denominator: ir.Value) -> ir.Value:
    d = denominator.cast("float64")
    return ibis.ifelse(d > 0, numerator.cast("float64") / d, ibis.null("float64"))


def poverty_incidence(
    households: ir.Table,
    areas: ir.Table,
    *,
    poor_statuses: Sequence[str] = POOR_STATUSES,
    key: str = "village_code",
) -> ir.Table:
    """Per area: poor_people, rural_population and poverty_incidence (贫困发生率 = poor
    people ÷ rural registered population, a fraction: 0.03 is 3%), DOMAIN.md §5, §10.

    `households` carry status, people and `key`; `areas` carry `key` and rural_population,
    one row per area or per village (then summed: county_code over village rows gives the
    county). When `areas` also carry wrongly_exited_people and omitted_people (the
    evaluation's estimates) the composite incidence is added: (poor + wrongly exited +
    omitted) ÷ rural population — 综合贫困发生率, the form the county exit evaluation uses.
    An area without households has 0 poor people; an unknown population or size gives a
    null incidence (no data)."""
    h, a = households, areas
    for name, t, needed in (
        ("households", h, (key, "status", "people")),
        ("areas", a, (key, "rural_population")),
    ):
        absent = [c for c in needed if c not in t.columns]
        if absent:
            raise ValueError(f"the {name} table has no {', '.join(absent)} column")
    composite = {"wrongly_exited_people", "omitted_people"} <= set(a.columns)
    sums = ["rural_population"] + (["wrongly_exited_people", "omitted_people"] if composite else [])
    pop = a.group_by(key).aggregate(**{c: _strict_sum(a, a[c]) for c in sums})
    poor = h.group_by(key).aggregate(
        _household_rows=h.count(),
        poor_people=_strict_sum(h, h.people, where=h.status.isin(list(poor_statuses))),
    )
    j = pop.left_join(poor, key)
    poor_people = ibis.ifelse(j._household_rows.isnull(), 0, j.poor_people)
    cols: dict[str, Any] = {
        "poor_people": poor_people.cast("int64"),
        "rural_population": j.rural_population,
        "poverty_incidence": _ratio(poor_people, j.rural_population),
    }
    if composite:
        cols["wrongly_exited_people"] = j.wrongly_exited_people
        cols["omitted_people"] = j.omitted_people
        cols["composite_incidence"] = _ratio(
            poor_people + j.wrongly_exited_people + j.omitted_people, j.rural_population
        )
    return j.select(j[key], **cols)


def _poor_counts(facts: ir.Table, poor: ir.BooleanValue) -> dict[str, ir.Value]:
    f = facts
    has = set(f.columns)
    out: dict[str, ir.Value] = {"poor_households": _count(f, poor)}
    if "is_dilapidated" in has:
        out["dilapidated_poor_households"] = _strict_count(f, f.is_dilapidated, poor)
    if "uninsured_people" in has:
        out["uninsured_poor_people"] = _strict_sum(f, f.uninsured_people, poor)
    if "out_of_school_children" in has:
        out["out_of_school_poor_children"] = _strict_sum(f, f.out_of_school_children, poor)
    if {"water_safe", "water_hard_to_get"} <= has:
        unsafe = negate(f.water_safe & negate(f.water_hard_to_get))
        out["poor_households_without_safe_water"] = _strict_count(f, unsafe, poor)
    if "has_household_power" in has:
        out["poor_households_without_power"] = _strict_count(f, negate(f.has_household_power), poor)
    if "has_radio_tv" in has:
        out["poor_households_without_tv"] = _strict_count(f, negate(f.has_radio_tv), poor)
    return out


def area_facts(
    facts: ir.Table,
    areas: ir.Table,
    *,
    key: str = "village_code",
    poor_statuses: Sequence[str] = POOR_STATUSES,
) -> ir.Table:
    """The table a village or county standard is evaluated on (key `area_code`): the areas'
    own facts (VILLAGE_FACTS / COUNTY_FACTS, one row per area), the REGISTRY_AREA_FACTS
    counted over each area's poor households in `facts` (from `household_facts`, with
    status and `key`), and `poverty_incidence`. A count whose household columns are absent
    is left out (its items read "no data")."""
    f = facts
    if "status" not in f.columns or key not in f.columns:
        raise ValueError(f"the household facts need status and {key!r} columns")
    poor = f.status.isin(list(poor_statuses))
    counts = f.group_by(key).aggregate(_household_rows=f.count(), **_poor_counts(f, poor))
    incidence = poverty_incidence(f, areas, poor_statuses=poor_statuses, key=key)
    counted = [c for c in counts.columns if c not in (key, "_household_rows")]
    measured = [c for c in incidence.columns if c != key]
    own = [c for c in areas.columns if c not in counted + measured]
    j = areas.select(*own).left_join(counts, key).left_join(incidence, key)
    # An area without any household in the registry has no poor household to count: 0.
    no_households = j._household_rows.isnull()
    filled = {c: ibis.ifelse(no_households, 0, j[c]).cast("int64") for c in counted}
    return j.select(
        area_code=j[key],
        **{c: j[c] for c in own if c != key},
        **filled,
        **{c: j[c] for c in measured},
    )


def villages_to_counties(villages: ir.Table) -> ir.Table:
    """County facts from village rows (county_code + VILLAGE_FACTS): the populations summed
    and the villages lacking a hardened road, a clinic or a service centre counted (null
    when a village's value is unknown). Join it to the counties' own facts."""
    v = villages
    cols: dict[str, ir.Value] = {"villages": v.count()}
    for c in ("rural_population", "wrongly_exited_people", "omitted_people"):
        if c in v.columns:
            cols[c] = _strict_sum(v, v[c])
    for fact, out in (
        ("road_hardened", "villages_without_hardened_road"),
        ("has_clinic", "villages_without_clinic"),
        ("has_service_centre", "villages_without_service_centre"),
    ):
        if fact in v.columns:
            cols[out] = _strict_count(v, negate(v[fact]))
    return v.group_by("county_code").aggregate(**cols)


# ======================================================================================
# Guangxi's county difficulty ranking (DOMAIN.md §5)
# ======================================================================================

DIRECTIONS = ("higher_is_harder", "lower_is_harder")


@dataclass(frozen=True)
class Indicator:
    column: str
    label: str
    label_en: str
    direction: Literal["higher_is_harder", "lower_is_harder"]
    weight: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class DifficultySpec:
    code: str
    version: str
    effective: dt.date
    name: str
    name_en: str
    source: str
    indicators: tuple[Indicator, ...]
    notes: str = ""


def parse_difficulty(text: str, source: str = "<difficulty>") -> DifficultySpec:
    """Parse a ranking spec (engine/standards/FORMAT.md); `StandardError` lists every
    problem."""
    r = _Reader(text, source, "indicators")
    doc = r.load()
    head = r.header(doc, set())
    indicators: list[Indicator] = []
    seen: set[str] = set()
    for index, m in r.entries(doc, "indicator"):
        before = len(r.problems)
        column = m.get("column")
        name = column if isinstance(column, str) and column else f"#{index + 1}"
        if not isinstance(column, str) or not _NAME.match(column):
            r.fail(f"'column' must be a lower-case column name, not {column!r}", "column",
                   index, name)  # fmt: skip
        elif column in seen:
            r.fail(f"column {column!r} is used twice", "column", index, name)
        seen.add(str(column))
        for key in m:
            if key not in _INDICATOR_KEYS:
                r.fail(f"unknown key {key!r}", key, index, name)
        label = r.text_value(m, "label", index, name)
        label_en = r.text_value(m, "label_en", index, name)
        src = r.text_value(m, "source", index, name)
        note = r.text_value(m, "note", index, name, required=False)
        direction = m.get("direction")
        if direction not in DIRECTIONS:
            r.fail(f"'direction' must be one of {', '.join(DIRECTIONS)}, not {direction!r}",
                   "direction", index, name)  # fmt: skip
        weight = m.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            r.fail(f"'weight' must be a positive number, not {weight!r}", "weight", index, name)
        if len(r.problems) == before:
            indicators.append(
                Indicator(
                    str(column), label, label_en, cast(Any, direction), float(weight), src, note
                )
            )
    r.done()
    return DifficultySpec(
        head["code"],
        head["version"],
        head["effective"],
        head["name"],
        head["name_en"],
        head["source"],
        tuple(indicators),
        head["notes"],
    )


def load_difficulty(path: Path | str = DIFFICULTY_FILE) -> DifficultySpec:
    path = Path(path)
    return parse_difficulty(path.read_text(encoding="utf-8"), source=path.name)


def rank_counties(table: ir.Table, spec: DifficultySpec, key: str = "county_code") -> ir.Table:
    """Rank counties by difficulty of exit (按因素法测算各县脱贫难易程度).

    Each indicator is min-max normalised over the counties to 0 (easiest) … 1 (hardest),
    turned round when lower is harder, and an indicator on which every county is equal adds
    0; `difficulty` is the weighted mean of the parts, `rank` 1 the hardest county (the one
    to exit last). Equal difficulty shares a rank and the next rank is skipped (1, 1, 3):
    the data do not order them. A county missing an indicator has no difficulty and no
    rank. Returns key, difficulty, rank, part_<column> per indicator."""
    absent = [c for c in (key, *(i.column for i in spec.indicators)) if c not in table.columns]
    if absent:
        raise ValueError(f"the county table has no {', '.join(absent)} column")
    t = table
    parts: dict[str, ir.Value] = {}
    for ind in spec.indicators:
        x = t[ind.column].cast("float64")
        lo, hi = x.min().over(), x.max().over()
        span = hi - lo
        up = x - lo if ind.direction == "higher_is_harder" else hi - x
        part = ibis.ifelse(span > 0, up / span, ibis.literal(0.0))
        parts[f"part_{ind.column}"] = ibis.ifelse(x.isnull(), ibis.null("float64"), part)
    weights = sum(i.weight for i in spec.indicators)
    scored = t.select(t[key], **parts)
    total: Any = ibis.literal(0.0)
    for ind in spec.indicators:
        total = total + scored[f"part_{ind.column}"] * ind.weight
    scored = scored.mutate(difficulty=total / weights)
    order = ibis.rank().over(order_by=[scored.difficulty.isnull(), ibis.desc(scored.difficulty)])
    ranked = scored.mutate(
        rank=ibis.ifelse(scored.difficulty.isnull(), ibis.null("int64"), (order + 1).cast("int64"))
    )
    return ranked.select(key, "difficulty", "rank", *parts)
