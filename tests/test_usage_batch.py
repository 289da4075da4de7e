"""What a batch cluster used, against the real test beds with their accounting (SLURM's
slurmdbd, Grid Engine's accounting file): live while it runs, the batch system's own numbers
once it stopped, in the stop's last event, in the usage log and from ``dask-cluster-launcher
usage``. One cluster of 2 single-core workers per system: about 60 s on SLURM (the issue's
numbers), 15 s on Grid Engine (qacct's wall clock is in whole seconds: 2 s off in 30 is 7%)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from typing import Any

import pytest

from dask_cluster_launcher import cli, events
from dask_cluster_launcher.usage import shown_hours
from tests.helpers import wait_cluster
from tests.test_rest_batch import BASE_OPTIONS, running_workers, wait_no_jobs

RUN_SECONDS = {"slurm": 60, "sge": 15}
WARNINGS = {"slurm": 0.005, "sge": 0.005}
SACCT_TOTALS = ["sacct", "-X", "-n", "-P", "-S", "now-1hour", "-o", "JobID,State,CPUTimeRAW"]


@pytest.fixture(params=list(RUN_SECONDS))
def bed(request):
    return request.getfixturevalue(f"{request.param}_testbed")


@pytest.fixture
def jp_server_config(private_dir):
    """The site warns its users past 0.005 core-hours (18 core-seconds) on either system."""
    settings = {"private_dir": str(private_dir), "usage_warning_core_hours": WARNINGS}
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": settings,
    }


def accounted_core_hours(system: str, cluster_id: str) -> float:
    """The accounting's own core time of the cluster's jobs (allocated cores x elapsed), in
    hours: sacct's CPUTimeRAW, qacct's slots x ru_wallclock."""
    if system == "slurm":
        total, states = sacct_core_hours(cluster_id)
        assert states and all(state.startswith("CANCELLED") for state in states), states
        return total
    out = subprocess.run(
        ["qacct", "-j", f"dcl-{cluster_id}"], capture_output=True, text=True, check=True
    ).stdout
    slots = [int(n) for n in re.findall(r"^slots\s+(\d+)", out, re.MULTILINE)]
    seconds = [float(n) for n in re.findall(r"^ru_wallclock\s+([\d.]+)", out, re.MULTILINE)]
    assert len(slots) == len(seconds) >= 2, out
    return sum(s * t for s, t in zip(slots, seconds, strict=True)) / 3600


def sacct_core_hours(cluster_id: str) -> tuple[float, list[str]]:
    """sacct's own CPU time (allocated CPUs x elapsed) of the cluster's jobs, in hours."""
    out = subprocess.run(
        [*SACCT_TOTALS, "--name", f"dcl-{cluster_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line]
    return sum(int(cpu) for _, _, cpu in rows) / 3600, [state for _, state, _ in rows]


async def test_a_stopped_cluster_used_what_its_accounting_says_and_says_so(
    launcher_api, bed, private_dir, monkeypatch, capsys
):
    published: list[tuple[str, str, Any]] = []
    publish = events.ClusterEventPublisher.__call__

    def recorded(self: Any, action: str, cluster_id: str, payload: Any) -> None:
        published.append((action, cluster_id, payload))
        publish(self, action, cluster_id, payload)

    monkeypatch.setattr(events.ClusterEventPublisher, "__call__", recorded)
    system = bed.kind
    await wait_no_jobs(bed)
    code, cluster = await launcher_api(
        "clusters",
        method="POST",
        body={"backend": system, "options": BASE_OPTIONS[system], "scaling": {"workers": 2}},
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
    assert model["usage"]["warning_core_hours"] == WARNINGS[system]  # the card flags it past
    run = RUN_SECONDS[system]
    await asyncio.sleep(max(0.0, run - (time.monotonic() - started)))
    _, model = await launcher_api("clusters", cluster_id)
    live = model["usage"]["core_hours"]
    # what the card shows (two decimals): usage is published when that number changes, so
    # the model holds the value the card shows, up to one step (18 s of 2 cores) behind
    least, most = (float(shown_hours(2 * s / 3600)) for s in (run - 10, run + 15))
    assert least <= float(shown_hours(live)) <= most, model["usage"]

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
    expected = accounted_core_hours(system, cluster_id)
    with capsys.disabled():  # the measurement, in the test log
        print(f"\n{system}: live {live}, final {final}, accounting {expected:.4f} core-hours")
    assert abs(final["core_hours"] - expected) <= 0.1 * expected, (final, expected)
    assert [a for a, cid, _ in published if cid == cluster_id][-1] == "removed"

    assert cli.main(["usage", "--private-dir", str(private_dir)]) == 0
    printed = [line.split() for line in capsys.readouterr().out.splitlines()]
    row = next(line for line in printed if cluster_id in line)
    assert row[3] == f"{final['core_hours']:.2f}"  # exact: no "~" of a live estimate
