"""`fupin export`: the household list (or its members) to CSV or xlsx, as a user sees it.

    fupin export --user U [--filter key=value ...] --format csv|xlsx [--members] --out FILE

The export is exactly the one the user would get from the list page: his area only, the
list's filters (`area=450102100`, `status=registered`, `cause=1`, `income_band=lt3000`, …;
a key given twice keeps both values), resident IDs masked unless his role may see them,
and no row cap. Progress is shown on the terminal.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from fupin.core.models import User
from fupin.core.progress import TerminalProgress
from fupin.registry import exports


class Command(BaseCommand):
    help = "Export the household list (or its members) as a user sees it, to CSV or xlsx."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--user", required=True, help="Username whose area and role apply.")
        parser.add_argument(
            "--filter",
            dest="filters",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A filter of the household list, e.g. area=450102100 or status=registered.",
        )
        parser.add_argument("--format", choices=exports.FORMATS, default="csv")
        parser.add_argument(
            "--members", action="store_true", help="One row per current member, not household."
        )
        parser.add_argument("--out", required=True, type=Path, help="The file to write.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No active user is called %(name)s.") % {"name": options["user"]})
        if not user.has_perm("registry.export_household"):
            raise CommandError(_("%(name)s may not export households.") % {"name": user.username})
        filters: dict[str, list[str]] = {}
        for item in options["filters"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(
                    _("A filter is written key=value, not %(item)s.") % {"item": item}
                )
            filters.setdefault(key.strip(), []).append(value.strip())
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(_("The folder %(dir)s does not exist.") % {"dir": out.parent})
        started = time.monotonic()
        with TerminalProgress(self.stdout) as progress:
            try:
                counts = exports.export_to_path(
                    user,
                    exports.filter_query(filters),
                    out,
                    fmt=options["format"],
                    members=options["members"],
                    progress=progress,
                )
            except ValidationError as exc:
                problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                raise CommandError(
                    _("The filters are not valid: %(problems)s") % {"problems": problems}
                ) from exc
        message = _("%(rows)d rows written to %(file)s in %(seconds).1f s.") % {
            "rows": counts["rows"],
            "file": out,
            "seconds": time.monotonic() - started,
        }
        if counts.get("sheets", 1) > 1:
            message += " " + _("%(sheets)d sheets.") % {"sheets": counts["sheets"]}
        self.stdout.write(self.style.SUCCESS(message))
