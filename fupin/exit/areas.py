"""Village and county exit (贫困村、贫困县摘帽, DOMAIN.md §5, §10), computed for pages.

A page build for an area takes **one** registry snapshot of the area's poor households
(`write_snapshot` with the incidence's statuses: only they count, and they are a fifth or
less of the registry) and runs the engine on it once, on one DuckDB connection:
`household_facts` → `area_facts` (the counts over poor households and the poverty
incidence, joined to the villages' or counties' `AreaFacts`) → `evaluate` of the
province's standards, key `area_code`. No Python loop runs over households.

- `judge_villages(user, area_code, year)`: every village of the area by the province's
  village standard (Guangxi 十一有一低于), or its incidence and facts only where the
  province has none.
- `judge_counties(user, area_code, year)`: every county of the area by the province's
  county standard (Guangxi 九有一低于) and the national thresholds (综合贫困发生率,
  错退率, 漏评率, 认可度) with the region's incidence limit; the county facts about villages
  (roads, clinics, service centres) from its villages' facts (`villages_to_counties`).
- `rank(user, area_code, year)`: Guangxi's county difficulty ranking from its 8
  indicators, registry-derived where the registry holds them.

Facts entered for a county win over the sum of its villages' (the statistics bureau's
figure for the county is the one the evaluation uses); without one the villages' sum is
used, unknown when one village's is. A village or county without facts has every fact
unknown: its items read "no data", never a guess.

**Past years.** A past year is counted as the registry stood on 31 December of it:
`write_snapshot(..., on=31 December, year=the year)` selects the households whose status on
that day — from the status history, every transition dated (DOMAIN.md §2) — is a poor one,
with the members present that day and that year's income (fupin/registry/snapshot.py, "As
of a day"). A household exited in 2017 is poor in 2016 and not in 2018; one registered in
2018 is not poor in 2016; a member who left in 2017 counts in 2016. The current year (and a
later one) is today's registry, as it stands. What the registry keeps no history of —
living conditions, relocation, land, the members' health — is today's in every year; the
pages of a past year say whose poor people they count (`Board.past_year`,
`Board.as_of`).

No writes here. The snapshot is the user's (`for_user`), and callers check that the
area is within the user's reach.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from django.utils import timezone

from engine.rules import Param
from engine.standards import (
    POOR_STATUSES,
    DifficultySpec,
    ItemResult,
    Standard,
    Verdict,
    area_facts,
    evaluate,
    household_facts,
    load_difficulty,
    rank_counties,
    verdict,
    villages_to_counties,
)
from engine.standards import STANDARDS_DIR as ENGINE_STANDARDS_DIR
from fupin.core.models import Area, AreaLevel
from fupin.exit import checks, facts, policy
from fupin.exit.models import AreaFacts
from fupin.registry.loading import HOUSEHOLDS_FILE, MEMBERS_FILE
from fupin.registry.snapshot import write_snapshot

_ARROW = {
    "count": pa.int64(),
    "score": pa.int64(),
    "bool": pa.bool_(),
    "money": pa.float64(),
    "percent": pa.float64(),
}
#: The county's facts derived from its villages (villages_to_counties).
FROM_VILLAGES = (
    "villages_without_hardened_road",
    "villages_without_clinic",
    "villages_without_service_centre",
)
#: County facts that may come from the county's own entry or from its villages' sum.
SUMMED = ("rural_population", "wrongly_exited_people", "omitted_people")
#: The evaluation's rates (DOMAIN.md §10), as (rate, part, whole) of the county's facts.
RATES = (
    ("wrong_exit_rate", "sample_wrongly_exited_people", "sample_exited_people"),
    ("omission_rate", "sample_omitted_people", "sample_unregistered_people"),
    ("satisfaction", "satisfied_households", "surveyed_households"),
)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StandardCheck:
    """A standard judged on one village or county, item by item, with its verdict."""

    standard: Standard
    results: list[ItemResult]
    verdict: Verdict

    @property
    def met(self) -> int:
        return sum(r.outcome == "met" for r in self.results)

    @property
    def total(self) -> int:
        return len(self.results)


@dataclass(frozen=True)
class AreaCheck:
    """One village or county: its row of facts (entered, counted, computed), the record of
    entered facts, and the standards judged on it."""

    area: Area
    row: dict[str, Any]
    record: AreaFacts | None
    checks: list[StandardCheck] = field(default_factory=list)
    #: For a county: where a summed fact came from ("county" or "villages"), by name.
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.area.code

    @property
    def incidence(self) -> float | None:
        value = self.row.get("poverty_incidence")
        return None if value is None else float(value)

    @property
    def composite_incidence(self) -> float | None:
        value = self.row.get("composite_incidence")
        return None if value is None else float(value)

    @property
    def poor_people(self) -> int:
        return int(self.row.get("poor_people") or 0)

    @property
    def ready(self) -> bool | None:
        """Exit-ready by every standard judged; None without a standard."""
        if not self.checks:
            return None
        return all(c.verdict.can_exit for c in self.checks)

    @property
    def blocked(self) -> bool:
        return any(c.verdict.blockers for c in self.checks)

    @property
    def met(self) -> int:
        return sum(c.met for c in self.checks)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.checks)


@dataclass(frozen=True)
class Board:
    """The villages or counties of an area judged for a year."""

    area: Area
    year: int
    on: dt.date
    rules: policy.AreaExitRules
    region: policy.Region
    params: dict[str, Param]
    standards: list[Standard]
    #: Standards the province names that have no version in force that year.
    missing: list[str]
    rows: list[AreaCheck]
    #: Seconds: "snapshot" (reading the registry) and "engine" (facts and standards).
    timing: dict[str, float]
    households: int  # poor households read from the registry

    def get(self, code: str) -> AreaCheck | None:
        return next((r for r in self.rows if r.code == code), None)

    @property
    def past_year(self) -> bool:
        """A past year: its poor people are those of 31 December of it (`as_of`)."""
        return self.year < timezone.localdate().year

    @property
    def as_of(self) -> dt.date | None:
        """The day the registry is read as of: 31 December of a past year; None (today's
        registry) for the current year or a later one."""
        return _as_of(self.year)


def _as_of(year: int) -> dt.date | None:
    """31 December of a past year (module docstring, "Past years"), else None: today."""
    return dt.date(year, 12, 31) if year < timezone.localdate().year else None


# --------------------------------------------------------------------------------------
# The snapshot and the engine
# --------------------------------------------------------------------------------------


@contextmanager
def _poor_snapshot(
    user: Any, area_code: str, year: int, timing: dict[str, float], counted: list[int]
) -> Iterator[tuple[Any, ir.Table, ir.Table]]:
    """A DuckDB connection and the household facts (engine.standards.household_facts) of
    the area's poor households as the user may see them, from one snapshot: today's, or
    for a past year as of its 31 December with its income (module docstring)."""
    started = time.monotonic()
    on = _as_of(year)
    with tempfile.TemporaryDirectory(prefix="fupin-exit-") as folder:
        written = write_snapshot(
            user,
            area_code,
            folder,
            statuses=POOR_STATUSES,
            on=on,
            year=None if on is None else year,
        )
        counted.append(written["households"])
        timing["snapshot"] = time.monotonic() - started
        con = ibis.duckdb.connect()
        households = con.read_parquet(Path(folder) / HOUSEHOLDS_FILE)
        members = con.read_parquet(Path(folder) / MEMBERS_FILE)
        yield con, households, members
        con.disconnect()


def _area_table(rows: Sequence[Mapping[str, Any]], key: str, level: int) -> pa.Table:
    """The areas' own facts, typed so that an unknown value is a typed null."""
    names = [f.name for f in facts.facts_for(level)]
    schema = [(key, pa.string())]
    if level == AreaLevel.VILLAGE:
        schema.append(("county_code", pa.string()))
    schema += [(n, _ARROW[facts.BY_NAME[n].kind]) for n in names]
    extra = [(n, pa.int64()) for n in ("villages", *FROM_VILLAGES)]
    extra += [(rate, pa.float64()) for rate, *_ in RATES]
    known = {n for n, _t in schema}
    schema += [(n, t) for n, t in extra if n not in known and any(n in r for r in rows)]
    return pa.Table.from_pylist(
        [{n: r.get(n) for n, _t in schema} for r in rows], schema=pa.schema(schema)
    )


