"""A real ``jupyter server`` subprocess with both extensions, a REST client and the events
WebSocket, as a browser would use them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from dask_cluster_launcher import changes

CLUSTER_EVENT_SCHEMA_ID = "https://schema.dask-cluster-launcher.org/events/cluster"
SGE_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}

# dask-labextension builds its clusters from the dask config key ``labextension.factory``
# (dask_labextension/manager.py: make_cluster). The same LocalCluster the launcher's local
# backend starts (backends/local.py), with 2 workers from the start.
LABEXTENSION_FACTORY_ENV = {
    "DASK_LABEXTENSION__FACTORY__MODULE": "distributed",
    "DASK_LABEXTENSION__FACTORY__CLASS": "LocalCluster",
    "DASK_LABEXTENSION__FACTORY__KWARGS__N_WORKERS": "2",
    "DASK_LABEXTENSION__FACTORY__KWARGS__THREADS_PER_WORKER": "1",
    "DASK_LABEXTENSION__FACTORY__KWARGS__PROCESSES": "True",
    "DASK_LABEXTENSION__FACTORY__KWARGS__MEMORY_LIMIT": "auto",
    "DASK_LABEXTENSION__FACTORY__KWARGS__PROTOCOL": "tcp://",
    "DASK_LABEXTENSION__FACTORY__KWARGS__HOST": "127.0.0.1",
    "DASK_LABEXTENSION__FACTORY__KWARGS__SCHEDULER_PORT": "0",
    "DASK_LABEXTENSION__FACTORY__KWARGS__DASHBOARD_ADDRESS": "127.0.0.1:0",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env() -> dict[str, str]:
    """Environment for the server and for baseline subprocesses: this venv first on PATH,
    the Grid Engine client settings, platform dirs as the Makefile sets them."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.update(SGE_ENV)
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


class EventStream:
    """The launcher's ``dask-cluster-launcher/events`` WebSocket; every cluster event with its
    arrival time (``time.time()``, comparable with the scheduler's timestamps on this machine)."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self._conn = conn
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.bytes: list[int] = []  # size of each cluster event as sent
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            text = await self._conn.read_message()
            if text is None:
                return
            arrived = time.time()
            data = json.loads(text)
            if data.get("schema_id") != CLUSTER_EVENT_SCHEMA_ID:
                continue
            data = self._with_model(data)
            async with self._changed:
                self.messages.append((arrived, data))
                self._changed.notify_all()

    def _with_model(self, data: dict[str, Any]) -> dict[str, Any]:
        """The event with the cluster's whole model after it (``cluster``), as the sidebar
        rebuilds it from the first full event and the patches after it."""
        cluster_id = data["cluster_id"]
        if data["action"] == "updated":
            self.models[cluster_id] = data["cluster"]
        elif data["action"] == "changed" and cluster_id in self.models:
            self.models[cluster_id] = changes.apply(self.models[cluster_id], data["changes"])
        elif data["action"] == "removed":
            self.models.pop(cluster_id, None)
        self.bytes.append(len(json.dumps(data)))
        return {**data, "cluster": self.models.get(cluster_id)}

    def mark(self) -> int:
        """An index to wait from (events before it are ignored)."""
        return len(self.messages)

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        since: int = 0,
        timeout: float = 120.0,
    ) -> tuple[float, dict[str, Any]]:
        """(arrival time, event) of the first event from ``since`` on that matches."""
        deadline = time.monotonic() + timeout
        index = since
        while True:
            while index < len(self.messages):
                arrived, data = self.messages[index]
                index += 1
                if predicate(data):
                    return arrived, data
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._reader.done():
                raise TimeoutError(f"no matching cluster event within {timeout:g} s")
            seen = index

            def more(seen: int = seen) -> bool:
                return len(self.messages) > seen

            async with self._changed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(more), remaining)

    def close(self) -> None:
        self._conn.close()
        self._reader.cancel()


class JupyterServer:
    """``python -m jupyter_server`` on a free loopback port with a random token; with
    ``console_script``, ``jupyter server`` (the ``jupyter`` script as ``__main__``, as users run
    it: worker processes spawned by a cluster in the server import it again)."""

    def __init__(
        self,
        extensions: dict[str, bool],
        extra_env: dict[str, str] | None = None,
        console_script: bool = False,
    ):
        self.console_script = console_script
        self.extensions = extensions
        self.extra_env = extra_env or {}
        self.token = secrets.token_hex(16)
        self.port = 0
        self.workdir = Path(tempfile.mkdtemp(prefix="dcl-bench-server-"))
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = AsyncHTTPClient(force_instance=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self, timeout: float = 60.0) -> float:
        """Start and wait until the REST API answers; returns the seconds it took."""
        self.port = free_port()
        root = self.workdir / "root"
        root.mkdir()
        env = bench_env()
        env.update(self.extra_env)
        env["JUPYTER_RUNTIME_DIR"] = str(self.workdir / "runtime")
        config = self.workdir / "jupyter_server_config.json"
        config.write_text(json.dumps({"ServerApp": {"jpserver_extensions": self.extensions}}))
        if self.console_script:
            start = [str(Path(sys.executable).parent / "jupyter"), "server"]
        else:
            start = [sys.executable, "-m", "jupyter_server"]
        command = [
            *start,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            f"--config={config}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() - t0 < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter server exited; log {self.log_path}:\n{self.log()}")
            with contextlib.suppress(Exception):
                code, _ = await self.request("GET", "api/status", timeout=2)
                if code == 200:
                    return time.monotonic() - t0
            await asyncio.sleep(0.1)
        raise RuntimeError(f"jupyter server did not answer in {timeout:g} s; log {self.log_path}")

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    async def request(
        self, method: str, path: str, body: Any = None, timeout: float = 300.0
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None)."""
        data = None if body is None else json.dumps(body)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = ""
        response = await self.http.fetch(
            HTTPRequest(
                self.url + path,
                method=method,
                body=data,
                headers={"Authorization": f"token {self.token}"},
                request_timeout=timeout,
            ),
            raise_error=False,
        )
        text = response.body.decode() if response.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return response.code, parsed

    async def events(self) -> EventStream:
        url = f"ws://127.0.0.1:{self.port}/dask-cluster-launcher/events"
        conn = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        )
        return EventStream(conn)

    async def stop(self, timeout: float = 90.0) -> None:
        """SIGTERM (the launcher stops its clusters on shutdown), SIGKILL if it hangs."""
        self.http.close()
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            while process.poll() is None and time.monotonic() - t0 < timeout:
                await asyncio.sleep(0.1)
            if process.poll() is None:
                process.kill()
                process.wait()
        if process is not None and process.returncode not in (0, -signal.SIGTERM):
            print(f"  (jupyter server exit code {process.returncode}; log kept: {self.log_path})")
            return
        shutil.rmtree(self.workdir, ignore_errors=True)
