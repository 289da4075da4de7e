"""A real ``dask-gateway-server`` on loopback: a pytest plugin, and a small command line for the
UI tests (``testbeds/start-gateway.sh``, ``testbeds/stop-gateway.sh``).

The gateway runs its local backend (``UnsafeLocalBackend``: schedulers and workers are local
processes of this user), a ``SimpleAuthenticator`` with a password, an HTTP proxy and a
separate TCP (scheduler) proxy, each on a free loopback port, and these cluster options::

    worker_profile  Select   "Small Worker" (1 core, 1 GiB) | "Medium Worker" (2 cores, 2 GiB)
    worker_threads  Integer  1..2 threads per worker (at most the profile's cores)

Pytest: load it from ``tests/conftest.py`` (``pytest_plugins``) and use the session fixture
``gateway_testbed``: one gateway per test session, stopped (with every cluster it runs) at the
session's end.

Command line (from the repository root)::

    python -m tests.gateway_testbed start DIR   # idempotent; writes DIR/info.json
    python -m tests.gateway_testbed stop DIR    # stops the gateway and its clusters
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

USERNAME = "dcl-tester"
PASSWORD = "gateway-test-password-7f3e"
#: The Select's choices as the gateway offers them, and what each sets.
PROFILES = {
    "Small Worker": {"worker_cores": 1, "worker_memory": "1 G"},
    "Medium Worker": {"worker_cores": 2, "worker_memory": "2 G"},
}

_CONFIG = """\
# Written by tests/gateway_testbed.py (dask-cluster-launcher test bed).
from dask_gateway_server.options import Integer, Options, Select

c.DaskGateway.address = {api!r}
c.Proxy.address = {http!r}
c.Proxy.tcp_address = {tcp!r}
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = {password!r}
c.DaskGateway.log_level = "INFO"
c.LocalBackend.clusters_directory = {clusters!r}
c.ClusterConfig.scheduler_cmd = [{dask!r}, "scheduler"]
c.ClusterConfig.worker_cmd = [{dask!r}, "worker"]
c.ClusterConfig.adaptive_period = 1.0
c.ClusterConfig.idle_timeout = 0
c.DBBackendBase.cluster_status_period = 2.0
c.DBBackendBase.worker_status_period = 2.0
c.LocalBackend.sigint_timeout = 3
c.LocalBackend.sigterm_timeout = 3

PROFILES = {profiles!r}


def options_handler(options):
    profile = PROFILES[options.worker_profile]
    return {{**profile, "worker_threads": min(options.worker_threads, profile["worker_cores"])}}


