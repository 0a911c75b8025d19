"""The synthetic-province generator (issue 3, item 1): deterministic, valid, realistic, and
with a latent wealth that the visible indicators reveal — imperfectly."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from engine import synth

N = 3000
SEED = 7


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth")
    # Small chunks, so that the chunk-to-chunk hand-over (IDs, person numbers) is exercised.
    synth.generate(path, N, SEED, chunk=1000)
    return path


def _read(path: Path, name: str) -> dict[str, np.ndarray]:
    table = pq.read_table(path / name)
    cols: dict[str, np.ndarray] = {}
    for name_, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        cols[name_] = np.asarray(column.to_numpy(zero_copy_only=False))
    return cols


@pytest.fixture(scope="module")
def data(out: Path) -> dict[str, dict[str, np.ndarray]]:
    return {
        "h": _read(out, "households.parquet"),
        "m": _read(out, "members.parquet"),
        "t": _read(out, "truth.parquet"),
    }


def test_same_seed_same_files_other_seed_other_files(out: Path, tmp_path: Path) -> None:
    """Issue 3: deterministic for a seed — byte for byte, chunk by chunk."""
    synth.generate(tmp_path / "again", N, SEED, chunk=1000)
    synth.generate(tmp_path / "other", N, SEED + 1, chunk=1000)
    for name in synth.FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    assert (tmp_path / "other" / "members.parquet").read_bytes() != (
        out / "members.parquet"
    ).read_bytes()
    assert not list(tmp_path.glob("*/.*.part"))  # no temporary file left behind


def test_files_and_sizes(out: Path, data: dict[str, Any]) -> None:
    h, m, t = data["h"], data["m"], data["t"]
    assert sorted(p.name for p in out.iterdir()) == sorted(synth.FILES)
    assert list(h["household_id"]) == list(range(1, N + 1))
    assert list(t["household_id"]) == list(range(1, N + 1))
    assert list(m["person_id"]) == list(range(1, len(m["person_id"]) + 1))
    assert pq.ParquetFile(out / "households.parquet").metadata.num_row_groups == 3
    # members are grouped by household, head first, and `people` counts them
    sizes = np.bincount(m["household_id"], minlength=N + 1)[1:]
    assert (sizes == h["people"]).all()
    assert sizes.min() >= 1 and sizes.max() <= 8
    assert 3.3 <= sizes.mean() <= 3.9
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    assert (m["relation"][first] == "01").all()
    assert (np.diff(m["household_id"]) >= 0).all()
    # real villages of Guangxi, each household's county is its village's
    assert all(len(v) == 12 and v.startswith("45") for v in h["village_code"])
    assert all(v[:6] == c for v, c in zip(h["village_code"], h["county_code"], strict=True))
    assert len(set(h["village_code"])) > 1500  # spread over the province
    assert h["income_year"].min() == h["income_year"].max() == synth.INCOME_YEAR


def test_ranges_are_plausible(data: dict[str, Any]) -> None:
    """Rural Guangxi as surveyed in 2017 (DOMAIN.md §9, §10)."""
    h, m, t = data["h"], data["m"], data["t"]
    ages = (np.datetime64("2017-03-31") - m["birth_date"].astype("datetime64[D]")).astype(
        int
    ) / 365.25
    assert ages.min() >= 0 and ages.max() <= 103
    assert (h["irrigated_mu"] <= h["farmland_mu"]).all()
    assert h["farmland_mu"].min() >= 0.3 and h["farmland_mu"].max() <= 10
    assert ((h["dilapidation_grade"] != "") == h["is_dilapidated"]).all()
    assert (h["housing_area_m2"] >= 25).all() and (h["housing_area_m2"] <= 300).all()
    pcap = h["per_capita_income"]
    assert 4000 <= np.median(pcap) <= 11000
    assert ((pcap > 0) & (pcap < 100_000)).mean() > 0.99
    share = (h["people"] * t["poor"]).sum() / h["people"].sum()
    assert 0.12 <= share <= 0.35  # about a fifth of the people below the line
    # member rules the services enforce
    assert ((m["disability_grade"] > 0) == m["is_disabled"]).all()
    assert ((m["migrant_months"] > 0) == (m["migrant_place"] != "")).all()
    assert (m["migrant_months"] <= 12).all()
    assert ((m["dropout_reason"] == "") | (m["schooling"] == "none")).all()
    assert set(m["sex"]) == {"M", "F"}
    names = m["name"]
    assert all(2 <= len(n) <= 4 for n in names)


def test_families_are_consistent(data: dict[str, Any]) -> None:
    """Relations, sexes and ages fit together (DOMAIN.md §9 relation codes)."""
    m = data["m"]
    hid, rel, sex = m["household_id"], m["relation"], m["sex"]
    age = (np.datetime64("2017-03-31") - m["birth_date"].astype("datetime64[D]")).astype(int)
    age = age // 365
    head = rel == "01"
    head_index = np.flatnonzero(head)[hid - 1]
    head_age, head_sex = age[head_index], sex[head_index]
    assert head.sum() == len(set(hid))
    assert (age[head] >= 25).all() and (age[head] <= 86).all()
    spouse = rel == "02"
    assert (sex[spouse] != head_sex[spouse]).all()
    assert (np.abs(age[spouse] - head_age[spouse]) <= 16).all()
    child = (rel == "03") | (rel == "04")
    assert (head_age[child] - age[child] >= 17).all()
    parent = rel == "11"
    assert (age[parent] - head_age[parent] >= 18).all()
    assert (sex[rel == "03"] == "M").all() and (sex[rel == "04"] == "F").all()
    assert (sex[rel == "05"] == "F").all()


def test_resident_ids_are_valid_unique_and_agree(data: dict[str, Any]) -> None:
    """DOMAIN.md §2: 18-digit IDs whose check digit, birth date, sex and issuing area hold —
    checked by the project's own validator — and no ID twice."""
    from fupin.core.validators import parse_resident_id

    m, h = data["m"], data["h"]
    ids = m["id_number"]
    assert len(set(ids)) == len(ids)
    county = h["county_code"][m["household_id"] - 1]
    areas = synth.IssuingAreas.build(sorted(set(h["county_code"])), 2017)
    for i in range(0, len(ids), 3):  # a few thousand people
        rid = parse_resident_id(ids[i])
        assert rid.number == ids[i]
        assert rid.sex == m["sex"][i]
        assert rid.birth_date == m["birth_date"][i]
        assert int(ids[i][16]) % 2 == (1 if m["sex"][i] == "M" else 0)
        assert synth.issuing_area_name(ids[i][:6], rid.birth_date.year)
    # Everyone carries their county's code, an older code of the same place (issued before
    # the county was renumbered: Guangxi's prefectures were reorganised 1994–2002), or —
    # spouses who married in — a neighbouring county's; most carry their own county's.
    index = {c: i for i, c in enumerate(sorted(set(h["county_code"])))}

    def place(code_index: int) -> set[str]:
        return {areas.codes[code_index]} | {
            areas.codes[old] for old, _s, _e in areas.lineage.get(code_index, [])
        }

    area = np.array([i[:6] for i in ids])
    own = np.zeros(len(ids), dtype=bool)
    for c, i in index.items():
        home = place(int(areas.home[i]))
        start, count = areas.city_starts[i], areas.city_counts[i]
        near = set().union(*(place(int(x)) for x in areas.neighbours[start : start + count]))
        here = county == c
        own[here] = np.isin(area[here], list(home))
        assert np.isin(area[here], list(home | near)).all(), c
    assert own.mean() > 0.85
    assert (area == county).mean() > 0.4
    assert (area == county)[m["birth_date"] >= dt.date(2005, 1, 1)].mean() > 0.85


