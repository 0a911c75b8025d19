"""ECharts options of the exit pages, built on the server like `fupin.core.charts` (whose
colours they use) and drawn by static/fupin/charts.js through templates/charts/chart.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fupin.core.charts import OTHER_COLOUR, SELECTED_COLOUR


def difficulty_bar_option(
    names: Sequence[str],
    values: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    hardest: int = 0,
) -> dict[str, Any]:
    """A horizontal bar per county, hardest first (top): the difficulty of exit (0 … 1).
    The `hardest` first bars take the brand colour — the counties that exit last."""
    bars = [
        {
            "value": round(v, 4),
            "itemStyle": {"color": SELECTED_COLOUR if i < hardest else OTHER_COLOUR},
        }
        for i, v in enumerate(values)
    ]
    return {
        "grid": {"left": 8, "right": 32, "top": 32, "bottom": 40, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {
            "type": "value",
            "name": str(x_label),
            "nameLocation": "middle",
            "nameGap": 26,
            "min": 0,
            "max": 1,
        },
        # ECharts draws a category axis from the bottom: reversed, the first name is on top.
        "yAxis": {"type": "category", "data": [str(n) for n in names], "inverse": True},
        "series": [{"type": "bar", "name": str(y_label), "data": bars}],
    }


def bar_table(
    names: Sequence[str], values: Sequence[float], *, x_label: str, y_label: str
) -> dict[str, Any]:
    """The chart's numbers for screen readers (charts/chart.html `table`)."""
    return {
        "columns": [str(y_label), str(x_label)],
        "rows": [[n, f"{v:.3f}"] for n, v in zip(names, values, strict=True)],
    }
