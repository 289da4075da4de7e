"""Shared fixtures: a real Jupyter server with the extension, and the batch-system test beds."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher import events
from tests import api_schema

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
    """``await launcher_api("clusters", method="POST", body={...})`` -> (status, parsed JSON),
    the JSON checked against the route's response in schema/openapi.yaml."""

    async def call(*path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        elif method in ("POST", "PATCH"):
            kwargs["body"] = ""
        response = await jp_fetch("dask-cluster-launcher", *path, **kwargs)
        text = response.body.decode() if response.body else ""
        parsed = json.loads(text) if text else None
        api_schema.check_response(method, "/".join(path), response.code, parsed)
        return response.code, parsed

    return call


@pytest.fixture
def prompt_lost_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cluster hosts started by this test drop a worker that left (its batch job ended or was
    cancelled) after 2 s, not distributed's ``deploy.lost-worker-timeout`` of 15 s, so adaptive
    scaling replaces it sooner. Hosts inherit this environment: request the fixture before
    ``jp_serverapp`` (or ``launcher_api``), which starts a spare host."""
    monkeypatch.setenv("DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT", "2s")


@pytest.fixture(autouse=True)
def cluster_events_follow_the_schema(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every cluster event a server in this process publishes is checked against
    schema/events/cluster.yaml (and so the cluster model); the test fails with what differs.
    Checked where the manager hands them over, since a failure there is logged, not raised."""
    invalid: list[str] = []
    publish = events.ClusterEventPublisher.__call__

    def checked(self: Any, action: str, cluster_id: str, payload: Any) -> None:
        message = api_schema.event_message(action, cluster_id, payload)
        invalid.extend(f"{action} {cluster_id}: {e}" for e in api_schema.event_errors(message))
        publish(self, action, cluster_id, payload)

    monkeypatch.setattr(events.ClusterEventPublisher, "__call__", checked)
    yield
    assert not invalid, "cluster events that do not follow the schema:\n" + "\n".join(invalid)
