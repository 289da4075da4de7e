"""The LSF emulator's site and job commands (see ``lsf_emulator.py``): the emulated site
(``$LSF_ENVDIR``), ``bsub`` (options, ``#BSUB`` lines of a script on stdin, ``-R`` select and
span, ``-W``, ``-H``), the job report LSF appends to the output file, and ``bkill``."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import time
from pathlib import Path
from typing import Any

from . import batch_emulator as core

STATES = {
    core.PENDING: "PEND",
    core.HELD: "PSUSP",
    core.RUNNING: "RUN",
    core.DONE: "DONE",
    core.EXITED: "EXIT",
}
#: pending reasons, in LSF's words (``bjobs -p``)
REASONS = {
    "new": "New job is waiting for scheduling",
    "held": "The job was suspended by the user while pending",
    "select": "Job's resource requirements not satisfied: 1 host",
    "slots": "Not enough job slot(s): 1 host",
}
OPEN = "Open:Active       -    -    -    -"  # status and (no) job limits of a queue
CLEAN_PERIOD = 3600  # seconds a finished job stays listed by bjobs -a


class LSFError(Exception):
    """A refusal: the message goes to stderr and the command exits 255, as LSF's do."""


def site() -> dict[str, Any]:
    envdir = Path(os.environ.get("LSF_ENVDIR", "/etc"))
    config = json.loads((envdir / "lsb.emulator.json").read_text())
    config["units"] = "KB"
    for line in (envdir / "lsf.conf").read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == "LSF_UNIT_FOR_LIMITS":
            config["units"] = value.strip().upper()
    return config


def spool(config: dict[str, Any]) -> core.Spool:
    return core.Spool(config["spool"])


def host(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config["hosts"][0])


# --- bsub ------------------------------------------------------------------------------------
_FLAGS = {"H", "x", "N", "B", "I", "K"}  # options without an argument
_VALUED = {"J", "q", "P", "n", "R", "M", "W", "o", "e", "oo", "eo", "G", "u", "cwd", "m"}
_VALUED |= {"app", "g", "sla", "L", "We", "c", "env", "E", "Ep", "C", "D", "F", "S", "w"}


