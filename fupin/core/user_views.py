"""User management pages (用户管理): a county or township administrator manages the accounts
of the staff in its area — list, create, edit roles/area/active, reset a password.

Every change goes through `fupin.core.services`; these views only parse, call and show.
Without `core.manage_users` every page is 403; a user outside the actor's subtree is 404,
so its existence is not revealed. `/users/me/password/` lets anyone change their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fupin.core import audit, services
from fupin.core.forms import apply_errors
from fupin.core.models import CODE_LENGTH, Area, AuditEntry, User
from fupin.core.roles import Role
from fupin.core.user_forms import (
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def manager_required(view: View) -> View:
    """Logged in (else the login page) and allowed to manage users (else 403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm("core.manage_users"):
            raise PermissionDenied(_("You do not have the right to manage users."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _actor(request: HttpRequest) -> User:
    """The logged-in user (the views are all behind `manager_required`)."""
    return cast(User, request.user)


def _target(request: HttpRequest, pk: int) -> User:
    """The user `pk` if it is in the actor's subtree, else 404."""
    user = services.visible_users(request.user).select_related("area").filter(pk=pk).first()
    if user is None:
        raise Http404
    return user


def full_names(areas: Iterable[Area | None]) -> dict[str, str]:
    """Full names (province → area) of many areas with one query, for a list page."""
    codes = {a.code for a in areas if a is not None}
    prefixes = {code[:n] for code in codes for n in CODE_LENGTH.values() if n <= len(code)}
    names = dict(Area.objects.filter(code__in=prefixes).values_list("code", "name"))
    lengths = sorted(CODE_LENGTH.values())
    return {
        code: "".join(names.get(code[:n], "") for n in lengths if n <= len(code)) for code in codes
    }


def role_labels(roles: Iterable[str]) -> list[str]:
    labels = dict(Role.choices)
    return [str(labels.get(r, r)) for r in roles]


@manager_required
def user_list(request: HttpRequest) -> HttpResponse:
    users = services.visible_users(request.user).select_related("area")
    form = UserFilterForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            users = users.filter(
                Q(username__icontains=data["q"]) | Q(full_name__icontains=data["q"])
            )
        if data["area"]:
            users = users.filter(area__code__startswith=data["area"].strip())
        if data["role"]:
            # The roles are a JSON list; matching the quoted value in its text works on
            # SQLite and PostgreSQL alike (SQLite has no JSON `contains`).
            users = users.filter(roles__icontains=f'"{data["role"]}"')
        if data["active"]:
            users = users.filter(is_active=data["active"] == "1")
    page = Paginator(users.order_by("area_id", "username"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    names = full_names(u.area for u in page)
    rows = [
        {
            "user": u,
            "area_name": names.get(u.area_id or "", ""),
            "roles": role_labels(u.roles or []),
        }
        for u in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "users/list.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
    )


def _reason(form: Form, default: Any) -> str:
    return form.cleaned_data.get("reason") or str(default)


@manager_required
def user_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = UserCreateForm(request.POST or None, initial={"area": actor.area_id or ""})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.create_user(
                actor=actor,
                username=data["username"],
                password=data["password"],
                area_code=data["area"].strip(),
                roles=data["roles"],
                full_name=data["full_name"].strip(),
                phone=data["phone"].strip(),
                reason=_reason(form, gettext_lazy("created on the user page")),
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("users:edit", pk=user.pk)
    return render(request, "users/create.html", {"form": form})


@manager_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    user = _target(request, pk)
    is_self = user.pk == actor.pk
    form = UserEditForm(request.POST or None, user=user, is_self=is_self)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_user(
                actor,
                user,
                roles=data["roles"],
                area_code=data["area"],
                full_name=data["full_name"],
                phone=data["phone"],
                is_active=data["is_active"],
                reason=data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            messages.success(request, _("User %(name)s saved.") % {"name": user.username})
            return redirect("users:edit", pk=user.pk)
    area = user.area
    history = audit_entries(user)
    return render(
        request,
        "users/edit.html",
        {
            "target": user,
            "form": form,
            "is_self": is_self,
            "area_name": full_names([area]).get(area.code, "") if area else "",
            "roles": role_labels(user.roles or []),
            "history": history,
        },
    )


#: How the account's history names its audit actions and the fields they change.
ACTION_LABELS = {
    "core.user.create": gettext_lazy("Account created"),
    "core.user.update": gettext_lazy("Account changed"),
    "core.user.set_password": gettext_lazy("Password reset by an administrator"),
    "core.user.change_own_password": gettext_lazy("Password changed by the user"),
}
FIELD_LABELS = {
    "username": gettext_lazy("Username"),
    "roles": gettext_lazy("Roles"),
    "area": gettext_lazy("Area"),
    "is_active": gettext_lazy("Active"),
    "full_name": gettext_lazy("Full name"),
    "phone": gettext_lazy("Phone"),
}


def _shown(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if key == "roles" and isinstance(value, list):
        return ", ".join(role_labels(value)) or "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return str(value)


def audit_entries(user: User, limit: int = 20) -> list[dict[str, Any]]:
    """The latest changes to this account, newest first, as the history table shows them.

    Password entries have no fields to show: the trail never holds a password.
    """
    entries = AuditEntry.objects.filter(
        object_type=User._meta.label_lower, object_id=str(user.pk)
    ).order_by("-id")[:limit]
    rows = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = [
            (
                FIELD_LABELS[key],
                _shown(key, before[key]) if key in before else None,
                _shown(key, after.get(key)),
            )
            for key in FIELD_LABELS
            if key in after
        ]
        rows.append(
            {
                "timestamp": entry.timestamp,
                "username": entry.username,
                "label": ACTION_LABELS.get(entry.action, entry.action),
                "changes": changes,
                "reason": entry.reason,
            }
        )
    return rows


@manager_required
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    user = _target(request, pk)
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_password(
                actor,
                user,
                form.cleaned_data["password"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_errors(exc, {"": form})
        else:
            if user.pk == actor.pk:
                update_session_auth_hash(request, user)
            messages.success(
                request,
                _("The password of %(name)s was reset. Tell the user in person, not by message.")
                % {"name": user.username},
            )
            return redirect("users:edit", pk=user.pk)
    return render(request, "users/password.html", {"target": user, "form": form})


class OwnPasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (needs the old one); audited like every change."""

    template_name = "users/password_change.html"
    success_url = reverse_lazy("home")

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        for field in form.fields.values():
            field.widget.attrs["class"] = "form-control"
        return form

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            user = self.request.user
            audit.record(
                user=user,
                action="core.user.change_own_password",
                obj=user,  # type: ignore[arg-type]
                area_code=getattr(user, "area_id", None) or "",
                after={"password": "changed"},
            )
        messages.success(self.request, _("Your password was changed."))
        return response


own_password_change = OwnPasswordChangeView.as_view()
