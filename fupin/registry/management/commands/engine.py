"""`fupin engine`: the identification engine's batch jobs (engine/, DuckDB or Spark).

    fupin engine score --scorecard FILE --input DIR --out FILE [--engine duckdb|spark]
    fupin engine cutoff --scores FILE --quotas FILE --out DIR [--engine duckdb|spark]
    fupin engine match --people FILE --records DIR --out DIR [--engine duckdb|spark]
    fupin engine warn --rules FILE --input DIR --out DIR [--on DATE] [--poverty-line YUAN]
                      [--engine duckdb|spark]

`score` reads DIR/households.parquet and writes household_id, county_code, people, score,
vetoed and each item's points (engine/score.py); `cutoff` draws each county's line from
its quota (engine/cutoff.py); `match` compares people with every DIR/<kind>.parquet of
another department and writes matches.parquet and duplicates.parquet (engine/match.py);
`warn` evaluates return-to-poverty warning rules (返贫预警) over DIR's households, statuses,
incomes and events and writes warnings.parquet (engine/warnings.py).
Nothing touches the database. Each subcommand is handled by
its own method so the two can evolve separately.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from fupin.core.progress import TerminalProgress

ENGINES = ("duckdb", "spark")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(
            _("%(value)s is not a date (YYYY-MM-DD).") % {"value": text}
        ) from None


class Command(BaseCommand):
    help = "Identification engine jobs: score households on a scorecard, cut per county."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="job", metavar="JOB")
        sub.required = True
        score = sub.add_parser("score", help="Score households on a scorecard.")
        score.add_argument("--scorecard", type=Path, required=True, metavar="FILE")
        score.add_argument(
            "--input", type=Path, required=True, metavar="DIR", help="Holds households.parquet."
        )
        score.add_argument("--out", type=Path, required=True, metavar="FILE")
        score.add_argument("--engine", choices=ENGINES, default="duckdb")

        cut = sub.add_parser("cutoff", help="Draw each county's line from its quota.")
        cut.add_argument("--scores", type=Path, required=True, metavar="FILE")
        cut.add_argument("--quotas", type=Path, required=True, metavar="FILE")
        cut.add_argument("--out", type=Path, required=True, metavar="DIR")
        cut.add_argument("--engine", choices=ENGINES, default="duckdb")

        match = sub.add_parser(
            "match", help="Match people with other departments' records; find duplicates."
        )
        match.add_argument("--people", type=Path, required=True, metavar="FILE")
        match.add_argument(
            "--records", type=Path, required=True, metavar="DIR", help="Holds <kind>.parquet."
        )
        match.add_argument("--out", type=Path, required=True, metavar="DIR")
        match.add_argument("--engine", choices=ENGINES, default="duckdb")

        warn = sub.add_parser(
            "warn", help="Raise return-to-poverty warnings from rules over households and events."
        )
        warn.add_argument("--rules", type=Path, required=True, metavar="FILE")
        warn.add_argument(
            "--input",
            type=Path,
            required=True,
            metavar="DIR",
            help="Holds households.parquet (and statuses, members, incomes, events).",
        )
        warn.add_argument("--out", type=Path, required=True, metavar="DIR")
        warn.add_argument(
            "--on", type=_date, default=None, metavar="DATE", help="The day evaluated (today)."
        )
        warn.add_argument(
            "--poverty-line",
            type=float,
            default=None,
            metavar="YUAN",
            help="The line in force (default: the national line of the year of --on).",
        )
        warn.add_argument("--engine", choices=ENGINES, default="duckdb")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["job"] == "score":
            self.score(options)
        elif options["job"] == "match":
            self.match(options)
        elif options["job"] == "warn":
            self.warn(options)
        else:
            self.cutoff(options)

    def score(self, options: dict[str, Any]) -> None:
        from engine.score import run_score
        from engine.scorecard import ScorecardError

        card: Path = options["scorecard"]
        source: Path = options["input"]
        if not card.is_file():
            raise CommandError(_("The scorecard %(path)s does not exist.") % {"path": card})
        if not (source / "households.parquet").is_file():
            raise CommandError(_("%(path)s has no households.parquet.") % {"path": source})
        # The job names its phases in English; spelt out here so makemessages finds them.
        phases = {"Scoring": _("Scoring"), "Written": _("Written")}
        with TerminalProgress(self.stdout) as bar:
            try:
                result = run_score(
                    source,
                    card,
                    options["out"],
                    engine=options["engine"],
                    progress=lambda phase, done, total: bar(phases.get(phase, phase), done, total),
                )
            except ScorecardError as exc:
                # Every problem with its line and item, e.g. a column the data lacks.
                raise CommandError(
                    _("The scorecard cannot score this data:") + "\n" + str(exc)
                ) from None
            except (ValueError, OSError) as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            _(
                "%(households)d households scored (%(vetoed)d vetoed) into %(out)s "
                "in %(seconds).1f s."
            )
            % {
                "households": result["households"],
                "vetoed": result["vetoed"],
                "out": options["out"],
                "seconds": result["seconds"],
            }
        )

    def cutoff(self, options: dict[str, Any]) -> None:
        from engine import cutoff

        phase = _("Cutting")
        # The score job records its card's direction in the file; the cutoff follows it.
        direction = "higher_is_better_off"
        try:
            meta = pq.read_schema(options["scores"]).metadata or {}
            direction = meta.get(b"fupin.direction", direction.encode()).decode()
        except (OSError, ValueError):
            pass  # run_cutoff reports an unreadable file itself
        with TerminalProgress(self.stdout) as bar:
            try:
                cutoff.run_cutoff(
                    options["scores"],
                    options["quotas"],
                    options["out"],
                    engine=options["engine"],
                    progress=lambda done, total: bar(phase, done, total),
                    higher_is_better_off=direction != "higher_is_poorer",
                )
            except (ValueError, OSError) as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(_("Cutoff written to %(out)s.") % {"out": options["out"]})

    def match(self, options: dict[str, Any]) -> None:
        from engine.match import record_files, run_match

        people: Path = options["people"]
        records: Path = options["records"]
        if not people.is_file():
            raise CommandError(_("The people file %(path)s does not exist.") % {"path": people})
        if not records.is_dir() or not record_files(records):
            raise CommandError(
                _("%(path)s holds no department records (<kind>.parquet).") % {"path": records}
            )
        phases = {
            "Exact matching": _("Exact matching"),
            "Fuzzy matching": _("Fuzzy matching"),
            "Duplicates": _("Duplicates"),
            "Written": _("Written"),
        }
        with TerminalProgress(self.stdout) as bar:
            try:
                result = run_match(
                    people,
                    records,
                    options["out"],
                    engine=options["engine"],
                    progress=lambda phase, done, total: bar(phases.get(phase, phase), done, total),
                )
            except (ValueError, OSError) as exc:
                # A missing column or a column of the wrong type, with its file.
                raise CommandError(str(exc)) from None
        self.stdout.write(
            _(
                "%(records)d records compared: %(matches)d matches, %(duplicates)d people "
                "registered twice, written to %(out)s in %(seconds).1f s."
            )
            % {
                "records": result["records"],
                "matches": result["matches"],
                "duplicates": result["duplicates"],
                "out": options["out"],
                "seconds": result["seconds"],
            }
        )

    def warn(self, options: dict[str, Any]) -> None:
        from engine.warnings import WarningRulesError, load_rules, run_warnings
        from fupin.identify import policy

        rules_path: Path = options["rules"]
        source: Path = options["input"]
        on: dt.date = options["on"] or dt.date.today()
        if not rules_path.is_file():
            raise CommandError(_("The rules file %(path)s does not exist.") % {"path": rules_path})
        if not (source / "households.parquet").is_file():
            raise CommandError(_("%(path)s has no households.parquet.") % {"path": source})
        line = options["poverty_line"]
        if line is None:
            found = policy.poverty_line(on.year)
            if found is None:
                raise CommandError(
                    _("No poverty line is recorded for %(year)d: give --poverty-line.")
                    % {"year": on.year}
                )
            line = float(found)
        if line <= 0:
            raise CommandError(_("The poverty line must be a positive number of yuan."))
        try:
            rules = load_rules(rules_path)
        except WarningRulesError as exc:
            raise CommandError(_("The warning rules cannot be used:") + "\n" + str(exc)) from None
        phases = {
            "Reading": _("Reading"),
            "Evaluating": _("Evaluating warning rules"),
            "Written": _("Written"),
        }
        with TerminalProgress(self.stdout) as bar:
            try:
                result = run_warnings(
                    source,
                    rules,
                    options["out"],
                    on=on,
                    poverty_line=line,
                    engine=options["engine"],
                    progress=lambda phase, done, total: bar(phases.get(phase, phase), done, total),
                )
            except WarningRulesError as exc:
                # A rule reading a name the data lacks, with its line.
                raise CommandError(
                    _("The warning rules cannot be used on this data:") + "\n" + str(exc)
                ) from None
            except (ValueError, OSError) as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            _(
                "%(warnings)d warnings for %(households)d households (red %(red)d, orange "
                "%(orange)d, yellow %(yellow)d) on %(on)s written to %(out)s in %(seconds).1f s."
            )
            % {
                "warnings": result["warnings"],
                "households": result["warned_households"],
                "red": result["by_level"]["red"],
                "orange": result["by_level"]["orange"],
                "yellow": result["by_level"]["yellow"],
                "on": on.isoformat(),
                "out": result["out"],
                "seconds": result["seconds"],
            }
        )
        for code, count in result["by_rule"].items():
            self.stdout.write(f"  {code}: {count}")