def test_check_digits_match_stdnum() -> None:
    rng = np.random.default_rng(1)
    bodies = rng.integers(10**16, 10**17, 500)
    checks = synth.check_digits(bodies)
    for body, check in zip(bodies, checks, strict=True):
        assert ric.calc_check_digit(str(body) + "0") == check


def test_sequence_numbers_never_repeat_even_when_crowded() -> None:
    """Unique by construction: 1,200 people of one area, birthday and sex get distinct
    numbers, spilling to the day before when the 499 odd (or even) numbers run out."""
    seq = synth.IdSequencer(n_codes=2)
    code = np.zeros(1200, dtype=np.int64)
    birth = np.full(1200, np.datetime64("1980-05-01", "D"))
    male = np.arange(1200) % 3 != 0  # 800 men, 400 women
    numbers, births = seq.assign(code, birth, male)
    keys = set(zip(births.tolist(), numbers.tolist(), strict=True))
    assert len(keys) == 1200
    assert ((numbers % 2 == 1) == male).all()
    assert ((numbers >= 1) & (numbers <= 998)).all()
    assert (births <= np.datetime64("1980-05-01")).all()
    assert (births == np.datetime64("1980-04-30")).sum() == 800 - 499
    more, more_births = seq.assign(code[:10], birth[:10], male[:10])  # the count carries over
    later = set(zip(more_births.tolist(), more.tolist(), strict=True))
    assert len(later) == 10 and not later & keys


