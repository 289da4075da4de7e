"""LSF against the LSF emulator (testbeds/start-lsf.sh, dask_cluster_launcher/testing/
lsf_emulator.py), beyond what the per-system modules run for every batch system (launch,
workers compute, log, scale, adapt, stop, SIGTERM/SIGINT: test_rest_batch.py, test_signals.py;
hostile strings: test_hostile_input.py): the pending reason, dask-jobqueue's own job script,
LSF's directive rules, the site's queues, and the emulator speaking LSF's formats."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import dask_jobqueue
import pytest

from dask_cluster_launcher.backends.batch import lsf
from dask_cluster_launcher.backends.batch.lsf import LSFBackend
from tests.helpers import wait_cluster
from tests.test_rest_batch import BASE_OPTIONS, queued, wait_no_jobs

#: a site's LSFCluster as its users write it, and the same in the launcher's form
SEED_KWARGS = {
    "queue": "normal",
    "project": "physics",
    "cores": 2,
    "processes": 1,
    "memory": "4GB",
    "walltime": "01:30",
    "job_extra_directives": ["-L /bin/bash", '-R "select[type==X86_64]"'],
}
SEED_OPTIONS = {
    "queue": "normal",
    "project": "physics",
    "cores": 2,
    "processes": 1,
    "memory": "4GB",
    "walltime": "01:30:00",
    "resource_spec": "select[type==X86_64]",
    "job_extra_directives": ["-L /bin/bash"],
}
#: the launcher's own directives (job name, log files) and worker arguments
LAUNCHER_DIRECTIVES = ("#BSUB -J ", "#BSUB -e ", "#BSUB -o ")
LAUNCHER_ARGUMENTS = ("--name", "--preload", "--dashboard-address", "--protocol")
LAUNCHER_ARGUMENTS += ("--local-directory",)


def site_directives(script: str) -> list[str]:
    return [
        line
        for line in script.splitlines()
        if line.startswith("#BSUB ") and not line.startswith(LAUNCHER_DIRECTIVES)
    ]


def worker_command(script: str) -> list[str]:
    line = next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)
    words, kept, skip = shlex.split(line), [], False
    del words[3]  # the scheduler's address
    for word in words:
        if skip:
            skip = False
        elif word in LAUNCHER_ARGUMENTS or word.startswith("--tls-"):
            skip = True
        elif word == "--no-dashboard":  # the launcher's: a worker's dashboard is served nowhere
            pass
        else:
            kept.append(word)
    return kept


async def test_preview_is_dask_jobqueues_own_job_script(launcher_api, lsf_testbed):
    expected = dask_jobqueue.LSFCluster(asynchronous=True, **SEED_KWARGS).job_script()
    _, backends = await launcher_api("backends")
    defaults = next(b for b in backends if b["name"] == "lsf")["defaults"]
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": "lsf", "options": {**defaults, **SEED_OPTIONS}}
    )
    assert code == 200, preview
    script = preview["job_script"]
    assert site_directives(script) == site_directives(expected)
    assert "#BSUB -W 01:30" in script and '#BSUB -P "physics"' in script
    assert worker_command(script) == worker_command(expected)
    assert "#BSUB -J dcl-preview" in script.splitlines()


async def test_a_pending_job_shows_lsfs_reason_and_stopping_leaves_no_job(
    launcher_api, lsf_testbed
):
    # no host of the site satisfies the requirement: the job waits, with LSF's reason
    options = {**BASE_OPTIONS["lsf"], "resource_spec": "select[type==SPARC]"}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": "lsf", "options": options}
    )
    assert code == 202, cluster
    model = await wait_cluster(
        launcher_api,
        cluster["id"],
        lambda m: m["state"] == "failed" or any(j["reason"] for j in m["jobs"]),
        timeout=60,
    )
    assert model["state"] != "failed", model["error"]
    [job] = model["jobs"]
    assert job["state"] == "PENDING"
    assert job["reason"] == "Job's resource requirements not satisfied: 1 host"
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(lsf_testbed, f"dcl-{cluster['id']}", timeout=30)


@pytest.mark.parametrize(
    "directive, message",
    [
        ("-J other", "may not set the job name"),
        ("-L /bin/sh -J other", "may not set the job name"),
        ("-W 99:00", "time limit"),
        ("-q short", "queue"),
        ("-n 64", "CPUs"),
        ("-M 500000", "memory"),
        ("-o /tmp/elsewhere", "output file"),
        ('-R "span[hosts=1]"; touch /tmp/x', "not allowed"),
    ],
)
async def test_directives_that_rename_or_pass_the_form_are_refused(
    launcher_api, directive, message
):
    options = {**BASE_OPTIONS["lsf"], "job_extra_directives": ["-L /bin/bash", directive]}
    code, error = await launcher_api(
        "preview", method="POST", body={"backend": "lsf", "options": options}
    )
    assert (code, error["field"]) == (400, "options.job_extra_directives.1"), error
    assert message in error["message"], error


async def test_the_form_shows_the_sites_queues_and_refuses_a_walltime_past_a_run_limit(
    launcher_api, lsf_testbed
):
    _, backends = await launcher_api("backends")
    backend = next(b for b in backends if b["name"] == "lsf")
    assert backend["available"] is True and backend["defaults"]["walltime"] == "00:30:00"
    queues = {q["name"]: q for q in backend["schema"]["properties"]["queue"]["x-queues"]}
    assert queues["normal"]["default"] and queues["normal"]["time_limit"] is None
    assert queues["short"]["time_limit"] == 1800 and queues["short"]["cpus"] == 16
    options = {**BASE_OPTIONS["lsf"], "queue": "short", "walltime": "00:30:01"}
    code, error = await launcher_api(
        "clusters", method="POST", body={"backend": "lsf", "options": options}
    )
    assert (code, error["field"]) == (400, "options.walltime"), error
    assert await queued(lsf_testbed) == []


def test_unavailable_names_the_missing_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert LSFBackend().unavailable_reason() == (
        "bsub, bjobs, bkill, bqueues, bhosts not found on this server's PATH"
    )


# --- LSF's formats, as IBM documents them and the emulator prints them ---------------------------
#: ``bqueues -l`` as in IBM's command reference (LSF 10.1, "bqueues -l" example, shortened)
BQUEUES_L = """
QUEUE: normal
  -- For normal low priority jobs, running only if hosts are lightly loaded.  This is the \
