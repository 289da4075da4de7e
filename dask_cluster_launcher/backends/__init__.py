"""The kinds of cluster the launcher can start, by name."""

from __future__ import annotations

from .base import Backend
from .local import LocalBackend
from .saturn import SaturnBackend
from .sge import SGEBackend
from .slurm import SLURMBackend


def default_backends(
    *,
    saturn_base_url: str = "",
    saturn_token: str = "",
    saturn_call_timeout: float = 30.0,
    start_timeout: float = 300.0,
) -> dict[str, Backend]:
    """Every backend; Saturn's credentials fall back to SATURN_BASE_URL / SATURN_TOKEN."""
    saturn = SaturnBackend(
        saturn_base_url,
        saturn_token,
        call_timeout=saturn_call_timeout,
        start_timeout=start_timeout,
    )
    backends: list[Backend] = [LocalBackend(), SLURMBackend(), SGEBackend(), saturn]
    return {backend.name: backend for backend in backends}


__all__ = ["Backend", "default_backends"]
