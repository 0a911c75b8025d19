"""The poor-county flag (贫困县, `Area.is_poor_county`): set through
`core.area_services.mark_county_flag` like the village flags — the right, the area, the
province level (the list is the state's and the province's), a reason, one audit entry —
and from the area tree. The difficulty ranking ranks the flagged counties (seed 000 line
142, "对贫困县摘帽，选择…8个客观指标"; fupin/exit/tests/test_area_review.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from fupin.core.area_services import mark_county_flag
from fupin.core.models import Area, AuditEntry


def test_county_flag_by_the_province_with_reason_and_audit(
    make_user: Callable[..., Any], county_user: Any
) -> None:
    with pytest.raises(PermissionDenied):
        mark_county_flag(county_user, "450102", True, "县自报")  # not the county's own
    with pytest.raises(PermissionDenied):
        mark_county_flag(make_user("officer", "45", "data_officer"), "450102", True, "无权")
    province = make_user("gx", "45", "administrator")
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        mark_county_flag(province, "450102100", True, "")
    assert exc.value.message_dict == {
        "code": ["No county has the code 450102100."],
        "reason": ["Give the reason for this change."],
    }
    mark_county_flag(province, "450102", True, "重点县名单")
    assert Area.objects.get(code="450102").is_poor_county
    entry = AuditEntry.objects.get(action="core.area.county_flag")
    assert (entry.before, entry.after) == ({"is_poor_county": False}, {"is_poor_county": True})
    assert entry.reason == "重点县名单"
    mark_county_flag(None, "450102", False, "console")  # the console (the demo) may
    assert not Area.objects.get(code="450102").is_poor_county


def test_area_tree_offers_the_county_flag_to_the_province(
    make_user: Callable[..., Any], county_user: Any
) -> None:
    province = make_user("gx", "45", "administrator")
    c = Client()
    c.force_login(province)
    page = c.post(
        reverse("county_flags", args=["450102"]), {"is_poor_county": "on", "reason": "名单"}
    )
    assert page.status_code == 302 and Area.objects.get(code="450102").is_poor_county
    tree = c.get(reverse("area_children", args=["4501"])).content.decode()
    assert reverse("county_flags", args=["450102"]) in tree
    county = Client()
    county.force_login(county_user)
    assert county.get(reverse("county_flags", args=["450103"])).status_code == 404
