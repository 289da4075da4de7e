"""The JSON Schemas in ``schema/``: loading them and validating input against them.

The same files drive the sidebar's forms and the server's validation, so the two never disagree.
Where Python's JSON Schema semantics are laxer than the browser's, the validator here is stricter,
once for every field:

- every string is one line: no control characters (tab included), no Unicode line or paragraph
  separators, no bidirectional overrides, no lone surrogates. Patterns alone cannot promise this:
  jsonschema runs them with ``re.search``, whose ``$`` also matches before a trailing newline, so
  ``^[a-z]+$`` accepts ``"abc\\n"``. A field marked ``x-multiline: true`` (free text shown to
  people, such as a profile's description) may also hold newlines and tabs; nothing that reaches
  a job script, a command line or a file name is so marked.
- an integer is an ``int``: ``1.0`` is refused (the cluster classes would fail on it later);
- a string marked ``x-dask-size: N`` or ``x-dask-duration: true`` is read here with dask's own
  ``parse_bytes`` / ``parse_timedelta``, as the cluster classes will read it: what they cannot
  read (a 400-digit lifetime overflows a float), or a size below ``N`` bytes (dask-jobqueue
  fails on a SLURM memory below 1 KiB), is refused naming the field, never met later as a 500;
- nesting deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_VALUES` values in all, is
  refused before anything recurses into it or iterates over it.
"""

from __future__ import annotations

import copy
import functools
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from dask.utils import format_bytes, parse_bytes, parse_timedelta
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import InvalidRequest, shorten

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
    # Without "$schema", every file is checked by this module's stricter Validator: jsonschema
    # would otherwise switch to its stock class for the dialect a file names (the files say
    # draft-07 for the browser's form renderer), and the checks below would be skipped there.
    contents = {k: v for k, v in load(uri).items() if k != "$schema"}
    return Resource.from_contents(contents, default_specification=DRAFT202012)


_REGISTRY: Registry = Registry(retrieve=_retrieve)  # type: ignore[call-arg]


MULTILINE = "x-multiline"
"""Schema keyword: this free-text string may hold newlines and tabs."""
MAX_DEPTH = 16
"""Deepest nesting of objects and arrays any request or profile may have (the schemas need 4)."""
MAX_VALUES = 2000
"""Most values (object members and array items, nested ones included) a request or profile may
hold: the largest form has about 40 fields and 6 lists of at most 32 entries. jsonschema reports
every item of an over-long array before ``maxItems`` is read from the answer: a million items
took 16 s of one core; refused here, the walk stops at the first value over."""
DASK_SIZE = "x-dask-size"
"""Schema keyword: the string is a size dask reads (``parse_bytes``) of at least this many bytes."""
DASK_DURATION = "x-dask-duration"
"""Schema keyword: the string (when not empty) is a duration dask reads (``parse_timedelta``)."""

# C0 and C1 controls (U+0085 NEL among them), line and paragraph separators, bidirectional
# overrides and isolates (they make text display other than it reads), lone surrogates (they
# cannot be written as UTF-8).
_UNSAFE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_NOT_IN_A_LINE = re.compile(f"[{_UNSAFE}]")
_NOT_IN_TEXT = re.compile(f"(?![\\n\\t])[{_UNSAFE}]")


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_TYPE = Draft202012Validator.VALIDATORS["type"]


