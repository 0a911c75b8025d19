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
import importlib
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
    "identify": (4_880_000, 20_000),
    "match": (5_600_000, 20_000),
    "warnings": (1_000_000, 20_000),
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


def render_section(name: str, r: dict[str, Any]) -> list[str]:
    """One benchmark's section of the report: heading, target, table, notes."""
    lines = [f"## {r.get('title', name)}", ""]
    if "error" in r:
        return [*lines, "Failed to run:", "", "```", r["error"], "```", ""]
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
    return lines


def existing_sections(path: Path = OUT) -> dict[str, list[str]]:
    """The report's `## ` sections by heading (Machine excluded), in the file's order."""
    if not path.exists():
        return {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        if current is not None:
            current.append(line)
    sections.pop("Machine", None)
    return sections


def write_report(results: dict[str, dict[str, Any]], quick: bool) -> None:
    """Write the report; sections of benchmarks not run this time are kept from the existing
    file (matched by heading), so a partial run (`--only`) never loses figures."""
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
    fresh = {name: render_section(name, r) for name, r in results.items()}
    if set(results) >= set(BENCHMARKS):
        for sec in fresh.values():
            lines += sec
    else:
        # A partial run: the old sections in their order, each benchmark run this time
        # replacing its own (matched by heading or by its module's TITLE, so that a failed
        # run, headed by its name, still replaces it); new ones at the end.
        by_heading: dict[str, str] = {}
        for name, sec in fresh.items():
            by_heading[sec[0][3:].strip()] = name
            by_heading.setdefault(_title(name), name)
        placed: set[str] = set()
        for heading, sec in existing_sections().items():
            match = by_heading.get(heading)
            if match is None:
                lines += sec
            elif match not in placed:
                lines += fresh[match]
                placed.add(match)
        for name, sec in fresh.items():
            if name not in placed:
                lines += sec
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines), encoding="utf-8")


def _title(name: str) -> str:
    """A benchmark's section heading (its module's TITLE), without running it."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except Exception:  # a module that cannot import has no section to keep by title
        return name
    return str(getattr(module, "TITLE", name))


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
