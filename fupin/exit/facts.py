"""The facts of a village or county that the county enters (`AreaFacts`), by level.

The village and county exit standards (engine/standards/FORMAT.md) read two kinds of
facts: those the registry gives (poor people, poor households in dilapidated houses, …:
`engine.standards.REGISTRY_AREA_FACTS`, computed, never typed) and those only the county
knows — the village form's facilities (DOMAIN.md §9 "Village form"), the statistics
bureau's rural population and income, the third-party evaluation's sample figures (§10).
This module names the second kind: which level each belongs to, how it is typed, and its
title in the import file (Chinese, as the county's forms say it; the English field name is
accepted too).

Everything here is plain data; no database access.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext_lazy as _

from fupin.core.models import AreaLevel
from fupin.exit.models import AreaFacts

Kind = Literal["count", "bool", "money", "percent", "score"]
Group = Literal["form", "evaluation", "statistics"]


@dataclass(frozen=True)
class Fact:
    name: str  # the AreaFacts field, and the column the standards read
    levels: frozenset[int]  # AreaLevel.VILLAGE and/or AreaLevel.COUNTY
    kind: Kind
    group: Group
    title: str  # the import file's column title (Chinese)

    def for_level(self, level: int) -> bool:
        return level in self.levels


V = frozenset({AreaLevel.VILLAGE})
C = frozenset({AreaLevel.COUNTY})
VC = frozenset({AreaLevel.VILLAGE, AreaLevel.COUNTY})

#: Every fact, in the order of the form and the import file.
FACTS: tuple[Fact, ...] = (
    Fact("rural_population", VC, "count", "form", "农村户籍人口（人）"),
    Fact("has_special_industry", VC, "bool", "form", "有特色产业"),
    Fact("road_hardened", V, "bool", "form", "通村屯硬化路"),
    Fact("has_clinic", V, "bool", "form", "有村卫生室和村医"),
    Fact("has_service_centre", V, "bool", "form", "有公共服务中心"),
    Fact("collective_income", V, "money", "form", "村集体收入（元）"),
    Fact("has_power_grid", V, "bool", "form", "通动力电"),
    Fact("has_broadcast_tv", V, "bool", "form", "广播电视覆盖"),
    Fact("has_broadband", V, "bool", "form", "通宽带"),
    Fact("safe_water_percent", V, "percent", "form", "安全饮水户比例（%）"),
    Fact("committees_good", V, "bool", "form", "两委班子好（乡县认定）"),
    Fact("dibao_line", C, "money", "form", "农村低保标准（元/人·年）"),
    Fact("wrongly_exited_people", VC, "count", "evaluation", "错退人数（评估推算）"),
    Fact("omitted_people", VC, "count", "evaluation", "漏评人数（评估推算）"),
    Fact("sample_exited_people", C, "count", "evaluation", "抽样脱贫人口"),
    Fact("sample_wrongly_exited_people", C, "count", "evaluation", "抽样错退人口"),
    Fact("sample_unregistered_people", C, "count", "evaluation", "抽样村未建档农村人口"),
    Fact("sample_omitted_people", C, "count", "evaluation", "核实漏评人口"),
    Fact("surveyed_households", C, "count", "evaluation", "认可度调查户数"),
    Fact("satisfied_households", C, "count", "evaluation", "认可户数"),
    Fact("cutoff_score", C, "score", "statistics", "精准识别分数线"),
    Fact("rural_income_per_capita", C, "money", "statistics", "农民人均纯收入（元）"),
    Fact("special_funds", C, "money", "statistics", "扶贫专项资金投入（元）"),
    Fact("fiscal_revenue_per_person", C, "money", "statistics", "人均财政收入（元）"),
)
BY_NAME = {f.name: f for f in FACTS}
NAMES = tuple(f.name for f in FACTS)

#: The pairs whose part cannot exceed its whole (sample figures of the evaluation).
PARTS: tuple[tuple[str, str], ...] = (
    ("sample_wrongly_exited_people", "sample_exited_people"),
    ("sample_omitted_people", "sample_unregistered_people"),
    ("satisfied_households", "surveyed_households"),
)

GROUP_LABELS = {
    "form": _("Village and county form"),
    "evaluation": _("Third-party evaluation"),
    "statistics": _("Statistics"),
}
#: Levels that have facts.
LEVELS = (AreaLevel.VILLAGE, AreaLevel.COUNTY)

#: Columns of the import file besides the facts, with the titles accepted.
AREA_CODE_TITLES = ("区划代码", "村代码", "县代码", "area_code", "code")
YEAR_TITLES = ("年度", "年份", "year")
NAME_TITLES = ("区划名称", "名称", "name")
SOURCE_TITLES = ("数据来源", "来源", "source")
NOTES_TITLES = ("备注", "notes")

#: Cell values read as yes / no.
YES = {"是", "有", "y", "yes", "true", "1", "√", "✓", "t"}
NO = {"否", "无", "没有", "n", "no", "false", "0", "×", "✗", "f"}


def facts_for(level: int) -> tuple[Fact, ...]:
    return tuple(f for f in FACTS if f.for_level(level))


def verbose_name(name: str) -> Any:
    """The AreaFacts field's label (lazy: translated when shown)."""
    return getattr(AreaFacts._meta.get_field(name), "verbose_name", name)


def plain(value: Any) -> Any:
    """A stored value as the engine takes it: amounts as floats."""
    return float(value) if isinstance(value, Decimal) else value
