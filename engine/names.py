"""Name lists for the synthetic provinces (`engine.synth`), with rough relative frequencies.

The Guangxi lists (Zhuang, Guangxi Han, Yao surnames and the given-name characters by
generation) are those of the demo county (`fupin/registry/demo_names.py`), copied here
because the engine never imports Django. The national Han list follows the published
surname rankings (王、李、张、刘、陈 …); the other lists are rough but plausible, enough
that a name looks like its bearer's people, sex and generation. Weights are relative.

Peoples without surnames in the Han sense get whole names instead: Tibetan names of two
common two-character parts (扎西次仁), and Turkic names as given name · father's name
(买买提·艾力), the way they are written in Chinese registers.
"""

from __future__ import annotations

#: Surname → weight among Zhuang households of the Guangxi countryside.
ZHUANG: dict[str, int] = {
    "黄": 160, "韦": 110, "李": 70, "陆": 65, "梁": 60, "蒙": 45, "农": 40, "覃": 40,
    "卢": 35, "陈": 30, "潘": 28, "周": 25, "马": 22, "何": 20, "谭": 20, "罗": 20,
    "莫": 20, "苏": 18, "甘": 15, "廖": 15, "杨": 15, "刘": 15, "曾": 12, "凌": 12,
    "邓": 10, "林": 10, "赵": 8, "吴": 8, "零": 8, "龙": 8, "言": 6, "宁": 6, "麻": 5,
    "闭": 5, "岑": 5, "许": 5, "谢": 5, "王": 5, "张": 5, "滕": 4,
}  # fmt: skip

#: Han households of Guangxi (Cantonese and Hakka south-east, Guiliu north).
GUANGXI_HAN: dict[str, int] = {
    "陈": 60, "李": 50, "黄": 45, "刘": 35, "张": 30, "梁": 30, "林": 25, "王": 25,
    "杨": 20, "何": 20, "吴": 18, "周": 18, "罗": 15, "谢": 15, "邓": 12, "钟": 12,
    "曾": 12, "冯": 10, "蔡": 10, "徐": 8, "朱": 8, "胡": 8,
}  # fmt: skip

#: Yao households of the limestone hills.
YAO: dict[str, int] = {
    "盘": 40, "赵": 30, "邓": 30, "蓝": 25, "李": 20, "黄": 15, "冯": 12, "罗": 10,
    "唐": 8, "蒋": 6,
}  # fmt: skip

#: Han surnames nationally (per mille, after the public-security ranking).
HAN: dict[str, int] = {
    "王": 71, "李": 70, "张": 68, "刘": 54, "陈": 45, "杨": 31, "黄": 22, "赵": 20,
    "吴": 18, "周": 17, "徐": 14, "孙": 13, "马": 12, "朱": 12, "胡": 11, "郭": 11,
    "何": 10, "林": 10, "高": 10, "罗": 9, "郑": 9, "梁": 8, "谢": 7, "宋": 6, "唐": 6,
    "许": 6, "韩": 6, "邓": 6, "冯": 6, "曹": 6, "彭": 6, "曾": 5, "肖": 5, "田": 5,
    "董": 5, "潘": 5, "袁": 5, "蔡": 5, "蒋": 5, "余": 5, "于": 5, "杜": 4, "叶": 4,
    "程": 4, "魏": 4, "苏": 4, "吕": 4, "丁": 4, "任": 4, "卢": 4,
}  # fmt: skip

#: Hui households: Han-style names, 马 far ahead.
HUI: dict[str, int] = {
    "马": 40, "王": 15, "李": 12, "杨": 10, "张": 10, "丁": 8, "白": 6, "金": 4, "海": 4,
    "沙": 3, "锁": 2, "穆": 2,
}  # fmt: skip

#: Korean households.
KOREAN: dict[str, int] = {
    "金": 40, "李": 30, "朴": 25, "崔": 15, "郑": 10, "姜": 8, "赵": 8, "尹": 6,
    "张": 6, "林": 5,
}  # fmt: skip

#: The peoples of the south-western hills (Miao, Dong, Buyei, Tujia, Shui, Mulao …).
SOUTHWEST: dict[str, int] = {
    "杨": 30, "吴": 25, "龙": 20, "石": 20, "罗": 15, "王": 15, "李": 15, "张": 12,
    "韦": 12, "潘": 12, "陈": 10, "谭": 8, "覃": 8, "蒙": 8, "田": 8, "向": 6, "彭": 6,
    "欧": 5, "麻": 5, "银": 4, "吕": 4,
}  # fmt: skip

