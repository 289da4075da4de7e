"""The user's record of what their stopped clusters used, for ``dask-cluster-launcher usage``.

One JSON line per stopped batch cluster in ``<private directory>/usage.jsonl`` (0600, in the
0700 private directory, opened without following links). It keeps the last ``KEPT_LINES``
clusters: past twice that many, the file is rewritten with the newest ``KEPT_LINES`` (a
replacement renamed over it), so it never grows without bound and a reader never sees half
of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .private import make_private_dir

LOG_NAME = "usage.jsonl"
#: Stopped clusters kept (the newest).
KEPT_LINES = 1000


@dataclass(frozen=True)
class UsageLine:
    """A stopped cluster and what it used."""

    cluster_id: str
    name: str
    backend: str
    created: str  # ISO 8601
    stopped: str  # ISO 8601, this server's local time with its offset
    core_hours: float
    gpu_hours: float
    #: The numbers are the batch system's accounting (not the live estimate).
    final: bool
    jobs: int


def log_path(private_root: Path) -> Path:
    return private_root / LOG_NAME


def append(private_root: Path, line: UsageLine) -> None:
    """Add a stopped cluster's line (and trim the file when it is twice ``KEPT_LINES``)."""
    make_private_dir(private_root)
    path = log_path(private_root)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(json.dumps(asdict(line), sort_keys=True) + "\n")
        size = f.tell()
    # a line is ~250 bytes: only a file this big can hold more than twice the kept lines
    if size > 2 * KEPT_LINES * 200:
        lines = read(private_root)
        if len(lines) > 2 * KEPT_LINES:
            _rewrite(path, lines[-KEPT_LINES:])


def _rewrite(path: Path, lines: list[UsageLine]) -> None:
    replacement = path.with_name(f".{path.name}.{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(replacement, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(asdict(line), sort_keys=True) + "\n" for line in lines)
    os.replace(replacement, path)


def read(private_root: Path) -> list[UsageLine]:
    """Every line kept, oldest first; lines that do not parse (a crash mid-write) are skipped."""
    try:
        fd = os.open(log_path(private_root), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, encoding="utf-8") as f:
        text = f.read()
    found = []
    for raw in text.splitlines():
        try:
            found.append(UsageLine(**json.loads(raw)))
        except (ValueError, TypeError):
            continue
    return found


def per_day(lines: Iterable[UsageLine]) -> dict[str, dict[str, Any]]:
    """Day (of the stop, YYYY-MM-DD) -> clusters, core-hours and GPU-hours that day."""
    days: dict[str, dict[str, Any]] = {}
    for line in lines:
        day = datetime.fromisoformat(line.stopped).date().isoformat()
        total = days.setdefault(day, {"clusters": 0, "core_hours": 0.0, "gpu_hours": 0.0})
        total["clusters"] += 1
        total["core_hours"] += line.core_hours
        total["gpu_hours"] += line.gpu_hours
    return dict(sorted(days.items()))
