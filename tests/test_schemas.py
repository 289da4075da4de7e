"""Validation against the schema files names the offending field."""

from __future__ import annotations

import pytest

from dask_cluster_launcher import schemas
from dask_cluster_launcher.errors import InvalidRequest


@pytest.mark.parametrize(
    "instance, field",
    [
        ({"workers": "3"}, "scaling.workers"),
        ({"adapt": {"minimum": 1}}, "scaling.adapt.maximum"),
        ({"adapt": {"minimum": 1, "maximum": 2, "x": 1}}, "scaling.adapt.x"),
        ({}, "scaling"),
    ],
)
def test_scaling_errors_name_the_field(instance, field):
    with pytest.raises(InvalidRequest) as info:
        schemas.check(instance, "scaling.yaml", prefix="scaling")
    assert info.value.field == field


def test_valid_scaling_passes():
    schemas.check({"workers": 0}, "scaling.yaml")
    schemas.check({"adapt": {"minimum": 0, "maximum": 5}}, "scaling.yaml")


def test_request_envelope_uses_the_openapi_components():
    schemas.check_request({"backend": "local", "scaling": {"workers": 1}}, "LaunchRequest")
    with pytest.raises(InvalidRequest) as info:
        schemas.check_request({"backend": "local", "profile": "local"}, "LaunchRequest")
    assert info.value.field == "body"
    with pytest.raises(InvalidRequest) as info:
        schemas.check_request({"backend": "local", "scaling": {"workers": -2}}, "LaunchRequest")
    assert info.value.field == "scaling.workers"


def test_every_backend_form_is_a_self_contained_json_schema():
    from jsonschema import Draft7Validator

    from dask_cluster_launcher.backends import default_backends

    for backend in default_backends().values():
        schema = backend.static_schema()
        Draft7Validator.check_schema(schema)
        assert "$ref" not in str(schema)
        path = backend.schema_file
        for name, prop in schema["properties"].items():
            assert prop.get("title"), f"{path.name}: {name} has no title"
