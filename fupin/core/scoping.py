"""Area scoping: the one mechanism that restricts people's data to a user's area subtree.

Every model holding people's data declares `area_lookup`, the path to the area code it
belongs to (for a household, its village). `scope_to_user` filters a queryset to the
rows whose area code starts with the user's area code: pages, API, exports and search all
go through `ScopedQuerySet.for_user`, so there is no path around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from fupin.core.models import Area

M = TypeVar("M", bound=models.Model)


def area_prefix(user: Any) -> str | None:
    """The code prefix the user may see; "" for everything; None for nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    return user.area_id or None


class ScopedQuerySet(models.QuerySet[M]):
    def for_user(self, user: Any) -> ScopedQuerySet[M]:
        prefix = area_prefix(user)
        if prefix is None:
            return self.none()
        if prefix == "":
            return self
        lookup = self.model.area_lookup  # type: ignore[attr-defined]
        return self.filter(**{f"{lookup}__startswith": prefix})

    def overlapping_user(self, user: Any) -> ScopedQuerySet[M]:
        """Rows whose area contains the user's area or lies in it: work that covers an area
        (a county's identification campaign) is seen by the village cadres who take part in
        it, while the people's data inside it stays under `for_user`."""
        prefix = area_prefix(user)
        if prefix is None:
            return self.none()
        if prefix == "":
            return self
        lookup = self.model.area_lookup  # type: ignore[attr-defined]
        return self.filter(
            models.Q(**{f"{lookup}__startswith": prefix})
            | models.Q(**{f"{lookup}__in": ancestor_codes(prefix)})
        )

    def in_area(self, code: str) -> ScopedQuerySet[M]:
        lookup = self.model.area_lookup  # type: ignore[attr-defined]
        return self.filter(**{f"{lookup}__startswith": code})

    def get_for_user(self, user: Any, **lookup: Any) -> M:
        """One object the user may see, or 404 — never 403, so existence is not leaked."""
        try:
            return self.for_user(user).get(**lookup)
        except (ObjectDoesNotExist, ValueError, TypeError) as exc:
            raise Http404 from exc


def ancestor_codes(code: str) -> list[str]:
    """The codes of the areas above `code` (province, city, county, township)."""
    from fupin.core.models import CODE_LENGTH

    return [code[:n] for n in CODE_LENGTH.values() if n < len(code)]


def user_can_reach(user: Any, area_code: str) -> bool:
    prefix = area_prefix(user)
    return prefix is not None and area_code.startswith(prefix)


def visible_areas(user: Any) -> models.QuerySet[Area]:
    """The user's subtree and the chain of ancestors above it (to navigate down from the top)."""
    from fupin.core.models import Area

    prefix = area_prefix(user)
    if prefix is None:
        return Area.objects.none()
    qs = Area.objects.all()
    if prefix:
        qs = qs.filter(
            models.Q(code__startswith=prefix) | models.Q(code__in=ancestor_codes(prefix))
        )
    return qs
