"""PBS: what qstat and pbsnodes print, read as PBS documents it (Torque's text, PBS Pro's JSON,
on samples in the documented formats: the test bed's wrappers print Torque's text only); the
directive rules; the preview against PBSCluster.job_script(); and, on the test bed (Torque
wrappers over SLURM), a waiting job's reason, a stop that leaves no job, and GET backends."""

from __future__ import annotations

import json

import pytest

from dask_cluster_launcher.backends.batch import pbs_directives
from dask_cluster_launcher.backends.batch.pbs_formats import (
    parse_jobs,
    parse_nodes,
    parse_queues,
    pbs_bytes,
    pbs_seconds,
)
from dask_cluster_launcher.errors import InvalidRequest
from dask_cluster_launcher.job_logs import valid_job_id
from tests.helpers import wait_cluster
from tests.test_jobqueue_rules import (
    form_defaults,
    preview,
    profile_preview,
    raw_job_script,
    worker_command,
)
from tests.test_rest_batch import BASE_OPTIONS, queued, wait_no_jobs

# `qstat -f` of Torque (Administrator Guide, "qstat"): 4-space attributes, a tab before a
# long value's next line
TORQUE_JOBS = """\
Job Id: 4807.login1.example.org
    Job_Name = dcl-0123456789ab
    Job_Owner = alice@login1.example.org
    resources_used.walltime = 00:05:00
    job_state = R
    queue = batch
    exec_host = node07/0+node07/1
    Resource_List.walltime = 00:30:00
    Walltime.Remaining = 1490
    Variable_List = PBS_O_QUEUE=batch,PBS_O_HOME=/home/alice,PBS_O_PATH=/usr/bin:/bin,
\tPBS_O_WORKDIR=/home/alice

Job Id: 4808.login1.example.org
    Job_Name = dcl-0123456789ab
    Job_Owner = alice@login1.example.org
    job_state = Q
    queue = batch
    comment = Not Running: Insufficient amount of resource: ncpus
    Resource_List.walltime = 00:30:00

Job Id: 4809.login1.example.org
    Job_Name = dcl-0123456789ab
    Job_Owner = mallory@login1.example.org
    job_state = Q
    queue = batch

Job Id: 4700.login1.example.org
    Job_Name = dcl-0123456789ab
    Job_Owner = alice@login1.example.org
    job_state = C
    queue = batch
"""
# `qstat -f -F json` of PBS Pro / OpenPBS (Reference Guide, "qstat", -F json)
PBSPRO_JOBS = {
    "timestamp": 1700000000,
    "pbs_version": "2022.1.1",
    "pbs_server": "pbs01",
    "Jobs": {
        "101.pbs01": {
            "Job_Name": "dcl-0123456789ab",
            "Job_Owner": "alice@login01",
            "job_state": "R",
            "queue": "workq",
            "exec_host": "cn12/0*4",
            "comment": "Job run at Thu Nov 14 at 10:01 on (cn12:ncpus=4)",
            "Resource_List": {"ncpus": 4, "walltime": "01:00:00", "select": "1:ncpus=4"},
            "resources_used": {"walltime": "00:10:30", "ncpus": 4},
        },
        "102.pbs01": {
            "Job_Name": "dcl-0123456789ab",
            "Job_Owner": "alice@login01",
            "job_state": "H",
            "queue": "workq",
            "comment": "job held, too many failed attempts to run",
            "Resource_List": {"walltime": "01:00:00"},
        },
        "103.pbs01": {"Job_Name": "other", "Job_Owner": "alice@login01", "job_state": "Q"},
    },
}
TORQUE_QUEUES = """\
Queue: batch
    queue_type = Execution
    total_jobs = 0
    resources_max.walltime = 24:00:00
    resources_default.walltime = 01:00:00
    enabled = True
    started = True

Queue: route
    queue_type = Route
    enabled = True
    started = True

Queue: closed
    queue_type = Execution
    resources_max.ncpus = 8
    resources_max.mem = 32gb
    enabled = False
    started = True
"""
PBSPRO_QUEUES = {
    "timestamp": 1700000000,
    "pbs_version": "2022.1.1",
    "pbs_server": "pbs01",
    "Queue": {
        "workq": {
            "queue_type": "Execution",
            "total_jobs": 3,
            "resources_max": {"walltime": "12:00:00", "ncpus": 128, "mem": "512gb"},
            "enabled": "True",
            "started": "True",
        }
    },
}
TORQUE_NODES = """\
node07
    state = free
    np = 16
    ntype = cluster
    status = rectime=1700000000,physmem=65842340kb,availmem=60000000kb,ncpus=16

node08
    state = free
    np = 32
    status = rectime=1700000000,physmem=131684680kb,ncpus=32
"""
PBSPRO_NODES = """\
cn12
     Mom = cn12.example.org
     state = free
     resources_available.ncpus = 48
     resources_available.mem = 196608000kb
"""


