"""When pending work may start (squeue's StartTime, sbatch --test-only, PBS Pro's estimate) and
the worker lifetime adaptive batch clusters get from their walltime. The SLURM tests run
against the real test bed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from dask_cluster_launcher import schemas
from dask_cluster_launcher.backends.batch import pbs_formats
from dask_cluster_launcher.backends.batch.lifetimes import (
    derived_lifetime,
    with_default_lifetime,
)
from dask_cluster_launcher.backends.batch.slurm import parse_squeue
from dask_cluster_launcher.backends.batch.start_estimates import (
    local_iso,
    parse_test_only,
    pbs_start_time,
)
from tests.helpers import wait_cluster

SLURM_OPTIONS = {"walltime": "00:20:00", "memory": "1 GB", "cores": 1}


def test_squeue_gives_a_pending_job_its_estimated_start_in_iso_8601():
    out = (
        "306|dcl-a|PENDING|Resources||20:00|0|2026-12-07T14:05:00\n"
        "307|dcl-a|PENDING|Priority||20:00|0|N/A\n"
        "308|dcl-a|RUNNING|None|vm|19:53|0|2026-12-07T13:45:00\n"
    )
    rows = {row["job_id"]: row for row in parse_squeue(out)["dcl-a"]}
    start = datetime.fromisoformat(rows["306"]["estimated_start"])
    assert start.utcoffset() is not None  # a zone: the browser shows it in the user's
    assert start.replace(tzinfo=None) == datetime(2026, 12, 7, 14, 5)
    assert rows["307"]["estimated_start"] is None  # the backfill scheduler has not looked yet
    assert "estimated_start" not in rows["308"]  # it started: no estimate to show


def test_sbatch_test_only_answer_read():
    line = (
        "sbatch: Job 38 to start at 2026-12-07T03:01:58 using 1 processors on nodes vm in "
        "partition debug"
    )
    estimate = parse_test_only(line)
    assert estimate["start"] == local_iso("2026-12-07T03:01:58")
    assert estimate["detail"] == line.removeprefix("sbatch: ")
    assert parse_test_only("") == {"start": None, "detail": None}


def test_pbs_pro_estimated_start_time_read_from_qstat_f():
    text = (
        "Job Id: 12.pbs\n    Job_Name = dcl-a\n    Job_Owner = ann@login\n    job_state = Q\n"
        "    estimated.start_time = Mon Dec  7 14:05:00 2026\n"
        "Job Id: 13.pbs\n    Job_Name = dcl-a\n    Job_Owner = ann@login\n    job_state = Q\n"
    )
    rows = pbs_formats.parse_jobs(text, {"dcl-a"}, "ann")["dcl-a"]
    assert [row.get("estimated_start") for row in rows] == [local_iso("2026-12-07T14:05:00"), None]
    assert (
        pbs_start_time("1796652300") == datetime.fromtimestamp(1796652300).astimezone().isoformat()
    )


def test_derived_lifetimes_match_the_schema_examples():
    examples = schemas.load("backends/jobqueue.yaml")["$defs"]["lifetime"]["x-derived-examples"]
    assert examples
    for walltime, expected in examples.items():
        derived = derived_lifetime(walltime)
        assert (" ".join(derived) if derived else "") == expected, walltime


def test_default_lifetime_only_for_adaptive_clusters_that_set_none():
    options = {"walltime": "00:30:00", "lifetime": "", "lifetime_stagger": ""}
    adapt = {"adapt": {"minimum": 0, "maximum": 4}}
    assert with_default_lifetime(options, adapt, set())["lifetime"] == "25m"
    assert with_default_lifetime(options, {"workers": 4}, set()) == options
    # a lifetime the request (or its profile) sets, even cleared, is the user's choice
    assert with_default_lifetime(options, adapt, {"lifetime"}) == options


async def test_preview_shows_sbatch_test_only_estimate(launcher_api, slurm_testbed):
    body = {"backend": "slurm", "options": SLURM_OPTIONS, "scaling": {"workers": 1}}
    code, preview = await launcher_api("preview", method="POST", body=body)
    assert code == 200, preview
    estimate = preview["start_estimate"]
    assert estimate["detail"].startswith("Job "), estimate
    assert "to start at" in estimate["detail"] and "in partition debug" in estimate["detail"]
    start = datetime.fromisoformat(estimate["start"])
    assert abs(start - datetime.now().astimezone()) < timedelta(days=1)
    # nothing was submitted (a preview's job is named dcl-preview)
    assert not await asyncio.to_thread(slurm_testbed.queue_jobs, "dcl-preview")


async def test_adaptive_preview_gets_a_lifetime_from_the_walltime(launcher_api, slurm_testbed):
    options = {**SLURM_OPTIONS, "walltime": "00:30:00"}
    adapt = {"adapt": {"minimum": 0, "maximum": 2}}
    body = {"backend": "slurm", "options": options, "scaling": adapt}
    code, preview = await launcher_api("preview", method="POST", body=body)
    assert code == 200, preview
    assert "--lifetime 25m --lifetime-stagger 150s" in preview["job_script"]
    cleared = {**body, "options": {**options, "lifetime": ""}}
    code, preview = await launcher_api("preview", method="POST", body=cleared)
    assert code == 200 and "--lifetime" not in preview["job_script"]
    fixed = {**body, "scaling": {"workers": 2}}
    code, preview = await launcher_api("preview", method="POST", body=fixed)
    assert code == 200 and "--lifetime" not in preview["job_script"]


@pytest.fixture
def node_held(slurm_testbed):
    """Every CPU of the test bed's node held by a one-minute job (so a job asking for them
    waits for Resources, and the backfill scheduler knows when they come free)."""
    hold = ["sbatch", "--parsable", "-J", "a3-holds-node", "-c", "16", "-t", "1"]
    held = slurm_testbed.run([*hold, "-o", "/dev/null", "--wrap", "sleep 60"]).stdout.strip()
    yield held
    slurm_testbed.run(["scancel", held], check=False)


async def test_pending_job_blocked_by_resources_shows_its_estimated_start(launcher_api, node_held):
    options = {**SLURM_OPTIONS, "cores": 16, "walltime": "00:05:00"}
    body = {"backend": "slurm", "options": options, "scaling": {"workers": 1}}
    code, cluster = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, cluster
    try:
        model = await wait_cluster(
            launcher_api,
            cluster["id"],
            # squeue says reason "None" for a moment after a job is submitted
            lambda m: any(j["estimated_start"] and j["reason"] for j in m["jobs"]),
            timeout=90,
            interval=0.5,
        )
        job = next(j for j in model["jobs"] if j["estimated_start"] and j["reason"])
        assert job["state"] == "PENDING" and job["reason"] in ("Resources", "Priority")
        start = datetime.fromisoformat(job["estimated_start"])
        # when the one-minute job holding the node ends, give or take the scheduler's rounds
        assert timedelta(0) < start - datetime.now().astimezone() < timedelta(minutes=2)
    finally:
        await launcher_api("clusters", cluster["id"], method="DELETE")


def test_a_job_that_ended_keeps_no_estimate():
    from dask_cluster_launcher.job_starts import StartFailures

    jobs = StartFailures()
    estimate = "2026-12-07T14:05:00+00:00"
    jobs.update([{"job_id": "1", "state": "PENDING", "estimated_start": estimate}], [])
    jobs.update([], [])  # gone from the queue: it crashed between two polls
    jobs.set_error("1", "ValueError: boom", wrote_log=True)
    assert [(row["state"], row["estimated_start"]) for row in jobs.rows()] == [("ENDED", None)]
