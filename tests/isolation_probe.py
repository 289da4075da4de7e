"""What of another user's Dask clusters can this process reach? Run it as that other user.

stdin: ``{"tcp": [[host, port], ...], "unix": [path, ...], "paths": [path, ...]}``
stdout: one JSON list of ``{"target", "attempt", "reachable", "detail", "control"}``.

An attempt reaches its target only when it gets a valid answer: a Dask ``identity`` reply, an
HTTP status other than 401/403, a file's first byte, a directory's listing. Refused, reset,
TLS handshake refused, timed out or garbage all count as unreachable. Every network attempt runs
at once with a short timeout, so the whole probe takes about one timeout.

Since a timeout counts as "unreachable", a broken or starved probe would find nothing and pass:
the probe also opens its own listeners that anyone CAN reach (plain Dask, Dask over TLS without
client certificates, HTTP, HTTPS) and tries them the same way, at the same time; rows marked
``control`` must all be reachable for the others to mean anything.

Standalone on purpose (the standard library and distributed only): it runs under Debian's
``/usr/bin/python3`` with the project's site-packages on ``PYTHONPATH``, as a user who cannot
read the project's virtual environment's interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import sys

from distributed.comm import connect  # imported before any timeout starts
from distributed.core import Server
from distributed.security import Security

TIMEOUT = 3.0


def no_client_certificate() -> ssl.SSLContext:
    """TLS as an intruder speaks it: no certificate of its own, any server certificate trusted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def dask_identity(address: str, **connection_args) -> tuple[bool, str]:
    comm = await connect(address, timeout=TIMEOUT, **connection_args)
    try:
        await comm.write({"op": "identity", "reply": True})
        answer = await comm.read()
    finally:
        comm.abort()
    return isinstance(answer, dict), f"identity -> {str(answer)[:70]}"


async def http_get(host: str = "", port: int = 0, tls=None, unix: str = "") -> tuple[bool, str]:
    if unix:
        reader, writer = await asyncio.open_unix_connection(unix)
    else:
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    match = re.match(rb"HTTP/1\.[01] (\d{3})", line)
    if not match:
        return False, f"not HTTP: {line[:40]!r}"
    status = int(match[1])
    return status not in (401, 403), f"HTTP {status}"


def read_path(path: str) -> tuple[bool, str]:
    if os.path.isdir(path):
        return True, f"listed {len(os.listdir(path))} entries"
    with open(path, "rb") as f:
        return True, f"read {len(f.read(64))} bytes"


async def attempt(target: str, name: str, coro, control: bool = False) -> dict:
    try:
        reachable, detail = await asyncio.wait_for(coro, TIMEOUT + 1)
    except Exception as exc:  # any failure means "not reached"
        reachable, detail = False, f"{type(exc).__name__}: {exc}"[:90]
    row = {"target": target, "attempt": name, "reachable": reachable, "detail": detail}
    return {**row, "control": control}


def netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# attempt name -> coroutine trying it on (host, port) with the intruder's TLS context
ATTEMPTS = {
    "dask tcp": lambda host, port, tls: dask_identity(f"tcp://{netloc(host, port)}"),
    "dask tls, no client cert": lambda host, port, tls: dask_identity(
        f"tls://{netloc(host, port)}", ssl_context=tls
    ),
    "http GET /": lambda host, port, tls: http_get(host, port),
    "https GET /, no client cert": lambda host, port, tls: http_get(host, port, tls),
}


async def open_controls() -> dict:
    """Listeners this user opens itself, one per kind of attempt, that anyone can reach."""
    server_tls = Security.temporary().get_listen_args("scheduler")["ssl_context"]
    server_tls.verify_mode = ssl.CERT_NONE  # no client certificate asked for

    async def answer_http(reader, writer):
        await reader.readline()
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
        await writer.drain()
        writer.close()

    dask_plain, dask_tls = Server({}), Server({})
    await dask_plain.listen("tcp://127.0.0.1:0")
    await dask_tls.listen("tls://127.0.0.1:0", ssl_context=server_tls)
    http = await asyncio.start_server(answer_http, "127.0.0.1", 0)
    https = await asyncio.start_server(answer_http, "127.0.0.1", 0, ssl=server_tls)
    return {
        "dask tcp": (dask_plain, dask_plain.port),
        "dask tls, no client cert": (dask_tls, dask_tls.port),
        "http GET /": (http, http.sockets[0].getsockname()[1]),
        "https GET /, no client cert": (https, https.sockets[0].getsockname()[1]),
    }


async def probe(request: dict) -> list[dict]:
    tls = no_client_certificate()
    controls = await open_controls()
    attempts = [
        attempt(f"127.0.0.1:{port}", name, ATTEMPTS[name]("127.0.0.1", port, tls), control=True)
        for name, (_, port) in controls.items()
    ]
    for host, port in request.get("tcp", []):
        attempts += [
            attempt(netloc(host, port), name, try_it(host, port, tls))
            for name, try_it in ATTEMPTS.items()
        ]
    for path in request.get("unix", []):
        attempts.append(attempt(path, "http GET / on unix socket", http_get(unix=path)))
    rows = list(await asyncio.gather(*attempts))
    for server, _ in controls.values():
        closing = server.close()  # distributed's is a coroutine, asyncio's is not
        if closing is not None:
            await closing
    for path in request.get("paths", []):
        try:
            reachable, detail = read_path(path)
        except OSError as exc:
            reachable, detail = False, f"{type(exc).__name__}: {exc.strerror}"
        row = {"target": path, "attempt": "open", "reachable": reachable, "detail": detail}
        rows.append({**row, "control": False})
    return rows


if __name__ == "__main__":
    json.dump(asyncio.run(probe(json.load(sys.stdin))), sys.stdout)