def parse_options(words: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """bsub's options (name -> values, in order) and the command after them."""
    options: dict[str, list[str]] = {}
    i = 0
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        name = words[i][1:]
        if name in _FLAGS:
            options.setdefault(name, []).append("")
        elif name in _VALUED and i + 1 < len(words):
            i += 1
            options.setdefault(name, []).append(words[i])
        else:
            raise LSFError(f"bsub: illegal option -- {name}\nJob not submitted.")
        i += 1
    return options, words[i:]


def script_directives(script: str) -> list[str]:
    """The words of the ``#BSUB`` lines before the script's first command."""
    words: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("#BSUB"):
            words += shlex.split(stripped[len("#BSUB") :])
        elif stripped and not stripped.startswith("#"):
            break
    return words


def run_limit(text: str) -> int:
    """``-W [hour:]minute`` in seconds."""
    if not re.fullmatch(r"(\d+:)?\d+", text):
        raise LSFError(f"{text}: Bad RUNLIMIT specification. Job not submitted.")
    hours, _, minutes = text.rpartition(":")
    return (int(hours or 0) * 60 + int(minutes)) * 60


def selects(requirements: list[str]) -> list[str]:
    """The ``select[...]`` clauses of the ``-R`` strings (``"span[hosts=1]"``, ...)."""
    found = []
    for requirement in requirements:
        found += re.findall(r"select\[([^\]]*)\]", requirement)
        bare = re.sub(r"\w+\[[^\]]*\]", "", requirement).strip()
        if bare:  # a requirement without a section is a select
            found.append(bare)
    return found


_COMPARE = re.compile(r"^\s*(\w+)\s*(==|!=|>=|<=|>|<|=)\s*([\w.]+)\s*$")


def satisfied(clause: str, machine: dict[str, Any]) -> bool:
    for term in clause.split("&&"):
        match = _COMPARE.match(term)
        if not match:
            raise LSFError(f"{clause}: Bad resource requirement syntax. Job not submitted.")
        name, operator, wanted = match.groups()
        if name not in machine:
            raise LSFError(f"{name}: Unknown resource name. Job not submitted.")
        have = machine[name]
        if isinstance(have, int | float):
            value: Any = float(wanted)
        else:
            value = wanted
        results = {"==": have == value, "=": have == value, "!=": have != value}
        if isinstance(have, int | float):
            results.update({">": have > value, "<": have < value})
            results.update({">=": have >= value, "<=": have <= value})
        if not results.get(operator, False):
            return False
    return True


def why_not(config: dict[str, Any]) -> Any:
    machine = host(config)

    def reason(job: core.Job) -> str | None:
        if not all(satisfied(clause, machine) for clause in job.get("select", [])):
            return "select"
        return "slots" if job["slots"] > machine["slots"] else None

    return reason


def bsub(args: list[str], stdin: Any) -> str:
    config = site()
    options, command = parse_options(args)
    script = None
    if not command:  # the job script comes on stdin, its #BSUB lines count
        script = stdin.read()
        directives, _ = parse_options(script_directives(script))
        options = {**directives, **options}  # the command line's options win
    queues = {q["name"]: q for q in config["queues"]}
    queue_name = options.get("q", [""])[-1] or next(q for q in queues if queues[q].get("default"))
    if queue_name not in queues:
        raise LSFError(f"{queue_name}: No such queue. Job not submitted.")
    queue = queues[queue_name]
    slots = int(options.get("n", ["1"])[-1])
    limit = run_limit(options["W"][-1]) if "W" in options else None
    if limit and queue.get("run_limit") and limit > queue["run_limit"]:
        raise LSFError("Run limit is too big: exceeds queue's run limit. Job not submitted.")
    requirements = options.get("R", [])
    clauses = selects(requirements)
    for clause in clauses:
        satisfied(clause, host(config))  # refuses what LSF cannot parse
    store = spool(config)
    with store.locked():
        job = core.new_job(
            store,
            name=options.get("J", [None])[-1],
            queue=queue_name,
            project=options.get("P", ["default"])[-1],
            slots=slots,
            select=clauses,
            run_limit=limit or queue.get("run_limit"),
            held="H" in options,
            on_finish=f"{__name__}:job_report",
        )
        job_id = job["id"]
        job["name"] = job["name"] or (" ".join(command) if command else "sh")
        cwd = options.get("cwd", [job["cwd"]])[-1]
        job["cwd"] = cwd
        for key, flags in (("stdout", ("o", "oo")), ("stderr", ("e", "eo"))):
            path = next((options[flag][-1] for flag in flags if flag in options), None)
            if path:
                path = path.replace("%J", str(job_id)).replace("%I", "0")
                job[key] = os.path.join(cwd, path)
        if script is not None:
            spooled = store.job_dir(job_id) / "job.sh"
            spooled.write_text(script)
            spooled.chmod(0o700)
            job["command"] = [str(spooled)] if script.startswith("#!") else ["/bin/sh", spooled]
            job["command"] = [str(word) for word in job["command"]]
        else:
            job["command"] = ["/bin/sh", "-c", " ".join(command)]
        machine = host(config)
        job["job_env"] = {
            "LSB_JOBID": str(job_id),
            "LSB_JOBNAME": job["name"],
            "LSB_QUEUE": queue_name,
            "LSB_HOSTS": " ".join([machine["name"]] * slots),
            "LSB_MCPU_HOSTS": f"{machine['name']} {slots}",
            "LSB_DJOB_NUMPROC": str(slots),
        }
        job["reason"] = "held" if job["state"] == core.HELD else "new"
        store.save(job)
        core.dispatch(store, machine["slots"], why_not(config))
    where = "default queue" if queues[queue_name].get("default") else "queue"
    return f"Job <{job_id}> is submitted to {where} <{queue_name}>.\n"


def job_report(job: core.Job) -> None:
    """The report LSF appends to a job's output file when the job ends."""
    if not job["stdout"]:
        return
    machine = socket.gethostname()
    status = job["exit_status"]
    if job.get("end_note") == "run limit":
        ending = "TERM_RUNLIMIT: job killed after reaching LSF run time limit."
    elif job.get("end_note") == "killed":
        ending = "TERM_OWNER: job killed by owner."
    elif status == 0:
        ending = "Successfully completed."
    else:
        ending = f"Exited with exit code {status}."
    state = "Done" if status == 0 and not job.get("end_note") else "Exited"
    report = (
        "\n------------------------------------------------------------\n"
        f"Sender: LSF System <lsfadmin@{machine}>\n"
        f"Subject: Job {job['id']}: <{job['name']}> in cluster <emulated> {state}\n\n"
        f"Job <{job['name']}> was submitted from host <{machine}> by user <{job['user']}> in "
        f"cluster <emulated> at {time.ctime(job['submit_time'])}\n"
        f"Job was executed on host(s) <{machine}>, in queue <{job['queue']}>, as user "
        f"<{job['user']}> in cluster <emulated> at {time.ctime(job['start_time'])}\n"
        f"Terminated at {time.ctime(job['end_time'])}\n"
        f"Results reported at {time.ctime(job['end_time'])}\n\n"
        f"{ending}\n"
    )
    with open(job["stdout"], "a", encoding="utf-8") as output:
        output.write(report)


# --- bkill -----------------------------------------------------------------------------------
def bkill(args: list[str]) -> tuple[str, int]:
    name, ids = None, []
    words = iter(args)
    for word in words:
        if word == "-J":
            name = next(words, "")
        elif word in ("-u", "-q", "-s", "-m", "-g"):
            next(words, "")  # this user's own jobs only; no other signal than the kill
        elif word.isdigit():
            ids.append(word)
        elif word != "-b":
            raise LSFError(f"bkill: illegal option -- {word.lstrip('-')}")
    config = site()
    store = spool(config)
    lines, failed = [], False
    with store.locked():
        jobs = store.jobs()
        if name is not None or "0" in ids or not ids:
            unfinished = [j for j in jobs if j["state"] in core.UNFINISHED]
            if name is not None:
                unfinished = [j for j in unfinished if j["name"] == name]
            # without job ID 0, only the last job submitted is killed
            targets = unfinished if "0" in ids else unfinished[-1:]
            if not targets:
                raise LSFError("No matching job found")
        else:
            by_id = {str(j["id"]): j for j in jobs}
            targets = []
            for job_id in ids:
                job = by_id.get(job_id)
                if job is None:
                    lines.append(f"Job <{job_id}>: No matching job found")
                    failed = True
                elif job["state"] not in core.UNFINISHED:
                    lines.append(f"Job <{job_id}>: Job has already finished")
                    failed = True
                else:
                    targets.append(job)
        for job in targets:
            core.kill(store, job)
            lines.append(f"Job <{job['id']}> is being terminated")
    return "".join(f"{line}\n" for line in lines), 255 if failed else 0
