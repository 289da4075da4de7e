"""When pending work may start, as the batch system itself estimates it.

- SLURM's backfill scheduler works out when each pending job is expected to start: ``squeue``'s
  ``StartTime`` column for a pending job (read in the backend's one batched poll), and
  ``sbatch --test-only`` for a job not yet submitted ("sbatch: Job 38 to start at
  2026-12-07T14:05:00 using 4 processors on nodes n12 in partition debug", on stderr). Until
  the backfill scheduler has looked at a job (every ``bf_interval``, 30 s by default) squeue
  prints ``N/A``.
- PBS Professional's scheduler writes ``estimated.start_time`` into ``qstat -f`` where the site
  turned estimates on; Torque and OpenPBS without it give none.
- Grid Engine, LSF and HTCondor give no estimate here: ``null``, shown as "no estimate".

Times come in the batch client's local time without a zone; they are given on as ISO 8601
with this server's offset (a prefix such as ``ssh login01`` on a host in another zone would
shift them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone

from ..base import StartEstimate
from . import commands

#: How long the launch form's estimate may take; the form never waits for it.
TEST_ONLY_TIMEOUT = 5.0

_TEST_ONLY = re.compile(r"Job \d+ to start at (\S+) using .*")


def local_iso(text: str) -> str | None:
    """A batch client's local time ("2026-12-07T14:05:00") as ISO 8601 with this server's
    offset; ``None`` for "N/A", "Unknown", "NONE" or anything else that is not a time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.astimezone().isoformat() if moment.tzinfo is None else moment.isoformat()


def pbs_start_time(value: str | None) -> str | None:
    """PBS Pro's ``estimated.start_time``: a ctime ("Mon Dec  7 14:05:00 2026", text form) or
    seconds since the epoch (some JSON outputs), as ISO 8601; ``None`` when absent."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), timezone.utc).astimezone().isoformat()
    try:
        moment = datetime.strptime(" ".join(value.split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return moment.astimezone().isoformat()


def parse_test_only(output: str) -> StartEstimate:
    """``sbatch --test-only``'s answer: the expected start and its line, without "sbatch: "."""
    for line in output.splitlines():
        found = _TEST_ONLY.search(line)
        if found:
            return {"start": local_iso(found.group(1)), "detail": found.group(0)}
    return {"start": None, "detail": _last_line(output) or None}


async def sbatch_test_only(job_script: str, prefix: Sequence[str] = ()) -> StartEstimate:
    """When SLURM would start ``job_script`` (its ``#SBATCH`` lines: what the preview shows),
    asked with ``sbatch --test-only`` (nothing is submitted). The script goes on stdin, as
    an argument list runs it: nothing the user typed reaches a shell line."""
    try:
        returncode, out, err = await commands.completed(
            "sbatch",
            "--test-only",
            timeout=TEST_ONLY_TIMEOUT,
            prefix=prefix,
            stdin=job_script.encode(),
        )
    except commands.BatchCommandError as exc:
        return {"start": None, "detail": str(exc)}
    if returncode != 0:  # refused: the reason is worth showing ("Requested node configuration...")
        return {"start": None, "detail": f"sbatch --test-only: {_last_line(err or out)}"}
    return parse_test_only(err + "\n" + out)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("sbatch: ").removeprefix("error: ") if lines else ""
