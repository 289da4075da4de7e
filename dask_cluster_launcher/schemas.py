"""The JSON Schemas in ``schema/``: loading them and validating input against them.

The same files drive the sidebar's forms and the server's validation, so the two never disagree.
"""

from __future__ import annotations

import copy
import functools
import posixpath
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import InvalidRequest

_PACKAGE_DIR = Path(__file__).parent


def schema_dir() -> Path:
    """``schema/`` inside an installed wheel, or at the top of a source checkout."""
    installed = _PACKAGE_DIR / "schema"
    return installed if installed.is_dir() else _PACKAGE_DIR.parent / "schema"


@functools.cache
def load(relative_path: str) -> dict[str, Any]:
    """A schema file under ``schema/`` (YAML or JSON), parsed once."""
    with open(schema_dir() / relative_path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _retrieve(uri: str) -> Resource:
    return Resource.from_contents(load(uri), default_specification=DRAFT202012)


_REGISTRY: Registry = Registry(retrieve=_retrieve)  # type: ignore[call-arg]


@functools.cache
def _validator(relative_path: str, pointer: str = "") -> Any:
    # Referencing the file (rather than passing its contents) gives it a base URI, so that
    # relative references such as "jobqueue.yaml#/$defs/cores" resolve next to it.
    schema = {"$ref": f"{relative_path}#{pointer}"}
    return Draft202012Validator(
        schema, registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def field_path(error: ValidationError, prefix: str = "") -> str:
    """``options.memory`` style path of the value an error is about."""
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        parts.append(str(error.message).split("'")[1])
    return ".".join(p for p in parts if p) or (prefix or "body")


def _describe(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return "is not a known option"
    if error.validator == "required":
        return "is required"
    if error.validator == "pattern":
        return "has characters or a format that is not allowed"
    if error.validator in ("oneOf", "anyOf"):
        return "does not match any of the allowed forms"
    return error.message


def check(instance: Any, relative_path: str, pointer: str = "", prefix: str = "") -> None:
    """Raise :class:`InvalidRequest` naming the field when ``instance`` does not validate."""
    error = best_match(_validator(relative_path, pointer).iter_errors(instance))
    if error is not None:
        path = field_path(error, prefix)
        raise InvalidRequest(f"{path}: {_describe(error)}", field=path)


def check_request(body: Any, component: str) -> None:
    """Validate a request body against ``components/schemas/<component>`` of the OpenAPI file."""
    check(body, "openapi.yaml", f"/components/schemas/{component}")


def form(relative_path: str) -> dict[str, Any]:
    """A form schema with its references to other files inlined (a fresh copy each call)."""
    return copy.deepcopy(_inlined(relative_path))


@functools.cache
def _inlined(relative_path: str) -> dict[str, Any]:
    return inline_refs(load(relative_path), relative_path)


def inline_refs(node: Any, base: str = "") -> Any:
    """A copy of ``node`` with references to other schema files replaced by their targets.

    ``base`` is the path of the file ``node`` comes from. The sidebar's form renderer resolves
    only local references, so the server sends each form self-contained.
    """
    if isinstance(node, list):
        return [inline_refs(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        relative_path, _, pointer = ref.partition("#")
        relative_path = posixpath.join(posixpath.dirname(base), relative_path)
        target: Any = load(relative_path)
        for part in filter(None, pointer.split("/")):
            target = target[part]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return inline_refs({**target, **siblings}, relative_path)
    return {key: inline_refs(value, base) for key, value in node.items()}
