"""Baseline: one run of plain dask-jobqueue as a user writes it in a notebook.

``python benchmarks/raw_jobqueue.py {slurm|sge} N JOB_NAME LOG_DIR [tls]`` prints one JSON line with
wall-clock stamps (``time.time()``): start (just before the cluster is created; imports and a
throw-away first cluster done),
scheduler up, all N jobs submitted, ``wait_for_workers(N)`` returned, and the scheduler's own
add-worker times. ``DCL_BENCH_JOB_PROLOGUE``: a line each job script runs first (the benchmark's
job-start stamp, the same line the launcher's jobs get); ``DCL_BENCH_DEATH_TIMEOUT``: the nanny's
death timeout in seconds, as the launcher's form sets it in the same run.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any


def main() -> None:
    system, n, job_name, log_directory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tls = sys.argv[5:] == ["tls"]
    from dask_jobqueue import SGECluster, SLURMCluster
    from distributed import Client

    kwargs: dict[str, Any] = {
        "cores": 1,
        "memory": "1 GB",
        "processes": 1,
        "walltime": "00:20:00",
        # a unique name so this run's jobs can be found (and waited for) in the queue
        "job_name": job_name,
        # without it the job logs land in the current directory
        "log_directory": log_directory,
        # a free dashboard port instead of a shared 8787
        "scheduler_options": {"dashboard_address": ":0"},
    }
    if system == "sge":
        kwargs["resource_spec"] = "h_vmem=1G"
    if os.environ.get("DCL_BENCH_DEATH_TIMEOUT"):
        kwargs["death_timeout"] = int(os.environ["DCL_BENCH_DEATH_TIMEOUT"])
    if os.environ.get("DCL_BENCH_JOB_PROLOGUE"):
        kwargs["job_script_prologue"] = [os.environ["DCL_BENCH_JOB_PROLOGUE"]]
    if tls:  # what the launcher does: mutual TLS with a fresh certificate per cluster
        from distributed.security import Security

        kwargs["security"] = Security.temporary()
        kwargs["shared_temp_directory"] = log_directory
    cls = SLURMCluster if system == "slurm" else SGECluster
    stamps: dict[str, float | None] = {"submitted": None}
    result: dict[str, object] = {}

    # The first cluster of a process imports the dashboard and more (~0.9 s here, once per
    # kernel); the launcher's server has paid that before too. Measure the steady state.
    cls(**kwargs).close()

    start = time.time()
    cluster = cls(**kwargs)
    scheduler_up = time.time()
    try:
        cluster.scale(n)
        done = threading.Event()

        def watch_submission() -> None:  # stamps when every job has a batch job id
            while not done.is_set():
                try:
                    jobs = list(cluster.workers.values())
                except RuntimeError:
                    jobs = []
                if len(jobs) >= n and all(getattr(j, "job_id", None) for j in jobs):
                    stamps["submitted"] = time.time()
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=watch_submission, daemon=True)
        watcher.start()
        client = Client(cluster)
        client.wait_for_workers(n, timeout=300)
        ready = time.time()
        done.set()
        events = client.get_events("all")
        joins = sorted(
            t
            for t, msg in events
            if isinstance(msg, dict) and msg.get("action") == "add-worker" and t >= start
        )
        result = {
            "start": start,
            "scheduler_up": scheduler_up,
            "submitted": stamps["submitted"],
            "ready": ready,
            "joins": joins,
            "job_ids": sorted(str(j.job_id) for j in cluster.workers.values()),
        }
        client.close()
    finally:
        cluster.close()
    result["closed"] = time.time()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
