"""The REST API against a real Jupyter server and real local Dask clusters."""

from __future__ import annotations

import asyncio
import json
import sys

import psutil
import pytest

from dask_cluster_launcher import changes
from dask_cluster_launcher.events import CLUSTER_EVENT_SCHEMA_ID
from tests.helpers import wait_for

FIXED_2 = {"backend": "local", "options": {"threads_per_worker": 1}, "scaling": {"workers": 2}}


def dask_worker_processes() -> list[psutil.Process]:
    """Worker processes started from this test process: spawned (``spawn_main``) or forked
    from a host's worker fork server (``hosting.worker_forkserver``: named ``dclw<id>``)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()) or child.name().startswith("dclw"):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


async def run_snippet(code: str, extra: str) -> str:
    """Run notebook code in a separate Python process, as a kernel would."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code + extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def launch_running(launcher_api, request=FIXED_2, workers=2):
    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster

    async def ready():
        _, model = await launcher_api("clusters", cluster["id"])
        running = [w for w in model["workers"] if w["status"] == "running"]
        return model if model["state"] == "running" and len(running) == workers else None

    return await wait_for(ready, timeout=90)


async def test_backends_and_profiles_describe_the_local_form(launcher_api):
    code, backends = await launcher_api("backends")
    assert code == 200
    local = next(b for b in backends if b["name"] == "local")
    assert local["available"] is True
    assert set(local["schema"]["properties"]) == {"threads_per_worker", "processes", "memory_limit"}
    assert local["defaults"]["memory_limit"] == "auto"
    code, profiles = await launcher_api("profiles")
    assert code == 200
    assert profiles[0]["name"] == "local" and profiles[0]["source"] == "builtin"


async def test_launch_answers_at_once_then_runs_scales_and_stops(
    launcher_api, jp_base_url, jp_fetch
):
    code, cluster = await launcher_api("clusters", method="POST", body=FIXED_2)
    assert code == 202
    assert cluster["state"] == "starting" and cluster["workers"] == []

    async def running():
        _, m = await launcher_api("clusters", cluster["id"])
        live = [w for w in m["workers"] if w["status"] == "running"]
        return m if m["state"] == "running" and len(live) == 2 else None

    model = await wait_for(running, timeout=90)
    assert model["scheduler_address"].startswith("tls://127.0.0.1:")
    # the dashboard has no port of its own: this server relays it from a private socket
    assert model["dashboard_link"] is None
    dashboard_path = f"dask-cluster-launcher/dashboard/{cluster['id']}/status"
    assert model["dashboard_url"] == f"{jp_base_url}{dashboard_path}"
    page = await jp_fetch(*dashboard_path.split("/"))
    assert page.code == 200 and b"Dask" in page.body
    assert {w["nthreads"] for w in model["workers"]} == {1}
    # the worker processes forked from the host's fork server, which has distributed imported
    # (a spawned worker imports it again: seconds per worker on a busy machine)
    forked = [
        p for p in psutil.process_iter(["name"]) if p.info["name"] == f"dclw{cluster['id']}"[:15]
    ]
    assert len(forked) == 3  # the fork server and the 2 workers

    code, model = await launcher_api("clusters", cluster["id"], method="PATCH", body={"workers": 3})
    assert code == 200 and model["scaling"] == {"workers": 3}
    await wait_for(lambda: _count_workers(launcher_api, cluster["id"], 3), timeout=90)

    code, model = await launcher_api(
        "clusters", cluster["id"], method="PATCH", body={"adapt": {"minimum": 1, "maximum": 2}}
    )
    assert code == 200 and model["scaling"] == {"adapt": {"minimum": 1, "maximum": 2}}
    await wait_for(lambda: _count_workers(launcher_api, cluster["id"], 1), timeout=90)

    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204
    code, body = await launcher_api("clusters", cluster["id"])
    assert code == 404 and cluster["id"] in body["message"]
    code, clusters = await launcher_api("clusters")
    assert clusters == []
    await wait_for(_no_worker_processes, timeout=30)


async def _count_workers(launcher_api, cluster_id, n):
    _, model = await launcher_api("clusters", cluster_id)
    return len(model["workers"]) == n


async def _no_worker_processes():
    return not dask_worker_processes()


async def test_snippet_connects_from_another_process(launcher_api, jp_base_url):
    request = {**FIXED_2, "name": "it's \"quoted\"'); import os; os._exit(3) #"}
    model = await launch_running(launcher_api, request)
    code, snippet = await launcher_api("clusters", model["id"], "snippet")
    assert code == 200
    lines = snippet["code"].splitlines()
    assert f"client = Client({model['scheduler_address']!r}, security=security)" in lines
    assert "BEGIN" not in snippet["code"]  # paths to the private files, no key material
    out = await run_snippet(
        snippet["code"],
        "\nprint(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))"
        "\nprint(client.dashboard_link)",
    )
    answer, workers, dashboard = out.split()
    assert (answer, workers) == ("42", "2")
    # the client's own dashboard link goes through the Jupyter server, like the card's
    assert dashboard == model["dashboard_url"]
    await launcher_api("clusters", model["id"], method="DELETE")


