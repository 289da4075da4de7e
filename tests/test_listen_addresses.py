"""Dask servers started where the launcher's preload is imported listen on one address, the one
distributed advertises for them, never on every interface (``0.0.0.0``, ``[::]``). The whole
picture (every listener of every backend's scheduler, nannies and workers) is checked in
``test_isolation`` and ``test_attack_listeners``."""

from __future__ import annotations

from types import ModuleType

import pytest
from distributed.core import Server
from distributed.node import ServerNode
from distributed.utils import get_ip


@pytest.fixture
def private_http(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The module, with what importing it replaces in this process given back after the test:
    the replacement is for cluster processes, and the rest of this test process (the Saturn
    emulator's schedulers) needs distributed's own. Imported here, not at the top: pytest
    imports every test module before any test runs."""
    monkeypatch.setattr(ServerNode, "start_http_server", ServerNode.start_http_server)
    monkeypatch.setattr(Server, "listen", Server.listen)
    from dask_cluster_launcher.hosting import private_http

    return private_http


@pytest.mark.parametrize(
    ("address", "default_host", "expected"),
    [
        ("tls://", None, f"tls://{get_ip()}:0"),
        ("tcp://0.0.0.0:8786", None, f"tcp://{get_ip()}:8786"),
        ("tls://[::]:0", "10.1.2.3", "tls://10.1.2.3:0"),
        ("tls://:0", "10.1.2.3", "tls://10.1.2.3:0"),
        ("tls://127.0.0.1:0", "10.1.2.3", "tls://127.0.0.1:0"),
        ("tcp://10.4.5.6:7", None, "tcp://10.4.5.6:7"),
        ("inproc://", None, "inproc://"),
    ],
)
def test_a_wildcard_host_becomes_the_advertised_address(
    private_http, address, default_host, expected
):
    assert private_http.on_one_address(address, default_host) == expected


async def test_a_server_told_to_listen_everywhere_listens_on_one_address(private_http):
    private_http.keep_listeners_on_one_address()
    server = Server({})
    # what a worker without --host or --interface does: no host, its scheduler's route given
    await server.listen("tcp://:0", default_host="127.0.0.1")
    await server.listen(0)  # a port alone: distributed's default_ip, the wildcard
    try:
        hosts = [listener.get_host_port()[0] for listener in server.listeners]
        assert hosts == ["127.0.0.1", get_ip()]
    finally:
        server.stop()
