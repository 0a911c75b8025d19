"""Village and county exit pages (贫困村、贫困县摘帽, DOMAIN.md §5, §10): a village's exit
page, the list of an area's villages, a county's exit page, Guangxi's county difficulty
ranking, and the facts the county enters (form, import, template).

Each page build computes from one registry snapshot and one engine run (`fupin.exit.areas`).
An area outside the user's reach is not found (404, existence not leaked); the snapshot is
the user's own (`for_user`). Facts are changed through `fupin.exit.services` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from engine.standards import POOR_STATUSES, REGISTRY_AREA_FACTS, ItemResult
from fupin.core.forms import apply_errors
from fupin.core.models import Area, AreaLevel, AuditEntry
from fupin.core.scoping import area_prefix, user_can_reach
from fupin.core.sheets import XLSX, xlsx_response
from fupin.core.views import area_trail
from fupin.exit import areas, charts, facts, forms, policy, services
from fupin.exit import facts_import as facts_file
from fupin.exit.models import AreaFacts
from fupin.exit.views import OUTCOME_LABELS, _year, item_note

VIEW = services.VIEW
#: Rows of the village list and the facts list per page; the xlsx export has them all.
PER_PAGE = 100

#: Labels of the names the village and county tables hold (the evidence names them).
AREA_LABELS: dict[str, Any] = {
    "poor_people": gettext_lazy("poor people"),
    "poverty_incidence": gettext_lazy("poverty incidence"),
    "composite_incidence": gettext_lazy("composite poverty incidence"),
    "poor_households": gettext_lazy("poor households"),
    "dilapidated_poor_households": gettext_lazy("poor households in a dilapidated house"),
    "uninsured_poor_people": gettext_lazy("poor people without basic medical insurance"),
    "out_of_school_poor_children": gettext_lazy("poor children of compulsory age out of school"),
    "poor_households_without_safe_water": gettext_lazy(
        "poor households without safe drinking water"
    ),
    "poor_households_without_power": gettext_lazy("poor households without power"),
    "poor_households_without_tv": gettext_lazy("poor households without radio or TV"),
    "villages": gettext_lazy("villages"),
    "villages_without_hardened_road": gettext_lazy("villages without a hardened road"),
    "villages_without_clinic": gettext_lazy("villages without a clinic"),
    "villages_without_service_centre": gettext_lazy("villages without a service centre"),
    "wrong_exit_rate": gettext_lazy("wrong-exit rate"),
    "omission_rate": gettext_lazy("omission rate"),
    "satisfaction": gettext_lazy("public satisfaction"),
    "poverty_line": gettext_lazy("poverty line"),
    "year": gettext_lazy("year"),
    "incidence_limit": gettext_lazy("incidence limit of the region"),
}
#: Values that are fractions, shown as percentages.
FRACTIONS = {
    "poverty_incidence",
    "composite_incidence",
    "wrong_exit_rate",
    "omission_rate",
    "satisfaction",
    "incidence_limit",
}
#: Counted over poor households: their figure links to those households.
FROM_REGISTRY = {"poor_people", *REGISTRY_AREA_FACTS}
ORIGIN_LABELS = {
    "county": gettext_lazy("entered for the county"),
    "villages": gettext_lazy("sum of its villages"),
    "policy": gettext_lazy("from the exit policy"),
    "registry": gettext_lazy("registry"),
    "facts": gettext_lazy("entered facts"),
}


# -- lookups and formatting ----------------------------------------------------------------


def _reachable(request: HttpRequest, code: str, levels: Iterable[int]) -> Area:
    area = Area.objects.filter(code=code, level__in=list(levels)).first()
    if area is None or not user_can_reach(request.user, area.code):
        raise Http404
    return area


def _area_param(request: HttpRequest, levels: Iterable[int]) -> Area:
    """The area of `?area=CODE` (default the user's own); 404 outside the user's reach or
    of another level than the page takes."""
    code = request.GET.get("area") or getattr(request.user, "area_id", "") or ""
    if not code and area_prefix(request.user) == "":
        first = Area.objects.filter(parent__isnull=True).order_by("code").first()
        code = first.code if first else ""
    return _reachable(request, code, levels)


def _below(request: HttpRequest, level: int) -> HttpResponse | None:
    """Where the menu's link lands a user whose own area is below what the page takes
    (`level`, the lowest it takes): his village's page, his township's village list, his
    county's page. None when `?area` is given or the user's area is high enough."""
    own = getattr(request.user, "area", None)
    if request.GET.get("area") or own is None or own.level <= level:
        return None
    year = request.GET.get("year", "")
    query = f"?year={year}" if year else ""
    if own.level == AreaLevel.VILLAGE:
        return redirect(reverse("exit:village", args=[own.code]) + query)
    if own.level == AreaLevel.COUNTY:
        return redirect(reverse("exit:county", args=[own.code]) + query)
    return redirect(reverse("exit:village_list") + f"?area={own.code}" + query.replace("?", "&"))


def _years() -> list[int]:
    return list(range(timezone.localdate().year, 2015, -1))


def percent(value: Any) -> str:
    """A fraction as a percentage, truncated (never rounded up to a limit): two decimals,
    three when it lies within 0.01 of a whole percent (where the limits are: 2%, 3%, 90%)
    without being on it, so 2.999% never reads "3.00%" beside "met" for "below 3%"."""
    if value is None:
        return _("no data")
    pct = Decimal(repr(float(value))) * 100
    places = 2
    nearest = pct.to_integral_value()
    if pct != nearest and abs(pct - nearest) < Decimal("0.01"):
        places = 3
    shown = pct.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return f"{shown}%"


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def show(name: str, value: Any) -> str:
    """A value of the village or county table as the pages show it."""
    if value is None or value == "∅":
        return _("no data")
    if isinstance(value, bool) or value in ("true", "false"):
        return _("Yes") if value in (True, "true") else _("No")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if name in FRACTIONS:
        return percent(number)
    return _number(number)


def label_of(name: str) -> str:
    if name in AREA_LABELS:
        return str(AREA_LABELS[name])
    if name in facts.BY_NAME:
        return str(facts.verbose_name(name))
    return name


def poor_households_url(code: str) -> str:
    """The household list of the area, at the statuses the incidence counts."""
    query = urlencode([("area", code), *(("status", s) for s in POOR_STATUSES)])
    return f"{reverse('registry:household_list')}?{query}"


def _evidence(text: str, area: Area, year: int) -> list[dict[str, str]]:
    rows = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, raw = part.partition("=")
        link = ""
        if name in FROM_REGISTRY:
            link = poor_households_url(area.code)
        elif name.startswith("villages_without_"):
            link = reverse("exit:village_list") + f"?area={area.code}&year={year}&scope=all"
        rows.append(
            {
                "name": name,
                "label": label_of(name),
                "value": show(name, raw) if sep else part,
                "link": link,
            }
        )
    return rows


def _item_rows(results: Sequence[ItemResult], area: Area, year: int) -> list[dict[str, Any]]:
    zh = policy.chinese()
    return [
        {
            "code": r.item.code,
            "label": r.item.label if zh else r.item.label_en,
            "kind": r.item.kind,
            "outcome": r.outcome,
            "outcome_label": OUTCOME_LABELS[r.outcome],
            "evidence": _evidence(r.evidence, area, year),
            "source": r.item.source,
            "note": item_note(r.item),
        }
        for r in results
    ]


def _standards(check: areas.AreaCheck, year: int) -> list[dict[str, Any]]:
    zh = policy.chinese()
    return [
        {
            "standard": c.standard,
            "name": c.standard.name if zh else c.standard.name_en,
            "rows": _item_rows(c.results, check.area, year),
            "can_exit": c.verdict.can_exit,
            "blocked": bool(c.verdict.blockers),
            "met": c.met,
            "total": c.total,
        }
        for c in check.checks
    ]


def can_enter_facts(user: Any) -> bool:
    """Who the facts pages offer to edit (the service decides): the county or above, for
    the groups of facts `services.fact_groups_for` gives."""
    return bool(services.fact_groups_for(user))


def as_of_note(board: areas.Board) -> str:
    """Shown on every page and export of a past year: whose poor people are counted
    (fupin.exit.areas, "Past years"); empty for the current year."""
    if board.as_of is None:
        return ""
    return _("Poor people as of 31 December %(year)s, from the status history.") % {
        "year": board.as_of.year
    }


def _notes_sheet(board: areas.Board) -> list[tuple[str, list[str], list[list[str]]]]:
    """The export's notes sheet for a past year (whose poor people are counted)."""
    note = as_of_note(board)
    if not note:
        return []
    return [(_("Notes"), [_("Note")], [[note]])]


def _fact_rows(record: AreaFacts | None, level: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "label": label_of(f.name),
            "group": facts.GROUP_LABELS[f.group],
            "value": show(f.name, facts.plain(getattr(record, f.name)) if record else None),
        }
        for f in facts.facts_for(level)
    ]


