"""Where a batch worker's time goes inside its job, read from the job logs afterwards.

Both sides of a batch benchmark add one prologue line to their job script (:data:`JOB_START_LINE`:
the wall-clock time the job script began, on stderr); distributed's own log lines in the same
file stamp the rest (``%(asctime)s``, milliseconds, local time): the nanny listening
(``Start Nanny at``), the worker process listening (``Start worker at``) and its registration
with the scheduler (``Registered to``). Per job, the intervals between them say what the worker's
start-up cost: Python starting and importing distributed in the nanny, the worker process
starting (a new Python importing it again, or a fork of the nanny), the TLS handshake and
registration. The same machine runs the jobs and the benchmark, so the clocks agree.
"""

from __future__ import annotations

import datetime
import re
import statistics
from pathlib import Path

from .stats import seconds

#: The job script line both sides add (one ``date``: a millisecond or two per job).
JOB_START_LINE = 'echo "dcl-bench job-start $(date +%s.%N)" >&2'
_JOB_START = re.compile(r"^dcl-bench job-start (\d+\.\d+)$", re.M)
_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - distributed\.\w+ - INFO - +"
_EVENTS = {
    "nanny": re.compile(_STAMP + r"Start Nanny at", re.M),
    "worker": re.compile(_STAMP + r"Start worker at", re.M),
    "registered": re.compile(_STAMP + r"Registered to", re.M),
}
#: Intervals per job (from, to) and their column titles, in order.
INTERVALS = (
    (("job_start", "nanny"), "-> nanny listening (Python + imports)"),
    (("nanny", "worker"), "-> worker process listening"),
    (("worker", "registered"), "-> registered (TLS, handshake)"),
)
HEADER = (
    "| Run | last job script started | "
    + " | ".join(title for _, title in INTERVALS)
    + " |\n|---|---|---|---|---|"
)


def _local_time(stamp: str) -> float:
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
    return parsed.timestamp()  # naive: this machine's local time, as the logging wrote it


def job_times(text: str) -> dict[str, float] | None:
    """The stamps of one job's log (stderr); None when it ran no nanny (a scheduler's job)."""
    start = _JOB_START.search(text)
    found = {key: pattern.search(text) for key, pattern in _EVENTS.items()}
    if start is None or any(match is None for match in found.values()):
        return None
    times = {key: _local_time(match.group(1)) for key, match in found.items() if match}
    return {"job_start": float(start.group(1)), **times}


def read(log_directory: Path, start: float) -> dict[str, float]:
    """Medians over the jobs of ``log_directory`` of each interval, and the last job start
    (seconds from ``start``, the launch request)."""
    jobs = []
    # SLURM's <name>-<id>.err, Grid Engine's <name>.e<id>: every file, the stamps tell
    for path in sorted(p for p in log_directory.iterdir() if p.is_file()):
        times = job_times(path.read_text(errors="replace"))
        if times is not None:
            jobs.append(times)
    if not jobs:
        return {}
    result = {"last_job_start": max(job["job_start"] for job in jobs) - start}
    for (first, then), _ in INTERVALS:
        result[then] = statistics.median(job[then] - job[first] for job in jobs)
    return result


def line(name: str, runs: list[dict[str, float]]) -> str:
    """One row under :data:`HEADER`: medians over the runs."""
    keys = ["last_job_start", *(then for (_, then), _ in INTERVALS)]
    cells = []
    for key in keys:
        values = [run[key] for run in runs if key in run]
        cells.append(seconds(statistics.median(values)) if values else "-")
    return f"| {name} | " + " | ".join(cells) + " |"
