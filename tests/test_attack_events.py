"""Cluster events reach only callers the Authorizer lets read the launcher.

A deployment may let other people into the owner's Jupyter server with some permissions only
(JupyterHub's granular scopes, a site's Authorizer). Here such callers send ``X-Test-Caller``,
which the Authorizer reads: ``events-only`` may use all of Jupyter (its event bus included) but
nothing of the launcher; ``reader`` may also read the launcher. Requests without the header are
the owner's. A caller without ``read`` on the launcher must learn nothing of the clusters from
events, and nobody but the server may put a cluster into the owner's sidebar.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from dask_cluster_launcher.events import CLUSTER_EVENT_SCHEMA_ID
from dask_cluster_launcher.handlers import AUTH_RESOURCE
from tests.helpers import wait_cluster

CALLER = "X-Test-Caller"
NO_WORKERS = {"backend": "local", "scaling": {"workers": 0}}
FORGED_LINK = "javascript://dashboard.example/%0aalert(document.cookie)"


class ByCaller(Authorizer):
    """The owner may do everything; ``reader`` may read the launcher; ``events-only`` may do
    everything but use the launcher."""

    def is_authorized(self, handler, user, action, resource):
        caller = handler.request.headers.get(CALLER)
        if caller is None or resource != AUTH_RESOURCE:
            return True
        return caller == "reader" and action == "read"


@pytest.fixture
def jp_server_config(private_dir: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"dask_cluster_launcher": True},
            "authorizer_class": ByCaller,
        },
        "ClusterLauncherApp": {"private_dir": str(private_dir)},
    }


async def messages(ws: WebSocketClientConnection, quiet: float = 1.0) -> list[dict[str, Any]]:
    """Every message until none came for ``quiet`` seconds."""
    received = []
    while True:
        try:
            text = await asyncio.wait_for(ws.read_message(), quiet)
        except asyncio.TimeoutError:
            return received
        if text is None:
            return received
        received.append(json.loads(text))


async def next_message(ws: WebSocketClientConnection, timeout: float = 30.0) -> dict[str, Any]:
    text = await asyncio.wait_for(ws.read_message(), timeout)
    assert text is not None, "the event socket closed"
    return json.loads(text)


async def launch_and_stop(launcher_api) -> str:
    code, cluster = await launcher_api("clusters", method="POST", body=NO_WORKERS)
    assert code == 202, cluster
    await wait_cluster(launcher_api, cluster["id"], lambda m: m["state"] == "running")
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    return cluster["id"]


async def test_the_server_event_bus_carries_no_cluster(jp_ws_fetch, launcher_api):
    """Jupyter's bus (``api/events/subscribe``) serves anyone allowed ``events``."""
    bus = await jp_ws_fetch("api", "events", "subscribe", headers={CALLER: "events-only"})
    cluster_id = await launch_and_stop(launcher_api)
    leaked = [m for m in await messages(bus) if cluster_id in json.dumps(m)]
    assert leaked == [], "a caller without read on the launcher saw the cluster"


async def test_only_launcher_readers_receive_cluster_events(jp_ws_fetch, launcher_api):
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("dask-cluster-launcher", "events", headers={CALLER: "events-only"})
    assert refused.value.code == 403
    reader = await jp_ws_fetch("dask-cluster-launcher", "events", headers={CALLER: "reader"})
    owner = await jp_ws_fetch("dask-cluster-launcher", "events")

    cluster_id = await launch_and_stop(launcher_api)
    for ws in (reader, owner):
        received = await messages(ws)
        actions = [m["action"] for m in received]
        assert actions[0] == "updated" and actions[-1] == "removed", actions
        assert {m["cluster_id"] for m in received} == {cluster_id}
        assert received[0]["cluster"]["state"] == "starting"
        assert {m["schema_id"] for m in received} == {CLUSTER_EVENT_SCHEMA_ID}


async def test_a_forged_cluster_event_never_reaches_the_sidebar(
    jp_fetch, jp_ws_fetch, launcher_api
):
    """Jupyter lets anyone allowed to write ``events`` emit an event under any registered
    schema; the sidebar would show it as a cluster, with a ``javascript:`` dashboard link."""
    sidebar = await jp_ws_fetch("dask-cluster-launcher", "events")
    forged = {
        "schema_id": CLUSTER_EVENT_SCHEMA_ID,
        "version": "1",
        "data": {
            "action": "updated",
            "cluster_id": "forged",
            "cluster": {"id": "forged", "name": "forged", "dashboard_link": FORGED_LINK},
        },
    }
    await jp_fetch(
        "api",
        "events",
        method="POST",
        body=json.dumps(forged),
        headers={CALLER: "events-only"},
        raise_error=False,
    )
    code, cluster = await launcher_api("clusters", method="POST", body=NO_WORKERS)
    assert code == 202
    first = await next_message(sidebar)  # the stream is ordered: the forged one came first
    assert first["cluster_id"] == cluster["id"] and first["action"] == "updated"
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    assert FORGED_LINK not in json.dumps(await messages(sidebar))
