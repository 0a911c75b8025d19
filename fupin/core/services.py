"""Core services: users and the checks every service of every app shares."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import Area, User
from fupin.core.roles import Role
from fupin.core.scoping import area_prefix, user_can_reach


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
    phone: str = "",
    reason: str = "",
) -> User:
    """Create a user bound to an area with roles; the actor None means the console.

    The right is checked before anything else so an actor without it learns nothing (not
    even whether a username exists); then every field error is collected at once.
    """
    if actor is not None:
        require(actor, "core.manage_users")
    errors = new_user_errors(
        actor, username=username, password=password, area_code=area_code, roles=roles
    )
    if errors:
        raise ValidationError(errors)
    area = Area.objects.get(code=area_code)
    with transaction.atomic():
        user = User(
            username=username, area=area, roles=list(roles), full_name=full_name, phone=phone
        )
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


# -- user management (用户管理) -------------------------------------------------------------
#
# A county or township administrator creates accounts for the staff below it, assigns
# roles, resets forgotten passwords and disables the accounts of people who leave. The
# rules, checked here so that pages, API and console behave the same:
# - the actor needs `core.manage_users`, and both the user and any new area lie in the
#   actor's area subtree;
# - an actor grants or revokes only roles it holds itself, unless it is an administrator;
# - an actor never changes its own roles or area, nor deactivates itself (no lock-out);
# - every change is audited; a password never is, only the fact that it was reset.
# `actor=None` means the console, as for `create_user`.

#: The user fields `update_user` changes and the audit trail records, before and after.
USER_AUDIT_FIELDS = ("roles", "area", "is_active", "full_name", "phone")


def visible_users(actor: Any) -> models.QuerySet[User]:
    """The users bound to an area in the actor's subtree (a superuser sees every user)."""
    prefix = area_prefix(actor)
    if prefix is None:
        return User.objects.none()
    if prefix == "":
        return User.objects.all()
    return User.objects.filter(area__code__startswith=prefix)


def can_grant_role(actor: Any, role: str) -> bool:
    """Whether the actor may give (or take away) `role`: an administrator may give any."""
    if actor is None or actor.is_superuser or actor.has_role(Role.ADMINISTRATOR):
        return True
    return bool(actor.has_role(role))


def grant_errors(actor: Any, roles: list[str], current: list[str] | None = None) -> list[str]:
    """Why the actor may not change a user's roles from `current` to `roles` (or [])."""
    changed = sorted(set(roles) ^ set(current or []))
    refused = [r for r in changed if r in Role.values and not can_grant_role(actor, r)]
    if not refused:
        return []
    return [
        _("You cannot grant or take away the role %(roles)s: you do not hold it yourself.")
        % {"roles": ", ".join(str(Role(r).label) for r in refused)}
    ]


def user_area_errors(actor: Any, area_code: str) -> tuple[Area | None, list[str]]:
    """The area with `area_code` if it exists and the actor reaches it, else the reasons."""
    area = Area.objects.filter(code=area_code).first()
    if area is None:
        return None, [_("No area has the code %(code)s.") % {"code": area_code}]
    if actor is not None and not user_can_reach(actor, area.code):
        return None, [
            _("The area %(code)s (%(name)s) is outside your area.")
            % {"code": area.code, "name": area.name}
        ]
    return area, []


def new_user_errors(
    actor: Any, *, username: str, password: str, area_code: str, roles: list[str]
) -> dict[str, list[str]]:
    """Every reason the actor may not create this user, by field, before `create_user`.

    Checks what `create_user` checks and also the actor's side: the area must be in the
    actor's subtree (`create_user` refuses that with 403) and the roles grantable by it.
    """
    errors: dict[str, list[str]] = {}
    area_errors = user_area_errors(actor, area_code)[1]
    if area_errors:
        errors["area"] = area_errors
    unknown = [r for r in roles if r not in Role.values]
    if unknown or not roles:
        errors["roles"] = [
            _("Unknown role %(role)s; the roles are %(roles)s.")
            % {"role": ", ".join(unknown) or "—", "roles": ", ".join(Role.values)}
        ]
    elif refused := grant_errors(actor, roles):
        errors["roles"] = refused
    if User.objects.filter(username=username).exists():
        errors["username"] = [_("The username %(name)s is taken.") % {"name": username}]
    try:
        password_validation.validate_password(password, User(username=username))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    return errors