#: Which surname list a people (GB/T 3304 code) draws from; others use HAN.
SURNAMES_BY_ETHNICITY: dict[str, dict[str, int]] = {
    "08": ZHUANG,
    "13": YAO,
    "03": HUI,
    "10": KOREAN,
    **dict.fromkeys(
        ["06", "07", "09", "12", "14", "15", "16", "18", "19", "25", "32", "36", "37", "49"],
        SOUTHWEST,
    ),
}

#: Tibetan names: two common parts; the second part leans to the bearer's sex.
TIBETAN_FIRST = ("扎西", "次仁", "格桑", "洛桑", "索朗", "旦增", "平措", "达瓦", "尼玛", "白玛",
                 "拉巴", "普布", "边巴", "米玛", "益西", "德庆")  # fmt: skip
TIBETAN_SECOND_M = ("多吉", "顿珠", "平措", "次仁", "扎西", "贡布", "罗布", "旺堆", "强巴",
                    "群培")  # fmt: skip
TIBETAN_SECOND_F = ("卓玛", "央金", "拉姆", "曲珍", "德吉", "措姆", "次珍", "玉珍", "普赤",
                    "卓嘎")  # fmt: skip

#: Turkic names (Uyghur, Kazakh, Kirgiz, Uzbek, Tatar, Tajik): given · father's name.
TURKIC_M = ("买买提", "艾力", "阿不都", "吐尔逊", "艾买提", "热合曼", "库尔班", "努尔",
            "亚森", "艾则孜", "吾买尔", "米吉提", "玉素甫", "卡德尔", "阿里木")  # fmt: skip
TURKIC_F = ("古丽", "阿依古丽", "帕提古丽", "热依拉", "阿依努尔", "米娜", "努尔古丽",
            "再努尔", "布合力其", "阿依夏")  # fmt: skip

TIBETAN_PEOPLES = frozenset({"04", "54", "55"})
TURKIC_PEOPLES = frozenset({"05", "17", "29", "41", "43", "50"})

#: Characters of given names by sex and by the generation of birth. Each era has a first
#: and a second position list; one-character given names draw from the second list.
GIVEN_NAME_CHARS: dict[tuple[str, str], tuple[str, str]] = {
    # born before 1960
    ("M", "old"): (
        "德文明国家志金建桂振光永世绍正庆福荣有玉汉克秀运日朝树宗华开",
        "明华昌生荣福才贵林文成清祥忠义新发德山富财海兴全坤安强宝寿",
    ),
    ("F", "old"): (
        "秀桂玉美月凤金兰彩爱春素淑丽翠少竹银瑞妹英",
        "英兰凤珍花芳娥梅莲香琴妹娟仙秀萍菊爱芬月",
    ),
    # born 1960–1984
    ("M", "mid"): (
        "建国志海永春立小伟朝卫红东文德光明少俊宏剑庆新",
        "军平华强伟东明林勇斌宁刚波辉峰涛杰忠胜雄彬良荣超",
    ),
    ("F", "mid"): (
        "秀丽美小春桂海玉翠红少凤月雪素晓金慧",
        "英华芳红丽萍玲燕霞娟梅琼兰艳花芬敏莲丹",
    ),
    # born 1985 and later
    ("M", "young"): (
        "子浩宇俊志嘉梓家文明思承晨俊天铭振泽诗锦佳皓",
        "轩杰豪宇涛鹏阳博辰睿航翔鑫磊晨聪彬凯锋龙",
    ),
    ("F", "young"): (
        "欣梓雨诗思可佳紫雅晓婉嘉美海丽芷一心若",
        "怡涵琪婷萱雪妍彤琳悦瑶璐蕾蓉倩洁静菲颖敏",
    ),
}

#: Naming generations: (name, first birth year).
ERAS: tuple[tuple[str, int], ...] = (("old", 0), ("mid", 1960), ("young", 1985))

#: Share of two-character given names by era (the rest have one character).
TWO_CHAR_SHARE: dict[str, float] = {"old": 0.55, "mid": 0.7, "young": 0.85}

#: Banks where rural households hold the account that receives subsidies (一卡通), with
#: the card-number prefix (BIN) of each.
BANKS_GUANGXI: tuple[tuple[str, str, float], ...] = (
    ("广西农村信用社", "623058", 0.6),
    ("中国农业银行", "622848", 0.2),
    ("中国邮政储蓄银行", "621799", 0.2),
)
BANKS_OTHER: tuple[tuple[str, str, float], ...] = (
    ("农村信用社", "622682", 0.5),
    ("中国农业银行", "622848", 0.3),
    ("中国邮政储蓄银行", "621799", 0.2),
)

#: Mobile prefixes common in 2016.
PHONE_PREFIXES = (135, 136, 137, 138, 139, 150, 152, 177, 181, 187, 189)