def _timing(board: areas.Board) -> str:
    return _(
        "%(households)s poor households read in %(snapshot).2f s, judged in %(engine).2f s"
    ) % {
        "households": board.households,
        "snapshot": board.timing.get("snapshot", 0.0),
        "engine": board.timing.get("engine", 0.0),
    }


def _xlsx(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    name: str,
    board: areas.Board | None = None,
) -> HttpResponse:
    notes = _notes_sheet(board) if board is not None else []
    return xlsx_response([(title, headers, rows), *notes], name)


#: How long a judged list is kept for the pages that sort, page and export it (seconds).
BOARD_SECONDS = 600


def _remembered(
    kind: str, request: HttpRequest, area: Area, year: int, compute: Callable[..., Any]
) -> Any:
    """A judged list (all the villages of a province, the county ranking) computed once for
    the sorting, paging and export clicks that follow, instead of a registry snapshot and an
    engine run per click. Every change goes through an audited service, so the newest audit
    entry's number is in the key: any change anywhere computes it again. The user is in the
    key too: what is read is the user's (`for_user`)."""
    stamp = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    key = f"fupin:exit:{kind}:{request.user.pk}:{area.code}:{year}:{stamp}"
    found = cache.get(key)
    if found is None:
        found = compute(request.user, area, year)
        cache.set(key, found, BOARD_SECONDS)
    return found


