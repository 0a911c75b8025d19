"""Services that change areas (行政区划) — the poverty flags of a village and of a county.

DOMAIN.md §2: each village carries the flags 贫困村 (poor village) and 深度贫困村 (deep-poverty
village: poverty incidence ≥ 20% plus other factors, Hunan). The flags are a county decision
recorded with its reason. A county carries 贫困县 (poor county): the list the difficulty
ranking ranks (seed 000 line 142, "对贫困县摘帽，选择…8个客观指标"); national and provincial, so it
is recorded at province level or above. The division table loader (`fupin.core.divisions`)
never touches the flags. Like every service (DESIGN.md "State changes only in
services.py"), each checks who acts, validates, writes and appends an audit entry in one
transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fupin.core import audit
from fupin.core.models import Area, AreaLevel
from fupin.core.services import require_area

#: Held by administrators (fupin.core.roles); the level test below narrows it to counties
#: and above.
CHANGE_AREA = "core.change_area"


def _check_actor(user: Any, village: Area) -> None:
    """None is the console (like `create_user`); anyone else needs the right and the area."""
    if user is None:
        return
    if not user.has_perm(CHANGE_AREA):
        raise PermissionDenied(_("You do not have the right to do this."))
    require_area(user, village.code)
    area = getattr(user, "area", None)
    if not user.is_superuser and (area is None or area.level > AreaLevel.COUNTY):
        # A village may not declare itself poor: the decision is the county's or above.
        raise PermissionDenied(_("Poor villages are designated at county level or above."))


@transaction.atomic
def mark_village_flags(user: Any, code: str, is_poor: bool, is_deep: bool, reason: str) -> Area:
    """Set or clear a village's 贫困村 / 深度贫困村 flags, with the reason (DOMAIN.md §2).

    A deep-poverty village is a poor village, so `is_deep` requires `is_poor`. Nothing is
    written, and nothing audited, when the flags already have the requested values.
    """
    village = Area.objects.select_for_update().filter(code=code).first()
    errors: dict[str, list[str]] = {}
    if village is None or village.level != AreaLevel.VILLAGE:
        errors["code"] = [_("No village has the code %(code)s.") % {"code": code}]
    if is_deep and not is_poor:
        errors["is_deep_poverty_village"] = [
            _("A deep-poverty village is also a poor village: mark it poor too.")
        ]
    if not reason.strip():
        errors["reason"] = [_("Give the reason for this change.")]
    if errors:
        raise ValidationError(errors)
    assert village is not None
    _check_actor(user, village)
    before = {
        "is_poor_village": village.is_poor_village,
        "is_deep_poverty_village": village.is_deep_poverty_village,
    }
    after = {"is_poor_village": bool(is_poor), "is_deep_poverty_village": bool(is_deep)}
    if before == after:
        return village
    village.is_poor_village = after["is_poor_village"]
    village.is_deep_poverty_village = after["is_deep_poverty_village"]
    village.save(update_fields=["is_poor_village", "is_deep_poverty_village"])
    audit.record(
        user=user,
        action="core.area.flags",
        obj=village,
        area_code=village.code,
        before=before,
        after=after,
        reason=reason,
    )
    return village


def _check_county_actor(user: Any, county: Area) -> None:
    """None is the console; anyone else needs the right, the area and the province."""
    if user is None:
        return
    if not user.has_perm(CHANGE_AREA):
        raise PermissionDenied(_("You do not have the right to do this."))
    require_area(user, county.code)
    area = getattr(user, "area", None)
    if not user.is_superuser and (area is None or area.level > AreaLevel.PROVINCE):
        # The poor-county list is the state's and the province's, not the county's own.
        raise PermissionDenied(_("Poor counties are designated at province level or above."))


@transaction.atomic
def mark_county_flag(user: Any, code: str, is_poor: bool, reason: str) -> Area:
    """Set or clear a county's 贫困县 flag, with the reason (the decision's document).
    Nothing is written, and nothing audited, when the flag already has the value."""
    county = Area.objects.select_for_update().filter(code=code).first()
    errors: dict[str, list[str]] = {}
    if county is None or county.level != AreaLevel.COUNTY:
        errors["code"] = [_("No county has the code %(code)s.") % {"code": code}]
    if not reason.strip():
        errors["reason"] = [_("Give the reason for this change.")]
    if errors:
        raise ValidationError(errors)
    assert county is not None
    _check_county_actor(user, county)
    before = {"is_poor_county": county.is_poor_county}
    after = {"is_poor_county": bool(is_poor)}
    if before == after:
        return county
    county.is_poor_county = after["is_poor_county"]
    county.save(update_fields=["is_poor_county"])
    audit.record(
        user=user,
        action="core.area.county_flag",
        obj=county,
        area_code=county.code,
        before=before,
        after=after,
        reason=reason,
    )
    return county
