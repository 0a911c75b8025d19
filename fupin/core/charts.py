"""ECharts options built on the server, drawn by `static/fupin/charts.js`.

Views build the option here (plain dicts, no database access, labels already translated by
the caller) and hand it to `templates/charts/chart.html`, which emits it with `json_script`.
Keeping the option in Python keeps the pages free of inline JS and makes the chart testable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

#: Households at or below the score line are the ones selected; they take the brand colour
#: so the selected side reads first (fupin.css `--fupin-brand`).
SELECTED_COLOUR = "#8c1d18"
OTHER_COLOUR = "#adb5bd"
LINE_COLOUR = "#212529"


def _whole_score(score: int | Decimal | float) -> int:
    whole = int(score)
    if whole != score:
        raise ValueError(f"a histogram of whole scores got {score!r}")
    return whole


def score_counts(scores: Iterable[int | None]) -> list[tuple[int, int]]:
    """(score, households) pairs from one score per household, lowest score first.

    Households without a score yet (None) have no place on a score axis and are left out;
    a page that shows the histogram should say how many there are.
    """
    counts = Counter(_whole_score(s) for s in scores if s is not None)
    return sorted(counts.items())


def score_buckets(
    values_counts: Iterable[tuple[int | None, int]], *, line: int | None = None
) -> list[tuple[int, int]]:
    """Every whole score from the lowest to the highest, with 0 for scores nobody has.

    Empty scores stay on the axis so that gaps are seen as gaps, not squeezed out; the range
    stretches to the line so that the line can always be drawn. Accepts a database aggregate
    directly (`.values_list("score").annotate(n=Count("id"))`): repeated scores are added up,
    households without a score (None) are left out.
    """
    counts: Counter[int] = Counter()
    for score, n in values_counts:
        if score is not None:
            counts[_whole_score(score)] += n
    ends = list(counts)
    if line is not None:
        ends.append(line)
    if not ends:
        return []
    return [(score, counts.get(score, 0)) for score in range(min(ends), max(ends) + 1)]


def histogram_option(
    values_counts: Iterable[tuple[int | None, int]],
    *,
    line: int | None,
    line_label: str,
    x_label: str,
    y_label: str,
    below_colour: str = SELECTED_COLOUR,
    above_colour: str = OTHER_COLOUR,
    line_colour: str = LINE_COLOUR,
) -> dict[str, Any]:
    """ECharts option of a bar histogram: households (y) per whole score (x), with the line.

    Bars with score <= `line` (the selected side) are `below_colour`, the others
    `above_colour`; without a line every bar is `above_colour` and no line is drawn.
    """
    buckets = score_buckets(values_counts, line=line)
    bars = [
        {
            "value": n,
            "itemStyle": {
                "color": below_colour if line is not None and score <= line else above_colour
            },
        }
        for score, n in buckets
    ]
    series: dict[str, Any] = {
        "type": "bar",
        "name": str(y_label),
        "data": bars,
        "barCategoryGap": "15%",
    }
    if line is not None:
        series["markLine"] = {
            "symbol": "none",
            "animation": False,
            "lineStyle": {"color": line_colour, "type": "dashed", "width": 2},
            # "{b}" is the data item's name: a label with braces in it is not a template.
            "label": {"formatter": "{b}", "position": "end"},
            # On a category axis a string is a category; a number would be taken as an index.
            "data": [{"name": str(line_label), "xAxis": str(line)}],
        }
    return {
        "grid": {"left": 56, "right": 32, "top": 48, "bottom": 48},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {
            "type": "category",
            "name": str(x_label),
            "nameLocation": "middle",
            "nameGap": 28,
            "data": [str(score) for score, _ in buckets],
            "axisTick": {"alignWithLabel": True},
        },
        "yAxis": {"type": "value", "name": str(y_label), "minInterval": 1},
        "series": [series],
    }


def histogram_table(
    values_counts: Iterable[tuple[int | None, int]], *, x_label: str, y_label: str
) -> dict[str, Any]:
    """The histogram's numbers as a table for `charts/chart.html`, read by screen readers.

    Only scores somebody has: a row per empty score would be noise when read aloud.
    """
    rows = [[score, n] for score, n in score_buckets(values_counts) if n]
    return {"columns": [str(x_label), str(y_label)], "rows": rows}
