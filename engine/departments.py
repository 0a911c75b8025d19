"""Synthetic department records (数据比对 inputs) for a generated province, with known truth.

`generate_departments(src)` reads the province `engine.synth` wrote in `src`
(`members.parquet`, `households.parquet`, `truth.parquet`) and writes, under
`src/departments/`:

- `<kind>.parquet` for each kind of `KINDS`: `record_id, id_number, name` plus the kind's own
  columns (`KIND_COLUMNS`);
- `truth.parquet`: `dataset, record_id, person_id, error` — the person a record really
  belongs to (null for someone outside the people file) and the error it was given.

**Who has a record.** Each kind draws its records from the registry's people with a rate
that depends on what the registry and the latent wealth say about them: cars, flats bought
in town, companies and public payroll mostly among better-off adults (the 四类人员 the
checks look for, DOMAIN.md §3); deaths among the old (a Gompertz hazard over the two years
before the survey date); 低保 and 特困 mostly among those the registry already marks, plus
poorer people it does not (the 应纳尽纳 candidates); disability certificates among the
disabled; serious-illness records among the seriously ill; enrolment among those at school
(and a few of the school-age drop-outs still on a roll). The rest of each dataset is other
residents of the province — outsiders with fresh, valid resident IDs that are in no one's
hands in the people file, and names drawn like the registry's.

**How many.** `records` in total (default `records_per_person` × people, 2.5, so 20M
people give 50M records), split between kinds by `SHARES`. At most `MAX_INSIDER_SHARE` of a
kind are registry people: when the natural rates would give more, every person's chance is
thinned by the same factor (a first pass sums the expected count); the rest are outsiders.

**Errors** (`ERROR_RATE` per kind, 3–5 %; `ERROR_WEIGHTS` among the kinds of error that can
happen to a record): one ID digit substituted (`id_typo`) or two adjacent digits swapped
(`id_transposed`) — both break the GB 11643 check digit; the old 15-digit ID (`id15`, only
for people born before 2000); full-width digits (`fullwidth`); a lower-case check `x`
(`lower_x`, only for IDs ending in X); spaces inside the ID (`spaces`); one name character
replaced by a similar-looking one (`name_typo`) or a same-sound one (`homophone`, from a
curated table of name characters); the name in traditional characters (`traditional`);
spaces or another dot in the name (`name_spaces`: 李 明, 李　明, 买买提 艾力, 买买提•艾力).

**Determinism and size.** Every random number is a hash of (seed, kind, purpose, person or
record ordinal) — counter-based, so the output does not depend on how the people are
chunked; outsiders are drawn in fixed blocks from `SeedSequence(seed, spawn_key=(50, kind,
block))`. People are read `chunk` at a time, so memory stays flat: per-household arrays of a
few bytes each, the ID-sequence table of `engine.synth` (~20 MB) and one chunk.

Never imports Django.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine import synth

Array = npt.NDArray[Any]
#: progress(phase, done, total); phases are "scan", "people" and "outsiders".
Progress = Callable[[str, int, int], None]

KINDS: tuple[str, ...] = (
    "vehicles",
    "commercial_housing",
    "business_registrations",
    "public_payroll",
    "village_officials",
    "deaths",
    "dibao",
    "tekun",
    "disability_certificates",
    "serious_illness",
    "students",
)

#: Share of all records by kind, roughly a province's department registers relative to one
#: another (vehicles incl. motorcycles and enrolled students are the big ones).
SHARES: dict[str, float] = {
    "vehicles": 0.25,
    "commercial_housing": 0.12,
    "business_registrations": 0.12,
    "public_payroll": 0.05,
    "village_officials": 0.005,
    "deaths": 0.02,
    "dibao": 0.08,
    "tekun": 0.01,
    "disability_certificates": 0.05,
    "serious_illness": 0.03,
    "students": 0.265,
}

#: The kind's own columns, after record_id, id_number, name.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "vehicles": ("plate", "vehicle_type", "registered_on"),
    "commercial_housing": ("city", "area_m2", "bought_on"),
    "business_registrations": ("company", "role", "registered_capital", "registered_on"),
    "public_payroll": ("employer", "since"),
    "village_officials": ("village_code", "post"),
    "deaths": ("died_on",),
    "dibao": ("county_code", "since", "monthly_amount"),
    "tekun": ("county_code", "since", "monthly_amount"),
    "disability_certificates": ("grade", "disability_kind"),
    "serious_illness": ("disease", "diagnosed_on"),
    "students": ("school", "stage", "grade"),
}

RECORDS_PER_PERSON = 2.5
MAX_INSIDER_SHARE = 0.9
#: People read at a time; does not change the output.
CHUNK_PEOPLE = 500_000
#: Outsiders drawn per random stream; part of what fixes the output for a seed.
OUTSIDER_BLOCK = 200_000
#: The departments' data are taken on the survey date.
SNAPSHOT = synth.SURVEY_DATE

ERRORS: tuple[str, ...] = (
    "none",
    "id_typo",
    "id_transposed",
    "id15",
    "fullwidth",
    "lower_x",
    "spaces",
    "name_typo",
    "homophone",
    "traditional",
    "name_spaces",
)
#: Share of records with an error, by kind (hand-typed registers are the worst).
ERROR_RATE: dict[str, float] = {
    "vehicles": 0.03,
    "commercial_housing": 0.04,
    "business_registrations": 0.04,
    "public_payroll": 0.03,
    "village_officials": 0.05,
    "deaths": 0.05,
    "dibao": 0.05,
    "tekun": 0.05,
    "disability_certificates": 0.04,
    "serious_illness": 0.04,
    "students": 0.03,
}
#: Relative weight of each error among those possible for a record (lower_x is only
#: possible for the one ID in eleven that ends in X, hence its weight).
ERROR_WEIGHTS: dict[str, float] = {
    "id_typo": 0.20,
    "id_transposed": 0.10,
    "id15": 0.10,
    "fullwidth": 0.07,
    "lower_x": 0.60,
    "spaces": 0.08,
    "name_typo": 0.13,
    "homophone": 0.14,
    "traditional": 0.08,
    "name_spaces": 0.08,
}

# --- character tables --------------------------------------------------------------------

#: Same-sound characters (same pinyin, tone aside) among common surname and given-name
#: characters: what a clerk writes for a name heard, not read.
HOMOPHONES: dict[str, str] = {
    "王": "汪", "汪": "王", "张": "章", "章": "张", "刘": "柳留", "陈": "晨辰", "杨": "阳扬",
    "黄": "皇凰", "赵": "兆照", "吴": "伍武", "周": "舟州", "徐": "许", "许": "徐", "马": "玛",
    "朱": "珠诸", "胡": "湖", "郭": "国", "何": "和禾", "林": "琳霖", "罗": "骆洛", "郑": "正",
    "梁": "良", "唐": "汤堂", "韩": "寒", "邓": "登", "冯": "逢", "彭": "鹏蓬", "曾": "增",
    "肖": "萧", "萧": "肖", "田": "甜", "董": "懂", "潘": "盘攀", "盘": "潘", "袁": "元源",
    "蒋": "江姜", "余": "于俞", "于": "余俞", "杜": "渡", "叶": "业", "程": "成承", "魏": "卫韦",
    "韦": "魏伟", "吕": "旅", "任": "仁", "卢": "芦陆", "陆": "路鹿", "覃": "谭", "谭": "覃",
    "蒙": "孟", "农": "浓", "莫": "墨", "甘": "干", "凌": "玲灵", "龙": "隆", "宁": "凝",
    "闭": "毕碧", "滕": "腾", "钟": "忠中", "蓝": "兰岚", "石": "时史", "向": "项", "欧": "鸥",
    "明": "铭鸣", "华": "桦骅", "伟": "玮炜", "军": "君钧", "平": "萍坪", "东": "冬",
    "勇": "永涌", "斌": "彬滨", "刚": "钢", "辉": "晖", "峰": "锋丰", "涛": "韬", "杰": "洁捷",
    "忠": "中", "胜": "盛", "荣": "容蓉", "超": "潮", "英": "莹瑛", "芳": "方", "红": "宏洪",
    "丽": "莉俐", "萍": "平苹", "玲": "铃凌", "燕": "艳雁", "霞": "侠", "娟": "鹃", "梅": "玫媚",
    "兰": "岚蓝", "艳": "燕", "花": "华", "敏": "民", "莲": "连", "丹": "单", "秀": "绣",
    "桂": "贵", "玉": "钰", "月": "悦", "凤": "风", "金": "锦", "彩": "采", "春": "纯",
    "淑": "舒", "翠": "萃", "珍": "贞真", "香": "湘", "琴": "芹勤", "仙": "先", "文": "雯",
    "国": "果", "家": "佳嘉", "志": "智治", "建": "健剑", "振": "震", "光": "广", "永": "勇",
    "正": "政", "庆": "清", "福": "富", "有": "友", "汉": "翰", "运": "云", "开": "凯",
    "生": "升", "才": "财", "贵": "桂", "成": "诚城", "清": "青", "祥": "翔", "义": "毅",
    "新": "鑫欣", "山": "珊", "富": "福", "财": "才", "兴": "星", "全": "泉", "宝": "保",
    "立": "力利", "小": "晓", "卫": "伟", "俊": "骏峻", "宏": "鸿", "剑": "建", "晓": "小",
    "慧": "惠", "浩": "昊", "宇": "雨羽", "嘉": "佳", "梓": "子紫", "思": "斯", "晨": "辰",
    "天": "添", "铭": "明", "泽": "择", "诗": "师", "锦": "瑾", "佳": "嘉", "皓": "浩",
    "轩": "萱", "豪": "浩", "鹏": "朋", "阳": "洋", "博": "波", "辰": "晨", "睿": "瑞",
    "航": "杭", "翔": "祥", "鑫": "新", "磊": "蕾", "凯": "恺", "锋": "峰", "欣": "馨",
    "雨": "宇", "雅": "亚", "婉": "宛", "一": "依", "怡": "宜", "涵": "含", "琪": "琦",
    "婷": "亭", "萱": "轩", "妍": "研", "彤": "桐", "琳": "林", "悦": "月", "瑶": "遥",
    "璐": "露", "蓉": "容", "倩": "茜", "洁": "杰", "静": "婧", "菲": "飞", "颖": "莹",
    "买": "麦", "提": "题", "吐": "图", "扎": "札", "布": "不", "都": "杜",
}  # fmt: skip

#: Similar-looking characters: what a clerk types for a name read from a bad copy.
LOOKALIKES: dict[str, str] = {
    "王": "玉主", "玉": "王", "李": "季", "陈": "阵", "杨": "扬", "赵": "赶", "吴": "昊",
    "徐": "涂", "马": "乌", "何": "河", "林": "材", "罗": "萝", "郑": "邦", "梁": "粱",
    "曾": "曹", "田": "由甲", "潘": "播", "袁": "哀", "余": "佘", "于": "干千", "叶": "吐",
    "魏": "巍", "丁": "于", "任": "仕", "卢": "户", "陆": "际", "蒙": "豪", "农": "衣",
    "凌": "陵", "龙": "尤", "宁": "宇", "闭": "闲", "岑": "芩", "滕": "腾", "蓝": "篮",
    "盘": "盆", "石": "右", "向": "问", "欧": "殴", "银": "根", "明": "朋", "华": "毕",
    "伟": "纬", "军": "车", "平": "乎", "勇": "甬", "刚": "冈", "波": "坡", "辉": "挥",
    "峰": "蜂", "胜": "性", "良": "艮", "荣": "劳", "超": "起", "红": "江", "萍": "苹",
    "玲": "珍", "霞": "暇", "娟": "绢", "梅": "海", "海": "梅", "丹": "舟", "秀": "季",
    "桂": "佳", "佳": "桂", "美": "姜", "凤": "风", "金": "全", "全": "金", "爱": "受",
    "春": "秦", "素": "索", "淑": "叔", "翠": "萃", "少": "小", "瑞": "端", "妹": "妺",
    "娥": "峨", "珍": "玲", "德": "徳", "文": "义", "国": "固", "家": "宗", "振": "赈",
    "光": "先", "永": "水", "绍": "招", "正": "止", "福": "幅", "克": "兑", "运": "远",
    "日": "曰", "朝": "期", "宗": "宋", "昌": "冒", "生": "牛", "贵": "责", "清": "请",
    "祥": "样", "义": "叉", "发": "友", "安": "妄", "小": "少", "俊": "梭", "宏": "宋",
    "剑": "俭", "晓": "烧", "慧": "彗", "雪": "雷", "浩": "洁", "嘉": "喜", "思": "恩",
    "天": "夭", "泽": "译", "诗": "待", "锦": "绵", "豪": "毫", "阳": "阴", "博": "搏",
    "辰": "辱", "航": "舫", "锋": "峰", "雨": "两", "紫": "柴", "雅": "稚", "婉": "碗",
    "心": "必", "若": "苦", "怡": "治", "涵": "函", "琪": "棋", "婷": "停", "彤": "形",
    "琳": "淋", "悦": "说", "倩": "请", "静": "睁", "菲": "韭", "颖": "颍", "索": "素",
    "玛": "码", "买": "实", "提": "捉", "力": "刀", "古": "占", "班": "斑", "次": "欠",
}  # fmt: skip

#: Simplified → traditional for the characters of the name lists that differ.
TRADITIONAL: dict[str, str] = {
    "陈": "陳", "刘": "劉", "张": "張", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳",
    "郑": "鄭", "邓": "鄧", "冯": "馮", "罗": "羅", "谢": "謝", "许": "許", "韩": "韓",
    "蒋": "蔣", "叶": "葉", "苏": "蘇", "吕": "呂", "卢": "盧", "陆": "陸", "韦": "韋",
    "农": "農", "谭": "譚", "龙": "龍", "宁": "寧", "闭": "閉", "钟": "鍾", "蓝": "藍",
    "盘": "盤", "欧": "歐", "银": "銀", "马": "馬", "孙": "孫", "汤": "湯", "萧": "蕭",
    "国": "國", "华": "華", "东": "東", "军": "軍", "强": "強", "伟": "偉", "辉": "輝",
    "涛": "濤", "杰": "傑", "胜": "勝", "荣": "榮", "兰": "蘭", "凤": "鳳", "丽": "麗",
    "红": "紅", "艳": "艷", "莲": "蓮", "琼": "瓊", "刚": "剛", "绍": "紹", "庆": "慶",
    "汉": "漢", "运": "運", "树": "樹", "开": "開", "贵": "貴", "义": "義", "发": "發",
    "财": "財", "兴": "興", "宝": "寶", "寿": "壽", "卫": "衛", "剑": "劍", "晓": "曉",
    "铭": "銘", "泽": "澤", "诗": "詩", "锦": "錦", "轩": "軒", "鹏": "鵬", "阳": "陽",
    "聪": "聰", "凯": "凱", "锋": "鋒", "悦": "悅", "瑶": "瑤", "洁": "潔", "静": "靜",
    "颖": "穎", "爱": "愛", "买": "買", "热": "熱", "库": "庫", "尔": "爾", "亚": "亞",
    "则": "則", "达": "達", "顿": "頓", "贡": "貢", "玛": "瑪", "边": "邊", "乡": "鄉",
    "亲": "親", "飞": "飛", "云": "雲", "贞": "貞",
}  # fmt: skip

_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
_TRAD = str.maketrans(TRADITIONAL)
_DOTS = (" ", "", "•", "・", ".")

# --- counter-based random numbers -------------------------------------------------------

_MASK = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: Array) -> Array:
    """splitmix64's finaliser (uint64 arithmetic wraps, as intended)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _salt(seed: int, kind: int, purpose: int) -> np.uint64:
    z = (
        seed * 0x632BE59BD9B4E019 + kind * 0x8CB92BA72F3D8DD7 + purpose * 0x9E3779B97F4A7C15
    ) & _MASK
    return _mix(np.array([z], dtype=np.uint64))[0]


