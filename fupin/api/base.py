"""What every fupin API view shares: the error handler, paging, and the version check."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, pagination
from rest_framework.request import Request

from fupin.api.errors import exception_handler

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=gettext_lazy(
        "The version of the household the change is based on (as in the household's "
        "`version` or the ETag header), instead of `version` in the body."
    ),
)

_IF_MATCH_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        # DRF falls back to the default size on "page_size=abc"; a client should learn
        # that its parameter was not understood instead of getting another page size.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isdigit() and int(raw) > 0):
            raise exceptions.ValidationError(
                {self.page_size_query_param: [gettext("A whole number above 0 is required.")]}
            )
        return super().get_page_size(request)


class FupinAPIMixin:
    """Mixed into every viewset: the services' exceptions answered the fupin way."""

    def get_exception_handler(self) -> Callable[..., Any]:
        return exception_handler


def if_match_version(request: Request) -> int | None:
    """The version named by an If-Match header (``3``, ``"3"`` or ``W/"3"``), if any."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        return None
    match = _IF_MATCH_RE.match(header)
    if match is None:
        raise exceptions.ValidationError(
            {"version": [gettext("If-Match must be the version number of the household.")]}
        )
    return int(match.group(1))


def expected_version(request: Request, body_version: int | None, *, required: bool) -> int | None:
    """The version a change is based on: `version` in the body, else the If-Match header.

    A change to existing data must name it (`required`), so that two editors never silently
    overwrite each other; adding data may name it, and then it is checked too.
    """
    header_version = if_match_version(request)
    if body_version is not None and header_version is not None and body_version != header_version:
        raise exceptions.ValidationError(
            {"version": [gettext("The version in the body and in If-Match differ.")]}
        )
    version = body_version if body_version is not None else header_version
    if version is None and required:
        raise exceptions.ValidationError(
            {"version": [exceptions.ErrorDetail(gettext("This field is required."), "required")]}
        )
    return version


def etag(version: int) -> str:
    return f'"{version}"'
