"""Synthetic monitoring data (动态管理) for a generated province: statuses, an income history
and risk events, the inputs of the return-to-poverty warning job (engine/warnings.py).

`generate_monitoring(data_dir, seed, on)` reads what `engine.synth` wrote in `data_dir`
(`households.parquet`, `members.parquet`, `truth.parquet` when present) and writes there

- `statuses.parquet`: household_id, status, status_date, exit_year, identification_year;
- `incomes.parquet`: household_id, year, per_capita_income — the annual income checks from
  the survey's income year up to the year before `on` (at most `HISTORY_YEARS` years);
- `events.parquet`: household_id, person_id, kind, date, amount, source — the risk events
  other departments report in the two years up to `on` (kinds: engine.warnings.EVENT_KINDS;
  schema: engine/warning_rules/FORMAT.md).

**Statuses.** The poorer households (latent wealth plus noise, as many as truth.parquet
counts poor) were registered (建档立卡) in 2014–2017. Most have exited since, the better off
first, in the annual exit round at the end of 2016–2019 (before `on`); a household with a
dilapidated house or a seriously ill member exits later. An exit of three years or more
ago is usually closed (销号: supported 2 years, observed 1 more, Guangxi 严销号); about 1 %
of exited households returned to poverty; the poorest stay registered. Everyone else is a
surveyed non-poor household.

**Incomes.** From the survey's income (the household's own `per_capita_income`), a yearly
log-growth: supported households before exit grow fastest, exited ones a little slower,
others as rural incomes did (about 9 % a year). In its exit year a household's income is
above that year's line (it could not have exited otherwise). A few per cent a year suffer
a fall (a failed crop, a closed business), and a household hit that year by a labour loss,
an unemployed migrant or a disaster usually earns less.

**Events** at rates of a few per cent of households a year: medical expenses (far more
often with a seriously or chronically ill member), disasters striking a village and most of
its households at once, the death or disability of a labourer, a migrant worker's job lost,
an overdue poverty loan (registered households took loans), a child dropping out of
compulsory school, an appraisal finding the house dilapidated (more often earth and wood).

**Determinism.** Every random number is a hash of (seed, purpose, household, person or
village) — `engine.departments`' counter-based generator — so the output depends only on
the seed, `on` and the input files, never on how the members are read in batches.
Never imports Django.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.departments import _uniform
from engine.warnings import EVENT_KINDS

Array = npt.NDArray[Any]
#: progress(phase, done, total); phases are "households", "members" and "writing".
Progress = Callable[[str, int, int], None]

DEFAULT_ON = dt.date(2020, 6, 30)
#: Income years written: the survey's year and the following ones, up to the year before
#: `on`, the latest this many.
HISTORY_YEARS = 4
#: Days of events before `on` (two years: a rule's window is at most one, so some events
#: are too old to count, as in life).
EVENT_DAYS = 730
#: Members read at a time; does not change the output.
CHUNK_MEMBERS = 1_000_000

#: The national line by year, yuan (DOMAIN.md §10 to 2016 and about 4,000 in 2020; the
#: published 2017–2019 figures between): the generator's model of who could exit in a year,
#: never policy — the warning job takes its line as a parameter.
LINES = {2014: 2800, 2015: 2855, 2016: 2952, 2017: 3335, 2018: 3535, 2019: 3747, 2020: 4000}
#: Exit rounds (end of year) and the share of exiting households in each.
EXIT_YEARS = {2016: 0.25, 2017: 0.30, 2018: 0.28, 2019: 0.17}
#: Registration years of the registered (建档立卡 began in 2014; Guangxi re-identified in 2015).
IDENTIFICATION_YEARS = {2014: 0.6, 2015: 0.22, 2016: 0.13, 2017: 0.05}
STILL_REGISTERED = 0.12
RETURNED = 0.01
CLOSED = 0.8

#: Yearly log-growth of per-capita income, and its noise.
GROWTH_SUPPORTED = 0.20
GROWTH_EXITED = 0.14
GROWTH_OTHER = 0.09
GROWTH_NOISE = 0.12
#: The annual checks record migrant wages and farm income more fully than the first survey
#: (engine/synth.py: under-reported): in the first year after it, a household's log income
#: moves this share of the way to what its wealth predicts, and up by RECORDING.
RECORDING_PULL = 0.5
RECORDING = 0.3
#: In its exit year a household's income is this many times the line (median, log-sd).
EXIT_MARGIN = (1.9, 0.3)
FALL_RATE = 0.04
FALL_RANGE = (0.45, 0.8)
SHOCK_FALL = 0.6  # chance that a labour loss, job loss or disaster lowers the year's income

#: Yearly chances of an event, by kind (per household, labourer, migrant, child, village).
MEDICAL_BASE, MEDICAL_SERIOUS, MEDICAL_CHRONIC = 0.01, 0.25, 0.05
DISASTER_VILLAGE, DISASTER_HOUSEHOLD = 0.04, 0.4
LABOUR_LOSS = 0.006
MIGRANT_UNEMPLOYED = 0.05
LOAN_TAKEN, LOAN_OVERDUE = 0.3, 0.03
DROPOUT = 0.004
DILAPIDATED_BASE, DILAPIDATED_EARTH = 0.003, 0.012

SOURCES = {
    "medical_expense": "health_insurance",
    "disaster": "emergency_management",
    "labour_loss": "civil_affairs",
    "migrant_unemployed": "human_resources",
    "loan_overdue": "bank",
    "dropout": "education",
    "house_dilapidated": "housing",
}

# Purposes: one random stream each (× 10 + year slot for the yearly draws).
(P_RANK, P_RANK2, P_EXIT, P_EXIT2, P_ID_YEAR, P_CLOSE, P_RETURN, P_RETURN_YEAR,
 P_MARGIN, P_MARGIN2, P_DAY) = range(11)  # fmt: skip
P_GROWTH, P_GROWTH2, P_FALL, P_FALL_SIZE, P_SHOCK, P_SHOCK_SIZE = 20, 30, 40, 50, 60, 70
P_EVENT, P_EVENT_DAY, P_AMOUNT, P_AMOUNT2, P_SECOND = 100, 200, 300, 400, 500


def _u(seed: int, purpose: int, keys: Array, kind: int = 0) -> Array:
    return _uniform(seed, kind, purpose, np.asarray(keys, dtype=np.int64))


def _normal(seed: int, purpose: int, keys: Array, kind: int = 0) -> Array:
    """Standard normals by Box–Muller from two counter-based uniforms."""
    u1 = _u(seed, purpose, keys, kind)
    u2 = _u(seed, purpose + 1000, keys, kind)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _pick(u: Array, weights: dict[int, float]) -> Array:
    keys = np.array(list(weights))
    cum = np.cumsum(list(weights.values()))
    return keys[np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(keys) - 1)]


def _line(year: int) -> float:
    if year in LINES:
        return float(LINES[year])
    last = max(LINES)
    return float(LINES[last]) * 1.04 ** (year - last) if year > last else float(LINES[min(LINES)])


def _wealth(path: Path, hid: Array, base: Array) -> tuple[Array, float]:
    """Latent wealth by household (truth.parquet) and the share of poor households; without
    a matching truth file, log income stands in and a fifth are poor (DOMAIN.md §3)."""
    if path.exists():
        truth = pq.read_table(path, columns=["household_id", "wealth", "poor"])
        truth = truth.take(pa.array(np.argsort(truth["household_id"].to_numpy(), kind="stable")))
        if np.array_equal(truth["household_id"].to_numpy(), hid) and len(hid):
            poor = truth["poor"].to_numpy(zero_copy_only=False)
            return truth["wealth"].to_numpy().astype(np.float64), float(np.mean(poor))
    return np.log(base) - (np.log(float(np.median(base))) if len(base) else 0.0), 0.2


@dataclass
class MonitoringResult:
    out: Path
    households: int
    statuses: dict[str, int]
    income_rows: int
    events: dict[str, int]
    seconds: float


@dataclass
class _Events:
    household: list[Array]
    person: list[Array]
    kind: list[Array]
    day: list[Array]
    amount: list[Array]

    def add(self, kind: str, household: Array, day: Array, *, person: Array | None = None,
            amount: Array | None = None) -> None:  # fmt: skip
        n = len(household)
        self.household.append(np.asarray(household, dtype=np.int64))
        self.person.append(np.full(n, -1, np.int64) if person is None else person.astype(np.int64))
        self.kind.append(np.full(n, EVENT_KINDS.index(kind), np.int8))
        self.day.append(np.asarray(day, dtype=np.int64))
        self.amount.append(np.full(n, np.nan) if amount is None else np.asarray(amount, float))


def _day(seed: int, purpose: int, keys: Array, slot: int, on_day: int) -> Array:
    """A day in year slot `slot` before `on` (0: the last 365 days, 1: the 365 before)."""
    offset = np.floor(_u(seed, P_EVENT_DAY + purpose, keys, slot) * 365).astype(np.int64)
    return on_day - 365 * slot - offset


def _yearly(
    seed: int, kind: int, keys: Array, rate: Array | float, on_day: int
) -> tuple[Array, Array, Array]:
    """Entities with an event in each year slot: index into keys, day, and a key unique
    per entity and slot (for the event's own draws)."""
    rows, days, event_keys = [], [], []
    for slot in range(EVENT_DAYS // 365):
        hit = np.flatnonzero(_u(seed, P_EVENT + kind, keys, slot) < rate)
        rows.append(hit)
        days.append(_day(seed, kind, keys[hit], slot, on_day))
        event_keys.append(keys[hit] * (EVENT_DAYS // 365) + slot)
    return np.concatenate(rows), np.concatenate(days), np.concatenate(event_keys)


def generate_monitoring(
    data_dir: Path | str,
    seed: int,
    on: dt.date = DEFAULT_ON,
    *,
    chunk: int = CHUNK_MEMBERS,
    progress: Progress | None = None,
) -> MonitoringResult:
    """Write statuses, incomes and events for the province in `data_dir` (see above).
    Files are written under temporary names and renamed at the end."""
    started = time.monotonic()
    src = Path(data_dir)
    if isinstance(on, dt.datetime) or not isinstance(on, dt.date):
        raise ValueError(f"on must be a date, not {on!r}")
    if chunk < 1:
        raise ValueError("chunk must be positive")
    h = pq.read_table(
        src / "households.parquet",
        columns=[
            "household_id", "village_code", "people", "per_capita_income", "income_year",
            "is_dilapidated", "housing_structure",
        ],
    )  # fmt: skip
    order = np.argsort(h["household_id"].to_numpy(), kind="stable")
    h = h.take(pa.array(order))
    hid = h["household_id"].to_numpy().astype(np.int64)
    n = len(hid)
    income_year = int(pc.max(h["income_year"]).as_py() or 0) if n else on.year - 1
    if on.year < income_year + 2:
        raise ValueError(
            f"on ({on}) must fall at least two years after the survey's income year "
            f"({income_year}), so that there is an income history"
        )
    base = np.maximum(
        pc.fill_null(pc.cast(h["per_capita_income"], pa.float64()), 0.0).to_numpy(), 100.0
    )
    dilapidated = pc.fill_null(h["is_dilapidated"], False).to_numpy(zero_copy_only=False)
    earth = pc.equal(h["housing_structure"], "earth_wood")
    earth = pc.fill_null(earth, False).to_numpy(zero_copy_only=False)
    on_day = int(np.datetime64(on, "D").astype(np.int64))
    if progress:
        progress("households", 0, n)

    # --- members: who is ill, who works away, who is a child at school -----------------
    events = _Events([], [], [], [], [])
    serious = np.zeros(n, dtype=bool)
    chronic = np.zeros(n, dtype=bool)
    mf = pq.ParquetFile(src / "members.parquet")
    total_members = mf.metadata.num_rows
    done = 0
    if progress:
        progress("members", 0, total_members)
    columns = [
        "person_id", "household_id", "birth_date", "labour_skill", "schooling",
        "migrant_place", "has_serious_illness", "has_chronic_illness",
    ]  # fmt: skip
    for batch in mf.iter_batches(batch_size=chunk, columns=columns):
        pid = batch.column("person_id").to_numpy().astype(np.int64)
        mh = batch.column("household_id").to_numpy().astype(np.int64)
        at = np.searchsorted(hid, mh)
        at = np.minimum(at, n - 1)
        known = hid[at] == mh
        s = pc.fill_null(batch.column("has_serious_illness"), False).to_numpy(zero_copy_only=False)
        c = pc.fill_null(batch.column("has_chronic_illness"), False).to_numpy(zero_copy_only=False)
        serious[at[known & s]] = True
        chronic[at[known & c]] = True
        skill = batch.column("labour_skill")
        labourer = pc.fill_null(pc.is_in(skill, pa.array(["ordinary", "skilled"])), False)
        rows, days, _k = _yearly(seed, 1, pid, np.where(labourer.to_numpy(zero_copy_only=False),
                                                    LABOUR_LOSS, 0.0), on_day)  # fmt: skip
        events.add("labour_loss", mh[rows], days, person=pid[rows])
        migrant = pc.fill_null(pc.not_equal(batch.column("migrant_place"), ""), False)
        rate = np.where(migrant.to_numpy(zero_copy_only=False), MIGRANT_UNEMPLOYED, 0.0)
        rows, days, _k = _yearly(seed, 2, pid, rate, on_day)
        events.add("migrant_unemployed", mh[rows], days, person=pid[rows])
        birth = batch.column("birth_date").cast(pa.date32()).to_numpy(zero_copy_only=False)
        age = (on_day - birth.astype("datetime64[D]").astype(np.int64)) / 365.2425
        school = pc.fill_null(pc.is_in(batch.column("schooling"), pa.array(
            ["primary", "grades_7_9"])), False).to_numpy(zero_copy_only=False)  # fmt: skip
        rate = np.where(school & (age >= 7) & (age < 16), DROPOUT, 0.0)
        rows, days, _k = _yearly(seed, 3, pid, rate, on_day)
        events.add("dropout", mh[rows], days, person=pid[rows])
        done += batch.num_rows
        if progress:
            progress("members", done, total_members)

    # --- statuses ----------------------------------------------------------------------
    wealth, poor_share = _wealth(src / "truth.parquet", hid, base)
    noisy = wealth + 0.35 * _normal(seed, P_RANK, hid)
    registered = noisy <= np.quantile(noisy, poor_share) if n else np.zeros(0, bool)
    # Exit propensity: the better off first; a dilapidated house or a serious illness holds
    # a household back (三保障 not assured).
    propensity = noisy + 0.5 * _normal(seed, P_EXIT, hid) - 0.8 * dilapidated - 0.5 * serious
    reg = np.flatnonzero(registered)
    rank = np.empty(len(reg))
    rank[np.argsort(propensity[reg], kind="stable")] = np.arange(len(reg)) / max(len(reg), 1)
    exit_rounds = {y: w for y, w in EXIT_YEARS.items() if y < on.year}
    status = np.full(n, "surveyed", dtype=object)
    exit_year = np.zeros(n, dtype=np.int64)
    ident_year = np.zeros(n, dtype=np.int64)
    ident_year[reg] = _pick(_u(seed, P_ID_YEAR, hid[reg]), IDENTIFICATION_YEARS)
    ident_year[reg] = np.minimum(ident_year[reg], on.year - 1)
    still = rank < STILL_REGISTERED if exit_rounds else np.ones(len(reg), bool)
    status[reg[still]] = "registered"
    leaving = reg[~still]
    if len(leaving) and exit_rounds:
        # The best placed exit first: rank among the leavers → exit round in order.
        lr = rank[~still]
        lr = (lr - lr.min()) / max(float(lr.max() - lr.min()), 1e-12)
        rounds = np.array(sorted(exit_rounds))
        cum = np.cumsum([exit_rounds[y] for y in rounds[::-1]])
        cum = cum / cum[-1]
        exit_year[leaving] = rounds[::-1][
            np.minimum(np.searchsorted(cum, lr, "right"), len(rounds) - 1)
        ]
        exit_year[leaving] = np.maximum(exit_year[leaving], ident_year[leaving])
        status[leaving] = "exited"
        closing_day = np.array(
            [np.datetime64(f"{y + 3}-12-15", "D") for y in range(2000, 2100)]
        ).astype(np.int64)
        closes = (closing_day[exit_year[leaving] - 2000] <= on_day) & (
            _u(seed, P_CLOSE, hid[leaving]) < CLOSED
        )
        status[leaving[closes]] = "closed"
        back = (exit_year[leaving] <= on.year - 2) & (_u(seed, P_RETURN, hid[leaving]) < RETURNED)
        status[leaving[back & ~closes]] = "returned"
    status_day = np.full(n, int(np.datetime64("2017-03-31", "D").astype(np.int64)), np.int64)
    day_in_year = np.floor(_u(seed, P_DAY, hid) * 50).astype(np.int64)
    year_start = np.array([np.datetime64(f"{y}-01-01", "D") for y in range(2000, 2101)]).astype(
        np.int64
    )
    is_reg = status == "registered"
    status_day[is_reg] = year_start[ident_year[is_reg] - 2000] + 300 + day_in_year[is_reg]
    is_exited = status == "exited"
    status_day[is_exited] = year_start[exit_year[is_exited] - 2000] + 310 + day_in_year[is_exited]
    is_closed = status == "closed"
    status_day[is_closed] = (
        year_start[exit_year[is_closed] + 3 - 2000] + 310 + np.minimum(day_in_year[is_closed], 38)
    )
    is_returned = status == "returned"
    ret_year = (
        exit_year
        + 1
        + np.floor(_u(seed, P_RETURN_YEAR, hid) * np.maximum(on.year - 1 - exit_year, 1)).astype(
            np.int64
        )
    )
    status_day[is_returned] = (
        year_start[ret_year[is_returned] - 2000] + 180 + day_in_year[is_returned]
    )
    status_day = np.minimum(status_day, on_day)
    if progress:
        progress("households", n // 2, n)

    # --- household events --------------------------------------------------------------
    rate = MEDICAL_BASE + MEDICAL_SERIOUS * serious + MEDICAL_CHRONIC * chronic
    rows, days, keys = _yearly(seed, 4, hid, rate, on_day)
    median = np.where(serious[rows], 9000.0, np.where(chronic[rows], 3000.0, 1500.0))
    amount = np.round(np.minimum(median * np.exp(0.9 * _normal(seed, P_AMOUNT, keys)), 3e5))
    events.add("medical_expense", hid[rows], days, amount=amount)

    villages, village_of = np.unique(
        h["village_code"].to_numpy(zero_copy_only=False).astype(str), return_inverse=True
    )
    village_key = np.array([int(v) if v.isdigit() else i for i, v in enumerate(villages)])
    for slot in range(EVENT_DAYS // 365):
        struck = _u(seed, P_EVENT + 5, village_key, slot) < DISASTER_VILLAGE
        vday = _day(seed, 5, village_key, slot, on_day)
        hit = np.flatnonzero(
            struck[village_of] & (_u(seed, P_EVENT + 6, hid, slot) < DISASTER_HOUSEHOLD)
        )
        day = np.maximum(vday[village_of[hit]], on_day - EVENT_DAYS + 1)
        loss = np.round(3000.0 * np.exp(1.0 * _normal(seed, P_AMOUNT2, hid[hit], slot)))
        events.add("disaster", hid[hit], day, amount=loss)

    loan = registered & (_u(seed, P_SECOND, hid) < LOAN_TAKEN)
    rows, days, keys = _yearly(seed, 7, hid, np.where(loan, LOAN_OVERDUE, 0.0), on_day)
    principal = 1000.0 * np.ceil(10 + 40 * _u(seed, P_AMOUNT + 7, keys))
    events.add("loan_overdue", hid[rows], days, amount=principal)

    rate = np.where(dilapidated, 0.0, DILAPIDATED_BASE + DILAPIDATED_EARTH * earth)
    rows, days, _k = _yearly(seed, 8, hid, rate, on_day)
    events.add("house_dilapidated", hid[rows], days)

    ev_h = np.concatenate(events.household)
    ev_day = np.concatenate(events.day)
    ev_kind = np.concatenate(events.kind)
    ev_person = np.concatenate(events.person)
    ev_amount = np.concatenate(events.amount)

    # --- incomes -----------------------------------------------------------------------
    years = list(range(max(income_year, on.year - HISTORY_YEARS), on.year))
    shocked_kinds = [
        EVENT_KINDS.index(k) for k in ("labour_loss", "migrant_unemployed", "disaster")
    ]
    ev_year = ev_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    shocked = np.isin(ev_kind, shocked_kinds)
    at = np.searchsorted(hid, ev_h)
    ever_exited = exit_year > 0
    margin = np.exp(np.log(EXIT_MARGIN[0]) + EXIT_MARGIN[1] * _normal(seed, P_MARGIN, hid))
    log_income = np.log(base)
    if n > 1 and np.ptp(wealth) > 0:
        slope, intercept = np.polyfit(wealth, log_income, 1)
        predicted = intercept + slope * wealth
    else:
        predicted = log_income
    out_year, out_h, out_income = [], [], []
    for y in years:
        if y > income_year:
            growth = np.where(
                registered & (~ever_exited | (y <= exit_year)),
                GROWTH_SUPPORTED,
                np.where(registered, GROWTH_EXITED, GROWTH_OTHER),
            )
            growth = growth + GROWTH_NOISE * _normal(seed, P_GROWTH, hid, y)
            if y == income_year + 1:
                growth = growth + RECORDING + RECORDING_PULL * (predicted - log_income)
            log_income = log_income + growth
            fall = _u(seed, P_FALL, hid, y) < FALL_RATE
            size = FALL_RANGE[0] + (FALL_RANGE[1] - FALL_RANGE[0]) * _u(seed, P_FALL_SIZE, hid, y)
            log_income = log_income + np.where(fall, np.log(size), 0.0)
            hit = np.zeros(n, dtype=bool)
            hit[at[shocked & (ev_year == y)]] = True
            hit &= _u(seed, P_SHOCK, hid, y) < SHOCK_FALL
            size = 0.55 + 0.35 * _u(seed, P_SHOCK_SIZE, hid, y)
            log_income = log_income + np.where(hit, np.log(size), 0.0)
        # A household exits only with its income of the exit year above that year's line.
        floor = np.log(_line(y) * np.maximum(margin, 1.02))
        lifted = ever_exited & (exit_year == y)
        log_income = np.where(lifted, np.maximum(log_income, floor), log_income)
        out_year.append(np.full(n, y, np.int16))
        out_h.append(hid)
        out_income.append(np.round(np.exp(log_income), 2))
    # A returned household's last income is below the line again.
    returned_rows = np.flatnonzero(status == "returned")
    if len(returned_rows) and out_income:
        last = out_income[-1]
        last[returned_rows] = np.round(np.minimum(last[returned_rows], _line(years[-1]) * 0.85), 2)
    if progress:
        progress("households", n, n)

    # --- write -------------------------------------------------------------------------
    if progress:
        progress("writing", 0, 3)
    meta = {
        "fupin.generator": "engine.monitoring_data",
        "fupin.seed": str(seed),
        "fupin.on": on.isoformat(),
    }

    def exit_or_null(values: Array, mask: Array) -> pa.Array:
        return pa.array(values.astype(np.int16), mask=~mask, type=pa.int16())

    statuses = pa.table(
        {
            "household_id": pa.array(hid, pa.int64()),
            "status": pa.array(status.astype(str), pa.string()),
            "status_date": pa.array(status_day.astype("datetime64[D]"), pa.date32()),
            "exit_year": exit_or_null(exit_year, exit_year > 0),
            "identification_year": exit_or_null(ident_year, ident_year > 0),
        }
    )
    incomes = pa.table(
        {
            "household_id": pa.array(np.concatenate(out_h) if out_h else [], pa.int64()),
            "year": pa.array(np.concatenate(out_year) if out_year else [], pa.int16()),
            "per_capita_income": pa.array(
                np.concatenate(out_income) if out_income else [], pa.float64()
            ).cast(pa.decimal128(12, 2)),
        }
    )
    # Households in order, then days, then kinds: a stable, readable file.
    sort = np.lexsort((ev_person, ev_kind, ev_day, ev_h))
    kinds = np.array(EVENT_KINDS)[ev_kind[sort]]
    amounts = ev_amount[sort]
    events_table = pa.table(
        {
            "household_id": pa.array(ev_h[sort], pa.int64()),
            "person_id": pa.array(ev_person[sort], mask=ev_person[sort] < 0, type=pa.int64()),
            "kind": pa.array(kinds, pa.string()),
            "date": pa.array(ev_day[sort].astype("datetime64[D]"), pa.date32()),
            "amount": pa.array(amounts, mask=np.isnan(amounts), type=pa.float64()).cast(
                pa.decimal128(12, 2)
            ),
            "source": pa.array(np.array([SOURCES[k] for k in EVENT_KINDS])[ev_kind[sort]],
                               pa.string()),
        }
    )  # fmt: skip
    written = {
        "statuses.parquet": statuses,
        "incomes.parquet": incomes,
        "events.parquet": events_table,
    }
    for i, (name, table) in enumerate(written.items()):
        tmp = src / f".{name}.part"
        pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
        if progress:
            progress("writing", i + 1, 3)
    for name in written:
        os.replace(src / f".{name}.part", src / name)
    counts = dict.fromkeys(EVENT_KINDS, 0)
    for k, c in zip(*np.unique(kinds, return_counts=True), strict=True):
        counts[str(k)] = int(c)
    by_status = {
        str(s): int(c)
        for s, c in zip(*np.unique(status.astype(str), return_counts=True), strict=True)
    }
    return MonitoringResult(
        out=src,
        households=n,
        statuses=by_status,
        income_rows=incomes.num_rows,
        events=counts,
        seconds=time.monotonic() - started,
    )