def _uniform(seed: int, kind: int, purpose: int, keys: Array) -> Array:
    """Uniforms in [0, 1), one per key: the same key always draws the same number."""
    x = keys.astype(np.uint64) * _GOLDEN + _salt(seed, kind, purpose)
    return (_mix(x) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# Purposes (distinct random streams per kind).
P_PICK, P_SECOND, P_ERROR, P_ERROR_KIND, P_ERROR_A, P_ERROR_B = range(6)
P_COLUMNS = 10  # P_COLUMNS + i for the i-th draw of a kind's columns


# --- the province: places and names -----------------------------------------------------


@dataclass
class _Province:
    code: str
    short_name: str
    county_codes: Array  # sorted, as synth's geography
    county_names: list[str]
    county_city: list[str]  # prefecture name per county
    county_letter: Array  # plate letter per county (by prefecture)
    county_weight: Array
    village_codes: Array  # sorted; a county's villages are one run
    village_start: Array  # per county
    village_count: Array
    areas: synth.IssuingAreas
    area_index: dict[int, int]
    ethnic_codes: Array
    ethnic_matrix: Array


PLATE_PREFIX: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}  # fmt: skip


def _province(code: str) -> _Province:
    geo = synth.read_geography(code, np.random.default_rng(0))
    cities = synth._read_division("cities.csv.xz", code)
    city_name = dict(zip(cities["code"].to_pylist(), cities["name"].to_pylist(), strict=True))
    provinces = synth._read_division("provinces.csv.xz", code)
    full = str(provinces["name"][0].as_py()) if provinces.num_rows else code
    short = full
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if short.endswith(suffix):
            short = short[: -len(suffix)]
            break
    county_codes = np.array(geo.county_codes)
    city_codes = sorted({c[:4] for c in geo.county_codes})
    letters = "ABCDEFGHJKLMNPQR"
    county_letter = np.array(
        [letters[city_codes.index(c[:4]) % len(letters)] for c in county_codes]
    )
    village_start = np.searchsorted(geo.village_county, np.arange(len(county_codes)))
    village_count = np.bincount(geo.village_county, minlength=len(county_codes))
    areas = synth.IssuingAreas.build(geo.county_codes, int(str(SNAPSHOT)[:4]))
    ethnic_codes, ethnic_matrix = synth._ethnic_table(geo.county_codes)
    return _Province(
        code=code,
        short_name=short,
        county_codes=county_codes,
        county_names=[n or "" for n in geo.county_names],
        county_city=[city_name.get(c[:4], "") for c in geo.county_codes],
        county_letter=county_letter,
        county_weight=np.bincount(
            geo.village_county, weights=geo.weights, minlength=len(county_codes)
        ),
        village_codes=np.asarray(geo.village_codes),
        village_start=village_start,
        village_count=village_count,
        areas=areas,
        area_index={int(c): i for i, c in enumerate(areas.codes)},
        ethnic_codes=ethnic_codes,
        ethnic_matrix=ethnic_matrix,
    )