def _record_row(record: AreaFacts | None, level: int) -> dict[str, Any]:
    return {
        f.name: facts.plain(getattr(record, f.name)) if record is not None else None
        for f in facts.facts_for(level)
    }


def _ratio(part: Any, whole: Any) -> float | None:
    if part is None or whole is None or not whole:
        return None
    return float(part) / float(whole)


def _judge(
    table: ir.Table,
    con: Any,
    standards: Sequence[Standard],
    params: Mapping[str, Param],
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, ItemResult]]]:
    """Rows of the area table and the standards' results by (area, standard code)."""
    t = con.create_table("_area_exit", table, temp=True)
    rows = con.to_pyarrow(t).to_pylist()
    results: dict[tuple[str, str], dict[str, ItemResult]] = {}
    for standard in standards:
        items = {i.code: i for i in standard.items}
        for r in con.to_pyarrow(evaluate(t, standard, params, key="area_code")).to_pylist():
            found = ItemResult(items[r["item"]], r["outcome"], r["evidence"])
            results.setdefault((r["area_code"], standard.code), {})[r["item"]] = found
    return rows, results


def _confirmed(
    results: list[ItemResult], record: AreaFacts | None, confirmed_by: Mapping[str, str]
) -> list[ItemResult]:
    """A confirm item whose finding the county entered (e.g. 两委班子 by `committees_good`)
    becomes met or not met, with the finding as its evidence."""
    out = []
    for r in results:
        name = confirmed_by.get(r.item.code)
        value = getattr(record, name, None) if (record is not None and name) else None
        if r.outcome == "to_confirm" and value is not None:
            r = ItemResult(r.item, "met" if value else "not_met", f"{name}={str(value).lower()}")
        out.append(r)
    return out


