"""The kinds of cluster the launcher can start, by name."""

from __future__ import annotations

from .base import Backend
from .local import LocalBackend
from .sge import SGEBackend
from .slurm import SLURMBackend


def default_backends() -> dict[str, Backend]:
    backends: list[Backend] = [LocalBackend(), SLURMBackend(), SGEBackend()]
    return {backend.name: backend for backend in backends}


__all__ = ["Backend", "default_backends"]
