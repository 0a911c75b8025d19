"""Small views of the API itself."""

from __future__ import annotations

from typing import NoReturn

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@extend_schema(exclude=True)
@api_view(ALL_METHODS)
@permission_classes([])
def not_found(request: Request, *args: object, **kwargs: object) -> NoReturn:
    """Any URL under /api/ that names no endpoint: a JSON 404 like every other answer."""
    raise exceptions.NotFound()
