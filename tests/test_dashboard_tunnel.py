"""The pipes that carry a dashboard from a compute node's Unix socket to the Jupyter server,
over mutual TLS with the cluster's credentials (``hosting.dashboard_tunnel``), with real
sockets and certificates: what a client of the Jupyter side's socket gets is the dashboard's
answer; a client without the cluster's certificate gets nothing from the node's port; a close
leaves neither socket."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
from pathlib import Path

import pytest

from dask_cluster_launcher.hosting.dashboard_tunnel import DashboardRelay, NodeDashboardListener
from dask_cluster_launcher.private import ClusterFiles

ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nbokeh"
BIG = os.urandom(3 * 1024 * 1024)  # bigger than any buffer on the way


async def fake_dashboard(path: str) -> asyncio.Server:
    """A Unix socket server that answers a request line with ``ANSWER``, and ``BIG`` back
    for ``BIG``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        if line.startswith(b"GET"):
            writer.write(ANSWER)
        else:
            writer.write(await reader.readexactly(len(BIG)))
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(answer, path)


async def through_relay(path: str, request: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def tunnel_case(tmp_path: Path) -> dict[str, object]:
    files = ClusterFiles(tmp_path / "private" / "clusters" / "tunnel01").create()
    dashboard_path = str(tmp_path / "dashboard.sock")
    dashboard = await fake_dashboard(dashboard_path)
    listener = NodeDashboardListener(dashboard_path, files)
    address = await listener.start("127.0.0.1")
    relay = DashboardRelay(address, files)
    relay_path = relay.open()
    seen: dict[str, object] = {"relay_path": relay_path}
    seen["mode"] = stat.S_IMODE(os.stat(relay_path).st_mode)
    seen["folder_mode"] = stat.S_IMODE(os.stat(Path(relay_path).parent).st_mode)
    seen["get"] = await through_relay(relay_path, b"GET / HTTP/1.0\r\n\r\n")
    seen["big"] = await through_relay(relay_path, b"PUT\n" + BIG) == BIG

    # a TLS client without the cluster's certificate: the handshake is refused
    host, port = address.rsplit(":", 1)
    anonymous = ssl.create_default_context()
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection(host, int(port), ssl=anonymous)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        seen["anonymous_tls"] = await asyncio.wait_for(reader.read(), 10)
    except (OSError, asyncio.IncompleteReadError) as exc:
        seen["anonymous_tls"] = type(exc).__name__
    # plain HTTP on the node's port: no HTTP answer
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    try:
        seen["plain"] = await asyncio.wait_for(reader.read(), 10)
    except OSError as exc:
        seen["plain"] = type(exc).__name__
    writer.close()

    await relay.close()
    await listener.close()
    seen["relay_left"] = os.path.exists(relay_path) or os.path.exists(Path(relay_path).parent)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        seen["listener_left"] = True
    except OSError:
        seen["listener_left"] = False
    dashboard.close()
    return seen


def test_the_dashboard_crosses_the_tunnel_and_nothing_else_does(tmp_path: Path):
    seen = asyncio.run(tunnel_case(tmp_path))
    assert seen["mode"] == 0o600 and seen["folder_mode"] == 0o700
    assert seen["get"] == ANSWER
    assert seen["big"] is True
    # refused in the handshake: an SSL error, or the connection closed with no answer
    assert not isinstance(seen["anonymous_tls"], bytes) or seen["anonymous_tls"] == b""
    assert not isinstance(seen["plain"], bytes) or not seen["plain"].startswith(b"HTTP")
    assert seen["relay_left"] is False and seen["listener_left"] is False


def test_a_relay_to_a_node_that_is_gone_closes_the_connection(tmp_path: Path):
    async def case() -> bytes:
        files = ClusterFiles(tmp_path / "clusters" / "tunnel02").create()
        relay = DashboardRelay("127.0.0.1:1", files)  # nothing listens there
        try:
            return await through_relay(relay.open(), b"GET / HTTP/1.0\r\n\r\n")
        finally:
            await relay.close()

    assert asyncio.run(case()) == b""


@pytest.mark.parametrize("address", ["[::1]:8443", "10.0.0.7:8443"])
def test_a_relay_reads_its_nodes_address(address: str, tmp_path: Path):
    relay = DashboardRelay(address, ClusterFiles(tmp_path))
    assert (relay.host, relay.port) == (address.rsplit(":", 1)[0].strip("[]"), 8443)


async def test_the_relay_reads_the_credentials_off_the_event_loop(tmp_path, monkeypatch):
    """Opening the relay (on the dashboard route) reads no file on the Jupyter server's event
    loop: the cluster's TLS context is made in a thread, for the first connection."""
    import threading

    from dask_cluster_launcher.hosting import dashboard_tunnel

    files = ClusterFiles(tmp_path / "private" / "clusters" / "tunnel03").create()
    dashboard_path = str(tmp_path / "dashboard.sock")
    dashboard = await fake_dashboard(dashboard_path)
    listener = NodeDashboardListener(dashboard_path, files)
    address = await listener.start("127.0.0.1")
    made_in: list[threading.Thread] = []
    real = dashboard_tunnel.tls_contexts

    def recording(files: ClusterFiles):
        made_in.append(threading.current_thread())
        return real(files)

    monkeypatch.setattr(dashboard_tunnel, "tls_contexts", recording)
    relay = DashboardRelay(address, files)
    try:
        path = relay.open()
        assert made_in == []  # nothing read yet
        assert await through_relay(path, b"GET / HTTP/1.0\r\n\r\n") == ANSWER
        assert made_in and threading.main_thread() not in made_in
    finally:
        await relay.close()
        await listener.close()
        dashboard.close()
