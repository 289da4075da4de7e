"""Batch submission at size: ``scale(100)`` until every job has a batch job id, and back to 0,
with the launcher's job classes against plain dask-jobqueue, in the same run.

    python benchmarks/submission.py [--quick] [--only slurm,sge] [-n 100]

Both sides build the cluster the same way in a fresh process of their own (``SLURMCluster`` /
``SGECluster`` with the same arguments; the launcher's is the class its backend gives,
``SLURMBackend().cluster_class()``), with held jobs so that nothing runs: ``--hold`` (SLURM),
``-h`` (SGE). Measured on that process's event loop, which in the launcher is the cluster host's
(it also answers the supervisor's ``watch`` and the workers' heartbeats):

- **submit**: ``cluster.scale(n)`` until ``_correct_state()`` returned, every job with its id;
  the ids are then checked to be distinct and listed by ``squeue``/``qstat`` (not timed);
- **cancel**: ``cluster.scale(0)`` until ``_correct_state()`` returned (n ``scancel``/``qdel``);
- **longest stall**: the largest lateness of a 10 ms ``asyncio.sleep`` ticker during each.

Repetitions alternate which side goes first; every job has a name of its own (``dclsub-<hex>``)
and is cancelled by name after each run, whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.batch import TITLES, Testbed
from benchmarks.stats import TABLE_HEADER, Row, Sample, paired_note, seconds

SIDES = {"launcher": "dask-cluster-launcher", "raw": "dask-jobqueue"}
HOLD = {"slurm": ["--hold"], "sge": ["-h"]}
TICK = 0.01


# --- one measurement, in a process of its own -------------------------------------------------
class Ticker:
    """The lateness of a 10 ms ``asyncio.sleep``, each time: how long the loop stood still."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK)
            self.lags.append(loop.time() - before - TICK)

    def __enter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def summary(self) -> dict[str, float]:
        lags = sorted(self.lags) or [0.0]
        return {"max": lags[-1], "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))]}


def cluster_class(kind: str, side: str) -> Any:
    if side == "raw":
        from dask_jobqueue import SGECluster, SLURMCluster

        return SLURMCluster if kind == "slurm" else SGECluster
    from dask_cluster_launcher.backends.batch.sge import SGEBackend
    from dask_cluster_launcher.backends.batch.slurm import SLURMBackend

    return (SLURMBackend() if kind == "slurm" else SGEBackend()).cluster_class()


def queued_ids(kind: str, job_name: str) -> list[str]:
    return [job_id for job_id, name, _ in Testbed(kind).jobs() if name == job_name]


async def measure(kind: str, side: str, n: int, job_name: str, log_directory: str) -> dict:
    kwargs: dict[str, Any] = {
        "cores": 1,
        "memory": "1 GB",
        "processes": 1,
        "walltime": "00:05:00",
        "job_name": job_name,
        "log_directory": log_directory,
        "job_extra_directives": HOLD[kind],
        "scheduler_options": {"dashboard_address": ":0"},
    }
    if kind == "sge":
        kwargs["resource_spec"] = "h_vmem=1G"
    cls = cluster_class(kind, side)
    async with cls(asynchronous=True, **kwargs) as cluster:
        await asyncio.sleep(0.5)  # the scheduler's start-up work is over
        with Ticker() as submit_lag:
            start = time.perf_counter()
            cluster.scale(n)
            await cluster._correct_state()
            submitted = time.perf_counter() - start
        ids = [job.job_id for job in cluster.workers.values()]
        listed = await asyncio.to_thread(queued_ids, kind, job_name)
        with Ticker() as cancel_lag:
            start = time.perf_counter()
            cluster.scale(0)
            await cluster._correct_state()
            cancelled = time.perf_counter() - start
    return {
        "submit": submitted,
        "submit_lag": submit_lag.summary(),
        "cancel": cancelled,
        "cancel_lag": cancel_lag.summary(),
        "distinct_ids": len(set(ids)),
        "listed": len(set(listed) & set(ids)),
    }


# --- the benchmark ----------------------------------------------------------------------------
async def once(bed: Testbed, side: str, n: int, workdir: Path) -> dict[str, Any]:
    job_name = f"dclsub-{uuid.uuid4().hex[:8]}"
    log_directory = workdir / job_name
    log_directory.mkdir()
    argv = [sys.executable, __file__, "--one", bed.kind, side, str(n), job_name, str(log_directory)]
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=bed.env,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        bed.cancel(job_name)  # whatever happened: only this run's jobs, by their name
        await bed.wait_gone(job_name, timeout=60)
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"{side} run failed:\n{err.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result["distinct_ids"] != n or result["listed"] != n:
        raise RuntimeError(f"{side}: {n} jobs asked, {result} (distinct ids, listed in the queue)")
    return result


def _line(kind: str, n: int, rep: int, results: dict[str, dict[str, Any]], others: int) -> str:
    parts = []
    for side, r in results.items():
        parts.append(
            f"{SIDES[side]} submit {seconds(r['submit'])} (stall max "
            f"{seconds(r['submit_lag']['max'])}, p99 {seconds(r['submit_lag']['p99'])}), "
            f"cancel {seconds(r['cancel'])} (stall max {seconds(r['cancel_lag']['max'])})"
        )
    return f"  {TITLES[kind]} {n} rep {rep}: " + "; ".join(parts) + f" (other jobs: {others})"


async def run(
    repetitions: int, kinds: tuple[str, ...] = ("slurm", "sge"), n: int = 100
) -> tuple[list[Row], list[str]]:
    """Rows for the table (no breakdown lines)."""
    rows: list[Row] = []
    for kind in kinds:
        bed = Testbed(kind)
        await asyncio.to_thread(bed.ensure_running)
        workdir = Path(tempfile.mkdtemp(prefix=f"dcl-bench-submission-{kind}-"))
        runs: dict[str, list[dict[str, Any]]] = {"launcher": [], "raw": []}
        try:
            for rep in range(repetitions):
                others = len(await asyncio.to_thread(bed.jobs))
                order = ("launcher", "raw") if rep % 2 == 0 else ("raw", "launcher")
                results = {side: await once(bed, side, n, workdir) for side in order}
                for side, result in results.items():
                    runs[side].append(result)
                print(_line(kind, n, rep + 1, results, others), flush=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            await asyncio.to_thread(bed.stop_if_started_here)
        title = TITLES[kind]
        measures = [
            (f"{n} held submissions until every job id", lambda r: r["submit"]),
            ("event loop's longest stall, submitting", lambda r: r["submit_lag"]["max"]),
            (f"scale({n}) -> 0, every job cancelled", lambda r: r["cancel"]),
            ("event loop's longest stall, cancelling", lambda r: r["cancel_lag"]["max"]),
        ]
        for label, value in measures:
            ours = [value(r) for r in runs["launcher"]]
            raw = [value(r) for r in runs["raw"]]
            rows.append(
                Row(
                    f"{title}: {label}",
                    Sample(ours),
                    Sample(raw),
                    "dask-jobqueue, same arguments",
                    paired_note(ours, raw),
                )
            )
    return rows, []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repetition per side")
    parser.add_argument("--only", default="slurm,sge", help="slurm, sge or both")
    parser.add_argument("-n", type=int, default=100, help="jobs per run (100)")
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)  # a measurement's process
    args = parser.parse_args()
    if args.one:
        kind, side, n, job_name, log_directory = args.one
        print(json.dumps(asyncio.run(measure(kind, side, int(n), job_name, log_directory))))
        return 0
    kinds = tuple(k.strip() for k in args.only.split(",") if k.strip())
    t0 = time.monotonic()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average at start {load}", flush=True)
    rows, _ = asyncio.run(run(1 if args.quick else 3, kinds, args.n))
    print(f"\ntotal {time.monotonic() - t0:.0f} s\n\n{TABLE_HEADER}")
    print("\n".join(row.markdown() for row in rows))
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
