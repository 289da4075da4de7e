"""Cluster records: one small JSON file per running cluster host, in a private directory.

A host writes its record when its control server listens and removes it when it stops. Any
supervisor (a Jupyter server, ``quick_connect``, the CLI) reads them to find the clusters of
this user, alive or left behind by a crash.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .private import make_private_dir, write_private_file


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
        return cls(
            spec=HostSpec(**data["spec"]),
            pid=int(data["pid"]),
            control_address=str(data["control_address"]),
            owner=int(data["owner"]),
            machine=str(data.get("machine") or socket.gethostname()),
        )


def record_ids(records_dir: Path) -> set[str]:
    """The cluster ids that have a record: one directory listing, no file is read."""
    try:
        names = os.listdir(records_dir)
    except OSError:
        return set()
    return {name[: -len(".json")] for name in names if name.endswith(".json")}


def read_records(records_dir: Path, ids: Iterable[str] | None = None) -> list[Record]:
    """Every readable record of this user (or those of ``ids``); unreadable files are skipped."""
    records = []
    if ids is None:
        paths = sorted(records_dir.glob("*.json")) if records_dir.is_dir() else []
    else:
        paths = [records_dir / f"{cluster_id}.json" for cluster_id in sorted(ids)]
    for path in paths:
        try:
            if path.stat().st_uid != os.getuid() or not path.is_file():
                continue
            with open(path, encoding="utf-8") as f:
                records.append(Record.from_data(json.load(f)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
