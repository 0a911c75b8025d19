"""`fupin generate`: a synthetic province as Parquet files (see engine/synth.py).

    fupin generate --households N --seed S --out DIR [--province CODE]

Writes DIR/households.parquet, DIR/members.parquet, DIR/truth.parquet (the latent wealth
and the ground-truth poverty flag, kept apart from what a survey sees) and DIR/quotas.csv
(the statistics bureau's number of poor people per county). Up to 5,000,000 households;
with `--departments`, also DIR/departments/<kind>.parquet and DIR/departments/truth.parquet:
other departments' records of the same people and of outsiders, with realistic errors and
the truth of who each record belongs to (engine/departments.py); with `--monitoring`, also
DIR/statuses.parquet, DIR/incomes.parquet and DIR/events.parquet: statuses (registered,
exited, closed …), an income history and risk events up to `--on`, the inputs of the
return-to-poverty warnings (engine/monitoring_data.py, `fupin engine warn`);
the same seed, size and province give the same files. Nothing touches the database:
`fupin load DIR` puts the households into the registry.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from engine import departments, monitoring_data, synth
from fupin.core.divisions import iter_divisions
from fupin.core.models import AreaLevel
from fupin.core.progress import TerminalProgress


class Command(BaseCommand):
    help = "Generate a synthetic province (households, members, truth, quotas) as Parquet."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--households",
            type=int,
            required=True,
            metavar="N",
            help=f"Number of households, 1 to {synth.MAX_HOUSEHOLDS:,}.",
        )
        parser.add_argument("--seed", type=int, default=1, metavar="S", help="Random seed.")
        parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="Folder.")
        parser.add_argument(
            "--province",
            default=synth.DEFAULT_PROVINCE,
            metavar="CODE",
            help="2-digit province code (default %(default)s, Guangxi).",
        )
        parser.add_argument(
            "--departments",
            action="store_true",
            help="Also write department records (vehicles, deaths, 低保 …) with errors and truth.",
        )
        parser.add_argument(
            "--records",
            type=int,
            metavar="N",
            help="Department records in all (default: "
            f"{departments.RECORDS_PER_PERSON} per person).",
        )

        parser.add_argument(
            "--monitoring",
            action="store_true",
            help="Also write statuses, an income history and risk events (返贫预警 inputs).",
        )
        parser.add_argument(
            "--on",
            type=dt.date.fromisoformat,
            default=monitoring_data.DEFAULT_ON,
            metavar="DATE",
            help="The monitoring data's date, YYYY-MM-DD (default %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        households, province = options["households"], options["province"]
        if not 1 <= households <= synth.MAX_HOUSEHOLDS:
            raise CommandError(
                _("The number of households must be between 1 and %(max)d.")
                % {"max": synth.MAX_HOUSEHOLDS}
            )
        if province not in {code for code, _n, _p in iter_divisions(AreaLevel.PROVINCE)}:
            raise CommandError(_("No province has the code %(code)s.") % {"code": province})
        if options["records"] is not None and options["records"] < 0:
            raise CommandError(_("The number of records cannot be negative."))
        if out.exists() and not out.is_dir():
            raise CommandError(_("%(path)s is not a folder.") % {"path": out})
        phase = _("Generating households")
        with TerminalProgress(self.stdout) as progress:
            try:
                result = synth.generate(
                    out,
                    households,
                    options["seed"],
                    province,
                    progress=lambda done, total: progress(phase, done, total),
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            _(
                "%(households)d households and %(people)d people in %(villages)d villages of "
                "%(counties)d counties written to %(out)s in %(seconds).1f s."
            )
            % {
                "households": result.households,
                "people": result.members,
                "villages": result.villages,
                "counties": result.counties,
                "out": result.out,
                "seconds": result.seconds,
            }
        )
        self.stdout.write(
            _(
                "Ground truth: %(poor)d poor households, %(poor_people)d poor people; "
                "the counties' quotas add up to %(quota)d people."
            )
            % {
                "poor": result.poor_households,
                "poor_people": result.poor_people,
                "quota": result.quota_people,
            }
        )
        if options["departments"]:
            self._departments(out, options["seed"], options["records"])
        if options["monitoring"]:
            self._monitoring(out, options["seed"], options["on"])

    def _departments(self, out: Path, seed: int, records: int | None) -> None:
        phases = {
            "scan": _("Reading people"),
            "people": _("Drawing department records"),
            "outsiders": _("Drawing records of other residents"),
        }
        with TerminalProgress(self.stdout) as progress:
            result = departments.generate_departments(
                out,
                seed=seed,
                records=records,
                progress=lambda phase, done, total: progress(phases[phase], done, total),
            )
        self.stdout.write(
            _(
                "%(records)d department records (%(insiders)d of registered people, "
                "%(errors)d with errors) written to %(out)s in %(seconds).1f s."
            )
            % {
                "records": result.total,
                "insiders": sum(result.insiders.values()),
                "errors": result.total - result.errors["none"],
                "out": result.out,
                "seconds": result.seconds,
            }
        )

    def _monitoring(self, out: Path, seed: int, on: dt.date) -> None:
        phases = {
            "members": _("Reading people"),
            "households": _("Drawing statuses and incomes"),
            "writing": _("Writing"),
        }
        with TerminalProgress(self.stdout) as progress:
            try:
                result = monitoring_data.generate_monitoring(
                    out,
                    seed,
                    on,
                    progress=lambda phase, done, total: progress(phases[phase], done, total),
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            _(
                "Monitoring data on %(on)s: %(exited)d exited, %(closed)d closed and "
                "%(registered)d registered households, %(incomes)d income rows and %(events)d "
                "events written to %(out)s in %(seconds).1f s."
            )
            % {
                "on": on.isoformat(),
                "exited": result.statuses.get("exited", 0),
                "closed": result.statuses.get("closed", 0),
                "registered": result.statuses.get("registered", 0),
                "incomes": result.income_rows,
                "events": sum(result.events.values()),
                "out": result.out,
                "seconds": result.seconds,
            }
        )
