"""The scheduler's own batch job, the parts that need no running cluster: its job script (each
batch system's), where a job finds its id and which states end it, the reason a signal gives,
the site's ``scheduler_placements`` in the form, a stop while the job waits (SLURM: held by
``--begin``; HTCondor: submitted on hold; no host ever starts), and the job's end failing the
cluster with its reason (a cluster of no workers on each test bed whose cancel signals it)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.backends.batch.dask_config import launcher_systems
from dask_cluster_launcher.backends.batch.jobqueue import JobQueueBackend
from dask_cluster_launcher.hosting import job_host
from dask_cluster_launcher.hosting.records import HostSpec, Record
from dask_cluster_launcher.limits import Limits
from dask_cluster_launcher.private import PrivateDir
from tests.batch_testbeds import Testbed

OWN_JOB = {
    "scheduler_placement": "own_job",
    "scheduler_cores": 2,
    "scheduler_memory": "3 GB",
    "scheduler_walltime": "",
    "walltime": "00:20:00",
    "gres": "gpu:1",
}


@pytest.fixture
def jp_server_config(private_dir: Path) -> dict[str, Any]:
    """The server of this module's REST tests, with per-job limits for SLURM."""
    limits = {"slurm": {"max_walltime": "01:00:00", "max_memory": "4 GB", "max_cores": 4}}
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {"private_dir": str(private_dir), "limits": limits},
    }


def spec_for(backend_name: str, tmp_path: Path, options: dict[str, Any]) -> tuple[Any, HostSpec]:
    backend = default_backends()[backend_name]
    backend.private_dir = PrivateDir.at(tmp_path / "private")
    validated = {**backend.defaults(), **options}
    kwargs = backend.cluster_kwargs(validated, cluster_id="abc123", cluster_name="x")
    spec = HostSpec(
        "abc123", "x", backend_name, kwargs, {"workers": 1}, str(tmp_path / "private"),
        str(tmp_path / "records"), options=validated,
    )  # fmt: skip
    return backend, spec


def test_the_schedulers_job_script_asks_for_its_own_resources_and_runs_the_host(tmp_path: Path):
    backend, spec = spec_for("slurm", tmp_path, OWN_JOB)
    files = backend.private_dir.cluster("abc123")
    command = job_host.host_command(spec, tmp_path / "private" / "host.json", None)
    script = job_host.scheduler_job(backend, spec.kwargs, spec, command, files).job_script()
    assert "#SBATCH -J dcl-abc123" in script  # found and cancelled with the workers
    assert "#SBATCH --cpus-per-task=2" in script and "#SBATCH --mem=3G" in script
    assert "#SBATCH -t 00:20:00" in script  # empty scheduler walltime: the workers'
    assert "gres" not in script  # the workers' GPUs are not the scheduler's
    assert "-m dask_cluster_launcher.run_host" in script.splitlines()[-1]
    assert "distributed.cli.dask_worker" not in script


#: What each system's scheduler job script says: its name, its own size and walltime (as the
#: system writes them), the host's command; and what of the workers' it must not carry.
SCRIPT_LINES = {
    "pbs": (
        ["#PBS -N dcl-abc123", "#PBS -l select=1:ncpus=2:mem=2862MB", "#PBS -l walltime=00:20:00",
         "#PBS -V"],
        ["nodes=1:ppn=4"],  # the workers' resource request
    ),
    "lsf": (["#BSUB -J dcl-abc123", "#BSUB -n 2", "#BSUB -W 00:20"], ["#BSUB -W 00:20:00"]),
    "htcondor": (
        ["batch_name = dcl-abc123", "MY.DaskWorkerCores = 2", "allowed_job_duration = 1200",
         "getenv = True"],
        [],
    ),
}  # fmt: skip
#: Each system's own options for the same job (PBS: a Torque resource request for the workers)
SYSTEM_OPTIONS = {"pbs": {"resource_spec": "nodes=1:ppn=4"}, "lsf": {}, "htcondor": {}}


