"""Rules as data: a small expression language over a table's columns, compiled to Ibis.

Exit standards (engine/standards.py) and return-to-poverty warning rules (engine/warnings.py)
are written by a province as text in their policy files, e.g.

    per_capita_income > poverty_line                      # 一超过
    uninsured_people == 0 and out_of_school_children == 0
    per_capita_income < 1.5 * poverty_line                # Anhui's warning line
    attribute == "dibao" and dibao_line < poverty_line    # Hunan's eighth situation

    rule = parse_rule(text)                   # RuleError names the position and the fault
    rule.names                                # the columns and parameters it reads
    cond = compile_rule(rule, table, {"poverty_line": 2952})   # an Ibis boolean
    note = evidence(rule, table, params)      # "per_capita_income=3120.5; poverty_line=2952"

The syntax is Python's expression syntax, parsed by `ast` (so precedence and chained
comparisons are Python's) and restricted to: numbers, strings, True/False/None, lists or
tuples of literals after `in` / `not in`; names (a column of the table or a parameter);
`+ - * /` and unary minus; `< <= > >= == !=`; `and`, `or`, `not`; and the functions
`coalesce(x, y, ...)`, `abs(x)`, `min(x, y)`, `max(x, y)`. Anything else (attribute
access, calls of other functions, subscripts, lambdas) is refused at parse time, so a
policy file can never run code. So is a comparison with None, which SQL never makes true.

Nulls follow SQL: a comparison with a missing value is null, `and`/`or` are three-valued;
`min`/`max` of a missing value is missing (SQL's LEAST/GREATEST would skip it).
A caller tells "not met" (false) from "no data" (null) with `.isnull()`; that is how an
exit standard shows an item it cannot judge from the data instead of calling it unmet.

The same compiled expression runs on DuckDB and Spark. This module never imports Django.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir

#: Parameters are plain numbers, strings or booleans (a year's poverty line, the year).
Param = float | int | str | bool

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
FUNCTIONS = ("coalesce", "abs", "min", "max")


class RuleError(ValueError):
    """A rule that cannot be used: the message quotes the rule and says where and why."""

    def __init__(self, text: str, message: str, offset: int | None = None) -> None:
        self.text = text
        self.offset = offset
        where = f" (at character {offset + 1})" if offset is not None else ""
        super().__init__(f"{message}{where}: {text}")


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its text, its syntax tree and the names it reads, in first-use order."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]


def parse_rule(text: str) -> Rule:
    """Parse and check a rule; every construct outside the grammar is a `RuleError`."""
    source = text.strip()
    if not source:
        raise RuleError(text, "empty rule")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as e:
        raise RuleError(source, f"not an expression ({e.msg})", (e.offset or 1) - 1) from None
    names: list[str] = []
    _check(tree.body, source, names)
    return Rule(source, tree, tuple(dict.fromkeys(names)))


def _check(node: ast.AST, text: str, names: list[str]) -> None:
    offset = getattr(node, "col_offset", None)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool) and node.value is not None:
            raise RuleError(text, f"a literal of type {type(node.value).__name__}", offset)
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise RuleError(text, f"{node.id} is a function: call it", offset)
        names.append(node.id)
        return
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text, names)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub):
            raise RuleError(text, "only `not` and unary minus are allowed", offset)
        _check(node.operand, text, names)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise RuleError(text, "only + - * / are allowed", offset)
        _check(node.left, text, names)
        _check(node.right, text, names)
        return
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        listed = [e for x in operands if isinstance(x, ast.List | ast.Tuple) for e in x.elts]
        for o in operands + listed:
            if isinstance(o, ast.Constant) and o.value is None:
                # SQL compares nothing with null: `x == None` would be "no data" on every row.
                raise RuleError(
                    text,
                    "a comparison with None is never true (a missing value is no data); "
                    "use coalesce(x, value) to give missing values a value",
                    o.col_offset,
                )
        _check(node.left, text, names)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple) or not all(
                    isinstance(e, ast.Constant) for e in right.elts
                ):
                    raise RuleError(text, '`in` takes a list of literals, e.g. ["C", "D"]', offset)
            elif type(op) not in _COMPARE:
                raise RuleError(text, "only < <= > >= == != in, not in compare", offset)
            else:
                _check(right, text, names)
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            raise RuleError(
                text, f"only the functions {', '.join(FUNCTIONS)} may be called", offset
            )
        if node.keywords or not node.args:
            raise RuleError(text, f"{func.id} takes positional arguments only", offset)
        if func.id == "abs" and len(node.args) != 1:
            raise RuleError(text, "abs takes one argument", offset)
        if func.id in ("min", "max") and len(node.args) != 2:
            raise RuleError(text, f"{func.id} takes two arguments", offset)
        for arg in node.args:
            _check(arg, text, names)
        return
    raise RuleError(text, f"{type(node).__name__} is not allowed in a rule", offset)


def missing_names(
    rule: Rule, columns: set[str] | list[str], params: Mapping[str, Param]
) -> list[str]:
    """The names a rule reads that are neither a column nor a parameter."""
    known = set(columns) | set(params)
    return [n for n in rule.names if n not in known]


def compile_rule(
    rule: Rule, table: ir.Table, params: Mapping[str, Param] | None = None
) -> ir.Value:
    """The rule as an Ibis expression over `table`. A name is a column of the table, else a
    parameter; a name that is neither is a `RuleError` (check `missing_names` first to
    treat absent data as "no data" instead)."""
    params = params or {}
    missing = missing_names(rule, table.columns, params)
    if missing:
        raise RuleError(rule.text, f"unknown name {', '.join(missing)}")
    return _compile(rule.tree.body, table, params)


def negate(value: ir.BooleanValue) -> ir.BooleanValue:
    """SQL's three-valued NOT, written as `value = FALSE`. Ibis compiles `~value` to
    `NOT (value)`, and a caller's `.isnull()` on it to `NOT (value) IS NULL`, which SQL
    reads as `NOT ((value) IS NULL)` — true for every known value. An equality keeps its
    parentheses, so "no data" stays distinguishable from "false"."""
    return value == ibis.literal(False)  # type: ignore[no-any-return]


def _typed(value: Any, dtype: str) -> Any:
    # A column of nothing but nulls (a None field of one household, typed by Arrow as
    # null) or a None literal has no type: Ibis compares it, but refuses and/or/not and
    # arithmetic on it. Typed as the operator wants, it stays null.
    return value.cast(dtype) if value.type().is_null() else value


def _compile(node: ast.AST, t: ir.Table, params: Mapping[str, Param]) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return ibis.null()
        return ibis.literal(node.value)
    if isinstance(node, ast.Name):
        if node.id in t.columns:
            return t[node.id]
        return ibis.literal(params[node.id])
    if isinstance(node, ast.BoolOp):
        values = [_typed(_compile(v, t, params), "boolean") for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        return reduce(combine, values)
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, t, params)
        if isinstance(node.op, ast.Not):
            return negate(_typed(operand, "boolean"))
        return -_typed(operand, "float64")
    if isinstance(node, ast.BinOp):
        left = _typed(_compile(node.left, t, params), "float64")
        right = _typed(_compile(node.right, t, params), "float64")
        if isinstance(node.op, ast.Div):
            # Integer columns divide as decimals, never by integer division; by zero, null.
            right = ibis.ifelse(right == 0, ibis.null(), right.cast("float64"))
            return left.cast("float64") / right
        return _ARITH[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        parts = []
        left = _compile(node.left, t, params)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(comparator, ast.List | ast.Tuple)
                options = [e.value for e in comparator.elts if isinstance(e, ast.Constant)]
                # `x IN (…)` bare: Spark cannot parse `x IN (…) IS NULL` (how a caller tells
                # no data), so the test sits in a CASE — null exactly when x is (the list
                # holds no null: _check refuses None).
                test = left.notin(options) if isinstance(op, ast.NotIn) else left.isin(options)
                parts.append(ibis.ifelse(left.isnull(), ibis.null("boolean"), test))
                continue
            right = _compile(comparator, t, params)
            parts.append(_COMPARE[type(op)](left, right))
            left = right
        return reduce(operator.and_, parts)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_compile(a, t, params) for a in node.args]
        name = node.func.id
        if name != "coalesce":
            args = [_typed(a, "float64") for a in args]
        if name == "coalesce":
            return ibis.coalesce(*args)
        if name == "abs":
            return args[0].abs()
        # SQL's LEAST and GREATEST skip nulls; a missing value must stay missing (no data).
        unknown = args[0].isnull() | args[1].isnull()
        best = ibis.least(*args) if name == "min" else ibis.greatest(*args)
        return ibis.ifelse(unknown, ibis.null(), best)
    raise RuleError("", f"{type(node).__name__} is not allowed")  # pragma: no cover - _check


def evidence(
    rule: Rule, table: ir.Table, params: Mapping[str, Param] | None = None
) -> ir.StringValue:
    """`name=value; …` for every name the rule reads (columns from the row, parameters as
    given; a missing value shows as `name=∅`), so a result says which data decided it."""
    params = params or {}
    parts: list[Any] = []
    for name in rule.names:
        if name in table.columns:
            value = table[name].cast("string").fill_null("∅")
        elif name in params:
            value = ibis.literal(str(params[name]))
        else:
            value = ibis.literal("∅")
        parts.append(ibis.literal(f"{name}=") + value)
    if not parts:
        return ibis.literal("")
    out = parts[0]
    for part in parts[1:]:
        out = out + ibis.literal("; ") + part
    return out
