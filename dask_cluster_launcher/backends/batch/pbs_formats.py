"""What PBS's commands print, read: ``qstat -f`` and ``qstat -Q -f`` (Torque's and OpenPBS's
text; PBS Pro's and OpenPBS's JSON with ``-F json``) and ``pbsnodes -a``.

The text form is a block per object: a header line (``Job Id: 12.server``, ``Queue: batch``,
or a node's name alone for ``pbsnodes``) and indented ``name = value`` lines; a long value goes
on in lines indented with a tab that hold no ``name = ``. The JSON form (PBS Professional
Reference Guide, "qstat ... -F json"): ``{"Jobs": {"12.server": {...}}}`` and
``{"Queue": {"workq": {...}}}``, nested resources as objects
(``"Resource_List": {"walltime": "00:30:00"}``). See docs/batch-facts.md for the sources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dask.utils import parse_bytes

from .queues import Queue, most_generous, walltime_seconds, whole_minutes
from .start_estimates import pbs_start_time

_ATTRIBUTE = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_.]*) = ?(.*)$")
_HEADER = re.compile(r"^(Job Id|Queue|Server):\s*(.*?)\s*$")

#: qstat's one-letter job states, in the words the sidebar groups (see src/clusterStates.ts).
STATE_NAMES = {
    "Q": "PENDING",
    "H": "HELD",
    "W": "PENDING",  # waiting for its start time (qsub -a)
    "T": "STARTING",  # in transit between servers
    "R": "RUNNING",
    "B": "RUNNING",  # an array job with running subjobs
    "E": "EXITING",
    "S": "SUSPENDED",
    "U": "SUSPENDED",
}
#: states of jobs that ended: Torque keeps them a while (C), ``qstat -x`` lists them (F, X)
ENDED_STATES = frozenset("CFX")


def text_blocks(text: str, *, headed: bool = True) -> Iterator[tuple[str, dict[str, str]]]:
    """(name, attributes) for each block of qstat/pbsnodes text output. ``headed``: blocks
    start with ``Job Id:``/``Queue:`` lines (qstat); else with an unindented name (pbsnodes)."""
    name: str | None = None
    attributes: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        header = _HEADER.match(line) if headed else None
        if header or (not headed and line and not line[0].isspace()):
            if name is not None:
                yield name, attributes
            name, attributes, last = (header.group(2) if header else line.strip()), {}, ""
            continue
        attribute = _ATTRIBUTE.match(line)
        if attribute and name is not None:
            last = attribute.group(1)
            attributes[last] = attribute.group(2).strip()
        elif last and line.strip():  # a long value goes on in the next line
            attributes[last] += line.strip()
    if name is not None:
        yield name, attributes


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A JSON job or queue as the text form names its attributes: ``Resource_List.walltime``."""
    flat: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def json_blocks(text: str, section: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(name, attributes) of ``qstat -f -F json`` (section ``Jobs``) or ``qstat -Q -f -F json``
    (section ``Queue``)."""
    for name, attributes in (json.loads(text).get(section) or {}).items():
        yield name, flatten(attributes)


def pbs_seconds(value: str) -> float | None:
    """A PBS duration ("01:30:00", "90:00", "5400", "1:00:00:00" with days) in seconds."""
    value = value.strip()
    if not value or value.lower() in ("unlimited", "infinity"):
        return None
    parts = value.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) > 4:
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    if len(parts) == 4:  # D:HH:MM:SS
        days, rest = parts[0], ":".join(parts[1:])
        seconds = int(days) * 86400 + walltime_seconds(rest)
    return float(seconds)


def pbs_bytes(value: str, *, binary: bool = True) -> int | None:
    """A PBS size ("16gb", "16000mb", "4194304kb", "512"); PBS's units are powers of 1024
    (``binary=False``: read as powers of 1000, as a user who wrote "4GB" in both places means)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)(b|w)?\s*", value.lower())
    if not match:
        return None
    number, unit, _ = match.groups()
    suffix = (f"{unit}ib" if binary else f"{unit}b") if unit else ""
    return int(parse_bytes(f"{number}{suffix}"))