def _type_and_characters(
    validator: Any, types: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """The ``type`` keyword, and for strings the characters no field may hold."""
    errors = list(_TYPE(validator, types, instance, schema))
    yield from errors
    if errors or not isinstance(instance, str):
        return
    multiline = schema.get(MULTILINE) is True
    bad = (_NOT_IN_TEXT if multiline else _NOT_IN_A_LINE).search(instance)
    if bad is not None:
        allowed = "other than newlines and tabs " if multiline else ""
        yield ValidationError(
            f"must not contain control or line-breaking characters {allowed}"
            f"(found U+{ord(bad.group()):04X} at position {bad.start()})",
            validator="characters",
        )


def _dask_size(
    validator: Any, minimum: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, str) or not instance:
        return
    try:
        size = parse_bytes(instance)
    except (ValueError, ArithmeticError, LookupError, TypeError):  # " ": IndexError
        yield ValidationError("is not a size, such as 4 GB or 8 GiB")
        return
    if size < minimum:
        yield ValidationError(f"must be at least {format_bytes(minimum)}")


def _dask_duration(
    validator: Any, enabled: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not enabled or not isinstance(instance, str) or not instance:
        return
    try:
        parse_timedelta(instance)
    except (ValueError, ArithmeticError, LookupError, TypeError):  # " ": IndexError
        yield ValidationError("is not a duration, such as 25m or 2h")


_ITEMS = Draft202012Validator.VALIDATORS["items"]
_PATTERN = Draft202012Validator.VALIDATORS["pattern"]


def _items_unless_too_many(
    validator: Any, items: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``items``, skipped for an array over its ``maxItems`` (that keyword refuses it): 1,900
    items of a hostile list were otherwise each checked, 1 s of the server's time."""
    if isinstance(instance, list) and len(instance) > schema.get("maxItems", len(instance)):
        return
    yield from _ITEMS(validator, items, instance, schema)


def _pattern_unless_too_long(
    validator: Any, pattern: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``pattern``, skipped for a string over its ``maxLength`` (that keyword refuses it)."""
    if isinstance(instance, str) and len(instance) > schema.get("maxLength", len(instance)):
        return
    yield from _PATTERN(validator, pattern, instance, schema)


Validator = validators.extend(
    Draft202012Validator,
    validators={
        "type": _type_and_characters,
        "items": _items_unless_too_many,
        "pattern": _pattern_unless_too_long,
        DASK_SIZE: _dask_size,
        DASK_DURATION: _dask_duration,
    },
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def _validator(relative_path: str, pointer: str = "") -> Any:
    # Referencing the file (rather than passing its contents) gives it a base URI, so that
    # relative references such as "jobqueue.yaml#/$defs/cores" resolve next to it.
    schema = {"$ref": f"{relative_path}#{pointer}"}
    return Validator(schema, registry=_REGISTRY, format_checker=Validator.FORMAT_CHECKER)


def _part(key: Any) -> str:
    """A path element as it can be shown: short keys as they are, others quoted and cut."""
    text = str(key)
    if len(text) <= 64 and "." not in text and not _NOT_IN_A_LINE.search(text):
        return text
    return shorten(text, 40)


def field_path(error: ValidationError, prefix: str = "") -> str:
    """``options.memory`` style path of the value an error is about."""
    parts = [prefix] if prefix else []
    parts += [_part(p) for p in error.absolute_path]
    instance = error.instance
    value: Any = error.validator_value  # the failed keyword's value (required: [names])
    if error.validator == "required" and isinstance(instance, dict):
        parts += [_part(name) for name in value if name not in instance][:1]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        parts += [_part(key) for key in instance if key not in known][:1]
    return ".".join(p for p in parts if p) or (prefix or "body")


_LIMITS = {
    "maxLength": "is longer than {} characters",
    "minLength": "is shorter than {} characters",
    "maxItems": "has more than {} entries",
    "minItems": "has fewer than {} entries",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be more than {}",
    "exclusiveMaximum": "must be less than {}",
    "format": "is not a valid {}",
}


def _describe(error: ValidationError) -> str:
    """What is wrong, quoting at most a short piece of the value (jsonschema's own messages
    quote all of it)."""
    kind = error.validator
    value: Any = error.validator_value  # maxLength: 32 -> 32
    if kind == "additionalProperties":
        return "is not a known option"
    if kind == "required":
        return "is required"
    if kind == "pattern":
        return "has characters or a format that is not allowed"
    if kind in ("oneOf", "anyOf"):
        return "does not match any of the allowed forms"
    if kind == "minLength" and value == 1:
        return "must not be empty"
    if kind in _LIMITS:
        return _LIMITS[str(kind)].format(value)
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        return f"must be of type {' or '.join(map(str, types))}"
    if kind == "enum":
        return f"{shorten(error.instance)} is not one of {', '.join(map(shorten, value))}"
    if kind == "const":
        return f"must be {shorten(value)}"
    if kind in ("characters", DASK_SIZE, DASK_DURATION):
        return error.message
    return shorten(error.message, 200)


def check_depth(
    instance: Any, prefix: str = "", limit: int = MAX_DEPTH, max_values: int = MAX_VALUES
) -> None:
    """Refuse objects and arrays nested deeper than ``limit``, or holding more than
    ``max_values`` values in all, without recursing (validators, copies and YAML writers do
    recurse: a deep enough value would raise RecursionError there)."""
    # (value, depth, its path as a linked list (parent, key)): the path is spelled out only
    # for the error, so wide bodies cost no string building
    pending: list[tuple[Any, int, Any]] = [(instance, 1, None)]
    values = 0
    while pending:
        node, depth, path = pending.pop()
        if isinstance(node, dict):
            children: Any = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        values += len(node)
        if depth > limit or values > max_values:
            parts = []
            while path is not None:
                path, key = path
                parts.append(_part(key))
            where = ".".join([prefix, *reversed(parts)] if prefix else reversed(parts)) or "body"
            problem = (
                f"is nested too deeply (limit {limit})"
                if depth > limit
                else f"holds too many values (at most {max_values} in all)"
            )
            raise InvalidRequest(f"{where}: {problem}", field=where)
        pending += [
            (value, depth + 1, (path, key))
            for key, value in children
            if isinstance(value, (dict, list))
        ]


def check(instance: Any, relative_path: str, pointer: str = "", prefix: str = "") -> None:
    """Raise :class:`InvalidRequest` naming the field when ``instance`` does not validate."""
    check_depth(instance, prefix)
    error = best_match(_validator(relative_path, pointer).iter_errors(instance))
    if error is not None:
        path = field_path(error, prefix)
        raise InvalidRequest(f"{path}: {_describe(error)}", field=path)


def check_request(body: Any, component: str) -> None:
    """Validate a request body against ``components/schemas/<component>`` of the OpenAPI file."""
    check(body, "openapi.yaml", f"/components/schemas/{component}")


def form(relative_path: str) -> dict[str, Any]:
    """A form schema with its references to other files inlined (a fresh copy each call)."""
    return copy.deepcopy(inlined(relative_path))


def inline_refs(node: Any, base: str = "", document: str | None = None) -> Any:
    """A copy of ``node`` with references to other schema files replaced by their targets.

    ``base`` is the path of the file ``node`` comes from, ``document`` the file being built
    (``base`` when not given): its own references (``#/...``) stay, those of the files inlined
    into it are inlined too. The sidebar's form renderer resolves only references within one
    document, so the server sends each form self-contained.
    """
    document = base if document is None else document
    if isinstance(node, list):
        return [inline_refs(item, base, document) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and (not ref.startswith("#") or base != document):
        relative_path, _, pointer = ref.partition("#")
        if relative_path:
            relative_path = posixpath.normpath(
                posixpath.join(posixpath.dirname(base), relative_path)
            )
        else:
            relative_path = base
        target: Any = load(relative_path)
        for part in filter(None, pointer.split("/")):
            target = target[part]
        # a file's own keywords ($schema, $id) and definitions do not belong in another
        # document: every reference into them is inlined
        target = {k: v for k, v in target.items() if k not in _DOCUMENT_KEYWORDS}
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return inline_refs({**target, **siblings}, relative_path, document)
    return {key: inline_refs(value, base, document) for key, value in node.items()}


_DOCUMENT_KEYWORDS = ("$schema", "$id", "$defs")


@functools.cache
def inlined(relative_path: str) -> dict[str, Any]:
    """A schema file with every reference to another file inlined, for validators that resolve
    references within one document only (shared: do not change it)."""
    return inline_refs(load(relative_path), relative_path)


@functools.cache
def output_validator(relative_path: str, pointer: str = "") -> Any:
    """A validator for what the server sends (REST responses, events) against a schema file's
    part, references to other files followed. Plain draft 2020-12: the one-line string rules of
    :data:`Validator` guard input, and an error message may have several lines."""
    schema = {"$ref": f"{relative_path}#{pointer}"}
    return Draft202012Validator(schema, registry=_REGISTRY)
