"""`fupin import FILE --user USERNAME [--dry-run]`: households from a workbook or CSV.

Every row is checked first; the file is imported whole or not at all. On failure the
problems are printed and the workbook with the bad cells marked is written next to the
file as FILE.errors.xlsx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fupin.core.models import User
from fupin.core.progress import TerminalProgress
from fupin.registry import importing


class Command(BaseCommand):
    help = "Import households from an xlsx workbook (the template) or a CSV file: all or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the .xlsx workbook or .csv file")
        parser.add_argument("--user", required=True, help="the user the import acts as")
        parser.add_argument("--reason", default="", help="kept in every household's history")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No file %(path)s.") % {"path": path})
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No active user %(name)s.") % {"name": opts["user"]})
        bar = TerminalProgress(self.stdout)
        data = path.read_bytes()
        result = importing.run_import(
            user,
            path.name,
            data,
            lambda phase, done, total: bar(
                str(importing.PHASE_LABELS.get(phase, phase)), done, total or None
            ),
            reason=opts["reason"],
            dry_run=opts["dry_run"],
        )
        bar.close()
        for w in result.warnings:
            self.stdout.write(f"{w.sheet} {w.row}: {w.message}")
        if result.errors:
            for e in result.errors[:50]:
                self.stderr.write(f"{e.sheet} {e.row} {e.field}: {e.message}")
            report = path.with_name(f"{path.stem}.errors.xlsx")
            report.write_bytes(importing.error_report(data, result.errors))
            raise CommandError(
                _(
                    "%(n)d problem(s); nothing was imported. The workbook with the problems "
                    "marked: %(report)s"
                )
                % {"n": len(result.errors), "report": report}
            )
        self.stdout.write(
            _(
                "%(created)d households registered, %(updated)d updated, %(unchanged)d "
                "unchanged; %(members_created)d members added, %(members_updated)d changed."
            )
            % {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "members_created": result.members_created,
                "members_updated": result.members_updated,
            }
            + (" " + _("(Checked only: nothing was written.)") if opts["dry_run"] else "")
        )