def _judged_year(request: HttpRequest, area: Area) -> int:
    """The year asked for; without one, the latest year (not after this one) for which
    facts of the area, its villages or its county are entered — what a county has worked
    on — else this year. A page judged on a year without facts shows only "no data"."""
    if request.GET.get("year"):
        return _year(request)
    this_year = timezone.localdate().year
    prefix = area.code[:6] if len(area.code) > 6 else area.code
    latest = (
        AreaFacts.objects.filter(area__code__startswith=prefix, year__lte=this_year)
        .aggregate(latest=Max("year"))
        .get("latest")
    )
    return int(latest) if latest else this_year


# -- a village -----------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def village_exit(request: HttpRequest, code: str) -> HttpResponse:
    """A village judged for a year: its poverty incidence from the registry (and the
    composite form where the evaluation's estimates exist), every item of its province's
    village standard with the data behind it, and the facts entered."""
    village = _reachable(request, code, [AreaLevel.VILLAGE])
    year = _judged_year(request, village)
    board = areas.judge_villages(request.user, village, year)
    check = board.rows[0]
    county = village.code[:6]
    target = board.rules.village_target
    return render(
        request,
        "exit/village_exit.html",
        {
            "area": village,
            "board": board,
            "check": check,
            "standards": _standards(check, year),
            "facts": _fact_rows(check.record, AreaLevel.VILLAGE),
            "registry": [
                {"label": label_of(n), "value": show(n, check.row.get(n))}
                for n in ("poor_households", *REGISTRY_AREA_FACTS)
                if n in check.row and n != "poor_households"
            ],
            "poor_url": poor_households_url(village.code),
            "incidence": percent(check.incidence),
            "composite": percent(check.composite_incidence),
            "target": (
                {
                    "label": board.rules.target_label,
                    "value": percent(target),
                    "reached": check.incidence is not None and check.incidence <= target,
                }
                if target is not None
                else None
            ),
            "year": year,
            "years": _years(),
            "trail": area_trail(request.user, village),
            "county_url": (
                reverse("exit:county", args=[county])
                if user_can_reach(request.user, county)
                else ""
            ),
            # A village cadre cannot reach his township's list (it would be a 404).
            "list_url": (
                reverse("exit:village_list") + f"?area={village.code[:9]}&year={year}"
                if user_can_reach(request.user, village.code[:9])
                else ""
            ),
            "can_enter": can_enter_facts(request.user),
            "timing": _timing(board),
            "past_year": board.past_year,
            "as_of_note": as_of_note(board),
        },
    )


