"""The kinds of cluster the launcher can start, by name."""

from __future__ import annotations

from typing import Any

from .base import Backend
from .cuda import CUDABackend
from .existing import ExistingBackend
from .gateway import GatewayBackend
from .local import LocalBackend
from .mpi import MPIBackend
from .saturn import SaturnBackend
from .sge import SGEBackend
from .slurm import SLURMBackend


def default_backends(
    *,
    saturn_base_url: str = "",
    saturn_token: str = "",
    saturn_call_timeout: float = 30.0,
    start_timeout: float = 300.0,
    gateway: dict[str, Any] | None = None,
) -> dict[str, Backend]:
    """Every backend; Saturn's credentials fall back to SATURN_BASE_URL / SATURN_TOKEN;
    ``gateway``: GatewayBackend's settings (address, proxy_address, public_address, auth,
    auth_kwargs, call_timeout), each falling back to dask's ``gateway.*`` config."""
    saturn = SaturnBackend(
        saturn_base_url,
        saturn_token,
        call_timeout=saturn_call_timeout,
        start_timeout=start_timeout,
    )
    backends: list[Backend] = [
        LocalBackend(),
        SLURMBackend(),
        SGEBackend(),
        saturn,
        ExistingBackend(),
        CUDABackend(),
        GatewayBackend(**(gateway or {})),
        MPIBackend(),
    ]
    return {backend.name: backend for backend in backends}


__all__ = ["Backend", "default_backends"]
