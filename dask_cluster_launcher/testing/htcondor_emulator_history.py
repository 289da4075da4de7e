"""``condor_history`` for the HTCondor emulator (see ``htcondor_emulator.py``): the ended jobs
of the caller's spool as the schedd's history file keeps them (HTCondor manual: condor_history,
"Job ClassAd Attributes").

Options: ``-constraint``, ``-match``/``-limit``, ``-json`` with ``-attributes``, ``-af``, and
job ids (``123``, ``123.0``); newest first, nothing printed when no job matches. The ads carry
``JobStatus`` 4 (Completed: ``ExitCode``, or ``ExitBySignal``/``ExitSignal``) or 3 (Removed:
``RemoveReason`` "via condor_rm (by user alice)"), start and end times, ``RemoteWallClockTime``,
``RequestCpus``, ``RequestMemory`` and ``AllowedJobDuration``.

HTCondor holds a job that runs past its ``allowed_job_duration`` (``HoldReasonCode`` 46) and a
site removes such held jobs with ``SYSTEM_PERIODIC_REMOVE``; the emulator ends the job at once,
so its history ad is that of a job held for its duration and then removed by the system. An
exit status over 128 is read as 128 + the signal that killed the job (the emulator's shepherd
records it so).

Installed beside the other commands by ``testbeds/start-htcondor.sh``
(``python -m dask_cluster_launcher.testing.htcondor_emulator_history install DIR``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from . import batch_emulator as core
from .htcondor_emulator import CondorError, evaluate, pool

MODULE = "dask_cluster_launcher.testing.htcondor_emulator_history"
#: HoldReasonCode 46: JobDurationExceeded (HTCondor 9.4 and later)
DURATION_EXCEEDED = 46
SYSTEM_REMOVE = (
    "The system macro SYSTEM_PERIODIC_REMOVE expression "
    "'(JobStatus == 5 && HoldReasonCode == 46)' evaluated to TRUE"
)


def history_ad(job: core.Job) -> dict[str, Any]:
    """An ended job as the history keeps it (attributes as HTCondor spells them)."""
    started, ended = job["start_time"], job["end_time"] or 0
    ad: dict[str, Any] = {
        "ClusterId": job["id"],
        "ProcId": 0,
        "JobBatchName": job["name"],
        "Owner": job["user"],
        "QDate": int(job["submit_time"]),
        "EnteredCurrentStatus": int(ended),
        "RemoteWallClockTime": float(ended - started) if started else 0.0,
        "RequestCpus": job["slots"],
    }
    if started:
        ad["JobCurrentStartDate"] = int(started)
    if job["ad"].get("requestmemory") is not None:
        ad["RequestMemory"] = job["ad"]["requestmemory"]
    if job["run_limit"]:
        ad["AllowedJobDuration"] = job["run_limit"]
    if job.get("end_note") == "run limit":
        limit = job["run_limit"]
        ad |= {"JobStatus": 3, "CompletionDate": 0, "HoldReasonCode": DURATION_EXCEEDED}
        ad |= {"HoldReason": f"The job exceeded allowed job duration of {limit} seconds"}
        ad["RemoveReason"] = SYSTEM_REMOVE
    elif job.get("removed") or job.get("killed"):
        ad |= {"JobStatus": 3, "CompletionDate": 0}
        ad["RemoveReason"] = f"via condor_rm (by user {job['user']})"
    else:
        status = job["exit_status"] or 0
        ad |= {"JobStatus": 4, "CompletionDate": int(ended), "ExitBySignal": status > 128}
        ad |= {"ExitSignal": status - 128} if status > 128 else {"ExitCode": status}
    return ad


def condor_history(args: list[str]) -> str:
    config = pool()
    constraint, attributes, autoformat, as_json, match = None, None, None, False, None
    words, ids = iter(args), []
    for word in words:
        if word == "-constraint":
            constraint = next(words, "")
        elif word in ("-match", "-limit"):
            match = int(next(words, "0"))
        elif word == "-attributes":
            attributes = next(words, "").split(",")
        elif word in ("-af", "-autoformat"):
            autoformat = list(words)
        elif word == "-json":
            as_json = True
        elif re.fullmatch(r"\d+(\.\d+)?", word):
            ids.append(word)
        else:
            raise CondorError(f"Error: unknown argument {word}")
    store = core.Spool(config["spool"])
    with store.locked():
        core.reap_lost(store)
        ended = [job for job in store.jobs() if job["state"] not in core.UNFINISHED]
    ads = [history_ad(job) for job in sorted(ended, key=lambda j: -(j["end_time"] or 0))]
    if ids:
        ads = [a for a in ads if str(a["ClusterId"]) in ids or f"{a['ClusterId']}.0" in ids]
    if constraint:
        ads = [a for a in ads if evaluate(constraint, {k.lower(): v for k, v in a.items()}) is True]
    ads = ads[:match] if match else ads
    if as_json:
        shown = [{k: v for k, v in ad.items() if not attributes or k in attributes} for ad in ads]
        return json.dumps(shown, indent=2) + "\n" if shown else ""
    if autoformat is not None:
        lower = [{k.lower(): v for k, v in ad.items()} for ad in ads]
        return "".join(
            " ".join(
                "undefined" if ad.get(a.lower()) is None else str(ad[a.lower()]) for a in autoformat
            )
            + "\n"
            for ad in lower
        )
    lines = [" ID     OWNER          SUBMITTED   RUN_TIME     ST COMPLETED   CMD"]
    for ad in ads:
        letter = "X" if ad["JobStatus"] == 3 else "C"
        lines.append(f"{ad['ClusterId']:>4}.0 {ad['Owner']:<14} {ad['QDate']} {letter}")
    return "\n".join(lines) + "\n"


def install(directory: str) -> Path:
    """Write ``condor_history`` beside the emulator's other commands (``directory/bin``)."""
    root = Path(directory).resolve()
    config = str(root / "condor_config")
    return core.write_commands(root / "bin", MODULE, ("condor_history",), "CONDOR_CONFIG", config)


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"] and len(argv) == 2:
        print(install(argv[1]))
        return 0
    if argv[:1] != ["condor_history"]:
        print(f"usage: {MODULE} install DIR | condor_history ARGS", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(condor_history(argv[1:]))
    except (CondorError, OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
