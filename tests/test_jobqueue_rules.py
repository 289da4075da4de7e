"""By dask-jobqueue's own rules: what the seeds' SGE and SLURM sites get through the launcher is
what the same arguments give SGECluster/SLURMCluster; the user's dask config is honoured (values
they set, ``scheduler-options``, named sections); a worker lifetime ends the job and adaptive
scaling replaces it.

The launcher adds, by design, a job name it can find leftovers by (``dcl-<id>``), job logs in a
per-cluster folder, and TLS credentials with the worker's HTTP port closed: those directives and
worker arguments are left out of the comparisons; everything else must be identical.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import shlex

import dask.config
import dask_jobqueue  # at import: it installs a signal handler, which only the main thread may
import pytest
import yaml

from tests.helpers import wait_for

# the seeds' sites, as their users wrote them for dask-jobqueue (and the launcher's options)
SGE_SEED = {
    "kwargs": {
        "memory": "8 G",
        "cores": 1,
        "resource_spec": "h_vmem=8G",
        "worker_extra_args": ["--lifetime", "25m", "--lifetime-stagger", "4m"],
    },
    "options": {
        "memory": "8 G",
        "cores": 1,
        "resource_spec": "h_vmem=8G",
        "lifetime": "25m",
        "lifetime_stagger": "4m",
    },
}
SLURM_SEED = {
    "kwargs": {
        "processes": 1,
        "cores": 1,
        "memory": "10GB",
        "interface": "ib0",
        "walltime": "04:00:00",
        "job_extra_directives": ["--hint=multithread", "--exclusive=user"],
    },
    "options": {
        "processes": 1,
        "cores": 1,
        "memory": "10GB",
        "interface": "ib0",
        "walltime": "04:00:00",
        "job_extra_directives": ["--hint=multithread", "--exclusive=user"],
    },
}
#: directives the launcher adds by design: the job name (-J/-N) and the log folder (-e/-o)
LAUNCHER_DIRECTIVES = ("-J ", "-N ", "-e ", "-o ")
#: worker arguments the launcher adds by design (and their values): TLS, private dashboard
#: the launcher's own worker arguments (the job's private scratch folder among them)
LAUNCHER_ARGUMENTS = (
    "--name",
    "--preload",
    "--dashboard-address",
    "--protocol",
    "--local-directory",
)


def directives(script: str) -> list[str]:
    found = []
    for line in script.splitlines():
        for marker in ("#SBATCH ", "#$ "):
            if line.startswith(marker) and not line[len(marker) :].startswith(LAUNCHER_DIRECTIVES):
                found.append(line)
    return found


def worker_command(script: str) -> list[str]:
    """The worker's command line without the scheduler address and the launcher's own args."""
    line = next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)
    words = shlex.split(line)
    del words[3]  # python -m distributed.cli.dask_worker ADDRESS
    kept = []
    skip = False
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


def code_kwargs(code: str) -> dict:
    """The keyword arguments of the cluster class in the previewed Python code."""
    call = next(
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Cluster")
    )
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}


def raw_job_script(class_name: str, kwargs: dict) -> str:
    """The job script dask-jobqueue itself makes for these keyword arguments."""
    cluster = getattr(dask_jobqueue, class_name)(asynchronous=True, **kwargs)
    return str(cluster.job_script())


async def form_defaults(launcher_api, backend: str) -> dict:
    """What the sidebar's form starts from (it sends every field)."""
    code, backends = await launcher_api("backends")
    assert code == 200
    return next(b for b in backends if b["name"] == backend)["defaults"]


async def preview(launcher_api, body: dict) -> dict:
    code, answer = await launcher_api("preview", method="POST", body=body)
    assert code == 200, answer
    return answer


async def profile_preview(launcher_api, name: str) -> dict:
    """The preview the sidebar shows for a profile: the form's defaults, then its options."""
    _, profiles = await launcher_api("profiles")
    profile = next(p for p in profiles if p["name"] == name)
    defaults = await form_defaults(launcher_api, profile["backend"])
    options = {**defaults, **profile["options"]}
    return await preview(launcher_api, {"backend": profile["backend"], "options": options})


