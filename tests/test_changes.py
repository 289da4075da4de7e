"""Events carry what changed: patches of a cluster model, applied as the sidebar applies them."""

from __future__ import annotations

import json

from dask_cluster_launcher import changes


def worker(i: int, status: str = "running") -> dict:
    return {
        "name": f"dcl-0123456789ab-{i}",
        "address": f"tls://10.1.2.3:{40000 + i}",
        "host": "node-017.cluster.example.org",
        "nthreads": 4,
        "memory_limit": 8_000_000_000,
        "status": status,
        "job_id": str(700000 + i),
    }


def model(workers: list[dict], jobs: list[dict] | None = None, **fields) -> dict:
    return {
        "id": "0123456789ab",
        "state": "running",
        "workers": workers,
        "jobs": jobs or [],
        **fields,
    }


def test_a_patch_turns_the_old_model_into_the_new_one():
    old = model([worker(1), worker(2), worker(3)], [{"job_id": "1", "state": "RUNNING"}])
    new = model(
        [worker(1), worker(2, "paused"), worker(4)],
        [{"job_id": "1", "state": "RUNNING"}, {"job_id": "2", "state": "PENDING"}],
        state="running",
        messages=["2 of 3 workers"],
    )
    patch = changes.diff(old, new)
    assert patch == {
        "workers": {"upsert": [worker(2, "paused"), worker(4)], "remove": [worker(3)["name"]]},
        "jobs": {"upsert": [{"job_id": "2", "state": "PENDING"}]},
        "fields": {"messages": ["2 of 3 workers"]},
    }
    assert changes.apply(old, patch) == new
    assert changes.diff(new, new) == {}


def test_one_worker_joining_a_400_worker_cluster_costs_one_row():
    before = model([worker(i) for i in range(400)])
    after = model([worker(i) for i in range(401)])
    whole = len(json.dumps(after))
    patch = len(json.dumps(changes.diff(before, after)))
    assert patch <= 2048, patch  # the goal: <= 2 KB per change at 400 workers
    assert whole > 50 * patch  # what a whole-cluster event would have cost
