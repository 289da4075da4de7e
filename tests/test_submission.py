"""Batch submission at size (backends/batch/submission.py) on the real SLURM and
Grid Engine test beds: held jobs (nothing runs), each test's jobs under a name of its own,
cancelled by that name afterwards whatever happened."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from dask_cluster_launcher.backends.batch import submission
from dask_cluster_launcher.backends.batch.htcondor import HTCondorBackend
from dask_cluster_launcher.backends.batch.lsf import LSFBackend
from dask_cluster_launcher.backends.batch.pbs import PBSBackend
from dask_cluster_launcher.backends.batch.sge import SGEBackend
from dask_cluster_launcher.backends.batch.slurm import SLURMBackend
from tests.batch_testbeds import BATCH_SYSTEMS
from tests.helpers import wait_until

N = 20
HOLD = {"slurm": ["--hold"], "sge": ["-h"], "lsf": ["-H"], "pbs": ["-h"], "htcondor": []}
BACKENDS = {
    "slurm": SLURMBackend,
    "sge": SGEBackend,
    "lsf": LSFBackend,
    "htcondor": HTCondorBackend,
    "pbs": PBSBackend,
}
#: a held job's state, and the commands that submit and cancel
HELD = {"slurm": "PENDING", "sge": "hqw", "lsf": "PSUSP", "htcondor": "H", "pbs": "PENDING"}
COMMANDS = {
    "slurm": ("sbatch", "scancel"),
    "sge": ("qsub", "qdel"),
    "lsf": ("bsub", "bkill"),
    "htcondor": ("condor_submit", "condor_rm"),
    "pbs": ("qsub", "qdel"),
}
#: what a refused submission says (a partition / queue the site does not have)
REFUSAL = {
    "slurm": "Batch job submission failed: Invalid partition name specified",
    "sge": 'Job was rejected because job requests unknown queue "dclsubtest-no-such-queue"',
    "lsf": "dclsubtest-no-such-queue: No such queue. Job not submitted.",
    "htcondor": "Parse error of expression: ((Memory",
    "pbs": "Batch job submission failed: Invalid partition name specified",  # SLURM's, via qsub
}


@pytest.fixture(params=BATCH_SYSTEMS)
def bed(request):
    return request.getfixturevalue(f"{request.param}_testbed")


@pytest.fixture
def job_name(bed):
    """A name for this test's jobs; afterwards every job of that name is cancelled."""
    name = f"dclsubtest-{uuid.uuid4().hex[:8]}"
    yield name
    reap = {"slurm": ["scancel", "--name", name], "lsf": ["bkill", "-J", name, "0"]}
    reap["htcondor"] = ["condor_rm", "-constraint", f'JobBatchName =?= "{name}"']
    reap["pbs"] = reap["slurm"]  # the PBS test bed's jobs are SLURM jobs
    bed.run(reap.get(bed.kind, ["qdel", name]), check=False)
    bed.wait_queue_empty(timeout=60, name_prefix=name)


def job_kwargs(kind: str, job_name: str, log_directory: Any, **more: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "cores": 1,
        "memory": "1 GB",
        "processes": 1,
        "walltime": "00:05" if kind == "lsf" else "00:05:00",  # bsub -W [hour:]minute
        "job_name": job_name,
        "log_directory": str(log_directory),
        "job_extra_directives": HOLD[kind],
        **more,
    }
    if kind == "htcondor":  # no walltime; disk, and the name is the batch name
        del kwargs["walltime"]
        kwargs["disk"] = "1 GB"
        extra = {"hold": "True", "batch_name": job_name}
        kwargs["job_extra_directives"] = {**extra, **more.get("job_extra_directives", {})}
    if kind == "sge":
        kwargs["resource_spec"] = "h_vmem=1G"
    return kwargs


class Ticker:
    """Whether the event loop runs other callbacks while batch commands run: a 1 ms
    ``asyncio.sleep`` runs over and over, counting the times it woke while ``busy()``.

    A loop that waits for its commands (as dask-jobqueue's own ``Job._call`` does) wakes no
    sleeper while one runs: the count is 0. A count, not seconds: on a busy 2-core machine a
    free loop is late by a hundred milliseconds now and then, and a timed bound failed CI."""

    def __init__(self, busy: Callable[[], bool]) -> None:
        self.busy = busy
        self.woke_while_busy = 0
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, loop.time() - before - 0.001)
            self.woke_while_busy += self.busy()

    def __str__(self) -> str:
        return (
            f"the event loop ran {self.woke_while_busy} times while batch commands ran "
            f"(longest still: {self.worst:.3f} s)"
        )

    def __enter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
def in_flight(monkeypatch):
    """The most batch commands running at the same time, seen from this process."""
    seen = {"now": 0, "most": 0, "argv": []}
    original = asyncio.create_subprocess_exec

    async def counting_exec(*argv, **kwargs):
        process = await original(*argv, **kwargs)
        seen["argv"].append(tuple(map(str, argv)))
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
        communicate = process.communicate

        async def counted(*args, **kw):
            try:
                return await communicate(*args, **kw)
            finally:
                seen["now"] -= 1

        process.communicate = counted
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", counting_exec)
    return seen