def test_torque_qstat_text_gives_this_users_unfinished_jobs_with_reason_host_and_time_left():
    jobs = parse_jobs(TORQUE_JOBS, {"dcl-0123456789ab"}, "alice")["dcl-0123456789ab"]
    assert jobs == [
        {
            "job_id": "4807",
            "state": "RUNNING",
            "reason": None,
            "host": "node07",
            "time_left": 1440,  # 1490 s, in whole minutes
        },
        {
            "job_id": "4808",
            "state": "PENDING",
            "reason": "Not Running: Insufficient amount of resource: ncpus",
            "host": None,
            "time_left": None,
        },
    ]
    assert parse_jobs(TORQUE_JOBS, {"dcl-other"}, "alice") == {}


def test_pbspro_qstat_json_gives_the_same_rows():
    text = json.dumps(PBSPRO_JOBS)
    jobs = parse_jobs(text, {"dcl-0123456789ab"}, "alice")["dcl-0123456789ab"]
    assert [(j["job_id"], j["state"], j["host"], j["time_left"]) for j in jobs] == [
        ("101", "RUNNING", "cn12", 49 * 60),  # 60 min - 10:30 used, whole minutes
        ("102", "HELD", None, None),
    ]
    assert jobs[1]["reason"] == "job held, too many failed attempts to run"
    assert parse_jobs(text, {"dcl-0123456789ab"}, "bob") == {}


def test_queues_from_qstat_text_and_json_with_node_sizes_from_pbsnodes():
    nodes = parse_nodes(TORQUE_NODES)
    assert nodes == [(16, 65842340 * 1024), (32, 131684680 * 1024)]
    queues = {q.name: q for q in parse_queues(TORQUE_QUEUES, nodes)}
    assert set(queues) == {"batch", "closed"}  # a routing queue runs nothing
    assert (queues["batch"].time_limit, queues["batch"].cpus) == (86400, 32)
    assert queues["closed"].state == "down" and queues["closed"].memory == 32 * 2**30
    assert queues["closed"].cpus == 8 and queues["closed"].time_limit is None
    [workq] = parse_queues(json.dumps(PBSPRO_QUEUES), parse_nodes(PBSPRO_NODES))
    assert (workq.time_limit, workq.cpus, workq.memory) == (43200, 128, 512 * 2**30)
    assert parse_nodes(PBSPRO_NODES) == [(48, 196608000 * 1024)]


@pytest.mark.parametrize(
    "text, seconds", [("01:30:00", 5400), ("90:00", 5400), ("5400", 5400), ("1:00:00:00", 86400)]
)
def test_pbs_durations(text, seconds):
    assert pbs_seconds(text) == seconds


def test_pbs_sizes_are_powers_of_1024():
    assert pbs_bytes("16gb") == 16 * 2**30 and pbs_bytes("512") == 512
    assert pbs_bytes("lots") is None


