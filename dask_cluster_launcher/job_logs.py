"""The tails of a batch job's output files, read for the sidebar's Log button."""

from __future__ import annotations

import re
from typing import Any

#: A batch job id as SLURM and Grid Engine give it: ASCII digits, of a sane length (``isdigit``
#: would take superscript and other scripts' digits; a long id would make a path too long).
JOB_ID = re.compile(r"[0-9]{1,20}")


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