def _checks(
    area: Area,
    record: AreaFacts | None,
    standards: Sequence[Standard],
    results: Mapping[tuple[str, str], Mapping[str, ItemResult]],
    confirmed_by: Mapping[str, str],
) -> list[StandardCheck]:
    out = []
    for standard in standards:
        found = results.get((area.code, standard.code), {})
        ordered = [found[i.code] for i in standard.items if i.code in found]
        ordered = _confirmed(ordered, record, confirmed_by)
        out.append(StandardCheck(standard, ordered, verdict(ordered)))
    return out


def _params(year: int, region: policy.Region) -> dict[str, Param]:
    params = checks.params_for(year)
    params["incidence_limit"] = region.incidence_limit
    return params


def _standards(codes: Sequence[str], on: dt.date) -> tuple[list[Standard], list[str]]:
    found, missing = [], []
    for code in codes:
        if not code:
            continue
        standard = policy.area_standard(code, on)
        if standard is None:
            missing.append(code)
        else:
            found.append(standard)
    return found, missing


def _records(area_code: str, level: int, year: int) -> dict[str, AreaFacts]:
    return {
        f.area_id: f
        for f in AreaFacts.objects.filter(
            area__code__startswith=area_code, area__level=level, year=year
        )
    }


def _areas(area: Area, level: int) -> list[Area]:
    if area.level == level:
        return [area]
    return list(Area.objects.filter(code__startswith=area.code, level=level).order_by("code"))


# --------------------------------------------------------------------------------------
# Villages
# --------------------------------------------------------------------------------------


