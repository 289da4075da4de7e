"""HTCondor against the HTCondor emulator (testbeds/start-htcondor.sh, dask_cluster_launcher/
testing/htcondor_emulator.py), beyond what the per-system modules run for every batch system
(launch, workers compute, log, scale, adapt, stop, SIGTERM/SIGINT: test_rest_batch.py,
test_signals.py; hostile strings: test_hostile_input.py): why an idle job waits,
dask-jobqueue's own job script, the submit commands the form governs, HTCondor's formats."""

from __future__ import annotations

import json
import subprocess

import dask_jobqueue
import pytest

from dask_cluster_launcher.backends.batch import htcondor
from dask_cluster_launcher.backends.batch.htcondor import HTCondorBackend
from dask_cluster_launcher.testing import htcondor_emulator
from tests.helpers import wait_cluster
from tests.test_rest_batch import BASE_OPTIONS, wait_no_jobs

#: a pool's HTCondorCluster as its users write it, and the same in the launcher's form
SEED_KWARGS = {
    "cores": 2,
    "processes": 1,
    "memory": "4GB",
    "disk": "8GB",
    "job_extra_directives": {
        "getenv": "True",
        "allowed_job_duration": 5400,
        "accounting_group": "physics",
        "requirements": '(OpSys == "LINUX")',
        "+ProjectName": '"dask"',
    },
}
SEED_OPTIONS = {
    "cores": 2,
    "processes": 1,
    "memory": "4GB",
    "disk": "8GB",
    "walltime": "01:30:00",
    "accounting_group": "physics",
    "requirements": '(OpSys == "LINUX")',
    "job_extra_directives": ['+ProjectName = "dask"'],
}
#: what the launcher sets itself: the batch name, the log folder, the worker's own arguments
LAUNCHER_KEYS = ("batch_name", "LogDirectory", "Output", "Error", "Log", "Stream_Output")
LAUNCHER_KEYS += ("Stream_Error",)  # the log folder's
LAUNCHER_ARGUMENTS = ("--name", "--preload", "--dashboard-address", "--protocol")
LAUNCHER_ARGUMENTS += ("--local-directory",)


def submit_commands(script: str) -> dict[str, str]:
    found = {}
    for line in script.splitlines():
        key, equals, value = line.partition(" = ")
        if equals and key not in LAUNCHER_KEYS and key != "Arguments":
            found[key] = value
    return found


def worker_command(script: str) -> list[str]:
    arguments = next(line for line in script.splitlines() if line.startswith("Arguments = "))
    words = htcondor_emulator.split_new_syntax(arguments.partition(" = ")[2])[1].split()
    command = words[words.index("distributed.cli.dask_worker") - 2 :]
    kept, skip = [], False
    for word in command[:3] + command[4:]:  # without the scheduler's address
        if skip:
            skip = False
        elif word in LAUNCHER_ARGUMENTS or word.startswith("--tls-"):
            skip = True
        elif word == "--no-dashboard":  # the launcher's: a worker's dashboard is served nowhere
            pass
        else:
            kept.append(word)
    return kept


async def test_preview_is_dask_jobqueues_own_job_script(launcher_api, htcondor_testbed):
    expected = dask_jobqueue.HTCondorCluster(asynchronous=True, **SEED_KWARGS).job_script()
    _, backends = await launcher_api("backends")
    defaults = next(b for b in backends if b["name"] == "htcondor")["defaults"]
    body = {"backend": "htcondor", "options": {**defaults, **SEED_OPTIONS}}
    code, preview = await launcher_api("preview", method="POST", body=body)
    assert code == 200, preview
    script = preview["job_script"]
    assert submit_commands(script) == submit_commands(expected)
    assert worker_command(script) == worker_command(expected)
    assert "batch_name = dcl-preview" in script.splitlines()


