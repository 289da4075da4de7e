"""Smoke tests of the real batch-system test beds with plain dask-jobqueue.

Each test submits a real dask-jobqueue cluster to the local SLURM / Grid Engine, scales it to two
workers, runs a computation, closes it and checks that the batch queue is empty again.
Fixtures come from tests/batch_testbeds.py.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from dask.distributed import Client

from tests.batch_testbeds import Testbed

N_WORKERS = 2


def _square(x: int) -> int:
    return x * x


def _job_id_env() -> str:
    # set by the batch system in the job's environment
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("JOB_ID", "")


def _exercise(bed: Testbed, cluster, job_name: str, directive: str) -> None:
    assert f"{directive} {job_name}" in cluster.job_script()
    with Client(cluster) as client:
        t0 = time.monotonic()
        cluster.scale(N_WORKERS)
        client.wait_for_workers(N_WORKERS, timeout=120)
        print(
            f"{bed.kind}: scale({N_WORKERS}) -> {N_WORKERS} workers in "
            f"{time.monotonic() - t0:.2f} s"
        )

        queued = bed.queue_jobs(name_prefix=job_name)
        assert len(queued) == N_WORKERS, queued
        # worker name (spec name) -> batch job id, as the launcher will map them
        job_ids = {name: job.job_id for name, job in cluster.workers.items()}
        assert sorted(job_ids.values()) == sorted(j.job_id for j in queued)
        assert set(job_ids) == {f"{type(cluster).__name__}-{i}" for i in range(N_WORKERS)}
        # the batch job id as seen inside each worker matches cluster.workers[name].job_id
        seen = client.run(_job_id_env)
        names = {w["name"]: addr for addr, w in client.scheduler_info()["workers"].items()}
        assert {name: seen[addr] for name, addr in names.items()} == job_ids

        assert client.submit(sum, [1, 2]).result() == 3
        assert sum(client.gather(client.map(_square, range(20)))) == sum(x * x for x in range(20))
        ids = list(job_ids.values())
    t0 = time.monotonic()
    cluster.close()
    waited = bed.wait_queue_empty(timeout=60, name_prefix=job_name)
    print(
        f"{bed.kind}: close -> queue empty in {time.monotonic() - t0:.2f} s "
        f"(waited {waited:.2f} s after close())"
    )
    assert not set(ids) & set(bed.queue_job_ids())


@pytest.mark.slurm
def test_slurm_dask_jobqueue(slurm_testbed: Testbed, tmp_path) -> None:
    from dask_jobqueue import SLURMCluster

    job_name = f"dcl-test-{uuid.uuid4().hex[:8]}"
    cluster = SLURMCluster(
        cores=1,
        memory="1GB",
        processes=1,
        walltime="00:10:00",
        queue=slurm_testbed.default_queue,
        job_name=job_name,
        log_directory=str(tmp_path / "logs"),
        scheduler_options={"dashboard_address": ":0"},
    )
    try:
        _exercise(slurm_testbed, cluster, job_name, "#SBATCH -J")
    finally:
        cluster.close()
        slurm_testbed.cancel(slurm_testbed.queue_job_ids(name_prefix=job_name))


@pytest.mark.sge
def test_sge_dask_jobqueue(sge_testbed: Testbed, tmp_path) -> None:
    from dask_jobqueue import SGECluster

    job_name = f"dcl-test-{uuid.uuid4().hex[:8]}"
    cluster = SGECluster(
        cores=1,
        memory="1GB",
        processes=1,
        resource_spec="h_vmem=1G",
        walltime="00:10:00",
        queue=sge_testbed.default_queue,
        job_name=job_name,
        log_directory=str(tmp_path / "logs"),
        scheduler_options={"dashboard_address": ":0"},
    )
    try:
        _exercise(sge_testbed, cluster, job_name, "#$ -N")
    finally:
        cluster.close()
        sge_testbed.cancel(sge_testbed.queue_job_ids(name_prefix=job_name))


@pytest.mark.slurm
@pytest.mark.sge
def test_queue_helpers_see_a_plain_job(slurm_testbed: Testbed, sge_testbed: Testbed) -> None:
    """queue_job_ids / wait_queue_empty on a plain batch job (no Dask) in both systems."""
    for bed, submit in (
        (
            slurm_testbed,
            [
                "sbatch",
                "--parsable",
                "-J",
                "{name}",
                "-t",
                "1",
                "--mem=100M",
                "-o",
                "/dev/null",
                "--wrap",
                "sleep 60",
            ],
        ),
        (
            sge_testbed,
            [
                "qsub",
                "-terse",
                "-N",
                "{name}",
                "-b",
                "y",
                "-o",
                "/dev/null",
                "-j",
                "y",
                "sleep",
                "60",
            ],
        ),
    ):
        name = f"dcl-plain-{uuid.uuid4().hex[:8]}"
        out = bed.run([a.format(name=name) for a in submit]).stdout.strip()
        job_id = out.split(";")[0]  # sbatch --parsable may print "id;cluster"
        assert bed.queue_job_ids(name_prefix=name) == [job_id]
        assert job_id in bed.queue_job_ids()
        bed.cancel([job_id])
        bed.wait_queue_empty(timeout=60, name_prefix=name)
        assert job_id not in bed.queue_job_ids()
