"""A small fuzz of every backend's live form: hostile values for each field the server's own
``GET backends`` describes, sent to ``POST preview`` (the whole of a launch's resolution:
schema, cross-field checks, site limits, the job script) and ``POST profiles`` (validation and
saving). No answer may be a 5xx; every 400 names its field; every answer follows
schema/openapi.yaml (``launcher_api`` checks it).

The values come from the schemas, so a new field is fuzzed without editing this file. The run
is seeded and bounded (about 2,000 requests, well under a minute): issue 27's longer runs found
the 500s regression-tested in ``test_request_bounds.py``.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.test_hostile_input import (  # noqa: F401  (fixtures)
    BAD_CHARACTERS,
    batch_commands_anywhere,
    jp_server_config,
    user_dir,
)

SEED = 27
#: multi-field cases per backend, beyond one case per (field, hostile value)
COMBINATIONS = 20

#: tried on every string field: the values issue 27 found 500s with, and the empty ones
ALWAYS_STRINGS = ["", " ", "0 GB", "1" * 400 + "s", "1" * 4400 + "-00:00:00"]
#: a sample of these is tried on every string field
HOSTILE_STRINGS = [
    "0",
    "-1",
    "9" * 5000,
    "0.0001 kB",
    "1e999",
    "NaN",
    "99999999999999999999:59:59",
    "00:00:00",
    "../../../etc/passwd",
    "$(id)",
    "`id`",
    "%n%s%x",
    "a" * 100_000,
    "\u00e9\u4e2d\U0001f600",
    "\ufeff",
    "--",
    "-",
    "=",
    "a,b,,",
    "gpu:0:0:0",
    *BAD_CHARACTERS.values(),
]
HOSTILE_NUMBERS = [-1, 0, 1, 2**31, 2**63, 10**30, 1.5, -0.0, 1e308]
HOSTILE_OTHERS: list[Any] = [None, True, False, [], {}, [[[]]], {"a": {"b": {}}}]
#: sampled values per field and kind (strings, numbers, other types)
SAMPLE = 4


def _hostile_values(schema: dict[str, Any], rng: random.Random) -> list[Any]:
    """Values to try for a field: of its type, at and beyond its bounds, of other types."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    values: list[Any] = rng.sample(HOSTILE_OTHERS, SAMPLE)
    values += [str(v) for v in schema.get("enum", [])[:1]] + ["not-one-of-them"]
    if "string" in types or not types:
        values += ALWAYS_STRINGS + rng.sample(HOSTILE_STRINGS, SAMPLE) + [1]
        if "maxLength" in schema:
            values.append("1" * (schema["maxLength"] + 1))
    if "integer" in types or "number" in types:
        values += [*rng.sample(HOSTILE_NUMBERS, SAMPLE), "1"]
        values += [schema[b] + d for b in ("minimum", "maximum") if b in schema for d in (-1, 1)]
    if "array" in types:
        items = schema.get("items", {})
        values += [
            [rng.choice(ALWAYS_STRINGS + HOSTILE_STRINGS)],
            [""] * (schema.get("maxItems", 8) + 1),
            ["a"] * 3000,
            [items.get("default", "a")] * 2,
            [1, None, {}],
        ]
    return values


def _base_options(form: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {name: defaults[name] for name in form.get("required", []) if name in defaults}


def _cases(backend: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    form, defaults = backend["schema"], backend.get("defaults", {})
    properties = form.get("properties", {})
    base = _base_options(form, defaults)
    cases = []
    for name, schema in properties.items():
        for value in _hostile_values(schema, rng):
            cases.append({**base, name: value})
    names = list(properties)
    for _ in range(COMBINATIONS):
        options = dict(defaults)
        for name in rng.sample(names, min(3, len(names))):
            options[name] = rng.choice(_hostile_values(properties[name], rng))
        cases.append(options)
    cases.append({**base, "not_a_field": 1})
    return cases


async def test_no_hostile_value_of_any_live_form_field_is_a_server_error(launcher_api):
    rng = random.Random(SEED)
    code, backends = await launcher_api("backends")
    assert code == 200
    fuzzed = [b for b in backends if b["available"]]
    assert {b["name"] for b in fuzzed} >= {"local", "slurm", "sge", "mpi"}
    seen: dict[int, int] = {}
    for backend in fuzzed:
        for options in _cases(backend, rng):
            body = {"backend": backend["name"], "options": options}
            code, answer = await launcher_api("preview", method="POST", body=body)
            seen[code] = seen.get(code, 0) + 1
            assert code in (200, 400, 413), (backend["name"], options, code, answer)
            if code == 400:
                assert answer["field"], (backend["name"], options, answer)
        # saving a profile validates the same options; a sample of them is enough
        for options in rng.sample(_cases(backend, rng), 10):
            body = {"name": "fuzzed", "backend": backend["name"], "options": options}
            code, answer = await launcher_api("profiles", method="POST", body=body)
            assert code in (201, 400, 413), (backend["name"], options, code, answer)
            if code == 201:
                code, _ = await launcher_api("profiles", "fuzzed", method="DELETE")
                assert code == 204
    assert seen.get(400, 0) > seen.get(200, 0)  # the values are hostile: most are refused


@pytest.mark.parametrize("route", ["preview", "clusters", "profiles"])
async def test_hostile_envelopes_are_never_a_server_error(launcher_api, route):
    rng = random.Random(SEED)
    valid = {"preview": [200], "clusters": [], "profiles": [201]}[route]
    for key in ["backend", "profile", "name", "scaling", "options", "kernel", "unknown"]:
        for value in rng.sample(
            ALWAYS_STRINGS + HOSTILE_STRINGS + HOSTILE_NUMBERS + HOSTILE_OTHERS, 12
        ):
            # workers: -1 keeps a launch from starting where the hostile value is valid
            body: dict[str, Any] = {"backend": "local", "scaling": {"workers": -1}}
            if route == "profiles":
                body["name"] = "p"
            body[key] = value
            code, answer = await launcher_api(route, method="POST", body=body)
            assert code in (400, 413, *valid), (body, answer)
            if code == 400:
                assert answer["field"], (body, answer)
            if code == 201:
                await launcher_api("profiles", body["name"], method="DELETE")


def _open_objects(node: Any, where: str, document: dict[str, Any]) -> list[str]:
    """Object schemas under ``node`` that list properties but let others through; references
    within openapi.yaml are followed (the cluster model's file is checked by its own tests)."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _open_objects(item, where, document)]
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        return _open_objects(target, ref, document)
    found = (
        [where] if "properties" in node and node.get("additionalProperties") is not False else []
    )
    return found + [
        p for key, value in node.items() for p in _open_objects(value, f"{where}/{key}", document)
    ]


def test_responses_are_described_field_for_field():
    """What the fuzz (and every ``launcher_api`` call) checks answers against: a field the
    server sends that openapi.yaml does not describe fails the test that got it."""
    from dask_cluster_launcher import schemas

    document = schemas.load("openapi.yaml")
    responses = {
        f"{path} {method} {status}": response
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
        for status, response in operation.get("responses", {}).items()
    }
    assert _open_objects(responses, "", document) == []
