"""How the services' exceptions become HTTP answers, the same way for every endpoint.

The services speak Django: `ValidationError` with a dict of field → messages (nested data
as dotted keys, ``members.1.id_number``, ``income.wage``), `PermissionDenied`, and
`fupin.core.services.StaleEdit`. A DRF client expects nested error objects
(``{"members": [{}, {"id_number": ["…"]}]}``), 403 for a refused action, 404 for what it may
not see, and here 409 Conflict for an edit made on a stale version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from fupin.core.services import StaleEdit

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


class Conflict(exceptions.APIException):
    """409: the record changed since the client loaded it (optimistic locking)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "stale"

    def __init__(self, stale: StaleEdit) -> None:
        super().__init__(str(stale), code="stale")
        self.current_version = stale.current_version
        # Set after __init__ so the version stays an integer in the JSON body.
        detail: dict[str, Any] = {
            "detail": exceptions.ErrorDetail(str(stale), code="stale"),
            "current_version": stale.current_version,
        }
        self.detail = detail


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(m) for m in value]


class _Items(dict):  # type: ignore[type-arg]
    """Errors of a list's items, by index, while the tree is built."""


def nest_errors(
    errors: Mapping[str, Any],
    *,
    rename: Mapping[str, str] | None = None,
    list_lengths: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Dotted service keys → the nested shape DRF's own serializers produce.

    ``income.wage`` becomes ``{"income": {"wage": [...]}}`` and ``__all__`` becomes
    ``non_field_errors`` at its level. A list item's errors take DRF's shape for nested
    lists, which `REST_FRAMEWORK["LIST_SERIALIZER_ERRORS_AS_DICT"]` chooses: by default
    (DRF ≥ 3.18) a dict keyed by the index of each failing item,
    ``members.1.id_number`` → ``{"members": {1: {"id_number": [...]}}}``; with the setting
    off, the older list with ``{}`` for valid items, as long as the submitted list when
    `list_lengths` says so: ``{"members": [{}, {"id_number": [...]}]}``. Either way a
    JavaScript client reads ``errors.members[1].id_number``, as for the serializer's own
    errors. `rename` maps a service's top-level key to the API's field name.
    """
    rename = rename or {}
    tree: dict[Any, Any] = {}
    for key, value in errors.items():
        parts = key.split(".")
        parts[0] = rename.get(parts[0], parts[0])
        node: dict[Any, Any] = tree
        for i, part in enumerate(parts):
            name: Any = int(part) if isinstance(node, _Items) and part.isdigit() else part
            if name == "__all__":
                name = NON_FIELD
            if i == len(parts) - 1:
                existing = node.get(name)
                if isinstance(existing, dict):  # a message for a container: its own errors
                    existing.setdefault(NON_FIELD, []).extend(_messages(value))
                elif isinstance(node, _Items):  # a message for a whole item
                    node.setdefault(name, {}).setdefault(NON_FIELD, []).extend(_messages(value))
                else:
                    node.setdefault(name, []).extend(_messages(value))
                break
            child = node.get(name)
            if not isinstance(child, dict):
                previous = child  # the container's own messages, if they came first
                child = _Items() if parts[i + 1].isdigit() else {}
                if previous:
                    child[NON_FIELD] = previous
                node[name] = child
            node = child
    return _finish(tree, "", list_lengths or {})


def _finish(node: Any, name: Any, list_lengths: Mapping[str, int]) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _finish(v, k, list_lengths) for k, v in node.items()}
    if (
        not isinstance(node, _Items)
        or api_settings.LIST_SERIALIZER_ERRORS_AS_DICT
        or not all(isinstance(k, int) for k in items)
    ):
        return items
    length = max([list_lengths.get(name, 0), *(k + 1 for k in items)])
    return [items.get(i, {}) for i in range(length)]


def to_drf_validation_error(
    exc: DjangoValidationError,
    *,
    rename: Mapping[str, str] | None = None,
    list_lengths: Mapping[str, int] | None = None,
) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        detail: Any = nest_errors(exc.message_dict, rename=rename, list_lengths=list_lengths)
    else:
        detail = {NON_FIELD: _messages(exc.messages)}
    return exceptions.ValidationError(detail)


@contextmanager
def service_errors(
    *,
    rename: Mapping[str, str] | None = None,
    list_lengths: Mapping[str, int] | None = None,
) -> Iterator[None]:
    """Run a service call; turn its Django exceptions into DRF ones (400 / 403 / 409)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise to_drf_validation_error(exc, rename=rename, list_lengths=list_lengths) from exc
    except StaleEdit as exc:
        raise Conflict(exc) from exc
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(*exc.args) from exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the services' exceptions, for anything `service_errors` missed.

    404 always answers with DRF's translated "Not found." rather than Django's message,
    which names the model; 409 carries the current version in an ETag header too.
    """
    if isinstance(exc, DjangoValidationError):
        exc = to_drf_validation_error(exc)
    elif isinstance(exc, StaleEdit):
        exc = Conflict(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Conflict):
        response["ETag"] = f'"{exc.current_version}"'
    return response
