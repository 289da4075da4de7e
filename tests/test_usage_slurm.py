"""What a SLURM cluster used, against the real test bed with its accounting (slurmdbd): live
while it runs, the batch system's own numbers once it stopped, in the stop's last event, in the
usage log and from ``dask-cluster-launcher usage``. One cluster of 2 single-core workers for
about 60 s (the issue's numbers): the only long test of the usage."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

from dask_cluster_launcher import cli, events
from tests.helpers import wait_cluster
from tests.test_rest_batch import BASE_OPTIONS, running_workers, wait_no_jobs

RUN_SECONDS = 60


def sacct_core_hours(cluster_id: str) -> tuple[float, list[str]]:
    """sacct's own CPU time (allocated CPUs x elapsed) of the cluster's jobs, in hours."""
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-1hour", "--name", f"dcl-{cluster_id}"]
        + ["-o", "JobID,State,CPUTimeRAW"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line]
    return sum(int(cpu) for _, _, cpu in rows) / 3600, [state for _, state, _ in rows]


async def test_a_stopped_cluster_used_what_sacct_says_and_says_so(
    launcher_api, slurm_testbed, private_dir, monkeypatch, capsys
):
    published: list[tuple[str, str, Any]] = []
    publish = events.ClusterEventPublisher.__call__

    def recorded(self: Any, action: str, cluster_id: str, payload: Any) -> None:
        published.append((action, cluster_id, payload))
        publish(self, action, cluster_id, payload)

    monkeypatch.setattr(events.ClusterEventPublisher, "__call__", recorded)
    await wait_no_jobs(slurm_testbed)
    code, cluster = await launcher_api(
        "clusters",
        method="POST",
        body={"backend": "slurm", "options": BASE_OPTIONS["slurm"], "scaling": {"workers": 2}},
    )
    assert code == 202
    cluster_id = cluster["id"]
    assert cluster["usage"] is None  # no job has run yet
    await wait_cluster(launcher_api, cluster_id, lambda m: len(running_workers(m)) == 2)
    started = time.monotonic()

    # live while it runs: cores x elapsed, not final; at most 2 jobs x 1 core x 20 min
    model = await wait_cluster(
        launcher_api, cluster_id, lambda m: (m["usage"] or {}).get("core_hours", 0) > 0
    )
    assert model["usage"]["final"] is False
    assert model["usage"]["most_core_hours"] == round(2 * 20 / 60, 4)
    await asyncio.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - started)))
    _, model = await launcher_api("clusters", cluster_id)
    live = model["usage"]["core_hours"]
    assert 2 * 50 / 3600 < live < 2 * 75 / 3600, model["usage"]

    code, _ = await launcher_api("clusters", cluster_id, method="DELETE")
    assert code == 204
    # the stop's last change carries the accounting's numbers, before the cluster leaves
    usages = [
        payload["fields"]["usage"]
        for action, cid, payload in published
        if cid == cluster_id and action == "changed" and "usage" in payload.get("fields", {})
    ]
    final = usages[-1]
    assert final["final"] is True, usages
    expected, states = sacct_core_hours(cluster_id)
    assert states and all(state.startswith("CANCELLED") for state in states), states
    assert abs(final["core_hours"] - expected) <= 0.1 * expected, (final, expected)
    assert [a for a, cid, _ in published if cid == cluster_id][-1] == "removed"

    assert cli.main(["usage", "--private-dir", str(private_dir)]) == 0
    printed = [line.split() for line in capsys.readouterr().out.splitlines()]
    row = next(line for line in printed if cluster_id in line)
    assert row[3] == f"{final['core_hours']:.2f}"  # exact: no "~" of a live estimate
