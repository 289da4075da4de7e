"""Saturn Cloud through the REST API: unmodified dask_saturn against the Saturn emulator on
loopback, with real Dask clusters behind it, in internal (tcp) and external (TLS) mode."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from dask_cluster_launcher.testing.saturn_emulator import AUTH_MESSAGE, SaturnEmulator
from tests.helpers import wait_cluster, wait_for
from tests.test_rest_local import run_snippet

TOKEN = "saturn-secret-5f0c1e"
MEDIUM = "medium: Medium - 2 cores - 4 GB RAM"
LAUNCH = {"backend": "saturn", "options": {"worker_size": "medium", "nthreads": 1}}
COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))"


@pytest.fixture
def emulator() -> Iterator[SaturnEmulator]:
    with SaturnEmulator(token=TOKEN, adapt_interval="200ms") as emu:
        yield emu
        emu.release_hung()


@pytest.fixture
def jp_server_config(emulator, request) -> dict[str, Any]:
    """Depends on the emulator so the server (and its clusters) stop before the emulator.
    ``indirect`` parameters add ClusterLauncherApp settings; "credentials" configures the
    emulator's URL and token as traitlets instead of the environment."""
    app: dict[str, Any] = dict(getattr(request, "param", {}))
    if app.pop("credentials", False):
        app.update(saturn_base_url=emulator.url, saturn_token=emulator.token)
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": app,
    }


@pytest.fixture
def api(launcher_api):
    """launcher_api that records every response body, to check that none holds the token."""
    bodies: list[Any] = []

    async def call(*path: str, **kwargs: Any) -> tuple[int, Any]:
        code, body = await launcher_api(*path, **kwargs)
        bodies.append(body)
        return code, body

    call.bodies = bodies  # type: ignore[attr-defined]
    yield call
    assert TOKEN not in json.dumps(bodies)


def use(emulator, monkeypatch, internal=True, token=None) -> None:
    monkeypatch.delenv("SATURN_IS_INTERNAL", raising=False)
    for key, value in emulator.env(internal=internal).items():
        monkeypatch.setenv(key, value)
    if token is not None:
        monkeypatch.setenv("SATURN_TOKEN", token)


def saturn(backends) -> dict[str, Any]:
    return next(b for b in backends if b["name"] == "saturn")


def running_with(n):
    return lambda m: m["state"] == "running" and len(m["workers"]) == n


async def launch(api, request=LAUNCH) -> dict[str, Any]:
    code, model = await api("clusters", method="POST", body=request)
    assert code == 202, model
    assert model["state"] == "starting" and model["backend"] == "saturn"
    return model


