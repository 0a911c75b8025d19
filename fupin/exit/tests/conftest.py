"""Exit tests: crafted households in 兴宁区 (Guangxi), 邵阳县 (Hunan) and 榆中县 (Gansu),
registered in early 2017, each paired with a support cadre, so the standards and the
procedure see exactly the data a test sets."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from fupin.core.models import Area, AreaLevel
from fupin.core.testing import person
from fupin.exit import services
from fupin.registry import services as registry
from fupin.registry.models import Household
from fupin.support import services as support

GUANGXI_VILLAGE = "450102100201"  # 三塘村
GUANGXI_VILLAGE_2 = "450102100202"  # 四塘村
GUANGXI_OTHER_TOWNSHIP = "450102101201"  # 五塘村
HUNAN_VILLAGE = "430523100201"
GANSU_VILLAGE = "620123100201"
REGISTERED_ON = dt.date(2017, 1, 25)
MORE_AREAS = [
    ("43", "湖南省", AreaLevel.PROVINCE, None),
    ("4305", "邵阳市", AreaLevel.CITY, "43"),
    ("430523", "邵阳县", AreaLevel.COUNTY, "4305"),
    ("430523100", "塘渡口镇", AreaLevel.TOWNSHIP, "430523"),
    ("430523100201", "塘渡口村", AreaLevel.VILLAGE, "430523100"),
    ("62", "甘肃省", AreaLevel.PROVINCE, None),
    ("6201", "兰州市", AreaLevel.CITY, "62"),
    ("620123", "榆中县", AreaLevel.COUNTY, "6201"),
    ("620123100", "城关镇", AreaLevel.TOWNSHIP, "620123"),
    ("620123100201", "城关村", AreaLevel.VILLAGE, "620123100"),
]
#: A household that meets Guangxi's 八有一超 on its data: 2017 income (the year the tests
#: judge) 4,000 yuan a head (line 3,335), a concrete road to the door, safe water, power,
#: TV, insured members.
FINE = {"road_surface": "concrete", "income": {"year": 2017, "wage": 8000, "business": 0}}


@pytest.fixture(autouse=True)
def _english() -> Any:
    # Refusals are checked by their English msgids, whatever the catalogue holds.
    with translation.override("en"):
        yield


@pytest.fixture
def all_areas(areas: dict[str, Area]) -> dict[str, Area]:
    made = dict(areas)
    for code, name, level, parent in MORE_AREAS:
        made[code] = Area.objects.create(
            code=code, name=name, level=level, parent=made.get(parent) if parent else None
        )
    return made


@pytest.fixture
def admin(all_areas: dict[str, Area], county_user: Any) -> Any:
    """The county administrator of 兴宁区 (every exit right)."""
    return county_user


@pytest.fixture
def make_user_in(all_areas: dict[str, Area]) -> Callable[..., Any]:
    from fupin.core.models import User

    def make(username: str, area: str, *roles: str) -> Any:
        user = User(username=username, area=all_areas[area], roles=list(roles or ["administrator"]))
        user.set_password("secret-pass-1")
        user.save()
        return user

    return make


@pytest.fixture
def cadre_for(all_areas: dict[str, Area]) -> Callable[..., Any]:
    """A new support cadre of a county (a cadre takes at most 3 households, seed 004)."""

    def make(user: Any, county: str) -> Any:
        return support.create_cadre(
            user,
            {
                "name": "王干部",
                "sex": "1",
                "id_number": person(born=dt.date(1975, 3, 3), area="450103")["id_number"],
                "employer": "县扶贫办",
                "post": "科员",
                "in_service": True,
                "level": "county",
                "area": county,
            },
        )

    return make


@pytest.fixture
def registered(
    all_areas: dict[str, Area], cadre_for: Callable[..., Any]
) -> Callable[..., Household]:
    """A registered household (registered on REGISTERED_ON) with a support cadre, made by
    `user` (an administrator of its county or above)."""

    def make(
        user: Any,
        village: str = GUANGXI_VILLAGE,
        *,
        members: list[dict[str, Any]] | None = None,
        paired: bool = True,
        **data: Any,
    ) -> Household:
        data = {**FINE, **data}
        income = data.pop("income")
        county = village[:6]
        rows = members or [
            person(area=county, name="户主"),
            person("02", male=False, area=county, name="配偶"),
        ]
        household = registry.create_household(
            user,
            {"village": village, "head_name": "户主", "main_cause": "9", **data},
            rows,
            income,
            surveyed_on=dt.date(2016, 12, 1),
        )
        day = dt.date(2017, 1, 5)
        for step in ("propose", "start_notice", "register"):
            registry.transition_household(user, household, step, reason="评议通过", date=day)
            day += dt.timedelta(days=10)
        household.refresh_from_db()
        if paired:
            support.pair(user, cadre_for(user, county), household, REGISTERED_ON)
        return household

    return make


def scan(name: str = "record.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\xff\xd8 signed record scan", content_type="image/jpeg")


def drawn(blank: bool = False) -> str:
    """A PNG data URL as the page's canvas makes it: a stroke, or nothing drawn."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line((5, 30, 60, 5, 115, 30), fill=(0, 0, 0, 255), width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def all_met(round_: Any, **unmet: str) -> dict[str, services.ItemInput]:
    """Every item of the round's acceptance standard met, except those named (with a note)."""
    standard = services.acceptance_standard(round_)
    assert standard is not None
    return {
        i.code: services.ItemInput(i.code not in unmet, unmet.get(i.code, ""))
        for i in standard.items
    }


def three_signatures(**override: Any) -> dict[str, Any]:
    sigs = {
        "head": services.SignatureInput("户主", drawn=drawn()),
        "team": services.SignatureInput("验收组 李四", scan=scan("team.jpg")),
        "cadre": services.SignatureInput("", drawn=drawn()),
    }
    sigs.update(override)
    return {k: v for k, v in sigs.items() if v is not None}
