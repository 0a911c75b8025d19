"""`fupin quality report --area CODE [--recheck]`: the national data-quality rules over an area."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fupin.core.models import CODE_LENGTH, Area, AreaLevel
from fupin.registry import quality, services
from fupin.registry.models import Household


class Command(BaseCommand):
    help = "Data-quality report of an area by sub-area and rule; --recheck re-runs the rules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["report"])
        parser.add_argument("--area", required=True, help="area code, e.g. 450123")
        parser.add_argument("--recheck", action="store_true", help="re-run every rule first")

    def handle(self, *args: Any, **opts: Any) -> None:
        area = Area.objects.filter(code=opts["area"]).first()
        if area is None:
            raise CommandError(_("No area has the code %(code)s.") % {"code": opts["area"]})
        if opts["recheck"]:

            def progress(done: int, total: int) -> None:
                self.stdout.write(f"\r{done}/{total}", ending="")
                self.stdout.flush()

            count = services.recheck_quality(None, area.code, progress=progress)
            self.stdout.write("")
            self.stdout.write(_("Re-checked %(count)d households.") % {"count": count})
        child = CODE_LENGTH[AreaLevel(min(area.level + 1, AreaLevel.VILLAGE))]
        rows = quality.report(Household.objects.in_area(area.code), child)
        names = dict(
            Area.objects.filter(code__in={r["area"] for r in rows}).values_list("code", "name")
        )
        by_area: dict[str, dict[str, int]] = defaultdict(dict)
        for r in rows:
            by_area[r["area"]][r["rule"]] = r["households"]
        if not by_area:
            self.stdout.write(_("No data-quality problems in %(area)s.") % {"area": area.name})
            return
        for code, rules in sorted(by_area.items()):
            self.stdout.write(f"{code} {names.get(code, '')}")
            for rule, count in sorted(rules.items()):
                self.stdout.write(f"  {count:6d}  {quality.TITLES.get(rule, rule)}")
