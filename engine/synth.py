"""Synthetic provinces at any size: the registry's households and members as Parquet.

`generate(out, households=N, seed=S, province="45")` writes

- `households.parquet`: one row per household, the registry's household fields (DOMAIN.md
  §9; the model's field names, enumerations as their codes) with `household_id` (1..N),
  `county_code`, `village_code` (real 12-digit villages of the province), `people` and
  last year's income by source;
- `members.parquet`: one row per person with `person_id`, `household_id` and the member
  fields, each with a valid resident ID (GB 11643) whose issuing area, birth date and sex
  agree with the person, unique by construction;
- `truth.parquet`: `household_id, wealth, poor` — what no survey sees, kept apart so later
  work can measure how well a scorecard finds the poor;
- `quotas.csv`: `county_code,quota_people`, the statistics bureau's number of poor people
  per county (DOMAIN.md §3: the quota a county's cutoff must meet).

**The model.** Every household has one latent wealth: province, prefecture, county,
township and village effects plus its own luck (N(0, 1)). Poorer places are poorer by
construction: minority autonomous counties and, in Guangxi, the north-western hills (百色,
河池, 崇左) start lower, suburban districts higher. Wealth drives everything a survey team
sees, each through its own noise: household make-up is drawn first, then health (illness
and disability grow with age and with poverty), schooling and adult education, labour
and migrant work, insurance, 低保 and 五保, land, housing area, structure and dilapidation,
water, road, toilet, fuel, cars, machines, appliances, and the income by source. So the
indicators are informative but imperfect, and a scorecard built on them can find the poor
while a careless one visibly cannot.

**The truth.** A household is poor (`truth.poor`) when its *true* net income per person,
less its out-of-pocket medical costs, is below the 2016 national line (2,952 yuan, DOMAIN.md
§10). The income columns of `households.parquet` are what the survey recorded: migrant
wages under-reported with noise, farm and business income guessed with noise, transfers
exact; medical costs are not on the form. That is why Guangxi turned to visible
indicators (DOMAIN.md §3), and why a test on recorded income alone misclassifies.

**Size and determinism.** Everything is vectorised with numpy; the only Python loops run
per chunk, per county, per naming group or per column. Households are generated in chunks
of `CHUNK_HOUSEHOLDS` in village order, each chunk from its own random stream
(`SeedSequence(seed, spawn_key=(1, chunk))`), and written as one Parquet row group, so
memory stays bounded (a few hundred MB) whatever N is, and the same (seed, N, province)
gives the same files byte for byte. Resident-ID sequence numbers are handed out from a
count per (issuing area, birth date, sex) carried from chunk to chunk, which makes every
ID unique by construction.

This module never imports Django: it reads the vendored division table and python-stdnum's
GB/T 2260 table directly.
"""

from __future__ import annotations

import csv
import io
import lzma
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from stdnum import numdb

from engine import names

Array = npt.NDArray[Any]
Progress = Callable[[int, int], None]

#: The vendored division table (code,name,parent_code per level), read as plain files.
DIVISIONS_DIR = Path(__file__).resolve().parent.parent / "fupin" / "core" / "data" / "divisions"

DEFAULT_PROVINCE = "45"  # 广西: the province of the seeds' 4.88 million households
#: 5.6M households are the ~20M people of the matching benchmark (issue 5 item 5).
MAX_HOUSEHOLDS = 5_600_000
#: Households per chunk (and Parquet row group). Part of what fixes the output for a seed.
CHUNK_HOUSEHOLDS = 250_000

#: The survey's clock: ages and living conditions on the survey date, income of the year
#: before (the Guangxi 2015–2017 精准识别 surveys recorded the previous year's income).
SURVEY_DATE = np.datetime64("2017-03-31", "D")
INCOME_YEAR = 2016
#: The 2016 national poverty line in current prices (DOMAIN.md §10), used to define the
#: ground truth only — never as policy.
POVERTY_LINE = 2952.0
#: Everyone is born on or after this day (the oldest are about 100 on the survey date).
FIRST_BIRTH_DAY = np.datetime64("1915-01-01", "D")
#: A person's first ID was issued at birth or, for those born earlier, when IDs came in.
FIRST_ISSUE_YEAR = 1985

#: Household size 1–8 of the rural registry (mean ≈ 3.6).
SIZE_P = np.array([0.11, 0.19, 0.20, 0.22, 0.14, 0.08, 0.04, 0.02])

#: Mean of the latent wealth; calibrated so that about a fifth of rural Guangxi's people
#: are below the line, as in the 2015 identification (DOMAIN.md §3: 6.34 million poor).
WEALTH_SHIFT = -0.3
#: Propensity to work away from home at average wealth.
MIGRANT_BASE = -0.3

#: Province effects on wealth relative to Guangxi: the coast is richer, the west poorer.
PROVINCE_EFFECT: dict[str, float] = {
    "11": 1.6, "12": 1.2, "31": 1.7, "32": 1.0, "33": 1.1, "35": 0.7, "44": 0.6,
    "37": 0.5, "21": 0.3, "13": 0.2, "41": 0.1, "42": 0.3, "36": 0.2, "34": 0.2,
    "50": 0.3, "51": 0.1, "43": 0.1, "14": 0.0, "61": -0.1, "22": 0.2, "23": 0.2,
    "15": 0.2, "46": 0.1, "64": -0.1, "65": -0.2, "52": -0.3, "53": -0.3, "54": -0.3,
    "62": -0.4, "63": -0.2,
}  # fmt: skip

#: Prefecture effects where the map of poverty is well known (Guangxi: the karst north-west
#: was where the deep-poverty counties lay; the coast and the south-east were better off).
PREFECTURE_EFFECT: dict[str, float] = {
    "4501": 0.05, "4502": 0.05, "4503": 0.1, "4504": 0.1, "4505": 0.35, "4506": 0.2,
    "4507": 0.0, "4508": 0.0, "4509": 0.15, "4510": -0.45, "4511": -0.1, "4512": -0.55,
    "4513": -0.25, "4514": -0.3,
}  # fmt: skip

#: Peoples (GB/T 3304 codes) of the rural population by area; the longest matching code
#: prefix wins ("" is the fallback). Autonomous counties get their own line.
ETHNIC_MIX: dict[str, dict[str, float]] = {
    "": {"01": 0.97, "03": 0.01, "11": 0.01, "02": 0.01},
    "11": {"01": 0.96, "03": 0.02, "11": 0.02},
    "15": {"01": 0.79, "02": 0.17, "03": 0.01, "11": 0.02, "31": 0.01},
    "21": {"01": 0.84, "11": 0.12, "02": 0.02, "10": 0.01, "03": 0.01},
    "22": {"01": 0.91, "10": 0.04, "11": 0.04, "02": 0.01},
    "23": {"01": 0.95, "11": 0.03, "10": 0.01, "02": 0.01},
    "43": {"01": 0.90, "15": 0.04, "06": 0.03, "12": 0.02, "13": 0.01},
    "45": {"01": 0.62, "08": 0.32, "13": 0.03, "06": 0.01, "12": 0.01, "32": 0.01},
    "4501": {"08": 0.56, "01": 0.42, "13": 0.02},
    "4502": {"01": 0.55, "08": 0.25, "06": 0.08, "12": 0.07, "13": 0.05},
    "450225": {"06": 0.42, "08": 0.2, "01": 0.2, "13": 0.1, "12": 0.08},  # 融水苗族自治县
    "450226": {"12": 0.57, "01": 0.18, "06": 0.13, "08": 0.1, "13": 0.02},  # 三江侗族自治县
    "4503": {"01": 0.85, "13": 0.08, "08": 0.05, "06": 0.01, "12": 0.01},
    "450328": {"06": 0.28, "08": 0.2, "12": 0.2, "13": 0.17, "01": 0.15},  # 龙胜各族自治县
    "450332": {"13": 0.6, "01": 0.38, "08": 0.02},  # 恭城瑶族自治县
    "4504": {"01": 0.97, "08": 0.02, "13": 0.01},
    "4505": {"01": 0.97, "08": 0.03},
    "4506": {"01": 0.60, "08": 0.33, "13": 0.03, "49": 0.04},
    "4507": {"01": 0.70, "08": 0.29, "13": 0.01},
    "4508": {"01": 0.85, "08": 0.14, "13": 0.01},
    "4509": {"01": 0.99, "08": 0.01},
    "4510": {"08": 0.80, "01": 0.10, "13": 0.06, "06": 0.02, "07": 0.01, "37": 0.01},
    "451031": {"06": 0.3, "08": 0.4, "01": 0.15, "07": 0.08, "37": 0.07},  # 隆林各族自治县
    "4511": {"01": 0.90, "13": 0.08, "08": 0.02},
    "451123": {"13": 0.6, "01": 0.39, "08": 0.01},  # 富川瑶族自治县
    "4512": {"08": 0.65, "01": 0.15, "13": 0.10, "32": 0.04, "36": 0.03, "06": 0.03},
    "451225": {"32": 0.35, "08": 0.3, "01": 0.25, "13": 0.05, "06": 0.05},  # 罗城仫佬族自治县
    "451226": {"36": 0.2, "08": 0.65, "01": 0.1, "13": 0.05},  # 环江毛南族自治县
    "451227": {"08": 0.6, "13": 0.2, "01": 0.2},  # 巴马瑶族自治县
    "451228": {"08": 0.65, "13": 0.22, "01": 0.13},  # 都安瑶族自治县
    "451229": {"08": 0.6, "13": 0.25, "01": 0.15},  # 大化瑶族自治县
    "4513": {"08": 0.6, "01": 0.30, "13": 0.08, "06": 0.02},
    "451324": {"13": 0.4, "08": 0.3, "01": 0.3},  # 金秀瑶族自治县
    "4514": {"08": 0.88, "01": 0.10, "13": 0.02},
    "46": {"01": 0.83, "19": 0.15, "06": 0.01, "03": 0.01},
    "50": {"01": 0.93, "15": 0.05, "06": 0.02},
    "51": {"01": 0.94, "07": 0.03, "04": 0.02, "33": 0.01},
    "52": {"01": 0.62, "06": 0.12, "09": 0.08, "12": 0.05, "15": 0.04, "07": 0.03,
           "37": 0.02, "25": 0.02, "14": 0.01, "08": 0.01},
    "53": {"01": 0.67, "07": 0.11, "16": 0.04, "14": 0.03, "18": 0.03, "08": 0.03,
           "06": 0.03, "20": 0.02, "24": 0.01, "21": 0.01, "27": 0.01, "13": 0.01},
    "54": {"04": 0.90, "01": 0.08, "03": 0.01, "54": 0.005, "55": 0.005},
    "62": {"01": 0.90, "03": 0.05, "04": 0.02, "26": 0.02, "48": 0.005, "47": 0.005},
    "63": {"01": 0.50, "04": 0.25, "03": 0.15, "30": 0.05, "35": 0.03, "02": 0.02},
    "64": {"01": 0.63, "03": 0.36, "11": 0.01},
    "65": {"05": 0.45, "01": 0.42, "17": 0.07, "03": 0.05, "29": 0.01},
}  # fmt: skip

