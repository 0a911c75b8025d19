"""Scorecards as data (issue 4 item 2): parsing, and rejection of bad files with the line,
the item and what is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.scorecard import (
    ScorecardError,
    check_columns,
    load_scorecard,
    parse_scorecard,
)

DEFAULT = Path(__file__).resolve().parents[1] / "scorecards" / "guangxi-2015-illustrative.yaml"

HEAD = """\
name: Test
version: "1"
effective: 2016-01-01
categories:
  - id: c
    items:
"""


def card(items: str, head: str = HEAD) -> str:
    return head + items


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ScorecardError) as info:
        parse_scorecard(text, "t.yaml")
    return [(p.line, p.item, p.message) for p in info.value.problems]


def test_parses_every_kind() -> None:
    c = parse_scorecard(
        card(
            """\
      - {id: a, per_capita: farmland_mu, bands: [{max: 1, points: 0}, {min: 1, points: 2}]}
      - {id: b, column: road_surface, map: {"01": 1, earth: 0}, default: 3}
      - {id: d, column: water_safe, true: 2, false: 0}
      - {id: v, column: cars, veto: true, when: {min: 1}}
      - {id: w, column: x, optional: true, veto: true, when: true}
      - {id: z, column: attribute, veto: true, when: [tekun]}
"""
        )
    )
    assert (c.name, c.version, c.effective) == ("Test", "1", dt.date(2016, 1, 1))
    assert c.direction == "higher_is_better_off"
    a, b, d, v, w, z = c.items
    assert a.per_capita and a.column == "farmland_mu" and a.bands[1].min == 1.0
    assert b.mapping == (("01", 1), ("earth", 0)) and b.default == 3  # "01" stays text
    assert (d.kind, d.if_true, d.if_false) == ("boolean", 2, 0)
    assert v.veto is not None and v.veto.min == 1.0 and v.line == 10
    assert w.optional and w.veto is not None and w.veto.equals is True
    assert z.veto is not None and z.veto.codes == ("tekun",)
    assert [i.id for i in c.veto_items] == ["v", "w", "z"]


def test_default_scorecard_shape() -> None:
    """Issue 4 item 2: 18 categories (plus the veto group), about 90 items, 8 vetoes."""
    c = load_scorecard(DEFAULT)
    scoring = [cat for cat in c.categories if cat.id != "veto"]
    assert len(scoring) == 18
    assert 80 <= len(c.items) <= 98
    assert len(c.veto_items) == 8
    assert "illustrative" in DEFAULT.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize(
    ("items", "line", "item", "fragment"),
    [
        (
            "      - {id: a, column: x, bands: [{min: 0, max: 5, points: 1}, "
            "{min: 3, max: 9, points: 2}]}\n",
            7,
            "a",
            "overlaps",
        ),
        (
            "      - {id: a, column: x, bands: [{min: 5, points: 1}, "
            "{min: 0, max: 5, points: 2}]}\n",
            7,
            "a",
            "out of order",
        ),
        ("      - {id: a, column: x, bands: [{min: 0, max: 5}]}\n", 7, "a", "missing 'points'"),
        ("      - {id: a, column: x, bands: [{min: 5, max: 1, points: 1}]}\n", 7, "a", "below"),
        ("      - {id: a, column: x, true: 1}\n", 7, "a", "both 'true' and 'false'"),
        ("      - {id: a, column: x, true: 1, false: 1.5}\n", 7, "a", "whole number"),
        ("      - {id: a, column: x}\n", 7, "a", "exactly one of"),
        (
            "      - {id: a, column: x, map: {p: 1}, bands: [{min: 1, points: 1}]}\n",
            7,
            "a",
            "found",
        ),
        ("      - {id: a, column: x, veto: true}\n", 7, "a", "needs 'when'"),
        ("      - {id: a, column: x, map: {p: 1}, colour: red}\n", 7, "a", "unknown key 'colour'"),
        ("      - {id: a, map: {p: 1}}\n", 7, "a", "missing 'column'"),
        ("      - {id: a, column: x, per_capita: y, map: {p: 1}}\n", 7, "a", "not both"),
        ("      - {id: a, per_capita: y, true: 1, false: 0}\n", 7, "a", "needs 'bands'"),
    ],
)
def test_rejects_bad_items(items: str, line: int, item: str, fragment: str) -> None:
    found = problems(card(items))
    assert any(ln == line and it == item and fragment in msg for ln, it, msg in found), found


def test_duplicate_item_ids_name_both_lines() -> None:
    found = problems(
        card(
            "      - {id: a, column: x, true: 1, false: 0}\n"
            "      - {id: a, column: y, true: 1, false: 0}\n"
        )
    )
    assert found == [(8, "a", "duplicate item id (first at line 7)")]


def test_bad_header() -> None:
    text = 'name: T\nversion: "1"\neffective: someday\ndirection: sideways\ncategories: []\n'
    found = problems(text)
    assert (3, None, "'effective' must be a date YYYY-MM-DD, not 'someday'") in found
    assert any(ln == 4 and "direction must be one of" in msg for ln, _i, msg in found)
    assert any(ln == 5 and "non-empty list" in msg for ln, _i, msg in found)


def test_every_problem_at_once_and_formatted() -> None:
    with pytest.raises(ScorecardError) as info:
        parse_scorecard(
            card(
                "      - {id: a, column: x}\n"
                "      - {id: b, column: x, bands: [{min: 0, max: 5}]}\n"
            ),
            "t.yaml",
        )
    text = str(info.value)
    assert "t.yaml:7: item a:" in text and "t.yaml:8: item b:" in text


def test_not_yaml() -> None:
    assert problems("name: [unclosed\n")[0][2].startswith("not valid YAML")


def test_columns_checked_with_line_and_item() -> None:
    c = parse_scorecard(
        card(
            "      - {id: a, column: cars, bands: [{min: 1, points: 1}]}\n"
            "      - {id: b, column: water_safe, true: 1, false: 0}\n"
            "      - {id: c, column: nope, bands: [{min: 1, points: 1}]}\n"
            "      - {id: d, column: gone, optional: true, true: 1, false: 0}\n"
        ),
        "t.yaml",
    )
    with pytest.raises(ScorecardError) as info:
        check_columns(c, {"cars": "string", "water_safe": "boolean"})
    found = [(p.line, p.item, p.message) for p in info.value.problems]
    assert found == [
        (7, "a", "column 'cars' is string, but this item needs a numeric column"),
        (9, "c", "unknown column 'nope'"),
    ]
    missing = check_columns(c, {"cars": "int16", "water_safe": "boolean", "nope": "float64"})
    assert [i.id for i in missing] == ["d"]
