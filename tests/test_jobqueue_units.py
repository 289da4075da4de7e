"""Parsing batch-system output and the site cache, without a server."""

from __future__ import annotations

import asyncio

import pytest

from dask_cluster_launcher.backends.batch import jobqueue, queues
from dask_cluster_launcher.backends.batch.sge import (
    SGEBackend,
    _queue,
    resource_value,
    sge_seconds,
    sge_time_left,
)
from dask_cluster_launcher.backends.batch.slurm import (
    SLURMBackend,
    parse_associations,
    parse_gres,
    parse_gres_request,
    parse_squeue,
    slurm_seconds,
    slurm_time_left,
)


@pytest.mark.parametrize(
    "limit, seconds",
    [
        ("infinite", None),
        ("UNLIMITED", None),
        ("30:00", 1800),
        ("45", 2700),
        ("1:00:00", 3600),
        ("1-00:00:00", 86400),
        ("2-12", 2 * 86400 + 12 * 3600),
    ],
)
def test_slurm_time_limits(limit, seconds):
    assert slurm_seconds(limit) == seconds


@pytest.mark.parametrize("value, seconds", [("INFINITY", None), ("0:30:0", 1800), ("1800", 1800)])
def test_sge_time_limits(value, seconds):
    assert sge_seconds(value) == seconds


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("19:53", 19 * 60 + 53),
        ("1:02:03", 3723),
        ("2-00:00:00", 2 * 86400),
        ("1-02:03:04", 86400 + 7384),
        ("0:05", 5),
        ("UNLIMITED", None),
        ("NOT_SET", None),
        ("INVALID", None),
        ("", None),
    ],
)
def test_squeue_time_left(text, seconds):
    assert slurm_time_left(text) == seconds


def test_squeue_rows_have_the_time_left_of_running_jobs_in_whole_minutes():
    out = (
        "305|dcl-a|RUNNING|None|vm|19:53\n"
        "306|dcl-a|PENDING|Resources||20:00\n"
        "307|dcl-b|RUNNING|None|vm|UNLIMITED\n"
        "308|dcl-b|RUNNING|None|vm|0:41\n"
    )
    states = parse_squeue(out)
    assert states["dcl-a"] == [
        {"job_id": "305", "state": "RUNNING", "reason": None, "host": "vm", "time_left": 1140},
        {
            "job_id": "306",
            "state": "PENDING",
            "reason": "Resources",
            "host": None,
            "time_left": None,
        },
    ]
    assert [j["time_left"] for j in states["dcl-b"]] == [None, 0]


QSTAT_R_XML = """<?xml version='1.0'?>
<job_info>
  <queue_info>
    <job_list state="running">
      <JB_job_number>222</JB_job_number>
      <JB_name>dcl-a</JB_name>
      <state>r</state>
      <JAT_start_time>2026-11-30T15:32:12</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <hard_request name="h_vmem" resource_contribution="0.000000">1G</hard_request>
      <hard_request name="h_rt" resource_contribution="0.000000">1200</hard_request>
    </job_list>
    <job_list state="running">
      <JB_job_number>223</JB_job_number>
      <JB_name>dcl-a</JB_name>
      <state>r</state>
      <JAT_start_time>2026-11-30T15:32:12.250</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <hard_request name="h_rt" resource_contribution="0.000000">0:30:0</hard_request>
    </job_list>
    <job_list state="running">
      <JB_job_number>224</JB_job_number>
      <JB_name>dcl-a</JB_name>
      <state>r</state>
      <JAT_start_time>2026-11-30T15:32:12</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>225</JB_job_number>
      <JB_name>dcl-a</JB_name>
      <state>qw</state>
      <JB_submission_time>2026-11-30T15:32:10</JB_submission_time>
      <hard_request name="h_rt" resource_contribution="0.000000">1200</hard_request>
    </job_list>
  </job_info>
</job_info>"""


def test_sge_time_left_is_h_rt_less_the_run_time():
    from datetime import datetime
    from xml.etree import ElementTree as ET

    jobs = list(ET.fromstring(QSTAT_R_XML).iter("job_list"))
    now = datetime(2026, 11, 30, 15, 33, 12)  # a minute after the start
    # 20 min h_rt, 30 min h_rt, no h_rt request, not started
    assert [sge_time_left(job, now) for job in jobs] == [1140, 1740, None, None]
    # past its h_rt (the qmaster has yet to kill it): none left, not negative
    assert sge_time_left(jobs[0], datetime(2026, 11, 30, 16, 0)) == 0


async def test_sge_job_states_is_one_qstat_with_the_requests(monkeypatch):
    backend = SGEBackend()
    calls = []

    async def run(*command, check=True):
        calls.append(command)
        return QSTAT_R_XML.replace("<state>qw</state>", "<state>r</state>").replace(
            "JB_submission_time", "JAT_start_time"
        )

    monkeypatch.setattr(backend, "run", run)
    states = await backend.job_states(["dcl-a"])
    assert len(calls) == 1 and calls[0][:3] == ("qstat", "-r", "-xml")
    assert [j["state"] for j in states["dcl-a"]] == ["RUNNING"] * 4
    lefts = [j["time_left"] for j in states["dcl-a"]]
    assert lefts[2] is None and all(t is None or 0 <= t <= 1800 for t in lefts)


