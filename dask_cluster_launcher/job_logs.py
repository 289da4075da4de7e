"""The tails of a batch job's output files, read for the sidebar's Log button."""

from __future__ import annotations

import re
from typing import Any

#: A batch job id as SLURM and Grid Engine give it: ASCII digits, of a sane length (``isdigit``
#: would take superscript and other scripts' digits; a long id would make a path too long);
#: HTCondor's is <cluster>.<proc>; PBS's is <sequence number>.<server> (``123.pbs01.example.org``:
#: host name labels, no empty one, so no ``..`` and no ``/``).
JOB_ID = re.compile(r"[0-9]{1,20}(\.[0-9]{1,9}|(\.[A-Za-z0-9][A-Za-z0-9-]{0,62}){1,8})?")


def valid_job_id(job_id: str) -> bool:
    return JOB_ID.fullmatch(job_id) is not None


def read_tails(paths: list[str], limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` bytes of each file (``text`` is None for a file not written yet)."""
    files = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - limit))
                text: str | None = f.read().decode(errors="replace")
        except FileNotFoundError:
            text = None
        files.append({"path": path, "text": text})
    return files


#: A Python exception as a traceback ends with it (``ValueError: ...``, ``a.b.CommClosedError``)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b")
#: What Python prints between an exception and the one it caused.
_CHAINED = ("The above exception was the direct cause", "During handling of the above exception")
#: Another line that says what went wrong (a batch system's, a shell's, a logger's).
_ERROR_LINE = re.compile(
    r".*\b(?:error|fatal|killed|not found|no such file|permission denied)\b", re.IGNORECASE
)
#: The longest error line a job row carries (a traceback's last line can hold a whole repr).
ERROR_LINE_LIMIT = 500


def last_error_line(texts: list[str | None]) -> str | None:
    """The line of a job's output that says what went wrong, from the first text that has one
    (stderr is given first): the cause of its last Python exception (``ValueError: 'ib0' is
    not a valid network interface`` rather than the ``RuntimeError: Nanny failed to start.``
    it caused), else its last line that reads like an error; None when none does."""
    for text in texts:
        lines = (text or "").splitlines()
        line = _root_exception(lines) or next(
            (line for line in reversed(lines) if _ERROR_LINE.match(line)), None
        )
        if line is not None:
            line = line.strip()
            if len(line) > ERROR_LINE_LIMIT:
                line = line[: ERROR_LINE_LIMIT - 1] + "…"
            return line
    return None


def _root_exception(lines: list[str]) -> str | None:
    """The first exception of the last chain of exceptions in ``lines``."""
    found = [i for i, line in enumerate(lines) if _EXCEPTION.match(line)]
    if not found:
        return None
    root = len(found) - 1
    while root > 0:
        between = lines[found[root - 1] + 1 : found[root]]
        if not any(line.startswith(_CHAINED) for line in between):
            break
        root -= 1
    return lines[found[root]]
