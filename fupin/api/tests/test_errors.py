"""The services' errors in the shape DRF clients know."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import override_settings
from rest_framework import exceptions

from fupin.api.errors import Conflict, exception_handler, nest_errors, service_errors
from fupin.core.services import StaleEdit

SERVICE_ERRORS = {
    "head_name": ["required"],
    "members.1.id_number": ["bad check digit"],
    "members.1.__all__": ["whole member"],
    "members.3.relation": ["two heads"],
    "income.wage": ["negative"],
    "__all__": ["whole household"],
    "transition": ["not from this status"],
}


def test_dotted_keys_nest_by_index_as_drf_does():
    assert nest_errors(SERVICE_ERRORS, rename={"transition": "name"}) == {
        "head_name": ["required"],
        "members": {
            1: {"id_number": ["bad check digit"], "non_field_errors": ["whole member"]},
            3: {"relation": ["two heads"]},
        },
        "income": {"wage": ["negative"]},
        "non_field_errors": ["whole household"],
        "name": ["not from this status"],
    }


@override_settings(REST_FRAMEWORK={"LIST_SERIALIZER_ERRORS_AS_DICT": False})
def test_dotted_keys_nest_as_a_padded_list_with_the_older_drf_format():
    nested = nest_errors(
        {"members.1.id_number": ["bad"], "income.wage": ["negative"]},
        list_lengths={"members": 3},
    )
    assert nested == {
        "members": [{}, {"id_number": ["bad"]}, {}],
        "income": {"wage": ["negative"]},
    }


def test_a_message_for_a_whole_list_item_or_list_is_kept():
    assert nest_errors({"members.0": ["dup"], "members": ["empty"]}) == {
        "members": {0: {"non_field_errors": ["dup"]}, "non_field_errors": ["empty"]}
    }


def test_service_errors_become_drf_exceptions():
    with pytest.raises(exceptions.ValidationError) as exc, service_errors():
        raise DjangoValidationError({"members.1.id_number": ["bad"]})
    assert exc.value.detail == {"members": {1: {"id_number": ["bad"]}}}

    with pytest.raises(exceptions.ValidationError) as exc, service_errors():
        raise DjangoValidationError("no field")
    assert exc.value.detail == {"non_field_errors": ["no field"]}

    with pytest.raises(Conflict) as conflict, service_errors():
        raise StaleEdit(5)
    assert conflict.value.status_code == 409
    assert conflict.value.detail["current_version"] == 5

    with pytest.raises(exceptions.PermissionDenied) as denied, service_errors():
        raise PermissionDenied("not your role")
    assert str(denied.value.detail) == "not your role"


def test_handler_answers_services_exceptions_missed_by_a_view():
    response = exception_handler(StaleEdit(3), {})
    assert response is not None
    assert response.status_code == 409 and response["ETag"] == '"3"'
    assert response.data["current_version"] == 3

    response = exception_handler(DjangoValidationError({"income.year": ["x"]}), {})
    assert response is not None
    assert response.status_code == 400 and response.data == {"income": {"year": ["x"]}}

    response = exception_handler(Http404("No Household matches the given query."), {})
    assert response is not None
    assert response.status_code == 404
    assert "Household" not in str(response.data["detail"])
