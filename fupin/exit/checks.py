"""A household judged by the exit standards of its province (DOMAIN.md §5), from registry data.

The facts are the registry's: the household's own fields, its current members, its income
of the judged year and of the year before (per-capita net income), the year it was
registered, its status, the support measures of the year (fupin/support Measure) and the
county's 低保 line (the county's AreaFacts for the year, else the policy's). They go to
the engine (`engine.standards`): `evaluate_household` for one household's page,
`household_facts` + `evaluate` over a table for many at once (a round's proposals, a
guard, a county's announcement) — the same expressions either way.

No Django writes here, and no scoping: callers pass the households a user may see.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import pyarrow as pa
from django.db.models import Q
from django.utils import timezone

from engine.rules import Param
from engine.standards import (
    MEMBER_SCHEMA,
    ItemResult,
    Standard,
    Verdict,
    evaluate,
    evaluate_household,
    household_facts,
    standard_in_force,
    verdict,
)
from fupin.exit import policy
from fupin.identify.policy import poverty_lines
from fupin.registry.loading import H_FIELDS, M_FIELDS
from fupin.registry.models import Household, HouseholdIncome, Member

#: Member fields the standards may read (resident ID and name are never needed).
MEMBER_FIELDS = [f for f in M_FIELDS if f not in ("name", "id_number")]
HOUSEHOLD_FIELDS = [f for f in H_FIELDS if f not in ("phone", "bank_name", "bank_account")]


def _plain(value: Any) -> Any:
    """Amounts as floats: the engine compares them with the line, a float parameter."""
    return float(value) if isinstance(value, Decimal) else value


def line_of(year: int) -> Decimal | None:
    """The national line of exactly `year` (fupin/identify/policy/poverty_lines.toml): a
    year without its own line has none here — the income items read "no data" rather than
    another year's line."""
    return poverty_lines().get(year)


def params_for(year: int) -> dict[str, Param]:
    """The parameters every household standard may read; without a line for the year the
    income items read "no data" rather than a guess."""
    line = line_of(year)
    params: dict[str, Param] = {"year": year}
    if line is not None:
        params["poverty_line"] = float(line)
    return params


def judged_on(year: int, today: dt.date | None = None) -> dt.date:
    """Ages are taken on this day: today in the current year, 31 December of a past one."""
    today = today or timezone.localdate()
    return min(today, dt.date(year, 12, 31))


# --------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------

#: Ids per `__in` query: a county's round names tens of thousands of households, and
#: SQLite and PostgreSQL both take a thousand parameters at ease.
CHUNK = 1000


def chunks(ids: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def _measures(household_ids: Sequence[int], year: int) -> dict[int, tuple[int, int]]:
    """Per household: measures of its plan running in `year` (not dropped), and of those
    the ones with a recorded result."""
    from fupin.support.models import Measure, MeasureStatus

    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for part in chunks(household_ids):
        rows = (
            Measure.objects.filter(plan__household_id__in=part, starts_on__lte=end)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=start))
            .exclude(status=MeasureStatus.DROPPED)
            .values_list("plan__household_id", "result")
        )
        for hid, result in rows:
            counts[hid][0] += 1
            counts[hid][1] += int(bool(result.strip()))
    return {hid: (n, r) for hid, (n, r) in counts.items()}


def _incomes(people: Mapping[int, int], year: int) -> dict[tuple[int, int], float]:
    """Per-capita net income of `year` and of the year before, per (household, year), over
    the household's current members, computed as the registry computes the latest
    (net ÷ people). A year without an income row is absent: the item reads no data."""
    out: dict[tuple[int, int], float] = {}
    for part in chunks(list(people)):
        for income in HouseholdIncome.objects.filter(
            household_id__in=part, year__in=[year - 1, year]
        ):
            n = people.get(income.household_id)
            if not n:
                continue
            per_capita = (income.net / n).quantize(Decimal("0.01"), ROUND_HALF_UP)
            out[(income.household_id, income.year)] = float(per_capita)
    return out


def _dibao_lines(counties: set[str], year: int) -> dict[str, Decimal]:
    """The 低保 line each county entered for `year` (AreaFacts.dibao_line, the village and
    county facts the county keeps)."""
    from fupin.exit.models import AreaFacts

    rows = (
        AreaFacts.objects.filter(area_id__in=sorted(counties), year=year)
        .exclude(dibao_line__isnull=True)
        .values_list("area_id", "dibao_line")
    )
    return {area: line for area, line in rows if line is not None}


def dibao_line(village_code: str, year: int, entered: Mapping[str, Decimal]) -> Decimal | None:
    """The household's county's 低保 line for `year`: the county's own figure (AreaFacts)
    first, else the policy's row (exit.toml `dibao_line`), else none."""
    line = entered.get(village_code[:6])
    return line if line is not None else policy.dibao_line(village_code, year)


