"""Exit policy as data (policy/exit.toml): standards by province, procedures, sign-off chains,
consolidation periods and their dates across leap years."""

from __future__ import annotations

import datetime as dt

import pytest

from fupin.exit import policy
from fupin.identify.policy import parse_procedures

D = dt.date


def test_standards_by_province_seed_000_and_domain_5() -> None:
    """Guangxi judges by 八有一超 and the national standard, Hunan by its eight situations
    (which also block a proposal) and the national one; elsewhere the national one."""
    guangxi = policy.rules_for("450102100201")
    assert guangxi.standards == ("guangxi-household", "national-household")
    assert guangxi.acceptance == "guangxi-household" and not guangxi.block_proposal
    hunan = policy.rules_for("430523100201")
    assert hunan.standards == ("hunan-household", "national-household")
    assert hunan.block_proposal == "hunan-household"
    anhui = policy.rules_for("340102")
    assert anhui.standards == ("national-household",) and anhui.province == ""


def test_procedures_by_province() -> None:
    """Guangxi (seed 000 严程序): 双认定 at the household, deliberation, notice, township
    review, county review and announcement; Gansu (seed 003) adds the 3342 sign-off as an
    optional step."""
    guangxi = policy.procedure_for("450102")
    assert [s.kind for s in guangxi.steps] == [
        "acceptance", "deliberation", "notice", "review", "review", "announcement",
    ]  # fmt: skip
    assert [s.level for s in guangxi.steps][-3:] == ["township", "county", "county"]
    gansu = policy.procedure_for("620123")
    signoff = [s for s in gansu.steps if s.kind == "signoff"]
    assert len(signoff) == 1 and signoff[0].optional
    assert policy.procedure_for("430523").code == "national-2016"


def test_3342_chain_has_3_village_3_township_4_county_2_city_parties() -> None:
    """Seed 003 (Gansu 3342): 村级3方, 乡级3方, 县级4方, 市级2方."""
    chain = policy.signoff_chain("gansu-2016", "signoff_3342")
    assert chain is not None
    tiers = [p.tier for p in chain.parties]
    assert [tiers.count(t) for t in ("village", "township", "county", "city")] == [3, 3, 4, 2]
    assert "县统计局局长" in [p.label_zh for p in chain.parties]


def test_guangxi_consolidation_is_2_years_support_and_1_observation_seed_000() -> None:
    """Seed 000 (Guangxi 严销号): 对脱贫户再扶持2年并跟踪观察1年, 稳定脱贫后再逐户销号."""
    c = policy.consolidation_for("450102100201", D(2016, 11, 15))
    assert c is not None and (c.support_years, c.observe_years) == (2, 1)
    assert "严销号" in c.source
    line = policy.timeline(D(2016, 11, 15), c)
    assert line.support_until == D(2018, 11, 14)
    assert line.observed_until == D(2019, 11, 14)
    assert line.can_close_from == D(2019, 11, 15)
    assert line.phase(D(2018, 11, 14)) == "support"
    assert line.phase(D(2018, 11, 15)) == "observation"
    assert line.phase(D(2019, 11, 15)) == "closable"


def test_exit_on_29_february_is_counted_to_1_march() -> None:
    """policy/exit.toml leap_day = "march_1": an exit on 29 February 2016 serves the full
    years — support until 28 February 2018, closing from 1 March 2019."""
    c = policy.consolidation_for("450102100201", D(2016, 2, 29))
    assert c is not None and c.leap_day == "march_1"
    line = policy.timeline(D(2016, 2, 29), c)
    assert line.support_until == D(2018, 2, 28)
    assert line.observed_until == D(2019, 2, 28)
    assert line.can_close_from == D(2019, 3, 1)


def test_leap_day_rule_february_28_and_leap_year_anniversaries() -> None:
    """The other choice the file offers, and anniversaries that land in a leap year."""
    c = policy.Consolidation("", "t", D(2016, 1, 1), 2, 1, "february_28", "test")
    line = policy.timeline(D(2016, 2, 29), c)
    assert line.support_until == D(2018, 2, 27)
    assert line.can_close_from == D(2019, 2, 28)
    # From 29 February to 29 February four years on (a leap year again): no shift.
    assert policy.add_years(D(2016, 2, 29), 4) == D(2020, 2, 29)
    # An exit on 28 February 2017 closes on 28 February 2020, whose year has a 29th.
    four = policy.Consolidation("", "t", D(2016, 1, 1), 2, 1, "march_1", "test")
    assert policy.timeline(D(2017, 2, 28), four).can_close_from == D(2020, 2, 28)
    assert policy.timeline(D(2017, 3, 1), four).observed_until == D(2020, 2, 29)


def test_consolidation_versions_by_effective_date() -> None:
    """The version in force on the day of exit applies; none before the first (the national
    default from 2014, the start of 建档立卡: a Guangxi exit of 2015 takes it)."""
    text = policy.POLICY_FILE.read_text(encoding="utf-8").replace(
        '[[consolidation]]\nprovince = ""',
        '[[consolidation]]\nprovince = "45"\nversion = "2018.1"\neffective = 2018-01-01\n'
        'support_years = 3\nobserve_years = 1\nsource = "test"\n\n'
        '[[consolidation]]\nprovince = ""',
    )
    parsed = policy.parse_policy(text)
    assert policy.consolidation_for("450102", D(2017, 12, 31), parsed).support_years == 2
    assert policy.consolidation_for("450102", D(2018, 1, 1), parsed).support_years == 3
    assert policy.consolidation_for("450102", D(2015, 12, 31), parsed).province == ""
    assert policy.consolidation_for("450102", D(2013, 12, 31), parsed) is None


def test_policy_faults_name_where() -> None:
    good = policy.POLICY_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="leap_day"):
        policy.parse_policy(good.replace('\nleap_day = "march_1"', '\nleap_day = "feb_29"', 1))
    with pytest.raises(ValueError, match="unknown procedure"):
        policy.parse_policy(good.replace('procedure = "guangxi-2016"', 'procedure = "x"', 1))
    with pytest.raises(ValueError, match="national default"):
        policy.parse_policy(good.replace('province = ""\nname = "全国"', 'province = "11"', 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        policy.parse_policy(good.replace('kind = "acceptance"', 'kind = "party"', 1))


def test_identification_parser_refuses_exit_kinds() -> None:
    """One parser: identification's own kinds stay its default."""
    text = policy.POLICY_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="acceptance"):
        parse_procedures(text)


def test_poverty_line_of_a_year_is_identifications_table() -> None:
    """DOMAIN.md §10: 2,952 yuan in 2016; the NBS current-price line for 2017–2019 (our
    reading); identification's lookup takes the latest line not after a year."""
    assert policy.poverty_line(2016) == 2952
    assert policy.poverty_line(2018) == 3535
    assert policy.poverty_line(2021) == 4000


def test_dibao_lines_longest_area_code_wins() -> None:
    text = policy.POLICY_FILE.read_text(encoding="utf-8") + (
        '\n[[dibao_line]]\narea = "43"\nyear = 2017\nline = 3000\n'
        '\n[[dibao_line]]\narea = "430523"\nyear = 2017\nline = 2800\n'
    )
    parsed = policy.parse_policy(text)
    assert policy.dibao_line("430523100201", 2017, parsed) == 2800
    assert policy.dibao_line("430102", 2017, parsed) == 3000
    assert policy.dibao_line("430523100201", 2018, parsed) is None
    assert policy.dibao_line("450102", 2017, parsed) is None