def test_walltime_and_limits():
    assert queues.walltime_seconds("1-02:03:04") == 93784
    assert queues.most_generous([10, None]) is None
    assert queues.most_generous([10, 30]) == 30
    assert resource_value("mem_free=2G,h_vmem=8G", "h_vmem") == "8G"
    assert resource_value("", "h_vmem") is None


def test_sge_queue_configuration():
    queue = _queue("qname short.q\nslots 1,[node1=8],[node2=16]\nh_rt 0:30:0\n")
    assert (queue.name, queue.cpus, queue.time_limit) == ("short.q", 16, 1800)


class CountingSLURM(SLURMBackend):
    site_cache_seconds = 0.0

    def __init__(self):
        super().__init__()
        self.reads = 0

    async def discover_queues(self):
        self.reads += 1
        await asyncio.sleep(0.2)
        return [queues.Queue(name=f"read-{self.reads}")]


async def test_site_is_read_once_then_refreshed_in_the_background():
    backend = CountingSLURM()
    first, second = await asyncio.gather(backend.queues(), backend.queues())
    assert [q.name for q in first] == ["read-1"] and backend.reads == 1
    assert [q.name for q in second] == ["read-1"]
    # stale: answered at once from the cache while a refresh runs
    stale = await asyncio.wait_for(backend.queues(), 0.1)
    assert [q.name for q in stale] == ["read-1"]
    await backend._site_refresh
    assert [q.name for q in await backend.queues()] == ["read-2"]
    await backend._site_refresh  # the next background read (the cache lasts 0 s here)


def test_sge_backend_names_its_memory_resource():
    assert SGEBackend.memory_resource == "h_vmem"


def test_dask_config_prefills_the_form_and_old_names_are_read():
    import dask
    import dask_jobqueue  # noqa: F401 - registers its defaults before the temporary config

    config = {
        "jobqueue.slurm.memory": "7 GB",
        "jobqueue.slurm.job-extra": ["--exclusive"],  # the old name of job-extra-directives
        "jobqueue.slurm.walltime": "02:00:00",
    }
    with dask.config.set(config):
        defaults = SLURMBackend().defaults()
    assert defaults["memory"] == "7 GB"
    assert defaults["job_extra_directives"] == ["--exclusive"]
    assert defaults["walltime"] == "02:00:00"


def test_form_defaults_are_dask_jobqueues_shipped_defaults():
    """With no user config, every field that maps to a dask-jobqueue key with a value starts
    from that value, in the static schema too (what the sidebar shows before asking)."""
    from dask_cluster_launcher import schemas
    from dask_cluster_launcher.backends.batch import dask_config

    for backend in (SLURMBackend(), SGEBackend()):
        shipped = dask_config.shipped()[backend.config_name]
        static = schemas.form(backend.schema_file)["properties"]
        defaults = backend.defaults()
        for key in dask_config.CONFIG_KEYS:
            field = key.replace("-", "_")
            if field not in static or field == "python":
                continue
            if shipped[key] is not None:
                assert defaults[field] == shipped[key], (backend.name, key)
                assert static[field]["default"] == shipped[key], (backend.name, key)
            else:  # null: none (an empty field), or dask-jobqueue's own choice
                assert defaults.get(field) in (None, "", 1, "2 GB"), (backend.name, key)
        assert defaults["walltime"] == "00:30:00" and "processes" not in defaults


@pytest.mark.parametrize("cores, processes", [(1, 1), (4, 4), (8, 4), (32, 8)])
def test_empty_processes_is_dask_jobqueues_choice(cores, processes):
    assert jobqueue.processes_per_job({"cores": cores}) == processes
    assert jobqueue.processes_per_job({"cores": cores, "processes": 2}) == 2


# --- SLURM: GRES, accounts and QOS --------------------------------------------------------------
SACCTMGR = """physics|normal,long
physics|normal,debug
chem-lab|
"""


def test_sacctmgr_associations_parse_to_accounts_and_their_qos():
    assert parse_associations(SACCTMGR) == {
        "physics": ["normal", "long", "debug"],
        "chem-lab": [],
    }
    assert parse_associations("") == {}


def test_sinfo_gres_parse_by_name_and_type():
    assert parse_gres("(null)") == {}
    assert parse_gres("gpu:a100:4(S:0-1),shard:8") == {"gpu": 4, "gpu:a100": 4, "shard": 8}
    assert parse_gres("gpu:2,gpu:v100:1") == {"gpu": 3, "gpu:v100": 1}
    assert parse_gres_request("gpu:a100:2,shard") == [("gpu:a100", 2), ("shard", 1)]
    assert parse_gres_request("gpu:2") == [("gpu", 2)]


