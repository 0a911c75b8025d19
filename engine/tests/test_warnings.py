"""Return-to-poverty warnings (issue 7 item 5): Anhui's rules (seed 004, 建立返贫预警机制;
DOMAIN.md §10, Anhui's 2020 trigger) on crafted histories raise exactly the expected
warnings; the rules file's errors are precise; DuckDB and Spark agree; the monitoring data
generator is deterministic and its rates are in range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine import synth
from engine.backends import spark_session
from engine.monitoring_data import LINES, generate_monitoring
from engine.warnings import (
    EVENT_KINDS,
    WARNING_SCHEMA,
    WarningRulesError,
    load_rules,
    parse_rules,
    run_warnings,
)

ANHUI = Path(__file__).resolve().parents[1] / "warning_rules" / "anhui-2017.toml"
ON = dt.date(2020, 6, 30)
LINE = 4000.0  # DOMAIN.md §10: about 4,000 yuan in 2020; 1.5 × = 6,000


def days_before(n: int) -> dt.date:
    return ON - dt.timedelta(days=n)


# --- crafted histories ------------------------------------------------------------------

#: household_id → (status, current per-capita income, income the year before, people).
#: Current income is 2019's (in incomes.parquet); the household's own is 2016's.
HOUSEHOLDS: dict[int, tuple[str, float | None, float | None, int]] = {
    1: ("exited", 3999.99, 3900, 3),  # below the line
    2: ("exited", 4000.00, 3900, 3),  # at the line: not below, but under 1.5 ×
    3: ("exited", 5999.99, 5800, 3),  # just under 1.5 × the line
    4: ("exited", 6000.00, 5800, 3),  # at 1.5 ×: near miss
    5: ("surveyed", 5999.99, 5800, 3),  # 边缘易致贫户
    6: ("surveyed", 6000.00, 5800, 3),  # near miss
    7: ("registered", 1000.00, 2000, 3),  # every risk, but registered: never warned
    8: ("exited", 7000.00, 10000, 3),  # a fall of exactly 30 %
    9: ("exited", 7001.00, 10000, 3),  # a fall of 29.99 %: near miss
    10: ("exited", 10000, 10000, 3),  # medical 30,000.01 > 3 × 10,000
    11: ("exited", 10000, 10000, 3),  # medical 30,000 = the income: near miss
    12: ("surveyed", 10000, 10000, 3),  # medical above income: 突发严重困难户
    13: ("exited", 10000, 10000, 3),  # disaster 89 days ago
    14: ("exited", 10000, 10000, 3),  # disaster 90 days ago and one after `on`
    15: ("surveyed", 10000, 10000, 3),  # disaster loss above income
    16: ("exited", 10000, 10000, 3),  # labourer lost 364 days ago
    17: ("exited", 10000, 10000, 3),  # labourer lost 365 days ago: outside the year
    18: ("closed", 10000, 10000, 3),  # migrant unemployed 179 days ago
    19: ("closed", 10000, 10000, 3),  # … 180 days ago: outside the half year
    20: ("exited", 10000, 10000, 3),  # overdue poverty loan
    21: ("exited", 10000, 10000, 3),  # a dropout
    22: ("exited", 10000, 10000, 3),  # house appraised dilapidated
    23: ("returned", 1000, 10000, 3),  # returned: re-registered, not watched here
    24: ("exited", None, None, 3),  # no income data at all
    25: ("exited", 10000, 9000, 3),  # a 2021 income (after `on`) is not the current one
    26: ("exited", None, None, 3),  # only its own 2016 income, 3,000: below the line
    27: ("surveyed", 10000, 10000, 3),  # disaster loss 30,000: not above the income
}

EXPECTED: set[tuple[int, str]] = {
    (1, "below_line"),
    (2, "low_income"),
    (3, "low_income"),
    (5, "marginal_income"),
    (8, "income_fall"),
    (10, "major_medical"),
    (12, "major_medical"),
    (13, "disaster"),
    (15, "disaster_loss"),
    (16, "labour_loss"),
    (18, "migrant_unemployed"),
    (20, "loan_overdue"),
    (21, "dropout"),
    (22, "dilapidated_house"),
    (26, "below_line"),
}


def _event(hid: int, kind: str, when: dt.date, amount: float | None = None) -> dict[str, Any]:
    person = hid * 10 + 1 if kind in ("labour_loss", "migrant_unemployed", "dropout") else None
    return {
        "household_id": hid,
        "person_id": person,
        "kind": kind,
        "date": when,
        "amount": amount,
        "source": "test",
    }


EVENTS = [
    *[_event(7, kind, days_before(10), 99999) for kind in EVENT_KINDS],
    *[_event(23, kind, days_before(10), 99999) for kind in EVENT_KINDS],
    _event(10, "medical_expense", days_before(300), 20000),
    _event(10, "medical_expense", days_before(1), 10000.01),
    _event(11, "medical_expense", days_before(0), 30000),
    _event(11, "medical_expense", days_before(365), 50000),  # a year ago to the day: out
    _event(12, "medical_expense", days_before(100), 30001),
    _event(13, "disaster", days_before(89), 100),
    _event(14, "disaster", days_before(90), 100),
    _event(14, "disaster", ON + dt.timedelta(days=1), 100),  # after `on`: not yet
    _event(15, "disaster", days_before(200), 30001),
    _event(16, "labour_loss", days_before(364)),
    _event(17, "labour_loss", days_before(365)),
    _event(18, "migrant_unemployed", days_before(179)),
    _event(19, "migrant_unemployed", days_before(180)),
    _event(20, "loan_overdue", days_before(30), 20000),
    _event(21, "dropout", days_before(60)),
    _event(22, "house_dilapidated", days_before(120)),
    _event(27, "disaster", days_before(20), 30000),
]

EVENTS_SCHEMA = pa.schema(
    [
        ("household_id", pa.int64()),
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        ("date", pa.date32()),
        ("amount", pa.decimal128(12, 2)),
        ("source", pa.string()),
    ]
)


def write_crafted(folder: Path, *, status_in_households: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = list(HOUSEHOLDS)
    own = [3000.0 if hid == 26 else None if hid == 24 else 1000.0 for hid in ids]
    households: dict[str, Any] = {
        "household_id": pa.array(ids, pa.int64()),
        "county_code": ["340102"] * len(ids),
        "village_code": [f"340102100{200 + hid:03d}" for hid in ids],
        "people": pa.array([HOUSEHOLDS[h][3] for h in ids], pa.int16()),
        "income_year": pa.array([2016] * len(ids), pa.int16()),
        "per_capita_income": pa.array(own, pa.float64()).cast(pa.decimal128(12, 2)),
    }
    statuses = {
        "household_id": pa.array(ids, pa.int64()),
        "status": [HOUSEHOLDS[h][0] for h in ids],
        "exit_year": pa.array(
            [2017 if HOUSEHOLDS[h][0] in ("exited", "closed", "returned") else None for h in ids],
            pa.int16(),
        ),
    }
    if status_in_households:
        households.update({k: v for k, v in statuses.items() if k != "household_id"})
    else:
        pq.write_table(pa.table(statuses), folder / "statuses.parquet")
    pq.write_table(pa.table(households), folder / "households.parquet")
    rows = []
    for hid, (_status, now, before, _people) in HOUSEHOLDS.items():
        if now is not None:
            rows.append((hid, 2019, now))
        if before is not None:
            rows.append((hid, 2018, before))
    rows.append((25, 2021, 100.0))
    incomes = pa.table(
        {
            "household_id": pa.array([r[0] for r in rows], pa.int64()),
            "year": pa.array([r[1] for r in rows], pa.int16()),
            "per_capita_income": pa.array([r[2] for r in rows], pa.float64()).cast(
                pa.decimal128(12, 2)
            ),
        }
    )
    pq.write_table(incomes, folder / "incomes.parquet")
    events = pa.Table.from_pylist(
        [
            {**e, "amount": None if e["amount"] is None else Decimal(f"{e['amount']:.2f}")}
            for e in EVENTS
        ],
        schema=EVENTS_SCHEMA,
    )
    pq.write_table(events, folder / "events.parquet")
    return folder


def fired(path: Path) -> pa.Table:
    return pq.read_table(path / "warnings.parquet")


def test_anhui_rules_raise_exactly_the_expected_warnings(tmp_path: Path) -> None:
    """Seed 004 (建立返贫预警机制) and DOMAIN.md §10 (Anhui 2020: income below 1.5 × the
    line; rigid spending above last year's income): each rule fires on its case and not on
    its near miss; registered and returned households never warn; events outside a window
    or after `on` never count; the current income is the latest year up to `on`."""
    data = write_crafted(tmp_path / "data")
    result = run_warnings(data, ANHUI, tmp_path / "out", on=ON, poverty_line=LINE)
    t = fired(tmp_path / "out")
    got = set(zip(t["household_id"].to_pylist(), t["rule"].to_pylist(), strict=True))
    assert got == EXPECTED
    assert result["warnings"] == len(EXPECTED)
    assert result["by_rule"]["low_income"] == 2
    assert result["by_rule"]["major_medical"] == 2
    assert sum(result["by_level"].values()) == len(EXPECTED)
    assert result["by_level"]["yellow"] == 1  # marginal_income


def test_due_date_is_on_plus_the_deadline_and_rows_carry_the_rule(tmp_path: Path) -> None:
    """Issue 7 item 5: each warning has a level, the data that raised it and a response
    within a deadline."""
    data = write_crafted(tmp_path / "data")
    run_warnings(data, ANHUI, tmp_path / "out", on=ON, poverty_line=LINE)
    rules = {r.code: r for r in load_rules(ANHUI).rules}
    t = fired(tmp_path / "out")
    assert t.schema.remove_metadata() == WARNING_SCHEMA
    for row in t.to_pylist():
        rule = rules[row["rule"]]
        assert row["raised_on"] == ON
        assert row["due_on"] == ON + dt.timedelta(days=rule.deadline_days)
        assert (row["level"], row["response"], row["risk"]) == (
            rule.level,
            rule.response,
            rule.risk,
        )
        assert row["county_code"] == "340102"
    by = {(r["household_id"], r["rule"]): r for r in t.to_pylist()}
    assert by[(1, "below_line")]["due_on"] == dt.date(2020, 7, 15)
    assert by[(13, "disaster")]["due_on"] == dt.date(2020, 7, 7)
    # One rule, two categories: an exited household is 脱贫不稳定户, a surveyed one with the
    # same shock 突发严重困难户 (DOMAIN.md §10).
    assert by[(10, "major_medical")]["category"] == "unstable_exited"
    assert by[(12, "major_medical")]["category"] == "sudden_hardship"
    assert by[(5, "marginal_income")]["category"] == "marginal"
    # Ordered by household, then by the rules' order in the file.
    assert t["household_id"].to_pylist() == sorted(t["household_id"].to_pylist())
    meta = t.schema.metadata
    assert meta[b"fupin.rules_version"] == b"2017.1"
    assert meta[b"fupin.on"] == b"2020-06-30"


def test_evidence_names_every_value_the_rule_read(tmp_path: Path) -> None:
    """The data that raised a warning, derived facts with their inputs (issue 7 item 5)."""
    data = write_crafted(tmp_path / "data")
    run_warnings(data, ANHUI, tmp_path / "out", on=ON, poverty_line=LINE)
    by = {
        (r["household_id"], r["rule"]): r["evidence"] for r in fired(tmp_path / "out").to_pylist()
    }
    assert by[(8, "income_fall")] == (
        "income_prev=10000.00; income_change=-0.3000; per_capita_income=7000.00; income_fall=0.3"
    )
    assert by[(1, "below_line")] == "per_capita_income=3999.99; poverty_line=4000.0"
    assert by[(26, "below_line")] == "per_capita_income=3000.00; poverty_line=4000.0"
    assert by[(10, "major_medical")] == (
        "medical_expense=30000.01; per_capita_income=10000.00; people=3"
    )


def test_status_may_come_with_the_households(tmp_path: Path) -> None:
    data = write_crafted(tmp_path / "data", status_in_households=True)
    run_warnings(data, ANHUI, tmp_path / "out", on=ON, poverty_line=LINE)
    t = fired(tmp_path / "out")
    assert set(zip(t["household_id"].to_pylist(), t["rule"].to_pylist(), strict=True)) == EXPECTED


def test_no_status_anywhere_is_refused_before_writing(tmp_path: Path) -> None:
    data = write_crafted(tmp_path / "data")
    (data / "statuses.parquet").unlink()
    with pytest.raises(ValueError, match=r"no 'status' column and .* no statuses\.parquet"):
        run_warnings(data, ANHUI, tmp_path / "out", on=ON, poverty_line=LINE)
    assert not (tmp_path / "out").exists()


def test_missing_events_file_means_no_data_not_zero(tmp_path: Path) -> None:
    """Without events.parquet the event facts are null: `disasters == 0` cannot fire."""
    data = write_crafted(tmp_path / "data")
    rules = tmp_path / "r.toml"
    rules.write_text(
        MINIMAL.replace('when = "x"', 'when = "disasters == 0"')
        + '\n[[fact]]\nname = "disasters"\nevents = ["disaster"]\nwindow_days = 90\n',
        encoding="utf-8",
    )
    result = run_warnings(data, rules, tmp_path / "out", on=ON, poverty_line=LINE)
    assert result["warnings"] > 10  # with the file, most exited households had no disaster
    (data / "events.parquet").unlink()
    result = run_warnings(data, rules, tmp_path / "out", on=ON, poverty_line=LINE)
    assert result["warnings"] == 0


MINIMAL = """\
name = "Test"
version = "1"
effective = 2017-01-01
source = "test"

[[rule]]
code = "r"
label = "测试"
label_en = "Test"
level = "red"
when = "x"
response = "visit"
deadline_days = 7
category = "unstable_exited"
risk = "other"
"""


def test_member_facts_are_readable_and_null_without_members(tmp_path: Path) -> None:
    """A rule over engine.score.member_facts (loss of the main labourer: no labourer left)."""
    data = write_crafted(tmp_path / "data")
    rules = tmp_path / "r.toml"
    rules.write_text(MINIMAL.replace('when = "x"', 'when = "labour_people == 0"'), encoding="utf-8")
    result = run_warnings(data, rules, tmp_path / "out", on=ON, poverty_line=LINE)
    assert result["warnings"] == 0  # no members.parquet: no data
    people = synth.generate(tmp_path / "gen", 30, seed=5)
    members = pq.read_table(people.out / "members.parquet")
    # Households 1 and 2 of the crafted data get members: 1 only non-labourers.
    take = members.filter(pc.is_in(members["household_id"], pa.array([1, 2, 3], pa.int64())))
    skills = ["none" if h == 1 else "ordinary" for h in take["household_id"].to_pylist()]
    take = take.set_column(
        take.schema.get_field_index("labour_skill"), "labour_skill", pa.array(skills)
    )
    pq.write_table(take, data / "members.parquet")
    run_warnings(data, rules, tmp_path / "out", on=ON, poverty_line=LINE)
    # A household without members has no labourer either (engine.score.with_member_facts).
    watched = [h for h, row in HOUSEHOLDS.items() if row[0] in ("exited", "closed")]
    assert fired(tmp_path / "out")["household_id"].to_pylist() == [
        h for h in watched if h not in (2, 3)
    ]


# --- the rules file ----------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(WarningRulesError) as info:
        parse_rules(text, "x.toml")
    return str(info.value).splitlines()


def test_the_shipped_file_parses() -> None:
    rules = load_rules(ANHUI)
    assert rules.version == "2017.1"
    assert rules.effective == dt.date(2017, 6, 1)
    assert rules.params == {"income_multiple": 1.5, "income_fall": 0.3}
    codes = [r.code for r in rules.rules]
    # The list: low income, a fall, medical expense, disaster, loss of the main
    # labourer, migrant unemployment, overdue loan, dropout, dilapidated house.
    for code in (
        "below_line", "low_income", "income_fall", "major_medical", "disaster", "labour_loss",
        "migrant_unemployed", "loan_overdue", "dropout", "dilapidated_house",
    ):  # fmt: skip
        assert code in codes


def test_errors_name_line_rule_and_fault_all_at_once() -> None:
    text = MINIMAL.replace('level = "red"', 'level = "purple"').replace(
        "deadline_days = 7", "deadline = 7"
    )
    text += """
[[rule]]
code = "r"
label = "二"
label_en = "Two"
level = "red"
statuses = ["exited", "gone"]
when = "income <"
response = "call"
deadline_days = 0
category = { exited = "marginal" }
risk = "bad luck"
"""
    lines = problems(text)
    assert "x.toml:10: rule r: level must be one of red, orange, yellow, not 'purple'" in lines
    assert "x.toml:13: rule r: unknown key 'deadline'" in lines
    assert "x.toml:6: rule r: deadline_days must be a whole number of days ≥ 1" in lines
    assert "x.toml:18: rule r: a rule of the same code comes earlier" in lines
    assert any(
        line.startswith("x.toml:22: rule r: unknown status 'gone' (statuses: surveyed,")
        for line in lines
    )
    assert any(
        line.startswith("x.toml:23: rule r: when: not an expression (") and "income <" in line
        for line in lines
    )
    assert "x.toml:24: rule r: response must be one of visit, measure, assess, not 'call'" in lines
    assert "x.toml:25: rule r: deadline_days must be a whole number of days ≥ 1" in lines
    assert "x.toml:26: rule r: no category for status gone" in lines
    assert any(line.startswith("x.toml:27: rule r: risk must be one of illness,") for line in lines)


def test_fact_errors() -> None:
    text = (
        MINIMAL
        + """
[params]
year = 2020
k = 2

[[fact]]
name = "a"
expr = "b + 1"

[[fact]]
name = "b"
events = ["medical", "disaster"]
window_days = 0
aggregate = "avg"

[[fact]]
name = "k"
income_offset = 1

[[fact]]
name = "labour_people"
events = ["disaster"]
window_days = 3
"""
    )
    lines = problems(text)
    assert "x.toml:17: param year: is given by the job: remove it from the file" in lines
    assert "x.toml:23: fact a: reads b, defined at or after it" in lines
    assert any(
        line.startswith("x.toml:27: fact b: unknown event kind 'medical' (kinds: medical_expense")
        for line in lines
    )
    assert "x.toml:28: fact b: window_days must be a whole number of days ≥ 1" in lines
    assert "x.toml:29: fact b: aggregate must be one of count, sum, not 'avg'" in lines
    assert "x.toml:32: fact k: is a parameter's name" in lines
    assert any(
        line.startswith("x.toml:33: fact k: income_offset must be a negative") for line in lines
    )
    assert (
        "x.toml:36: fact labour_people: is a member fact's name (engine.score.member_facts)"
        in lines
    )


def test_syntax_and_missing_pieces() -> None:
    assert problems('name = "x"\n[[rule]\n')[0].startswith("x.toml: not valid TOML (")
    lines = problems('name = ""\nversion = 1\n')
    assert "x.toml:1: name must be a non-empty string" in lines
    assert "x.toml:2: version must be a non-empty string" in lines
    assert "x.toml: effective must be a date, e.g. 2017-06-01" in lines
    assert "x.toml: the file has no [[rule]]" in lines


def test_a_rule_reading_an_unknown_name_is_refused_with_its_line(tmp_path: Path) -> None:
    data = write_crafted(tmp_path / "data")
    rules = tmp_path / "r.toml"
    rules.write_text(MINIMAL.replace('when = "x"', 'when = "incme < 3"'), encoding="utf-8")
    with pytest.raises(WarningRulesError) as info:
        run_warnings(data, rules, tmp_path / "out", on=ON, poverty_line=LINE)
    assert str(info.value) == (
        f"{rules}:6: rule r: reads 'incme': neither a column of households.parquet, a member "
        "fact, a fact of the file nor a parameter"
    )
    assert not (tmp_path / "out" / "warnings.parquet").exists()


# --- DuckDB and Spark -------------------------------------------------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    synth.generate(out, 3000, seed=17)
    generate_monitoring(out, seed=17, on=ON)
    return out


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("pyspark")
    session = spark_session(str(tmp_path_factory.mktemp("warehouse")))
    yield session
    # Other engine tests may share getOrCreate's session: leave stopping to the JVM's exit.


def test_duckdb_and_spark_write_the_same_warnings(
    tmp_path: Path, province: Path, spark: Any
) -> None:
    """The same rules on both engines give identical files (DESIGN: the engine runs on DuckDB
    and Spark with identical results)."""
    crafted = write_crafted(tmp_path / "crafted")
    for data in (crafted, province):
        duck = run_warnings(data, ANHUI, tmp_path / "duck", on=ON, poverty_line=LINE)
        sparked = run_warnings(
            data, ANHUI, tmp_path / "spark", on=ON, poverty_line=LINE, engine="spark", session=spark
        )
        a, b = fired(tmp_path / "duck"), fired(tmp_path / "spark")
        assert a.num_rows > 10
        assert a.schema == b.schema
        assert a.equals(b)
        assert duck["by_rule"] == sparked["by_rule"]


# --- the generator ----------------------------------------------------------------------


def test_generator_is_deterministic_and_chunking_does_not_matter(
    tmp_path: Path, province: Path
) -> None:
    files = ("statuses.parquet", "incomes.parquet", "events.parquet")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("households.parquet", "members.parquet", "truth.parquet"):
        (copy / name).write_bytes((province / name).read_bytes())
    generate_monitoring(copy, seed=17, on=ON, chunk=1000)
    for name in files:
        assert pq.read_table(copy / name).equals(pq.read_table(province / name)), name
    generate_monitoring(copy, seed=18, on=ON)
    assert not pq.read_table(copy / "events.parquet").equals(
        pq.read_table(province / "events.parquet")
    )


def test_generated_statuses_incomes_and_events_are_realistic(province: Path) -> None:
    """Most registered households exited 2016–2019, some closed (Guangxi 严销号: 3 years after
    exit), some still registered, the poorer registered; events at a few per cent."""
    households = pq.read_table(province / "households.parquet")
    n = households.num_rows
    s = pq.read_table(province / "statuses.parquet")
    truth = pq.read_table(province / "truth.parquet")
    status = np.array(s["status"].to_pylist())
    share = {k: float(np.mean(status == k)) for k in ("surveyed", "registered", "exited", "closed")}
    ever = status != "surveyed"
    assert 0.7 < share["surveyed"] < 0.85
    assert share["exited"] + share["closed"] > 3 * share["registered"] > 0
    assert share["closed"] > 0.01
    wealth = truth["wealth"].to_numpy()
    assert wealth[ever].mean() < wealth[~ever].mean() - 0.8
    exit_year = s["exit_year"].to_numpy(zero_copy_only=False)
    out = np.isin(status, ["exited", "closed"])
    assert set(exit_year[out].astype(int)) <= {2016, 2017, 2018, 2019}
    assert np.isnan(exit_year[status == "surveyed"].astype(float)).all()
    closed_exit = exit_year[status == "closed"]
    assert (closed_exit <= ON.year - 4).all()  # closed at the end of exit year + 3, ≤ on
    assert (s["status_date"].to_numpy() <= np.datetime64(ON)).all()

    inc = pq.read_table(province / "incomes.parquet")
    assert sorted(set(inc["year"].to_pylist())) == [2016, 2017, 2018, 2019]
    assert inc.num_rows == 4 * n
    # An exited household's income in its exit year was above that year's line.
    joined = inc.join(s, "household_id").filter(pc.equal(pc.field("year"), pc.field("exit_year")))
    for row in joined.to_pylist():
        assert float(row["per_capita_income"]) >= LINES[row["year"]]

    ev = pq.read_table(province / "events.parquet")
    dates = ev["date"].to_numpy()
    assert (dates <= np.datetime64(ON)).all()
    assert (dates > np.datetime64(ON) - np.timedelta64(730, "D")).all()
    per_year = {k: ev.filter(pc.equal(ev["kind"], k)).num_rows / n / 2 for k in EVENT_KINDS}
    assert 0.02 < per_year["medical_expense"] < 0.08
    assert 0.002 < per_year["disaster"] < 0.06
    assert 0.005 < per_year["labour_loss"] < 0.03
    assert 0.02 < per_year["migrant_unemployed"] < 0.1
    assert 0 < per_year["loan_overdue"] < 0.01
    assert 0 < per_year["dropout"] < 0.01
    assert 0 < per_year["house_dilapidated"] < 0.01
    assert 0.05 < sum(per_year.values()) < 0.25
    person_kinds = pc.is_in(ev["kind"], pa.array(["labour_loss", "migrant_unemployed", "dropout"]))
    assert ev.filter(person_kinds)["person_id"].null_count == 0
    amounts = ev.filter(pc.is_in(ev["kind"], pa.array(["medical_expense", "loan_overdue"])))
    assert amounts["amount"].null_count == 0
