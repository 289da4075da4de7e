"""Walltime-aware workers by default: a worker lifetime derived from the walltime.

A batch job's worker is killed at the walltime, tasks and all (``KilledWorker``,
dask-jobqueue #122, #500). dask-jobqueue's advice is a ``--lifetime`` a little shorter than the
walltime with a ``--lifetime-stagger``, so that workers drain and adaptive scaling replaces them
before the batch system kills them (its example: walltime 01:00:00, lifetime 55m, stagger 4m).

An adaptive batch cluster whose request sets no lifetime gets:

- lifetime = walltime - margin, the margin 5 minutes, or a sixth of a walltime under 30 minutes;
- stagger = half the margin, at most 4 minutes: distributed draws each worker's lifetime from
  lifetime +- stagger, so the latest still leaves half the margin to drain before the kill.

00:30:00 gives 25m and 150s, 01:00:00 55m and 150s, 00:10:00 500s and 50s. The form shows the
same values (``src/lifetimes.ts``; both sides test the schema's ``x-derived-examples``) and the
user may change or clear them: a lifetime the request sets, even empty, is kept.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .queues import walltime_seconds

#: The margin before the walltime for walltimes of 30 minutes and more.
MARGIN = 300
#: The most stagger: dask-jobqueue's example.
MOST_STAGGER = 240


def duration_text(seconds: int) -> str:
    """Seconds in the form's words: "25m" when whole minutes (or "2h"), else "150s"."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def derived_lifetime(walltime: str) -> tuple[str, str] | None:
    """(lifetime, stagger) for a walltime "HH:MM:SS" (or "D-HH:MM:SS"); None for one too short
    to leave a worker any time (under a minute)."""
    seconds = walltime_seconds(walltime)
    if seconds < 60:
        return None
    margin = min(MARGIN, seconds // 6)
    stagger = min(MOST_STAGGER, margin // 2)
    return duration_text(seconds - margin), duration_text(stagger)


def with_default_lifetime(
    options: dict[str, Any], scaling: dict[str, Any], given: Collection[str]
) -> dict[str, Any]:
    """``options`` with the derived lifetime and stagger for an adaptive cluster of a backend
    with a walltime and a lifetime field, when ``given`` (the option names the request and its
    profile set) holds no lifetime; else ``options`` as they are."""
    if "adapt" not in scaling or "lifetime" in given:
        return options
    if not options.get("walltime") or "lifetime" not in options or options["lifetime"]:
        return options
    derived = derived_lifetime(options["walltime"])
    if derived is None:
        return options
    lifetime, stagger = derived
    return {**options, "lifetime": lifetime, "lifetime_stagger": stagger}
