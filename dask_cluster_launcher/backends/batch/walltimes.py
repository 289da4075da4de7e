"""Walltimes written as the batch systems read them, turned into the HH:MM:SS dask-jobqueue
passes on (``#SBATCH -t``, ``#$ -l h_rt=``).

A form field names its rule with the schema keyword ``x-normalise`` (schema/backends/
jobqueue.yaml); the field's ``pattern`` decides what is accepted, the rule only rewrites what
the pattern let through. The sidebar applies the same rules (src/walltimes.ts) to show what a
value means and to check it against the partition's limit; both test the field's
``x-normalise-examples``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NORMALISE = "x-normalise"
"""Schema keyword: the name of the rule in :data:`RULES` that rewrites the field's value."""


def hms(seconds: int) -> str:
    """3600 -> "01:00:00"; hours grow past 99 ("100:00:00"), as both systems read them."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _clock(parts: list[str]) -> int:
    """Seconds of "H:M:S" parts (as many as given, the last one seconds)."""
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


_SLURM_DAYS = re.compile(r"^(\d+)-(\d+)(?::(\d+))?(?::(\d+))?$")


def slurm_seconds(value: str) -> int | None:
    """sbatch --time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
    "days-hours:minutes", "days-hours:minutes:seconds"; ``None`` for anything else."""
    days = _SLURM_DAYS.match(value)
    if days:
        d, h, m, s = (int(g or 0) for g in days.groups())
        return ((d * 24 + h) * 60 + m) * 60 + s
    parts = value.split(":")
    if not all(p.isascii() and p.isdigit() for p in parts) or len(parts) > 3:
        return None
    if len(parts) == 1:
        return int(parts[0]) * 60
    return _clock(parts)


def sge_seconds(value: str) -> int | None:
    """h_rt: seconds, or "hours:minutes:seconds" (and the days prefix the form took before);
    ``None`` for anything else."""
    days, _, clock = value.rpartition("-")
    parts = clock.split(":")
    digits = [days] * bool(days) + parts
    if not all(p.isascii() and p.isdigit() for p in digits) or len(parts) not in (1, 3):
        return None
    return int(days or 0) * 86400 + _clock(parts)


def _rewrite(seconds_of: Callable[[str], int | None]) -> Callable[[str], str]:
    def rule(value: str) -> str:
        seconds = seconds_of(value)
        return value if seconds is None else hms(seconds)

    return rule


RULES: Mapping[str, Callable[[str], str]] = {
    "slurm-walltime": _rewrite(slurm_seconds),
    "sge-walltime": _rewrite(sge_seconds),
}


def normalised(options: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with each field whose schema names a rule rewritten by it. Only values the
    field's pattern accepts are rewritten: call after the schema check, or before it when an
    unreadable value is left as it is for the check to refuse (every rule leaves such values
    unchanged)."""
    result = dict(options)
    for name, value in options.items():
        rule = RULES.get(str(properties.get(name, {}).get(NORMALISE, "")))
        pattern = properties.get(name, {}).get("pattern")
        if rule and isinstance(value, str) and pattern and re.fullmatch(pattern, value):
            result[name] = rule(value)
    return result
