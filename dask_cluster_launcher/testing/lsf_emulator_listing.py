"""The listing commands of the LSF emulator (see ``lsf_emulator.py``): ``bjobs`` (default
columns, ``-w``, ``-a``, ``-p`` with each pending job's reason under it, ``-o "field ..."``
with ``-json`` or ``-noheader``, ``-u``, ``-J``), ``bqueues`` (and ``-l``: ``RUNLIMIT``, "This
is the default queue.") and ``bhosts``, in the formats of the IBM Spectrum LSF 10.1 command
reference."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from . import batch_emulator as core
from .lsf_emulator_jobs import (
    CLEAN_PERIOD,
    OPEN,
    REASONS,
    STATES,
    LSFError,
    host,
    site,
    spool,
    why_not,
)


# --- bjobs -----------------------------------------------------------------------------------
def _listed(store: core.Spool, config: dict[str, Any]) -> list[core.Job]:
    with store.locked():
        core.reap_lost(store)
        core.dispatch(store, host(config)["slots"], why_not(config))
        return store.jobs()


def _select_jobs(jobs: list[core.Job], options: dict[str, Any]) -> list[core.Job]:
    now = time.time()
    chosen = []
    for job in jobs:
        finished = job["state"] not in core.UNFINISHED
        if finished and not (options["a"] and now - job["end_time"] < CLEAN_PERIOD):
            continue
        if options["ids"] and str(job["id"]) not in options["ids"]:
            continue
        name = options["J"]
        if name and not (
            job["name"] == name or (name.endswith("*") and job["name"].startswith(name[:-1]))
        ):
            continue
        if options["p"] and job["state"] not in (core.PENDING, core.HELD):
            continue
        if options["r"] and job["state"] != core.RUNNING:
            continue
        chosen.append(job)
    return chosen


def _time_left(job: core.Job) -> str:
    if job["state"] != core.RUNNING or not job["run_limit"]:
        return "-"
    left = max(0, int(job["start_time"] + job["run_limit"] - time.time()))
    return f"{left // 3600}:{left % 3600 // 60:02d} L"


#: why a job ended, as bjobs's ``exit_reason`` (and bacct, bhist -l) words LSF's reasons
_TERMINATIONS = {
    "run limit": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
    "killed": "TERM_OWNER: job killed by owner",
}


def _clock(seconds: float | None, hms: bool) -> str:
    """A duration as bjobs prints it: ``65 second(s)``, or ``00:01:05`` with ``-hms``."""
    if seconds is None:
        return ""
    whole = int(seconds)
    return (
        f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        if hms
        else (f"{whole} second(s)")
    )


def _when(epoch: float | None, hms: bool) -> str:
    """A time as bjobs prints it: ``Dec  7 03:10``, with seconds under ``-hms``."""
    if epoch is None:
        return ""
    return time.strftime("%b %e %H:%M:%S" if hms else "%b %e %H:%M", time.localtime(epoch))


def _accounting_fields(job: core.Job, hms: bool) -> dict[str, str]:
    """The fields of an ended job's accounting (``bjobs -a -o``): exit reason, times, use."""
    started, ended = job["start_time"], job["end_time"]
    running = (ended or time.time()) - started if started is not None else None
    limit = job["run_limit"]
    return {
        "exit_reason": _TERMINATIONS.get(job.get("end_note") or "", "")
        if job["state"] == core.EXITED
        else "",
        "start_time": _when(started, hms),
        "finish_time": _when(ended, hms),
        "run_time": _clock(running, hms),
        "nalloc_slot": str(job["slots"]) if started is not None else "0",
        "max_mem": "",  # the emulator does not sample a job's memory
        "memlimit": "",
        "runtimelimit": (_clock(limit, True) if hms else f"{limit / 60:.1f} min") if limit else "",
    }


def _field(job: core.Job, name: str, machine: str, hms: bool = False) -> str:
    values = {
        "jobid": str(job["id"]),
        "id": str(job["id"]),
        "job_name": job["name"],
        "name": job["name"],
        "stat": STATES[job["state"]],
        "user": job["user"],
        "queue": job["queue"],
        "from_host": machine,
        "exec_host": f"{job['slots']}*{machine}" if job["slots"] > 1 else machine,
        "time_left": _time_left(job),
        "pend_reason": REASONS.get(job["reason"] or "", "")
        if job["state"] in (core.PENDING, core.HELD)
        else "",
        "submit_time": time.strftime("%b %e %H:%M", time.localtime(job["submit_time"])),
        "exit_code": str(job["exit_status"] or ""),
        "proj_name": job.get("project", "default"),
        "slots": str(job["slots"]),
        **_accounting_fields(job, hms),
    }
    if job["start_time"] is None:
        values["exec_host"] = ""
    if name not in values:
        raise LSFError(f"{name}: Illegal field name.")
    return values[name] or "-"


