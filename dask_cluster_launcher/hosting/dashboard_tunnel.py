"""The dashboard of a scheduler in its own batch job, relayed to the Jupyter server over TLS.

A host inside a batch job (see ``job_host``) serves its scheduler's dashboard on a private Unix
socket of its compute node, which the Jupyter server on another machine cannot open. Two pipes
carry the dashboard's bytes between them, so that no port anyone can use without the cluster's
credentials is opened on the node:

- on the node, :class:`NodeDashboardListener` (in the host) listens on the node's routable
  address (where its control server listens) with TLS, requires a client certificate signed by
  the cluster's own CA (its ``tls.pem``, readable by its owner only) and pipes each connection
  to the dashboard's Unix socket;
- beside Jupyter, :class:`DashboardRelay` (in the Jupyter server, one per cluster) listens on a
  private Unix socket of its own (0600 in a 0700 folder, as a host's dashboard socket) and
  pipes each connection over mutual TLS to the node's listener. The Jupyter server's dashboard
  route (``dashboard_proxy``, after Jupyter's authentication) relays to that socket as to any
  other cluster's.

Used for every cluster in its own job, also when the node is the Jupyter server's machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from ..private import DASHBOARD_SOCKET, ClusterFiles, make_runtime_dir, remove_runtime_dir

#: Bytes read at once from either side.
CHUNK = 64 * 1024
#: Seconds a TLS handshake may take (a client without the certificate is refused at once).
HANDSHAKE_TIMEOUT = 10.0
#: Seconds a closing connection waits for its peer.
CLOSE_TIMEOUT = 2.0


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):  # a side gone (ssl.SSLError is an OSError)
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


async def splice(
    one: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    other: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Copy bytes both ways until either side closes, then close both: a TLS stream cannot
    be half-closed, and neither HTTP nor websockets half-close a connection they still use
    (what was written before the close is still delivered)."""
    copies = {
        asyncio.ensure_future(_copy(one[0], other[1])),
        asyncio.ensure_future(_copy(other[0], one[1])),
    }
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for copy in copies:
            copy.cancel()
        for writer in (one[1], other[1]):
            writer.close()
        for writer in (one[1], other[1]):
            # a TLS close waits for the peer's answer: not for long
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)


def tls_contexts(files: ClusterFiles) -> tuple[Any, Any]:
    """(server, client) TLS contexts with the cluster's credentials, as distributed makes
    them for its scheduler and clients: each side requires the other's certificate, signed by
    the cluster's own CA."""
    security = files.security()
    server = security.get_listen_args("scheduler")["ssl_context"]
    client = security.get_connection_args("client")["ssl_context"]
    return server, client


class _Connections:
    """The connections being piped, ended when their listener closes (a dashboard's
    websocket would otherwise outlive it)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add_current(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def end(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class NodeDashboardListener:
    """In the host: TLS on ``host`` (a free port), each connection piped to the dashboard's
    Unix socket ``socket_path``."""

    def __init__(self, socket_path: str, files: ClusterFiles) -> None:
        self.socket_path = socket_path
        self.files = files
        self._server: asyncio.Server | None = None
        self._connections = _Connections()
        #: ``host:port`` once listening.
        self.address: str | None = None

    async def start(self, host: str) -> str:
        server_context, _ = tls_contexts(self.files)
        self._server = await asyncio.start_server(
            self._relay, host, 0, ssl=server_context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
        )
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"{host}:{port}"
        return self.address

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add_current()
        try:
            dashboard = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.close()
            return
        await splice((reader, writer), dashboard)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await self._connections.end()
            await server.wait_closed()


class DashboardRelay:
    """Beside Jupyter: a private Unix socket whose connections go over mutual TLS to the
    node's listener at ``address`` (``host:port``). ``open`` is synchronous (the dashboard
    route asks for the socket's path): the socket listens at once and its connections are
    accepted as soon as the event loop runs; the TLS context is made (in a thread) for the
    first of them."""

    def __init__(self, address: str, files: ClusterFiles) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.files = files
        self.path: str | None = None
        self._folder: Path | None = None
        self._serving: asyncio.Future[asyncio.Server] | None = None
        self._client_context: Any = None
        self._connections = _Connections()

    def open(self) -> str:
        """The relay's socket path (made on the first call, in a fresh private folder)."""
        if self.path is not None:
            return self.path
        folder = make_runtime_dir()
        path = str(folder / DASHBOARD_SOCKET)
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listening.bind(path)
            os.chmod(path, 0o600)  # in a 0700 folder: nobody else could reach it meanwhile
            listening.listen(100)
        except BaseException:
            listening.close()
            remove_runtime_dir(folder)
            raise
        self._serving = asyncio.ensure_future(
            asyncio.start_unix_server(self._relay, sock=listening)
        )
        self.path, self._folder = path, folder
        return path

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add_current()
        if self._client_context is None:
            # reading the cluster's credential files: in a thread, never on the server's loop
            _, self._client_context = await asyncio.to_thread(tls_contexts, self.files)
        try:
            node = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._client_context,
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                ),
                HANDSHAKE_TIMEOUT,
            )
        except (OSError, asyncio.TimeoutError):
            writer.close()  # the proxy answers 502 for a connection closed before any answer
            return
        await splice((reader, writer), node)

    async def close(self) -> None:
        """Stop listening and remove the socket and its folder."""
        serving, self._serving = self._serving, None
        if serving is not None:
            server = await serving
            server.close()
            await self._connections.end()
            await server.wait_closed()
        folder, self._folder, self.path = self._folder, None, None
        if folder is not None:
            remove_runtime_dir(folder)
