"""A command-line emulator of HTCondor (``condor_submit``, ``condor_q``, ``condor_rm``,
``condor_status``) whose jobs really run, on this host, as the calling user
(``batch_emulator.py``).

No HTCondor pool can be installed on the test machine, so unmodified dask-jobqueue
(``HTCondorCluster``) and the launcher talk to these commands instead. They follow the HTCondor
manual (https://htcondor.readthedocs.io/en/latest/, "Command Reference" and "Submitting a
Job"): a submit description of ``key = value`` lines ending in ``queue``, ``$(macro)`` and
``$F(macro)`` substitution (``ClusterId``, ``ProcId`` and the description's own keys, ``MY.``
attributes among them), ``arguments`` and ``environment`` in the "new" quoted syntax,
``getenv`` (the job gets the submitter's environment only when it is true), ``hold = true``
(held with ``HoldReasonCode`` 15, "submitted on hold at user's request"), ``requirements``
matched against the one slot's machine ad (``Arch``, ``OpSys``, ``Cpus``, ``Memory`` in MiB,
``Disk`` in KiB, ``Machine``; a job no slot matches stays idle with ``LastRejMatchReason`` "no
match found"), ``allowed_job_duration`` (HTCondor holds a job that runs longer; here it
ends);
``condor_submit`` prints "N job(s) submitted to cluster C."; ``condor_q`` lists the queue
(default batch view, ``-nobatch``, ``-json`` with ``-attributes``, ``-af``, ``-constraint``,
``-allusers``, owner and job ids); ``condor_rm`` removes by id, cluster, owner or
``-constraint`` (a running job shows ``X``, Removed, until its processes are gone: SIGTERM,
then SIGKILL); ``condor_status`` prints the slot (default table, ``-af``, ``-json``).

Set up with ``python -m dask_cluster_launcher.testing.htcondor_emulator install DIR`` (what
``testbeds/start-htcondor.sh`` does): ``DIR/bin`` holds the commands, ``DIR/condor_config``
(``CONDOR_CONFIG``) the pool (one partitionable slot with 16 CPUs), ``DIR/spool`` the jobs.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

from . import batch_emulator as core
from .htcondor_language import (
    CondorError,
    evaluate,
    expand,
    literal,
    parse_submit,
    split_new_syntax,
)

__all__ = ["CondorError", "evaluate", "install", "main", "split_new_syntax"]

MODULE = "dask_cluster_launcher.testing.htcondor_emulator"  # __name__ is __main__ when run
COMMANDS = ("condor_submit", "condor_q", "condor_rm", "condor_status")
#: JobStatus: 1 Idle, 2 Running, 3 Removed, 4 Completed, 5 Held
STATUS = {core.PENDING: 1, core.RUNNING: 2, core.DONE: 4, core.EXITED: 4, core.HELD: 5}
LETTERS = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H"}
SUBMITTED_ON_HOLD = "submitted on hold at user's request"


def pool() -> dict[str, Any]:
    config = Path(os.environ.get("CONDOR_CONFIG", "/etc/condor/condor_config"))
    return dict(json.loads(config.with_name("pool.json").read_text()))


def machine_ad(config: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in config["slot"].items()}


def condor_submit(args: list[str]) -> str:
    config = pool()
    path, batch_name = None, None
    words = iter(args)
    for word in words:
        if word == "-batch-name":
            batch_name = next(words, "")
        elif word in ("-terse", "-verbose", "-disable"):
            continue
        elif word.startswith("-"):
            raise CondorError(f"condor_submit: unknown option {word}")
        else:
            path = word
    text = Path(path).read_text() if path else sys.stdin.read()
    commands, written = parse_submit(text)
    store = core.Spool(config["spool"])
    with store.locked():
        cluster = store.next_id()
        builtins = {"clusterid": str(cluster), "cluster": str(cluster)}
        builtins |= {"procid": "0", "process": "0"}
        values = {key: expand(v, commands, builtins) for key, v in commands.items()}
        ad = job_ad(values, written, cluster)
        initialdir = values.get("initialdir") or os.getcwd()
        for expression in ("requirements", "rank"):  # condor_submit parses them
            if values.get(expression):
                evaluate(values[expression], ad, machine_ad(config))
        executable = values.get("executable")
        if not executable:
            raise CondorError("ERROR: No 'executable' parameter was provided")
        env = dict(os.environ) if values.get("getenv", "").lower() == "true" else {}
        env |= dict(
            item.partition("=")[::2] for item in split_new_syntax(values.get("environment", ""))
        )
        scratch = store.job_dir(cluster) / "scratch"
        job = core.new_job(
            store,
            job_id=cluster,
            name=batch_name or values.get("batch_name") or f"ID: {cluster}",
            slots=int(ad.get("requestcpus") or 1),
            held=values.get("hold", "").lower() == "true",
            command=[executable, *split_new_syntax(values.get("arguments", ""))],
            cwd=initialdir,
            env=env,
            job_env={
                "_CONDOR_SCRATCH_DIR": str(scratch),
                "TMPDIR": str(scratch),
                "_CONDOR_JOB_AD": str(scratch / ".job.ad"),
            },
            stdout=_path(values.get("output"), initialdir),
            stderr=_path(values.get("error"), initialdir),
            run_limit=int(values["allowed_job_duration"])
            if "allowed_job_duration" in values
            else None,
            ad=ad,
            requirements=values.get("requirements"),
            kill_signals=["SIGTERM", "SIGKILL"],
        )
        assert job["id"] == cluster
        scratch.mkdir(mode=0o700)
        # the job's ClassAd, in the file the starter names in $_CONDOR_JOB_AD (a job reads
        # its own ClusterId and ProcId there)
        attributes = queue_ad(job, socket.gethostname())
        ad_file = "".join(f"{key} = {json.dumps(value)}\n" for key, value in attributes.items())
        (scratch / ".job.ad").write_text(ad_file)
        if job["state"] == core.HELD:
            job["reason"] = SUBMITTED_ON_HOLD
            store.save(job)
        core.dispatch(store, config["slot"]["Cpus"], why_not(config))
    return f"Submitting job(s).\n1 job(s) submitted to cluster {cluster}.\n"


def _path(value: str | None, initialdir: str) -> str | None:
    return os.path.join(initialdir, value) if value else None


def job_ad(values: dict[str, str], written: dict[str, str], cluster: int) -> dict[str, Any]:
    """The job's ClassAd attributes: ``MY.x`` keys, and the request expressions evaluated."""
    ad: dict[str, Any] = {}
    for key, value in values.items():
        if key.startswith("my."):
            ad[key[3:]] = literal(value)
    for request in ("requestcpus", "requestmemory", "requestdisk"):
        if request in values:
            ad[request] = evaluate(values[request], ad)
    ad |= {"clusterid": cluster, "procid": 0, "jobbatchname": values.get("batch_name")}
    return ad


