"""Write ``src/clusterModel.ts``, the sidebar's types of the cluster model, from the one schema
of it, ``schema/model/cluster.yaml``: ``jlpm build:model`` (or ``python
scripts/generate_model_types.py``) after changing the schema. ``tests/test_model_schema.py``
fails while the file differs from what this writes, so the two cannot drift apart.

What it maps: each ``$defs`` entry with a ``title`` becomes a type (objects ``I<title>``
interfaces, enums ``<title>`` unions) and the schema itself ``I<title>``, with the properties
of the definitions it takes with ``allOf``; a property is
optional when the schema does not require it or gives a ``default`` (what a reader may assume
where it is missing); ``description`` becomes the doc comment; ``tsType`` names a type defined
elsewhere in ``src/types.ts`` (``IScaling``). The output is formatted as prettier formats it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "schema/model/cluster.yaml"
OUTPUT = "src/clusterModel.ts"
WIDTH = 80

HEADER = f"""\
/*
 * The cluster model (GET clusters, cluster events), generated from
 * {SCHEMA} by `jlpm build:model`
 * (scripts/generate_model_types.py). Do not edit here: change the schema and
 * run it again.
 */
import type {{ IScaling }} from './types';
"""

_PRIMITIVES = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def type_name(definition: dict[str, Any]) -> str:
    title = definition["title"]
    return f"I{title}" if definition.get("type") == "object" else title


def ts_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """The TypeScript type of a (sub)schema of the model."""
    if "tsType" in schema:
        return str(schema["tsType"])
    ref = schema.get("$ref")
    if ref is not None:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"{ref}: give a reference to another file a tsType")
        return type_name(defs[ref.removeprefix("#/$defs/")])
    if "enum" in schema:
        return " | ".join(f"'{value}'" for value in schema["enum"])
    types = schema.get("type")
    if isinstance(types, list):
        return " | ".join(ts_type({**schema, "type": t}, defs) for t in types)
    if types == "array":
        item = ts_type(schema["items"], defs)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if types == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"Record<string, {ts_type(values, defs)}>"
        raise ValueError(f"{schema}: an object other than a map needs a $defs entry")
    if types in _PRIMITIVES:
        return _PRIMITIVES[types]
    raise ValueError(f"no TypeScript type for {schema}")


def doc_comment(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    text = " ".join(text.split())
    one_line = f"{indent}/** {text} */"
    if len(one_line) <= WIDTH:
        return [one_line]
    lines = textwrap.wrap(text, WIDTH - len(indent) - 3)
    return [f"{indent}/**", *(f"{indent} * {line}" for line in lines), f"{indent} */"]


def interface(name: str, definition: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    required = set(definition.get("required", []))
    lines = doc_comment(definition.get("description"), "")
    lines.append(f"export interface {name} {{")
    for field, schema in properties(definition, defs).items():
        optional = field not in required or "default" in schema
        lines += doc_comment(schema.get("description"), "  ")
        line = f"  {field}{'?' if optional else ''}: {ts_type(schema, defs)};"
        if len(line) > WIDTH:
            raise ValueError(f"{line.strip()}: longer than prettier's {WIDTH} columns")
        lines.append(line)
    return [*lines, "}"]


def properties(definition: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A schema's properties, those of the local definitions it takes with ``allOf`` first
    (which of them are required is the schema's own ``required``)."""
    merged: dict[str, Any] = {}
    for part in definition.get("allOf", []):
        merged.update(properties(defs[part["$ref"].removeprefix("#/$defs/")], defs))
    return {**merged, **definition.get("properties", {})}


def union(name: str, definition: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """A union of literals, on as many lines as prettier puts it."""
    lines = doc_comment(definition.get("description"), "")
    members = ts_type(definition, defs)
    if len(f"export type {name} = {members};") <= WIDTH:
        return [*lines, f"export type {name} = {members};"]
    if len(f"  {members};") <= WIDTH:
        return [*lines, f"export type {name} =", f"  {members};"]
    rows = [f"  | '{value}'" for value in definition["enum"]]
    return [*lines, f"export type {name} =", *rows[:-1], f"{rows[-1]};"]


def render(model: dict[str, Any]) -> str:
    """The TypeScript module for the model schema ``model``: its titled definitions, then
    the model itself."""
    defs = model.get("$defs", {})
    blocks = []
    for definition in [*(d for d in defs.values() if "title" in d), model]:
        if "enum" in definition:
            blocks.append(union(type_name(definition), definition, defs))
        else:
            blocks.append(interface(type_name(definition), definition, defs))
    return HEADER + "".join("\n" + "\n".join(block) + "\n" for block in blocks)


def main() -> int:
    model = yaml.safe_load((ROOT / SCHEMA).read_text(encoding="utf-8"))
    (ROOT / OUTPUT).write_text(render(model), encoding="utf-8")
    print(f"wrote {OUTPUT} from {SCHEMA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