@pytest.mark.parametrize(
    "backend, class_name, seed, profile",
    [
        ("sge", "SGECluster", SGE_SEED, "sge-example"),
        ("slurm", "SLURMCluster", SLURM_SEED, "slurm-example"),
    ],
)
async def test_the_seeds_sites_get_what_dask_jobqueue_gives_the_same_arguments(
    launcher_api, request, backend, class_name, seed, profile
):
    request.getfixturevalue(f"{backend}_testbed")
    expected = raw_job_script(class_name, seed["kwargs"])
    defaults = await form_defaults(launcher_api, backend)
    # the seed's values typed into the form, and the built-in example profile of that site
    typed = {"backend": backend, "options": {**defaults, **seed["options"]}}
    for answer in (
        await preview(launcher_api, typed),
        await profile_preview(launcher_api, profile),
    ):
        script = answer["job_script"]
        assert directives(script) == directives(expected)
        assert worker_command(script) == worker_command(expected)
        assert "--lifetime-restart" not in script
    assert "--lifetime 25m --lifetime-stagger 4m" in expected or backend == "slurm"


# --- the user's dask config ------------------------------------------------------------------
def shipped(system: str) -> dict:
    from dask_cluster_launcher.backends.batch import dask_config

    return copy.deepcopy(dask_config.shipped()[system])


@pytest.fixture
def user_dask_config(tmp_path, monkeypatch):
    """Write the user's dask config (a YAML file in a config directory of its own) and load
    it as dask does at start."""

    def write(config: dict) -> None:
        (tmp_path / "jobqueue.yaml").write_text(yaml.safe_dump(config))
        dask.config.refresh(paths=[str(tmp_path)])

    monkeypatch.setattr(dask.config, "paths", [str(tmp_path)])
    yield write
    monkeypatch.undo()
    dask.config.refresh()


def eddie_section() -> dict:
    """The seeds' Eddie site as a named section: a copy of jobqueue.sge with its values."""
    section = shipped("sge")
    section.update(
        {
            "cores": 1,
            "memory": "8 G",
            "resource-spec": "h_vmem=8G",
            "queue": "all.q",
            "walltime": "00:30:00",
            "worker-extra-args": ["--lifetime", "25m", "--lifetime-stagger", "4m"],
            "shebang": "#!/bin/bash -l",
        }
    )
    return section


async def test_the_users_dask_config_is_honoured(launcher_api, sge_testbed, user_dask_config):
    from dask_cluster_launcher.backends.batch.sge import SGEBackend

    interface = "lo"
    user_dask_config(
        {
            "jobqueue": {
                "sge": {
                    # dask-jobqueue's default, written by the user: their value all the same
                    "walltime": "00:30:00",
                    "scheduler-options": {"interface": interface, "idle_timeout": "2h"},
                },
                "eddie": eddie_section(),
            }
        }
    )
    assert SGEBackend().config_defaults()["walltime"] == "00:30:00"  # set by the user
    defaults = await form_defaults(launcher_api, "sge")
    assert defaults["walltime"] == "00:30:00"
    assert defaults["scheduler_interface"] == interface
    answer = await preview(launcher_api, {"backend": "sge", "options": {**defaults, "cores": 1}})
    assert "#$ -l h_rt=00:30:00" in answer["job_script"]
    assert code_kwargs(answer["code"])["scheduler_options"] == {
        "interface": interface,
        "idle_timeout": "2h",
        "port": 0,
        "dashboard_address": "127.0.0.1:0",  # the launcher's: moved to a private socket
    }

    # the named section is offered as a (read-only) site profile, used as config_name
    code, profiles = await launcher_api("profiles")
    eddie = next(p for p in profiles if p["name"] == "eddie")
    assert (eddie["source"], eddie["backend"], eddie["error"]) == ("site", "sge", None)
    assert eddie["options"]["config_name"] == "eddie"
    answer = await profile_preview(launcher_api, "eddie")
    script = answer["job_script"]
    assert script.splitlines()[0] == "#!/bin/bash -l"  # read by dask-jobqueue from the section
    assert "#$ -q all.q" in script and "#$ -l h_vmem=8G" in script
    assert "--lifetime 25m --lifetime-stagger 4m" in script
    assert code_kwargs(answer["code"])["config_name"] == "eddie"
    expected = raw_job_script("SGECluster", {"config_name": "eddie"})
    assert directives(script) == directives(expected)
    assert worker_command(script) == worker_command(expected)
    body = {"name": "eddie", "backend": "sge", "options": {**eddie["options"], "cores": 2}}
    code, error = await launcher_api("profiles", "eddie", method="PUT", body=body)
    assert code == 409, error  # read-only, like other site profiles


