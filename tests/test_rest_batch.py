"""SLURM and SGE through the REST API, against the real local test beds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.batch_testbeds import BATCH_SYSTEMS
from tests.helpers import wait_cluster, wait_for
from tests.test_rest_local import run_snippet

BASE_OPTIONS = {
    "slurm": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1},
    "sge": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1, "resource_spec": "h_vmem=1G"},
    "lsf": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1},
    "htcondor": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1, "disk": "1 GB"},
    "pbs": {"walltime": "00:20:00", "memory": "1 GB", "cores": 1},
}
#: the directive marker of each system's job scripts
MARKERS = {"slurm": "#SBATCH", "sge": "#$", "lsf": "#BSUB", "htcondor": "", "pbs": "#PBS"}
PREFIX = "dcl-"


@pytest.fixture(params=BATCH_SYSTEMS)
def bed(request):
    return request.getfixturevalue(f"{request.param}_testbed")


LAUNCHER_JOB = re.compile(r"^dcl-[0-9a-f]{12}$")


async def queued(bed, prefix=PREFIX):
    """Jobs the launcher submitted (named dcl-<cluster id>) whose name starts with prefix."""
    jobs = await asyncio.to_thread(bed.queue_jobs, prefix)
    return [job for job in jobs if LAUNCHER_JOB.match(job.name)]


async def wait_no_jobs(bed, prefix=PREFIX, timeout=60):
    async def empty():
        return not await queued(bed, prefix)

    await wait_for(empty, timeout=timeout, interval=0.3)


def running_workers(model):
    return [w for w in model["workers"] if w["status"] == "running"]


#: Notebook code: per worker, (forked by its nanny: the same command line as its parent, where a
#: spawned worker runs ``python -c 'from multiprocessing.spawn import ...'``; bokeh imported;
#: SIGTERM ends it, as a spawned worker; OPENBLAS_NUM_THREADS=1 in the environment its process
#: started with, which is what the BLAS library read when it loaded in the nanny)
WORKER_PROCESS_START = """
import os, signal, sys
def started():
    def read(pid, what):
        with open(f"/proc/{pid}/{what}", "rb") as f:
            return f.read()
    forked = read("self", "cmdline") == read(os.getppid(), "cmdline")
    blas = b"OPENBLAS_NUM_THREADS=1" in read("self", "environ").split(b"\\0")
    return forked, "bokeh" in sys.modules, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, blas