# -- the list of villages --------------------------------------------------------------------


def _ready_rank(check: areas.AreaCheck) -> int:
    return {True: 2, None: 0}.get(check.ready, 1)


SORTS: dict[str, Callable[[areas.AreaCheck], Any]] = {
    "code": lambda c: c.code,
    "name": lambda c: c.area.name,
    "poor": lambda c: c.poor_people,
    "incidence": lambda c: c.incidence,
    "met": lambda c: c.met,
    "ready": _ready_rank,
}


def _sorted(rows: list[areas.AreaCheck], sort: str) -> list[areas.AreaCheck]:
    """Sorted by `sort` (a SORTS key, "-" first for descending); unknown values last."""
    key = SORTS.get(sort.lstrip("-"), SORTS["code"])
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    return sorted(known, key=key, reverse=sort.startswith("-")) + unknown


def _village_board(request: HttpRequest) -> tuple[areas.Board, list[areas.AreaCheck], str, str]:
    area = _area_param(
        request, [AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY, AreaLevel.TOWNSHIP]
    )
    year = _judged_year(request, area)
    board = _remembered("villages", request, area, year, areas.judge_villages)
    scope = request.GET.get("scope", "poor")
    scope = scope if scope in ("poor", "all") else "poor"
    rows = board.rows if scope == "all" else [r for r in board.rows if r.area.is_poor_village]
    sort = request.GET.get("sort", "code")
    sort = sort if sort.lstrip("-") in SORTS else "code"
    return board, _sorted(rows, sort), scope, sort


def _item_headers(board: areas.Board) -> list[str]:
    zh = policy.chinese()
    return [i.label if zh else i.label_en for s in board.standards for i in s.items]


def _ready_label(check: areas.AreaCheck) -> str:
    if check.ready is None:
        return ""
    if check.ready:
        return _("Meets the exit standard")
    return _("Not met") if check.blocked else _("Undecided")