def why_not(config: dict[str, Any]) -> Any:
    machine = machine_ad(config)

    def reason(job: core.Job) -> str | None:
        wanted = job["ad"]
        if job.get("requirements") and evaluate(job["requirements"], wanted, machine) is not True:
            return "no match found"
        memory, disk = wanted.get("requestmemory") or 0, wanted.get("requestdisk") or 0
        if job["slots"] > machine["cpus"] or memory > machine["memory"] or disk > machine["disk"]:
            return "no match found"
        return None

    return reason


# --- condor_q, condor_rm, condor_status -------------------------------------------------------
def queue_ad(job: core.Job, machine: str) -> dict[str, Any]:
    """The job as condor_q shows it (attributes as HTCondor spells them)."""
    status = 3 if job.get("removed") else STATUS[job["state"]]
    ad = {written: job["ad"].get(key) for key, written in _AD_NAMES.items() if key in job["ad"]}
    ad |= {
        "ClusterId": job["id"],
        "ProcId": 0,
        "GlobalJobId": f"{machine}#{job['id']}.0#{int(job['submit_time'])}",
        "JobBatchName": job["name"],
        "Owner": job["user"],
        "JobStatus": status,
        "QDate": int(job["submit_time"]),
        "Cmd": job["command"][0],
        "Args": " ".join(job["command"][1:]),
    }
    if job["state"] == core.RUNNING:
        ad |= {"RemoteHost": f"slot1_1@{machine}", "JobCurrentStartDate": int(job["start_time"])}
    if job["run_limit"]:
        ad["AllowedJobDuration"] = job["run_limit"]
    if status == 5:
        ad |= {"HoldReason": job["reason"], "HoldReasonCode": 15}
    elif status == 1 and job["reason"]:
        ad["LastRejMatchReason"] = job["reason"]
    return ad


