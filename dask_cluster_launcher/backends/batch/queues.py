"""A batch site's queues (SLURM partitions, SGE queues) and the job times both systems use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Final states as SLURM's ``squeue -t all`` shows them for a while after a job ended (and
#: HTCondor's ``REMOVED``); the other backends leave ended jobs out of their rows.
ENDED_STATES = frozenset(
    (
        "REMOVED",
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "SPECIAL_EXIT",
        "REVOKED",
    )
)


@dataclass
class Queue:
    """A partition (SLURM) or queue (SGE) and its limits; ``None`` means no limit known."""

    name: str
    state: str = "up"
    time_limit: float | None = None  # seconds
    cpus: int | None = None  # per node
    memory: int | None = None  # bytes per node
    default: bool = False
    #: generic resources per node (SLURM GRES): name -> count, e.g. {"gpu": 4, "gpu:a100": 4}
    gres: dict[str, int] = field(default_factory=dict)

    def title(self) -> str:
        limit = "no time limit" if self.time_limit is None else f"max {hms(self.time_limit)}"
        parts = [self.state, limit]
        if self.cpus:
            parts.append(f"{self.cpus} CPUs")
        if self.memory:
            parts.append(f"{self.memory / 2**30:.1f} GiB")
        typed = {k: v for k, v in self.gres.items() if ":" in k} or self.gres
        parts += [f"{name}:{count}" for name, count in sorted(typed.items())]
        return f"{self.name} ({', '.join(parts)})"


def walltime_seconds(walltime: str) -> int:
    days, _, clock = walltime.rpartition("-")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds


def whole_minutes(seconds: float | None) -> int | None:
    """A job's time left in seconds, rounded down to whole minutes (none below 0): the job
    row then changes once a minute, not at every poll."""
    if seconds is None:
        return None
    return max(0, int(seconds) // 60 * 60)


def most_generous(limits: Iterable[float | None]) -> Any:
    """The most generous of several limits; ``None`` (no limit) when any is unlimited."""
    values = list(limits)
    known = [v for v in values if v is not None]
    return None if len(known) < len(values) else max(known, default=None)


def hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
