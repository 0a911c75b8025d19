"""Identification policy as data: procedures by province, poverty lines by year."""

from __future__ import annotations

import pytest

from fupin.identify import policy

GOOD_STEP = (
    '{ code = "a", kind = "announcement", level = "county", label = "A", label_zh = "公告" }'
)


def procedures_text(steps: str) -> str:
    return f"""
[[procedure]]
code = "x"
province = "99"
label = "X"
label_zh = "X"
source = "test"
steps = [{steps}]
"""


def test_both_shipped_procedures_parse_and_end_in_an_announcement() -> None:
    """DOMAIN.md §3: Guangxi 两入户两评议两审核两公示一公告 (seed 000),
    Gansu 一核二看三比四评议五公示 (seed 003)."""
    shipped = policy.procedures()
    assert set(shipped) == {"guangxi-2015", "gansu-2015"}
    gansu = shipped["gansu-2015"]
    assert [s.kind for s in gansu.steps].count("notice") == 3
    assert policy.procedure_for("450102").code == "guangxi-2015"  # type: ignore[union-attr]
    assert policy.procedure_for("620102").code == "gansu-2015"  # type: ignore[union-attr]
    assert policy.procedure_for("110101") is None
    for p in shipped.values():
        assert all(s.days > 0 for s in p.steps if s.kind == "notice")


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (
            '{ code = "n", kind = "notice", level = "village", label = "N", label_zh = "N" }, '
            + GOOD_STEP,
            "period",
        ),
        (
            '{ code = "v", kind = "visit", level = "village", label = "V", label_zh = "V" }',
            "last step",
        ),
        (
            '{ code = "v", kind = "vote", level = "village", label = "V", label_zh = "V" }, '
            + GOOD_STEP,
            "kind",
        ),
        (
            '{ code = "v", kind = "visit", level = "group", label = "V", label_zh = "V" }, '
            + GOOD_STEP,
            "level",
        ),
        (GOOD_STEP + ", " + GOOD_STEP, "repeat"),
    ],
)
def test_a_bad_procedure_file_is_refused_with_its_place(steps: str, problem: str) -> None:
    with pytest.raises(ValueError) as exc:
        policy.parse_procedures(procedures_text(steps), "p.toml")
    assert problem in str(exc.value) and "p.toml" in str(exc.value)


def test_poverty_line_is_the_latest_not_after_the_year() -> None:
    """DOMAIN.md §10: 2,855 (2015), 2,952 (2016), about 4,000 (2020); lines are data."""
    assert policy.poverty_line(2015) == 2855
    assert policy.poverty_line(2016) == 2952
    assert policy.poverty_line(2018) == 3535
    assert policy.poverty_line(2021) == 4000  # no line recorded for 2021: 2020's holds
    assert policy.poverty_line(2020) == 4000
    assert policy.poverty_line(2009) is None
