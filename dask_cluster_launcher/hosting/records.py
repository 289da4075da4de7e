"""Cluster records: one small JSON file per running cluster host, in a private directory.

A host writes its record when its control server listens and removes it when it stops. Any
supervisor (a Jupyter server, ``quick_connect``, the CLI) reads them to find the clusters of
this user, alive or left behind by a crash.

What a record says is checked before it is used: a cluster id must be a plain name (it becomes
file and folder names), the record's file must be named after it, and a pid is the host's only
while the process has the start time the host recorded (a pid is reused once its process
exited: a stale record must never get another process of the user's signalled).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..private import make_private_dir, remove_runtime_dir, write_private_file

#: Cluster ids: file and folder names, never a path (the REST routes take ``[0-9a-f]+``).
CLUSTER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_cluster_id(text: object) -> bool:
    return isinstance(text, str) and CLUSTER_ID.fullmatch(text) is not None


def default_records_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir()) / "dask-cluster-launcher"


@dataclass
class HostSpec:
    """What a host needs to run a cluster (written by the supervisor, read by the host)."""

    cluster_id: str
    name: str
    backend: str
    kwargs: dict[str, Any]
    scaling: dict[str, Any]
    private_root: str
    records_dir: str
    #: Seconds the host waits for a supervisor (and then for no client) before stopping itself.
    grace_period: float = 600.0
    options: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    created: str = ""
    #: Seconds with no client and no task after which the host stops the cluster (0: never).
    idle_timeout: float = 0.0
    #: Put in front of every batch command the host runs (dask-jobqueue's sbatch, qdel...).
    command_prefix: list[str] = field(default_factory=list)
    #: The Python the host runs (a kernel's environment); None: the supervisor's own.
    python: str | None = None
    #: ``module:Class`` of the backend the supervisor resolved: the host imports it rather than
    #: reading the registry (a kernel's environment may lack this package's entry points).
    backend_class: str = ""


@dataclass
class Record:
    """A running host: its spec plus how to reach it."""

    spec: HostSpec
    pid: int
    control_address: str
    owner: int = field(default_factory=os.getuid)
    #: The host's machine: the runtime directory may be in a home shared by several machines,
    #: and a pid means something only on its own.
    machine: str = field(default_factory=socket.gethostname)
    #: The host process's start time (``process_start_time``): with ``pid``, which process
    #: is the host; None in records of older hosts (then a pid is trusted as it is).
    started: float | None = None
    #: The scheduler's dashboard socket, when the host serves one (``private.make_runtime_dir``)
    dashboard_socket: str | None = None
    #: Folders the host made on its machine (socket, scratch space) and removes when it stops;
    #: whoever finds the host dead removes them.
    local_dirs: list[str] = field(default_factory=list)
    #: The batch job the host runs in (its scheduler in a job of its own), else None.
    batch_job_id: str | None = None
    #: ``host:port`` of the dashboard's TLS listener of a host in its own job (see
    #: ``dashboard_tunnel``), else None.
    dashboard_address: str | None = None

    def alive(self) -> bool:
        """Whether the host process of this record still runs (a host in a batch job on
        another node counts as running: its pid means nothing here, and a supervisor finds
        out by its control connection and the job's state)."""
        if self.in_batch_job_elsewhere:
            return True
        return pid_alive(self.pid, self.started)

    @property
    def in_batch_job_elsewhere(self) -> bool:
        return self.batch_job_id is not None and not self.on_this_machine

    def remove_local_dirs(self) -> None:
        for path in self.local_dirs:
            remove_runtime_dir(path)

    @property
    def on_this_machine(self) -> bool:
        return self.machine == socket.gethostname()

    @property
    def path(self) -> Path:
        return Path(self.spec.records_dir) / f"{self.spec.cluster_id}.json"

    def write(self) -> None:
        make_private_dir(Path(self.spec.records_dir))
        temporary = self.path.with_suffix(".tmp")
        write_private_file(temporary, json.dumps(asdict(self)))
        temporary.replace(self.path)  # readers never see half a record

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Record:
        spec = HostSpec(**data["spec"])
        if not valid_cluster_id(spec.cluster_id):
            raise ValueError(f"not a cluster id: {spec.cluster_id!r}")
        started = data.get("started")
        socket_path = data.get("dashboard_socket")
        address = data.get("dashboard_address")
        return cls(
            spec=spec,
            pid=int(data["pid"]),
            control_address=str(data["control_address"]),
            owner=int(data["owner"]),
            machine=str(data.get("machine") or socket.gethostname()),
            started=None if started is None else float(started),
            dashboard_socket=None if socket_path is None else str(socket_path),
            local_dirs=[str(path) for path in data.get("local_dirs") or []],
            batch_job_id=None if data.get("batch_job_id") is None else str(data["batch_job_id"]),
            dashboard_address=None if address is None else str(address),
        )


def record_ids(records_dir: Path) -> set[str]:
    """The cluster ids that have a record: one directory listing, no file is read."""
    try:
        names = os.listdir(records_dir)
    except OSError:
        return set()
    ids = {name[: -len(".json")] for name in names if name.endswith(".json")}
    return {cluster_id for cluster_id in ids if valid_cluster_id(cluster_id)}


def read_records(records_dir: Path, ids: Iterable[str] | None = None) -> list[Record]:
    """Every readable record of this user (or those of ``ids``); unreadable files are skipped."""
    records = []
    if ids is None:
        ids = record_ids(records_dir)
    # an id is checked before it names a file (a command line's ``stop ../x``)
    paths = [records_dir / f"{i}.json" for i in sorted(ids) if valid_cluster_id(i)]
    for path in paths:
        try:
            if path.stat().st_uid != os.getuid() or not path.is_file():
                continue
            with open(path, encoding="utf-8") as f:
                record = Record.from_data(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if record.spec.cluster_id == path.stem:  # a record speaks for its own file only
            records.append(record)
    return records


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started, in seconds after the machine booted (``/proc``: fixed for
    the life of a process, unlike a wall-clock time computed from it); None when there is no
    such process, or it has exited (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: psutil's own reading
        import psutil

        try:
            return float(psutil.Process(pid).create_time())
        except psutil.Error:
            return None
    # the command name (in parentheses) may hold spaces and parentheses: split after its end
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def same_process(pid: int, started: float | None) -> bool:
    """Whether ``pid`` runs and (``started`` given) is the process that started then."""
    now = process_start_time(pid)
    return now is not None and (started is None or abs(now - started) < 0.005)


def pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` runs (and, ``started`` given, is still the one that started
    then: its pid was not reused)."""
    if started is not None:
        return same_process(pid, started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_process(pid: int, started: float | None, signum: int) -> bool:
    """Send ``signum`` to ``pid`` only while it is the process that started at ``started``;
    whether it was sent. A pidfd holds on to the process that had the pid when the check was
    made: if it exits right after, the signal goes nowhere rather than to the next process
    given the pid."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfd (an old kernel): check, then signal
        if not same_process(pid, started):
            return False
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    try:
        if not same_process(pid, started):
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        os.close(pidfd)