default queue.

PARAMETERS/STATISTICS
PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS
 30   20  Open:Active       -    -    -    -     8     8     0     0     0    0     0
Interval for a host to accept two jobs is 0 seconds

 RUNLIMIT
 720.0 min of hostA

SCHEDULING PARAMETERS
USERS:  all
HOSTS:  all

QUEUE: idle
  -- Running only if the machine is idle and very lightly loaded.

PARAMETERS/STATISTICS
PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS
 20   20  Closed:Inact      -    -    -    -     0     0     0     0     0    0     0
"""


def test_queues_and_limits_read_from_bqueues_l():
    normal, idle = lsf.parse_bqueues(BQUEUES_L)
    assert (normal.name, normal.time_limit, normal.default) == ("normal", 720 * 60, True)
    assert (idle.name, idle.time_limit, idle.default, idle.state) == (
        "idle",
        None,
        False,
        "closed:inact",
    )


def test_job_rows_from_bjobs_json():
    out = {
        "COMMAND": "bjobs",
        "JOBS": 3,
        "RECORDS": [
            {"JOBID": "7", "JOB_NAME": "dcl-a", "STAT": "RUN", "EXEC_HOST": "4*hostA",
             "TIME_LEFT": "0:29 L", "PEND_REASON": ""},
            {"JOBID": "8", "JOB_NAME": "dcl-a", "STAT": "PEND", "EXEC_HOST": "",
             "TIME_LEFT": "", "PEND_REASON": "New job is waiting for scheduling;"},
            {"JOBID": "9", "JOB_NAME": "dcl-a", "STAT": "DONE", "EXEC_HOST": "hostA",
             "TIME_LEFT": "", "PEND_REASON": ""},
        ],
    }  # fmt: skip
    rows = lsf.parse_bjobs(json.dumps(out))["dcl-a"]
    assert rows == [
        {"job_id": "7", "state": "RUNNING", "reason": None, "host": "hostA", "time_left": 1740},
        {
            "job_id": "8",
            "state": "PENDING",
            "reason": "New job is waiting for scheduling",
            "host": None,
            "time_left": None,
        },
    ]
    assert lsf.parse_bjobs("No unfinished job found\n") == {}


def test_the_emulator_honours_bsub_as_lsf_does(lsf_testbed, tmp_path):
    """Directives count only in a script on stdin; ``bkill -J`` alone kills the last job of
    that name, ``bkill -J NAME 0`` every one."""
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\n#BSUB -J dcl-emulator-test\n#BSUB -H\nsleep 60\n")
    script.chmod(0o700)
    for _ in range(2):
        with open(script) as stdin:
            out = subprocess.run(["bsub"], stdin=stdin, capture_output=True, text=True).stdout
        assert re.fullmatch(r"Job <\d+> is submitted to default queue <normal>.\n", out)
    held = lsf_testbed.queue_jobs("dcl-emulator-test")
    assert [job.state for job in held] == ["PSUSP", "PSUSP"]
    as_file = lsf_testbed.run(["bsub", "-H", str(script)]).stdout
    [file_job] = [j for j in lsf_testbed.queue_jobs() if as_file.startswith(f"Job <{j.job_id}>")]
    assert file_job.name == str(script)  # its #BSUB -J was not read
    lsf_testbed.run(["bkill", "-J", "dcl-emulator-test"])
    assert len(lsf_testbed.queue_jobs("dcl-emulator-test")) == 1
    lsf_testbed.run(["bkill", "-J", "dcl-emulator-test", "0"])
    lsf_testbed.run(["bkill", file_job.job_id])
    assert lsf_testbed.queue_jobs("dcl-emulator-test") == []
    assert file_job.job_id not in lsf_testbed.queue_job_ids()