print(sorted(set(client.run(started).values())))
"""


async def test_golden_path_jobs_workers_snippet_scale_adapt_cancel_stop(
    prompt_lost_workers, launcher_api, bed
):
    kind = bed.kind
    await wait_no_jobs(bed)
    code, cluster = await launcher_api(
        "clusters",
        method="POST",
        body={"backend": kind, "options": BASE_OPTIONS[kind], "scaling": {"workers": 2}},
    )
    assert code == 202 and cluster["state"] == "starting"
    cluster_id = cluster["id"]

    # jobs show up under the launcher's name, then workers with their job ids
    model = await wait_cluster(launcher_api, cluster_id, lambda m: len(m["jobs"]) == 2)
    assert {j["state"] for j in model["jobs"]} <= {"PENDING", "RUNNING", "STARTING"}
    assert len(await queued(bed, f"{PREFIX}{cluster_id}")) == 2
    model = await wait_cluster(launcher_api, cluster_id, lambda m: len(running_workers(m)) == 2)
    job_ids = {j["job_id"] for j in model["jobs"]}
    assert {w["job_id"] for w in model["workers"]} == job_ids
    # a running job counts down its walltime (00:20:00)
    model = await wait_cluster(
        launcher_api, cluster_id, lambda m: all(j["time_left"] is not None for j in m["jobs"])
    )
    assert all(0 < j["time_left"] <= 1200 for j in model["jobs"])

    # the job's output files are one click away (why did a worker not start?)
    async def worker_log():
        _, log = await launcher_api("clusters", cluster_id, "jobs", sorted(job_ids)[0], "log")
        return any(f["text"] and "Start worker" in f["text"] for f in log["files"])

    await wait_for(worker_log, timeout=30)
    # only the batch system's own ids: no path, no other script's digits, no 300-digit name
    for bad_id in ("..%2F1", "%C2%B2", "%D9%A3", "9" * 300):
        code, error = await launcher_api("clusters", cluster_id, "jobs", bad_id, "log")
        assert code == 404 and "no batch job" in error["message"], (bad_id, code, error)

    _, snippet = await launcher_api("clusters", cluster_id, "snippet")
    out = await run_snippet(
        snippet["code"],
        "\nprint(client.submit(lambda x: x * 2, 21).result(), len(client.nthreads()))"
        + WORKER_PROCESS_START,
    )
    computed, started = out.strip().splitlines()[-2:]
    assert computed.split() == ["42", "2"]
    # each worker process is a fork of its job's nanny (one Python importing distributed per
    # job, not two), imported no bokeh for a worker dashboard that is served nowhere, and
    # starts as a spawned one would (SIGTERM ends it, one BLAS thread)
    assert started == "[(True, False, True, True)]"

    code, _ = await launcher_api("clusters", cluster_id, method="PATCH", body={"workers": 4})
    assert code == 200
    await wait_cluster(launcher_api, cluster_id, lambda m: len(running_workers(m)) == 4)

    code, _ = await launcher_api(
        "clusters", cluster_id, method="PATCH", body={"adapt": {"minimum": 1, "maximum": 3}}
    )
    assert code == 200
    # idle, adaptive scaling comes down to its minimum
    model = await wait_cluster(
        launcher_api, cluster_id, lambda m: len(m["workers"]) == 1 and len(m["jobs"]) == 1, 90
    )

    # the last worker's job cancelled outside the sidebar: it leaves the card, and adaptive
    # scaling replaces it with a new job (the worker keeps its name)
    victim = running_workers(model)[0]
    await asyncio.to_thread(bed.cancel, [victim["job_id"]])
    await wait_cluster(
        launcher_api,
        cluster_id,
        lambda m: victim["name"] not in {w["name"] for w in m["workers"]},
        timeout=30,
    )
    # ... and the cancelled job leaves the card once the batch system says it ended (its
    # worker may leave the scheduler, and the new one join, before the job's processes exit)
    await wait_cluster(
        launcher_api,
        cluster_id,
        lambda m: (
            any(w["job_id"] != victim["job_id"] for w in running_workers(m))
            and victim["job_id"] not in {j["job_id"] for j in m["jobs"]}
        ),
        timeout=120,
    )

    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code == 204
    await wait_no_jobs(bed, timeout=30)


async def test_preview_shows_the_exact_job_script(launcher_api, bed):
    options = {**BASE_OPTIONS[bed.kind], "cores": 2, "processes": 2, "lifetime": "15m"}
    options["job_extra_directives"] = {
        "slurm": ["--hint=multithread"],
        "lsf": ["-L /bin/bash"],
        "htcondor": ["rank = Memory"],
    }.get(bed.kind, ["-l arch=lx-amd64"])
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": bed.kind, "options": options}
    )
    assert code == 200, preview
    script = preview["job_script"]
    marker = MARKERS[bed.kind]
    directive = options["job_extra_directives"][0]
    assert f"{marker} {directive}".strip() in script.splitlines()
    assert "--lifetime 15m" in script and "--nworkers 2" in script
    names = [f"{marker} -N {PREFIX}preview", f"{marker} -J {PREFIX}preview"]
    names.append(f"batch_name = {PREFIX}preview")  # HTCondor's
    assert any(name in script.splitlines() for name in names), script
    # workers talk TLS with the cluster's private credentials and close their HTTP port
    assert "--protocol tls://" in script and "--tls-ca-file" in script
    assert "--preload" in script and "--dashboard-address 127.0.0.1:0" in script
    assert "BEGIN" not in script  # paths, never key material, in a (world-readable) job script
    assert "Cluster(" in preview["code"] and "security=True" in preview["code"]
    compile(preview["code"], "preview", "exec")


HOSTILE = [
    "x\n#SBATCH --exclusive",
    "x\r\n#$ -l h_vmem=100G",
    "x; rm -rf ~",
    "$(touch /tmp/dcl-pwned)",
    "`id`",
    "a | b",
    "ünïcødé",
    "x" * 5000,
]
STRING_FIELDS = {
    "slurm": ["queue", "account"],
    "sge": ["queue", "project", "resource_spec", "parallel_environment"],
    "lsf": ["queue", "project", "resource_spec"],
    "htcondor": ["accounting_group", "requirements", "disk"],
    "pbs": ["queue", "account", "resource_spec"],
}
COMMON_FIELDS = [
    "memory",
    "walltime",
    "interface",
    "scheduler_interface",
    "lifetime",
    "log_directory",
    "local_directory",
    "python",
]
LIST_FIELDS = ["job_extra_directives", "worker_extra_args", "job_directives_skip"]


async def test_hostile_strings_get_400_naming_the_field_and_submit_nothing(launcher_api, bed):
    before = await queued(bed)
    fields = STRING_FIELDS[bed.kind] + COMMON_FIELDS
    for field in fields + LIST_FIELDS + ["job_script_prologue"]:
        for value in HOSTILE:
            if field == "job_script_prologue" and "\n" not in value and len(value) < 500:
                continue  # prologue lines are shell commands by design; one line each
            is_list = field in LIST_FIELDS or field == "job_script_prologue"
            options = {**BASE_OPTIONS[bed.kind], field: [value] if is_list else value}
            code, error = await launcher_api(
                "clusters", method="POST", body={"backend": bed.kind, "options": options}
            )
            expected = f"options.{field}.0" if is_list else f"options.{field}"
            assert code == 400, (field, value, error)
            assert error["field"] == expected, (field, value, error)
    _, clusters = await launcher_api("clusters")
    assert clusters == []
    assert await queued(bed) == before
    assert not os.path.exists("/tmp/dcl-pwned")


@pytest.mark.parametrize(
    "field, values",
    [
        ("cores", [-1, 0, 10**9, 1.5, "2", None]),
        ("processes", [-1, 0, 10**6, 0.5, "1"]),
        ("death_timeout", [-5, 0, 10**12, 2.5]),
    ],
)
async def test_bad_numbers_get_400_naming_the_field(launcher_api, bed, field, values):
    for value in values:
        options = {**BASE_OPTIONS[bed.kind], field: value}
        code, error = await launcher_api(
            "clusters", method="POST", body={"backend": bed.kind, "options": options}
        )
        assert code == 400 and error["field"] == f"options.{field}", (value, error)
    assert await queued(bed) == []


async def test_site_limits_are_checked_before_submitting(launcher_api, bed):
    cases = [
        ({"queue": bed.short_queue, "walltime": "01:00:00"}, "options.walltime"),
        ({"queue": "no-such-queue"}, "options.queue"),
    ]
    if bed.kind == "htcondor":  # no queues: slots, and their disk
        cases = [({"disk": "1000 GB"}, "options.disk")]
    cases += [
        ({"cores": 64}, "options.cores"),
        ({"cores": 3, "processes": 2}, "options.processes"),
        ({"lifetime": "30m"}, "options.lifetime"),
        ({"lifetime_stagger": "4m"}, "options.lifetime_stagger"),
        ({"scheduler_interface": "nope0"}, "options.scheduler_interface"),
    ]
    if bed.kind == "slurm":
        cases.append(({"memory": "64 GB"}, "options.memory"))
    elif bed.kind == "lsf":
        cases.append(({"job_extra_directives": ["-W 99:00"]}, "options.job_extra_directives.0"))
    elif bed.kind == "htcondor":
        cases.append(({"memory": "100 GB"}, "options.memory"))
        directive = {"job_extra_directives": ["request_memory = 100000"]}
        cases.append((directive, "options.job_extra_directives.0"))
    elif bed.kind == "pbs":
        cases.append(({"memory": "64 GB"}, "options.memory"))
        cases.append(({"resource_spec": "select=1:mem=8gb"}, "options.resource_spec"))
    else:
        cases.append(({"resource_spec": "h_vmem=512M"}, "options.resource_spec"))
        cases.append(({"parallel_environment": "nope"}, "options.parallel_environment"))
    for overrides, field in cases:
        options = {**BASE_OPTIONS[bed.kind], **overrides}
        code, error = await launcher_api(
            "clusters", method="POST", body={"backend": bed.kind, "options": options}
        )
        assert code == 400 and error["field"] == field, (overrides, error)
    assert await queued(bed) == []


async def test_form_lists_the_sites_queues_with_limits(launcher_api, bed):
    _, backends = await launcher_api("backends")
    backend = next(b for b in backends if b["name"] == bed.kind)
    assert backend["available"] is True
    if bed.kind == "htcondor":  # no queues: the pool's largest slot is shown
        description = backend["schema"]["properties"]["cores"]["description"]
        assert "largest slot: 16 CPUs, 64.0 GiB memory" in description
        return
    choices = {c["const"]: c["title"] for c in backend["schema"]["properties"]["queue"]["oneOf"]}
    assert set(bed.queues) <= set(choices)
    assert "max 00:30:00" in choices[bed.short_queue]
    interfaces = backend["schema"]["properties"]["scheduler_interface"]["oneOf"]
    assert any(c["const"] == "lo" and "127.0.0.1" in c["title"] for c in interfaces)


async def test_refused_job_fails_the_launch_with_the_reason_and_leaves_no_job(
    launcher_api, bed, jp_serverapp
):
    # a constraint no node has (GRES are the GRES field's, refused before any submission)
    bogus = {
        "slurm": ["--constraint=bogus"],
        "lsf": ['-R "select[bogus_resource==1]"'],
        "htcondor": ["rank = ((Memory"],  # condor_submit parses the expression
        "pbs": ["-l proc=bogus"],  # a node property (a SLURM feature here) no node has
    }
    bogus = bogus.get(bed.kind, ["-l bogus_resource=1"])
    options = {**BASE_OPTIONS[bed.kind], "job_extra_directives": bogus}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": bed.kind, "options": options}
    )
    assert code == 202
    model = await wait_cluster(launcher_api, cluster["id"], lambda m: m["state"] == "failed", 60)
    submit = {"slurm": "sbatch", "lsf": "bsub", "htcondor": "condor_submit"}
    assert submit.get(bed.kind, "qsub") in model["error"]
    await wait_no_jobs(bed, timeout=30)
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    host = manager.get(cluster["id"]).handle.host  # the cluster's host process (and scheduler)
    await wait_for(lambda: _gone(host), timeout=30)
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


async def _gone(host) -> bool:
    return not host.alive()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, token: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/dask-cluster-launcher/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_sigterm_of_the_server_leaves_no_job(bed, tmp_path):
    port, token = _free_port(), "sigterm-test"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        env={**os.environ, **bed.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _call(port, token, "clusters")
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        body = {"backend": bed.kind, "options": BASE_OPTIONS[bed.kind], "scaling": {"workers": 2}}
        cluster = _call(port, token, "clusters", body)
        deadline = time.monotonic() + 60
        while len(bed.queue_jobs(PREFIX + cluster["id"])) < 2:
            assert time.monotonic() < deadline, "jobs were not submitted"
            time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        bed.wait_queue_empty(timeout=30, name_prefix=PREFIX + cluster["id"])
    finally:
        if server.poll() is None:
            server.kill()


async def test_sge_pending_job_shows_why_it_waits(launcher_api, sge_testbed):
    # no host matches the request: the job waits, with the scheduler's reason
    options = {**BASE_OPTIONS["sge"], "job_extra_directives": ["-l arch=sparc64"]}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": "sge", "options": options}
    )
    assert code == 202
    model = await wait_cluster(
        launcher_api,
        cluster["id"],
        lambda m: (
            m["state"] == "failed"
            or any(j["state"] == "PENDING" and j["reason"] for j in m["jobs"])
        ),
        timeout=60,
    )
    # its scheduler is up, and no worker can join while its job waits: still starting
    assert model["state"] == "starting", model["error"]
    assert model["phase"] == "scheduler up, waiting for workers"
    assert "arch=sparc64" in model["jobs"][0]["reason"]
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(sge_testbed, f"{PREFIX}{cluster['id']}", timeout=30)


async def test_sge_job_in_error_shows_grid_engines_message(launcher_api, sge_testbed):
    options = {**BASE_OPTIONS["sge"], "job_extra_directives": ["-wd /nonexistent/dcl-test"]}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": "sge", "options": options}
    )
    assert code == 202
    model = await wait_cluster(
        launcher_api,
        cluster["id"],
        lambda m: m["state"] == "failed" or any(j["state"] == "ERROR" for j in m["jobs"]),
        timeout=60,
    )
    # its scheduler is up, and no worker can join while its job waits: still starting
    assert model["state"] == "starting", model["error"]
    assert model["phase"] == "scheduler up, waiting for workers"
    job = next(j for j in model["jobs"] if j["state"] == "ERROR")
    assert "can't chdir to /nonexistent/dcl-test" in (job["reason"] or "")
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(sge_testbed, f"{PREFIX}{cluster['id']}", timeout=30)


async def test_a_fixed_size_cluster_replaces_a_job_that_ended(launcher_api, slurm_testbed):
    bed = slurm_testbed
    await wait_no_jobs(bed)
    code, cluster = await launcher_api(
        "clusters",
        method="POST",
        body={"backend": "slurm", "options": BASE_OPTIONS["slurm"], "scaling": {"workers": 2}},
    )
    assert code == 202
    cluster_id = cluster["id"]
    model = await wait_cluster(launcher_api, cluster_id, lambda m: len(running_workers(m)) == 2)
    victim = running_workers(model)[0]["job_id"]
    await asyncio.to_thread(bed.cancel, [victim])

    # the card says what happened, and a new job brings the cluster back to 2 workers
    model = await wait_cluster(
        launcher_api,
        cluster_id,
        lambda m: len(running_workers(m)) == 2 and victim not in {j["job_id"] for j in m["jobs"]},
        timeout=150,
    )
    assert any(f"1 of 2 workers: {victim} ended" in message for message in model["messages"])
    assert victim not in {w["job_id"] for w in model["workers"]}

    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code == 204
    await wait_no_jobs(bed, timeout=30)


async def test_a_stop_racing_a_start_wins_and_a_second_stop_agrees(launcher_api):
    code, cluster = await launcher_api("clusters", method="POST", body={"backend": "local"})
    assert code == 202
    first, second = await asyncio.gather(
        launcher_api("clusters", cluster["id"], method="DELETE"),
        launcher_api("clusters", cluster["id"], method="DELETE"),
    )
    # one stop wins; the other finds it stopping (204: DELETE is idempotent) or gone (404)
    assert sorted([first[0], second[0]]) in ([204, 204], [204, 404])
    code, _ = await launcher_api("clusters", cluster["id"])
    assert code == 404  # never back to running
    await asyncio.sleep(1)
    hosts = [p for p in psutil.process_iter(["name"]) if p.info["name"] == f"dcl{cluster['id']}"]
    assert not hosts
