"""The kinds of cluster the launcher can start, by name: those registered in the entry point
group ``dask_cluster_launcher.backends`` (see ``registry``)."""

from __future__ import annotations

from typing import Any

from .base import Backend
from .registry import backend_classes, backend_names, create_backends


def default_backends(
    *,
    saturn_base_url: str = "",
    saturn_token: str = "",
    saturn_call_timeout: float = 30.0,
    start_timeout: float = 300.0,
    gateway: dict[str, Any] | None = None,
) -> dict[str, Backend]:
    """Every registered backend, set up with the server's settings for those that take some:
    Saturn's credentials (falling back to SATURN_BASE_URL / SATURN_TOKEN); ``gateway``:
    GatewayBackend's settings (address, proxy_address, public_address, auth, auth_kwargs,
    call_timeout), each falling back to dask's ``gateway.*`` config."""
    saturn = {
        "base_url": saturn_base_url,
        "token": saturn_token,
        "call_timeout": saturn_call_timeout,
        "start_timeout": start_timeout,
    }
    return create_backends({"saturn": saturn, "gateway": gateway or {}})


__all__ = ["Backend", "backend_classes", "backend_names", "create_backends", "default_backends"]
