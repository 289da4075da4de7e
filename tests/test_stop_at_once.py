"""A launch stopped at once (DELETE right after the POST, or up to 0.2 s later) leaves nothing of
the cluster behind:
what the start was still making in its threads and its host process (credentials, host spec,
worker preload, record, the host itself) is waited for and removed by the stop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil

from dask_cluster_launcher.hosting.records import record_ids

LOCAL_1 = {"backend": "local", "options": {"threads_per_worker": 1}, "scaling": {"workers": 1}}
#: Each launch and stop takes ~1.3 s, and nearly every stop lands while its host process starts
#: (46 of 50, 24 of 25 measured at load 8), so 25 reach the start's steps without 50's minute.
LAUNCHES = 25
#: Seconds between a launch and its stop, in turn: on a busy machine stops made at once all came
#: before any host process started (none of 25 in one CI run), and the test said nothing of them.
STOP_AFTER = (0.0, 0.0, 0.05, 0.1, 0.2)


def host_processes(ids: set[str]) -> list[str]:
    """The host processes (named ``dcl<cluster id>``, see ``hosting.start``) of these clusters."""
    names = {f"dcl{i}"[:15] for i in ids}
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in names:
            found.append(f"{process.info['name']} (pid {process.pid})")
    return found


def worker_processes() -> list[str]:
    """Dask worker processes started from this process: spawned (multiprocessing's
    ``spawn_main``) or forked from a host's worker fork server (named ``dclw<cluster id>``)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()) or child.name().startswith("dclw"):
                found.append(f"pid {child.pid}")
        except psutil.NoSuchProcess:
            continue
    return found


async def test_launches_stopped_at_once_leave_no_file_and_no_host(
    launcher_api, jp_serverapp, private_dir: Path
):
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    ids: set[str] = set()
    stops: list[float] = []
    for launch in range(LAUNCHES):
        code, cluster = await launcher_api("clusters", method="POST", body=LOCAL_1)
        assert code == 202, cluster
        # at every step of the start: at once (its credentials being written), or up to 0.2 s
        # later (its host process starting, or listening)
        await asyncio.sleep(STOP_AFTER[launch % len(STOP_AFTER)])
        began = time.monotonic()
        code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
        stops.append(time.monotonic() - began)
        assert code == 204
        ids.add(cluster["id"])
    # a thread or a process the stop did not wait for finishes its work within this
    await asyncio.sleep(2.0)

    clusters = private_dir / "clusters"
    left = sorted(
        f"{path.relative_to(private_dir)}: {sorted(p.name for p in path.rglob('*'))}"
        for path in (clusters.iterdir() if clusters.exists() else [])
        if path.name in ids
    )
    assert not left, f"files of stopped clusters in the private directory: {left}"
    assert not ids & record_ids(manager.records_dir), "records of stopped clusters"
    assert not host_processes(ids), "host processes of stopped clusters"
    assert not worker_processes(), "worker processes of stopped clusters"
    code, listed = await launcher_api("clusters")
    assert code == 200 and not ids & {c["id"] for c in listed}
    # not vacuous: some stops came while a host process was starting (it logs from its start)
    hosts = sum((private_dir / "logs" / i / "host.log").exists() for i in ids)
    assert hosts, "no stop came while a host was starting"
    stops.sort()
    print(
        f"{hosts} of {LAUNCHES} stopped while their host started; DELETE after POST: "
        f"median {stops[len(stops) // 2]:.2f} s, longest {stops[-1]:.2f} s"
    )