_AD_NAMES = {"requestcpus": "RequestCpus", "requestmemory": "RequestMemory"}
_AD_NAMES |= {"requestdisk": "RequestDisk"}


def _in_queue(config: dict[str, Any]) -> list[core.Job]:
    store = core.Spool(config["spool"])
    with store.locked():
        core.reap_lost(store)
        core.dispatch(store, config["slot"]["Cpus"], why_not(config))
        jobs = store.jobs()
    # completed and removed jobs leave the queue (for the history) once their processes end
    return [job for job in jobs if job["state"] in core.UNFINISHED]


def _selected(jobs: list[core.Job], words: list[str], machine: str) -> list[dict[str, Any]]:
    ads = [queue_ad(job, machine) for job in jobs]
    ids = [w for w in words if re.fullmatch(r"\d+(\.\d+)?", w)]
    if ids:
        ads = [a for a in ads if str(a["ClusterId"]) in ids or f"{a['ClusterId']}.0" in ids]
    return ads


def condor_q(args: list[str]) -> str:
    config = pool()
    machine = socket.gethostname()
    constraint, attributes, autoformat, as_json, batch = None, None, None, False, True
    words, rest = iter(args), []
    for word in words:
        if word == "-constraint":
            constraint = next(words, "")
        elif word == "-attributes":
            attributes = next(words, "").split(",")
        elif word in ("-af", "-autoformat", "-af:j"):
            autoformat = list(words)
        elif word == "-json":
            as_json = True
        elif word in ("-nobatch", "-hold", "-run", "-idle"):
            batch = False
        elif word in ("-allusers", "-totals", "-wide"):
            continue
        elif word.startswith("-"):
            raise CondorError(f"Error: unknown argument {word}")
        else:
            rest.append(word)
    ads = _selected(_in_queue(config), rest, machine)
    if constraint:
        ads = [
            ad for ad in ads if evaluate(constraint, {k.lower(): v for k, v in ad.items()}) is True
        ]
    if as_json:
        shown = [{k: v for k, v in ad.items() if not attributes or k in attributes} for ad in ads]
        return json.dumps(shown, indent=2) + "\n" if shown else ""
    if autoformat is not None:
        lower = [{k.lower(): v for k, v in ad.items()} for ad in ads]
        return "".join(" ".join(_af(ad.get(a.lower())) for a in autoformat) + "\n" for ad in lower)
    stamp = time.strftime("%m/%d/%y %H:%M:%S")
    lines = [f"\n\n-- Schedd: {machine} : <127.0.0.1:9618> @ {stamp}"]
    if batch:
        lines.append("OWNER BATCH_NAME    SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS")
        for ad in ads:
            counts = ["_"] * 4
            counts[{1: 2, 2: 1, 5: 3}.get(ad["JobStatus"], 0)] = "1"
            submitted = time.strftime("%-m/%-d %H:%M", time.localtime(ad["QDate"]))
            lines.append(
                f"{ad['Owner']} {ad['JobBatchName']} {submitted}   {'      '.join(counts)}"
                f"      1 {ad['ClusterId']}.0"
            )
    else:
        lines.append(" ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD")
        for ad in ads:
            submitted = time.strftime("%-m/%-d %H:%M", time.localtime(ad["QDate"]))
            letter = LETTERS[ad["JobStatus"]]
            lines.append(
                f"{ad['ClusterId']:>4}.0   {ad['Owner']:<16} {submitted}   0+00:00:00 {letter}  0"
                f"    0.0 {os.path.basename(ad['Cmd'])} {ad['Args'][:40]}"
            )
    total = len(ads)
    lines.append(f"\nTotal for query: {total} jobs; 0 completed, 0 removed\n")
    return "\n".join(lines)


def _af(value: Any) -> str:
    return "undefined" if value is None else str(value)


