"""Run the benchmarks and write docs/benchmarks.md.

Each benchmark module has `run(households: int, workdir: Path) -> dict` and `TARGET`; it
runs in a subprocess of its own with a fresh data directory, so one benchmark's database
or memory never colours another's. Figures are written with the machine they came from.

    python -m benchmarks                 # the issue's sizes
    python -m benchmarks --quick         # small sizes, to check the harness
    python -m benchmarks --only export_csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"

#: name -> (full size, quick size); the order is the order of the report.
BENCHMARKS: dict[str, tuple[int, int]] = {
    "generate": (5_000_000, 20_000),
    "load": (100_000, 2_000),
    "import_xlsx": (100_000, 2_000),
    "export_csv": (1_000_000, 20_000),
}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def run_one(name: str, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"fupin-bench-{name}-") as tmp:
        env = {**os.environ, "FUPIN_DATA_DIR": str(Path(tmp) / "data"), "FUPIN_DEBUG": "0"}
        env.pop("DATABASE_URL", None)
        code = (
            "import json, sys, pathlib, importlib\n"
            "import django, os\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'fupin.settings')\n"
            "django.setup()\n"
            "from django.core.management import call_command\n"
            "call_command('migrate', verbosity=0)\n"
            f"m = importlib.import_module('benchmarks.{name}')\n"
            f"r = m.run({size}, pathlib.Path({tmp!r}))\n"
            "r.setdefault('target', getattr(m, 'TARGET', ''))\n"
            "print('@@RESULT@@' + json.dumps(r, default=str))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
        )
        sys.stderr.write(proc.stderr[-4000:])
        for line in proc.stdout.splitlines():
            if line.startswith("@@RESULT@@"):
                result: dict[str, Any] = json.loads(line.removeprefix("@@RESULT@@"))
                return result
        return {"error": (proc.stderr or proc.stdout)[-800:], "size": size}


def write_report(results: dict[str, dict[str, Any]], quick: bool) -> None:
    m = machine()
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks{' --quick' if quick else ''}`) on "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}. A benchmark never fails CI on time: these are "
        "measurements, with the target the issue set beside each.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in m.items()],
        "",
    ]
    for name, r in results.items():
        lines += [f"## {r.get('title', name)}", ""]
        if "error" in r:
            lines += ["Failed to run:", "", "```", r["error"], "```", ""]
            continue
        if r.get("target"):
            lines += [f"Target: {r['target']}", ""]
        rows = r.get("rows") or []
        if rows:
            keys = list(rows[0].keys())
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
            lines.append("")
        for note in r.get("notes", []):
            lines.append(f"- {note}")
        lines.append("")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS))
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        size = BENCHMARKS[name][1 if args.quick else 0]
        print(f"== {name} ({size:,}) ==", flush=True)
        results[name] = run_one(name, size)
        print(json.dumps(results[name], ensure_ascii=False, default=str)[:600], flush=True)
    write_report(results, args.quick)
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
