"""Errors the launcher's logic raises; the HTTP layer maps each to a status code."""

from __future__ import annotations

import re
from typing import Any

#: Characters of a user's value an error message quotes: a 10 MB value must not make a 10 MB
#: answer or log line.
QUOTE_LIMIT = 80
#: Whole messages are cut here too, whatever put them together.
MESSAGE_LIMIT = 1000


def shorten(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters; ``repr`` escapes line breaks and
    control characters, so a quoted value cannot forge a line in a log."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]  # before repr: never build the repr of a huge string
        return repr(value) + f"... ({limit} characters shown)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class LauncherError(Exception):
    """Base class: a problem the user can act on, reported with a message."""

    status = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + "..."
        super().__init__(message)
        self.message = message
        self.field = field


# "options.cores: must be ..." -> options.cores
_FIELD_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): ")


class InvalidRequest(LauncherError):
    """Bad input; ``field`` is the path of the offending value (``options.cores``). A message
    that starts with a path (``"kernel: ..."``) names its field even where ``field`` is not
    given, so every 400 that names a field carries it for the sidebar to mark."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        if field is None:
            named = _FIELD_PREFIX.match(message)
            field = named.group(1) if named else None
        super().__init__(message, field)


class RequestTooLarge(LauncherError):
    """A request body larger than any valid request: refused before it is parsed."""

    status = 413


class NotFound(LauncherError):
    """Unknown cluster or profile."""

    status = 404


class ConflictError(LauncherError):
    """The cluster is not in a state that allows the operation."""

    status = 409
