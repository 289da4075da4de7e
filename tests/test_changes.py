"""Events carry what changed: patches of a cluster model, applied as the sidebar applies them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from dask_cluster_launcher import changes
from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.handles.hosted import apply_host_patch
from dask_cluster_launcher.launched import LaunchedCluster
from dask_cluster_launcher.manager import ClusterManager
from dask_cluster_launcher.profiles import ProfileStore


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


# --- the host->server hop and the server's publishing -----------------------------------------
def job(i: int, state: str = "RUNNING") -> dict:
    return {"job_id": str(700000 + i), "state": state, "reason": None, "host": "n1", "time_left": 9}


def _mirror(manager: ClusterManager, launched: LaunchedCluster, patch: dict) -> None:
    """What a hosted cluster's handle does with a host's patch (its host running)."""
    if apply_host_patch(launched, patch, "running", launched.backend):
        manager._publish(launched)


def hosted_manager(recorder: list, workers: int) -> tuple:
    """A manager publishing a hosted cluster of ``workers`` workers (as a host's model and its
    mirror), with no host process and no watcher tasks: what one host patch costs."""
    backends = default_backends()
    manager = ClusterManager(
        backends,
        ProfileStore.for_backends(backends),
        lambda *event: recorder.append(event),
        records_dir=Path("/nonexistent"),
    )
    launched = LaunchedCluster("0123456789ab", "big", backends["local"], {}, {}, {"workers": 0})
    manager._clusters[launched.id] = launched
    host = changes.VersionedModel(
        {
            "state": "running",
            "error": None,
            "scheduler_address": "tls://127.0.0.1:1",
            "messages": [],
            "scaling": {"workers": workers},
            "versions": {},
        }
    )
    host.update({}, [worker(i) for i in range(workers)])
    mirror = changes.Mirror()
    _mirror(manager, launched, mirror.apply(host.since(0)))
    return manager, launched, host, mirror


def test_one_worker_joining_a_400_worker_cluster_costs_one_row():
    """From the host to the server and from the server to the sidebar."""
    events: list = []
    manager, launched, host, mirror = hosted_manager(events, 400)
    assert [e[0] for e in events] == ["updated"] and len(events[0][2]["workers"]) == 400
    host.update({}, [worker(i) for i in range(401)])
    answer = host.since(mirror.version)  # what the host sends to the server
    assert answer == {"version": host.version, "workers": {"upsert": [worker(400)]}}
    _mirror(manager, launched, mirror.apply(answer))
    action, _, patch = events[-1]
    assert action == "changed" and patch == {"workers": {"upsert": [worker(400)]}}
    # the goal: <= 2 KB per change at 400 workers; a whole-cluster event is 50x that
    assert len(json.dumps(answer)) <= 2048 and len(json.dumps(patch)) <= 2048
    assert len(json.dumps(manager.model(launched))) > 50 * len(json.dumps(patch))
    assert len(launched.workers) == 401
    # nothing changed: the host's look bumps nothing, the server publishes nothing
    assert not host.update({"state": "running"}, [worker(i) for i in range(401)])
    _mirror(manager, launched, mirror.apply(host.since(mirror.version)))
    assert len(events) == 2


def test_a_job_poll_that_changed_nothing_publishes_nothing():
    events: list = []
    manager, launched, _, _ = hosted_manager(events, 4)
    assert launched.job_rows.replace([job(i, "PENDING") for i in range(400)])
    manager._publish(launched)
    assert len(events[-1][2]["jobs"]["upsert"]) == 400
    count = len(events)
    assert not launched.job_rows.replace([job(i, "PENDING") for i in range(400)])
    manager._publish(launched)  # as a state change of the cluster would: no rows with it
    assert len(events) == count
    polled = [job(i, "PENDING") for i in range(400)]
    polled[7] = job(7)
    del polled[9]
    assert launched.job_rows.replace(polled)
    manager._publish(launched)
    assert events[-1][2] == {"jobs": {"upsert": [job(7)], "remove": [job(9)["job_id"]]}}


def test_the_mirror_follows_the_host_through_random_changes(monkeypatch):
    """Random changes on a host's model; watchers at different paces (each answer applied to
    a mirror, and the patch it yields applied to a sidebar's copy) always end equal to it."""
    monkeypatch.setattr(changes, "MAX_TOMBSTONES", 8)  # watchers far behind start over
    rng = random.Random(14)
    host = changes.VersionedModel({"state": "starting", "messages": []})
    rows: dict[str, dict] = {}
    mirrors = [changes.Mirror() for _ in range(4)]
    sidebars: list[dict] = [{} for _ in mirrors]
    starts_over = 0
    for step in range(3000):
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(40)
            roll = rng.random()
            if roll < 0.4:
                rows[worker(i)["name"]] = worker(i, rng.choice(["init", "running", "paused"]))
            elif roll < 0.7:
                rows.pop(worker(i)["name"], None)
            elif roll < 0.8:
                host.update({"state": rng.choice(["starting", "running"])})
            elif roll < 0.85:
                host.update({"messages": [f"message {step}"]})
        before = host.version
        changed = host.update({}, list(rows.values()))
        assert changed == (host.version == before + 1)
        for n, mirror in enumerate(mirrors):
            if rng.random() < [1.0, 0.5, 0.1, 0.02][n]:
                answer = host.since(mirror.version)
                starts_over += bool(answer.get("full")) and mirror.version > 0
                patch = mirror.apply(answer)
                sidebars[n] = changes.apply(sidebars[n], patch) if sidebars[n] else mirror.whole()
                assert by_name(mirror.whole()) == by_name(host.whole())
                assert by_name(sidebars[n]) == by_name(host.whole())
    assert starts_over  # the tombstones' limit was reached by the slowest watchers


def by_name(model: dict) -> dict:
    """A model with its workers keyed by name (a lagging mirror may order them differently)."""
    fields = {k: v for k, v in model.items() if k not in ("workers", "version")}
    return {**fields, "workers": {w["name"]: w for w in model.get("workers", [])}}
