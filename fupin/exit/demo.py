"""The village and county half of `fupin demo`: the facts only a county knows of its villages
and of itself (AreaFacts), so the village and county exit pages have something to judge.

Entered through `services.import_area_facts` like a county's own file: the village form and
statistics by the county administrator, the third-party evaluation's figures by the demo's
evaluator (the county may not enter those, DOMAIN.md §10). One year, `demo.DEMO_AS_OF`'s
(2019, the demo's last year before the 2020 deadline). Deterministic for a seed; nothing is
done when the county has facts for that year already.

The figures are invented to look like a Guangxi county's, never taken as policy: most
villages have their road, clinic and service centre, some do not; a village's rural
population is chosen so that its poverty incidence lands between about 1 % and 6 % of the
registry's poor people (the registry of the demo is a sample of the county's households, so
the population cannot be counted from it).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from fupin.core.models import Area, AreaLevel
from fupin.exit import services
from fupin.exit.models import AreaFacts
from fupin.registry.demo import DEMO_AS_OF, DEMO_MARK
from fupin.registry.models import Household

YEAR = DEMO_AS_OF.year
POOR = ("registered", "exit_proposed", "returned")


def _people_by_village(county: str, statuses: tuple[str, ...] | None) -> dict[str, int]:
    households = Household.objects.in_area(county)
    if statuses is not None:
        households = households.filter(status__in=statuses)
    rows = households.values("village_id").annotate(n=Sum("people"), h=Count("pk"))
    return {r["village_id"]: int(r["n"] or 0) for r in rows}


def _village_values(rng: random.Random, poor: int, people: int) -> dict[str, Any]:
    # Incidence between ~1 % and ~6 %; a village without poor people has a population of
    # its own size class. Never below the registry's own people of the village.
    population = round(poor / rng.uniform(0.01, 0.06)) if poor else rng.randint(800, 2600)
    population = max(population, people, 300)
    return {
        "rural_population": population,
        "has_special_industry": rng.random() < 0.8,
        "road_hardened": rng.random() < 0.9,
        "has_clinic": rng.random() < 0.88,
        "has_service_centre": rng.random() < 0.85,
        "collective_income": Decimal(rng.choice([0, 0, *range(20_000, 80_001, 5_000)])),
        "has_power_grid": rng.random() < 0.98,
        "has_broadcast_tv": rng.random() < 0.95,
        "has_broadband": rng.random() < 0.8,
        "safe_water_percent": Decimal(rng.choice([100, 100, 100, 98, 95, 92])),
        "committees_good": rng.random() < 0.92,
    }


def load_exit_demo(county: str, admin: Any, evaluator: Any, seed: int = 2017) -> int:
    """Enter the demo county's village and county facts for `YEAR`; returns the number of
    records written (0 when the county has facts for the year already)."""
    if AreaFacts.objects.filter(area_id=county, year=YEAR).exists():
        return 0
    rng = random.Random(seed * 31 + YEAR)
    poor = _people_by_village(county, POOR)
    people = _people_by_village(county, None)
    villages = list(
        Area.objects.filter(level=AreaLevel.VILLAGE, code__startswith=county).order_by("code")
    )
    source = f"{DEMO_MARK}：村级统计报表 {YEAR}"
    items = [
        services.FactsInput(
            area_code=v.code,
            year=YEAR,
            values=_village_values(rng, poor.get(v.code, 0), people.get(v.code, 0)),
            source=source,
        )
        for v in villages
    ]
    county_form = {
        "has_special_industry": True,
        "dibao_line": Decimal(3_800),
        "rural_income_per_capita": Decimal(rng.randrange(10_500, 12_500, 10)),
        "special_funds": Decimal(rng.randrange(180_000_000, 320_000_000, 100_000)),
        "fiscal_revenue_per_person": Decimal(rng.randrange(900, 1_600, 10)),
        "cutoff_score": 50,
    }
    items.append(
        services.FactsInput(
            area_code=county, year=YEAR, values=county_form, source=f"{DEMO_MARK}：县统计局 {YEAR}"
        )
    )
    written = services.import_area_facts(admin, items)
    sample_exited = rng.randint(1_100, 1_400)
    sample_unregistered = rng.randint(2_600, 3_400)
    surveyed = rng.randint(550, 650)
    evaluation = {
        "sample_exited_people": sample_exited,
        "sample_wrongly_exited_people": round(sample_exited * rng.uniform(0.004, 0.015)),
        "sample_unregistered_people": sample_unregistered,
        "sample_omitted_people": round(sample_unregistered * rng.uniform(0.003, 0.012)),
        "surveyed_households": surveyed,
        "satisfied_households": round(surveyed * rng.uniform(0.91, 0.97)),
        "wrongly_exited_people": rng.randint(20, 120),
        "omitted_people": rng.randint(30, 150),
    }
    written += services.import_area_facts(
        evaluator,
        [
            services.FactsInput(
                area_code=county,
                year=YEAR,
                values=evaluation,
                source=f"{DEMO_MARK}：第三方评估 {YEAR}",
            )
        ],
    )
    return len(written)
