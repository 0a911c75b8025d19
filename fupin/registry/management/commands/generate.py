"""`fupin generate`: a synthetic province as Parquet files (see engine/synth.py).

    fupin generate --households N --seed S --out DIR [--province CODE]

Writes DIR/households.parquet, DIR/members.parquet, DIR/truth.parquet (the latent wealth
and the ground-truth poverty flag, kept apart from what a survey sees) and DIR/quotas.csv
(the statistics bureau's number of poor people per county). Up to 5,000,000 households;
the same seed, size and province give the same files. Nothing touches the database:
`fupin load DIR` puts the households into the registry.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from engine import synth
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