c.Backend.cluster_options = Options(
    Select("worker_profile", list(PROFILES), default="Small Worker", label="Worker profile"),
    Integer("worker_threads", default=1, min=1, max=2, label="Threads per worker"),
    handler=options_handler,
)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayTestbed:
    """A running test gateway: where it listens, how to log in, its process."""

    __test__ = False  # not a test class

    directory: str
    address: str  # the HTTP API (through the proxy), as clients' ``gateway.address``
    proxy_address: str  # the scheduler (TCP) proxy, as clients' ``gateway.proxy-address``
    username: str
    password: str
    pid: int

    # --- what clients need ------------------------------------------------------------------
    def dask_config(self) -> dict[str, Any]:
        """A client's ``gateway.*`` dask config (as a hub's gateway.yaml), for
        ``dask.config.set``."""
        return {
            "gateway.address": self.address,
            "gateway.proxy-address": self.proxy_address,
            "gateway.auth.type": "basic",
            "gateway.auth.kwargs": {"username": self.username, "password": self.password},
        }

    def env(self) -> dict[str, str]:
        """The same as ``DASK_GATEWAY__*`` environment variables."""
        return {
            "DASK_GATEWAY__ADDRESS": self.address,
            "DASK_GATEWAY__PROXY_ADDRESS": self.proxy_address,
            "DASK_GATEWAY__AUTH__TYPE": "basic",
            "DASK_GATEWAY__AUTH__KWARGS__USERNAME": self.username,
            "DASK_GATEWAY__AUTH__KWARGS__PASSWORD": self.password,
        }

    def gateway(self, asynchronous: bool = False) -> Any:
        """A ``dask_gateway.Gateway`` client logged in as the test user."""
        from dask_gateway import BasicAuth, Gateway

        return Gateway(
            self.address,
            proxy_address=self.proxy_address,
            auth=BasicAuth(self.username, self.password),
            asynchronous=asynchronous,
        )

    def stop_clusters(self) -> list[str]:
        """Stop every active cluster of the test user (plain HTTP: no event loop needed);
        their names."""
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}"}

        def call(method: str, path: str) -> bytes:
            request = urllib.request.Request(
                f"{self.address}/api/v1/clusters/{path}", method=method, headers=headers
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())

        names = list(json.loads(call("GET", "")))
        for name in names:
            call("DELETE", name)
        return names

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return _healthy(self.address)

    # --- starting and stopping ------------------------------------------------------------------
    @classmethod
    def start(cls, directory: Path, timeout: float = 60.0) -> GatewayTestbed:
        """Write the config into ``directory`` and start the gateway there (ports: free)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "clusters").mkdir(exist_ok=True)
        api, http, tcp = free_port(), free_port(), free_port()
        config = directory / "dask_gateway_config.py"
        config.write_text(
            _CONFIG.format(
                api=f"127.0.0.1:{api}",
                http=f"127.0.0.1:{http}",
                tcp=f"127.0.0.1:{tcp}",
                password=PASSWORD,
                clusters=str(directory / "clusters"),
                dask=str(Path(sys.executable).with_name("dask")),
                profiles=PROFILES,
            )
        )
        server = Path(sys.executable).with_name("dask-gateway-server")
        with open(directory / "gateway.log", "ab") as log:
            process = subprocess.Popen(
                [str(server), "-f", str(config)],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        bed = cls(
            directory=str(directory),
            address=f"http://127.0.0.1:{http}",
            proxy_address=f"127.0.0.1:{tcp}",
            username=USERNAME,
            password=PASSWORD,
            pid=process.pid,
        )
        deadline = time.monotonic() + timeout
        while not _healthy(bed.address):
            if process.poll() is not None or time.monotonic() > deadline:
                bed.stop()
                tail = (directory / "gateway.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"dask-gateway-server did not start:\n{tail}")
            time.sleep(0.1)
        (directory / "gateway.pid").write_text(str(process.pid))
        (directory / "info.json").write_text(json.dumps(asdict(bed)))
        return bed

    @classmethod
    def read(cls, directory: Path) -> GatewayTestbed | None:
        try:
            return cls(**json.loads((directory / "info.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the gateway stops its clusters (``stop_clusters_on_shutdown``), then exits;
        whatever is left of its process group is killed."""
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _running(self.pid):
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)  # its proxy and any straggler
        _running(self.pid)  # reap it when it is our child
        for name in ("gateway.pid", "info.json"):
            with contextlib.suppress(OSError):
                (Path(self.directory) / name).unlink()


def _running(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/api/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def gateway_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayTestbed]:
    """One real dask-gateway-server for the session (see the module's docstring)."""
    bed = GatewayTestbed.start(tmp_path_factory.mktemp("gateway"))
    try:
        yield bed
    finally:
        bed.stop()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.gateway_testbed start|stop DIR", file=sys.stderr)
        return 2
    from testbeds.control import testbed_lock  # the repository root is on sys.path (-m)

    with testbed_lock("gateway"):  # two test servers starting at once start one gateway
        return _command(argv[0], Path(argv[1]))


def _command(command: str, directory: Path) -> int:
    bed = GatewayTestbed.read(directory)
    if command == "stop":
        if bed is not None:
            bed.stop()
        print("gateway stopped")
        return 0
    if bed is not None and bed.alive():
        print(f"gateway already running at {bed.address} (pid {bed.pid})")
        return 0
    if bed is not None:
        bed.stop()  # a stale one
    bed = GatewayTestbed.start(directory)
    print(f"gateway running at {bed.address}, schedulers at {bed.proxy_address} (pid {bed.pid})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
