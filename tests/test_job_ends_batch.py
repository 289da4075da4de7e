"""Why a job ended, from the real test beds' accounting (SLURM's slurmdbd, Grid Engine's
accounting file), as the card shows it. The clusters of one test run side by side: the suite
waits for one walltime, not five."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime

import pytest

from dask_cluster_launcher.backends.batch.accounting import AccountingFile
from tests.helpers import wait_cluster
from tests.test_rest_batch import BASE_OPTIONS


@pytest.fixture
def commands_run(monkeypatch):
    """The batch commands this process runs: (name, argv, seconds it took)."""
    seen: list[tuple[str, tuple[str, ...], float]] = []
    original = asyncio.create_subprocess_exec

    async def timed_exec(*argv, **kwargs):
        process = await original(*argv, **kwargs)
        started, communicate = time.monotonic(), process.communicate

        async def timed(*args, **kw):
            try:
                return await communicate(*args, **kw)
            finally:
                name = str(argv[0]).rsplit("/", 1)[-1]
                seen.append((name, tuple(map(str, argv)), time.monotonic() - started))

        process.communicate = timed
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", timed_exec)
    # Grid Engine's accounting file, read here as it grows (qacct through a command prefix)
    read = AccountingFile.read

    def timed_read(self):
        started = time.monotonic()
        try:
            return read(self)
        finally:
            seen.append(("accounting file", (self.path,), time.monotonic() - started))

    monkeypatch.setattr(AccountingFile, "read", timed_read)
    return seen


async def launch(launcher_api, kind, options, scaling):
    body = {"backend": kind, "options": {**BASE_OPTIONS[kind], **options}, "scaling": scaling}
    code, cluster = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, cluster
    return cluster["id"]


def ended_row(model, state, job_id=None):
    return next(
        (
            j
            for j in model["jobs"]
            if j["end"] and j["end"]["state"] == state and job_id in (None, j["job_id"])
        ),
        None,
    )


async def walltime_is_shown_and_the_worker_replaced(launcher_api, kind):
    """A fixed 1-worker cluster (no lifetime: the walltime kills its worker) shows its job
    ended at its walltime, and its host submits a new job in its place; then it is stopped.
    Returns how long after the kill the card said so, and the cluster's id."""
    options = {"walltime": "00:01:00", "lifetime": "", "lifetime_stagger": ""}
    cluster_id = await launch(launcher_api, kind, options, {"workers": 1})
    model = await wait_cluster(
        launcher_api, cluster_id, lambda m: [w for w in m["workers"] if w["job_id"]], 90, 0.5
    )
    first = model["workers"][0]["job_id"]
    model = await wait_cluster(
        launcher_api, cluster_id, lambda m: ended_row(m, "TIMEOUT", first), 150, 0.5
    )
    seen_at = datetime.now().astimezone()
    end = ended_row(model, "TIMEOUT", first)["end"]
    assert end["reason"] == "reached its walltime (00:01:00)", end
    shown_after = (seen_at - datetime.fromisoformat(end["ended_at"])).total_seconds()
    assert shown_after < 60, shown_after
    model = await wait_cluster(
        launcher_api,
        cluster_id,
        lambda m: (
            any(w["job_id"] not in (None, first) for w in m["workers"])
            or any(j["job_id"] != first and not j["end"] for j in m["jobs"])
        ),
        60,
        0.5,
    )
    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code == 204
    return shown_after, cluster_id


async def walltime_is_shown(launcher_api, kind):
    shown_after, _ = await walltime_is_shown_and_the_worker_replaced(launcher_api, kind)
    return shown_after


async def start_failure_end(launcher_api, options, state, kind="slurm"):
    """A job that ends before its worker joins: its row says why, from the accounting."""
    cluster_id = await launch(launcher_api, kind, options, {"workers": 1})
    model = await wait_cluster(launcher_api, cluster_id, lambda m: ended_row(m, state), 90, 0.5)
    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code in (204, 404)
    return ended_row(model, state)


async def test_why_jobs_ended_walltime_memory_exit_code_one_accounting_call_per_poll(
    prompt_lost_workers, launcher_api, slurm_testbed, sge_testbed, commands_run
):
    hog = f"{sys.executable} -c \"b = b'x' * (1200 * 2**20); import time; time.sleep(60)\""
    slurm, sge, memory, exit_code, sge_exit = await asyncio.gather(
        walltime_is_shown(launcher_api, "slurm"),
        walltime_is_shown(launcher_api, "sge"),
        # no cgroups here: slurmd's jobacct_gather (OverMemoryKill) samples every 2 s
        start_failure_end(
            launcher_api, {"memory": "400 MB", "job_script_prologue": [hog]}, "OUT_OF_MEMORY"
        ),
        start_failure_end(launcher_api, {"job_script_prologue": ["exit 3"]}, "FAILED"),
        # over in a moment: where no qstat lists it, qacct finds it by the cluster's job name
        # (here qstat mostly sees it run; test_job_ends.py covers the unlisted case)
        start_failure_end(launcher_api, {"job_script_prologue": ["exit 3"]}, "FAILED", "sge"),
    )
    # "killed for memory (400 MB)"; without the size where the accounting's record of a job
    # killed as it launched holds no requested memory (seen once in CI)
    assert memory["end"]["reason"].startswith("killed for memory"), memory
    for failed in (exit_code, sge_exit):
        assert (failed["end"]["exit_code"], failed["end"]["reason"]) == (
            3,
            "exited with code 3",
        )
    # one accounting call per backend and poll at most, for every job that left the queue
    for accounting, queue in (("sacct", "squeue"), ("accounting file", "qstat")):
        calls = [c for c in commands_run if c[0] == accounting]
        polls = [c for c in commands_run if c[0] == queue]
        assert calls and len(calls) <= len(polls), (len(calls), len(polls))
        slowest = max(seconds for *_, seconds in calls)
        print(f"{accounting}: {len(calls)} calls over {len(polls)} polls, slowest {slowest:.2f} s")
    print(f"walltime shown after the kill: slurm {slurm:.1f} s, sge {sge:.1f} s")