def facts_for(
    households: Iterable[Household], year: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The household rows (fields and the platform's extra columns) and the current members'
    rows of these households, as plain values keyed by `household_id`. The income is the
    judged year's (`per_capita_income`, `income_year`) and the year before's (`income_prev`),
    never the latest of another year."""
    rows = []
    for h in households:
        row: dict[str, Any] = {name: _plain(getattr(h, name)) for name in HOUSEHOLD_FIELDS}
        row["other_causes"] = ",".join(h.other_causes) if h.other_causes else ""
        row.update(
            household_id=h.pk,
            village_code=h.village_id,
            county_code=h.village_id[:6],
            people=h.people,
            identification_year=h.identification_year,
            status=h.status,
        )
        rows.append(row)
    ids = [r["household_id"] for r in rows]
    measures = _measures(ids, year)
    incomes = _incomes({r["household_id"]: r["people"] for r in rows}, year)
    entered = _dibao_lines({r["county_code"] for r in rows}, year)
    for row in rows:
        hid = row["household_id"]
        row["measures_this_year"], row["measures_with_result_this_year"] = measures.get(hid, (0, 0))
        row["per_capita_income"] = incomes.get((hid, year))
        row["income_year"] = year if (hid, year) in incomes else None
        row["income_prev"] = incomes.get((hid, year - 1))
        line = dibao_line(row["village_code"], year, entered)
        row["dibao_line"] = float(line) if line is not None else None
    members = []
    for part in chunks(ids):
        members += [
            {"household_id": m["household_id"], **{k: m[k] for k in MEMBER_FIELDS}}
            for m in Member.objects.filter(household_id__in=part, left_on__isnull=True)
            .order_by("household_id", "pk")
            .values("household_id", *MEMBER_FIELDS)
        ]
    return rows, members


# --------------------------------------------------------------------------------------
# One household: its page
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StandardCheck:
    """A standard judged on one household, item by item."""

    standard: Standard
    results: list[ItemResult]
    verdict: Verdict


@dataclass(frozen=True)
class HouseholdCheck:
    household: Household
    year: int
    on: dt.date
    poverty_line: Decimal | None
    rules: policy.ProvinceRules
    standards: list[StandardCheck]
    #: Standards the province names that have no version in force (shown, never guessed).
    missing: list[str] = field(default_factory=list)

    @property
    def can_exit(self) -> bool:
        return not self.missing and all(s.verdict.can_exit for s in self.standards)

    @property
    def blockers(self) -> list[tuple[Standard, ItemResult]]:
        return [(s.standard, r) for s in self.standards for r in s.verdict.blockers]

    @property
    def unknown(self) -> list[tuple[Standard, ItemResult]]:
        return [(s.standard, r) for s in self.standards for r in s.verdict.unknown]

    @property
    def summary(self) -> str:
        """ "met", "blocked" or "unknown": the page's badge."""
        if self.blockers:
            return "blocked"
        return "met" if self.can_exit else "unknown"


def _confirmed(results: list[ItemResult], confirmed: Mapping[str, tuple[bool, str]]) -> list[Any]:
    """Confirm items replaced by what the acceptance team found, when it has checked them."""
    out = []
    for r in results:
        found = confirmed.get(r.item.code)
        if r.outcome == "to_confirm" and found is not None:
            met, note = found
            r = ItemResult(r.item, "met" if met else "not_met", note)
        out.append(r)
    return out


def check_household(
    household: Household,
    year: int | None = None,
    *,
    on: dt.date | None = None,
    confirmed: Mapping[str, Mapping[str, tuple[bool, str]]] | None = None,
) -> HouseholdCheck:
    """Judge a household by every standard of its province for `year` (default: this
    year). `confirmed` maps a standard's code to {item code: (met, evidence)} from a
    completed acceptance form: those confirm items count as checked."""
    year = year or timezone.localdate().year
    on = on or judged_on(year)
    rules = policy.rules_for(household.village_id)
    rows, members = facts_for([household], year)
    row = rows[0]
    params = params_for(year)
    checks, missing = [], []
    for code in rules.standards:
        try:
            standard = standard_in_force(code, on)
        except LookupError:
            missing.append(code)
            continue
        results = evaluate_household(row, members, standard, params, on)
        results = _confirmed(results, (confirmed or {}).get(code, {}))
        checks.append(StandardCheck(standard, results, verdict(results)))
    return HouseholdCheck(
        household=household,
        year=year,
        on=on,
        poverty_line=line_of(year),
        rules=rules,
        standards=checks,
        missing=missing,
    )


# --------------------------------------------------------------------------------------
# Many households: proposals and guards
# --------------------------------------------------------------------------------------


def _table(rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    if schema is not None:
        return pa.Table.from_pylist(rows, schema=schema)
    names = list(rows[0]) if rows else ["household_id"]
    columns = {}
    for name in names:
        values = [r.get(name) for r in rows]
        array = pa.array(values)
        # A column with no value at all still needs a type the rules can compare.
        columns[name] = array.cast(pa.float64()) if pa.types.is_null(array.type) else array
    return pa.table(columns)


def evaluate_many(
    households: Iterable[Household], standard: Standard, year: int, on: dt.date
) -> dict[int, list[ItemResult]]:
    """Judge many households by one standard in one engine query: household id → results
    in the standard's item order (the same results `evaluate_household` gives each)."""
    rows, members = facts_for(households, year)
    if not rows:
        return {}
    con = ibis.duckdb.connect()
    h = ibis.memtable(_table(rows))
    m = ibis.memtable(_table(members, MEMBER_SCHEMA))
    long = con.to_pyarrow(
        evaluate(household_facts(h, m, on), standard, params_for(year))
    ).to_pylist()
    items = {i.code: i for i in standard.items}
    by_household: dict[int, dict[str, ItemResult]] = defaultdict(dict)
    for r in long:
        by_household[r["household_id"]][r["item"]] = ItemResult(
            items[r["item"]], r["outcome"], r["evidence"]
        )
    return {hid: [found[i.code] for i in standard.items] for hid, found in by_household.items()}


def check_json(standard: Standard, results: Sequence[ItemResult]) -> list[dict[str, str]]:
    """Results as kept with a proposal (`RoundHousehold.results`)."""
    return [
        {
            "standard": standard.code,
            "version": standard.version,
            "item": r.item.code,
            "outcome": r.outcome,
            "evidence": r.evidence,
        }
        for r in results
    ]