def bjobs(args: list[str]) -> str:
    options: dict[str, Any] = {"a": False, "p": False, "r": False, "w": False, "J": None}
    options.update({"ids": [], "o": None, "json": False, "noheader": False, "u": None})
    options["hms"] = False
    words = iter(args)
    for word in words:
        if word in ("-a", "-p", "-r", "-w"):
            options[word[1]] = True
        elif word in ("-json", "-noheader", "-hms"):
            options[word[1:]] = True
        elif word in ("-J", "-o", "-u", "-q"):
            options[word[1:]] = next(words, "")
        elif word.isdigit():
            options["ids"].append(word)
        else:
            raise LSFError(f"bjobs: illegal option -- {word.lstrip('-')}")
    config = site()
    machine = host(config)["name"]
    jobs = _select_jobs(_listed(spool(config), config), options)
    if options["o"]:
        spec = re.sub(r"delimiter='[^']*'", "", options["o"])
        names = [part.split(":")[0].lower() for part in spec.split()]
        hms = options["hms"]
        rows = [{name: _field(job, name, machine, hms) for name in names} for job in jobs]
        if options["json"]:
            records = [{name.upper(): row[name] for name in names} for row in rows]
            out = {"COMMAND": "bjobs", "JOBS": len(records), "RECORDS": records}
            return json.dumps(out, indent=2) + "\n"
        lines = [] if options["noheader"] else [" ".join(n.upper() for n in names)]
        return "".join(f"{line}\n" for line in lines + [" ".join(r.values()) for r in rows])
    if not jobs:
        what = f"Job <{options['J']}> is not found" if options["J"] else "No unfinished job found"
        raise LSFError(what if not options["p"] else "No pending job found")
    columns = ["jobid", "user", "stat", "queue", "from_host", "exec_host", "job_name"]
    header = "JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME"
    lines = [header]
    for job in jobs:
        values = [_field(job, c, machine) for c in columns]
        name = values[-1]
        if not options["w"] and len(name) > 10:
            name = "*" + name[-9:]
        lines.append(
            f"{values[0]:<7} {values[1]:<7} {values[2]:<5} {values[3]:<10} {values[4]:<11} "
            f"{values[5] if values[5] != '-' else '':<11} {name:<10} "
            f"{_field(job, 'submit_time', machine)}"
        )
        if options["p"]:
            lines.append(f" {REASONS.get(job['reason'] or 'new', '')};")
    return "\n".join(lines) + "\n"


# --- bqueues, bhosts -------------------------------------------------------------------------
def bqueues(args: list[str]) -> str:
    config = site()
    jobs = spool(config).jobs()
    long = "-l" in args
    wanted = [a for a in args if not a.startswith("-")]
    queues = [q for q in config["queues"] if not wanted or q["name"] in wanted]
    if wanted and not queues:
        raise LSFError(f"{wanted[0]}: No such queue")
    header = "QUEUE_NAME      PRIO STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN  SUSP"
    out = [] if long else [header]
    for queue in queues:
        mine = [j for j in jobs if j["queue"] == queue["name"] and j["state"] in core.UNFINISHED]
        pend = sum(j["slots"] for j in mine if j["state"] == core.PENDING)
        run = sum(j["slots"] for j in mine if j["state"] == core.RUNNING)
        susp = sum(j["slots"] for j in mine if j["state"] == core.HELD)
        counts = f"{pend + run + susp:>5} {pend:>5} {run:>5} {susp:>5}"
        if not long:
            out.append(f"{queue['name']:<15} {queue['priority']:>4}  {OPEN} {counts}")
            continue
        description = queue.get("description", "")
        if queue.get("default"):
            description += "  This is the default queue."
        out += [
            f"QUEUE: {queue['name']}",
            f"  -- {description}",
            "",
            "PARAMETERS/STATISTICS",
            "PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS",
            f"{queue['priority']:>4}    0  {OPEN} {counts}     0    0 {pend:>5}",
            "Interval for a host to accept two jobs is 0 seconds",
            "",
        ]
        if queue.get("run_limit"):
            out += [" RUNLIMIT", f" {queue['run_limit'] / 60:.1f} min", ""]
        out += ["SCHEDULING PARAMETERS", "", "USERS: all  ", "HOSTS:  all ", ""]
    return "\n".join(out) + "\n"


def bhosts(args: list[str]) -> str:
    config = site()
    machine = host(config)
    jobs = spool(config).jobs()
    running = core.used_slots(jobs)
    held = sum(j["slots"] for j in jobs if j["state"] == core.HELD)
    status = "closed" if running >= machine["slots"] else "ok"
    return (
        "HOST_NAME          STATUS       JL/U    MAX  NJOBS    RUN  SSUSP  USUSP    RSV\n"
        f"{machine['name']:<18} {status:<12}    - {machine['slots']:>6} {running + held:>6} "
        f"{running:>6}      0 {held:>6}      0\n"
    )