def time_left(attributes: dict[str, str]) -> int | None:
    """Seconds (whole minutes) a running job has left: Torque's ``Walltime.Remaining``, else its
    walltime request less ``resources_used.walltime`` (PBS Pro); ``None`` when unknown."""
    remaining = attributes.get("Walltime.Remaining")
    if remaining is not None and remaining.strip().isdigit():
        return whole_minutes(float(remaining))
    limit = pbs_seconds(attributes.get("Resource_List.walltime", ""))
    used = pbs_seconds(attributes.get("resources_used.walltime", ""))
    if limit is None or used is None:
        return None
    return whole_minutes(limit - used)


def job_rows(
    blocks: Iterator[tuple[str, dict[str, str]]], wanted: set[str], owner: str
) -> dict[str, list[dict[str, Any]]]:
    """Job name -> job rows ``{job_id, state, reason, host, time_left}`` of the jobs named in
    ``wanted`` that ``owner`` owns (``Job_Owner`` is ``user@host``) and have not ended."""
    states: dict[str, list[dict[str, Any]]] = {}
    for job_id, attributes in blocks:
        name = attributes.get("Job_Name", "")
        if name not in wanted or attributes.get("Job_Owner", "").partition("@")[0] != owner:
            continue
        code = attributes.get("job_state", "")
        if code in ENDED_STATES:
            continue
        running = code == "R"
        row = {
            # the sequence number: dask-jobqueue keeps that much of qsub's "123.server"
            # (its workers' job ids), and qdel takes it
            "job_id": job_id.partition(".")[0],
            "state": STATE_NAMES.get(code, code),
            # the scheduler's comment says why a job waits; a running job's says when it
            # started, which the sidebar shows otherwise
            "reason": None if running else (attributes.get("comment") or None),
            "host": attributes.get("exec_host", "").partition("/")[0] or None,
            "time_left": time_left(attributes) if running else None,
        }
        # PBS Professional's scheduler estimates a waiting job's start where the site asks it
        estimate = None if running else pbs_start_time(attributes.get("estimated.start_time"))
        if estimate:
            row["estimated_start"] = estimate
        states.setdefault(name, []).append(row)
    return states


def parse_jobs(text: str, wanted: set[str], owner: str) -> dict[str, list[dict[str, Any]]]:
    """``qstat -f`` output, JSON or text, read by :func:`job_rows`."""
    if text.lstrip().startswith("{"):
        return job_rows(json_blocks(text, "Jobs"), wanted, owner)
    return job_rows(text_blocks(text), wanted, owner)


def parse_queues(text: str, nodes: list[tuple[int | None, int | None]]) -> list[Queue]:
    """``qstat -Q -f`` output (JSON or text) as queues; ``nodes``: (cpus, memory) of the site's
    nodes (``pbsnodes -a``), the per-node limits where a queue states none."""
    blocks = json_blocks(text, "Queue") if text.lstrip().startswith("{") else text_blocks(text)
    node_cpus = most_generous(cpus for cpus, _ in nodes) if nodes else None
    node_memory = most_generous(memory for _, memory in nodes) if nodes else None
    queues = []
    for name, attributes in blocks:
        if attributes.get("queue_type", "Execution").lower().startswith("r"):
            continue  # a routing queue runs nothing itself
        enabled = attributes.get("enabled", "True").lower() in ("true", "yes")
        started = attributes.get("started", "True").lower() in ("true", "yes")
        cpus = attributes.get("resources_max.ncpus", "")
        memory = pbs_bytes(attributes.get("resources_max.mem", ""))
        queues.append(
            Queue(
                name=name,
                state="up" if enabled and started else "down",
                time_limit=pbs_seconds(attributes.get("resources_max.walltime", "")),
                cpus=int(cpus) if cpus.isdigit() else node_cpus,
                memory=memory if memory is not None else node_memory,
            )
        )
    return queues


def parse_nodes(text: str) -> list[tuple[int | None, int | None]]:
    """(cpus, memory in bytes) of each node of ``pbsnodes -a``: Torque's ``np`` and ``status``
    (``physmem``, else ``availmem``), PBS Pro's ``resources_available.ncpus`` and ``.mem``."""
    nodes = []
    for _, attributes in text_blocks(text, headed=False):
        cpus = attributes.get("resources_available.ncpus") or attributes.get("np", "")
        memory = pbs_bytes(attributes.get("resources_available.mem", ""))
        if memory is None:
            status = dict(
                item.partition("=")[::2] for item in attributes.get("status", "").split(",")
            )
            memory = pbs_bytes(status.get("physmem") or status.get("availmem") or "")
        nodes.append((int(cpus) if cpus.isdigit() else None, memory))
    return nodes