def test_wealth_drives_the_visible_indicators(data: dict[str, Any]) -> None:
    """Issue 3: wealth is latent and drives every visible indicator, so that the poor can
    be found from what a survey team sees."""
    h, m, t = data["h"], data["m"], data["t"]
    wealth, poor = t["wealth"], t["poor"]
    people = h["people"]
    per_person_area = h["housing_area_m2"] / people
    pcap = np.maximum(h["per_capita_income"], 100)
    assert np.corrcoef(wealth, np.log(pcap))[0, 1] > 0.35
    assert np.corrcoef(wealth, per_person_area)[0, 1] > 0.1
    assert np.corrcoef(wealth, h["appliances"])[0, 1] > 0.4
    top, bottom = wealth > np.quantile(wealth, 0.75), wealth < np.quantile(wealth, 0.25)
    assert h["cars"][top].mean() > 3 * h["cars"][bottom].mean()
    assert h["water_safe"][top].mean() > h["water_safe"][bottom].mean()
    assert h["is_dilapidated"][bottom].mean() > 2 * h["is_dilapidated"][top].mean()
    for indicator in (pcap, per_person_area, h["appliances"], h["has_sanitary_toilet"]):
        assert indicator[poor].mean() < indicator[~poor].mean()
    # Illness and disability come with age and poverty, and make households poor.
    hid = m["household_id"] - 1
    sick = np.bincount(hid, weights=m["has_serious_illness"], minlength=N) > 0
    assert poor[sick].mean() > poor[~sick].mean()
    # Education of adults and migrant work rise with wealth.
    adult = (m["education"] != "preschool_age") & (m["schooling"] == "none")
    schooled = np.isin(m["education"], ["senior", "college"])
    assert schooled[adult & top[hid]].mean() > schooled[adult & bottom[hid]].mean()
    away = m["migrant_place"] == "out_of_province"
    assert away[top[hid]].mean() > away[bottom[hid]].mean()


def test_a_good_scorecard_finds_the_poor_and_a_bad_one_does_not(data: dict[str, Any]) -> None:
    """DOMAIN.md §3: visible facts turned into points rank the poor first; a scorecard of
    the wrong facts does little better than chance."""
    h, m, t = data["h"], data["m"], data["t"]
    poor = t["poor"]
    people = h["people"].astype(float)
    hid = m["household_id"] - 1
    migrants = np.bincount(hid, weights=m["migrant_months"] >= 6, minlength=N)
    sick = np.bincount(hid, weights=m["has_serious_illness"], minlength=N)
    good = (
        np.log(h["housing_area_m2"] / people)
        + 0.4 * h["appliances"]
        + 3.0 * migrants / people
        - 0.8 * sick
        + 0.5 * np.isin(h["housing_structure"], ["reinforced_concrete", "brick_concrete"])
        + 0.5 * (h["main_fuel"] == "clean")
    )
    bad = h["forest_mu"]  # forest land says next to nothing about a household's means
    k = int(poor.sum())

    def hit_rate(score: np.ndarray) -> float:
        return float(poor[np.argsort(score, kind="stable")[:k]].mean())

    base = poor.mean()
    assert hit_rate(good) > 2.0 * base
    assert hit_rate(bad) < 1.3 * base
    assert hit_rate(t["wealth"]) > hit_rate(bad) + 0.2


def test_quotas_are_about_the_poor_people(out: Path, data: dict[str, Any]) -> None:
    """DOMAIN.md §3: the statistics bureau's quota per county, near the true count."""
    h, t = data["h"], data["t"]
    with open(out / "quotas.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["county_code", "quota_people"]
    quota = {r["county_code"]: int(r["quota_people"]) for r in rows}
    assert set(quota) == set(h["county_code"])
    poor_people: Counter[str] = Counter()
    for county, people, poor in zip(h["county_code"], h["people"], t["poor"], strict=True):
        poor_people[county] += int(people) * bool(poor)
    total = sum(poor_people.values())
    assert abs(sum(quota.values()) - total) <= 0.05 * total
    for county, q in quota.items():
        assert abs(q - poor_people[county]) <= 0.25 * poor_people[county] + 2


def test_other_provinces_and_peoples(tmp_path: Path) -> None:
    """--province picks another province: its villages, its peoples and their names."""
    from fupin.core.validators import parse_resident_id

    result = synth.generate(tmp_path, 300, 1, province="54")  # 西藏
    h = _read(tmp_path, "households.parquet")
    m = _read(tmp_path, "members.parquet")
    assert result.households == 300 and result.members == len(m["id_number"])
    assert all(v.startswith("54") for v in h["village_code"])
    assert Counter(m["ethnicity"]).most_common(1)[0][0] == "04"
    tibetan = m["name"][m["ethnicity"] == "04"]
    assert all(len(n) == 4 for n in tibetan)  # 扎西次仁: no surname
    for number in m["id_number"][:200]:
        parse_resident_id(number)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        synth.generate(tmp_path, 0, 1)
    with pytest.raises(ValueError, match="between 1 and"):
        synth.generate(tmp_path, synth.MAX_HOUSEHOLDS + 1, 1)
    with pytest.raises(ValueError, match="no villages"):
        synth.generate(tmp_path, 10, 1, province="99")
    with pytest.raises(ValueError, match="2 digits"):
        synth.generate(tmp_path, 10, 1, province="450")


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    synth.generate(tmp_path, 250, 1, chunk=100, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 250), (100, 250), (200, 250), (250, 250)]


def test_birth_dates_are_before_the_survey(data: dict[str, Any]) -> None:
    births = data["m"]["birth_date"]
    assert births.max() <= dt.date(2017, 3, 31)
    assert births.min() >= dt.date(1915, 1, 1)
