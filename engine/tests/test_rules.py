"""The rule language of exit standards and warning rules (engine/rules.py, issue 7 items 1
and 5): every construct, every refusal, SQL null semantics, and DuckDB and Spark agreeing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.backends import connect, spark_session
from engine.rules import RuleError, compile_rule, evidence, missing_names, parse_rule

# Four households: a plain one, one with every value missing, one with zeros, one more.
ROWS = pa.table(
    {
        "household_id": pa.array([1, 2, 3, 4], pa.int64()),
        "per_capita_income": pa.array([3120.5, None, 0.0, 2952.0], pa.float64()),
        "people": pa.array([4, None, 0, 3], pa.int16()),
        "income": pa.array([7, None, 0, 9], pa.int64()),
        "attribute": ["dibao", None, "general", "tekun"],
        "water_safe": [True, None, False, True],
        "is_dilapidated": [False, None, True, False],
        "dibao_line": pa.array([2800, None, 3500, 3000], pa.int32()),
    }
)
PARAMS = {"poverty_line": 2952, "year": 2017}


@pytest.fixture(scope="module")
def con() -> Any:
    return ibis.duckdb.connect()


def run(con: Any, text: str, params: dict[str, Any] | None = None) -> list[Any]:
    t = ibis.memtable(ROWS)
    value = compile_rule(parse_rule(text), t, PARAMS if params is None else params)
    out = con.to_pyarrow(t.select(t.household_id, v=value).order_by("household_id"))
    return out["v"].to_pylist()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals, names and parameters; a column shadows a parameter of the same name
        ("per_capita_income > poverty_line", [True, None, False, False]),
        ("per_capita_income >= poverty_line", [True, None, False, True]),
        ("per_capita_income < 3000.0", [False, None, True, True]),
        ("people <= 3", [False, None, True, True]),
        ("attribute == 'dibao'", [True, None, False, False]),
        ('attribute != "dibao"', [False, None, True, True]),
        ("water_safe", [True, None, False, True]),
        ("water_safe == True", [True, None, False, True]),
        ("True", [True] * 4),
        ("year == 2017", [True] * 4),
        # arithmetic: integer columns divide as decimals; by zero is null
        ("income / 2 == 3.5", [True, None, False, False]),
        ("per_capita_income * people / people == per_capita_income", [True, None, None, True]),
        ("income + 1 - 2 == income - 1", [True, None, True, True]),
        ("-income < 0", [True, None, False, True]),
        # chained comparisons are Python's: a < b and b < c
        ("0 < income < 8", [True, None, False, False]),
        ("0 <= income <= 8", [True, None, True, False]),
        ("0 < income < 9 != 7", [True, None, False, False]),
        # in / not in with lists and tuples of literals
        ("attribute in ['dibao', 'tekun']", [True, None, False, True]),
        ("attribute in ('general',)", [False, None, True, False]),
        ("attribute not in ['dibao', 'tekun']", [False, None, True, False]),
        ("people in [0, 3]", [False, None, True, True]),
        # functions
        ("coalesce(people, 0) == 0", [False, True, True, False]),
        ("coalesce(per_capita_income, income, 1.0) > 0", [True, True, False, True]),
        ("abs(-income) == income", [True, None, True, True]),
        ("min(income, 8) == 7", [True, None, False, False]),
        ("max(income, 8) == 9", [False, None, False, True]),
        # unlike SQL's LEAST/GREATEST, a missing value is not skipped: no data stays no data
        ("min(income, 8) < 100", [True, None, True, True]),
        ("max(people, 1) >= 1", [True, None, True, True]),
        # Hunan's eighth situation, as an exit item: met unless a dibao household's line is
        # not above the national line (seed 000 line 254)
        (
            'not (attribute == "dibao" and dibao_line <= poverty_line)',
            [False, None, True, True],
        ),
    ],
)
def test_each_construct_compiles_to_its_meaning(con: Any, text: str, expected: list[Any]) -> None:
    """engine/rules.py grammar: each construct a policy file may use, on DuckDB."""
    assert run(con, text) == expected


def test_nulls_follow_sql_three_valued_logic(con: Any) -> None:
    """A missing value is "no data" (null), never false — except where SQL's three-valued
    and/or decide without it — so an exit item can say it cannot judge (DOMAIN.md §5)."""
    # row 2 has every value missing; row 3 has water_safe false
    assert run(con, "water_safe and per_capita_income > 0") == [True, None, False, True]
    assert run(con, "water_safe or per_capita_income > 0") == [True, None, False, True]
    assert run(con, "False and water_safe") == [False] * 4
    assert run(con, "True or water_safe") == [True] * 4
    assert run(con, "not water_safe") == [False, None, True, False]
    assert run(con, "not is_dilapidated") == [True, None, False, True]
    assert run(con, "attribute not in ['dibao']") == [False, None, True, True]


def test_a_negation_stays_null_when_tested_for_null(con: Any) -> None:
    """Regression: Ibis compiled `(~x).isnull()` to `NOT (x) IS NULL`, which SQL reads as
    `NOT (x IS NULL)`, so every "not" item with data read "no data" and a missing value read
    as known. The exit standards tell no_data from not_met exactly this way."""
    t = ibis.memtable(ROWS)
    for text in ("not is_dilapidated", "attribute not in ['dibao']", "not (water_safe)"):
        value = compile_rule(parse_rule(text), t)
        out = con.to_pyarrow(t.select(t.household_id, n=value.isnull()).order_by("household_id"))
        assert out["n"].to_pylist() == [False, True, False, False], text


def test_a_column_of_only_nulls_is_no_data_for_every_construct(con: Any) -> None:
    """One household's None field reaches Arrow as a column of type null: every construct
    must take it as a missing value (null), not fail on its missing type."""
    t = ibis.memtable(pa.table({"n": pa.array([None], pa.null()), "x": [1.0]}))
    for text in ("n > 1", "n == 'a'", "n in ['a']", "n not in ['a']", "n and True", "not n",
                 "n", "-n < 0", "abs(n) < 1", "min(n, 1) < 2", "n + 1 > 0", "n / 2 > 0",
                 "x < n", "None and x > 0", "-None < 1"):  # fmt: skip
        value = compile_rule(parse_rule(text), t)
        assert con.to_pyarrow(t.select(v=value))["v"].to_pylist() == [None], text
    for text in ("n or x > 0", "coalesce(n, 1) == 1", "False and n"):
        value = compile_rule(parse_rule(text), t)
        assert con.to_pyarrow(t.select(v=value))["v"].to_pylist() != [None], text


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("", "empty rule"),
        ("   ", "empty rule"),
        ("income >", "not an expression"),
        ("income = 3", "not an expression"),
        ("household.income > 0", "Attribute is not allowed"),
        ("income[0] > 0", "Subscript is not allowed"),
        ("(lambda: 1)()", "only the functions coalesce, abs, min, max may be called"),
        ("__import__('os').system('x')", "only the functions"),
        ("len(income) > 0", "only the functions"),
        ("coalesce > 0", "coalesce is a function: call it"),
        ("income ** 2 > 0", "only + - * / are allowed"),
        ("income // 2 > 0", "only + - * / are allowed"),
        ("income % 2 == 0", "only + - * / are allowed"),
        ("~income", "only `not` and unary minus are allowed"),
        ("+income > 0", "only `not` and unary minus are allowed"),
        ("income is 3", "only < <= > >= == != in, not in compare"),
        ("attribute in 'dibao'", "`in` takes a list of literals"),
        ("attribute in [people]", "`in` takes a list of literals"),
        ("attribute in ['a', 'b' + 'c']", "`in` takes a list of literals"),
        ("abs(income, 1) > 0", "abs takes one argument"),
        ("min(income) > 0", "min takes two arguments"),
        ("max(1, 2, 3) > 0", "max takes two arguments"),
        ("coalesce() == 1", "coalesce takes positional arguments only"),
        ("coalesce(x=1) == 1", "coalesce takes positional arguments only"),
        ("income > b'1'", "a literal of type bytes"),
        ("income if water_safe else 0", "IfExp is not allowed"),
        ("[income]", "List is not allowed"),
        ("f'{income}' == '1'", "JoinedStr is not allowed"),
        ("dibao_line == None", "a comparison with None is never true"),
        ("None != dibao_line", "a comparison with None is never true"),
        ("attribute in ['dibao', None]", "a comparison with None is never true"),
    ],
)
def test_everything_outside_the_grammar_is_refused_at_parse_time(text: str, fault: str) -> None:
    """engine/rules.py: a policy file can never run code, and its author learns what is
    wrong and where."""
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert fault in str(caught.value)
    assert str(caught.value).endswith(text.strip() or text)


def test_the_error_names_the_position() -> None:
    with pytest.raises(RuleError, match=r"\(at character 16\)") as caught:
        parse_rule("water_safe and x[0] > 1")
    assert caught.value.offset == 15
    with pytest.raises(RuleError, match=r"invalid syntax\) \(at character 10\)"):
        parse_rule("income > > 3")


def test_names_are_the_columns_and_parameters_read_in_first_use_order() -> None:
    rule = parse_rule("coalesce(b, a) > poverty_line and a < 2 * poverty_line")
    assert rule.names == ("b", "a", "poverty_line")
    assert missing_names(rule, ["a"], {"poverty_line": 1}) == ["b"]
    assert missing_names(rule, {"a", "b"}, {}) == ["poverty_line"]


def test_compiling_a_rule_with_an_unknown_name_is_refused() -> None:
    t = ibis.memtable(ROWS)
    with pytest.raises(RuleError, match="unknown name cars, poverty_line"):
        compile_rule(parse_rule("cars > 0 or income > poverty_line"), t, {})


def test_evidence_shows_every_value_read(con: Any) -> None:
    """The household page shows from which data an item was judged (issue 7 item 1)."""
    t = ibis.memtable(ROWS)
    rule = parse_rule("per_capita_income > poverty_line and water_safe and absent_column")
    note = evidence(rule, t, PARAMS)
    got = con.to_pyarrow(t.select(t.household_id, e=note).order_by("household_id"))["e"].to_pylist()
    assert got[0] == "per_capita_income=3120.5; poverty_line=2952; water_safe=true; absent_column=∅"
    assert got[1] == "per_capita_income=∅; poverty_line=2952; water_safe=∅; absent_column=∅"
    assert con.execute(evidence(parse_rule("True"), t)) == ""


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("pyspark")
    # getOrCreate: the other engine tests share the session; the JVM's exit stops it.
    yield spark_session(str(tmp_path_factory.mktemp("warehouse")))


SPARK_RULES = [
    "per_capita_income > poverty_line",
    "not (attribute == 'dibao' and dibao_line <= poverty_line)",
    "income / people > 1.5",
    "coalesce(people, 0) == 0 or not water_safe",
    "attribute not in ['tekun'] and 0 < income <= 9",
    "abs(min(income, 3) - max(people, 1)) < 2",
    "not is_dilapidated",
    "attribute in ['dibao', 'tekun']",
    "attribute not in ['dibao']",
    "min(income, 8) < 100",
]


def test_duckdb_and_spark_agree(tmp_path: Path, spark: Any) -> None:
    """The same compiled rule gives the same values, nulls and evidence on both engines."""
    path = tmp_path / "rows.parquet"
    pq.write_table(ROWS, path)
    results = []
    for engine in ("duckdb", "spark"):
        backend = connect(engine, spark)  # type: ignore[arg-type]
        t = backend.read_parquet(str(path))
        cols: dict[str, Any] = {"household_id": t.household_id}
        for i, text in enumerate(SPARK_RULES):
            rule = parse_rule(text)
            value = compile_rule(rule, t, PARAMS)
            cols[f"v{i}"] = value
            cols[f"n{i}"] = value.isnull()
            cols[f"e{i}"] = evidence(rule, t, PARAMS)
        results.append(backend.to_pyarrow(t.select(**cols).order_by("household_id")).to_pylist())
    assert results[0] == results[1]
    assert any(row["n1"] for row in results[0])
