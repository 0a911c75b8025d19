"""`fupin demo`: load a realistic demo county and its demo users (see fupin/registry/demo.py).

    fupin demo [--county 450123] [--households 1200] [--seed 2017] [--reset | --if-empty]

Loading is refused when the county already has households ("use --reset"); `--reset`
deletes the county's households first, and only if the demo made every one of them;
`--if-empty` (what `make demo` uses) loads only into an empty county and otherwise just
reports what is there, so running it twice is harmless. Demo users that exist already are
kept. The demo users' password is printed at the end: demo
only, never on a server that holds real data.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from fupin.core.models import Area, User
from fupin.exit import demo as exit_demo
from fupin.exit.demo import YEAR as EXIT_DEMO_YEAR
from fupin.exit.models import AreaFacts
from fupin.identify import demo as identify_demo
from fupin.monitor import demo as monitor_demo
from fupin.monitor.models import WarningRun
from fupin.registry import demo
from fupin.registry.enums import HouseholdStatus


class ProgressLine:
    """A `\\r` line with counts and rate on a terminal; a line per 10% otherwise."""

    def __init__(self, command: BaseCommand) -> None:
        self.out = command.stdout
        self.tty = self.out.isatty()
        self.started: float | None = None
        self.last_draw = 0.0
        self.last_tenth = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        rate = done / max(now - self.started, 1e-9)
        line = _("%(stage)s %(done)d/%(total)d (%(pct)d%%) %(rate).1f/s") % {
            "stage": _("households"),
            "done": done,
            "total": total,
            "pct": done * 100 // max(total, 1),
            "rate": rate,
        }
        if self.tty:
            if done == total or now - self.last_draw >= 0.1:
                self.last_draw = now
                self.out.write("\r" + line, ending="\n" if done == total else "")
                self.out.flush()
        else:
            tenth = done * 10 // max(total, 1)
            if tenth != self.last_tenth:
                self.last_tenth = tenth
                self.out.write(line)


class Command(BaseCommand):
    help = "Load a realistic demo county (隆安县 by default): areas, households, demo users."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--county",
            default=demo.DEFAULT_COUNTY,
            metavar="CODE",
            help="6-digit county code (default %(default)s, 隆安县).",
        )
        parser.add_argument(
            "--households",
            type=int,
            default=demo.DEFAULT_HOUSEHOLDS,
            metavar="N",
            help="Number of households (default %(default)s).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            metavar="S",
            help="Random seed: the same seed gives the same county (default %(default)s).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the county's demo households first (refused if any is not demo data).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only if the county has no households; otherwise report and succeed.",
        )
        parser.add_argument(
            "--divisions",
            choices=["province", "county"],
            default="province",
            help="Load the whole province's divisions (default) or only the county's tree.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["households"] < 1:
            raise CommandError(_("--households must be at least 1."))
        if options["reset"] and options["if_empty"]:
            raise CommandError(_("--reset and --if-empty exclude each other."))
        progress = ProgressLine(self)
        try:
            result = demo.load_demo(
                options["county"],
                options["households"],
                options["seed"],
                divisions=options["divisions"],
                reset=options["reset"],
                progress=progress,
            )
        except demo.DemoAlreadyLoaded as exc:
            if options["if_empty"]:
                self.stdout.write(
                    _("Demo county %(county)s is already loaded; nothing added.")
                    % {"county": exc.args[0]}
                )
                self.report(demo.summarize(exc.args[0], demo.existing_users(exc.args[0]), {}))
                return
            raise CommandError(
                _("demo county %(county)s already loaded; use --reset to load it again")
                % {"county": exc.args[0]}
            ) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # After the households' transaction: scoring is a job over the committed registry.
        admin = User.objects.get(username=demo.demo_username("county_admin", result.county))
        identify_demo.load_identify_demo(result.county, admin)
        monitor_demo.load_monitor_demo(result.county, admin)
        evaluator = User.objects.get(username=demo.demo_username("evaluator", result.county))
        exit_demo.load_exit_demo(result.county, admin, evaluator, seed=options["seed"])
        self.report(result)

    def report(self, r: demo.DemoResult) -> None:
        w = self.stdout.write
        county = Area.objects.filter(code=r.county).first()
        w(
            self.style.SUCCESS(
                _("Demo county %(code)s %(name)s: %(households)d households, %(people)d people")
                % {
                    "code": r.county,
                    "name": county.name if county else "",
                    "households": r.households,
                    "people": r.people,
                }
            )
        )
        w(_("Households by status:"))
        labels = dict(HouseholdStatus.choices)
        for status, n in sorted(r.by_status.items(), key=lambda kv: -kv[1]):
            w(f"  {status:<14} {n:>6}  {labels.get(status, '')}")
        w(
            _("Poor villages: %(poor)d; deep-poverty villages: %(deep)d")
            % {"poor": r.poor_villages, "deep": r.deep_villages}
        )
        if r.cutoff_points:
            w(_("Identification cutoff: %(cutoff)d points") % {"cutoff": r.cutoff_points})
        campaign = identify_demo.demo_campaign(r.county)
        if campaign is not None:
            w(
                _(
                    "Identification campaign “%(name)s”: quota %(quota)d people, %(status)s "
                    "(scoring job: %(job)s; `make demo` runs it in its worker)"
                )
                % identify_demo.campaign_line(campaign)
            )
        if r.support:
            w(
                _(
                    "Support: cadres %(cadres)d, pairings %(pairings)d, resident teams "
                    "%(teams)d, plans %(plans)d, visits %(visits)d"
                )
                % r.support
            )
        run = WarningRun.objects.filter(area_id=r.county).order_by("-pk").first()
        if run is not None:
            w(
                _(
                    "Return-to-poverty warnings on %(date)s: %(warnings)d (red %(red)d, orange "
                    "%(orange)d, yellow %(yellow)d)"
                )
                % {
                    "date": run.on.isoformat(),
                    "warnings": run.warnings,
                    "red": run.red,
                    "orange": run.orange,
                    "yellow": run.yellow,
                }
            )
        facts = AreaFacts.objects.filter(
            area__code__startswith=r.county, year=EXIT_DEMO_YEAR
        ).count()
        if facts:
            w(
                _("Village and county facts for %(year)s: %(n)d records (village and county exit)")
                % {"year": EXIT_DEMO_YEAR, "n": facts}
            )
        w(_("Data-quality findings (households per rule):"))
        for rule, n in sorted(r.quality.items()):
            w(f"  {rule:<32} {n:>6}")
        if r.seconds:
            w(
                _("Time: %(times)s")
                % {"times": ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())}
            )
        w("")
        w(_("Demo users (password %(password)s; demo only):") % {"password": demo.DEMO_PASSWORD})
        names = dict(
            Area.objects.filter(code__in=[u.area_code for u in r.users]).values_list("code", "name")
        )
        rows = [
            (u.username, u.role, u.area_code, names.get(u.area_code, ""), u.full_name)
            for u in r.users
        ]
        header = ("username", "roles", "area", "area name", "full name")
        widths = [max(_width(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        for row in (header, *rows):
            w("  ".join(_pad(str(x), n) for x, n in zip(row, widths, strict=True)).rstrip())
        kept = [u.username for u in r.users if not u.created]
        if kept:
            w(
                _("Kept existing users (their passwords are unchanged): %(names)s")
                % {"names": ", ".join(kept)}
            )


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
