"""Scorecards as data: parse and validate a YAML scorecard (format: engine/scorecards/FORMAT.md).

    card = load_scorecard(path)          # raises ScorecardError listing every problem
    check_columns(card, {"cars": "integer", ...})   # against a table's columns

Every problem names the file line, the item and what is wrong, so a province editing its
own card learns all its mistakes in one run. Line numbers come from composing the YAML
(yaml.compose keeps each node's start mark) rather than loading it, which loses them.
Pure dataclasses; this module never imports Django.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

DIRECTIONS = ("higher_is_better_off", "higher_is_poorer")
Kind = Literal["bands", "map", "boolean", "veto"]
#: Column kinds as `check_columns` expects them.
ColumnKind = Literal["numeric", "boolean", "string"]


@dataclass(frozen=True)
class Problem:
    line: int | None
    item: str | None
    message: str

    def format(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        what = f"item {self.item}: " if self.item else ""
        return f"{where}: {what}{self.message}"


class ScorecardError(ValueError):
    """A scorecard that cannot be used; `problems` holds every one found, in file order."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.item or ""))
        super().__init__("\n".join(p.format(source) for p in self.problems))


@dataclass(frozen=True)
class Band:
    """Points for a value in the half-open interval [min, max); None is unbounded."""

    min: float | None
    max: float | None
    points: int


@dataclass(frozen=True)
class Veto:
    """When a veto item disqualifies: a value range, a boolean, or one of some codes."""

    min: float | None = None
    max: float | None = None
    equals: bool | None = None
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    category: str
    column: str
    kind: Kind
    line: int
    per_capita: bool = False
    optional: bool = False
    bands: tuple[Band, ...] = ()
    mapping: tuple[tuple[str, int], ...] = ()
    default: int = 0
    if_true: int = 0
    if_false: int = 0
    veto: Veto | None = None

    @property
    def max_points(self) -> int:
        if self.kind == "bands":
            return max([b.points for b in self.bands] + [self.default])
        if self.kind == "map":
            return max([p for _c, p in self.mapping] + [self.default])
        if self.kind == "boolean":
            return max(self.if_true, self.if_false)
        return 0


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Scorecard:
    name: str
    version: str
    effective: dt.date
    direction: str
    categories: tuple[Category, ...]
    source: str = "<scorecard>"

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for c in self.categories for i in c.items)

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.kind != "veto")

    @property
    def veto_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.kind == "veto")

    @property
    def columns(self) -> set[str]:
        return {i.column for i in self.items} | (
            {"people"} if any(i.per_capita for i in self.items) else set()
        )


# ======================================================================================
# Parsing
# ======================================================================================

