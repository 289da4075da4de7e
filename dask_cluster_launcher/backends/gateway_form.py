"""The launch form of the gateway backend: the gateway's ``cluster_options()`` as JSON Schema."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: Longest String option value.
_STRING_LIMIT = 4096


def field_schema(option: Any, mapping_value: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of one of dask_gateway's option fields (None: a type it does not know)."""
    from dask_gateway import options as kinds

    schema: dict[str, Any] = {"title": str(option.label or option.field), "default": option.value}
    if isinstance(option, kinds.Select):
        schema.update(type="string", enum=list(option.options))
    elif isinstance(option, kinds.Bool):
        schema["type"] = "boolean"
    elif isinstance(option, (kinds.Integer, kinds.Float)):
        schema["type"] = "integer" if isinstance(option, kinds.Integer) else "number"
        bounds = {"minimum": option.min, "maximum": option.max}
        schema.update({key: value for key, value in bounds.items() if value is not None})
    elif isinstance(option, kinds.String):
        schema.update(type="string", maxLength=_STRING_LIMIT)
    elif isinstance(option, kinds.Mapping):
        schema.update(
            type="object",
            additionalProperties=mapping_value,
            propertyNames={"type": "string", "maxLength": 256},
            maxProperties=256,
        )
    else:
        return None
    return schema


def options_schema(static_schema: dict[str, Any], fields: list[Any]) -> dict[str, Any]:
    """The backend's static form (``schema/backends/gateway.yaml``) with the gateway's option
    fields as its properties; a field of a type the form cannot show is left out (logged)."""
    schema = dict(static_schema)
    value_schema = schema.pop("$defs")["mapping_value"]
    schema.pop("propertyNames", None)
    properties = {}
    for option in fields:
        prop = field_schema(option, value_schema)
        if prop is None:
            log.warning("Dask Gateway option %r has a type the form cannot show", option)
            continue
        properties[option.field] = prop
    schema.update(properties=properties, additionalProperties=False)
    return schema