def condor_rm(args: list[str]) -> str:
    config = pool()
    machine = socket.gethostname()
    constraint, words = None, iter(args)
    targets: list[str] = []
    for word in words:
        if word == "-constraint":
            constraint = next(words, "")
        elif word in ("-all", "-forcex"):
            targets.append(word)
        elif word.startswith("-"):
            raise CondorError(f"condor_rm: unknown option {word}")
        else:
            targets.append(word)
    store = core.Spool(config["spool"])
    lines, failed = [], False
    with store.locked():
        jobs = [j for j in store.jobs() if j["state"] in core.UNFINISHED and not j.get("removed")]
        by_ad = [(job, queue_ad(job, machine)) for job in jobs]
        if constraint is not None:
            chosen = [j for j, ad in by_ad if _matches(constraint, ad)]
            if not chosen:
                raise CondorError(
                    f"Couldn't find/remove all jobs matching constraint ({constraint})"
                )
            lines.append(
                f"All jobs matching constraint ({constraint}) have been marked for removal"
            )
        else:
            chosen = []
            for target in targets:
                found = [
                    j
                    for j, ad in by_ad
                    if target in (str(j["id"]), f"{j['id']}.0", j["user"], "-all")
                ]
                if not found:
                    lines.append(f"Couldn't find/remove all jobs matching {target}")
                    failed = True
                    continue
                chosen += found
                what = f"Job {target}" if "." in target else f"All jobs in cluster {target}"
                lines.append(
                    f"{what} {'marked' if '.' in target else 'have been marked'} for removal"
                )
        for job in chosen:
            if job["state"] == core.RUNNING:
                job["removed"] = True
                store.save(job)
            core.kill(store, job)
    if failed:
        raise CondorError("\n".join(lines))
    return "".join(f"{line}\n" for line in lines)


def _matches(constraint: str, ad: dict[str, Any]) -> bool:
    return evaluate(constraint, {k.lower(): v for k, v in ad.items()}) is True


def condor_status(args: list[str]) -> str:
    config = pool()
    slot = dict(config["slot"])
    running = [j for j in core.Spool(config["spool"]).jobs() if j["state"] == core.RUNNING]
    slot["Cpus"] -= sum(job["slots"] for job in running)  # a partitionable slot's leftovers
    slot |= {"Name": f"slot1@{slot['Machine']}", "State": "Unclaimed", "Activity": "Idle"}
    slot |= {"SlotType": "Partitionable", "TotalSlotCpus": config["slot"]["Cpus"]}
    if "-json" in args:
        return json.dumps([slot], indent=2) + "\n"
    if "-af" in args:
        wanted = args[args.index("-af") + 1 :]
        lower = {k.lower(): v for k, v in slot.items()}
        return " ".join(_af(lower.get(name.lower())) for name in wanted) + "\n"
    return (
        "Name               OpSys      Arch   State     Activity LoadAv Mem   ActvtyTime\n\n"
        f"{slot['Name']:<18} {slot['OpSys']:<10} {slot['Arch']:<6} Unclaimed Idle      0.000 "
        f"{slot['Memory']:<5} 0+00:00:00\n\n"
        "               Total Owner Claimed Unclaimed Matched Preempting  Drain Backfill BkIdle\n\n"
        f"  {slot['Arch']}/{slot['OpSys']}     1     0       0         1       0          0      0"
        "        0      0\n"
    )


# --- installing and running the commands ----------------------------------------------------
def install(directory: str, cpus: int = 16) -> Path:
    """Write the commands to ``directory/bin`` and the pool to ``directory``; the bin
    directory is returned (to put first on ``PATH``)."""
    root = Path(directory).resolve()
    bin_dir, spool_root = root / "bin", root / "spool"
    bin_dir.mkdir(parents=True, exist_ok=True)
    spool_root.mkdir(exist_ok=True)
    spool_root.chmod(0o1733)  # every user makes a spool of their own in it (like /tmp)
    (root / "condor_config").write_text("# HTCondor emulator: the pool is in pool.json\n")
    slot = {"Machine": socket.gethostname(), "Arch": "X86_64", "OpSys": "LINUX", "Cpus": cpus}
    slot |= {"Memory": 64 * 1024, "Disk": 100 * 1024 * 1024}  # MiB, KiB
    (root / "pool.json").write_text(json.dumps({"spool": str(spool_root), "slot": slot}))
    return core.write_commands(
        bin_dir, MODULE, COMMANDS, "CONDOR_CONFIG", str(root / "condor_config")
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"] and len(argv) == 2:
        print(install(argv[1]))
        return 0
    if usage := core.usage_error(argv, MODULE, COMMANDS):
        print(usage, file=sys.stderr)
        return 2
    command = {
        "condor_submit": condor_submit,
        "condor_q": condor_q,
        "condor_rm": condor_rm,
        "condor_status": condor_status,
    }[argv[0]]
    try:
        sys.stdout.write(command(argv[1:]))
    except (CondorError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