async def test_held_submissions_get_distinct_ids_without_stalling_the_loop(
    bed, job_name, tmp_path, in_flight
):
    """scale(N) as the cluster host does it: N job ids, each a job in the queue, a few
    commands at a time, the event loop running while they run; scale(0) cancels them all."""
    cluster_class = BACKENDS[bed.kind]().cluster_class()
    kwargs = job_kwargs(bed.kind, job_name, tmp_path, scheduler_options={"dashboard": False})
    async with cluster_class(asynchronous=True, **kwargs) as cluster:
        await asyncio.sleep(0.3)  # the scheduler's own start-up work is over
        with Ticker(lambda: in_flight["now"] > 0) as submitting:
            cluster.scale(N)
            await cluster._correct_state()
        ids = [job.job_id for job in cluster.workers.values()]
        assert len(set(ids)) == N and all(ids)
        queued = {job.job_id: job.state for job in bed.queue_jobs(job_name)}
        assert sorted(queued) == sorted(ids)
        assert set(queued.values()) == {HELD[bed.kind]}
        assert submitting.woke_while_busy >= 3, str(submitting)
        assert 1 < in_flight["most"] <= submission.CONCURRENCY, in_flight["most"]

        in_flight["most"] = 0
        with Ticker(lambda: in_flight["now"] > 0) as cancelling:
            cluster.scale(0)
            await cluster._correct_state()
        assert cancelling.woke_while_busy >= 3, str(cancelling)
        assert in_flight["most"] <= submission.CONCURRENCY
    bed.wait_queue_empty(timeout=30, name_prefix=job_name)


async def test_a_refused_submission_raises_the_batch_systems_words_as_dask_jobqueue_does(
    bed, job_name, tmp_path, monkeypatch
):
    if bed.kind == "pbs":  # dask-jobqueue's own qsub: the test bed's, not Grid Engine's
        monkeypatch.setenv("PATH", f"{bed.extra['bin']}{os.pathsep}{os.environ['PATH']}")
    queue = "nosuchpartition" if bed.kind == "slurm" else "dclsubtest-no-such-queue"
    refused = {"queue": queue}
    if bed.kind == "htcondor":  # no queues: an expression condor_submit cannot parse
        refused = {"job_extra_directives": {"rank": "((Memory"}}
    kwargs = job_kwargs(bed.kind, job_name, tmp_path, **refused)
    plain_class = BACKENDS[bed.kind]().jobqueue_class().job_cls
    launcher_class = BACKENDS[bed.kind]().cluster_class().job_cls
    messages = []
    for job_class in (plain_class, launcher_class):
        job = job_class("tcp://127.0.0.1:1", name="refused", **kwargs)
        with pytest.raises(RuntimeError) as refused:
            await job.start()
        assert job.job_id is None
        messages.append(re.sub(r"/\S+\.sh", "<job file>", str(refused.value)))
    assert REFUSAL[bed.kind] in messages[1]
    if bed.kind != "lsf":  # dask-jobqueue's own bsub (use-stdin) throws stderr away
        # (the PBS backend's commands run as env PATH=<its command path>:$PATH qsub ...)
        assert messages[0] == re.sub(r"^env PATH=\S+ ", "", messages[1], flags=re.M)
    assert not bed.queue_jobs(job_name)


async def test_the_batch_command_prefix_wraps_every_submission_and_cancellation(
    bed, job_name, tmp_path, in_flight
):
    log = tmp_path / "batch-commands.log"
    wrapper = tmp_path / "batch-wrapper"
    wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nexec \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    backend = BACKENDS[bed.kind]()
    backend.command_prefix = (str(wrapper),)
    job_class = backend.cluster_class().job_cls
    kwargs = job_kwargs(bed.kind, job_name, tmp_path / "logs")
    jobs = [job_class("tcp://127.0.0.1:1", name=f"w{i}", **kwargs) for i in range(10)]
    await asyncio.gather(*(job.start() for job in jobs))
    assert len(bed.queue_jobs(job_name)) == 10
    await asyncio.gather(*(job.close() for job in jobs))
    bed.wait_queue_empty(timeout=30, name_prefix=job_name)

    submit, cancel = COMMANDS[bed.kind]
    logged = [line.split() for line in log.read_text().splitlines()]
    assert [line[0] for line in logged if line[0] != cancel] == [submit] * 10
    # cancelled together: one command for the ten ids
    cancels = [sorted(line[1:]) for line in logged if line[0] == cancel]
    assert cancels == [sorted(job.job_id for job in jobs)]
    assert len(in_flight["argv"]) == len(logged) == 11
    # (the PBS backend runs them as env PATH=<its command path>:$PATH <prefix> ...)
    assert {argv[2] if argv[0] == "env" else argv[0] for argv in in_flight["argv"]} == {
        str(wrapper)
    }


async def test_jobs_cancelled_together_are_all_cancelled_when_one_is_gone_already(
    bed, job_name, tmp_path
):
    job_class = BACKENDS[bed.kind]().cluster_class().job_cls
    kwargs = job_kwargs(bed.kind, job_name, tmp_path)
    jobs = [job_class("tcp://127.0.0.1:1", name=f"w{i}", **kwargs) for i in range(4)]
    await asyncio.gather(*(job.start() for job in jobs))
    bed.cancel([jobs[1].job_id])  # by hand, before the cluster closes its jobs

    def gone() -> bool:
        return jobs[1].job_id not in bed.queue_job_ids(job_name)

    wait_until(gone, timeout=30, what=f"job {jobs[1].job_id} to leave the queue")
    await asyncio.gather(*(job.close() for job in jobs))  # no error, as dask-jobqueue's
    bed.wait_queue_empty(timeout=30, name_prefix=job_name)
