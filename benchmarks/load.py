"""Benchmark: load a generated province into the registry (`fupin load`).

`run(households, workdir)` generates `households` households of Guangxi
(`engine.synth.generate`, timed but not the point), then loads them into the scratch
database with `fupin.registry.loading.load_directory` — the divisions, the console's
loading account, every batch of 20,000 households through `services.import_households`
(validation, one bulk write, data-quality rules, audit) — and loads the same directory a
second time, which is what resuming an interrupted load costs: every household is matched
and found unchanged. The process's resident memory is sampled every 0.1 s.

Run alone: `uv run python -m benchmarks --only load` (or --quick).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

TITLE = "Load a generated province into the registry"
TARGET = "(no target of its own; the import target is 100k households in ≤ 60 s)"
SEED = 2017


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Memory:
    """Peak resident memory while measuring, sampled in a thread."""

    def __init__(self) -> None:
        self.start = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> _Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def run(households: int, workdir: Path) -> dict[str, Any]:
    from engine import synth
    from fupin.registry import loading
    from fupin.registry.models import Household, Member

    out = workdir / "province"
    generated = synth.generate(out, households, SEED)
    rows = []
    for what in ("first load", "second load (resume: all unchanged)"):
        with _Memory() as memory:
            started = time.monotonic()
            result = loading.load_directory(out)
            seconds = time.monotonic() - started
        assert result.ok, result.errors[:5]
        rows.append(
            {
                "run": what,
                "households": f"{result.households:,}",
                "people": f"{generated.members:,}",
                "seconds": round(seconds, 1),
                "households/s": f"{result.households / seconds:,.0f}",
                "new / unchanged": f"{result.created:,} / {result.unchanged:,}",
                "RSS before (MB)": round(memory.start),
                "RSS peak (MB)": round(memory.peak),
            }
        )
        if what == "first load":
            areas = result.areas_loaded
    assert Household.objects.count() == households
    assert Member.objects.count() == generated.members
    first = rows[0]
    return {
        "title": TITLE,
        "rows": rows,
        "size": households,
        "notes": [
            f"Generated first with `engine.synth.generate(seed={SEED})` in "
            f"{generated.seconds:.1f} s (not counted): {households:,} households, "
            f"{generated.members:,} people in {generated.villages:,} villages of Guangxi.",
            f"The first load includes loading Guangxi's {areas:,} divisions (about 1.5 s) and "
            "reading and hashing the Parquet files; batches of "
            f"{loading.BATCH:,} households, each one `import_households` transaction.",
            f"{first['households']} households in {first['seconds']} s on SQLite.",
        ],
    }