async def test_an_idle_job_shows_why_and_stopping_leaves_no_job(launcher_api, htcondor_testbed):
    # no slot of the pool matches: the job stays idle, with the negotiator's last reason
    options = {**BASE_OPTIONS["htcondor"], "requirements": '(Arch == "SPARC")'}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": "htcondor", "options": options}
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
    assert (job["state"], job["reason"]) == ("PENDING", "no match found")
    assert job["job_id"].endswith(".0")
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(htcondor_testbed, f"dcl-{cluster['id']}", timeout=30)


@pytest.mark.parametrize(
    "directive, message",
    [
        ("batch_name = other", "the job's name"),
        ("+JobBatchName = other", "the job's name"),
        ("request_memory = 100000", "memory"),
        ("RequestCpus = 64", "CPUs"),
        ("allowed_job_duration = 999999", "time limit"),
        ("MY.DaskWorkerCores = 64", "the worker's sizes"),
        ("executable = /bin/rm", "the worker's command"),
        ("output = /tmp/elsewhere", "log files"),
        ("rank = Memory; touch /tmp/x", "not allowed"),
    ],
)
async def test_submit_commands_that_rename_or_pass_the_form_are_refused(
    launcher_api, directive, message
):
    options = {**BASE_OPTIONS["htcondor"], "job_extra_directives": ["rank = Memory", directive]}
    code, error = await launcher_api(
        "preview", method="POST", body={"backend": "htcondor", "options": options}
    )
    assert (code, error["field"]) == (400, "options.job_extra_directives.1"), error
    assert message in error["message"], error


def test_unavailable_names_the_missing_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert HTCondorBackend().unavailable_reason() == (
        "condor_submit, condor_q, condor_rm, condor_status not found on this server's PATH"
    )


def test_job_rows_from_condor_q_json():
    ads = [
        {"ClusterId": 7, "ProcId": 0, "JobBatchName": "dcl-a", "JobStatus": 2,
         "RemoteHost": "slot1_1@node7", "JobCurrentStartDate": 1000,
         "AllowedJobDuration": 1800, "ServerTime": 1060},
        {"ClusterId": 8, "ProcId": 0, "JobBatchName": "dcl-a", "JobStatus": 5,
         "HoldReason": "submitted on hold at user's request"},
        {"ClusterId": 9, "ProcId": 0, "JobBatchName": "dcl-a", "JobStatus": 3},
    ]  # fmt: skip
    rows = htcondor.parse_condor_q(json.dumps(ads), now=0)["dcl-a"]
    assert rows == [
        {"job_id": "7.0", "state": "RUNNING", "reason": None, "host": "node7", "time_left": 1740},
        {
            "job_id": "8.0",
            "state": "HELD",
            "reason": "submitted on hold at user's request",
            "host": None,
            "time_left": None,
        },
    ]
    assert htcondor.parse_condor_q("", now=0) == {}


def test_the_emulator_reads_submit_descriptions_as_condor_submit_does(htcondor_testbed, tmp_path):
    """Macros, the new quoting of arguments, hold, and condor_rm by constraint."""
    out = tmp_path / "out"
    description = (
        "executable = /bin/sh\n"
        "arguments = \"-c 'echo $0 > $(Out)' 'it''s'\"\n"
        f"Out = {out}-$(ClusterId)\n"
        "batch_name = dcl-emulator-test\n"
        "queue\n"
    )
    submitted = subprocess.run(
        ["condor_submit"], input=description, capture_output=True, text=True, check=True
    ).stdout
    cluster = submitted.split("submitted to cluster ")[1].rstrip(".\n")
    held = subprocess.run(
        ["condor_submit"],
        input=description.replace("queue", "hold = true\nqueue"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert held.startswith("Submitting job(s).\n1 job(s) submitted to cluster ")
    wait = htcondor_testbed.queue_jobs("dcl-emulator-test")
    assert [job.state for job in wait if job.job_id != f"{cluster}.0"] == ["H"]
    constraint = 'JobBatchName =?= "dcl-emulator-test" && JobStatus == 5'
    htcondor_testbed.run(["condor_rm", "-constraint", constraint])
    htcondor_testbed.wait_queue_empty(timeout=30, name_prefix="dcl-emulator-test")
    assert (tmp_path / f"out-{cluster}").read_text() == "it's\n"
