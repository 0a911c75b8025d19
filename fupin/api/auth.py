"""Token login: POST username and password, get the token to send as `Authorization: Token …`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from fupin.api.base import FupinAPIMixin


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class ObtainTokenView(FupinAPIMixin, ObtainAuthToken):
    """Exchange a username and password for the user's API token (one per user)."""

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: TokenSerializer},
        auth=[],
        summary="Obtain an API token",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
