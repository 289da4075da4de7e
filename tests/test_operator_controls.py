"""What an operator controls (docs/operators.md), seen through the REST API as the sidebar sees it:
limits per backend, options a site profile locks, the idle timeout and the batch command prefix.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any

import dask.config
import pytest
import yaml

from tests.batch_testbeds import BATCH_SYSTEMS
from tests.helpers import wait_for
from tests.test_rest_batch import BASE_OPTIONS, queued, running_workers, wait_no_jobs

LIMITS = {
    "slurm": {
        "max_workers": 3,
        "max_cores": 4,
        "max_memory": "4 GB",
        "max_walltime": "01:00:00",
    },
    "local": {"max_workers": 2, "max_clusters": 1},
}
LOCKED_PROFILE = {
    "name": "locked-site",
    "title": "A site's partition and account",
    "backend": "slurm",
    "options": {"queue": "debug", "account": "physics", "walltime": "00:10:00", "memory": "1 GB"},
    "locked": ["account", "queue"],
}


@pytest.fixture
def site_dir(tmp_path):
    directory = tmp_path / "site-profiles"
    directory.mkdir()
    (directory / "locked-site.yaml").write_text(yaml.safe_dump(LOCKED_PROFILE))
    bad = {**LOCKED_PROFILE, "name": "bad-lock", "locked": ["no_such_option"]}
    (directory / "bad-lock.yaml").write_text(yaml.safe_dump(bad))
    return directory


@pytest.fixture
def jp_server_config(private_dir, site_dir, request):
    """The server's config, with what a test's ``settings`` parameter adds."""
    settings: dict[str, Any] = {
        "private_dir": str(private_dir),
        "site_profile_dirs": [str(site_dir)],
        "limits": LIMITS,
        **getattr(request, "param", {}),
    }
    if settings.get("batch_command_prefix") == ["WRAPPER"]:
        settings["batch_command_prefix"] = [str(request.getfixturevalue("wrapper")[0])]
    if settings.get("batch_command_prefix") == ["SSH"]:
        settings["batch_command_prefix"] = [str(request.getfixturevalue("fake_ssh")), "login01"]
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": settings,
    }


async def refused(launcher_api, *path, method="POST", body=None) -> dict:
    code, error = await launcher_api(*path, method=method, body=body)
    assert code == 400, error
    return error


# --- limits ---------------------------------------------------------------------------------------
async def test_each_limit_refuses_with_a_400_naming_it(launcher_api, slurm_testbed):
    base = {"backend": "slurm", "options": BASE_OPTIONS["slurm"]}
    cases = [
        ({"options": {"cores": 8}}, "options.cores", "max_cores = 4"),
        ({"options": {"memory": "8 GB"}}, "options.memory", "max_memory = 4 GB"),
        ({"options": {"walltime": "02:00:00"}}, "options.walltime", "max_walltime = 01:00:00"),
        ({"scaling": {"workers": 5}}, "scaling.workers", "max_workers = 3"),
        (
            {"scaling": {"adapt": {"minimum": 1, "maximum": 10}}},
            "scaling.adapt.maximum",
            "max_workers = 3",
        ),
    ]
    for change, field, words in cases:
        body = {**base, **change, "options": {**base["options"], **change.get("options", {})}}
        for route in ("clusters", "preview"):
            if route == "preview":
                body = {k: v for k, v in body.items() if k != "scaling"}
                if "scaling" in change:
                    continue
            error = await refused(launcher_api, route, body=body)
            assert error["field"] == field and words in error["message"], error
    # at the limit is allowed
    code, answer = await launcher_api(
        "preview",
        method="POST",
        body={**base, "options": {**base["options"], "cores": 4, "walltime": "01:00:00"}},
    )
    assert code == 200, answer
    _, clusters = await launcher_api("clusters")
    assert clusters == [] and await queued(slurm_testbed) == []


async def test_the_form_shows_the_limits(launcher_api, slurm_testbed):
    _, backends = await launcher_api("backends")
    slurm = next(b for b in backends if b["name"] == "slurm")["schema"]
    assert slurm["properties"]["cores"]["maximum"] == 4
    assert "At most 4 GB on this site." in slurm["properties"]["memory"]["description"]
    assert "At most 01:00:00 on this site." in slurm["properties"]["walltime"]["description"]
    assert slurm["x-limits"] == LIMITS["slurm"]
    sge = next(b for b in backends if b["name"] == "sge")["schema"]
    assert "x-limits" not in sge


async def test_clusters_per_user_and_workers_per_cluster_on_rescale(launcher_api):
    request = {"backend": "local", "options": {"processes": False}, "scaling": {"workers": 1}}
    code, first = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, first
    try:
        error = await refused(launcher_api, "clusters", body=request)
        assert error["field"] == "backend" and "(max_clusters)" in error["message"]
        error = await refused(
            launcher_api, "clusters", first["id"], method="PATCH", body={"workers": 3}
        )
        assert error["field"] == "workers" and "max_workers = 2" in error["message"]
    finally:
        await launcher_api("clusters", first["id"], method="DELETE")
    code, second = await launcher_api("clusters", method="POST", body=request)
    assert code == 202  # the first one stopped: room for another
    await launcher_api("clusters", second["id"], method="DELETE")


# --- locks ----------------------------------------------------------------------------------------
async def test_options_a_site_profile_locks_cannot_be_changed(launcher_api, slurm_testbed):
    _, profiles = await launcher_api("profiles")
    by_name = {p["name"]: p for p in profiles}
    assert by_name["locked-site"]["locked"] == ["account", "queue"]
    assert "locked.0: 'no_such_option' is not an option" in by_name["bad-lock"]["error"]
    for field, value in (("account", "other"), ("queue", "short")):
        body = {"profile": "locked-site", "options": {field: value}}
        error = await refused(launcher_api, "clusters", body=body)
        assert error["field"] == f"options.{field}", error
        assert "is locked by the profile 'locked-site'" in error["message"]
    # the sidebar sends every field: the locked ones unchanged, others changed, is a launch
    _, backends = await launcher_api("backends")
    defaults = next(b for b in backends if b["name"] == "slurm")["defaults"]
    options = {**defaults, **LOCKED_PROFILE["options"], "cores": 2}
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"profile": "locked-site", "options": options}
    )
    assert code == 202, cluster
    await launcher_api("clusters", cluster["id"], method="DELETE")
    await wait_no_jobs(slurm_testbed)


# --- idle timeout ---------------------------------------------------------------------------------
@pytest.mark.parametrize("jp_server_config", [{"idle_timeout": 3.0}], indirect=True)
async def test_an_idle_cluster_stops_itself(launcher_api, jp_serverapp):
    from distributed import Client

    request = {"backend": "local", "options": {"processes": False}, "scaling": {"workers": 1}}
    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster

    async def state():
        _, model = await launcher_api("clusters", cluster["id"])
        return model

    async def running():
        model = await state()
        return model if model["state"] == "running" else None

    model = await wait_for(running, timeout=60)
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    files = manager.get(cluster["id"]).handle.files
    # a connected client keeps it up past the timeout
    client = await Client(model["scheduler_address"], security=files.security(), asynchronous=True)
    try:
        await asyncio.sleep(6)
        assert (await state())["state"] == "running"
    finally:
        await client.close()

    async def stopped():
        model = await state()
        return model if model["state"] == "failed" else None

    model = await wait_for(stopped, timeout=30)
    assert "no client and no task (idle timeout)" in model["error"]
    records = manager.records_dir
    await wait_for(lambda: _no_record(records, cluster["id"]), timeout=30)


async def _no_record(records_dir, cluster_id) -> bool:
    return not (records_dir / f"{cluster_id}.json").exists()


# --- batch command prefix -------------------------------------------------------------------------
@pytest.fixture
def wrapper(tmp_path):
    """A site's wrapper: logs each command, then runs it (as ``ssh login01`` would, elsewhere)."""
    log = tmp_path / "batch-commands.log"
    script = tmp_path / "batch-wrapper"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nexec \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