@pytest.mark.parametrize("system", sorted(SCRIPT_LINES))
def test_each_systems_scheduler_job_is_its_own_size_and_runs_the_host(system: str, tmp_path: Path):
    options = {k: v for k, v in OWN_JOB.items() if k != "gres"}
    options.update(SYSTEM_OPTIONS[system], job_script_prologue=["module load python"])
    backend, spec = spec_for(system, tmp_path, options)
    files = backend.private_dir.cluster("abc123")
    command = job_host.host_command(spec, tmp_path / "private" / "host.json", None)
    script = job_host.scheduler_job(backend, spec.kwargs, spec, command, files).job_script()
    present, absent = SCRIPT_LINES[system]
    lines = script.splitlines()
    assert [line for line in present if line not in lines] == [], script
    assert [text for text in absent if text in script] == [], script
    assert "module load python" in script  # the site's prologue, as for the workers
    assert "-m dask_cluster_launcher.run_host" in script
    assert "distributed.cli.dask_worker" not in script


def batch_backend(name: str) -> JobQueueBackend:
    backend = default_backends()[name]
    assert isinstance(backend, JobQueueBackend)
    return backend


@pytest.mark.parametrize("system", launcher_systems())
def test_every_batch_systems_form_offers_the_scheduler_in_its_own_job(system: str):
    backend = batch_backend(system)
    field = backend.static_schema()["properties"]["scheduler_placement"]
    assert {"beside_jupyter", "own_job"} <= {choice["const"] for choice in field["oneOf"]}
    groups = {group["title"]: group["fields"] for group in backend.ui_schema()["ui:groups"]}
    assert groups["Scheduler"] == [
        "scheduler_placement", "scheduler_cores", "scheduler_memory", "scheduler_walltime",
    ]  # fmt: skip


def condor_job_ad(tmp_path: Path) -> dict[str, str]:
    """A job's environment as HTCondor's starter makes it: the job's ClassAd in a file."""
    (tmp_path / ".job.ad").write_text('ClusterId = 42\nProcId = 0\nJobBatchName = "dcl-x"\n')
    return {"_CONDOR_JOB_AD": str(tmp_path / ".job.ad")}


@pytest.mark.parametrize(
    ("system", "environ", "job_id"),
    [
        ("slurm", {"SLURM_JOB_ID": "7"}, "7"),
        ("sge", {"JOB_ID": "7"}, "7"),
        ("sge", {"SLURM_JOB_ID": "7"}, None),  # a Jupyter server's own SLURM job is not it
        ("pbs", {"PBS_JOBID": "7.server"}, "7.server"),
        ("pbs", {"SLURM_JOB_ID": "7"}, "7"),  # SLURM behind the Torque wrappers
        ("lsf", {"LSB_JOBID": "7"}, "7"),
        ("lsf", {"JOB_ID": "7"}, None),
        ("htcondor", condor_job_ad, "42.0"),
        ("htcondor", {"_CONDOR_JOB_AD": "/nonexistent/.job.ad"}, None),
    ],
)
def test_a_host_finds_its_own_job_id_as_its_batch_system_gives_it(
    system: str, environ: Any, job_id: str | None, tmp_path: Path
):
    backend = batch_backend(system)
    environ = environ(tmp_path) if callable(environ) else environ
    assert backend.own_job_id(environ) == job_id


@pytest.mark.parametrize(
    ("system", "running", "ended"),
    [
        ("slurm", ["PENDING", "CONFIGURING", "RUNNING", "COMPLETING"], ["FAILED", "CANCELLED"]),
        ("sge", ["PENDING", "RUNNING", "Rr", "dr", "s"], ["ERROR", "Ehqw"]),
        ("pbs", ["PENDING", "HELD", "RUNNING", "SUSPENDED"], ["EXITING"]),
        ("lsf", ["PENDING", "STARTING", "RUNNING", "SUSPENDED"], ["ZOMBI", "UNKWN"]),
        ("htcondor", ["PENDING", "HELD", "RUNNING", "SUSPENDED"], ["REMOVED", "COMPLETED"]),
    ],
)
def test_each_system_says_which_of_its_job_states_have_ended(
    system: str, running: list[str], ended: list[str]
):
    backend = batch_backend(system)
    assert [state for state in running if backend.job_has_ended(state)] == []
    assert [state for state in ended if not backend.job_has_ended(state)] == []