GOVERNED = [
    ("-l walltime=99:00:00", "-l walltime"),
    ("-l select=4:ncpus=64", "-l select"),
    ("-l nodes=1:ppn=64", "-l nodes"),
    ("-l mem=500gb", "-l mem"),
    ("-m n -q bigmem", "-q"),
    ("-A other", "-A"),
    ("-J 1-100", "-J"),
    ("-t 1-100", "-t"),
    ("-W group_list=other", "-W group_list"),
]


@pytest.mark.parametrize("directive, word", GOVERNED)
def test_directives_that_set_what_the_form_governs_are_refused_naming_the_option(directive, word):
    options = {**BASE_OPTIONS["pbs"], "job_extra_directives": ["-m n", directive]}
    with pytest.raises(InvalidRequest) as refused:
        pbs_directives.check_directives(options)
    assert refused.value.field == "options.job_extra_directives.1"
    assert f"{word} sets" in str(refused.value)


@pytest.mark.parametrize(
    "spec", ["select=2:ncpus=1", "nodes=1:ppn=8", "select=1:mem=8gb", "walltime=9:00:00"]
)
def test_a_resource_spec_past_the_fields_is_refused(spec):
    options = {**BASE_OPTIONS["pbs"], "resource_spec": spec}
    with pytest.raises(InvalidRequest) as refused:
        pbs_directives.check_resource_spec(options)
    assert refused.value.field == "options.resource_spec"


# --- on the test bed -------------------------------------------------------------------------
#: what a PBS site's user writes for PBSCluster, and the same in the form
PBS_SEED = {
    "kwargs": {
        "cores": 2,
        "processes": 1,
        "memory": "4GB",
        "walltime": "02:00:00",
        "queue": "debug",
        "account": "proj42",
        "resource_spec": "select=1:ncpus=2:mem=4GB",
        "job_extra_directives": ["-m n", "-l ngpus=0"],
    },
}
PBS_SEED["options"] = PBS_SEED["kwargs"]
LAUNCHER_DIRECTIVES = ("#PBS -N ", "#PBS -e ", "#PBS -o ")


def pbs_directives_of(script: str) -> list[str]:
    return [
        line
        for line in script.splitlines()
        if line.startswith("#PBS ") and not line.startswith(LAUNCHER_DIRECTIVES)
    ]


@pytest.mark.parametrize("resource_spec", ["select=1:ncpus=2:mem=4GB", ""])
async def test_the_preview_is_what_pbscluster_gives_the_same_arguments(
    launcher_api, pbs_testbed, resource_spec
):
    kwargs = {**PBS_SEED["kwargs"], "resource_spec": resource_spec or None}
    expected = raw_job_script("PBSCluster", kwargs)
    defaults = await form_defaults(launcher_api, "pbs")
    options = {**defaults, **PBS_SEED["options"], "resource_spec": resource_spec}
    script = (await preview(launcher_api, {"backend": "pbs", "options": options}))["job_script"]
    assert pbs_directives_of(script) == pbs_directives_of(expected)
    # the form's resource spec, else dask-jobqueue's own from the cores and memory
    assert any(line.startswith("#PBS -l select=1:ncpus=2:mem=") for line in script.splitlines())
    assert worker_command(script) == worker_command(expected)


async def test_the_example_profile_previews_what_pbscluster_gives(launcher_api, pbs_testbed):
    lifetime = ["--lifetime", "25m", "--lifetime-stagger", "4m"]
    kwargs = {"cores": 1, "processes": 1, "memory": "8 GB", "worker_extra_args": lifetime}
    expected = raw_job_script("PBSCluster", kwargs)
    script = (await profile_preview(launcher_api, "pbs-example"))["job_script"]
    assert pbs_directives_of(script) == pbs_directives_of(expected)
    assert worker_command(script) == worker_command(expected)