@login_required
@permission_required(VIEW, raise_exception=True)
def village_list(request: HttpRequest) -> HttpResponse:
    """The villages of a township, county, city or province for a year: incidence, items
    met and exit-ready, sortable; the poor villages (贫困村) by default."""
    if (elsewhere := _below(request, AreaLevel.TOWNSHIP)) is not None:
        return elsewhere
    board, rows, scope, sort = _village_board(request)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = {"area": board.area.code, "year": board.year, "scope": scope}
    poor_villages = sum(r.area.is_poor_village for r in board.rows)
    return render(
        request,
        "exit/village_list.html",
        {
            "board": board,
            "area": board.area,
            "page": page,
            "rows": [
                {
                    "check": c,
                    "incidence": percent(c.incidence),
                    "composite": percent(c.composite_incidence),
                    "ready_label": _ready_label(c),
                    "url": reverse("exit:village", args=[c.code]) + f"?year={board.year}",
                    "poor_url": poor_households_url(c.code),
                }
                for c in page.object_list
            ],
            "scope": scope,
            "sort": sort,
            "query": urlencode(query),
            "page_query": urlencode({**query, "sort": sort}),
            "all_query": urlencode({**query, "scope": "all"}),
            "is_county": board.area.level == AreaLevel.COUNTY,
            "sorts": [
                ("code", _("Code")),
                ("name", _("Village")),
                ("poor", _("Poor people")),
                ("incidence", _("Poverty incidence")),
                ("met", _("Items met")),
                ("ready", _("Exit-ready")),
            ],
            "summary": {
                "villages": len(board.rows),
                "poor_villages": poor_villages,
                "shown": len(rows),
                "ready": sum(r.ready is True for r in rows),
                "blocked": sum(r.blocked for r in rows),
                "without_facts": sum(r.record is None for r in rows),
            },
            "children": board.area.children.order_by("code")
            if board.area.level < AreaLevel.TOWNSHIP
            else [],
            "trail": area_trail(request.user, board.area),
            "year": board.year,
            "years": _years(),
            "timing": _timing(board),
            "past_year": board.past_year,
            "as_of_note": as_of_note(board),
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def village_export(request: HttpRequest) -> HttpResponse:
    """The village list as xlsx: every village shown, in the list's order, each item's
    outcome in its own column."""
    board, rows, _scope, _sort = _village_board(request)
    headers = [
        _("Village code"),
        _("Village"),
        _("Township"),
        _("Poor village"),
        _("Poor people"),
        _("Rural registered population"),
        _("Poverty incidence (%)"),
        _("Composite poverty incidence (%)"),
        _("Items met"),
        _("Items"),
        _("Exit-ready"),
        *_item_headers(board),
        _("Source of the facts"),
    ]
    names = {
        a.code: a.name
        for a in Area.objects.filter(code__startswith=board.area.code, level=AreaLevel.TOWNSHIP)
    }

    def cells(c: areas.AreaCheck) -> list[Any]:
        pct = [
            None if v is None else round(v * 100, 4) for v in (c.incidence, c.composite_incidence)
        ]
        outcomes = [str(OUTCOME_LABELS[r.outcome]) for s in c.checks for r in s.results]
        return [
            c.code,
            c.area.name,
            names.get(c.code[:9], ""),
            _("Yes") if c.area.is_poor_village else _("No"),
            c.poor_people,
            c.row.get("rural_population"),
            *pct,
            c.met if c.checks else None,
            c.total if c.checks else None,
            _ready_label(c),
            *outcomes,
            c.record.source if c.record else "",
        ]

    return _xlsx(
        _("Village exit"),
        headers,
        (cells(c) for c in rows),
        f"village-exit-{board.area.code}-{board.year}.xlsx",
        board,
    )


# -- a county --------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def county_exit(request: HttpRequest, code: str) -> HttpResponse:
    """A county judged for a year: the province's county standard item by item (Guangxi
    九有一低于), the incidence over its villages, and the national thresholds (composite
    incidence by region, 错退率, 漏评率, 认可度) from the evaluation's figures."""
    county = _reachable(request, code, [AreaLevel.COUNTY])
    year = _judged_year(request, county)
    board = areas.judge_counties(request.user, county, year)
    check = board.rows[0]
    row = check.row
    evaluation = [
        {"label": label_of(n), "value": show(n, row.get(n))}
        for n in (
            "sample_exited_people",
            "sample_wrongly_exited_people",
            "wrong_exit_rate",
            "sample_unregistered_people",
            "sample_omitted_people",
            "omission_rate",
            "surveyed_households",
            "satisfied_households",
            "satisfaction",
            "wrongly_exited_people",
            "omitted_people",
        )
    ]
    origins = {k: str(ORIGIN_LABELS[v]) for k, v in check.provenance.items()}
    return render(
        request,
        "exit/county_exit.html",
        {
            "area": county,
            "board": board,
            "check": check,
            "standards": _standards(check, year),
            "facts": [
                {**f, "origin": origins.get(f["name"], "")}
                for f in _fact_rows(check.record, AreaLevel.COUNTY)
            ],
            "rural_population": show("rural_population", row.get("rural_population")),
            "rural_population_origin": origins.get("rural_population", ""),
            "derived": [
                {"label": label_of(n), "value": show(n, row.get(n))}
                for n in ("villages", *areas.FROM_VILLAGES)
            ],
            "registry": [
                {"label": label_of(n), "value": show(n, row.get(n))}
                for n in REGISTRY_AREA_FACTS
                if n in row and n != "poor_households"
            ],
            "evaluation": evaluation,
            "poor_url": poor_households_url(county.code),
            "incidence": percent(check.incidence),
            "composite": percent(check.composite_incidence),
            "region": board.region,
            "limit": percent(board.region.incidence_limit),
            "year": year,
            "years": _years(),
            "trail": area_trail(request.user, county),
            "villages_url": reverse("exit:village_list") + f"?area={county.code}&year={year}",
            "ranking_url": (
                reverse("exit:ranking") + f"?area={county.code[:4]}&year={year}"
                if board.rules.difficulty and user_can_reach(request.user, county.code[:4])
                else ""
            ),
            "can_enter": can_enter_facts(request.user),
            "timing": _timing(board),
            "past_year": board.past_year,
            "as_of_note": as_of_note(board),
        },
    )


# -- Guangxi's county difficulty ranking -------------------------------------------------------


def _ranking(request: HttpRequest) -> areas.Ranking:
    area = _area_param(request, [AreaLevel.PROVINCE, AreaLevel.CITY])
    return _remembered("ranking", request, area, _judged_year(request, area), areas.rank)


def _indicator_label(indicator: Any) -> str:
    return indicator.label if policy.chinese() else indicator.label_en


def _indicator_value(column: str, value: float | None) -> str:
    if value is None:
        return _("no data")
    if column == "poverty_incidence":
        return percent(value)
    return _number(round(value, 2))


@login_required
@permission_required(VIEW, raise_exception=True)
def county_ranking(request: HttpRequest) -> HttpResponse:
    """Guangxi's counties ranked by how hard their exit is, from the 8 objective indicators
    (seed 000 line 142): each indicator's value and where it came from, its normalised
    part, the difficulty and the rank (1 is the hardest, which exits last), as a chart."""
    if (elsewhere := _below(request, AreaLevel.CITY)) is not None:
        return elsewhere
    ranking = _ranking(request)
    board = ranking.board
    spec = ranking.spec
    rows = []
    chart: dict[str, Any] | None = None
    if spec is not None:
        columns = [i.column for i in spec.indicators]
        for c in ranking.counties:
            rows.append(
                {
                    "county": c,
                    "url": reverse("exit:county", args=[c.check.code]) + f"?year={board.year}",
                    "cells": [
                        {
                            "value": _indicator_value(col, c.values.get(col)),
                            "origin": str(
                                ORIGIN_LABELS.get(c.origins.get(col, ""), "")
                                or c.origins.get(col, "")
                            ),
                            "part": None if c.parts.get(col) is None else f"{c.parts[col]:.2f}",
                            "missing": c.values.get(col) is None,
                        }
                        for col in columns
                    ],
                    "lacking": ", ".join(
                        _indicator_label(i) for i in spec.indicators if i.column in c.lacking
                    ),
                }
            )
        ranked = [c for c in ranking.counties if c.rank is not None]
        if ranked:
            names = [f"{c.rank}. {c.check.area.name}" for c in ranked]
            values = [float(c.difficulty or 0.0) for c in ranked]
            x_label, y_label = _("Difficulty of exit (0 easiest, 1 hardest)"), _("County")
            hardest = max(1, len(ranked) // 4)
            chart = {
                "option": charts.difficulty_bar_option(
                    names, values, x_label=x_label, y_label=y_label, hardest=hardest
                ),
                "table": charts.bar_table(names, values, x_label=x_label, y_label=y_label),
                "label": _("Counties by difficulty of exit"),
                "summary": _(
                    "%(n)s counties ranked; the hardest, %(first)s, exits last; the easiest, "
                    "%(last)s, first."
                )
                % {
                    "n": len(ranked),
                    "first": ranked[0].check.area.name,
                    "last": ranked[-1].check.area.name,
                },
                "height": f"{max(12, 2 + len(ranked) * 1.6):.0f}rem",
            }
    return render(
        request,
        "exit/county_ranking.html",
        {
            "ranking": ranking,
            "board": board,
            "area": board.area,
            "spec": spec,
            "spec_name": (spec.name if policy.chinese() else spec.name_en) if spec else "",
            "indicators": [{"label": _indicator_label(i), "indicator": i} for i in spec.indicators]
            if spec
            else [],
            "rows": rows,
            "chart": chart,
            "year": board.year,
            "years": _years(),
            "trail": area_trail(request.user, board.area),
            "children": board.area.children.filter(level=AreaLevel.CITY).order_by("code"),
            "timing": _timing(board),
            "past_year": board.past_year,
            "as_of_note": as_of_note(board),
            "scale_note": _scale_note(ranking),
        },
    )


def _scale_note(ranking: areas.Ranking) -> str:
    """Which counties are ranked and what the 0–1 scale is over (seed 000 line 142)."""
    if ranking.flagged:
        which = _("Only the poor counties (贫困县) of the area are ranked.")
    else:
        which = _(
            "No county of the area is marked as a poor county (贫困县): every county is "
            "ranked. Mark the poor counties in the area tree to rank only them."
        )
    scale = _(
        "Each indicator is scaled from 0 (easiest) to 1 (hardest) over the %(n)s counties "
        "ranked here; a county without poor people or lacking an indicator is left out of "
        "the scale."
    ) % {"n": ranking.ranked}
    return f"{which} {scale}"


@login_required
@permission_required(VIEW, raise_exception=True)
def ranking_export(request: HttpRequest) -> HttpResponse:
    ranking = _ranking(request)
    spec = ranking.spec
    if spec is None:
        raise Http404
    headers = [
        _("Rank"),
        _("County code"),
        _("County"),
        _("Difficulty"),
        *(_indicator_label(i) for i in spec.indicators),
        *(_("Part: %(indicator)s") % {"indicator": _indicator_label(i)} for i in spec.indicators),
        _("Not ranked because"),
    ]

    def cells(c: areas.RankedCounty) -> list[Any]:
        why = ""
        if c.unranked == "no_poor":
            why = _("no poor people in the registry")
        elif c.unranked:
            why = ", ".join(_indicator_label(i) for i in spec.indicators if i.column in c.lacking)
        return [
            c.rank,
            c.check.code,
            c.check.area.name,
            None if c.difficulty is None else round(c.difficulty, 4),
            *(c.values.get(i.column) for i in spec.indicators),
            *(c.parts.get(i.column) for i in spec.indicators),
            why,
        ]

    return _xlsx(
        _("County difficulty"),
        headers,
        (cells(c) for c in ranking.counties),
        f"county-difficulty-{ranking.board.area.code}-{ranking.board.year}.xlsx",
        ranking.board,
    )


# -- facts -----------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def facts_list(request: HttpRequest) -> HttpResponse:
    """The villages and counties of an area and whether their facts of the year are
    entered, with the source; links to the form, the import and the template."""
    area = _area_param(request, list(AreaLevel))
    year = _judged_year(request, area)
    places = Area.objects.filter(code__startswith=area.code, level__in=list(facts.LEVELS))
    stored = {
        f.area_id: f
        for f in AreaFacts.objects.for_user(request.user)
        .in_area(area.code)
        .filter(year=year)
        .select_related("updated_by")
    }
    page = Paginator(places.order_by("code"), PER_PAGE * 2).get_page(request.GET.get("page"))
    return render(
        request,
        "exit/facts_list.html",
        {
            "area": area,
            "year": year,
            "years": _years(),
            "page": page,
            "rows": [
                {
                    "area": a,
                    "record": stored.get(a.code),
                    "is_village": a.level == AreaLevel.VILLAGE,
                }
                for a in page.object_list
            ],
            "entered": len(stored),
            "total": places.count(),
            "trail": area_trail(request.user, area),
            "can_enter": can_enter_facts(request.user),
            "query": urlencode({"area": area.code, "year": year}),
        },
    )


def _read_only(form: forms.AreaFactsForm, groups: frozenset[str]) -> list[str]:
    """Disable the facts of groups the user may not enter (the evaluation's figures for the
    county: services.fact_groups_for): shown, kept as stored, never posted."""
    names = []
    for group, fields in form.groups.items():
        if group in groups:
            continue
        for name in fields:
            form.fields[name].disabled = True
            form.fields[name].help_text = (
                _("Entered by the third-party evaluator, or by the city or the province.")
                if group == services.EVALUATION
                else _("Entered by the county's administrators.")
            )
            names.append(name)
    return names


@login_required
@permission_required(VIEW, raise_exception=True)
def facts_edit(request: HttpRequest, code: str) -> HttpResponse:
    """A village's or county's facts for a year: every fact of its level, unknown when left
    empty, and where the values come from. Facts the user may not enter (the evaluation's
    figures, for the county itself) are shown read-only."""
    area = _reachable(request, code, facts.LEVELS)
    groups = services.fact_groups_for(request.user)
    if not groups:
        raise PermissionDenied(_("Village and county facts are entered by the county or above."))
    year = _year(request) if request.method == "GET" else _posted_year(request)
    record = AreaFacts.objects.filter(area=area, year=year).first()
    initial: dict[str, Any] = {}
    if record is not None:
        for fact in facts.facts_for(area.level):
            value = getattr(record, fact.name)
            typed = ("true" if value else "false") if isinstance(value, bool) else value
            initial[fact.name] = typed
        initial.update(source=record.source, notes=record.notes)
    if request.method == "POST":
        form = forms.AreaFactsForm(request.POST, initial=initial, level=area.level)
        read_only = _read_only(form, groups)
        if form.is_valid():
            item = services.FactsInput(
                area.code,
                year,
                {k: v for k, v in form.values().items() if k not in read_only},
                form.cleaned_data["source"],
                form.cleaned_data["notes"],
            )
            try:
                services.save_area_facts(request.user, item)
            except ValidationError as e:
                apply_errors(e, {"": form})
            else:
                messages.success(
                    request,
                    _("The facts of %(area)s for %(year)s are saved.")
                    % {"area": area.name, "year": year},
                )
                page = "exit:village" if area.level == AreaLevel.VILLAGE else "exit:county"
                return redirect(reverse(page, args=[area.code]) + f"?year={year}")
    else:
        form = forms.AreaFactsForm(initial=initial, level=area.level)
        _read_only(form, groups)
    return render(
        request,
        "exit/facts_form.html",
        {
            "area": area,
            "year": year,
            "years": _years(),
            "form": form,
            "record": record,
            "trail": area_trail(request.user, area),
        },
    )


def _posted_year(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("year", ""))
    except ValueError:
        return timezone.localdate().year


@login_required
@permission_required(VIEW, raise_exception=True)
def facts_import(request: HttpRequest) -> HttpResponse:
    """Facts of many villages and counties from an xlsx or CSV file: all rows or none, each
    problem with its row and column."""
    if not can_enter_facts(request.user):
        raise PermissionDenied(_("Village and county facts are entered by the county or above."))
    problems: list[str] = []
    if request.method == "POST":
        form = forms.FactsImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data["file"].read()
            try:
                items = facts_file.read_facts(data, form.cleaned_data["source"])
                saved = services.import_area_facts(request.user, items)
            except ValidationError as e:
                problems = e.messages
            else:
                messages.success(
                    request,
                    _("%(n)s rows of facts imported.") % {"n": len(saved)},
                )
                return redirect(reverse("exit:facts_list"))
    else:
        form = forms.FactsImportForm()
    return render(
        request,
        "exit/facts_import.html",
        {
            "form": form,
            "problems": problems,
            "year": timezone.localdate().year,
            "area": getattr(request.user, "area", None),
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def facts_template(request: HttpRequest) -> HttpResponse:
    """The import template, with a row per village and county of the area (the user's by
    default) and the facts already entered for the year."""
    area = _area_param(request, list(AreaLevel))
    year = _year(request)
    response = HttpResponse(facts_file.template(area, year), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="exit-facts-{area.code}-{year}.xlsx"'
    return response
