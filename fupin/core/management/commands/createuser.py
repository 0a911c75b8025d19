from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fupin.core import services
from fupin.core.roles import Role


class Command(BaseCommand):
    help = "Create a user bound to an area with one or more roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--area", required=True, help="area code, e.g. 450102")
        parser.add_argument(
            "--role",
            required=True,
            action="append",
            help=f"repeat or separate by commas: {', '.join(Role.values)}",
        )
        parser.add_argument("--full-name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        roles = [r.strip() for value in opts["role"] for r in value.split(",") if r.strip()]
        try:
            user = services.create_user(
                actor=None,
                username=opts["username"],
                password=opts["password"],
                area_code=opts["area"],
                roles=roles,
                full_name=opts["full_name"],
                reason=_("created from the console"),
            )
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(
            _("Created user %(user)s in %(area)s with roles %(roles)s.")
            % {"user": user.username, "area": user.area, "roles": ", ".join(roles)}
        )
