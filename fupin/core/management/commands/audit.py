from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import AuditEntry


class Command(BaseCommand):
    help = "Audit trail: `fupin audit verify` checks the hash chain and says where it breaks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **opts: Any) -> None:
        total = AuditEntry.objects.count()
        checked = 0
        for step in audit.verify():
            if isinstance(step, audit.ChainBreak):
                self.stdout.write("")
                raise CommandError(
                    _(
                        "The audit chain breaks at entry %(id)d (%(problem)s): it or an entry "
                        "before it was changed or removed. %(checked)d entries before it are "
                        "intact."
                    )
                    % {"id": step.entry_id, "problem": step.problem, "checked": checked}
                )
            checked = step
            if self.stdout.isatty():
                self.stdout.write(f"\r{checked}/{total}", ending="")
        self.stdout.write(_("Audit chain intact: %(count)d entries verified.") % {"count": checked})
