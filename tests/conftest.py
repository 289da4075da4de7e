"""Shared fixtures: a real Jupyter server with the extension, and the batch-system test beds."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server", "tests.batch_testbeds", "tests.gateway_testbed"]


@pytest.fixture(scope="session")
def private_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The launcher's private directory for this test run (credentials, sockets, logs)."""
    return tmp_path_factory.mktemp("private")


@pytest.fixture
def jp_server_config(private_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {"private_dir": str(private_dir)},
    }


@pytest.fixture
def launcher_api(jp_fetch: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``await launcher_api("clusters", method="POST", body={...})`` -> (status, parsed JSON)."""

    async def call(*path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        elif method in ("POST", "PATCH"):
            kwargs["body"] = ""
        response = await jp_fetch("dask-cluster-launcher", *path, **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text else None)

    return call
