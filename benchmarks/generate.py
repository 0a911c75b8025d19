"""Benchmark: generate a synthetic province (issue 3 target: 5M households in ≤ 5 min).

`run(households, workdir)` runs `engine.synth.generate` for 100,000 and 1,000,000
households and for `households` (each size only if it is at most `households`), each in a
child process of its own so that its wall time and peak resident memory (the kernel's
`ru_maxrss` of that child, from `os.wait4`) are its alone. The files are deleted after
each size; their sizes are reported.

Run alone: `uv run python -m benchmarks --only generate` (or --quick).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TITLE = "Generate a synthetic province"
TARGET = "5M households in ≤ 5 min within 16 GB"

ROOT = Path(__file__).resolve().parent.parent
SEED = 2017
CHILD = (
    "import sys\n"
    "from engine import synth\n"
    "r = synth.generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))\n"
    "print(r.members, r.poor_households, r.poor_people, r.villages, r.counties)\n"
)


def measure(households: int, out: Path, seed: int = SEED) -> dict[str, Any]:
    """Generate in a child process; wall time, peak RSS and what was written."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), str(households), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if proc.returncode:
        raise RuntimeError(f"generate {households} failed: {stderr[-2000:]}")
    members, _poor_households, poor_people, villages, counties = map(int, stdout.split())
    files = {p.name: p.stat().st_size for p in out.iterdir()}
    return {
        "households": f"{households:,}",
        "people": f"{members:,}",
        "seconds": round(seconds, 1),
        "households/s": f"{households / seconds:,.0f}",
        "peak RSS (MB)": round(usage.ru_maxrss / 1024),
        "files (MB)": round(sum(files.values()) / 2**20, 1),
        "poor people": f"{poor_people:,} ({poor_people / members:.0%})",
        "villages": f"{villages:,}",
        "_counties": counties,
    }


def run(households: int, workdir: Path) -> dict[str, Any]:
    sizes = sorted({s for s in (100_000, 1_000_000) if s < households} | {households})
    rows = []
    for size in sizes:
        out = workdir / f"synth-{size}"
        rows.append(measure(size, out))
        shutil.rmtree(out, ignore_errors=True)
    counties = rows[-1].pop("_counties")
    for row in rows:
        row.pop("_counties", None)
    last = rows[-1]
    return {
        "title": TITLE,
        "rows": rows,
        "size": households,
        "notes": [
            f"`engine.synth.generate(out, N, seed={SEED})`, Guangxi (province 45): households "
            f"spread over the province's real villages in {counties} counties; Parquet (zstd) "
            "written in row groups of 250,000 households, each generated from its own random "
            "stream, so memory stays flat as N grows.",
            "Each size runs in a child process: seconds are its wall time (reading the "
            "division table, generating, writing), peak RSS its own `ru_maxrss`.",
            f"{last['households']} households: {last['seconds']} s "
            f"({'within' if float(last['seconds']) <= 300 else 'over'} the 5-minute target), "
            f"peak {last['peak RSS (MB)']} MB.",
        ],
    }
