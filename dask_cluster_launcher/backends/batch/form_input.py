"""What the SLURM and SGE forms share between the browser and the server: values written as the
batch system reads them are accepted and normalised (``walltimes``), and a refusal names the
field as the form labels it ("Walltime per job: use HH:MM:SS, e.g. 01:30:00"), while the
error's ``field`` keeps the path the sidebar puts the message under (``options.walltime``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ...errors import InvalidRequest
from .walltimes import normalised

#: What the schema check says when a pattern refuses a value (dask_cluster_launcher.schemas).
PATTERN_REFUSED = "has characters or a format that is not allowed"
#: Schema keyword: what to say instead when the field's pattern refuses a value.
MESSAGE = "x-message"


def in_words(error: InvalidRequest, properties: Mapping[str, Any]) -> InvalidRequest:
    """``error`` about a top-level option, its path prefix replaced by the field's title and a
    refused pattern by the field's ``x-message``; other errors as they are."""
    field = error.field or ""
    name = field.removeprefix("options.")
    prefix = f"{field}: "
    schema = properties.get(name)
    if not field.startswith("options.") or not isinstance(schema, dict):
        return error
    if not error.message.startswith(prefix):
        return error
    detail = error.message[len(prefix) :]
    if detail == PATTERN_REFUSED and isinstance(schema.get(MESSAGE), str):
        detail = schema[MESSAGE]
    title = schema.get("title") or name
    return InvalidRequest(f"{title}: {detail}", field=field)


async def validate_in_words(
    validate: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    options: dict[str, Any],
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """``validate`` (a backend's) on ``options`` normalised first, its refusals in words.
    Normalising first is safe: a value the field's pattern refuses is left as it was for the
    schema check to refuse."""
    try:
        return await validate(normalised(options, properties))
    except InvalidRequest as error:
        raise in_words(error, properties) from None