def judge_villages(user: Any, area: Area, year: int) -> Board:
    """Every village of `area` (itself when it is a village) judged for `year`: incidence
    from the registry, the village standard of the province item by item."""
    on = checks.judged_on(year)
    rules = policy.area_rules_for(area.code)
    region = policy.region_for(area.code)
    standards, missing = _standards([rules.village_standard], on)
    params = _params(year, region)
    villages = _areas(area, AreaLevel.VILLAGE)
    records = _records(area.code, AreaLevel.VILLAGE, year)
    own = [
        {
            "village_code": v.code,
            "county_code": v.code[:6],
            **_record_row(records.get(v.code), AreaLevel.VILLAGE),
        }
        for v in villages
    ]
    timing: dict[str, float] = {}
    counted: list[int] = []
    with _poor_snapshot(user, area.code, year, timing, counted) as (con, households, members):
        started = time.monotonic()
        hf = household_facts(households, members, on)
        table = area_facts(
            hf,
            ibis.memtable(_area_table(own, "village_code", AreaLevel.VILLAGE)),
            key="village_code",
        )
        rows, results = _judge(table, con, standards, params)
        timing["engine"] = time.monotonic() - started
    by_code = {r["area_code"]: r for r in rows}
    out = [
        AreaCheck(
            v,
            by_code.get(v.code, {}),
            records.get(v.code),
            _checks(v, records.get(v.code), standards, results, rules.confirmed_by),
        )
        for v in villages
    ]
    return Board(area, year, on, rules, region, params, standards, missing, out, timing, counted[0])


# --------------------------------------------------------------------------------------
# Counties
# --------------------------------------------------------------------------------------


def _county_rows(
    counties: Sequence[Area], area_code: str, year: int, con: Any
) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """The counties' own facts, completed from their villages' facts: the sums where the
    county entered none, the villages lacking a road, clinic or service centre, the 低保 line
    of the policy where the county entered none, and the evaluation's rates."""
    village_rows = [
        {"village_code": code, "county_code": code[:6], **_record_row(rec, AreaLevel.VILLAGE)}
        for code, rec in _village_records(area_code, year).items()
    ]
    summed: dict[str, dict[str, Any]] = {}
    if village_rows:
        table = ibis.memtable(_area_table(village_rows, "village_code", AreaLevel.VILLAGE))
        summed = {
            r["county_code"]: r for r in con.to_pyarrow(villages_to_counties(table)).to_pylist()
        }
    records = _records(area_code, AreaLevel.COUNTY, year)
    rows, provenance = [], {}
    for county in counties:
        record = records.get(county.code)
        row: dict[str, Any] = {"county_code": county.code}
        row.update(_record_row(record, AreaLevel.COUNTY))
        from_villages = summed.get(county.code, {})
        origin: dict[str, str] = {}
        for name in SUMMED:
            if row.get(name) is not None:
                origin[name] = "county"
            elif from_villages.get(name) is not None:
                row[name] = from_villages[name]
                origin[name] = "villages"
        row["villages"] = from_villages.get("villages", 0)
        for name in FROM_VILLAGES:
            row[name] = from_villages.get(name)
        if row.get("dibao_line") is None:
            line = policy.dibao_line(county.code, year)
            if line is not None:
                row["dibao_line"] = float(line)
                origin["dibao_line"] = "policy"
        else:
            origin["dibao_line"] = "county"
        for rate, part, whole in RATES:
            row[rate] = _ratio(row.get(part), row.get(whole))
        rows.append(row)
        provenance[county.code] = origin
    return rows, provenance


def _village_records(area_code: str, year: int) -> dict[str, AreaFacts | None]:
    """Every village of the area with its facts of the year (None without)."""
    records = _records(area_code, AreaLevel.VILLAGE, year)
    codes = Area.objects.filter(code__startswith=area_code, level=AreaLevel.VILLAGE)
    return {code: records.get(code) for code in codes.values_list("code", flat=True)}


