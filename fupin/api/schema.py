"""OpenAPI post-processing: the error answers every endpoint can give, said once.

drf-spectacular documents the success responses it can see in the code; the errors come
from the shared handler (`fupin.api.errors`), so this hook adds them to every operation:
401 without credentials, 400 with field messages, 403 for an action the role may not
take, 404 for what is outside the user's area, 409 for a stale version.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERRORS = {
    "type": "object",
    "description": (
        "Field name → list of messages, in the user's language. Nested data nests the same "
        "way: a bad resident ID of the second member is "
        '`{"members": [{}, {"id_number": ["…"]}]}`; errors not tied to a field are under '
        "`non_field_errors`."
    ),
    "additionalProperties": {},
}
CONFLICT = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "current_version": {"type": "integer"},
    },
    "required": ["detail", "current_version"],
}

PUBLIC_PATHS = {"/api/auth/token/"}
VERSIONED_WRITES = {"patch", "post"}


def _response(description: str, component: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def _add(responses: dict[str, Any], code: str, description: str, component: str) -> None:
    if code not in responses or not responses[code].get("content"):
        responses[code] = _response(description, component)


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: Any) -> Any:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationErrors", VALIDATION_ERRORS)
    schemas.setdefault("Conflict", CONFLICT)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            params = operation.get("parameters", [])
            writes = method in {"post", "patch", "put", "delete"}

            add = partial(_add, responses)
            if writes or any(p.get("in") == "query" for p in params):
                add("400", "Invalid input", "ValidationErrors")
            if path in PUBLIC_PATHS:
                continue
            add("401", "Not logged in", "Error")
            if writes:
                add("403", "Your role may not do this", "Error")
            if any(p.get("in") == "path" or p.get("name") == "page" for p in params):
                add("404", "Not found, or outside your area", "Error")
            if method in VERSIONED_WRITES and any(p.get("name") == "If-Match" for p in params):
                add("409", "Changed by someone else since you loaded it", "Conflict")
    return result


class DecimalStringExtension(OpenApiSerializerFieldExtension):
    """A decimal sent as a string: the pattern DRF really accepts.

    drf-spectacular's own pattern allows "", "-" and "." and a minus sign on fields that
    refuse negatives, so a client (or schemathesis) following the schema got 400s.
    """

    target_class = "rest_framework.fields.DecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if "pattern" in schema and field.max_whole_digits is not None:
            minimum = field.min_value
            sign = "" if minimum is not None and minimum >= 0 else "-?"
            whole = max(field.max_whole_digits, 1)
            places = field.decimal_places
            fraction = rf"(?:\.\d{{1,{places}}})?" if places else ""
            schema["pattern"] = rf"^{sign}\d{{1,{whole}}}{fraction}$"
        return schema