#: Provinces where herding households hold pasture (牧草地).
PASTORAL = frozenset({"15", "54", "62", "63", "65"})

# --- enumeration codes (as in fupin/registry/enums.py; a test checks they agree) --------

RELATIONS = np.array(["01", "02", "03", "04", "05", "07", "08", "11"])
R_HEAD, R_SPOUSE, R_SON, R_DAUGHTER, R_DIL, R_GRANDSON, R_GRANDDAUGHTER, R_PARENT = range(8)
EDUCATION = np.array(["", "illiterate", "primary", "junior", "senior", "college", "preschool_age"])
E_NONE, E_ILLITERATE, E_PRIMARY, E_JUNIOR, E_SENIOR, E_COLLEGE, E_PRESCHOOL_AGE = range(7)
SCHOOLING = np.array(
    [
        "none",
        "preschool",
        "primary",
        "grades_7_9",
        "senior",
        "secondary_vocational",
        "higher_vocational",
        "college",
    ]
)
S_NONE, S_PRESCHOOL, S_PRIMARY, S_7_9, S_SENIOR, S_SEC_VOC, S_HIGH_VOC, S_COLLEGE = range(8)
DROPOUT = np.array(["", "illness", "disability", "learning", "poverty", "work", "other"])
D_NONE, D_ILLNESS, D_DISABILITY, D_LEARNING, D_POVERTY, D_WORK, D_OTHER = range(7)
LABOUR = np.array(["none", "ordinary", "skilled", "lost"])
L_NONE, L_ORDINARY, L_SKILLED, L_LOST = range(4)
MIGRANT = np.array(["", "out_of_province", "in_province", "in_county", "in_township"])
M_NONE, M_OUT, M_PROVINCE, M_COUNTY, M_TOWNSHIP = range(5)
POLITICAL = np.array(["masses", "party_member", "league_member"])
ROAD = np.array(["earth", "gravel", "concrete", "asphalt"])
STRUCTURE = np.array(["reinforced_concrete", "brick_concrete", "brick_wood", "earth_wood", "other"])
FUEL = np.array(["firewood", "dung", "coal", "clean", "other"])
ATTRIBUTE = np.array(["general", "dibao", "tekun"])

#: Household kinds: who lives together (the slot layout of `_families`).
(K_SINGLE_OLD, K_SINGLE_YOUNG, K_COUPLE_OLD, K_COUPLE_MID, K_LONE_PARENT, K_NUCLEAR) = range(6)
K_UP, K_DOWN = 6, 7  # with the head's parents; with a married son and grandchildren

_ND = NormalDist()


# ======================================================================================
# Geography: villages, their effects, the issuing areas of resident IDs
# ======================================================================================


def _read_division(level_file: str, prefix: str) -> pa.Table:
    """Rows of one vendored division file whose code starts with `prefix`."""
    with lzma.open(DIVISIONS_DIR / level_file, "rb") as fh:
        data = fh.read()
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types={"code": pa.string(), "name": pa.string(), "parent_code": pa.string()}
        ),
    )
    return table.filter(pc.starts_with(table["code"], prefix))


@dataclass
class Geography:
    """The villages households live in, with the effects that make places rich or poor."""

    province: str
    village_codes: Array  # str, sorted
    village_county: Array  # int index into county_codes
    county_codes: list[str]
    county_names: list[str]
    village_effect: Array  # every effect down to the village, added to household wealth
    remoteness: Array  # drives distance to the road, road surface, water
    weights: Array  # relative number of households per village


def read_geography(province: str, rng: np.random.Generator) -> Geography:
    """The province's rural villages (村委会) and their wealth effects.

    Statistical codes 200–499 below a township are 村委会 and their like; 001–199 are urban
    communities (居委会). A province without any rural village falls back to all of them.
    """
    if len(province) != 2 or not province.isdigit():
        raise ValueError(f"a province code has 2 digits, not {province!r}")
    villages = _read_division("villages.csv.xz", province)
    if villages.num_rows == 0:
        raise ValueError(f"no villages in province {province}")
    codes = np.array(villages["code"].to_pylist())
    suffix = pc.cast(pc.utf8_slice_codeunits(villages["code"], 9, 12), pa.int32()).to_numpy()
    rural = (suffix >= 200) & (suffix <= 499)
    if rural.any():
        codes = codes[rural]
    codes = np.sort(codes)
    counties = _read_division("counties.csv.xz", province)
    county_name = dict(zip(counties["code"].to_pylist(), counties["name"].to_pylist(), strict=True))
    county_of = codes.astype("U6")
    county_codes = sorted(set(county_of.tolist()))
    county_index = {c: i for i, c in enumerate(county_codes)}
    village_county = np.array([county_index[c] for c in county_of.tolist()], dtype=np.int32)
    township_codes, village_township = np.unique(codes.astype("U9"), return_inverse=True)
    city_codes, county_city = np.unique(
        np.array([c[:4] for c in county_codes]), return_inverse=True
    )

    names_ = [county_name.get(c, "") for c in county_codes]
    city_effect = rng.normal(0, 0.2, len(city_codes)) + np.array(
        [PREFECTURE_EFFECT.get(c, 0.0) for c in city_codes]
    )
    autonomous = np.array(["自治" in n for n in names_])
    district = np.array([n.endswith("区") for n in names_])
    county_effect = (
        rng.normal(0, 0.3, len(county_codes))
        + city_effect[county_city]
        - 0.3 * autonomous
        + 0.35 * district
    )
    township_effect = rng.normal(0, 0.2, len(township_codes))
    own = rng.normal(0, 0.35, len(codes))
    effect = (
        WEALTH_SHIFT
        + PROVINCE_EFFECT.get(province, 0.0)
        + county_effect[village_county]
        + township_effect[village_township]
        + own
    )
    # Remote villages are the poor ones up in the hills, with exceptions.
    remoteness = (
        -1.0 * (own + township_effect[village_township])
        + 0.3 * autonomous[village_county]
        + rng.normal(0, 0.5, len(codes))
    )
    weights = rng.lognormal(0, 0.5, len(codes))
    return Geography(
        province=province,
        village_codes=codes,
        village_county=village_county,
        county_codes=county_codes,
        county_names=names_,
        village_effect=effect,
        remoteness=remoteness,
        weights=weights,
    )


@dataclass(frozen=True)
class CodePeriod:
    """A GB/T 2260 county-level code and the years it was in use (None: open)."""

    code: str
    name: str
    start: int | None
    end: int | None


def stdnum_periods(province: str) -> list[CodePeriod]:
    """Every county-level code python-stdnum's GB/T 2260 table knows in a province."""
    db = numdb.get("cn/loc")
    found: list[CodePeriod] = []
    for _length, low, high, _props, children in db.prefixes:
        if not low <= province <= high:
            continue
        for _l2, lo2, hi2, props, _ch in children:
            if lo2 != hi2:
                continue
            for entry in props.get("county", "").split(","):
                if not entry:
                    continue
                if entry.startswith("["):
                    period, name = entry[1:].split("]")
                    start, end = period.split("-")
                    first = int(start) if start else None
                    last = int(end) if end else None
                    found.append(CodePeriod(province + lo2, name, first, last))
                else:
                    found.append(CodePeriod(province + lo2, entry, None, None))
    return found