EXPECTED_COMMANDS = {
    "slurm": {"sinfo", "sacctmgr", "sbatch", "squeue", "scancel"},
    "sge": {"qconf", "qsub", "qstat", "qdel"},
    "pbs": {"qstat", "pbsnodes", "qsub", "qselect", "qdel"},
    "lsf": {"bqueues", "bhosts", "bsub", "bjobs", "bkill"},
    "htcondor": {"condor_status", "condor_submit", "condor_q", "condor_rm"},
}


@pytest.mark.parametrize("jp_server_config", [{"batch_command_prefix": ["WRAPPER"]}], indirect=True)
@pytest.mark.parametrize("kind", BATCH_SYSTEMS)
async def test_every_batch_command_goes_through_the_prefix(
    request, kind, wrapper, launcher_api, monkeypatch
):
    bed = request.getfixturevalue(f"{kind}_testbed")
    _, log = wrapper
    # what the server process starts itself, recorded on the way out (its hosts' commands,
    # dask-jobqueue's sbatch/qsub among them, are in the wrapper's log)
    started: list[tuple[str, ...]] = []
    original = asyncio.create_subprocess_exec

    async def recording_exec(*argv, **kwargs):
        started.append(tuple(map(str, argv)))
        return await original(*argv, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    await wait_no_jobs(bed)
    _, backends = await launcher_api("backends")  # the form asks the site
    assert next(b for b in backends if b["name"] == kind)["available"]
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"backend": kind, "options": BASE_OPTIONS[kind]}
    )
    assert code == 202, cluster

    async def one_running_worker():
        _, model = await launcher_api("clusters", cluster["id"])
        return running_workers(model) if model["jobs"] else None

    await wait_for(one_running_worker, timeout=120, interval=0.3)
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(bed)
    logged = [line.split()[0] for line in log.read_text().splitlines()]
    assert EXPECTED_COMMANDS[kind] <= set(logged), logged
    batch = set().union(*EXPECTED_COMMANDS.values())
    assert started, "the server ran no command"
    for argv in started:
        assert os.path.basename(argv[0]) not in batch, f"{argv} ran without the prefix"