_ITEM_KEYS = {
    "id", "label", "column", "per_capita", "optional", "bands", "map", "default", "true",
    "false", "veto", "when",
}  # fmt: skip


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, node: yaml.Node | None, item: str | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(line, item, message))

    @staticmethod
    def value(node: yaml.Node) -> Any:
        return yaml.SafeLoader("").construct_object(node, deep=True)  # type: ignore[no-untyped-call]

    def mapping(self, node: yaml.Node, item: str | None, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, item, f"{what} must be a mapping")
            return {}
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            # The key as written: YAML 1.1 would read `true:` / `false:` as booleans.
            key = k.value if isinstance(k, yaml.ScalarNode) else str(self.value(k))
            if key in out:
                self.fail(k, item, f"key {key!r} appears twice")
            out[key] = v
        return out

    def text(self, m: dict[str, yaml.Node], key: str, item: str | None, node: yaml.Node) -> str:
        if key not in m:
            self.fail(node, item, f"missing {key!r}")
            return ""
        v = self.value(m[key])
        if isinstance(v, bool) or v is None or str(v).strip() == "":
            self.fail(m[key], item, f"{key!r} must be a non-empty text")
            return ""
        return str(v)

    def integer(self, node: yaml.Node, item: str | None, what: str) -> int:
        v = self.value(node)
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(node, item, f"{what} must be a whole number, not {v!r}")
            return 0
        return v

    def number(self, node: yaml.Node, item: str | None, what: str) -> float | None:
        v = self.value(node)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            self.fail(node, item, f"{what} must be a number, not {v!r}")
            return None
        return float(v)

    def flag(self, m: dict[str, yaml.Node], key: str, item: str) -> bool:
        if key not in m:
            return False
        v = self.value(m[key])
        if not isinstance(v, bool):
            self.fail(m[key], item, f"{key!r} must be true or false, not {v!r}")
            return False
        return v

    def card(self, root: yaml.Node | None) -> Scorecard | None:
        if root is None:
            self.fail(None, None, "the file is empty")
            return None
        m = self.mapping(root, None, "the scorecard")
        if not m:
            return None
        name = self.text(m, "name", None, root)
        version = self.text(m, "version", None, root)
        effective = dt.date(1970, 1, 1)
        if "effective" not in m:
            self.fail(root, None, "missing 'effective' (the date the scorecard takes effect)")
        else:
            v = self.value(m["effective"])
            if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                effective = v
            else:
                self.fail(m["effective"], None, f"'effective' must be a date YYYY-MM-DD, not {v!r}")
        direction = DIRECTIONS[0]
        if "direction" in m:
            direction = str(self.value(m["direction"]))
            if direction not in DIRECTIONS:
                self.fail(
                    m["direction"],
                    None,
                    f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}",
                )
        for key in m:
            if key not in {"name", "version", "effective", "direction", "categories", "notes"}:
                self.fail(m[key], None, f"unknown key {key!r}")
        categories: list[Category] = []
        seen: dict[str, int] = {}
        node = m.get("categories")
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node or root, None, "'categories' must be a non-empty list")
        else:
            for cnode in node.value:
                cat = self.category(cnode, seen)
                if cat is not None:
                    categories.append(cat)
        if self.problems:
            return None
        return Scorecard(name, version, effective, direction, tuple(categories), self.source)

    def category(self, node: yaml.Node, seen: dict[str, int]) -> Category | None:
        m = self.mapping(node, None, "a category")
        if not m:
            return None
        cid = self.text(m, "id", None, node)
        label = self.text(m, "label", None, node) if "label" in m else cid
        items: list[Item] = []
        inode = m.get("items")
        if not isinstance(inode, yaml.SequenceNode) or not inode.value:
            self.fail(inode or node, None, f"category {cid}: 'items' must be a non-empty list")
            return None
        for n in inode.value:
            item = self.item(n, cid, seen)
            if item is not None:
                items.append(item)
        return Category(cid, label, tuple(items))

    def item(self, node: yaml.Node, category: str, seen: dict[str, int]) -> Item | None:
        m = self.mapping(node, None, "an item")
        if not m:
            return None
        iid = self.text(m, "id", None, node)
        if not iid:
            return None
        line = node.start_mark.line + 1
        if not iid.replace("_", "").isalnum() or not iid.isascii():
            self.fail(m["id"], iid, "an item id may hold only ASCII letters, digits and _")
        if iid in seen:
            self.fail(m["id"], iid, f"duplicate item id (first at line {seen[iid]})")
        else:
            seen[iid] = line
        for key in m:
            if key not in _ITEM_KEYS:
                self.fail(m[key], iid, f"unknown key {key!r}")
        label = self.text(m, "label", iid, node) if "label" in m else iid
        per_capita = "per_capita" in m
        if per_capita and "column" in m:
            self.fail(m["column"], iid, "give either 'column' or 'per_capita', not both")
        column = self.text(m, "per_capita" if per_capita else "column", iid, node)
        optional = self.flag(m, "optional", iid)
        common = dict(
            id=iid,
            label=label,
            category=category,
            column=column,
            line=line,
            per_capita=per_capita,
            optional=optional,
        )
        kinds = [k for k in ("bands", "map", "true", "veto") if k in m]
        if "false" in m and "true" not in m:
            kinds.append("true")
        if len(kinds) != 1:
            self.fail(
                node,
                iid,
                "an item needs exactly one of 'bands', 'map', 'true'/'false' or 'veto'"
                + (f" (found {', '.join(kinds)})" if kinds else ""),
            )
            return None
        default = self.integer(m["default"], iid, "'default'") if "default" in m else 0
        kind = kinds[0]
        if per_capita and kind in ("map", "true"):
            # A share of people is a number: only bands or a range veto can read it.
            self.fail(m["per_capita"], iid, "'per_capita' needs 'bands' or a veto with min/max")
        if kind == "bands":
            bands = self.bands(m["bands"], iid)
            return Item(kind="bands", bands=bands, default=default, **common)  # type: ignore[arg-type]
        if kind == "map":
            mapping = self.codes(m["map"], iid)
            return Item(kind="map", mapping=mapping, default=default, **common)  # type: ignore[arg-type]
        if kind == "true":
            if "true" not in m or "false" not in m:
                self.fail(node, iid, "a boolean item needs both 'true' and 'false' points")
                return None
            t = self.integer(m["true"], iid, "'true' points")
            f = self.integer(m["false"], iid, "'false' points")
            return Item(kind="boolean", if_true=t, if_false=f, **common)  # type: ignore[arg-type]
        if self.value(m["veto"]) is not True:
            self.fail(m["veto"], iid, "'veto' must be true (a veto item has no points)")
        if "when" not in m:
            self.fail(node, iid, "a veto item needs 'when' (min/max, true/false or codes)")
            return None
        return Item(kind="veto", veto=self.when(m["when"], iid), **common)  # type: ignore[arg-type]

    def bands(self, node: yaml.Node, iid: str) -> tuple[Band, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, iid, "'bands' must be a non-empty list of {min, max, points}")
            return ()
        out: list[tuple[Band, yaml.Node]] = []
        for n in node.value:
            m = self.mapping(n, iid, "a band")
            if not m:
                continue
            for key in m:
                if key not in {"min", "max", "points"}:
                    self.fail(m[key], iid, f"unknown key {key!r} in a band")
            if "points" not in m:
                self.fail(n, iid, "a band is missing 'points'")
                continue
            lo = self.number(m["min"], iid, "'min'") if "min" in m else None
            hi = self.number(m["max"], iid, "'max'") if "max" in m else None
            if lo is None and hi is None:
                self.fail(n, iid, "a band needs 'min', 'max' or both")
                continue
            if lo is not None and hi is not None and lo >= hi:
                self.fail(n, iid, f"a band's min {lo:g} must be below its max {hi:g}")
                continue
            out.append((Band(lo, hi, self.integer(m["points"], iid, "'points'")), n))
        for (a, _na), (b, nb) in itertools.pairwise(out):
            a_hi = math.inf if a.max is None else a.max
            b_lo = -math.inf if b.min is None else b.min
            a_lo = -math.inf if a.min is None else a.min
            if b_lo < a_hi:
                msg = "overlaps the band before it" if b_lo >= a_lo else "is out of order"
                self.fail(nb, iid, f"band [{_fmt(b.min)}, {_fmt(b.max)}) {msg}; sort bands by min")
        return tuple(b for b, _n in out)

    def codes(self, node: yaml.Node, iid: str) -> tuple[tuple[str, int], ...]:
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.fail(node, iid, "'map' must be a non-empty mapping of code: points")
            return ()
        out: dict[str, int] = {}
        for k, v in node.value:
            # Codes as written: `01` stays "01", not the integer 1.
            code = k.value if isinstance(k, yaml.ScalarNode) else str(self.value(k))
            if code in out:
                self.fail(k, iid, f"code {code!r} appears twice in 'map'")
            out[code] = self.integer(v, iid, f"points for {code!r}")
        return tuple(out.items())

    def when(self, node: yaml.Node, iid: str) -> Veto:
        v = self.value(node)
        if isinstance(v, bool):
            return Veto(equals=v)
        if isinstance(v, list):
            if not v:
                self.fail(node, iid, "'when' needs at least one code")
            return Veto(codes=tuple(str(c) for c in v))
        m = self.mapping(node, iid, "'when'")
        lo = self.number(m["min"], iid, "'min'") if "min" in m else None
        hi = self.number(m["max"], iid, "'max'") if "max" in m else None
        for key in m:
            if key not in {"min", "max"}:
                self.fail(m[key], iid, f"unknown key {key!r} in 'when'")
        if lo is None and hi is None:
            self.fail(node, iid, "'when' needs min, max, true/false or a list of codes")
        elif lo is not None and hi is not None and lo >= hi:
            self.fail(node, iid, f"'when' min {lo:g} must be below its max {hi:g}")
        return Veto(min=lo, max=hi)


