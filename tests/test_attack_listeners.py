"""No HTTP server of a user's clusters ever listens on TCP, not even for a moment at start-up.

distributed gives every scheduler and worker an HTTP server (dashboard, ``/json/identity.json``,
worker lists, logs, metrics) without authentication. Another user of the machine who sees such
a port for a few milliseconds connects, and a connection accepted then is served even after
the port closed. Here that user (``dcl-other``) runs ``listener_poller.c``: it reads
``/proc/net/tcp`` in a busy loop and asks every new listener of ``dcl-victim``'s for HTTP at
once, while a real Jupyter server of ``dcl-victim``'s launches local and SLURM clusters (and,
in the second test, an MPI job whose scheduler runs on a compute node). Nothing may answer
HTTP but the Jupyter server itself. Controls: short-lived HTTP listeners of the victim's
(100 ms) that the poller must catch, so a slow or blind poller cannot pass the test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tests.helpers import wait_until
from tests.jupyter_process import JupyterServerProcess
from tests.users import (
    ATTACKER,
    VICTIM,
    as_user,
    owned_dir,
    remove_tree,
    require_user,
    world_enterable_dir,
)
from tests.victim_clusters import BATCH, launch, relay, stop_everything, wait_running

POLLER = Path(__file__).with_name("listener_poller.c")
#: A listener of the victim's that serves HTTP for 100 ms, three times: the poller must see it.
CONTROL = """
import socket, sys, time
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    s.settimeout(0.005)
    end = time.monotonic() + 0.1
    while True:
        try:
            c, _ = s.accept()
        except (socket.timeout, BlockingIOError):
            if time.monotonic() > end:
                break
            continue
        c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\ncontrol")
        c.close()
    s.setblocking(False)
    while True:  # connections made meanwhile are answered, as a server's would be
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        c.setblocking(True)
        c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\ncontrol")
        c.close()
    s.close()
    time.sleep(0.3)
