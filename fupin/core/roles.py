"""Roles and what each may do.

A user has one or more roles; a permission is an action name such as
``registry.change_household``. Which area the action may touch is a separate question,
answered by area scoping (`fupin.core.scoping`): a role says *what*, the area says *where*.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    DATA_OFFICER = "data_officer", _("Data officer")
    REVIEWER = "reviewer", _("Reviewer")
    SUPPORT_CADRE = "support_cadre", _("Support cadre")
    EVALUATOR = "evaluator", _("Evaluator")
    VIEWER = "viewer", _("Viewer")


VIEW = {
    "core.view_area",
    "registry.view_household",
    "registry.view_quality_report",
    "identify.view_campaign",
    "support.view_support",
    "exit.view_exit",
    "monitor.view_monitor",
}
EDIT = {
    "registry.add_household",
    "registry.change_household",
    "registry.export_household",
}

#: What each role may do. The administrator may also see full resident IDs and manage
#: users of its own subtree; a viewer only reads.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.ADMINISTRATOR: VIEW
    | EDIT
    | {
        "registry.transition_household",
        "registry.review_household",
        "registry.view_full_id",
        "core.manage_users",
        "core.view_audit",
        "core.change_area",
        "identify.manage_campaign",
        "identify.record_step",
        "support.manage_support",
        "support.record_support",
        "exit.manage_exit",
        "exit.record_exit",
        # Narrowed by fupin.exit.services to administrators above the county.
        "exit.enter_evaluation",
        "monitor.manage_monitor",
        "monitor.respond_warning",
    },
    Role.DATA_OFFICER: VIEW
    | EDIT
    | {
        "registry.transition_household",
        "registry.view_full_id",
        "identify.record_step",
        "support.record_support",
        "exit.record_exit",
        "monitor.respond_warning",
    },
    Role.REVIEWER: VIEW
    | {
        "registry.transition_household",
        "registry.review_household",
        "core.view_audit",
        "registry.export_household",
        "identify.record_step",
        "exit.record_exit",
    },
    Role.SUPPORT_CADRE: VIEW
    | {"registry.change_household", "support.record_support", "monitor.respond_warning"},
    #: The third-party evaluation's figures of a county (DOMAIN.md §10): 抽样错退, 认可度 …
    Role.EVALUATOR: VIEW | {"registry.export_household", "exit.enter_evaluation"},
    Role.VIEWER: VIEW,
}


def permissions_for(roles: list[str]) -> set[str]:
    perms: set[str] = set()
    for role in roles:
        perms |= ROLE_PERMISSIONS.get(role, set())
    return perms


class RoleBackend(ModelBackend):
    """Django's password authentication, with permissions derived from the user's roles."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if user_obj.is_superuser:
            return set().union(*ROLE_PERMISSIONS.values())
        return permissions_for(getattr(user_obj, "roles", None) or [])

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
