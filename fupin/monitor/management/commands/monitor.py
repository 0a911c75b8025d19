"""`fupin monitor warn --area CODE [--on YYYY-MM-DD] [--user NAME]`: the return-to-poverty
warning run over an area in the terminal, with progress, printing its counts — what cron
runs nightly (e.g. `15 2 * * * fupin monitor warn --area 450123`).

Without --user the run is the system's: it reads every household of the area and its audit
entries are signed `system`. With --user it runs with that user's rights and area.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fupin.core.models import Area, User
from fupin.core.progress import TerminalProgress
from fupin.monitor import warnings


class Command(BaseCommand):
    help = "Return-to-poverty warnings: `warn` runs the rules over an area (nightly from cron)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["warn"])
        parser.add_argument("--area", required=True, help="area code, e.g. 450123")
        parser.add_argument("--on", help="the day evaluated, YYYY-MM-DD (default today)")
        parser.add_argument("--user", help="run with this user's rights (default: the system)")

    def handle(self, *args: Any, **opts: Any) -> None:
        area = Area.objects.filter(code=opts["area"]).first()
        if area is None:
            raise CommandError(_("No area has the code %(code)s.") % {"code": opts["area"]})
        on = None
        if opts.get("on"):
            try:
                on = dt.date.fromisoformat(opts["on"])
            except ValueError:
                raise CommandError(
                    _("“%(value)s” is not a date; write it as 2025-03-01.") % {"value": opts["on"]}
                ) from None
        user = None
        if opts.get("user"):
            user = User.objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(_("No active user is called %(name)s.") % {"name": opts["user"]})
        progress = TerminalProgress(self.stdout)
        try:
            run = warnings.run_in_terminal(user, area.code, on=on, progress=progress)
        except (ValidationError, PermissionDenied) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError(" ".join(messages)) from None
        finally:
            progress.close()
        self.stdout.write(
            _(
                "%(area)s on %(date)s (%(rules)s %(version)s, line %(line)s yuan): "
                "%(households)d households, %(warnings)d warnings — red %(red)d, orange "
                "%(orange)d, yellow %(yellow)d; new %(new)d, still raised %(renewed)d, "
                "cleared %(cleared)d."
            )
            % {
                "area": area.name,
                "date": run.on.isoformat(),
                "rules": run.rules_name,
                "version": run.rules_version,
                "line": f"{run.poverty_line:,.0f}",
                "households": run.households,
                "warnings": run.warnings,
                "red": run.red,
                "orange": run.orange,
                "yellow": run.yellow,
                "new": run.new,
                "renewed": run.renewed,
                "cleared": run.cleared,
            }
        )