def test_a_signal_inside_the_job_reads_as_the_job_ending(monkeypatch: pytest.MonkeyPatch):
    slurm = default_backends()["slurm"]
    spec = HostSpec("abc123", "x", "slurm", {}, {}, "/p", "/r", options=OWN_JOB)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    reason = job_host.stop_reason(spec, signal.SIGTERM, slurm)
    assert reason.startswith("the scheduler's batch job 77 was ended (SIGTERM: its walltime")
    beside = HostSpec("abc123", "x", "slurm", {}, {}, "/p", "/r", options={})
    assert (
        job_host.stop_reason(beside, signal.SIGTERM, slurm)
        == "the cluster's host was stopped (SIGTERM)"
    )


def test_the_site_restricts_the_form_to_its_placements():
    schema = {"properties": {"scheduler_placement": {
        "oneOf": [{"const": "beside_jupyter"}, {"const": "own_job"}], "default": "beside_jupyter",
    }}}  # fmt: skip
    Limits.from_config("slurm", {"scheduler_placements": ["own_job"]}).annotate(schema)
    field = schema["properties"]["scheduler_placement"]
    assert field["oneOf"] == [{"const": "own_job"}] and field["default"] == "own_job"
    with pytest.raises(ValueError, match="scheduler_placements"):
        Limits.from_config("slurm", {"scheduler_placements": ["on_the_moon"]})


@pytest.mark.parametrize(
    ("system", "directive", "phase"),
    [
        ("slurm", "--begin=now+3600", "waiting in the queue (BeginTime)"),
        ("htcondor", "hold = true", "held (submitted on hold at user's request)"),
    ],
)
async def test_a_stop_while_the_schedulers_job_waits_cancels_it(
    launcher_api: Any, system: str, directive: str, phase: str, request: pytest.FixtureRequest
):
    # held for an hour, or until released: the host never starts, the card says why it waits
    testbed: Testbed = request.getfixturevalue(f"{system}_testbed")
    options = {k: v for k, v in OWN_JOB.items() if k != "gres"}
    options.update(memory="1 GB", cores=1, scheduler_cores=1, scheduler_memory="1 GB")
    options.update({"disk": "1 GB"} if system == "htcondor" else {})  # the form requires it
    options["job_extra_directives"] = [directive]
    body = {"backend": system, "options": options, "scaling": {"workers": 1}}
    code, launched = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, launched
    name = f"dcl-{launched['id']}"

    async def waiting() -> dict[str, Any]:
        while True:
            _, model = await launcher_api("clusters", launched["id"])
            if phase in (model["phase"] or ""):
                return dict(model)
            await asyncio.sleep(0.2)

    model = await asyncio.wait_for(waiting(), 30)
    assert testbed.queue_job_ids(name) == [model["scheduler_job"]]
    started = time.monotonic()
    code, _ = await launcher_api("clusters", launched["id"], method="DELETE")
    assert code == 204 and time.monotonic() - started < 10
    await asyncio.to_thread(testbed.wait_queue_empty, 10, name)


def test_a_record_from_a_batch_job_on_another_node_counts_as_running():
    """A multi-node site: the scheduler's node is not the Jupyter server's, and its pid means
    nothing here; the record is taken back (the control connection then tells)."""
    spec = HostSpec("abc123", "x", "slurm", {}, {}, "/p", "/r", options=OWN_JOB)
    elsewhere = Record(spec, pid=2**22 + 1, control_address="tls://10.0.0.9:1", machine="node7")
    assert not elsewhere.alive()  # beside Jupyter on another machine: not this server's
    elsewhere.batch_job_id = "5"
    assert elsewhere.alive() and elsewhere.in_batch_job_elsewhere