@pytest.fixture
def fake_ssh(tmp_path):
    """``ssh login01 ARGS...`` as the remote side runs it: the words joined with spaces and
    run by the login shell (here, on this machine)."""
    script = tmp_path / "bin" / "ssh"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\nshift\nexec /bin/sh -c "$*"\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("jp_server_config", [{"batch_command_prefix": ["SSH"]}], indirect=True)
async def test_an_ssh_prefix_gets_each_word_of_the_batch_commands_back(launcher_api, slurm_testbed):
    """squeue's and sinfo's column formats hold ``|``, which the remote shell would read as a
    pipe: the words after a remote shell are quoted, so the partitions and the jobs show."""
    _, backends = await launcher_api("backends")
    slurm = next(b for b in backends if b["name"] == "slurm")
    assert slurm["available"], slurm
    queues = [q["name"] for q in slurm["schema"]["properties"]["queue"].get("x-queues", [])]
    assert queues == slurm_testbed.queues, slurm["schema"]["properties"]["queue"]
    body = {"backend": "slurm", "options": BASE_OPTIONS["slurm"], "scaling": {"workers": 1}}
    code, cluster = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, cluster

    async def one_running_worker_on_its_job():
        _, model = await launcher_api("clusters", cluster["id"])
        assert model["state"] != "failed", model["error"]
        return model["jobs"] and running_workers(model)

    await wait_for(one_running_worker_on_its_job, timeout=120, interval=0.3)
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    await wait_no_jobs(slurm_testbed)


# --- extra directives against limits and locks ----------------------------------------------------
#: per backend: directives that set what a form field, a limit or a lock governs (past the
#: limits above: 1 h, 4 GB, 4 cores, 3 workers, and the locked partition and account)
GOVERNED_DIRECTIVES = {
    "slurm": [
        "--time=99:00:00",
        "-t5999",
        "--time-min=99:00:00",
        "--ti=99:00:00",  # an abbreviation sbatch could take
        "--mem=500G",
        "--mem-per-cpu=100G",
        "--array=0-99",
        "-a0-99",
        "--account=other",
        "-Aother",
        "--partition=short",
        "-pshort",
        "-vpshort",  # a cluster of short options
        "--qos=high",
        "--gres=gpu:1",
        "--gpus=1",
        "--cpus-per-task=64",
        "-c64",
        "--exclusive",
        "--nodes=4",
        "-N4",
        "--ntasks=8",
        "-n8",
        "--clusters=other",
    ],
    "sge": [
        "-l h_rt=99:00:00",
        "-l h_vmem=500G",
        "-l arch=lx-amd64,mem_free=500G",
        "-hard -l s_rt=99:0:0",
        "-pe smp 64",
        "-q short.q",
        "-P other",
        "-A other",
        "-t 1-100",
        "-clear",
    ],
    "mpi": ["--time=99:00:00", "--ntasks=100", "--account=other", "--mem=500G"],
}
HARMLESS_DIRECTIVES = {
    "slurm": ["--mail-type=NONE", "--constraint=x", "--exclusive=user", "--hint=multithread"],
    "sge": ["-m n", "-l arch=lx-amd64"],
    "mpi": ["--mail-type=NONE", "--constraint=x"],
}
DIRECTIVE_OPTIONS = {**BASE_OPTIONS, "mpi": BASE_OPTIONS["slurm"]}