class FakeSite(SLURMBackend):
    """sinfo and sacctmgr answers from a site with GPUs and accounting."""

    def __init__(self, sacctmgr: str | None):
        super().__init__()
        self.sacctmgr = sacctmgr
        self.calls: list[tuple[str, ...]] = []

    async def run(self, *command, check=True):
        self.calls.append(command)
        if command[0] == "sinfo":
            return (
                "cpu*|up|infinite|16|64000|(null)\ngpu|up|1-00:00:00|32|256000|gpu:a100:4(S:0-1)\n"
            )
        if command[0] == "sacctmgr" and self.sacctmgr is not None:
            return self.sacctmgr
        raise jobqueue.commands.BatchCommandError(f"{command[0]} failed: no accounting")


async def test_slurm_form_offers_accounts_qos_and_checks_gres():
    from dask_cluster_launcher.errors import InvalidRequest

    backend = FakeSite(SACCTMGR)
    schema = await backend.form_schema()
    accounts = [choice["const"] for choice in schema["properties"]["account"]["oneOf"]]
    assert accounts == ["", "physics", "chem-lab"]
    qos = [choice["const"] for choice in schema["properties"]["qos"]["oneOf"]]
    assert qos == ["", "debug", "long", "normal"]
    assert "gpu:a100:4" in schema["properties"]["gres"]["description"]
    base = {"walltime": "00:20:00", "scheduler_interface": ""}
    options = await backend.validate(
        {**base, "queue": "gpu", "account": "physics", "qos": "long", "gres": "gpu:a100:2"}
    )
    kwargs = backend.cluster_kwargs(options, cluster_id="x", cluster_name="x")
    assert kwargs["job_extra_directives"] == ["--qos=long", "--gres=gpu:a100:2"]
    script = backend.job_script(backend.with_credentials(kwargs, backend.private_dir.cluster("x")))
    assert "#SBATCH --gres=gpu:a100:2" in script and "#SBATCH --qos=long" in script
    refusals = [
        ({"account": "astro"}, "options.account", "no SLURM association with account 'astro'"),
        ({"account": "chem-lab", "qos": "long"}, "options.qos", "under account 'chem-lab'"),
        ({"gres": "gpu:1"}, "options.gres", "no node of the cpu partition has 1 gpu"),
        ({"queue": "gpu", "gres": "gpu:8"}, "options.gres", "has 8 gpu (GRES there: gpu:a100:4)"),
        ({"queue": "gpu", "gres": "gpu:v100:1"}, "options.gres", "1 gpu:v100"),
    ]
    for overrides, field, words in refusals:
        with pytest.raises(InvalidRequest) as refused:
            await backend.validate({**base, **overrides})
        assert refused.value.field == field and words in refused.value.message, overrides


async def test_without_accounting_the_account_and_qos_are_free_text():
    backend = FakeSite(None)
    schema = await backend.form_schema()
    assert "oneOf" not in schema["properties"]["account"]
    assert "oneOf" not in schema["properties"]["qos"]
    options = await backend.validate(
        {"walltime": "00:20:00", "scheduler_interface": "", "account": "any", "qos": "any"}
    )
    assert options["account"] == "any"
    assert backend.calls[-1][:4] == ("sacctmgr", "-nP", "show", "assoc")


# --- the batch command prefix --------------------------------------------------------------------
def test_prefixed_cluster_class_submits_and_cancels_through_the_prefix():
    from dask_jobqueue import SGECluster, SLURMCluster

    from dask_cluster_launcher.backends.batch.commands import prefixed_cluster_class

    assert prefixed_cluster_class(SLURMCluster, ()) is SLURMCluster
    slurm = prefixed_cluster_class(SLURMCluster, ("ssh", "login 01"))
    assert issubclass(slurm, SLURMCluster) and slurm.__name__ == "SLURMCluster"
    assert slurm.job_cls.submit_command == "ssh 'login 01' sbatch"
    assert slurm.job_cls.cancel_command == "ssh 'login 01' scancel"
    sge = prefixed_cluster_class(SGECluster, ("/opt/site/wrap",))
    assert (sge.job_cls.submit_command, sge.job_cls.cancel_command) == (
        "/opt/site/wrap qsub",
        "/opt/site/wrap qdel",
    )
    backend = SGEBackend()
    backend.command_prefix = ("/opt/site/wrap",)
    assert backend.cluster_class().job_cls.submit_command == "/opt/site/wrap qsub"
    # the batch commands may live behind the prefix: only its program must be here
    assert backend.unavailable_reason() == "/opt/site/wrap not found on this server's PATH"


async def test_the_launchers_own_commands_run_through_the_prefix(monkeypatch):
    started = []

    async def fake_exec(*argv, **kwargs):
        started.append(argv)
        raise OSError(2, "No such file or directory")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
    backend = SLURMBackend()
    backend.command_prefix = ("ssh", "login01")
    await backend.queues()  # the site's error is kept for the form
    for command in (backend.reap("dcl-x"), backend.job_states(["dcl-x"])):
        with pytest.raises(jobqueue.commands.BatchCommandError, match="ssh"):
            await command
    assert [argv[:3] for argv in started] == [
        ("ssh", "login01", "sinfo"),
        ("ssh", "login01", "sacctmgr"),
        ("ssh", "login01", "scancel"),
        ("ssh", "login01", "squeue"),
    ]