async def test_form_lists_saturn_sizes(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    code, backends = await api("backends")
    assert code == 200
    backend = saturn(backends)
    assert backend["available"] is True and backend["reason"] is None
    props = backend["schema"]["properties"]
    assert set(props) == {"worker_size", "scheduler_size", "worker_is_spot", "nprocs", "nthreads"}
    for key in ("worker_size", "scheduler_size"):
        titles = {o["const"]: o["title"] for o in props[key]["oneOf"]}
        assert titles[""] == "(project default)" and titles["medium"] == MEDIUM
        assert "T4-XLarge - 4 cores - 16 GB RAM - 1 GPU" in titles["g4dnxlarge"]
    code, preview = await api("preview", method="POST", body=LAUNCH)
    assert code == 200 and preview["job_script"] is None
    assert preview["code"].startswith("from dask_saturn import SaturnCluster\n")
    assert (
        "    worker_size='medium',\n" in preview["code"] and "cluster.scale(1)" in preview["code"]
    )
    compile(preview["code"], "preview", "exec")


async def test_without_credentials_saturn_is_unavailable(api, monkeypatch):
    monkeypatch.delenv("SATURN_BASE_URL", raising=False)
    monkeypatch.delenv("SATURN_TOKEN", raising=False)
    code, backends = await api("backends")
    backend = saturn(backends)
    assert code == 200 and backend["available"] is False
    assert "SATURN_BASE_URL and SATURN_TOKEN" in backend["reason"]
    code, error = await api("clusters", method="POST", body=LAUNCH)
    assert code == 400 and error["field"] == "backend" and "not available" in error["message"]


@pytest.mark.parametrize("jp_server_config", [{"credentials": True}], indirect=True)
async def test_credentials_from_the_extension_config_stay_out_of_kernels(
    api, emulator, monkeypatch, jp_fetch
):
    for key in ("SATURN_BASE_URL", "SATURN_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    _, backends = await api("backends")  # dask_saturn calls Saturn with the configured token
    backend = saturn(backends)
    assert backend["available"] is True
    assert backend["schema"]["properties"]["worker_size"]["oneOf"][1]["title"] == MEDIUM

    # a kernel started afterwards (as every kernel, terminal and job) inherits no token
    assert "SATURN_TOKEN" not in os.environ
    response = await jp_fetch("api", "kernels", method="POST", body="{}")
    kernel_id = json.loads(response.body)["id"]
    try:
        kernels = [
            p
            for p in psutil.Process().children(recursive=True)
            if "ipykernel" in " ".join(p.cmdline())
        ]
        assert kernels, "the kernel process was not found"
        for kernel in kernels:
            environment = kernel.environ()
            assert "SATURN_TOKEN" not in environment
            assert TOKEN not in json.dumps(environment)
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_internal_mode_launch_snippet_scale_adapt_stop(api, emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    model = await launch(api)
    model = await wait_cluster(api, model["id"], running_with(1))
    assert model["scheduler_address"].startswith("tcp://127.0.0.1:")
    port = model["dashboard_link"].rsplit(":", 1)[1].split("/")[0]
    assert model["dashboard_url"].endswith(f"proxy/{port}/status")
    assert model["workers"][0]["nthreads"] == 1 and model["workers"][0]["status"] == "running"
    [record] = emulator.clusters()
    assert record["config"]["worker_size"] == "medium" and not record["is_external"]

    code, snippet = await api("clusters", model["id"], "snippet")
    assert code == 200 and "Security" not in snippet["code"]
    assert (await run_snippet(snippet["code"], COMPUTE)).split() == ["42", "1"]

    code, _ = await api("clusters", model["id"], method="PATCH", body={"workers": 2})
    assert code == 200
    await wait_for(lambda: _workers_on_saturn(emulator, 2), timeout=30, interval=0.01)
    joined = time.monotonic()
    await wait_cluster(api, model["id"], running_with(2))
    latency = time.monotonic() - joined
    print(f"a joining worker shows in the REST model after {latency:.2f} s")
    assert latency < 1.5  # the bar is 1 s; slack for a loaded test machine

    adapt = {"adapt": {"minimum": 1, "maximum": 2}}
    code, model = await api("clusters", model["id"], method="PATCH", body=adapt)
    assert code == 200 and model["scaling"] == adapt
    assert emulator.clusters()[0]["adaptive"] == [1, 2]
    await wait_cluster(api, model["id"], running_with(1))  # idle: adapts down to the minimum

    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204
    assert emulator.clusters() == []
    code, clusters = await api("clusters")
    assert clusters == []


async def test_external_tls_mode_snippet_connects(api, emulator, monkeypatch):
    use(emulator, monkeypatch, internal=False)
    model = await launch(api)
    model = await wait_cluster(api, model["id"], running_with(1))
    assert model["scheduler_address"].startswith("tls://127.0.0.1:")
    code, snippet = await api("clusters", model["id"], "snippet")
    assert code == 200
    assert "require_encryption=True" in snippet["code"]
    assert "tls_client_key='-----BEGIN RSA PRIVATE KEY-----" in snippet["code"]
    assert (await run_snippet(snippet["code"], COMPUTE)).split() == ["42", "1"]
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204 and emulator.clusters() == []


async def test_one_saturn_cluster_at_a_time(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    first = await launch(api)
    await wait_cluster(api, first["id"], running_with(1))
    second = await launch(api)
    second = await wait_cluster(api, second["id"], lambda m: m["state"] == "failed")
    assert "one Dask cluster per resource" in second["error"]
    assert len(emulator.clusters()) == 1  # the first one is untouched
    for model in (first, second):
        await api("clusters", model["id"], method="DELETE")
    assert emulator.clusters() == []


async def test_unknown_sizes_are_refused(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    for key in ("worker_size", "scheduler_size"):
        body = {"backend": "saturn", "options": {key: "huge"}}
        for path in ("clusters", "preview"):
            code, error = await api(path, method="POST", body=body)
            assert code == 400 and error["field"] == f"options.{key}", error
            assert "'huge'" in error["message"] and "medium" in error["message"]
    code, error = await api("clusters", method="POST", body={**LAUNCH, "options": {"nprocs": 0}})
    assert code == 400 and error["field"] == "options.nprocs"
    assert emulator.clusters() == []
    _, clusters = await api("clusters")
    assert clusters == []


async def test_wrong_token_fails_with_saturns_message(api, emulator, monkeypatch):
    use(emulator, monkeypatch, token="not-the-token")
    _, backends = await api("backends")
    worker_size = saturn(backends)["schema"]["properties"]["worker_size"]
    assert "oneOf" not in worker_size and AUTH_MESSAGE in worker_size["description"]
    model = await launch(api)
    model = await wait_cluster(api, model["id"], lambda m: m["state"] == "failed")
    assert AUTH_MESSAGE in model["error"]
    assert "not-the-token" not in json.dumps(api.bodies)
    assert emulator.clusters() == []


async def test_saturn_error_message_fails_the_card(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    emulator.fail("/api/dask_clusters", 500, "Saturn is down for maintenance", method="POST")
    model = await launch(api)
    model = await wait_cluster(api, model["id"], lambda m: m["state"] == "failed")
    assert "Saturn is down for maintenance" in model["error"]
    assert emulator.clusters() == []
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204


async def assert_answers_fast(api, seconds):
    """While something hangs on Saturn, the server keeps answering within 0.5 s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        code, _ = await api("clusters")
        assert code == 200 and time.monotonic() - started < 0.5


@pytest.mark.parametrize("jp_server_config", [{"start_timeout": 3.0}], indirect=True)
async def test_a_hanging_create_fails_after_the_start_timeout(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    emulator.hang("/api/dask_clusters", method="POST")
    started = time.monotonic()
    model = await launch(api)
    await assert_answers_fast(api, 2.0)
    model = await wait_cluster(api, model["id"], lambda m: m["state"] == "failed", timeout=10)
    assert 3.0 <= time.monotonic() - started < 5.0
    assert "did not start in time" in model["error"]
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204
    emulator.release_hung()
    assert emulator.clusters() == []


@pytest.mark.parametrize("jp_server_config", [{"saturn_call_timeout": 1.5}], indirect=True)
async def test_hanging_calls_on_a_running_cluster_are_bounded(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    model = await launch(api)
    await wait_cluster(api, model["id"], running_with(1))
    emulator.hang("/api/dask_clusters/*/scale")
    emulator.hang("/api/dask_clusters/*/scheduler_info")
    started = time.monotonic()
    code, error = await api("clusters", model["id"], method="PATCH", body={"workers": 2})
    assert code == 504 and 1.5 <= time.monotonic() - started < 3.0
    assert error["message"] == "Saturn Cloud did not answer (scale) within 1.5 s"
    await assert_answers_fast(api, 1.0)
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204 and emulator.clusters() == []


async def test_stop_while_starting_closes_the_late_cluster(api, emulator, monkeypatch):
    use(emulator, monkeypatch)
    emulator.configure(pending_polls=1)  # dask_saturn sleeps 5-9 s before it asks again
    model = await launch(api)
    await wait_for(lambda: _has_clusters(emulator), timeout=5)
    _, model = await api("clusters", model["id"])
    assert model["state"] == "starting"
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204
    # the constructor finishes in its thread; the launcher closes what it created
    await wait_for(lambda: _no_clusters(emulator), timeout=20, interval=0.2)


async def _has_clusters(emulator):
    return bool(emulator.clusters())


async def _no_clusters(emulator):
    return not emulator.clusters()


async def _workers_on_saturn(emulator, n):
    return emulator.clusters()[0]["workers"] == n


async def test_starting_card_shows_saturns_status(api, emulator, monkeypatch):
    """While Saturn brings the cluster up, its status reaches the card; then it runs."""
    use(emulator, monkeypatch)
    emulator.configure(pending_polls=1)  # dask_saturn then waits 5-9 s before asking again
    cluster = await launch(api)
    model = await wait_cluster(
        api, cluster["id"], lambda m: m["state"] == "starting" and m["messages"], timeout=10
    )
    assert any("Status: pending" in message for message in model["messages"])
    await wait_cluster(api, cluster["id"], running_with(1), timeout=40)
    code, _ = await api("clusters", cluster["id"], method="DELETE")
    assert code == 204