async def test_a_waiting_job_shows_pbs_reason_and_stopping_leaves_no_job(launcher_api, pbs_testbed):
    await wait_no_jobs(pbs_testbed)
    # a held job (qsub -h) waits until released: the scheduler says so in its comment
    options = {**BASE_OPTIONS["pbs"], "job_extra_directives": ["-h"]}
    body = {"backend": "pbs", "options": options, "scaling": {"workers": 1}}
    code, cluster = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, cluster
    model = await wait_cluster(
        launcher_api,
        cluster["id"],
        lambda m: m["state"] == "failed" or any(j["reason"] for j in m["jobs"]),
        timeout=60,
    )
    assert model["state"] != "failed", model["error"]
    [job] = model["jobs"]
    assert job["state"] == "PENDING" and job["reason"] == "JobHeldUser", job
    assert [j.job_id for j in await queued(pbs_testbed, f"dcl-{cluster['id']}")] == [job["job_id"]]
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(pbs_testbed, f"dcl-{cluster['id']}", timeout=30)


async def test_backends_lists_pbs_unavailable_naming_the_missing_command(launcher_api, monkeypatch):
    # this machine's qsub, qstat, qdel and qselect on PATH are Grid Engine's
    monkeypatch.delenv("DCL_PBS_PATH", raising=False)
    _, backends = await launcher_api("backends")
    pbs = next(b for b in backends if b["name"] == "pbs")
    assert pbs["available"] is False and "pbsnodes not found" in pbs["reason"], pbs


@pytest.mark.parametrize(
    "job_id, valid",
    [
        ("4807.login1.example.org", True),  # Torque and PBS Pro: <sequence number>.<server>
        ("101.pbs01", True),
        ("12", True),
        ("101..pbs01", False),
        ("101./etc", False),
        ("101.pbs01/../x", False),
        ("pbs01.101", False),
    ],
)
def test_the_log_route_takes_pbs_job_ids_and_nothing_like_a_path(job_id, valid):
    assert valid_job_id(job_id) is valid


async def test_json_is_asked_once_and_a_server_that_does_not_answer_is_no_answer(monkeypatch):
    """Torque's qstat refuses -F (text from then on); a PBS Pro server that does not answer
    fails the poll without turning JSON off for good."""
    from dask_cluster_launcher.backends.batch import commands
    from dask_cluster_launcher.backends.batch.pbs import PBSBackend

    answers = {
        "torque": ["qstat failed: Unknown option: F\nUsage: qstat [-f] ...", TORQUE_JOBS],
        "down": ["qstat failed: Connection refused", json.dumps(PBSPRO_JOBS)],
    }
    for site, (refusal, listing) in answers.items():
        backend, asked = PBSBackend(), []

        async def run(*command, check=True, refusal=refusal, listing=listing, asked=asked):
            asked.append(command)
            if "-F" in command and len(asked) == 1:
                raise commands.BatchCommandError(refusal)
            return listing

        monkeypatch.setattr(backend, "run", run)
        monkeypatch.setattr(commands, "login_name", lambda: "alice")
        if site == "down":
            with pytest.raises(commands.BatchCommandError):
                await backend.job_states(["dcl-0123456789ab"])
        jobs = await backend.job_states(["dcl-0123456789ab"])
        assert len(jobs["dcl-0123456789ab"]) == 2, site
        await backend.job_states(["dcl-0123456789ab"])
        flags = [("-F" in command) for command in asked]
        expected = [True, False, False] if site == "torque" else [True, True, True]
        assert flags == expected, (site, asked)


def test_the_account_defaults_to_what_pbsjob_would_use(monkeypatch):
    """PBSJob falls back to $PBS_ACCOUNT and to the config's old ``project`` key: the form
    starts from them, so its account field shows what the jobs are charged to."""
    import dask.config

    from dask_cluster_launcher.backends.batch.pbs import PBSBackend

    monkeypatch.setenv("PBS_ACCOUNT", "from-env")
    assert PBSBackend().defaults()["account"] == "from-env"
    with dask.config.set({"jobqueue.pbs.project": "proj42"}):
        assert PBSBackend().defaults()["account"] == "proj42"
    monkeypatch.delenv("PBS_ACCOUNT")
    assert PBSBackend().defaults()["account"] == ""
