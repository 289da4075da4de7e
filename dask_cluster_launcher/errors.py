"""Errors the launcher's logic raises; the HTTP layer maps each to a status code."""

from __future__ import annotations


class LauncherError(Exception):
    """Base class: a problem the user can act on, reported with a message."""

    status = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(LauncherError):
    """Bad input; ``field`` is the path of the offending value (``options.cores``)."""

    status = 400


class NotFound(LauncherError):
    """Unknown cluster or profile."""

    status = 404


class ConflictError(LauncherError):
    """The cluster is not in a state that allows the operation."""

    status = 409