def _fmt(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


def parse_scorecard(text: str, source: str = "<scorecard>") -> Scorecard:
    """Parse a scorecard from YAML text; raise ScorecardError with every problem found."""
    parser = _Parser(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScorecardError(
            source, [Problem(line, None, f"not valid YAML: {exc.problem}")]
        ) from exc
    card = parser.card(root)
    if card is None or parser.problems:
        raise ScorecardError(source, parser.problems)
    return card


def load_scorecard(path: Path | str) -> Scorecard:
    path = Path(path)
    return parse_scorecard(path.read_text(encoding="utf-8"), str(path))


def column_kind(type_name: str) -> ColumnKind | None:
    """The kind of an Ibis/Arrow type name: numeric, boolean, string (None: unusable)."""
    t = type_name.lower()
    if t.startswith(("int", "uint", "float", "decimal", "double")):
        return "numeric"
    if t.startswith(("bool",)):
        return "boolean"
    if t.startswith(("string", "utf8", "large_string")):
        return "string"
    return None


def check_columns(card: Scorecard, columns: Mapping[str, str]) -> list[Item]:
    """Check items against a table's columns (name → type name). Returns the items whose
    optional column is missing (they score 0 and never veto); raises ScorecardError for a
    required column that is missing or of the wrong kind."""
    problems: list[Problem] = []
    missing: list[Item] = []
    if any(i.per_capita for i in card.items) and column_kind(columns.get("people", "")) != (
        "numeric"
    ):
        problems.append(Problem(None, None, "per-capita items need a numeric 'people' column"))
    for item in card.items:
        if item.column not in columns:
            if item.optional:
                missing.append(item)
            else:
                problems.append(Problem(item.line, item.id, f"unknown column {item.column!r}"))
            continue
        kind = column_kind(columns[item.column])
        want = _wanted_kind(item)
        if kind not in want:
            problems.append(
                Problem(
                    item.line,
                    item.id,
                    f"column {item.column!r} is {columns[item.column]}, "
                    f"but this item needs a {' or '.join(sorted(k for k in want if k))} column",
                )
            )
    if problems:
        raise ScorecardError(card.source, problems)
    return missing


def _wanted_kind(item: Item) -> set[ColumnKind | None]:
    if item.kind == "bands" or item.per_capita:
        return {"numeric"}
    if item.kind == "map":
        return {"string", "numeric"}
    if item.kind == "boolean":
        return {"boolean"}
    assert item.veto is not None
    if item.veto.equals is not None:
        return {"boolean"}
    if item.veto.codes:
        return {"string", "numeric"}
    return {"numeric"}


__all__ = [
    "Band",
    "Category",
    "Item",
    "Problem",
    "Scorecard",
    "ScorecardError",
    "Veto",
    "check_columns",
    "column_kind",
    "load_scorecard",
    "parse_scorecard",
]