# --- people and their chances ------------------------------------------------------------


@dataclass
class _People:
    """The fields the rates need, one entry per person of a chunk (or per outsider)."""

    age: Array
    male: Array
    wealth: Array
    county: Array  # index into _Province.county_codes
    village: Array  # index into _Province.village_codes
    birth: Array  # datetime64[D]
    head_with_car: Array
    college: Array
    party: Array
    dibao: Array
    wubao: Array
    disabled: Array
    disability_grade: Array
    serious: Array
    stage: Array  # index into STAGES, -1 not at school
    dropout: Array  # school age, not at school


STAGES = np.array(
    ["primary", "junior", "senior", "secondary_vocational", "higher_vocational", "college"]
)
#: synth's schooling codes → stage index.
_SCHOOLING_STAGE = {
    "primary": 0,
    "grades_7_9": 1,
    "senior": 2,
    "secondary_vocational": 3,
    "higher_vocational": 4,
    "college": 5,
}


def _logistic(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def _rates(kind: str, p: _People) -> Array:
    """Each person's chance of a record of `kind` (DOMAIN.md §3: who the checks find)."""
    a, w = p.age, p.wealth
    if kind == "vehicles":
        adult = (a >= 18) & (a <= 75)
        return np.where(p.head_with_car, 0.9, adult * _logistic(-3.6 + 1.1 * w))
    if kind == "commercial_housing":
        return ((a >= 22) & (a <= 75)) * _logistic(-4.8 + 1.2 * w)
    if kind == "business_registrations":
        return ((a >= 20) & (a <= 70)) * _logistic(-5.0 + 1.1 * w + 0.4 * p.male)
    if kind == "public_payroll":
        return ((a >= 22) & (a <= 60)) * _logistic(-5.5 + 0.9 * w + 2.5 * p.college)
    if kind == "village_officials":
        return ((a >= 25) & (a <= 65)) * _logistic(-6.2 + 0.4 * w + 2.0 * p.party + 0.6 * p.male)
    if kind == "deaths":
        hazard = np.exp(-9.6 + 0.085 * a) * np.where(p.serious, 3.0, 1.0)
        return 1.0 - np.exp(-2.0 * hazard)  # two years before the survey date
    if kind == "dibao":
        return np.where(p.dibao, 0.9, _logistic(-4.5 - 1.0 * w))
    if kind == "tekun":
        return np.where(p.wubao, 0.9, (a >= 60) * _logistic(-7.0 - 1.0 * w))
    if kind == "disability_certificates":
        return np.where(p.disabled, 0.8, 0.004)
    if kind == "serious_illness":
        return np.where(p.serious, 0.75, (a >= 30) * 0.004)
    if kind == "students":
        return np.where(p.stage >= 0, 0.95, p.dropout * 0.15)
    raise ValueError(f"unknown kind {kind!r}")


#: Chance that a person with a record of the kind has a second one (two cars, two flats,
#: two companies).
SECOND_RECORD = {"vehicles": 0.15, "commercial_housing": 0.12, "business_registrations": 0.2}


def _age_on(birth: Array, day: np.datetime64) -> Array:
    return ((day - birth).astype(np.int64) / 365.2425).astype(np.int64)


# --- reading the province ----------------------------------------------------------------

_MEMBER_COLUMNS = [
    "person_id",
    "household_id",
    "id_number",
    "name",
    "sex",
    "birth_date",
    "relation",
    "education",
    "political_status",
    "schooling",
    "has_serious_illness",
    "is_disabled",
    "disability_grade",
    "is_dibao",
    "is_wubao",
]


@dataclass
class _Households:
    """Per-household facts, indexed by household_id − first id (ids run 1..N)."""

    first: int
    county: Array
    village: Array
    wealth: Array
    cars: Array

    def index(self, household_id: Array) -> Array:
        return household_id - self.first


def _households(src: Path, prov: _Province) -> _Households:
    hh = pq.ParquetFile(src / "households.parquet")
    tr = pq.ParquetFile(src / "truth.parquet")
    n = hh.metadata.num_rows
    county = np.zeros(n, dtype=np.int32)
    village = np.zeros(n, dtype=np.int32)
    cars = np.zeros(n, dtype=np.int16)
    wealth = np.zeros(n, dtype=np.float32)
    first: int | None = None
    at = 0
    for batch in hh.iter_batches(columns=["household_id", "county_code", "village_code", "cars"]):
        ids = batch.column("household_id").to_numpy(zero_copy_only=False)
        if first is None:
            first = int(ids[0])
        if ids[0] != first + at or ids[-1] != first + at + len(ids) - 1:
            raise ValueError("households.parquet: household ids must run 1, 2, 3, … in order")
        k = len(ids)
        county[at : at + k] = np.searchsorted(
            prov.county_codes, batch.column("county_code").to_numpy(zero_copy_only=False)
        )
        village[at : at + k] = np.searchsorted(
            prov.village_codes, batch.column("village_code").to_numpy(zero_copy_only=False)
        )
        cars[at : at + k] = batch.column("cars").to_numpy(zero_copy_only=False)
        at += k
    at = 0
    for batch in tr.iter_batches(columns=["wealth"]):
        k = batch.num_rows
        wealth[at : at + k] = batch.column("wealth").to_numpy(zero_copy_only=False)
        at += k
    return _Households(first or 1, county, village, wealth, cars)


def _is(column: pa.Array, code: str) -> Array:
    """Where a string column equals `code`, without turning the strings into objects."""
    return pc.equal(column, code).fill_null(False).to_numpy(zero_copy_only=False)


def _people(batch: pa.RecordBatch, hh: _Households) -> _People:
    col = batch.column
    h = hh.index(col("household_id").to_numpy(zero_copy_only=False))
    birth = col("birth_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    age = _age_on(birth, SNAPSHOT)
    stage = np.full(len(h), -1, dtype=np.int8)
    for code, index in _SCHOOLING_STAGE.items():
        stage[_is(col("schooling"), code)] = index
    grade = col("disability_grade").fill_null(0).to_numpy(zero_copy_only=False)
    return _People(
        age=age,
        male=_is(col("sex"), "M"),
        wealth=hh.wealth[h].astype(np.float64),
        county=hh.county[h],
        village=hh.village[h],
        birth=birth,
        head_with_car=_is(col("relation"), "01") & (hh.cars[h] > 0),
        college=_is(col("education"), "college"),
        party=_is(col("political_status"), "party_member"),
        dibao=col("is_dibao").to_numpy(zero_copy_only=False),
        wubao=col("is_wubao").to_numpy(zero_copy_only=False),
        disabled=col("is_disabled").to_numpy(zero_copy_only=False),
        disability_grade=grade.astype(np.int8),
        serious=col("has_serious_illness").to_numpy(zero_copy_only=False),
        stage=stage,
        dropout=(stage < 0) & (age >= 7) & (age <= 15),
    )


def _id_keys(ids: pa.Array, prov: _Province, days: int) -> Array:
    """synth.IdSequencer keys (issuing area, birth date, sex) of valid 18-digit IDs."""
    area = pc.cast(pc.utf8_slice_codeunits(ids, 0, 6), pa.int64()).to_numpy()
    ymd = pc.cast(pc.utf8_slice_codeunits(ids, 6, 14), pa.int64()).to_numpy()
    odd = pc.cast(pc.utf8_slice_codeunits(ids, 16, 17), pa.int64()).to_numpy() % 2 == 1
    uniq, inverse = np.unique(area, return_inverse=True)
    code = np.array([prov.area_index.get(int(u), -1) for u in uniq], dtype=np.int64)[inverse]
    birth = (
        (ymd // 10000 - 1970).astype("datetime64[Y]").astype("datetime64[M]")
        + (ymd // 100 % 100 - 1).astype("timedelta64[M]")
    ).astype("datetime64[D]") + (ymd % 100 - 1).astype("timedelta64[D]")
    day = (birth - synth.FIRST_BIRTH_DAY).astype(np.int64)
    ok = (code >= 0) & (day >= 0) & (day < days)
    return ((code * days + day) * 2 + odd)[ok]


# --- the kinds' own columns --------------------------------------------------------------


def _dates_between(u: Array, start: Array, end: Array) -> Array:
    """A day in [start, end] (datetime64[D]) at fraction u; start past end gives end."""
    span = np.maximum((end - start).astype(np.int64), 0)
    return end - np.floor(u * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def _years_after(birth: Array, years: int) -> Array:
    return birth + np.timedelta64(int(years * 365.2425), "D")


def _choice(u: Array, options: Sequence[str], weights: Sequence[float] | None = None) -> Array:
    opts = np.array(list(options))
    if weights is None:
        return opts[np.minimum((u * len(opts)).astype(np.int64), len(opts) - 1)]
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return opts[np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(opts) - 1)]


_DAY0 = np.datetime64("1990-01-01", "D")
_PLATE_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
VEHICLE_TYPES = ("car", "pickup", "truck", "motorcycle", "tricycle")
BUSINESS_WORDS = "鑫盛华宏泰恒丰源隆达兴旺瑞祥富康顺发金诚信德利民惠"
INDUSTRIES = ("商贸", "建筑工程", "农业开发", "物流", "餐饮管理", "建材", "养殖", "种植",
              "科技", "汽车服务", "矿业", "装饰工程", "劳务")  # fmt: skip
EMPLOYERS = ("人民政府", "教育局", "财政局", "公安局", "卫生和计划生育局", "人民医院",
             "中医医院", "第一中学", "第二中学", "实验小学", "农业局", "林业局",
             "国土资源局", "水利局", "民政局", "交通运输局", "住房和城乡建设局")  # fmt: skip
POSTS = ("secretary", "director", "deputy_director", "member", "accountant")
DISABILITY_KINDS = ("visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple")
DISEASES = ("尿毒症", "恶性肿瘤", "白血病", "重性精神病", "耐多药肺结核", "急性心肌梗塞",
            "脑梗死", "血友病", "先天性心脏病", "终末期肾病", "慢性粒细胞白血病", "乳腺癌",
            "宫颈癌")  # fmt: skip


def _columns(
    kind: str, k: int, seed: int, ordinal: Array, p: _People, prov: _Province
) -> dict[str, pa.Array]:
    """The kind's own columns for records `ordinal` of people `p` (one row each)."""
    n = len(ordinal)

    def u(i: int) -> Array:
        return _uniform(seed, k, P_COLUMNS + i, ordinal)

    snap = np.full(n, SNAPSHOT)
    if kind == "vehicles":
        car = u(0) < _logistic(0.3 + 0.9 * p.wealth)
        other = _choice(u(1), VEHICLE_TYPES[1:], (0.1, 0.2, 0.5, 0.2))
        kind_ = np.where(car, "car", other)
        number = np.floor(u(2) * 34**5).astype(np.int64)
        tail = np.full(n, "", dtype="<U5")
        for i in range(5):
            tail = np.strings.add(tail, _PLATE_CHARS[number // 34**i % 34])
        plate = np.strings.add(
            np.strings.add(PLATE_PREFIX.get(prov.code, "桂"), prov.county_letter[p.county]), tail
        )
        start = np.maximum(_years_after(p.birth, 18), _DAY0)
        return {
            "plate": pa.array(plate, type=pa.string()),
            "vehicle_type": pa.array(kind_, type=pa.string()),
            "registered_on": pa.array(_dates_between(u(3), start, snap)),
        }
    if kind == "commercial_housing":
        capital = prov.county_city[0] if prov.county_city else ""
        own_city = np.array(prov.county_city, dtype=object)[p.county]
        city = np.where(u(0) < 0.75, own_city, capital).astype(str)
        area = np.round(
            np.exp(np.log(95) + 0.3 * np.sqrt(-2 * np.log(1 - u(1))) * np.cos(6.2832 * u(2))), 1
        )
        start = np.maximum(_years_after(p.birth, 22), np.datetime64("2000-01-01", "D"))
        return {
            "city": pa.array(city, type=pa.string()),
            "area_m2": pa.array(area).cast(pa.decimal128(9, 1)),
            "bought_on": pa.array(_dates_between(u(3), start, snap)),
        }
    if kind == "business_registrations":
        city = np.array(prov.county_city, dtype=object)[p.county].astype(str)
        w1 = _choice(u(0), list(BUSINESS_WORDS))
        w2 = _choice(u(1), list(BUSINESS_WORDS))
        trade = _choice(u(2), INDUSTRIES)
        form = _choice(u(3), ("有限公司", "有限责任公司", "专业合作社"), (0.6, 0.25, 0.15))
        company = np.strings.add(
            np.strings.add(np.strings.add(np.strings.add(city, w1), w2), trade), form
        )
        role = np.where(u(4) < 0.55, "legal_representative", "shareholder")
        capital = np.round(np.exp(np.log(500_000) + 1.2 * (u(5) - 0.5) * 4) / 10_000) * 10_000
        start = np.maximum(_years_after(p.birth, 20), np.datetime64("1995-01-01", "D"))
        return {
            "company": pa.array(company, type=pa.string()),
            "role": pa.array(role, type=pa.string()),
            "registered_capital": pa.array(capital).cast(pa.decimal128(14, 2)),
            "registered_on": pa.array(_dates_between(u(6), start, snap)),
        }
    if kind == "public_payroll":
        county = np.array(prov.county_names, dtype=object)[p.county].astype(str)
        employer = np.strings.add(county, _choice(u(0), EMPLOYERS))
        start = np.maximum(_years_after(p.birth, 21), np.datetime64("1980-01-01", "D"))
        return {
            "employer": pa.array(employer, type=pa.string()),
            "since": pa.array(_dates_between(u(1), start, snap)),
        }
    if kind == "village_officials":
        return {
            "village_code": pa.array(prov.village_codes[p.village], type=pa.string()),
            "post": pa.array(_choice(u(0), POSTS, (0.15, 0.15, 0.15, 0.4, 0.15)), type=pa.string()),
        }
    if kind == "deaths":
        start = np.maximum(p.birth, SNAPSHOT - np.timedelta64(730, "D"))
        return {"died_on": pa.array(_dates_between(u(0), start, snap))}
    if kind in ("dibao", "tekun"):
        base, spread = (250.0, 200.0) if kind == "dibao" else (400.0, 150.0)
        start = np.maximum(p.birth, np.datetime64("2008-01-01", "D"))
        return {
            "county_code": pa.array(prov.county_codes[p.county], type=pa.string()),
            "since": pa.array(_dates_between(u(0), start, snap)),
            "monthly_amount": pa.array(np.round(base + spread * u(1))).cast(pa.decimal128(9, 2)),
        }
    if kind == "disability_certificates":
        grade = np.where(p.disability_grade > 0, p.disability_grade, 1 + (u(0) * 4).astype(np.int8))
        return {
            "grade": pa.array(grade.astype(np.int8)),
            "disability_kind": pa.array(
                _choice(u(1), DISABILITY_KINDS, (0.15, 0.2, 0.03, 0.35, 0.12, 0.1, 0.05)),
                type=pa.string(),
            ),
        }
    if kind == "serious_illness":
        start = np.maximum(p.birth, SNAPSHOT - np.timedelta64(3650, "D"))
        return {
            "disease": pa.array(_choice(u(0), DISEASES), type=pa.string()),
            "diagnosed_on": pa.array(_dates_between(u(1), start, snap)),
        }
    if kind == "students":
        a = p.age
        by_age = np.select([a <= 11, a <= 14, a <= 17, a <= 21], [0, 1, 2, 5], default=5).astype(
            np.int8
        )
        stage = np.where(p.stage >= 0, p.stage, by_age)
        first_grade_age = np.array([6, 12, 15, 15, 18, 18])[stage]
        last = np.array([6, 3, 3, 3, 3, 4])[stage]
        grade = np.clip(a - first_grade_age + 1, 1, last).astype(np.int8)
        county = np.array(prov.county_names, dtype=object)[p.county].astype(str)
        nth = _choice(u(0), ("第一", "第二", "第三", "实验", "民族"))
        school = np.select(
            [stage == 0, stage == 1, stage == 2, stage == 3, stage == 4],
            [
                np.strings.add(np.strings.add(county, nth), "小学"),
                np.strings.add(np.strings.add(county, nth), "初级中学"),
                np.strings.add(np.strings.add(county, nth), "高级中学"),
                np.strings.add(county, "职业技术学校"),
                np.strings.add(prov.short_name, "职业技术学院"),
            ],
            default=np.strings.add(
                prov.short_name, _choice(u(1), ("大学", "师范大学", "民族大学", "医科大学"))
            ),
        )
        return {
            "school": pa.array(school, type=pa.string()),
            "stage": pa.array(STAGES[stage], type=pa.string()),
            "grade": pa.array(grade),
        }
    raise ValueError(f"unknown kind {kind!r}")


# --- errors ------------------------------------------------------------------------------

_ERROR_CODE = {e: i for i, e in enumerate(ERRORS)}
_DIGITS = "0123456789"


def _possible(error: str, id_number: str, name: str) -> bool:
    if error == "id15":
        return id_number[6:10] < "2000"
    if error == "lower_x":
        return id_number.endswith("X")
    if error == "name_typo":
        return any(c in LOOKALIKES for c in name)
    if error == "homophone":
        return any(c in HOMOPHONES for c in name)
    if error == "traditional":
        return name.translate(_TRAD) != name
    if error == "name_spaces":
        return len(name) >= 2
    return True


def _replace_one(name: str, table: dict[str, str], a: float, b: float) -> str:
    spots = [i for i, c in enumerate(name) if c in table]
    i = spots[int(a * len(spots))]
    options = table[name[i]]
    return name[:i] + options[int(b * len(options))] + name[i + 1 :]


def _damage(error: str, id_number: str, name: str, a: float, b: float) -> tuple[str, str]:
    """The record's (id_number, name) after `error`, its details drawn from a and b."""
    s = id_number
    if error == "id_typo":
        i = int(a * 18)
        pool = _DIGITS.replace(s[i], "")
        return s[:i] + pool[int(b * len(pool))] + s[i + 1 :], name
    if error == "id_transposed":
        spots = [i for i in range(16) if s[i] != s[i + 1]]
        i = spots[int(a * len(spots))]
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :], name
    if error == "id15":
        return s[:6] + s[8:17], name
    if error == "fullwidth":
        return s.translate(_FULLWIDTH), name
    if error == "lower_x":
        return s[:-1] + "x", name
    if error == "spaces":
        if a < 0.5:
            return f"{s[:6]} {s[6:14]} {s[14:]}", name
        if a < 0.75:
            return f" {s}" if b < 0.5 else f"{s} ", name
        i = 1 + int(b * 17)
        return s[:i] + " " + s[i:], name
    if error == "name_typo":
        return s, _replace_one(name, LOOKALIKES, a, b)
    if error == "homophone":
        return s, _replace_one(name, HOMOPHONES, a, b)
    if error == "traditional":
        return s, name.translate(_TRAD)
    if error == "name_spaces":
        if "·" in name:
            return s, name.replace("·", _DOTS[int(a * len(_DOTS))])
        if a < 0.5:
            return s, name[0] + " " + name[1:]
        if a < 0.8:
            return s, name[0] + "\u3000" + name[1:]
        return s, name + " "
    raise ValueError(f"unknown error {error!r}")


_ERROR_NAMES = list(ERROR_WEIGHTS)
_ERROR_CUM = np.cumsum([ERROR_WEIGHTS[e] for e in _ERROR_NAMES])


def _errors(
    kind: str, k: int, seed: int, ordinal: Array, ids: pa.Array, names_: pa.Array
) -> tuple[pa.Array, pa.Array, Array]:
    """Damage a seeded share of the records; returns ids, names and the error code per row."""
    code = np.zeros(len(ordinal), dtype=np.int8)
    rows = np.flatnonzero(_uniform(seed, k, P_ERROR, ordinal) < ERROR_RATE[kind])
    if not len(rows):
        return ids, names_, code
    take = pa.array(rows)
    id_list = ids.take(take).to_pylist()
    name_list = names_.take(take).to_pylist()
    pick = _uniform(seed, k, P_ERROR_KIND, ordinal[rows])
    ua = _uniform(seed, k, P_ERROR_A, ordinal[rows])
    ub = _uniform(seed, k, P_ERROR_B, ordinal[rows])
    new_ids, new_names = [], []
    for j in range(len(rows)):
        s, nm = id_list[j], name_list[j]
        weights = [ERROR_WEIGHTS[e] if _possible(e, s, nm) else 0.0 for e in _ERROR_NAMES]
        total = sum(weights)
        target, acc, chosen = pick[j] * total, 0.0, _ERROR_NAMES[0]
        for e, wgt in zip(_ERROR_NAMES, weights, strict=True):
            acc += wgt
            if wgt and target < acc:
                chosen = e
                break
        s, nm = _damage(chosen, s, nm, float(ua[j]), float(ub[j]))
        new_ids.append(s)
        new_names.append(nm)
        code[rows[j]] = _ERROR_CODE[chosen]
    mask = np.zeros(len(ordinal), dtype=bool)
    mask[rows] = True
    m = pa.array(mask)
    ids = pc.replace_with_mask(ids, m, pa.array(new_ids, type=pa.string()))
    names_ = pc.replace_with_mask(names_, m, pa.array(new_names, type=pa.string()))
    return ids, names_, code


# --- outsiders ---------------------------------------------------------------------------

#: Ages of outsiders by kind: (youngest, oldest, most common).
OUTSIDER_AGES: dict[str, tuple[int, int, int]] = {
    "vehicles": (18, 75, 38),
    "commercial_housing": (22, 75, 38),
    "business_registrations": (20, 70, 42),
    "public_payroll": (21, 60, 40),
    "village_officials": (25, 65, 48),
    "deaths": (40, 100, 82),
    "dibao": (0, 95, 60),
    "tekun": (16, 100, 75),
    "disability_certificates": (0, 95, 55),
    "serious_illness": (5, 90, 58),
    "students": (6, 22, 12),
}


def _outsiders(
    rng: np.random.Generator, kind: str, n: int, prov: _Province, ids: synth.IdSequencer
) -> tuple[_People, pa.Array, pa.Array]:
    """n people of the province outside the people file: facts, fresh IDs and names."""
    weights = prov.county_weight / prov.county_weight.sum()
    county = np.searchsorted(np.cumsum(weights), rng.random(n) * (1 - 1e-12), side="right")
    county = np.minimum(county, len(weights) - 1).astype(np.int32)
    village = (
        prov.village_start[county] + (rng.random(n) * prov.village_count[county]).astype(np.int64)
    ).astype(np.int32)
    lo, hi, mode = OUTSIDER_AGES[kind]
    age = np.floor(rng.triangular(lo, mode, hi + 1, n)).astype(np.int16)
    birth = SNAPSHOT - np.floor((age + rng.random(n)) * 365.2425).astype("timedelta64[D]")
    birth = np.maximum(birth, synth.FIRST_BIRTH_DAY)
    male_share = {"business_registrations": 0.7, "village_officials": 0.8, "deaths": 0.55}
    male = rng.random(n) < male_share.get(kind, 0.5)
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    ethnicity = synth._draw_ethnicity(rng, county, prov.ethnic_codes, prov.ethnic_matrix)
    surname = synth._surnames(rng, ethnicity, prov.code)
    given = synth._given_names(rng, male, birth_year)
    whole = np.isin(ethnicity, list(synth.names.TIBETAN_PEOPLES | synth.names.TURKIC_PEOPLES))
    name = np.where(
        whole, synth._whole_names(rng, ethnicity, male, given), np.strings.add(surname, given)
    )
    code = synth._issuing_codes(rng, prov.areas, county, birth_year, np.zeros(n, dtype=bool))
    seq, birth = ids.assign(code, birth, male)
    id_numbers = synth._id_numbers(np.array(prov.areas.codes), code, birth, seq)
    age = _age_on(birth, SNAPSHOT)
    stage = np.select([age <= 11, age <= 14, age <= 17], [0, 1, 2], default=5).astype(np.int8)
    if kind == "students":
        voc = (rng.random(n) < 0.3) & (age >= 15)
        stage = np.where(voc, np.where(age <= 17, 3, 4), stage).astype(np.int8)
    no = np.zeros(n, dtype=bool)
    people = _People(
        age=age,
        male=male,
        wealth=rng.normal(0.5, 1.0, n),
        county=county,
        village=village,
        birth=birth,
        head_with_car=no,
        college=no,
        party=no,
        dibao=no,
        wubao=no,
        disabled=no,
        disability_grade=np.zeros(n, dtype=np.int8),
        serious=no,
        stage=stage,
        dropout=no,
    )
    return people, id_numbers, pa.array(name, type=pa.string())


# --- the whole run -----------------------------------------------------------------------


@dataclass
class DepartmentsResult:
    out: Path
    people: int
    records: dict[str, int]
    insiders: dict[str, int]
    errors: dict[str, int]
    seconds: float
    total: int = field(init=False)

    def __post_init__(self) -> None:
        self.total = sum(self.records.values())


def _targets(total: int) -> dict[str, int]:
    """Records per kind adding up to `total` exactly (largest remainders)."""
    raw = {k: total * SHARES[k] / sum(SHARES.values()) for k in KINDS}
    out = {k: math.floor(v) for k, v in raw.items()}
    short = total - sum(out.values())
    for k in sorted(KINDS, key=lambda k: (out[k] - raw[k], KINDS.index(k)))[:short]:
        out[k] += 1
    return out


def _record_ids(ordinal: Array, total: int) -> Array:
    """record_id 1..total, a fixed permutation of the ordinals so ids say nothing of who is
    an outsider (insiders come first in the files)."""
    if total <= 1:
        return ordinal + 1
    step = int(total * 0.6180339887) | 1
    while math.gcd(step, total) != 1:
        step += 2
    return (ordinal * step + total // 3) % total + 1


TRUTH_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("record_id", pa.int64()),
        ("person_id", pa.int64()),
        ("error", pa.string()),
    ]
)


def generate_departments(
    src: Path | str,
    out: Path | str | None = None,
    *,
    seed: int | None = None,
    records: int | None = None,
    records_per_person: float = RECORDS_PER_PERSON,
    chunk: int = CHUNK_PEOPLE,
    progress: Progress | None = None,
) -> DepartmentsResult:
    """Write department records and their truth for the province in `src` (see above).

    `seed` defaults to the province's own; `records` (exact) overrides
    `records_per_person`. Files are written under temporary names and renamed at the end.
    """
    started = time.monotonic()
    src = Path(src)
    out = Path(out) if out is not None else src / "departments"
    members = pq.ParquetFile(src / "members.parquet")
    meta = {k.decode(): v.decode() for k, v in (members.schema_arrow.metadata or {}).items()}
    province = meta.get("fupin.province", synth.DEFAULT_PROVINCE)
    if seed is None:
        seed = int(meta.get("fupin.seed", "1"))
    if chunk < 1:
        raise ValueError("chunk must be positive")
    people = members.metadata.num_rows
    total = records if records is not None else round(records_per_person * people)
    if total < 0:
        raise ValueError("the number of records cannot be negative")
    targets = _targets(total)
    out.mkdir(parents=True, exist_ok=True)

    prov = _province(province)
    hh = _households(src, prov)
    sequencer = synth.IdSequencer(len(prov.areas.codes))

    def report(phase: str, done: int, of: int) -> None:
        if progress:
            progress(phase, done, of)

    # First pass: expected registry records per kind (to thin when they would crowd out
    # the outsiders) and the ID sequence numbers already in people's hands.
    expected = dict.fromkeys(KINDS, 0.0)
    done = 0
    report("scan", 0, people)
    for batch in members.iter_batches(batch_size=chunk, columns=_MEMBER_COLUMNS):
        p = _people(batch, hh)
        for kind in KINDS:
            extra = 1.0 + SECOND_RECORD.get(kind, 0.0)
            expected[kind] += float(_rates(kind, p).sum()) * extra
        keys = _id_keys(batch.column("id_number"), prov, sequencer.days)
        uniq, counts = np.unique(keys, return_counts=True)
        sequencer.counts[uniq] = np.minimum(
            sequencer.counts[uniq].astype(np.int64) + counts, sequencer.SLOTS
        ).astype(np.int16)
        done += batch.num_rows
        report("scan", done, people)
    thin = {
        kind: min(1.0, MAX_INSIDER_SHARE * targets[kind] / expected[kind])
        if expected[kind]
        else 1.0
        for kind in KINDS
    }

    tmp = {kind: out / f".{kind}.parquet.part" for kind in KINDS}
    tmp_truth = out / ".truth.parquet.part"
    file_meta = {
        "fupin.generator": "engine.departments",
        "fupin.seed": str(seed),
        "fupin.province": province,
        "fupin.snapshot": str(SNAPSHOT),
    }
    writers: dict[str, pq.ParquetWriter] = {}
    truth_writer = pq.ParquetWriter(
        tmp_truth, TRUTH_SCHEMA.with_metadata(file_meta), compression="zstd"
    )
    made = dict.fromkeys(KINDS, 0)
    insiders = dict.fromkeys(KINDS, 0)
    error_counts = dict.fromkeys(ERRORS, 0)

    def write(
        kind: str, ordinal: Array, p: _People, ids: pa.Array, nm: pa.Array, person: Array | None
    ) -> None:
        k = KINDS.index(kind)
        ids, nm, err = _errors(kind, k, seed, ordinal, ids, nm)
        record_id = pa.array(_record_ids(ordinal, targets[kind]))
        table = pa.table(
            {
                "record_id": record_id,
                "id_number": ids,
                "name": nm,
                **_columns(kind, k, seed, ordinal, p, prov),
            }
        )
        if kind not in writers:
            writers[kind] = pq.ParquetWriter(
                tmp[kind],
                table.schema.with_metadata({**file_meta, "fupin.dataset": kind}),
                compression="zstd",
            )
        writers[kind].write_table(table.replace_schema_metadata(writers[kind].schema.metadata))
        n = len(ordinal)
        truth_writer.write_table(
            pa.table(
                {
                    "dataset": pa.array(np.full(n, kind), type=pa.string()),
                    "record_id": record_id,
                    "person_id": pa.array(person, type=pa.int64())
                    if person is not None
                    else pa.nulls(n, pa.int64()),
                    "error": pa.array(np.array(ERRORS)[err], type=pa.string()),
                },
                schema=TRUTH_SCHEMA,
            )
        )
        for code, count in zip(*np.unique(err, return_counts=True), strict=True):
            error_counts[ERRORS[int(code)]] += int(count)

    try:
        done = 0
        report("people", 0, people)
        for batch in members.iter_batches(batch_size=chunk, columns=_MEMBER_COLUMNS):
            p = _people(batch, hh)
            person_id = batch.column("person_id").to_numpy(zero_copy_only=False)
            for k, kind in enumerate(KINDS):
                chosen = _uniform(seed, k, P_PICK, person_id) < _rates(kind, p) * thin[kind]
                rows = np.flatnonzero(chosen)
                if kind in SECOND_RECORD:
                    second = _uniform(seed, k, P_SECOND, person_id[rows]) < SECOND_RECORD[kind]
                    rows = np.sort(np.concatenate([rows, rows[second]]), kind="stable")
                room = targets[kind] - made[kind]
                rows = rows[:room]  # a safety net: thinning keeps this from biting
                if not len(rows):
                    continue
                ordinal = np.arange(made[kind], made[kind] + len(rows), dtype=np.int64)
                sub = _People(**{f: getattr(p, f)[rows] for f in p.__dataclass_fields__})
                take = pa.array(rows)
                write(
                    kind,
                    ordinal,
                    sub,
                    batch.column("id_number").take(take),
                    batch.column("name").take(take),
                    person_id[rows],
                )
                made[kind] += len(rows)
                insiders[kind] += len(rows)
            done += batch.num_rows
            report("people", done, people)

        outsiders_total = sum(targets[k] - made[k] for k in KINDS)
        done = 0
        report("outsiders", 0, outsiders_total)
        for k, kind in enumerate(KINDS):
            left = targets[kind] - made[kind]
            for block, start in enumerate(range(0, left, OUTSIDER_BLOCK)):
                n = min(OUTSIDER_BLOCK, left - start)
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(50, k, block)))
                op, ids, nm = _outsiders(rng, kind, n, prov, sequencer)
                ordinal = np.arange(made[kind], made[kind] + n, dtype=np.int64)
                write(kind, ordinal, op, ids, nm, None)
                made[kind] += n
                done += n
                report("outsiders", done, outsiders_total)
        # A kind without a single record still gets its (empty) file.
        for k, kind in enumerate(KINDS):
            if kind not in writers:
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(50, k, 0)))
                op, ids, nm = _outsiders(rng, kind, 0, prov, sequencer)
                write(kind, np.zeros(0, dtype=np.int64), op, ids, nm, None)
    finally:
        for writer in writers.values():
            writer.close()
        truth_writer.close()
    for kind in KINDS:
        os.replace(tmp[kind], out / f"{kind}.parquet")
    os.replace(tmp_truth, out / "truth.parquet")
    return DepartmentsResult(
        out=out,
        people=people,
        records=made,
        insiders=insiders,
        errors=error_counts,
        seconds=time.monotonic() - started,
    )