async def test_named_sections_by_their_keys(launcher_api, slurm_testbed, user_dask_config):
    ib = shipped("slurm")
    ib.update({"cores": 4, "memory": "16GB", "walltime": "02:00:00", "interface": "ib0"})
    oar = shipped("oar")
    oar.update({"cores": 8, "memory": "8GB"})
    user_dask_config(
        {
            "jobqueue": {
                "ib-nodes": ib,
                "site-oar": oar,  # another system's section: not the launcher's
                "half": {"walltime": "01:00:00", "memory": "4GB"},  # SLURM or SGE?
                "old-slurm": {k: v for k, v in ib.items() if k != "worker-command"},
            }
        }
    )
    code, profiles = await launcher_api("profiles")
    by_name = {p["name"]: p for p in profiles}
    assert "site-oar" not in by_name
    assert by_name["ib-nodes"]["backend"] == "slurm" and by_name["ib-nodes"]["error"] is None
    assert by_name["ib-nodes"]["options"]["walltime"] == "02:00:00"
    assert "has only keys that the jobqueue.slurm and jobqueue.sge" in by_name["half"]["error"]
    assert "lacks 'worker-command'" in by_name["old-slurm"]["error"]
    answer = await profile_preview(launcher_api, "ib-nodes")
    assert "#SBATCH -t 02:00:00" in answer["job_script"]
    assert "--interface ib0" in answer["job_script"]
    # a section name typed into the form must be a section of that system
    code, error = await launcher_api(
        "preview",
        method="POST",
        body={"backend": "slurm", "options": {"walltime": "00:10:00", "config_name": "half"}},
    )
    assert code == 400 and error["field"] == "options.config_name"


# --- worker lifetime: the job ends and adaptive scaling replaces it ----------------------------
async def test_a_worker_past_its_lifetime_is_replaced_by_a_new_job(
    prompt_lost_workers, launcher_api, slurm_testbed
):
    code, cluster = await launcher_api(
        "clusters",
        method="POST",
        body={
            "backend": "slurm",
            "options": {"walltime": "00:10:00", "memory": "1 GB", "lifetime": "10s"},
            "scaling": {"adapt": {"minimum": 1, "maximum": 1}},
        },
    )
    assert code == 202, cluster

    async def model():
        return (await launcher_api("clusters", cluster["id"]))[1]

    async def first_worker():
        workers = [w for w in (await model())["workers"] if w["job_id"]]
        return workers[0] if workers else None

    try:
        first = await wait_for(first_worker, timeout=90, interval=0.3)

        async def replaced():
            current = await model()
            jobs = {j["job_id"] for j in current["jobs"]}
            new = [w for w in current["workers"] if w["job_id"] not in (None, first["job_id"])]
            return new if new and first["job_id"] not in jobs else None

        # the first job ended with its worker (no restart inside it), a new job took its place
        await wait_for(replaced, timeout=150, interval=0.5)
        queued = await asyncio.to_thread(slurm_testbed.queue_job_ids, "dcl-")
        assert first["job_id"] not in queued
    finally:
        await launcher_api("clusters", cluster["id"], method="DELETE")
