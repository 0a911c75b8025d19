"""Score histograms with the score line (DOMAIN.md §3 "Cutoff by quota": the households just
around the line must be visible) and the chart partial that draws them."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.functional import lazy

from fupin.core.charts import (
    OTHER_COLOUR,
    SELECTED_COLOUR,
    histogram_option,
    histogram_table,
    score_buckets,
    score_counts,
)

LABELS = {"line_label": "Score line", "x_label": "Score", "y_label": "Households"}


def bars(option):
    """(score, households, colour) per bar, as the chart shows them."""
    scores = option["xAxis"]["data"]
    data = option["series"][0]["data"]
    assert len(scores) == len(data)
    return [
        (int(s), d["value"], d["itemStyle"]["color"]) for s, d in zip(scores, data, strict=True)
    ]


def test_every_score_between_lowest_and_highest_has_a_bar_even_when_nobody_has_it():
    """A gap in the scores shows as an empty bar, not as two neighbouring bars."""
    option = histogram_option([(43, 2), (40, 1), (47, 5)], line=None, **LABELS)
    assert [(s, n) for s, n, _ in bars(option)] == [
        (40, 1), (41, 0), (42, 0), (43, 2), (44, 0), (45, 0), (46, 0), (47, 5),
    ]  # fmt: skip


def test_the_axis_stretches_to_a_line_outside_the_scores():
    """A line below every score is still drawn: the county then selects no household."""
    option = histogram_option([(50, 3), (52, 1)], line=47, **LABELS)
    assert [s for s, _, _ in bars(option)] == list(range(47, 53))
    assert option["series"][0]["markLine"]["data"][0]["xAxis"] == "47"


def test_the_mark_line_stands_on_the_line_score_and_carries_its_label():
    option = histogram_option([(40, 1), (45, 2), (50, 1)], line=45, **LABELS)
    mark = option["series"][0]["markLine"]
    # The x axis is a category axis: the line is the category "45", not the 45th bar.
    assert mark["data"] == [{"name": "Score line", "xAxis": "45"}]
    assert "45" in option["xAxis"]["data"]


def test_bars_at_or_below_the_line_are_coloured_as_selected_and_the_others_not():
    """Households with score <= the line are the selected side."""
    option = histogram_option([(40, 1), (44, 2), (45, 3), (46, 4), (49, 1)], line=45, **LABELS)
    colours = {s: c for s, _, c in bars(option)}
    assert {s for s, c in colours.items() if c == SELECTED_COLOUR} == {40, 41, 42, 43, 44, 45}
    assert {s for s, c in colours.items() if c == OTHER_COLOUR} == {46, 47, 48, 49}


def test_colours_can_be_chosen_by_the_caller():
    option = histogram_option(
        [(1, 1), (2, 1)], line=1, below_colour="#000001", above_colour="#000002", **LABELS
    )
    assert [c for _, _, c in bars(option)] == ["#000001", "#000002"]


def test_without_a_line_there_is_no_mark_line_and_no_selected_side():
    option = histogram_option([(40, 1), (45, 2)], line=None, **LABELS)
    assert "markLine" not in option["series"][0]
    assert {c for _, _, c in bars(option)} == {OTHER_COLOUR}


def test_axis_names_are_the_callers_translated_labels_as_plain_strings():
    """Lazy translations become strings, so the option is plain JSON for json_script."""
    # A lazy string like gettext_lazy's, without adding test msgids to the catalogue.
    translated = lazy(str, str)
    option = histogram_option(
        [(1, 1)],
        line=1,
        line_label=translated("Score line"),
        x_label=translated("Score"),
        y_label=translated("Households"),
    )
    names = [
        option["xAxis"]["name"],
        option["yAxis"]["name"],
        option["series"][0]["name"],
        option["series"][0]["markLine"]["data"][0]["name"],
    ]
    assert names == ["Score", "Households", "Households", "Score line"]
    assert {type(name) for name in names} == {str}
    json.dumps(option)


def test_households_cannot_be_fractional_on_the_y_axis():
    assert histogram_option([(1, 1)], line=None, **LABELS)["yAxis"]["minInterval"] == 1


def test_no_scores_and_no_line_give_an_empty_chart():
    option = histogram_option([], line=None, **LABELS)
    assert option["xAxis"]["data"] == []
    assert option["series"][0]["data"] == []


def test_counts_from_a_database_aggregate_are_added_up_and_unscored_households_left_out():
    """`.values_list("score").annotate(n=Count("id"))` over several villages repeats scores and
    has a None row for households not scored yet."""
    assert score_buckets([(41, 2), (None, 7), (43, 1), (41, 3)]) == [(41, 5), (42, 0), (43, 1)]


def test_score_counts_counts_households_per_score_and_skips_unscored_ones():
    assert score_counts([45, 40, 45, None, 45, 40]) == [(40, 2), (45, 3)]


def test_a_fractional_score_is_refused_rather_than_put_in_the_wrong_bar():
    with pytest.raises(ValueError):
        score_counts([40.5])


def test_the_table_lists_only_scores_somebody_has():
    """Screen readers read every row: empty scores would only be noise."""
    table = histogram_table([(40, 1), (43, 2)], x_label="Score", y_label="Households")
    assert table == {"columns": ["Score", "Households"], "rows": [[40, 1], [43, 2]]}


def render_chart(**context):
    return render_to_string("charts/chart.html", {"chart_id": "score-histogram", **context})


def test_the_partial_emits_the_option_as_json_for_charts_js():
    option = histogram_option([(40, 1), (45, 2)], line=45, **LABELS)
    html = render_chart(option=option, label="Scores", summary="3 households")
    assert 'class="fupin-chart"' in html
    assert 'data-chart-id="score-histogram"' in html
    found = re.search(
        r'<script id="score-histogram-option" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, html
    assert json.loads(found.group(1)) == option


def test_the_partial_cannot_be_broken_out_of_by_a_label():
    """Labels may contain anything a translator typed; json_script escapes "<"."""
    option = histogram_option([(1, 1)], line=1, **{**LABELS, "line_label": "</script><b>"})
    html = render_chart(option=option, label="Scores", summary="s")
    assert "</script><b>" not in html
    assert html.count("</script>") == 1


def test_the_chart_has_an_accessible_name_and_a_text_fallback():
    table = histogram_table([(40, 1), (43, 2)], x_label="Score", y_label="Households")
    html = render_chart(
        option={}, label="Scores in <county>", summary="12 households at or below 45", table=table
    )
    assert 'role="img"' in html
    assert 'aria-label="Scores in &lt;county&gt;"' in html
    assert 'aria-describedby="score-histogram-summary"' in html
    summary = re.search(r'<figcaption id="score-histogram-summary"[^>]*>(.*?)</figcaption>', html)
    assert summary and summary.group(1) == "12 households at or below 45"
    assert '<th scope="row">43</th><td>2</td>' in html


def test_the_table_is_optional():
    html = render_chart(option={}, label="Scores", summary="s")
    assert "<table" not in html


def test_the_chart_scripts_are_served_from_the_project_not_a_cdn():
    """The platform runs on government intranets: nothing is loaded from the internet."""
    html = render_to_string("charts/scripts.html")
    paths = re.findall(r'src="/static/([^"]+)"', html)
    assert paths == ["vendor/echarts-6.1.0/echarts.min.js", "fupin/charts.js"]
    for path in paths:
        assert finders.find(path), path
