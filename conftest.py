"""Fixtures shared by every app's tests: a small real-coded area tree, users, households."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from fupin.core.models import Area, AreaLevel, User
from fupin.core.testing import person

AREAS = [
    ("45", "广西壮族自治区", AreaLevel.PROVINCE, None),
    ("4501", "南宁市", AreaLevel.CITY, "45"),
    ("450102", "兴宁区", AreaLevel.COUNTY, "4501"),
    ("450103", "青秀区", AreaLevel.COUNTY, "4501"),
    ("450102100", "三塘镇", AreaLevel.TOWNSHIP, "450102"),
    ("450102101", "五塘镇", AreaLevel.TOWNSHIP, "450102"),
    ("450102100201", "三塘村", AreaLevel.VILLAGE, "450102100"),
    ("450102100202", "四塘村", AreaLevel.VILLAGE, "450102100"),
    ("450102101201", "五塘村", AreaLevel.VILLAGE, "450102101"),
    ("450103100", "长塘镇", AreaLevel.TOWNSHIP, "450103"),
    ("450103100201", "长塘村", AreaLevel.VILLAGE, "450103100"),
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's 10^6 iterations cost a second per login; tests check behaviour, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    # Attachments, job inputs and results are files: keep each test's out of the tree.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # A request with Accept-Language: en leaves English active in the thread (Django's
    # LocaleMiddleware activates it and nothing resets it): each test starts and ends in the
    # default language, so no test's outcome depends on the one before it.
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # Rolled-back tests reuse primary keys, and the pages' cache keys carry them (user, the
    # newest audit entry): each test starts with an empty cache.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def areas(db: Any) -> dict[str, Area]:
    made: dict[str, Area] = {}
    for code, name, level, parent in AREAS:
        made[code] = Area.objects.create(
            code=code, name=name, level=level, parent=made.get(parent) if parent else None
        )
    return made


@pytest.fixture
def make_user(areas: dict[str, Area]) -> Callable[..., User]:
    def make(username: str, area: str, *roles: str) -> User:
        user = User(username=username, area=areas[area], roles=list(roles or ["data_officer"]))
        user.set_password("secret-pass-1")
        user.save()
        return user

    return make


@pytest.fixture
def county_user(make_user: Callable[..., User]) -> User:
    return make_user("county", "450102", "administrator")


@pytest.fixture
def make_household(county_user: User) -> Callable[..., Any]:
    from fupin.registry import services

    def make(village: str = "450102100201", members: list | None = None, **data: Any) -> Any:
        data = {"village": village, "head_name": "张三", "main_cause": "9", **data}
        income = data.pop("income", {"year": 2016, "wage": 6000, "business": 0})
        members = members if members is not None else [person(), person("02", male=False)]
        surveyed_on = data.pop("surveyed_on", dt.date(2016, 12, 1))
        return services.create_household(
            county_user, data, members, income, surveyed_on=surveyed_on
        )

    return make