def _registry_extras(hf: ir.Table) -> ir.Table:
    """Per county, over its poor households: the people to relocate (a relocation type on
    record) and their farmland and forest (the ranking's registry-derived indicators)."""
    poor = hf.status.isin(list(POOR_STATUSES))
    relocating = poor & (hf.relocation_type.fill_null("") != "")
    # Strict, as the engine's sums (engine.standards._strict_sum): land unknown on one poor
    # household makes the county's land unknown — the county lacks the indicator — never
    # 0 mu, which would make it look harder than it is.
    land = hf.farmland_mu.cast("float64") + hf.forest_mu.cast("float64")
    unknown = (poor & land.isnull()).cast("int64").sum().fill_null(0)
    return hf.group_by("county_code").aggregate(
        relocation_people=hf.people.cast("int64").sum(where=relocating).fill_null(0),
        land_mu=ibis.ifelse(unknown > 0, ibis.null("float64"), land.sum(where=poor)),
    )


def judge_counties(user: Any, area: Area, year: int) -> Board:
    """Every county of `area` (itself when it is a county) judged for `year`: the county
    standard of the province and the national thresholds with the region's limit."""
    on = checks.judged_on(year)
    rules = policy.area_rules_for(area.code)
    region = policy.region_for(area.code)
    exit_policy = policy.policy()
    standards, missing = _standards([rules.county_standard, exit_policy.county_exit_standard], on)
    params = _params(year, region)
    counties = _areas(area, AreaLevel.COUNTY)
    records = _records(area.code, AreaLevel.COUNTY, year)
    timing: dict[str, float] = {}
    counted: list[int] = []
    with _poor_snapshot(user, area.code, year, timing, counted) as (con, households, members):
        started = time.monotonic()
        own, provenance = _county_rows(counties, area.code, year, con)
        hf = household_facts(households, members, on)
        table = area_facts(
            hf,
            ibis.memtable(_area_table(own, "county_code", AreaLevel.COUNTY)),
            key="county_code",
        )
        extras = _registry_extras(hf)
        joined = table.left_join(extras, table.area_code == extras.county_code)
        # A county without a poor household has nobody to relocate; its land per poor
        # person is unknown anyway (no poor person to divide by).
        table = joined.drop("county_code").mutate(
            relocation_people=joined.relocation_people.fill_null(0),
        )
        rows, results = _judge(table, con, standards, params)
        timing["engine"] = time.monotonic() - started
    by_code = {r["area_code"]: r for r in rows}
    out = [
        AreaCheck(
            c,
            by_code.get(c.code, {}),
            records.get(c.code),
            _checks(c, records.get(c.code), standards, results, {}),
            provenance.get(c.code, {}),
        )
        for c in counties
    ]
    return Board(area, year, on, rules, region, params, standards, missing, out, timing, counted[0])


# --------------------------------------------------------------------------------------
# Guangxi's county difficulty ranking
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedCounty:
    check: AreaCheck
    #: indicator column → value (None: unknown)
    values: dict[str, float | None]
    #: indicator column → where the value came from ("registry", "facts", a campaign's name)
    origins: dict[str, str]
    parts: dict[str, float | None]
    difficulty: float | None
    rank: int | None
    #: Why a county has no rank: "no_poor" or the indicators it lacks.
    unranked: str = ""
    lacking: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranking:
    board: Board
    spec: DifficultySpec | None
    #: The counties considered: the poor counties (贫困县) when any county of the area is
    #: flagged, else every county.
    counties: list[RankedCounty]
    seconds: float
    #: Whether a county of the area is flagged poor (贫困县): then only those are ranked.
    flagged: bool = False
    #: Counties ranked: each indicator is scaled over them only.
    ranked: int = 0


def _campaign_lines(user: Any, codes: Sequence[str], year: int) -> dict[str, tuple[int, str]]:
    """The cutoff score of each county's latest identification campaign up to `year`
    (identify's CampaignCounty.line) and the campaign's name."""
    from fupin.identify.models import CampaignCounty

    found: dict[str, tuple[int, str]] = {}
    rows = (
        CampaignCounty.objects.for_user(user)
        .filter(county_id__in=list(codes), line__isnull=False, campaign__year__lte=year)
        .select_related("campaign")
        .order_by("county_id", "-campaign__year", "-campaign__created_at")
    )
    for row in rows:
        if row.county_id not in found and row.line is not None:
            found[row.county_id] = (row.line, f"{row.campaign.name} ({row.campaign.year})")
    return found