async def test_preview_gives_code_that_reproduces_the_cluster(launcher_api):
    code, preview = await launcher_api(
        "preview", method="POST", body={"backend": "local", "options": {"threads_per_worker": 2}}
    )
    assert code == 200
    assert preview["job_script"] is None
    assert "from dask.distributed import LocalCluster" in preview["code"]
    assert "    threads_per_worker=2,\n" in preview["code"]
    compile(preview["code"], "preview", "exec")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"backend": "nope"}, "backend"),
        ({"backend": "local", "options": {"threads_per_worker": 0}}, "options.threads_per_worker"),
        (
            {"backend": "local", "options": {"threads_per_worker": 1.5}},
            "options.threads_per_worker",
        ),
        (
            {"backend": "local", "options": {"threads_per_worker": "2"}},
            "options.threads_per_worker",
        ),
        ({"backend": "local", "options": {"bogus": 1}}, "options.bogus"),
        (
            {"backend": "local", "options": {"memory_limit": "2 GiB\nrm -rf"}},
            "options.memory_limit",
        ),
        ({"backend": "local", "scaling": {"workers": -1}}, "scaling.workers"),
        (
            {"backend": "local", "scaling": {"adapt": {"minimum": 3, "maximum": 2}}},
            "scaling.adapt.minimum",
        ),
        ({"backend": "local", "name": "a\nb"}, "name"),
        ({"profile": "nope"}, "profile"),
        ({"backend": "local", "surprise": True}, "surprise"),
    ],
)
async def test_bad_input_gets_400_naming_the_field_and_starts_nothing(launcher_api, body, field):
    code, error = await launcher_api("clusters", method="POST", body=body)
    assert code == 400, error
    assert error["field"] == field
    assert error["message"].startswith(field)
    _, clusters = await launcher_api("clusters")
    assert clusters == []
    assert not dask_worker_processes()


async def test_not_json_and_unknown_cluster(launcher_api):
    code, error = await launcher_api("clusters", method="POST", body="{not json")
    assert code == 400 and error["field"] == "body"
    for method, body in (("GET", None), ("PATCH", {"workers": 1}), ("DELETE", None)):
        code, error = await launcher_api("clusters", "nope", method=method, body=body)
        assert code == 404, (method, error)
    code, error = await launcher_api("clusters", "nope", "snippet")
    assert code == 404


async def test_failed_start_shows_the_reason_and_leaves_nothing(launcher_api, jp_serverapp):
    manager = jp_serverapp.web_app.settings["dask_cluster_launcher_manager"]
    manager.start_timeout = 0.01
    code, cluster = await launcher_api("clusters", method="POST", body=FIXED_2)
    assert code == 202

    async def failed():
        _, model = await launcher_api("clusters", cluster["id"])
        return model if model["state"] == "failed" else None

    model = await wait_for(failed, timeout=30)
    assert model["error"] == "the cluster did not start in time"
    code, error = await launcher_api("clusters", cluster["id"], "snippet")
    assert code == 409 and "failed" in error["message"]
    await wait_for(_no_worker_processes, timeout=30)
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


async def test_live_events_show_workers_joining_and_the_cluster_leaving(launcher_api, jp_ws_fetch):
    ws = await jp_ws_fetch("dask-cluster-launcher", "events")
    seen: list[dict] = []
    models: dict[str, dict] = {}  # the cluster as the sidebar rebuilds it from the events

    async def read_until(predicate, timeout=90):
        async def step():
            message = json.loads(await ws.read_message())
            if message.get("schema_id") == CLUSTER_EVENT_SCHEMA_ID:
                if message["action"] == "updated":
                    models[message["cluster_id"]] = message["cluster"]
                elif message["action"] == "changed":
                    model = models[message["cluster_id"]]
                    models[message["cluster_id"]] = changes.apply(model, message["changes"])
                message["cluster"] = models.get(message["cluster_id"])
                seen.append(message)
                return predicate(message)
            return False

        return await asyncio.wait_for(_until(step), timeout)

    code, cluster = await launcher_api("clusters", method="POST", body=FIXED_2)
    assert code == 202
    await read_until(
        lambda m: (
            m["action"] in ("updated", "changed")
            and m["cluster"]["state"] == "running"
            and len([w for w in m["cluster"]["workers"] if w["status"] == "running"]) == 2
        )
    )
    assert seen[0]["action"] == "updated" and seen[0]["cluster"]["state"] == "starting"
    # after the first event only what changed travels: no event repeats the whole worker list
    patches = [m["changes"] for m in seen if m["action"] == "changed"]
    assert patches and all(len(p.get("workers", {}).get("upsert", [])) <= 2 for p in patches)
    await launcher_api("clusters", cluster["id"], method="DELETE")
    await read_until(lambda m: m["action"] == "removed" and m["cluster_id"] == cluster["id"])
    ws.close()


async def _until(step):
    while not await step():
        pass
    return True


async def test_server_shutdown_stops_every_cluster(launcher_api, jp_serverapp):
    await launch_running(launcher_api)
    assert dask_worker_processes()
    await jp_serverapp._cleanup()
    await wait_for(_no_worker_processes, timeout=30)
