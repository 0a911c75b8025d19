"""Name lists for the demo county (`fupin demo`), with rough frequencies.

The surnames are weighted for the Zhuang countryside around Nanning (隆安、武鸣、马山), where
黄、韦、李、陆、梁、蒙、农、覃 lead, and for the Han and Yao minorities of the same hills. Given
names are built from characters typical of each generation (an old man is 德明 or 桂昌, a girl
of 2010 is 欣怡 or 梓涵): a name that fits its bearer's age and sex is what makes a demo look
real. Weights are relative; only their proportions matter.
"""

from __future__ import annotations

from engine import names

#: Surname → weight among Zhuang households of the Nanning countryside.
ZHUANG_SURNAMES: dict[str, int] = {
    "黄": 160,
    "韦": 110,
    "李": 70,
    "陆": 65,
    "梁": 60,
    "蒙": 45,
    "农": 40,
    "覃": 40,
    "卢": 35,
    "陈": 30,
    "潘": 28,
    "周": 25,
    "马": 22,
    "何": 20,
    "谭": 20,
    "罗": 20,
    "莫": 20,
    "苏": 18,
    "甘": 15,
    "廖": 15,
    "杨": 15,
    "刘": 15,
    "曾": 12,
    "凌": 12,
    "邓": 10,
    "林": 10,
    "赵": 8,
    "吴": 8,
    "零": 8,
    "龙": 8,
    "言": 6,
    "宁": 6,
    "麻": 5,
    "闭": 5,
    "岑": 5,
    "许": 5,
    "谢": 5,
    "王": 5,
    "张": 5,
    "滕": 4,
}

#: Han households in the county towns and market villages.
HAN_SURNAMES: dict[str, int] = {
    "陈": 60,
    "李": 50,
    "黄": 45,
    "刘": 35,
    "张": 30,
    "梁": 30,
    "林": 25,
    "王": 25,
    "杨": 20,
    "何": 20,
    "吴": 18,
    "周": 18,
    "罗": 15,
    "谢": 15,
    "邓": 12,
    "钟": 12,
    "曾": 12,
    "冯": 10,
    "蔡": 10,
    "徐": 8,
    "朱": 8,
    "胡": 8,
}

#: Yao households of the limestone hills (布泉、屏山).
YAO_SURNAMES: dict[str, int] = {
    "盘": 40,
    "赵": 30,
    "邓": 30,
    "蓝": 25,
    "李": 20,
    "黄": 15,
    "冯": 12,
    "罗": 10,
    "唐": 8,
    "蒋": 6,
}

SURNAMES_BY_ETHNICITY: dict[str, dict[str, int]] = {
    "08": ZHUANG_SURNAMES,
    "01": HAN_SURNAMES,
    "13": YAO_SURNAMES,
}

#: Characters of given names by sex and by the generation of birth. Each era has a first
#: and a second position list; one-character given names draw from the second list.
# The given-name characters by era and sex are the synthetic generator's: one list.
GIVEN_NAME_CHARS = names.GIVEN_NAME_CHARS

#: Share of two-character given names by era (the rest have one character).
TWO_CHAR_SHARE = names.TWO_CHAR_SHARE


def era_of(birth_year: int) -> str:
    """The naming generation of a birth year."""
    if birth_year < 1960:
        return "old"
    if birth_year < 1985:
        return "mid"
    return "young"


#: Banks where rural households hold the account that receives subsidies (一卡通).
BANKS = ("广西农村信用社", "中国农业银行", "中国邮政储蓄银行", "广西农村信用社", "广西农村信用社")

#: Mobile prefixes common in Guangxi in 2016.
PHONE_PREFIXES = ("135", "136", "137", "138", "139", "150", "152", "177", "181", "187", "189")