def _require_manager_of(actor: Any, user: User) -> None:
    if actor is None:
        return
    require(actor, "core.manage_users")
    require_area(actor, user.area_id or "")


def _user_state(user: User) -> dict[str, Any]:
    state = {
        name: getattr(user, "area_id" if name == "area" else name) for name in USER_AUDIT_FIELDS
    }
    state["roles"] = sorted(state["roles"] or [])
    return state


def update_user(
    actor: Any,
    user: User,
    *,
    roles: list[str] | None = None,
    area_code: str | None = None,
    full_name: str | None = None,
    phone: str | None = None,
    is_active: bool | None = None,
    reason: str = "",
) -> User:
    """Change a user's roles, area, name, phone or active flag; None leaves a field alone.

    Raises PermissionDenied if the actor may not manage users or does not reach the user,
    and ValidationError with every field's problems at once; nothing is written then.
    Deactivating a user ends its sessions and API tokens at their next request.
    """
    _require_manager_of(actor, user)
    is_self = actor is not None and actor.pk == user.pk
    errors: dict[str, list[str]] = {}
    area: Area | None = None

    if roles is not None:
        roles = list(dict.fromkeys(roles))
        unknown = [r for r in roles if r not in Role.values]
        if unknown or not roles:
            errors["roles"] = [
                _("Unknown role %(role)s; the roles are %(roles)s.")
                % {"role": ", ".join(unknown) or "—", "roles": ", ".join(Role.values)}
            ]
        elif is_self and set(roles) != set(user.roles or []):
            errors["roles"] = [_("You cannot change your own roles.")]
        else:
            refused = grant_errors(actor, roles, list(user.roles or []))
            if refused:
                errors["roles"] = refused
    if area_code is not None:
        area_code = area_code.strip()
        area, area_errors = user_area_errors(actor, area_code)
        if area_errors:
            errors["area"] = area_errors
        elif is_self and area_code != user.area_id:
            errors["area"] = [_("You cannot move yourself to another area.")]
    if is_active is not None and is_self and not is_active:
        errors["is_active"] = [_("You cannot deactivate your own account.")]
    texts = {"full_name": full_name, "phone": phone}
    for name, value in texts.items():
        if value is None:
            continue
        limit = getattr(User._meta.get_field(name), "max_length", None)
        if limit is not None and len(value.strip()) > limit:
            errors[name] = [
                _("At most %(limit)d characters, not %(count)d.")
                % {"limit": limit, "count": len(value.strip())}
            ]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = _user_state(locked)
        if roles is not None:
            locked.roles = roles
        if area is not None:
            locked.area = area
        if full_name is not None:
            locked.full_name = full_name.strip()
        if phone is not None:
            locked.phone = phone.strip()
        if is_active is not None:
            locked.is_active = is_active
        was, now = audit.diff(before, _user_state(locked))
        if now:
            locked.save(update_fields=list(USER_AUDIT_FIELDS))
            audit.record(
                user=actor,
                action="core.user.update",
                obj=locked,
                area_code=locked.area_id or "",
                before=was,
                after=now,
                reason=reason,
            )
    for name in (*USER_AUDIT_FIELDS, "area_id"):
        setattr(user, name, getattr(locked, name))
    return user


def set_password(actor: Any, user: User, password: str, reason: str = "") -> User:
    """Reset a user's password (a forgotten one, or a new account's first).

    The audit entry records that the password was reset, never the password. The user's
    other sessions end, since Django ties a session to the password hash.
    """
    _require_manager_of(actor, user)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            user=actor,
            action="core.user.set_password",
            obj=user,
            area_code=user.area_id or "",
            after={"password": "reset"},
            reason=reason,
        )
    return user
