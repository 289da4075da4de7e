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


# --- stricter than jsonschema's defaults, once for every field --------------------------------
def test_a_trailing_newline_passes_pythons_pattern_but_not_the_validator():
    import re

    pattern = schemas.load("backends/jobqueue.yaml")["$defs"]["log_directory"]["pattern"]
    assert re.search(pattern, "/tmp/logs\n")  # "$" matches before a final newline
    with pytest.raises(InvalidRequest) as info:
        options = {"walltime": "01:00:00", "log_directory": "/tmp/logs\n"}
        schemas.check(options, "backends/slurm.yaml", prefix="options")
    assert info.value.field == "options.log_directory"
    assert "U+000A" in info.value.message


def _schemas_with(node, key):
    if isinstance(node, list):
        return [found for item in node for found in _schemas_with(item, key)]
    if not isinstance(node, dict):
        return []
    own = [node] if key in node else []
    return own + [found for value in node.values() for found in _schemas_with(value, key)]


def test_only_text_for_people_may_span_lines():
    from dask_cluster_launcher.backends import default_backends

    for backend in default_backends().values():
        assert _schemas_with(backend.static_schema(), schemas.MULTILINE) == []
    for name in ("openapi.yaml", "scaling.yaml"):
        assert _schemas_with(schemas.load(name), schemas.MULTILINE) == []
    multiline = _schemas_with(schemas.load("profile.yaml"), schemas.MULTILINE)
    assert multiline == [schemas.load("profile.yaml")["properties"]["description"]]
    # patterns are run with re.search, whose "$" would let a trailing newline through
    assert all("pattern" not in schema for schema in multiline)


@pytest.mark.parametrize("value", [1.0, True, "1", 1.5])
def test_integers_are_ints(value):
    with pytest.raises(InvalidRequest) as info:
        schemas.check({"threads_per_worker": value}, "backends/local.yaml", prefix="options")
    assert info.value.field == "options.threads_per_worker"
    schemas.check({"threads_per_worker": 1}, "backends/local.yaml")


def test_nesting_is_limited_without_recursion():
    deep: list = []
    node = deep
    for _ in range(100_000):  # deeper than Python's recursion limit
        node.append([])
        node = node[0]
    with pytest.raises(InvalidRequest, match="nested too deeply") as info:
        schemas.check_depth({"options": {"a": deep}}, prefix="body")
    assert info.value.field.startswith("body.options.a.0.0")
    schemas.check_depth({"a": [[{"b": 1}]]})


def test_messages_quote_a_short_piece_of_a_value():
    huge = "x" * 1_000_000
    for instance, path in [
        ({"workers": huge}, "scaling.yaml"),
        ({"workers": [huge]}, "scaling.yaml"),
        ({"name": "x", "backend": huge}, "profile.yaml"),
        ({"name": "x", "backend": "local", huge: 1}, "profile.yaml"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            schemas.check(instance, path)
        assert len(info.value.message) < 300 and len(info.value.field or "") < 100


def test_every_backends_defaults_are_fields_of_its_form():
    """The sidebar sends a form's defaults back with a launch: each must be one of its fields."""
    from dask_cluster_launcher.backends import default_backends

    for backend in default_backends().values():
        fields = set(backend.static_schema().get("properties", {}))
        assert set(backend.defaults()) <= fields, backend.name