"""
HTTP_REPLY = re.compile(rb"^HTTP/1\.[01] \d{3}")


def compile_poller(folder: Path) -> Path:
    binary = folder / "listener_poller"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(POLLER)], check=True, timeout=120)
    binary.chmod(0o755)
    return binary


class JupyterPorts:
    """The TCP ports Jupyter servers of the victim's listen on (this test's and those of tests
    run beside it), sampled as root while the poller runs: they answer HTTP by design."""

    def __init__(self, uid: int) -> None:
        self.uid, self.ports = uid, set[int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.3):
            for conn in psutil.net_connections("tcp"):
                if conn.status != psutil.CONN_LISTEN or conn.pid is None:
                    continue
                try:
                    process = psutil.Process(conn.pid)
                    if process.uids().real != self.uid:
                        continue
                    command = " ".join(process.cmdline())
                except psutil.Error:
                    continue
                if "jupyter" in command and " server" in command:
                    self.ports.add(conn.laddr.port)

    def stop(self) -> set[int]:
        self._stop.set()
        self._thread.join(5)
        return self.ports


@contextmanager
def polling(folder: Path, uid: int, ignored: list[int]) -> Iterator[Path]:
    """The poller runs as the attacker while the block runs; yields its log."""
    binary = compile_poller(folder)
    logs = owned_dir(ATTACKER, folder / "attacker", 0o755)
    log = logs / "poller.log"
    argv = [str(binary), str(uid), "900", str(log), *map(str, ignored)]
    process = subprocess.Popen(argv, cwd=logs, env={"PATH": "/usr/bin:/bin"}, **as_user(ATTACKER))
    try:
        deadline = time.monotonic() + 10
        while not (log.exists() and "started" in log.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, (
                "the poller did not start"
            )
            time.sleep(0.05)
        yield log
    finally:
        process.terminate()
        process.wait(10)
        # its children finish reading their answers (2 s timeout); usually none is left
        wait_until(lambda: not running_copies(binary), 10, "the poller's children to finish")


def running_copies(binary: Path) -> list[int]:
    """Pids of the processes that run ``binary`` (the poller's children outlive it)."""
    found = []
    for process in psutil.process_iter(["exe"]):
        if process.info["exe"] == str(binary):
            found.append(process.pid)
    return found


def victim_controls() -> set[int]:
    """Run the victim's short-lived HTTP listeners; their ports."""
    result = subprocess.run(
        [sys.executable, "-c", CONTROL],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        **as_user(VICTIM),
    )
    assert result.returncode == 0, result.stderr
    return {int(line) for line in result.stdout.split()}


def victim_listeners(uid: int, wildcard: bool = False) -> set[int]:
    """Ports of the TCP sockets the victim listens on now, read from /proc/net/tcp(6); with
    ``wildcard``, only those on every interface (``0.0.0.0`` or ``[::]``)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                address, port = fields[1].rsplit(":", 1)
                if fields[3] != "0A" or int(fields[7]) != uid:
                    continue
                if not wildcard or int(address, 16) == 0:
                    ports.add(int(port, 16))
    return ports


def listeners_of(ports: set[int]) -> dict[int, str]:
    """port -> the command line listening on it."""
    found = {}
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports and conn.pid:
            try:
                found[conn.laddr.port] = " ".join(psutil.Process(conn.pid).cmdline())[:200]
            except psutil.Error:
                continue
    return found


def open_mpi_runtime(ports: set[int]) -> set[int]:
    """Those of ``ports`` that Open MPI's own runtime listens on, not Dask: ``mpirun``'s
    out-of-band channel, and each rank's TCP transport, which binds from port 1024 up
    (``btl_tcp_port_min_v4``), below the ephemeral ports Dask's listeners get. Open MPI 4
    binds both to every interface and has no setting to choose one address."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    found = set()
    for conn in psutil.net_connections("tcp"):
        if conn.status != psutil.CONN_LISTEN or conn.laddr.port not in ports or not conn.pid:
            continue
        with contextlib.suppress(psutil.Error):
            if psutil.Process(conn.pid).name() == "mpirun" or conn.laddr.port < low:
                found.add(conn.laddr.port)
    return found


def answers_http(port: int) -> bytes | None:
    """The first line of an HTTP answer on 127.0.0.1:``port``, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            first = s.recv(256)
    except OSError:
        return None
    return first.split(b"\r\n")[0] if HTTP_REPLY.match(first) else None


def read_hits(log: Path) -> dict[int, list[str]]:
    """port -> what the poller got from it (lines "PORT INODE KIND DETAIL")."""
    hits: dict[int, list[str]] = {}
    for line in log.read_text().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit():
            hits.setdefault(int(parts[0]), []).append(parts[2])
    return hits


def attack(launches: list[tuple[dict, int]], testbed, check=None, tolerated=None) -> None:
    """Launch ``launches`` (body, workers) together in a victim's Jupyter server
    while the attacker polls; then ``check(server, ids)``, while they still run. Listeners
    on every interface fail the test, but those ``tolerated(ports)`` returns."""
    uid = require_user(VICTIM).pw_uid
    require_user(ATTACKER)
    base = world_enterable_dir("dcl-listen-")
    home = base / "server" / "home"
    home.mkdir(parents=True)
    shared = base / "tmp"  # the victim's temporary directory (batch jobs get it too)
    shared.mkdir()
    shared.chmod(0o1777)
    env = {"HOME": str(home), "TMPDIR": str(shared)}
    server = JupyterServerProcess(base / "server", env=env, user=VICTIM)
    jupyter = JupyterPorts(uid)
    ids: list[str] = []
    try:
        with polling(base, uid, [server.port]) as log:
            controls = victim_controls()
            ids.extend(launch(server, body, workers) for body, workers in launches)
            for cluster_id, (_, workers) in zip(ids, launches, strict=True):
                wait_running(server, cluster_id, workers)
            # every listener of the victim's now, asked again at leisure
            steady = victim_listeners(uid) - {server.port} - controls
            assert steady, "the clusters listen on nothing? (their Dask RPC ports)"
            # each scheduler, nanny and worker on one interface's address, none on all of them
            everywhere = victim_listeners(uid, wildcard=True) - {server.port}
            everywhere -= tolerated(everywhere) if tolerated else set()
            assert not everywhere, (
                f"{VICTIM}'s clusters listen on every interface: {listeners_of(everywhere)}"
            )
            # at once: a silent listener (Open MPI's) keeps each question for its 3 s timeout
            with ThreadPoolExecutor(len(steady)) as pool:
                answering = dict(zip(steady, pool.map(answers_http, steady), strict=True))
        jupyter_ports = jupyter.stop() | {server.port}
        hits = read_hits(log)
        http_ports = {
            port for port, found in hits.items() if any(h.startswith("http") for h in found)
        }
        caught = controls & http_ports
        assert len(caught) >= 2, f"the poller caught {caught} of the controls {controls}: {hits}"
        # not vacuous: the poller saw the clusters' own (TLS) listeners appear
        assert steady & set(hits), (steady, hits)
        http = {port: hits[port] for port in http_ports - controls - jupyter_ports}
        print(f"{len(hits)} listeners of {VICTIM} probed as {ATTACKER}: {hits}")
        assert not http, f"{ATTACKER} got HTTP answers from {VICTIM}'s clusters: {http}"
        still = {
            port: line for port, line in answering.items() if line and port not in jupyter_ports
        }
        assert not still, f"listeners of {VICTIM}'s answer HTTP: {still}"
        if check is not None:
            check(server, ids)
        # the folders the hosts and the MPI ranks made for sockets and scratch space go with them
        stop_everything(server, ids, testbed)
        deadline = time.monotonic() + 30
        while left := [p for p in shared.glob("dcl-*") if p.lstat().st_uid == uid]:
            assert time.monotonic() < deadline, f"left after the clusters stopped: {left}"
            time.sleep(0.2)
    finally:
        jupyter.stop()
        stop_everything(server, ids, testbed)
        remove_tree(base)


def test_no_cluster_ever_listens_for_http_on_tcp(slurm_testbed):
    local = {"backend": "local", "options": {"threads_per_worker": 1, "processes": True}}
    threads = {"backend": "local", "options": {"threads_per_worker": 1, "processes": False}}
    slurm = {"backend": "slurm", "options": BATCH}
    attack([(local, 2), (threads, 1), (local, 1), (slurm, 1), (slurm, 1)], slurm_testbed)


def srun_runtime(ports: set[int]) -> set[int]:
    """Those of ``ports`` that SLURM's ``srun`` listens on, not Dask: the job step's own
    channels to slurmstepd (I/O and messages), on every interface as for any ``srun`` (the
    attacker's HTTP probes still ask them)."""
    found = set()
    for conn in psutil.net_connections("tcp"):
        if conn.status != psutil.CONN_LISTEN or conn.laddr.port not in ports or not conn.pid:
            continue
        with contextlib.suppress(psutil.Error):
            if psutil.Process(conn.pid).name() == "srun":
                found.add(conn.laddr.port)
    return found


@pytest.mark.skipif(
    not (shutil.which("mpirun") and importlib.util.find_spec("dask_mpi")),
    reason="needs Open MPI (testbeds/install.sh) and dask-mpi, mpi4py (the test extra)",
)
def test_an_mpi_jobs_scheduler_and_workers_serve_no_http(slurm_testbed):
    options = {"walltime": "00:20:00", "memory": "500 MB", "cores": 1}
    mpi = {"backend": "mpi", "options": options}
    # the same job without MPI: its tasks run dask-jobqueue's SLURMRunner under srun
    one_job = {"backend": "slurm", "options": {**options, "scheduler_placement": "one_allocation"}}

    def no_dashboard_here(server: JupyterServerProcess, ids: list[str]) -> None:
        # the relay says why there is nothing to show (its scheduler is inside the job)
        for cluster_id in ids:
            status, body = relay(server, cluster_id, "status")
            assert status == 404 and "inside its batch job" in body, (status, body[-500:])

    def runtimes(ports: set[int]) -> set[int]:
        return open_mpi_runtime(ports) | srun_runtime(ports)

    attack([(mpi, 2), (one_job, 1)], slurm_testbed, no_dashboard_here, runtimes)