@pytest.mark.parametrize("backend", sorted(GOVERNED_DIRECTIVES))
async def test_directives_that_set_what_the_form_governs_are_refused(
    launcher_api, slurm_testbed, sge_testbed, backend, private_dir
):
    made_before = sorted(private_dir.glob("clusters/*"))
    harmless = HARMLESS_DIRECTIVES[backend][0]
    for directive in GOVERNED_DIRECTIVES[backend]:
        options = {**DIRECTIVE_OPTIONS[backend], "job_extra_directives": [harmless, directive]}
        for route in ("clusters", "preview"):
            error = await refused(
                launcher_api, route, body={"backend": backend, "options": options}
            )
            assert error["field"] == "options.job_extra_directives.1", (directive, error)
            assert repr(directive) in error["message"] and "sets" in error["message"], error
    options = {**DIRECTIVE_OPTIONS[backend], "job_extra_directives": HARMLESS_DIRECTIVES[backend]}
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": backend, "options": options}
    )
    assert code == 200, preview
    marker = "#$" if backend == "sge" else "#SBATCH"
    for directive in HARMLESS_DIRECTIVES[backend]:
        assert f"{marker} {directive}" in preview["job_script"].splitlines()
    _, clusters = await launcher_api("clusters")
    # nothing created: no cluster, no cluster files (so no job: the queue is shared)
    assert clusters == [] and sorted(private_dir.glob("clusters/*")) == made_before


async def test_a_locked_or_limited_directive_cannot_be_skipped(launcher_api, sge_testbed):
    cases = [
        ("slurm", {"job_directives_skip": ["-t"]}, "options.job_directives_skip.0", "walltime"),
        ("slurm", {"job_directives_skip": ["--mem"]}, "options.job_directives_skip.0", "4 GB"),
        (
            "slurm",
            {"account": "physics", "job_directives_skip": ["--mem-x", "-A"]},
            "options.job_directives_skip.1",
            "account",
        ),
        ("sge", {"job_directives_skip": ["h_rt"]}, "options.job_directives_skip.0", "walltime"),
        ("sge", {"job_directives_skip": ["h_vmem"]}, "options.job_directives_skip.0", "spec"),
        ("sge", {"resource_spec": "h_rt=99:00:00"}, "options.resource_spec", "walltime"),
        ("sge", {"resource_spec": "h_vmem=500G"}, "options.resource_spec", "memory field"),
    ]
    for backend, change, field, words in cases:
        options = {**BASE_OPTIONS[backend], **change}
        error = await refused(
            launcher_api, "preview", body={"backend": backend, "options": options}
        )
        assert error["field"] == field and words in error["message"], (change, error)
    # a skip that drops none of those lines still works
    options = {**BASE_OPTIONS["sge"], "job_directives_skip": ["-j"]}
    body = {"backend": "sge", "options": options}
    code, answer = await launcher_api("preview", method="POST", body=body)
    assert code == 200 and "#$ -j y" not in answer["job_script"], answer


async def test_the_users_dask_config_adds_no_directive_behind_the_form(launcher_api, slurm_testbed):
    """dask-jobqueue reads ``job-mem``, ``job-extra`` (the old name) and ``header-skip`` from the
    config when the launcher leaves them out: they would set 500 GB, 99 hours and drop the time
    line past the limits (4 GB, 1 h)."""
    config = {
        "jobqueue.slurm.job-mem": "500G",
        "jobqueue.slurm.job-cpu": 64,
        "jobqueue.slurm.job-extra": ["--time=99:00:00"],
        "jobqueue.slurm.header-skip": ["-t "],
        "jobqueue.slurm.shebang": "#!/usr/bin/env bash\n#SBATCH --account=other",
    }
    options = {**BASE_OPTIONS["slurm"], "job_extra_directives": [], "job_directives_skip": []}
    with dask.config.set(config):
        code, preview = await launcher_api(
            "preview", method="POST", body={"backend": "slurm", "options": options}
        )
    assert code == 200, preview
    lines = preview["job_script"].splitlines()
    header = [line for line in lines if line.startswith("#SBATCH")]
    assert "#SBATCH -t 00:20:00" in header and "#SBATCH --cpus-per-task=1" in header, header
    assert "#SBATCH --mem=954M" in header, header
    assert not [line for line in header if "99:00:00" in line or "other" in line], header