def _difficulty_spec(code: str) -> DifficultySpec | None:
    if not code:
        return None
    return load_difficulty(ENGINE_STANDARDS_DIR / f"{code}.toml")


def indicator_values(
    check: AreaCheck, line: tuple[int, str] | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The 8 indicators of a county (seed 000 line 142), registry-derived where the registry
    holds them, else from the county's facts."""
    row = check.row
    poor = check.poor_people
    values: dict[str, float | None] = {}
    origins: dict[str, str] = {}
    if line is not None:
        values["cutoff_score"], origins["cutoff_score"] = float(line[0]), line[1]
    else:
        values["cutoff_score"] = _float(row.get("cutoff_score"))
        origins["cutoff_score"] = "facts"
    values["poor_people"], origins["poor_people"] = float(poor), "registry"
    values["poverty_incidence"] = _float(row.get("poverty_incidence"))
    origins["poverty_incidence"] = "registry"
    values["relocation_people"] = _float(row.get("relocation_people"))
    origins["relocation_people"] = "registry"
    values["land_per_poor_person_mu"] = _ratio(row.get("land_mu"), poor)
    origins["land_per_poor_person_mu"] = "registry"
    for name in ("rural_income_per_capita", "fiscal_revenue_per_person"):
        values[name], origins[name] = _float(row.get(name)), "facts"
    values["special_funds_per_person"] = _ratio(row.get("special_funds"), poor)
    origins["special_funds_per_person"] = "facts"
    return values, origins


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float | Decimal) else None


def rank(user: Any, area: Area, year: int) -> Ranking:
    """The poor counties (贫困县, `Area.is_poor_county`) of a city or province ranked by exit
    difficulty (seed 000 line 142: "对贫困县摘帽，选择…8个客观指标"; rank 1 is the hardest,
    which exits last) — every county when none of the area is flagged. A county without
    poor people in the registry is not ranked, nor one lacking an indicator: both are left
    out *before* the min–max scaling, so each indicator's 0 and 1 are those of the counties
    ranked, and they are listed with why."""
    board = judge_counties(user, area, year)
    spec = _difficulty_spec(board.rules.difficulty)
    started = time.monotonic()
    if spec is None:
        return Ranking(board, None, [], 0.0)
    flagged = any(c.area.is_poor_county for c in board.rows)
    considered = [c for c in board.rows if c.area.is_poor_county or not flagged]
    lines = _campaign_lines(user, [r.code for r in considered], year)
    columns = [i.column for i in spec.indicators]
    prepared = []
    for check in considered:
        values, origins = indicator_values(check, lines.get(check.code))
        lacking = tuple(c for c in columns if values.get(c) is None)
        prepared.append((check, values, origins, lacking))
    ranked_input = [
        {"county_code": c.code, **{k: v[k] for k in columns}}
        for c, v, _o, lacking in prepared
        if c.poor_people > 0 and not lacking
    ]
    ranked: dict[str, dict[str, Any]] = {}
    if ranked_input:
        schema = pa.schema([("county_code", pa.string()), *((c, pa.float64()) for c in columns)])
        table = ibis.memtable(pa.Table.from_pylist(ranked_input, schema=schema))
        con = ibis.duckdb.connect()
        ranked = {
            r["county_code"]: r for r in con.to_pyarrow(rank_counties(table, spec)).to_pylist()
        }
        con.disconnect()
    out = []
    for check, values, origins, lacking in prepared:
        r = ranked.get(check.code)
        out.append(
            RankedCounty(
                check=check,
                values=values,
                origins=origins,
                parts={c: r.get(f"part_{c}") for c in columns} if r else {},
                difficulty=r["difficulty"] if r else None,
                rank=r["rank"] if r else None,
                unranked=""
                if r and r["rank"] is not None
                else ("no_poor" if check.poor_people == 0 else "lacking"),
                lacking=lacking,
            )
        )
    out.sort(key=lambda c: (c.rank is None, c.rank or 0, c.check.code))
    return Ranking(board, spec, out, time.monotonic() - started, flagged, len(ranked))