def issuing_area_name(code: str, birth_year: int) -> str | None:
    """The project's issuing-area rule (fupin.core.validators.issuing_area_name), without
    Django: the code names a county-level area of GB/T 2260 whose period of use reaches
    past the birth year (an ID is issued at or after birth)."""
    results = numdb.get("cn/loc").info(code)
    info = {k: v for _part, props in results for k, v in props.items()}
    if "county" not in info:
        return None
    for entry in info["county"].split(","):
        if not entry.startswith("["):
            return entry
        period, name = entry[1:].split("]")
        _start, end = period.split("-")
        if not end or int(end) >= birth_year:
            return name
    return None


def _stem(name: str) -> str:
    """武鸣县 and 武鸣区 are one place: the name without its level suffix."""
    return name[:-1] if name and name[-1] in "县市区旗" else name


@dataclass
class IssuingAreas:
    """Which code each county's people carry in their IDs (DOMAIN.md §2).

    An ID keeps the code of the place and time it was first issued. Most people carry
    their county's code; people whose first ID predates a change of code carry the old one
    (隆安县 was 452126 until 2002: a man born in 1960 still holds 452126…); a county the
    table does not know (a development zone) falls back to its prefecture's code; spouses
    who married in carry a neighbouring county's code.
    """

    codes: list[str]  # every code handed out; indices below point here
    home: Array  # per county: index of the code its people carry today
    city_starts: Array  # per county: slice of `neighbours` with the prefecture's counties
    city_counts: Array
    neighbours: Array  # code indices, grouped by prefecture
    lineage: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    # home code index → [(old code index, first year, last year)]

    @classmethod
    def build(cls, counties: Sequence[str], year: int) -> IssuingAreas:
        province = counties[0][:2]
        periods = stdnum_periods(province)
        codes: list[str] = []
        index: dict[str, int] = {}

        def idx(code: str) -> int:
            if code not in index:
                index[code] = len(codes)
                codes.append(code)
            return index[code]

        valid_now = {p.code for p in periods if p.end is None or p.end >= year}
        fallback = next(
            (p.code for p in periods if p.code in valid_now and not p.code.endswith("00")),
            None,
        )
        home: list[int] = []
        for county in counties:
            if county in valid_now and issuing_area_name(county, year):
                home.append(idx(county))
            elif issuing_area_name(county[:4] + "00", year):
                home.append(idx(county[:4] + "00"))
            elif fallback is not None:
                home.append(idx(fallback))
            else:
                raise ValueError(f"no usable GB/T 2260 code for county {county}")

        # Old codes of the same place: same name stem, retired, and the stem unambiguous.
        current_name = {p.code: p.name for p in periods if p.code in valid_now}
        stems: dict[str, set[str]] = {}
        for code, name in current_name.items():
            stems.setdefault(_stem(name), set()).add(code)
        lineage: dict[int, list[tuple[int, int, int]]] = {}
        for p in periods:
            if p.end is None or p.code.endswith(("00", "01")) or p.name.endswith("区"):
                continue
            owners = stems.get(_stem(p.name), set()) - {p.code}
            if len(owners) != 1:
                continue
            (owner,) = owners
            if owner not in index:
                continue
            lineage.setdefault(index[owner], []).append((idx(p.code), p.start or 0, p.end))

        # Neighbours: the other counties of the same prefecture that have people here.
        by_city: dict[str, list[int]] = {}
        for county, h in zip(counties, home, strict=True):
            by_city.setdefault(county[:4], [])
            if h not in by_city[county[:4]]:
                by_city[county[:4]].append(h)
        flat: list[int] = []
        starts: dict[str, tuple[int, int]] = {}
        for city, members in by_city.items():
            starts[city] = (len(flat), len(members))
            flat.extend(members)
        return cls(
            codes=codes,
            home=np.array(home, dtype=np.int32),
            city_starts=np.array([starts[c[:4]][0] for c in counties], dtype=np.int32),
            city_counts=np.array([starts[c[:4]][1] for c in counties], dtype=np.int32),
            neighbours=np.array(flat, dtype=np.int32),
            lineage=lineage,
        )


# ======================================================================================
# Small vectorised helpers
# ======================================================================================


def _logistic(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, p: Sequence[float], n: int) -> Array:
    """n indices drawn with probabilities p (normalised)."""
    cum = np.cumsum(np.asarray(p, dtype=np.float64))
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").astype(np.int8)


def _int(rng: np.random.Generator, low: Any, high: Any, n: int) -> Array:
    """Integers in [low, high], both included (bounds may be arrays)."""
    return rng.integers(low, np.asarray(high) + 1, n)


def _segment_ids(sizes: Array) -> tuple[Array, Array]:
    """(owner, position within owner) for rows laid out as `sizes` consecutive runs."""
    owner = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(len(owner), dtype=np.int32) - np.repeat(starts, sizes).astype(np.int32)
    return owner, position


def _sum_by(owner: Array, values: Array, n: int) -> Array:
    return np.bincount(owner, weights=values, minlength=n)


def _any_by(owner: Array, mask: Array, n: int) -> Array:
    return np.bincount(owner, weights=mask.astype(np.float64), minlength=n) > 0


def _str(values: Array) -> pa.Array:
    return pa.array(values, type=pa.string())


def _decimal(values: Array, digits: int, places: int = 2) -> pa.Array:
    return pa.array(np.round(values, places)).cast(pa.decimal128(digits, 2))


# ======================================================================================
# One chunk of households
# ======================================================================================


@dataclass
class Chunk:
    """The Arrow tables of one chunk, plus what the quotas need."""

    households: pa.Table
    members: pa.Table
    truth: pa.Table
    poor_people_by_county: Array


@dataclass
class _Families:
    """Members of a chunk laid out household by household (head first)."""

    hh: Array  # household index within the chunk
    relation: Array  # index into RELATIONS
    male: Array
    age: Array
    line: Array  # surname: 0 the head's, 1 the family's (children), 2 their own (married in)


