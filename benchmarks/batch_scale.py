"""Time to 64 (or more) SLURM workers: the SLURM test bed advertises 16 CPUs and 16 GB, so it is
restarted with room for N one-core 1 GB jobs (``SLURM_FAKE_CPUS``, ``SLURM_REAL_MEM_MB`` of
``testbeds/start-slurm.sh``), the batch benchmark runs, and the test bed is restarted with its
defaults again, whatever happened.

    flock /tmp/slurm-queue.lock .venv/bin/python -m benchmarks.batch_scale --workers 8,64 \\
        --repetitions 2,1

A restart ends every job of the test bed, so this waits until its queue is empty and holds the
test bed's lock (the one the test fixtures and ``make testbeds`` take) until the defaults are back:
a test session that starts meanwhile waits instead of restarting it under the benchmark. Run it
where the queue is yours (``/tmp/slurm-queue.lock`` on a shared machine). On 2 cores 64 workers
take 1-2 minutes per run of either side, and their processes several GB of memory.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from testbeds.control import testbed_lock

from . import batch, batch_cli
from .servers import bench_env

REPO = Path(__file__).resolve().parent.parent


def restart_slurm(extra_env: dict[str, str]) -> None:
    """``testbeds/start-slurm.sh`` with these knobs (a changed node restarts the daemons)."""
    env = {**bench_env(), **extra_env}
    for knob in ("SLURM_FAKE_CPUS", "SLURM_REAL_MEM_MB"):
        if knob not in extra_env:
            env.pop(knob, None)
    subprocess.run(
        ["bash", str(REPO / "testbeds" / "start-slurm.sh")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # the daemons must not be in our session
        check=True,
        timeout=300,
    )


def wait_for_empty_queue(bed: batch.Testbed, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while jobs := bed.jobs():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"the SLURM queue still has {len(jobs)} jobs: not restarting it")
        time.sleep(1)


def main() -> int:
    args = batch_cli.parse_args(sys.argv[1:])
    most = max(args.plan)
    bed = batch.Testbed("slurm")
    bed.ensure_running()
    with testbed_lock("slurm"):
        wait_for_empty_queue(bed)
        print(f"restarting the SLURM test bed with {most + 2} CPUs", flush=True)
        restart_slurm(
            {"SLURM_FAKE_CPUS": str(most + 2), "SLURM_REAL_MEM_MB": str((most + 2) * 1000)}
        )
        try:
            os.environ["DCL_KEEP_TESTBEDS"] = "1"  # the run must not stop it
            asyncio.run(batch_cli.main(args))
        finally:
            try:  # the benchmark drains its own jobs; a restart would end what is left
                wait_for_empty_queue(bed, timeout=120)
            except RuntimeError as exc:
                print(exc, flush=True)
            print("restarting the SLURM test bed with its defaults", flush=True)
            restart_slurm({})
    return 0


if __name__ == "__main__":
    sys.exit(main())
