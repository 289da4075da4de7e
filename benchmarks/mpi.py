"""Time to N workers: the mpi backend (ONE SLURM job of N + 1 tasks running dask-mpi) against the
slurm backend (N SLURM jobs, dask_jobqueue.SLURMCluster), both through the launcher's REST API on
the same SLURM test bed, alternating which goes first."""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks import batch
from benchmarks.servers import EventStream, JupyterServer
from benchmarks.stats import Row, Sample, breakdown_line, paired_note

MPI_OPTIONS = {"walltime": "00:20:00", "memory": "500 MB", "cores": 1}


class _AsBackend:
    """The SLURM test bed, launched through another backend name (``mpi``)."""

    def __init__(self, bed: batch.Testbed, kind: str) -> None:
        self._bed, self.kind = bed, kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bed, name)


async def run(
    server: JupyterServer, stream: EventStream, repetitions: dict[int, int]
) -> tuple[list[Row], list[str]]:
    batch.OPTIONS.setdefault("mpi", MPI_OPTIONS)
    bed = batch.Testbed("slurm")
    await asyncio.to_thread(bed.ensure_running)
    await server.request("GET", "dask-cluster-launcher/backends")
    mpi, rows, breakdown = _AsBackend(bed, "mpi"), [], []
    try:
        for n, reps in repetitions.items():
            ours: list[dict[str, Any]] = []
            slurm: list[dict[str, Any]] = []
            for i in range(reps):
                order = (mpi, bed) if i % 2 == 0 else (bed, mpi)
                for who in order:
                    result = await batch.launcher_once(server, stream, who, n)  # type: ignore[arg-type]
                    (ours if who is mpi else slurm).append(result)
                print(
                    f"  MPI {n} workers rep {i + 1}: one job {ours[-1]['total']:.2f} s,"
                    f" {n} SLURM jobs {slurm[-1]['total']:.2f} s",
                    flush=True,
                )
            ours_total = [r["total"] for r in ours]
            slurm_total = [r["total"] for r in slurm]
            rows.append(
                Row(
                    f"MPI (one job of {n + 1} tasks): launch -> {n} workers running",
                    Sample(ours_total),
                    Sample(slurm_total),
                    f"slurm backend, {n} jobs (SLURMCluster)",
                    paired_note(ours_total, slurm_total),
                )
            )
            breakdown.append(breakdown_line(f"MPI {n}, one job", ours))
            breakdown.append(breakdown_line(f"MPI {n}, SLURM {n} jobs", slurm))
    finally:
        await asyncio.to_thread(bed.stop_if_started_here)
    return rows, breakdown
