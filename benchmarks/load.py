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

import time
from pathlib import Path
from typing import Any

from benchmarks.memory import MemorySampler

TITLE = "Load a generated province into the registry"
TARGET = "(no target of its own; the import target is 100k households in ≤ 60 s)"
SEED = 2017


def run(households: int, workdir: Path) -> dict[str, Any]:
    from engine import synth
    from fupin.registry import loading
    from fupin.registry.models import Household, Member

    out = workdir / "province"
    generated = synth.generate(out, households, SEED)
    rows = []
    for what in ("first load", "second load (resume: all unchanged)"):
        with MemorySampler() as memory:
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
