"""A caller who may only read the launcher never gets a Saturn cluster's private key, and no
Saturn answer puts a ``javascript:`` link into the sidebar.

In external (TLS) mode, dask_saturn holds the client's private key inline, and the client code
carries it: whoever reads that code can use the cluster. Callers are told apart by the
``X-Test-Caller`` header, which the Authorizer reads (as in ``test_attack_events``): ``reader``
may only read the launcher; requests without it are the owner's. Saturn Cloud is the emulator
on loopback, with unmodified dask_saturn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer

from dask_cluster_launcher import snippets
from dask_cluster_launcher.handlers import AUTH_RESOURCE
from dask_cluster_launcher.testing.saturn_emulator import SaturnEmulator
from tests.helpers import wait_cluster
from tests.test_rest_saturn import LAUNCH, TOKEN, running_with, use

CALLER = "X-Test-Caller"
FORGED_LINK = "javascript://saturn.example/%0aalert(document.cookie)"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----"


class ReaderByHeader(Authorizer):
    """The owner may do everything; ``reader`` may only read the launcher."""

    def is_authorized(self, handler, user, action, resource):
        caller = handler.request.headers.get(CALLER)
        return caller is None or resource != AUTH_RESOURCE or action == "read"


@pytest.fixture
def emulator() -> Iterator[SaturnEmulator]:
    with SaturnEmulator(token=TOKEN) as emu:
        yield emu
        emu.release_hung()


@pytest.fixture
def jp_server_config(emulator: SaturnEmulator, private_dir: Path) -> dict[str, Any]:
    """Depends on the emulator so that the server (and its clusters) stop before it."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"dask_cluster_launcher": True},
            "authorizer_class": ReaderByHeader,
        },
        "ClusterLauncherApp": {"private_dir": str(private_dir)},
    }


@pytest.fixture
def api(jp_fetch):
    """``await api(*path, method=..., body=..., caller=...)`` -> (status, parsed JSON)."""

    async def call(
        *path: str, method: str = "GET", body: Any = None, caller: str | None = None
    ) -> tuple[int, Any]:
        response = await jp_fetch(
            "dask-cluster-launcher",
            *path,
            method=method,
            body=None if body is None else json.dumps(body),
            headers={CALLER: caller} if caller else {},
            raise_error=False,
        )
        return response.code, json.loads(response.body) if response.body else None

    return call


@pytest.fixture
def forging_saturn(monkeypatch) -> None:
    """Saturn's API answers a ``javascript:`` dashboard link for every cluster."""
    answer = SaturnEmulator._cluster_action

    def forged(self, cluster, method, action, external, raw):
        code, body = answer(self, cluster, method, action, external, raw)
        if action == "info":
            body = {**body, "dashboard_link": FORGED_LINK}
        return code, body

    monkeypatch.setattr(SaturnEmulator, "_cluster_action", forged)


async def test_a_reader_gets_neither_the_private_key_nor_a_forged_link(
    api,
    emulator,
    monkeypatch,
    forging_saturn,
):
    use(emulator, monkeypatch, internal=False)
    code, model = await api("clusters", method="POST", body=LAUNCH)
    assert code == 202, model
    model = await wait_cluster(api, model["id"], running_with(1))
    assert model["scheduler_address"].startswith("tls://")

    code, refused = await api("clusters", model["id"], "snippet", caller="reader")
    assert code == 403, refused
    assert "private TLS key" in refused["message"] and "execute" in refused["message"]
    assert "PRIVATE KEY" not in json.dumps(refused)

    code, snippet = await api("clusters", model["id"], "snippet")  # the owner's
    assert code == 200 and PRIVATE_KEY in snippet["code"]

    for caller in ("reader", None):
        code, seen = await api("clusters", model["id"], caller=caller)
        assert code == 200
        assert seen["dashboard_link"] is None and seen["dashboard_url"] is None
        code, listed = await api("clusters", caller=caller)
        assert FORGED_LINK not in json.dumps(listed)

    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204 and emulator.clusters() == []


def test_only_inline_private_keys_make_a_snippet_a_credential():
    key = "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n"
    with_key = snippets.client_code(
        "tls://10.0.0.1:8786",
        "saturn",
        security={"tls_ca_file": "CA", "tls_client_cert": "CERT", "tls_client_key": key},
    )
    assert snippets.holds_private_key(with_key)
    paths = {"tls_ca_file": "/p/ca.pem", "tls_client_cert": "/p/c.pem", "tls_client_key": "/p/k"}
    with_paths = snippets.client_code("tls://10.0.0.1:8786", "mine", security=paths)
    assert not snippets.holds_private_key(with_paths)
    assert not snippets.holds_private_key(snippets.client_code("tcp://10.0.0.1:8786", "plain"))