def _families(rng: np.random.Generator, n: int) -> tuple[Array, Array, _Families]:
    """Sizes, kinds and members (relations, sexes, ages) of n households.

    The same family shapes as the demo county: old people alone, couples, nuclear families,
    three generations with the head's parents, and old heads with a married son and
    grandchildren — drawn per household, laid out per member, all vectorised.
    """
    size = (_pick(rng, SIZE_P.tolist(), n) + 1).astype(np.int16)
    u = rng.random(n)
    kind = np.full(n, K_NUCLEAR, dtype=np.int8)
    kind[(size == 1) & (u < 0.65)] = K_SINGLE_OLD
    kind[(size == 1) & (u >= 0.65)] = K_SINGLE_YOUNG
    kind[(size == 2) & (u < 0.5)] = K_COUPLE_OLD
    kind[(size == 2) & (u >= 0.5) & (u < 0.7)] = K_COUPLE_MID
    kind[(size == 2) & (u >= 0.7)] = K_LONE_PARENT
    small, big = (size >= 3) & (size <= 4), size >= 5
    up_share = np.where(small, 0.15, 0.3)
    down_share = np.where(small, 0.15, 0.35)
    nuclear_share = 1 - up_share - down_share
    k3 = small | big
    kind[k3 & (u < nuclear_share * 0.08)] = K_LONE_PARENT
    kind[k3 & (u >= nuclear_share) & (u < nuclear_share + up_share)] = K_UP
    kind[k3 & (u >= nuclear_share + up_share)] = K_DOWN

    # Head: sex and age by kind.
    u = rng.random(n)
    head_male = np.select(
        [
            kind == K_SINGLE_OLD,
            kind == K_SINGLE_YOUNG,
            kind == K_LONE_PARENT,
            kind == K_NUCLEAR,
            kind == K_DOWN,
        ],
        [u >= 0.55, u < 0.85, u >= 0.6, u < 0.97, u < 0.75],
        default=True,
    )
    lone_children = np.where(kind == K_LONE_PARENT, size - 1, size - 2)
    # The head's age range by household kind: one set of conditions, two bounds.
    age_kinds = [
        kind == K_SINGLE_OLD,
        kind == K_SINGLE_YOUNG,
        kind == K_COUPLE_OLD,
        kind == K_COUPLE_MID,
        (kind == K_LONE_PARENT) & (size == 2),
        kind == K_UP,
        kind == K_DOWN,
    ]
    lo = np.select(
        age_kinds,
        [60, 28, 55, 35, 42, 25, 52],
        default=np.maximum(25, 22 + 2 * lone_children),
    )
    hi = np.select(
        age_kinds,
        [85, 59, 84, 54, 80, 50, 80],
        default=60,
    )
    head_age = _int(rng, lo, np.maximum(hi, lo), n)

    # Who else: spouse, parents, a married son and his wife, grandchildren, children.
    u = rng.random(n)
    has_spouse = np.select(
        [
            np.isin(kind, [K_COUPLE_OLD, K_COUPLE_MID, K_NUCLEAR]),
            kind == K_UP,
            kind == K_DOWN,
        ],
        [np.ones(n, dtype=bool), u < 0.95, head_male & (u < 0.8)],
        default=False,
    ).astype(np.int16)
    free = size - 1 - has_spouse
    u = rng.random(n)
    n_parents = np.where(kind == K_UP, np.where((free >= 3) & (u < 0.5), 2, 1), 0)
    n_parents = np.minimum(n_parents, free).astype(np.int16)
    spouse_gap = np.round(rng.normal(2, 3, n)).astype(np.int16)
    spouse_age = np.maximum(np.where(head_male, head_age - spouse_gap, head_age + spouse_gap), 20)
    father_age = np.minimum(head_age + _int(rng, 22, 34, n), 95)
    mother_age = np.maximum(father_age - _int(rng, 0, 5, n), head_age + 19)
    sole_parent_male = rng.random(n) >= 0.65

    down = kind == K_DOWN
    son_age = np.maximum(head_age - _int(rng, 22, 32, n), 22)
    n_son = down.astype(np.int16)
    room = size - 1 - has_spouse - n_son
    n_dil = (down & (room > 0) & (rng.random(n) < 0.9)).astype(np.int16)
    dil_age = np.maximum(son_age - _int(rng, 0, 4, n), 20)
    room = room - n_dil
    n_grand = np.where(down, np.minimum(np.minimum(room, np.maximum(0, (son_age - 19) // 3)), 4), 0)
    n_grand = np.maximum(n_grand, 0).astype(np.int16)

    o_parent = 1 + has_spouse
    o_son = o_parent + n_parents
    o_dil = o_son + n_son
    o_grand = o_dil + n_dil
    o_child = o_grand + n_grand

    hh, slot = _segment_ids(size)
    m = len(hh)
    role = np.select(
        [
            slot == 0,
            slot < o_parent[hh],
            slot < o_son[hh],
            slot < o_dil[hh],
            slot < o_grand[hh],
            slot < o_child[hh],
        ],
        [0, 1, 2, 3, 4, 5],
        default=6,
    )
    male = np.zeros(m, dtype=bool)
    age = np.zeros(m, dtype=np.int16)
    relation = np.zeros(m, dtype=np.int8)
    line = np.zeros(m, dtype=np.int8)

    r = role == 0
    male[r], age[r], relation[r] = head_male[hh[r]], head_age[hh[r]], R_HEAD
    r = role == 1
    male[r], age[r], relation[r], line[r] = ~head_male[hh[r]], spouse_age[hh[r]], R_SPOUSE, 2
    r = role == 2
    k = slot[r] - o_parent[hh[r]]
    two = n_parents[hh[r]] == 2
    pm = np.where(two, k == 0, sole_parent_male[hh[r]])
    male[r] = pm
    age[r] = np.where(two & (k == 1), mother_age[hh[r]], father_age[hh[r]])
    relation[r] = R_PARENT
    line[r] = np.where(pm, 0, 2)
    r = role == 3
    male[r], age[r], relation[r], line[r] = True, son_age[hh[r]], R_SON, 1
    r = role == 4
    male[r], age[r], relation[r], line[r] = False, dil_age[hh[r]], R_DIL, 2

    kid_male = rng.random(m) < 0.53
    # Grandchildren: the son's children, eldest born when he was 21–32.
    r = np.flatnonzero(role == 5)
    if len(r):
        age[r] = _sibling_ages(rng, hh[r], slot[r] - o_grand[hh[r]], son_age, son_age - 18)
        male[r] = kid_male[r]
        relation[r] = np.where(kid_male[r], R_GRANDSON, R_GRANDDAUGHTER)
        line[r] = 1
    # Children of the head; in a three-generation household, the son's younger siblings.
    r = np.flatnonzero(role == 6)
    if len(r):
        sib = _sibling_ages(rng, hh[r], slot[r] - o_child[hh[r]], head_age, head_age - 18)
        younger = np.maximum(
            np.minimum(son_age[hh[r]] - _int(rng, 2, 10, len(r)), head_age[hh[r]] - 20), 10
        )
        age[r] = np.where(down[hh[r]], younger, sib)
        male[r] = kid_male[r]
        relation[r] = np.where(kid_male[r], R_SON, R_DAUGHTER)
        line[r] = 1
    return size, kind, _Families(hh=hh, relation=relation, male=male, age=age, line=line)


def _sibling_ages(
    rng: np.random.Generator, hh: Array, k: Array, parent_age: Array, cap: Array
) -> Array:
    """Ages of siblings k = 0, 1, … of each household: the eldest born when the parent was
    21–32, each next one 1–4 years younger, shifted up if the youngest would be unborn."""
    eldest = parent_age[hh] - _int(rng, 21, 32, len(hh))
    gaps = np.where(k == 0, 0, _int(rng, 1, 4, len(hh)))
    cum = np.cumsum(gaps)
    first = np.flatnonzero(k == 0)
    group = np.cumsum(k == 0) - 1
    ages = eldest[first][group] - (cum - cum[first][group])
    youngest = np.minimum.reduceat(ages, first)
    ages = ages + np.maximum(0, -youngest)[group]
    return np.clip(np.minimum(ages, cap[hh]), 0, None).astype(np.int16)


@dataclass
class _People:
    """Per-member facts of a chunk (indices into the code arrays above)."""

    chronic: Array
    serious: Array
    disabled: Array
    grade: Array  # 0 = none
    education: Array
    schooling: Array
    dropout: Array
    labour: Array
    migrant: Array
    months: Array
    monthly_wage: Array
    mandarin: Array
    political: Array
    medical: Array
    serious_insurance: Array
    pension: Array
    commercial: Array
    accident: Array
    dibao: Array
    wubao: Array


def _cohort_cuts() -> list[tuple[int, Array]]:
    """Education of adults by birth cohort (older rural women least): latent-normal cuts."""
    table = [
        (1950, [0.40, 0.45, 0.12, 0.03, 0.0]),
        (1966, [0.12, 0.45, 0.35, 0.07, 0.01]),
        (1981, [0.04, 0.28, 0.53, 0.12, 0.03]),
        (9999, [0.01, 0.10, 0.57, 0.22, 0.10]),
    ]
    out = []
    for before, p in table:
        cum = np.cumsum(p)[:-1]
        out.append((before, np.array([_ND.inv_cdf(min(max(c, 1e-6), 1 - 1e-6)) for c in cum])))
    return out


_COHORTS = _cohort_cuts()


def _people(rng: np.random.Generator, f: _Families, wealth: Array, birth_year: Array) -> _People:
    """Health, schooling, education, labour, migrant work, insurance — driven by wealth."""
    m = len(f.hh)
    w = wealth[f.hh]
    age = f.age.astype(np.float64)
    a = f.age

    def bern(p: Array | float) -> Array:
        return rng.random(m) < p

    # Illness and disability come with age and with poverty.
    chronic = bern(_logistic(-4.3 + 0.055 * age - 0.35 * w))
    serious = bern(_logistic(-6.0 + 0.035 * age - 0.5 * w))
    disabled = bern(_logistic(-4.2 + 0.025 * age - 0.4 * w))
    grade = np.where(disabled, _pick(rng, [0.12, 0.2, 0.3, 0.38], m) + 1, 0).astype(np.int8)

    # Schooling on the survey date (school year 2016–17) and education attained.
    education = np.zeros(m, dtype=np.int8)
    schooling = np.zeros(m, dtype=np.int8)
    dropout = np.zeros(m, dtype=np.int8)
    u = rng.random(m)
    v = rng.random(m)
    r = a <= 5
    education[r] = E_PRESCHOOL_AGE
    schooling[r & (a >= 3) & (u < 0.85)] = S_PRESCHOOL
    r = (a >= 6) & (a <= 11)
    education[r], schooling[r] = E_PRIMARY, S_PRIMARY
    r = (a >= 12) & (a <= 14)
    stay = u < np.where(disabled, 0.7, 0.975)
    education[r & stay], schooling[r & stay] = E_JUNIOR, S_7_9
    education[r & ~stay] = E_PRIMARY
    why = np.array([D_LEARNING, D_POVERTY, D_ILLNESS, D_OTHER])[_pick(rng, [45, 30, 10, 15], m)]
    dropout[r & ~stay] = np.where(disabled, D_DISABILITY, why)[r & ~stay]
    r = (a >= 15) & (a <= 17)
    stay = u < _logistic(1.2 + 0.6 * w - 1.5 * disabled)
    education[r & stay] = E_SENIOR
    schooling[r & stay] = np.where(v < 0.6, S_SENIOR, S_SEC_VOC)[r & stay]
    education[r & ~stay] = E_JUNIOR
    why = np.array([D_WORK, D_LEARNING, D_POVERTY, D_OTHER])[_pick(rng, [45, 25, 20, 10], m)]
    dropout[r & ~stay] = np.where(disabled, D_DISABILITY, why)[r & ~stay]
    r = (a >= 18) & (a <= 22)
    college = r & (u < _logistic(-1.3 + 0.7 * w))
    education[college] = E_COLLEGE
    schooling[college] = np.where(v < 0.55, S_COLLEGE, S_HIGH_VOC)[college]
    adult = (a >= 18) & ~college
    latent = (
        0.85 * rng.normal(size=m) + 0.45 * w - 0.35 * (~f.male & (birth_year < 1975))
    ) / np.hypot(0.85, 0.45)
    lower = 0
    for before, cuts in _COHORTS:
        r = adult & (birth_year >= lower) & (birth_year < before)
        education[r] = E_ILLITERATE + np.searchsorted(cuts, latent[r])
        lower = before
    student = schooling != S_NONE

    # Labour (劳动能力) by age, schooling and health.
    labour = np.full(m, L_NONE, dtype=np.int8)
    u = rng.random(m)
    working = (a >= 16) & ~student
    lost = working & ((serious & (u < 0.7)) | (disabled & ((grade <= 2) | (u < 0.4))))
    labour[lost] = L_LOST
    rest = working & ~lost
    old = rest & (a >= 65)
    healthy_old = _pick(rng, [0.55, 0.35, 0.1], m)
    sick_old = _pick(rng, [0.5, 0.15, 0.35], m)
    choice_old = np.array([L_NONE, L_ORDINARY, L_LOST])[np.where(chronic, sick_old, healthy_old)]
    labour[old] = choice_old[old]
    sixties = rest & (a >= 60) & (a < 65)
    labour[sixties] = np.where(rng.random(m) < 0.8, L_ORDINARY, L_NONE)[sixties]
    prime = rest & (a < 60)
    bonus = np.where((education == E_SENIOR) | (education == E_COLLEGE), 0.8, 0.0)
    skilled = rng.random(m) < _logistic(-1.8 + 0.6 * w + bonus)
    labour[prime] = np.where(skilled, L_SKILLED, L_ORDINARY)[prime]
    labourer = (labour == L_ORDINARY) | (labour == L_SKILLED)

    # Migrant work (务工): the better-off and the healthy go further and earn more.
    migrant = np.zeros(m, dtype=np.int8)
    months = np.zeros(m, dtype=np.int8)
    wage = np.zeros(m)
    goes = (
        labourer
        & (a >= 18)
        & (a <= 57)
        & (rng.random(m) < _logistic(MIGRANT_BASE + 1.2 * w - 0.8 * chronic - 0.02 * (age - 35)))
    )
    place = _pick(rng, [0.50, 0.22, 0.16, 0.12], m) + 1  # out, province, county, township
    low = np.array([0, 8, 6, 4, 2])[place]
    high = np.array([0, 12, 12, 10, 8])[place]
    base = np.array([0, 3100, 2800, 2300, 1900])[place]
    skill = np.where(labour == L_SKILLED, 1.35, 1.0)
    # What is brought home after a city's rent and food.
    earn = base * skill * rng.lognormal(0, 0.15, m) * rng.uniform(0.55, 0.8, m)
    migrant[goes] = place[goes]
    months[goes] = _int(rng, low, high, m)[goes]
    wage[goes] = earn[goes]
    # Day labour near home: sugarcane, building sites, the sugar mill's season.
    local = (
        ~goes
        & labourer
        & (a >= 18)
        & (a <= 62)
        & (rng.random(m) < _logistic(0.7 * w - 0.6 * chronic))
    )
    migrant[local] = np.where(rng.random(m) < 0.6, M_TOWNSHIP, M_COUNTY)[local]
    months[local] = _int(rng, 2, 8, m)[local]
    wage[local] = rng.uniform(1800, 2600, m)[local]

    mandarin = (a >= 3) & ~(
        (a >= 55) & ((education == E_ILLITERATE) | (education == E_PRIMARY)) & (u < 0.55)
    )
    political = np.zeros(m, dtype=np.int8)
    p_party = np.where(f.male, 0.07, 0.02) * (1 + 0.3 * np.maximum(w, -2))
    party = (a >= 25) & (rng.random(m) < p_party)
    league = ~party & (
        ((a >= 18) & (a <= 28) & (v < np.where(student, 0.3, 0.12)))
        | ((a >= 14) & (a < 18) & (v < 0.3))
    )
    political[party], political[league] = 1, 2

    medical = rng.random(m) < 0.965
    serious_insurance = medical & (rng.random(m) < 0.97)
    pension = (a >= 60) | ((a >= 16) & ~student & (rng.random(m) < 0.72 + 0.06 * np.clip(w, -2, 2)))
    commercial = rng.random(m) < _logistic(-3.5 + 0.8 * w)
    return _People(
        chronic=chronic,
        serious=serious,
        disabled=disabled,
        grade=grade,
        education=education,
        schooling=schooling,
        dropout=dropout,
        labour=labour,
        migrant=migrant,
        months=months,
        monthly_wage=wage,
        mandarin=mandarin,
        political=political,
        medical=medical,
        serious_insurance=serious_insurance,
        pension=pension,
        commercial=commercial,
        accident=np.zeros(m, dtype=bool),
        dibao=np.zeros(m, dtype=bool),
        wubao=np.zeros(m, dtype=bool),
    )


def _safety_net(
    rng: np.random.Generator, f: _Families, p: _People, size: Array, wealth: Array
) -> Array:
    """低保 and 五保 members; returns the household attribute (index into ATTRIBUTE)."""
    n = len(size)
    a = f.age
    labourer = (p.labour == L_ORDINARY) | (p.labour == L_SKILLED)
    vulnerable = _any_by(f.hh, p.serious | (p.disabled & (p.grade <= 2)), n)
    old_only = ~_any_by(f.hh, a < 60, n)
    labourers = np.bincount(f.hh, weights=labourer & (a >= 16) & (a <= 64), minlength=n)
    head = np.flatnonzero(f.relation == R_HEAD)  # one per household, in household order
    wubao = (
        (size == 1) & ((a[head] >= 60) | ~labourer[head]) & (wealth < -0.6) & (rng.random(n) < 0.55)
    )
    dibao = ~wubao & (
        rng.random(n)
        < _logistic(-3.4 - 1.3 * wealth + 0.9 * vulnerable + 0.6 * old_only - 0.4 * labourers)
    )
    # Either the whole household is on the allowance, or its old, young and sick.
    whole = rng.random(n) < 0.6
    healthy = ~(p.chronic | p.serious | p.disabled)
    dependant = (a >= 60) | (a < 16) | ~healthy
    has_dependant = _any_by(f.hh, dependant, n)
    is_head = f.relation == R_HEAD
    p.dibao = dibao[f.hh] & (whole[f.hh] | dependant | (~has_dependant[f.hh] & is_head))
    w = wubao[f.hh]
    p.wubao = w
    # A 五保 person has no labour and no migrant work (the support replaces it).
    p.labour = np.where(w & labourer, np.where(a >= 60, L_NONE, L_LOST), p.labour).astype(np.int8)
    p.migrant = np.where(w, M_NONE, p.migrant).astype(np.int8)
    p.months = np.where(w, 0, p.months).astype(np.int8)
    p.monthly_wage = np.where(w, 0.0, p.monthly_wage)
    return np.where(wubao, 2, np.where(dibao, 1, 0)).astype(np.int8)


# --- resident IDs ------------------------------------------------------------------------

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))


def check_digits(body: Array) -> Array:
    """ISO 7064 MOD 11-2 check characters of 17-digit ID bodies given as int64."""
    total = np.zeros(len(body), dtype=np.int64)
    rest = body.astype(np.int64).copy()
    for weight in _WEIGHTS[::-1]:  # from the last digit to the first
        total += (rest % 10) * weight
        rest //= 10
    return _CHECK[total % 11]


class IdSequencer:
    """Unique sequence numbers per (issuing area, birth date, sex), across chunks.

    GB 11643's 3-digit sequence is odd for men and even for women: 499 usable numbers each
    (men 001–997, women 002–998). A count per key is carried from chunk to chunk; a
    person's rank within the key picks the number through a fixed permutation of 0..498 per
    key, so numbers look scattered as real ones do and yet never repeat.
    """

    SLOTS = 499  # prime, so any stride gives a permutation

    def __init__(self, n_codes: int) -> None:
        self.days = int((SURVEY_DATE - FIRST_BIRTH_DAY).astype(int)) + 1
        self.counts = np.zeros(n_codes * self.days * 2, dtype=np.int16)

    def assign(self, code: Array, birth: Array, male: Array) -> tuple[Array, Array]:
        """Sequence numbers, and birth dates moved a day earlier where a key was full."""
        birth = birth.copy()
        seq = np.zeros(len(code), dtype=np.int64)
        todo = np.arange(len(code))
        while len(todo):
            day = (birth[todo] - FIRST_BIRTH_DAY).astype(np.int64)
            key = (code[todo].astype(np.int64) * self.days + day) * 2 + male[todo]
            order = np.argsort(key, kind="stable")
            sk = key[order]
            first = np.r_[True, sk[1:] != sk[:-1]]
            starts = np.flatnonzero(first)
            group = np.cumsum(first) - 1
            rank_sorted = np.arange(len(sk)) - starts[group] + self.counts[sk].astype(np.int64)
            rank = np.empty_like(rank_sorted)
            rank[order] = rank_sorted
            uniq = sk[starts]
            sizes = np.diff(np.r_[starts, len(sk)])
            self.counts[uniq] = np.minimum(self.counts[uniq] + sizes, self.SLOTS)
            full = rank >= self.SLOTS
            ok = todo[~full]
            r = rank[~full]
            k = key[~full]
            slot = (r * 173 + (k * 2654435761) % self.SLOTS) % self.SLOTS
            seq[ok] = np.where(male[ok], 2 * slot + 1, 2 * slot + 2)
            todo = todo[full]
            birth[todo] -= np.timedelta64(1, "D")
        return seq, birth


def _issuing_codes(
    rng: np.random.Generator,
    areas: IssuingAreas,
    county: Array,
    birth_year: Array,
    incomer: Array,
) -> Array:
    """Index (into areas.codes) of the area code in each person's ID."""
    m = len(county)
    home = areas.home[county]
    # Spouses who married in: a neighbouring county of the same prefecture.
    count = areas.city_counts[county]
    pick = areas.city_starts[county] + (rng.random(m) * count).astype(np.int32)
    neighbour = areas.neighbours[np.minimum(pick, len(areas.neighbours) - 1)]
    home = np.where(incomer & (count > 1), neighbour, home)
    # The code in use when the first ID was issued, for most of those with an older one.
    issued = np.maximum(birth_year, FIRST_ISSUE_YEAR + _int(rng, 0, 5, m))
    follow = rng.random(m) < 0.9
    code = home.copy()
    for h in np.unique(home):
        for old, start, end in areas.lineage.get(int(h), []):
            r = (home == h) & follow & (issued >= start) & (issued <= end)
            code[r] = old
    return code


def _id_numbers(code_strings: Array, code: Array, birth: Array, seq: Array) -> pa.Array:
    area = np.array([int(c) for c in code_strings], dtype=np.int64)[code]
    ymd = birth.astype("datetime64[D]")
    years = ymd.astype("datetime64[Y]").astype(np.int64) + 1970
    months = ymd.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (ymd - ymd.astype("datetime64[M]")).astype(np.int64) + 1
    body = area * 10**11 + (years * 10000 + months * 100 + days) * 1000 + seq
    return pc.binary_join_element_wise(
        pc.cast(pa.array(body), pa.string()), _str(check_digits(body)), ""
    )


# --- names -------------------------------------------------------------------------------


def _weighted(
    rng: np.random.Generator, table: Mapping[str, float] | Sequence[str], n: int
) -> Array:
    if isinstance(table, Mapping):
        keys = np.array(list(table))
        return keys[_pick(rng, list(table.values()), n).astype(np.int64)]
    keys = np.array(list(table))
    return keys[rng.integers(0, len(keys), n)]


def _surnames(rng: np.random.Generator, ethnicity: Array, province: str) -> Array:
    out = np.empty(len(ethnicity), dtype="<U2")
    for code in np.unique(ethnicity):
        r = np.flatnonzero(ethnicity == code)
        table = names.SURNAMES_BY_ETHNICITY.get(str(code))
        if table is None:
            table = names.GUANGXI_HAN if province == "45" else names.HAN
        out[r] = _weighted(rng, table, len(r))
    return out


def _given_names(rng: np.random.Generator, male: Array, birth_year: Array) -> Array:
    m = len(male)
    out = np.empty(m, dtype="<U2")
    lower = 0
    for i, (era, start) in enumerate(names.ERAS):
        end = names.ERAS[i + 1][1] if i + 1 < len(names.ERAS) else 10_000
        for sex, is_male in (("M", True), ("F", False)):
            born = (birth_year >= max(start, lower)) & (birth_year < end)
            r = np.flatnonzero((male == is_male) & born)
            if not len(r):
                continue
            first, second = names.GIVEN_NAME_CHARS[(sex, era)]
            a = _weighted(rng, first, len(r))
            b = _weighted(rng, second, len(r))
            # 明明: a doubled character is rare; take the next one in the list instead.
            same = a == b
            if same.any():
                nxt = {c: second[(second.index(c) + 1) % len(second)] for c in set(second)}
                b[same] = [nxt[c] for c in b[same]]
            two = rng.random(len(r)) < names.TWO_CHAR_SHARE[era]
            out[r] = np.where(two, np.strings.add(a, b), b)
    return out


def _whole_names(rng: np.random.Generator, ethnicity: Array, male: Array, given: Array) -> Array:
    """Names of peoples without Han-style surnames; the rest keep `given` (surname added later)."""
    out = given.astype("<U12")
    tib = np.flatnonzero(np.isin(ethnicity, list(names.TIBETAN_PEOPLES)))
    if len(tib):
        first = _weighted(rng, names.TIBETAN_FIRST, len(tib))
        second = np.where(
            male[tib],
            _weighted(rng, names.TIBETAN_SECOND_M, len(tib)),
            _weighted(rng, names.TIBETAN_SECOND_F, len(tib)),
        )
        out[tib] = np.strings.add(first, second)
    tur = np.flatnonzero(np.isin(ethnicity, list(names.TURKIC_PEOPLES)))
    if len(tur):
        own = np.where(
            male[tur],
            _weighted(rng, names.TURKIC_M, len(tur)),
            _weighted(rng, names.TURKIC_F, len(tur)),
        )
        father = _weighted(rng, names.TURKIC_M, len(tur))
        out[tur] = np.strings.add(np.strings.add(own, "·"), father)
    return out


# --- the chunk ---------------------------------------------------------------------------


def _ethnic_table(county_codes: Sequence[str]) -> tuple[Array, Array]:
    """(codes, probability matrix counties × codes) from ETHNIC_MIX."""
    keys = sorted({k for mix in ETHNIC_MIX.values() for k in mix})
    matrix = np.zeros((len(county_codes), len(keys)))
    for i, county in enumerate(county_codes):
        for n in (6, 4, 2, 0):
            if county[:n] in ETHNIC_MIX:
                mix = ETHNIC_MIX[county[:n]]
                break
        for code, share in mix.items():
            matrix[i, keys.index(code)] = share
        matrix[i] /= matrix[i].sum()
    return np.array(keys), matrix


def _draw_ethnicity(rng: np.random.Generator, county: Array, codes: Array, matrix: Array) -> Array:
    cum = np.cumsum(matrix, axis=1)
    u = rng.random(len(county))
    idx = (u[:, None] > cum[county]).sum(axis=1)
    return codes[np.minimum(idx, len(codes) - 1)]


@dataclass
class _Context:
    geography: Geography
    areas: IssuingAreas
    ids: IdSequencer
    ethnic_codes: Array
    ethnic_matrix: Array
    village_strings: pa.Array
    county_strings: pa.Array


def generate_chunk(
    rng: np.random.Generator, ctx: _Context, villages: Array, first_id: int, first_person: int
) -> Chunk:
    """Households `first_id`, `first_id + 1`, … living in `villages` (indices), in order."""
    g = ctx.geography
    n = len(villages)
    county = g.village_county[villages]
    rem = g.remoteness[villages]
    wealth = g.village_effect[villages] + rng.normal(0, 1, n)

    size, _kind, f = _families(rng, n)
    m = len(f.hh)
    birth = SURVEY_DATE - np.floor((f.age + rng.random(m)) * 365.2425).astype("timedelta64[D]")
    birth = np.minimum(np.maximum(birth, FIRST_BIRTH_DAY), SURVEY_DATE)
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    p = _people(rng, f, wealth, birth_year)
    attribute = _safety_net(rng, f, p, size, wealth)

    # Peoples and names: the family's surname is the head's; a widow's children carry
    # their late father's; spouses married in keep their own and sometimes their people.
    eth_hh = _draw_ethnicity(rng, county, ctx.ethnic_codes, ctx.ethnic_matrix)
    ethnicity = eth_hh[f.hh]
    own_people = (f.line == 2) & (rng.random(m) < 0.15)
    other = _draw_ethnicity(rng, county[f.hh], ctx.ethnic_codes, ctx.ethnic_matrix)
    ethnicity = np.where(own_people, other, ethnicity)
    head = np.flatnonzero(f.relation == R_HEAD)
    head_surname = _surnames(rng, eth_hh, g.province)
    widow = ~f.male[head] & ~_any_by(f.hh, f.relation == R_SPOUSE, n) & (rng.random(n) < 0.85)
    family_surname = np.where(widow, _surnames(rng, eth_hh, g.province), head_surname)
    surname = np.where(
        f.line == 0,
        head_surname[f.hh],
        np.where(f.line == 1, family_surname[f.hh], _surnames(rng, ethnicity, g.province)),
    )
    given = _given_names(rng, f.male, birth_year)
    whole = np.isin(ethnicity, list(names.TIBETAN_PEOPLES | names.TURKIC_PEOPLES))
    person_name = np.where(
        whole, _whole_names(rng, ethnicity, f.male, given), np.strings.add(surname, given)
    )

    # Resident IDs: area, birth date, sequence (odd for men), check digit.
    incomer = (f.line == 2) & (rng.random(m) < 0.25)
    code = _issuing_codes(rng, ctx.areas, county[f.hh], birth_year, incomer)
    seq, birth = ctx.ids.assign(code, birth, f.male)
    id_numbers = _id_numbers(np.array(ctx.areas.codes), code, birth, seq)

    # Family flags.
    kids = _sum_by(f.hh, (f.relation == R_SON) | (f.relation == R_DAUGHTER), n)
    daughters = _sum_by(f.hh, f.relation == R_DAUGHTER, n)
    head_age = f.age[head]
    only_child = (kids == 1) & (head_age >= 40) & (rng.random(n) < 0.25)
    two_daughters = (kids == 2) & (daughters == 2) & (rng.random(n) < 0.6)

    # Land, housing and the rest of the living conditions (生产生活条件).
    ww = np.clip(wealth, -2, 2)
    per_person = rng.lognormal(np.log(1.25), 0.35, n) * (1 + 0.08 * ww)
    landless = rng.random(n) < 0.05  # 缺土地: a split-off or resettled household
    per_person = np.where(landless, rng.uniform(0.15, 0.45, n), per_person)
    farmland = np.round(np.clip(per_person * size, np.where(per_person < 0.5, 0.3, 0.8), 10.0), 1)
    irrigated = farmland * rng.uniform(0.2, 0.8, n) * np.where(rem > 0.8, 0.6, 1.0)
    irrigated = np.minimum(np.round(irrigated, 1), farmland)
    forest = np.where(
        rng.random(n) < 0.5 + 0.1 * rem, np.clip(rng.lognormal(np.log(6), 0.7, n), 0, 40), 0.0
    )
    returned = np.where(rng.random(n) < 0.12, rng.uniform(1, 6, n), 0.0)
    orchard = np.where(
        rng.random(n) < _logistic(-1.2 + 0.4 * wealth),
        np.clip(rng.lognormal(np.log(2.5), 0.6, n), 0.5, 15),
        0.0,
    )
    if g.province in PASTORAL:
        pasture = np.where(
            rng.random(n) < 0.35, np.clip(rng.lognormal(np.log(30), 0.8, n), 1, 500), 0.0
        )
    else:
        pasture = np.zeros(n)
    water_surface = np.where(rng.random(n) < 0.04, rng.uniform(0.5, 3, n), 0.0)
    distance = np.clip(rng.exponential(0.3 + 0.6 * np.maximum(rem, 0)), 0, 9.5)
    near = (distance < 0.3) & (rng.random(n) < 0.85)
    paved = rng.random(n) < _logistic(1.0 - 0.8 * rem + 0.3 * wealth - 0.4 * distance)
    u = rng.random(n)
    road = np.select(
        [near, paved & (u < 0.04), paved, u < 0.65],
        [2, 3, 2, 1],
        default=0,
    ).astype(np.int8)
    housing = np.clip(size * rng.lognormal(np.log(32), 0.35, n) * np.exp(0.15 * wealth), 25, 300)
    u = 0.8 * wealth + rng.normal(0, 0.6, n)
    structure = np.select(
        [rng.random(n) < 0.01, u > 1.2, u > -0.6, u > -1.4], [4, 0, 1, 2], default=3
    ).astype(np.int8)
    dilapidated = ((structure == 3) & (rng.random(n) < 0.55)) | (
        (structure == 2) & (wealth < -0.5) & (rng.random(n) < 0.2)
    )
    grade_d = rng.random(n) < 0.35
    hard_water = rng.random(n) < _logistic(-3.2 + 0.8 * rem)
    water_safe = rng.random(n) < _logistic(1.8 + 0.6 * wealth - 0.6 * rem - 1.5 * hard_water)
    fuel = np.where(
        rng.random(n) < _logistic(-0.6 + 0.9 * wealth),
        3,
        np.array([0, 2, 4])[_pick(rng, [0.95, 0.03, 0.02], n)],
    ).astype(np.int8)
    cars = np.where(
        rng.random(n) < _logistic(-3.2 + 1.1 * wealth), np.where(rng.random(n) < 0.1, 2, 1), 0
    )
    machines = np.minimum(rng.poisson(0.3 + 0.08 * farmland + 0.3 * np.maximum(wealth, 0)), 4)
    appliances = np.clip(np.round(3 + 0.9 * wealth + rng.normal(0, 1.1, n)), 0, 9)

    # Income of last year: the truth, then what the survey recorded.
    hh = f.hh
    a = f.age
    labourer = (p.labour == L_ORDINARY) | (p.labour == L_SKILLED)
    wage = _sum_by(hh, p.months * p.monthly_wage, n)
    at_home = np.where(p.months <= 4, 1.0, np.where(p.months < 9, 0.5, 0.0))
    home_labour = _sum_by(hh, labourer * at_home, n)
    labour_factor = np.minimum(1.0, 0.35 + 0.45 * home_labour)
    productivity = np.exp(0.5 * wealth) * rng.lognormal(0, 0.2, n)
    # Sugarcane and rice on the farmland, fruit in the orchards, pigs and poultry.
    crops = farmland * rng.uniform(1800, 3200, n) * productivity * labour_factor
    fruit = orchard * rng.uniform(3500, 8000, n) * productivity * labour_factor
    livestock = np.where(
        rng.random(n) < 0.65,
        rng.lognormal(np.log(4000), 0.5, n) * productivity * np.sqrt(np.minimum(home_labour, 4)),
        0.0,
    )
    cost = (
        crops * rng.uniform(0.35, 0.5, n)
        + fruit * rng.uniform(0.4, 0.55, n)
        + livestock * rng.uniform(0.6, 0.75, n)
    )
    business = crops + fruit + livestock
    shop = np.where(
        (home_labour > 0) & (rng.random(n) < _logistic(-3.2 + 0.8 * wealth)),
        rng.uniform(8000, 40000, n),
        0.0,
    )  # a village shop, a lorry, a small trade
    business += shop
    cost += shop * rng.uniform(0.55, 0.75, n)
    rent = np.where(
        rng.random(n) < 0.06 + 0.1 * (home_labour == 0), farmland * rng.uniform(500, 900, n), 0.0
    )
    dividend = np.where(rng.random(n) < 0.03, rng.uniform(200, 1000, n), 0.0)
    pension = _sum_by(hh, (a >= 60) * rng.uniform(1000, 1200, m), n)
    dibao = _sum_by(hh, p.dibao * rng.uniform(1400, 2400, m), n)
    wubao = _sum_by(hh, p.wubao * rng.uniform(3200, 4200, m), n)
    parents60 = _sum_by(hh, ((f.relation == R_HEAD) | (f.relation == R_SPOUSE)) & (a >= 60), n)
    planning = np.where(only_child | two_daughters, 960.0 * parents60, 0.0)
    eco = returned * 150 + forest * 0.3 * 15
    severe = p.disabled & (p.grade <= 2)
    disability_aid = _sum_by(hh, severe * rng.uniform(600, 1200, m), n)
    working = _any_by(hh, (a >= 16) & (a < 60) & labourer, n)
    elderly = _any_by(hh, a >= 60, n)
    # Support from children living elsewhere (赡养费) counts as other transfers.
    support = np.where(
        elderly & (rng.random(n) < np.where(working, 0.5, 0.8)),
        rng.uniform(1500, np.where(working, 5000, 8000), n) * np.exp(0.2 * wealth),
        0.0,
    )
    other = farmland * rng.uniform(80, 110, n) + disability_aid + support
    true_net = (
        wage + business + rent + dividend + pension + dibao + wubao + planning + eco + other
    ) - cost
    # Out-of-pocket medical costs: not on the form, but they make a household poor (因病致贫).
    medical = _sum_by(
        hh,
        p.serious * rng.lognormal(np.log(6000), 0.6, m)
        + p.chronic * rng.lognormal(np.log(1200), 0.5, m),
        n,
    )
    welfare = (true_net - medical) / size
    poor = welfare < POVERTY_LINE

    # What the survey recorded: wages from far away under-reported, farm and business
    # income guessed, transfers exact (they come from the records).
    # A household under the survey's eyes rarely overstates what it earns.
    rep_wage = np.round(wage * np.minimum(rng.lognormal(-0.3, 0.6, n), 1.25))
    rep_business = np.round(business * np.minimum(rng.lognormal(-0.1, 0.5, n), 1.4))
    rep_cost = np.round(np.minimum(cost * rng.lognormal(0, 0.3, n), rep_business))
    money: dict[str, Array] = {
        "wage": rep_wage,
        "business": rep_business,
        "property_dividend": np.round(dividend),
        "property_other": np.round(rent),
        "transfer_family_planning": np.round(planning),
        "transfer_dibao": np.round(dibao),
        "transfer_wubao": np.round(wubao),
        "transfer_pension": np.round(pension),
        "transfer_eco_compensation": np.round(eco),
        "transfer_other": np.round(other),
    }
    reported_net = np.sum(list(money.values()), axis=0) - rep_cost
    per_capita = reported_net / size

    # Poor households were covered by the county's premiums; accident cover for some.
    p.accident = (a >= 16) & (attribute[hh] > 0) & (rng.random(m) < 0.4)

    phone = np.where(
        rng.random(n) < _logistic(1.2 + 0.5 * wealth),
        np.array(names.PHONE_PREFIXES, dtype=np.int64)[
            rng.integers(0, len(names.PHONE_PREFIXES), n)
        ]
        * 10**8
        + rng.integers(0, 10**8, n),
        0,
    )
    banks = names.BANKS_GUANGXI if g.province == "45" else names.BANKS_OTHER
    bank = _pick(rng, [b[2] for b in banks], n).astype(np.int64)
    has_bank = rng.random(n) < 0.7
    account = np.array([int(b[1]) for b in banks], dtype=np.int64)[bank] * 10**13 + rng.integers(
        0, 10**13, n
    )

    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    empty = pa.array(np.full(n, ""), type=pa.string())
    households = pa.table(
        {
            "household_id": pa.array(ids),
            "county_code": ctx.county_strings.take(pa.array(county)),
            "village_code": ctx.village_strings.take(pa.array(villages)),
            "people": pa.array(size.astype(np.int16)),
            "head_name": pa.array(person_name[head], type=pa.string()),
            "phone": pc.if_else(pa.array(phone > 0), pc.cast(pa.array(phone), pa.string()), ""),
            "bank_name": pc.if_else(
                pa.array(has_bank), _str(np.array([b[0] for b in banks])[bank]), ""
            ),
            "bank_account": pc.if_else(
                pa.array(has_bank), pc.cast(pa.array(account), pa.string()), ""
            ),
            "identification_standard": pa.array(np.full(n, "national"), type=pa.string()),
            "attribute": _str(ATTRIBUTE[attribute]),
            "main_cause": empty,
            "other_causes": empty,
            "is_military_family": pa.array(rng.random(n) < 0.012),
            "is_only_child": pa.array(only_child),
            "is_two_daughters": pa.array(two_daughters),
            "relocation_type": empty,
            "relocation_mode": empty,
            "relocation_place": empty,
            "farmland_mu": _decimal(farmland, 9, 1),
            "irrigated_mu": _decimal(irrigated, 9, 1),
            "forest_mu": _decimal(forest, 9, 1),
            "returned_forest_mu": _decimal(returned, 9, 1),
            "orchard_mu": _decimal(orchard, 9, 1),
            "pasture_mu": _decimal(pasture, 9, 1),
            "water_surface_mu": _decimal(water_surface, 9, 1),
            "in_cooperative": pa.array(rng.random(n) < _logistic(-1.8 + 0.5 * wealth)),
            "led_by_enterprise": pa.array(rng.random(n) < _logistic(-2.5 + 0.4 * wealth)),
            "led_by_entrepreneur": pa.array(rng.random(n) < _logistic(-3.0 + 0.4 * wealth)),
            "has_production_power": pa.array(
                rng.random(n) < _logistic(1.0 + 0.5 * wealth - 0.3 * rem)
            ),
            "has_household_power": pa.array(rng.random(n) < 0.995),
            "has_radio_tv": pa.array(rng.random(n) < _logistic(3.0 + 0.8 * wealth)),
            "distance_to_road_km": _decimal(distance, 6, 1),
            "road_surface": _str(ROAD[road]),
            "housing_area_m2": _decimal(housing, 8, 0),
            "housing_structure": _str(STRUCTURE[structure]),
            "is_dilapidated": pa.array(dilapidated),
            "dilapidation_grade": _str(np.where(dilapidated, np.where(grade_d, "D", "C"), "")),
            "water_hard_to_get": pa.array(hard_water),
            "water_safe": pa.array(water_safe),
            "has_sanitary_toilet": pa.array(rng.random(n) < _logistic(-0.3 + 0.8 * wealth)),
            "main_fuel": _str(FUEL[fuel]),
            "cars": pa.array(cars.astype(np.int16)),
            "farm_machines": pa.array(machines.astype(np.int16)),
            "appliances": pa.array(appliances.astype(np.int16)),
            "income_year": pa.array(np.full(n, INCOME_YEAR, dtype=np.int16)),
            **{k: _decimal(v, 12, 0) for k, v in money.items()},
            "business_cost": _decimal(rep_cost, 12, 0),
            "per_capita_income": _decimal(per_capita, 12, 2),
        }
    )

    grade = p.grade
    members = pa.table(
        {
            "person_id": pa.array(np.arange(first_person, first_person + m, dtype=np.int64)),
            "household_id": pa.array(ids[hh]),
            "name": pa.array(person_name, type=pa.string()),
            "id_number": id_numbers,
            "sex": _str(np.where(f.male, "M", "F")),
            "birth_date": pa.array(birth.astype("datetime64[D]")),
            "relation": _str(RELATIONS[f.relation]),
            "ethnicity": pa.array(ethnicity, type=pa.string()),
            "political_status": _str(
                np.array(["masses", "party_member", "league_member"])[p.political]
            ),
            "education": _str(EDUCATION[p.education]),
            "schooling": _str(SCHOOLING[p.schooling]),
            "dropout_reason": _str(DROPOUT[p.dropout]),
            "has_chronic_illness": pa.array(p.chronic),
            "has_serious_illness": pa.array(p.serious),
            "is_disabled": pa.array(p.disabled),
            "disability_grade": pa.array(grade, mask=grade == 0, type=pa.int8()),
            "labour_skill": _str(LABOUR[p.labour]),
            "migrant_place": _str(MIGRANT[p.migrant]),
            "migrant_months": pa.array(p.months.astype(np.int8)),
            "speaks_mandarin": pa.array(p.mandarin),
            "is_dibao": pa.array(p.dibao),
            "is_wubao": pa.array(p.wubao),
            "has_medical_insurance": pa.array(p.medical | (attribute[hh] > 0)),
            "has_pension": pa.array(p.pension),
            "has_serious_illness_insurance": pa.array(p.serious_insurance | (attribute[hh] > 0)),
            "has_commercial_insurance": pa.array(p.commercial),
            "has_accident_insurance_subsidy": pa.array(p.accident),
        }
    )
    truth = pa.table(
        {
            "household_id": pa.array(ids),
            "wealth": pa.array(wealth.astype(np.float32)),
            "poor": pa.array(poor),
        }
    )
    poor_people = np.bincount(county, weights=size * poor, minlength=len(g.county_codes))
    return Chunk(households, members, truth, poor_people)


# ======================================================================================
# The whole province
# ======================================================================================


@dataclass
class Result:
    out: Path
    households: int
    members: int
    poor_households: int
    poor_people: int
    quota_people: int
    villages: int
    counties: int
    seconds: float


FILES = ("households.parquet", "members.parquet", "truth.parquet", "quotas.csv")


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def generate(
    out: Path | str,
    households: int,
    seed: int,
    province: str = DEFAULT_PROVINCE,
    *,
    chunk: int = CHUNK_HOUSEHOLDS,
    progress: Progress | None = None,
) -> Result:
    """Write households, members, truth and quotas for `households` households (see above).

    Files are written under temporary names and renamed at the end, so an interrupted run
    leaves no half-written file under a final name.
    """
    if not 1 <= households <= MAX_HOUSEHOLDS:
        raise ValueError(f"households must be between 1 and {MAX_HOUSEHOLDS:,}")
    if chunk < 1:
        raise ValueError("chunk must be positive")
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    area_rng = _stream(seed, 0)
    geo = read_geography(province, area_rng)
    counts = area_rng.multinomial(households, geo.weights / geo.weights.sum())
    bounds = np.cumsum(counts)
    areas = IssuingAreas.build(geo.county_codes, int(str(SURVEY_DATE)[:4]))
    codes, matrix = _ethnic_table(geo.county_codes)
    ctx = _Context(
        geography=geo,
        areas=areas,
        ids=IdSequencer(len(areas.codes)),
        ethnic_codes=codes,
        ethnic_matrix=matrix,
        village_strings=pa.array(geo.village_codes, type=pa.string()),
        county_strings=pa.array(np.array(geo.county_codes), type=pa.string()),
    )
    meta = {
        "fupin.generator": "engine.synth",
        "fupin.seed": str(seed),
        "fupin.households": str(households),
        "fupin.province": province,
        "fupin.survey_date": str(SURVEY_DATE),
        "fupin.income_year": str(INCOME_YEAR),
        "fupin.poverty_line": str(POVERTY_LINE),
    }
    writers: dict[str, pq.ParquetWriter] = {}
    tmp = {name: out / f".{name}.part" for name in FILES}
    poor_people = np.zeros(len(geo.county_codes))
    n_members = n_poor = 0
    if progress:
        progress(0, households)
    try:
        for c, start in enumerate(range(0, households, chunk)):
            stop = min(start + chunk, households)
            villages = np.searchsorted(bounds, np.arange(start, stop), side="right")
            part = generate_chunk(_stream(seed, 1, c), ctx, villages, start + 1, n_members + 1)
            for name, table in (
                ("households.parquet", part.households),
                ("members.parquet", part.members),
                ("truth.parquet", part.truth),
            ):
                if name not in writers:
                    schema = table.schema.with_metadata(meta)
                    writers[name] = pq.ParquetWriter(tmp[name], schema, compression="zstd")
                writers[name].write_table(table.replace_schema_metadata(meta))
            n_members += part.members.num_rows
            n_poor += int(pc.sum(part.truth["poor"]).as_py() or 0)
            poor_people += part.poor_people_by_county
            if progress:
                progress(stop, households)
    finally:
        for writer in writers.values():
            writer.close()

    # The bureau's number: its survey's estimate of the county's poor people, a few per
    # cent off the truth either way.
    noise = _stream(seed, 2).lognormal(0, 0.05, len(geo.county_codes))
    quota = np.round(poor_people * noise).astype(np.int64)
    has_households = np.bincount(geo.village_county, weights=counts, minlength=len(quota)) > 0
    with open(tmp["quotas.csv"], "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["county_code", "quota_people"])
        for code, q, used in zip(geo.county_codes, quota, has_households, strict=True):
            if used:
                writer.writerow([code, int(q)])
    for name in FILES:
        os.replace(tmp[name], out / name)
    return Result(
        out=out,
        households=households,
        members=n_members,
        poor_households=n_poor,
        poor_people=int(poor_people.sum()),
        quota_people=int(quota[has_households].sum()),
        villages=int((counts > 0).sum()),
        counties=int(has_households.sum()),
        seconds=time.monotonic() - started,
    )
