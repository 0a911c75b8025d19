"""Core services: users and the checks every service of every app shares."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import Area, User
from fupin.core.roles import Role
from fupin.core.scoping import user_can_reach


class StaleEdit(Exception):
    """Someone else saved the record since this editor loaded it (乐观锁冲突)."""

    def __init__(self, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(
            _(
                "This record was changed by someone else after you opened it (now version "
                "%(version)d). Reload it, check their change, and make yours again."
            )
            % {"version": current_version}
        )


def require(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(_("You do not have the right to do this."))


def require_area(user: Any, area_code: str) -> None:
    if not user_can_reach(user, area_code):
        raise PermissionDenied(_("This record is outside your area."))


def create_user(
    *,
    actor: Any,
    username: str,
    password: str,
    area_code: str,
    roles: list[str],
    full_name: str = "",
    reason: str = "",
) -> User:
    """Create a user bound to an area with roles; the actor None means the console."""
    errors: dict[str, list[str]] = {}
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        errors["area"] = [_("No area has the code %(code)s.") % {"code": area_code}]
    unknown = [r for r in roles if r not in Role.values]
    if unknown or not roles:
        errors["roles"] = [
            _("Unknown role %(role)s; the roles are %(roles)s.")
            % {"role": ", ".join(unknown) or "—", "roles": ", ".join(Role.values)}
        ]
    if User.objects.filter(username=username).exists():
        errors["username"] = [_("The username %(name)s is taken.") % {"name": username}]
    if len(password) < 8:
        errors["password"] = [_("A password has at least 8 characters.")]
    if errors:
        raise ValidationError(errors)
    assert area is not None
    if actor is not None:
        require(actor, "core.manage_users")
        require_area(actor, area.code)
    with transaction.atomic():
        user = User(username=username, area=area, roles=list(roles), full_name=full_name)
        user.set_password(password)
        user.save()
        audit.record(
            user=actor,
            action="core.user.create",
            obj=user,
            area_code=area.code,
            after={"username": username, "area": area.code, "roles": roles},
            reason=reason,
        )
    return user