@pytest.mark.parametrize("system", ["slurm", "pbs", "lsf", "htcondor"])
async def test_the_schedulers_job_ending_fails_the_cluster_with_the_reason(
    launcher_api: Any, system: str, request: pytest.FixtureRequest
):
    """As its walltime would end it (Grid Engine's qdel kills at once: see test_placement's
    crash for a host that says nothing)."""
    testbed: Testbed = request.getfixturevalue(f"{system}_testbed")
    # no workers: the host alone, running once its scheduler is up
    options = {k: v for k, v in OWN_JOB.items() if k != "gres"}
    options.update(scheduler_cores=1, scheduler_memory="1 GB")
    options.update({"disk": "1 GB"} if system == "htcondor" else {})  # the form requires it
    body = {"backend": system, "options": options, "scaling": {"workers": 0}}
    code, launched = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, launched

    async def model_when(ready: Any) -> dict[str, Any]:
        while True:
            _, model = await launcher_api("clusters", launched["id"])
            if ready(model):
                return dict(model)
            await asyncio.sleep(0.2)

    running = await asyncio.wait_for(model_when(lambda m: m["state"] == "running"), 60)
    testbed.cancel([running["scheduler_job"]])
    failed = await asyncio.wait_for(model_when(lambda m: m["state"] == "failed"), 30)
    # SIGTERM; LSF's bkill sends SIGINT first
    assert failed["error"].startswith(
        f"the scheduler's batch job {running['scheduler_job']} was ended (SIG"
    ), failed["error"]
    await asyncio.to_thread(testbed.wait_queue_empty, 20, f"dcl-{launched['id']}")


def test_make_cluster_puts_the_scheduler_in_its_own_job_too(
    slurm_testbed: Testbed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A profile (or a site) that asks for the scheduler in its own job gets it from Python
    as from the sidebar: never a host on the login node instead."""
    from dask_cluster_launcher import make_cluster
    from dask_cluster_launcher.hosting.records import read_records

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    options = {k: v for k, v in OWN_JOB.items() if k != "gres"}
    options.update(scheduler_cores=1, scheduler_memory="1 GB", memory="1 GB", cores=1)
    cluster = make_cluster("slurm", timeout=60, private_dir=tmp_path / "private", **options)
    try:
        [record] = read_records(tmp_path / "runtime" / "dask-cluster-launcher")
        name = f"dcl-{record.spec.cluster_id}"
        assert record.batch_job_id and slurm_testbed.queue_job_ids(name) == [record.batch_job_id]
    finally:
        cluster.close()
    slurm_testbed.wait_queue_empty(timeout=20, name_prefix=name)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"scheduler_walltime": "02:00:00"}, "options.scheduler_walltime", "max_walltime"),
        ({"scheduler_memory": "8 GB"}, "options.scheduler_memory", "max_memory"),
        ({"scheduler_cores": 8}, "options.scheduler_cores", "max_cores"),
        (
            {"queue": "short", "scheduler_walltime": "00:45:00"},
            "options.scheduler_walltime",
            "short partition's limit",
        ),
    ],
)
async def test_the_schedulers_job_is_held_to_the_sites_limits_and_the_queues(
    launcher_api: Any, slurm_testbed: Testbed, change: dict[str, Any], field: str, words: str
):
    options = {**OWN_JOB, "gres": "", "memory": "1 GB", **change}
    code, error = await launcher_api(
        "preview", method="POST", body={"backend": "slurm", "options": options}
    )
    assert code == 400 and error["field"] == field and words in error["message"], error


async def test_the_preview_shows_the_schedulers_job_script_too(
    launcher_api: Any, slurm_testbed: Testbed, private_dir: Path
):
    options = {**OWN_JOB, "gres": "", "memory": "1 GB"}
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": "slurm", "options": options}
    )
    assert code == 200, preview
    script = preview["scheduler_job_script"]
    assert "#SBATCH --cpus-per-task=2" in script and "#SBATCH --mem=3G" in script
    assert "-m dask_cluster_launcher.run_host" in script
    assert "distributed.cli.dask_worker" in preview["job_script"]
    assert not (private_dir / "logs" / "preview").exists()  # a preview writes nothing
    beside = {**options, "scheduler_placement": "beside_jupyter"}
    _, preview = await launcher_api(
        "preview", method="POST", body={"backend": "slurm", "options": beside}
    )
    assert preview["scheduler_job_script"] is None
