"""Every route of the extension refuses requests without Jupyter authentication."""

from __future__ import annotations

import re

import pytest

from dask_cluster_launcher.handlers import ROUTES

METHODS = ("get", "post", "patch", "put", "delete")


def _route_calls() -> list[tuple[str, str]]:
    calls = []
    for pattern, handler in ROUTES:
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "some-id", pattern)
        for method in METHODS:
            if method in vars(handler):
                calls.append((method.upper(), path))
    return calls


def test_every_route_is_enumerated() -> None:
    paths = {path for _, path in _route_calls()}
    assert paths == {
        "backends",
        "profiles",
        "profiles/some-id",
        "clusters",
        "clusters/some-id",
        "clusters/some-id/snippet",
        "clusters/some-id/jobs/some-id/log",
        "preview",
        "events",
    }


@pytest.mark.parametrize("method, path", _route_calls())
async def test_unauthenticated_request_is_refused(
    jp_serverapp, http_server_client, jp_base_url, method, path
) -> None:
    body = "{}" if method in ("POST", "PATCH", "PUT") else None
    response = await http_server_client.fetch(
        f"{jp_base_url}dask-cluster-launcher/{path}",
        method=method,
        body=body,
        raise_error=False,
    )
    assert response.code in (401, 403), (method, path, response.code)
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    assert manager.list() == []


@pytest.mark.parametrize("method, path", _route_calls())
async def test_wrong_token_is_refused(jp_serverapp, http_server_client, jp_base_url, method, path):
    body = "{}" if method in ("POST", "PATCH", "PUT") else None
    response = await http_server_client.fetch(
        f"{jp_base_url}dask-cluster-launcher/{path}",
        method=method,
        body=body,
        headers={"Authorization": "token not-the-token"},
        raise_error=False,
    )
    assert response.code in (401, 403), (method, path, response.code)
