"""Dask Gateway through the REST API, against a real dask-gateway-server on loopback
(tests/gateway_testbed.py: local backend, password login, a ``worker_profile`` Select and a
``worker_threads`` Integer), with real schedulers and workers behind it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import dask
import pytest

from dask_cluster_launcher.backends.gateway import GatewayBackend
from dask_cluster_launcher.backends.gateway_form import field_schema
from tests.gateway_testbed import PASSWORD, GatewayTestbed
from tests.helpers import wait_cluster, wait_for
from tests.test_rest_local import run_snippet

MEDIUM = {"worker_profile": "Medium Worker", "worker_threads": 2}
COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))"


def settings(bed: GatewayTestbed) -> dict[str, Any]:
    """The extension's gateway settings for the test gateway (as a jupyter_server_config)."""
    return {
        "gateway_address": bed.address,
        "gateway_proxy_address": bed.proxy_address,
        "gateway_auth": "basic",
        "gateway_auth_kwargs": {"username": bed.username, "password": bed.password},
    }


@pytest.fixture
def jp_server_config(gateway_testbed, private_dir, request) -> dict[str, Any]:
    """The extension pointed at the test gateway; ``indirect`` parameters replace its
    ClusterLauncherApp settings ({} for none: dask config only)."""
    app = getattr(request, "param", None)
    app = settings(gateway_testbed) if app is None else dict(app)
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {"private_dir": str(private_dir), **app},
    }


@pytest.fixture(autouse=True)
def clean_gateway(gateway_testbed):
    """No test leaves a cluster on the gateway for the next."""
    yield
    gateway_testbed.stop_clusters()


@pytest.fixture
def api(launcher_api):
    """launcher_api that checks that no response holds the gateway's password."""
    bodies: list[Any] = []

    async def call(*path: str, **kwargs: Any) -> tuple[int, Any]:
        code, body = await launcher_api(*path, **kwargs)
        bodies.append(body)
        return code, body

    yield call
    assert PASSWORD not in json.dumps(bodies)


@pytest.fixture
def notebook_env(gateway_testbed, monkeypatch):
    """A notebook's dask config on a hub: the gateway's address and the user's login
    (``run_snippet`` runs the client code with this process's environment)."""
    for key, value in gateway_testbed.env().items():
        monkeypatch.setenv(key, value)


def watch(serverapp) -> Any:
    """Start the manager's watchers as the server's start does (pytest-jupyter's server is
    not started that way); the manager."""
    manager = serverapp.web_app.settings["dask_cluster_launcher_manager"]
    manager.start_watchers()
    return manager


def gateway_of(backends: list[dict[str, Any]]) -> dict[str, Any]:
    return next(b for b in backends if b["name"] == "gateway")


def running_with(n: int):
    def check(model):
        running = [w for w in model["workers"] if w["status"] == "running"]
        return model["state"] == "running" and len(running) == n == len(model["workers"])

    return check


async def gateway_clusters(bed: GatewayTestbed) -> dict[str, Any]:
    """The gateway's own list of this user's active clusters, by name."""
    async with bed.gateway(asynchronous=True) as gateway:
        return {report.name: report for report in await gateway.list_clusters()}


async def in_another_process(bed: GatewayTestbed, code: str) -> str:
    """Run dask_gateway code in a separate Python (a notebook elsewhere); its stdout."""
    env = {**os.environ, **bed.env()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


MAKE_CLUSTER = """
from dask_gateway import Gateway
gateway = Gateway()  # the dask config (DASK_GATEWAY__*), as in a hub's notebook
cluster = gateway.new_cluster(worker_profile="Small Worker", shutdown_on_close=False)
cluster.scale(1)
print(cluster.name)
"""


# --- the form -------------------------------------------------------------------------------------
def test_every_option_type_becomes_a_schema_field():
    from dask_gateway.options import Bool, Float, Integer, Mapping, Select, String

    value = {"type": ["string", "number", "boolean", "null"], "maxLength": 4096}
    fields = [
        Select("profile", "Small", label="Profile", options=["Small", "Large"]),
        Integer("cores", 2, label="Cores", min=1, max=8),
        Float("memory", 1.5, min=0.5),
        String("image", "daskdev/dask", label="Image"),
        Bool("spot", False, label="Spot"),
        Mapping("environment", {"A": "1"}, label="Environment"),
    ]
    schemas = {f.field: field_schema(f, value) for f in fields}
    assert schemas["profile"] == {
        "title": "Profile", "default": "Small", "type": "string", "enum": ["Small", "Large"]
    }  # fmt: skip
    assert schemas["cores"] == {
        "title": "Cores", "default": 2, "type": "integer", "minimum": 1, "maximum": 8
    }  # fmt: skip
    assert schemas["memory"] == {
        "title": "memory", "default": 1.5, "type": "number", "minimum": 0.5
    }  # fmt: skip
    assert schemas["image"]["type"] == "string" and schemas["image"]["maxLength"] == 4096
    assert schemas["spot"] == {"title": "Spot", "default": False, "type": "boolean"}
    assert schemas["environment"]["type"] == "object"
    assert schemas["environment"]["additionalProperties"] == value
    assert schemas["environment"]["default"] == {"A": "1"}


async def test_form_is_the_gateways_cluster_options(api, gateway_testbed):
    started = time.monotonic()
    code, backends = await api("backends")
    print(f"backends with the gateway's options: {time.monotonic() - started:.2f} s")
    assert code == 200
    backend = gateway_of(backends)
    assert backend["available"] is True and backend["reason"] is None
    schema = backend["schema"]
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == ["worker_profile", "worker_threads"]
    assert schema["properties"]["worker_profile"] == {
        "title": "Worker profile",
        "default": "Small Worker",
        "type": "string",
        "enum": ["Small Worker", "Medium Worker"],
    }
    threads = schema["properties"]["worker_threads"]
    assert threads["type"] == "integer" and (threads["minimum"], threads["maximum"]) == (1, 2)
    assert backend["defaults"] == {"worker_profile": "Small Worker", "worker_threads": 1}

    code, preview = await api(
        "preview", method="POST", body={"backend": "gateway", "options": MEDIUM}
    )
    assert code == 200 and preview["job_script"] is None
    assert preview["code"].startswith("from dask_gateway import GatewayCluster\n")
    assert f"    address={gateway_testbed.address!r},\n" in preview["code"]
    assert "    worker_profile='Medium Worker',\n" in preview["code"]
    assert "    auth='basic',\n" in preview["code"]
    compile(preview["code"], "preview", "exec")


@pytest.mark.parametrize("jp_server_config", [{}], indirect=True)
async def test_configured_by_dask_config_alone(api, gateway_testbed):
    """No server setting: the gateway.* dask config (as /etc/dask/gateway.yaml) is enough."""
    with dask.config.set(gateway_testbed.dask_config()):
        code, backends = await api("backends")
        assert gateway_of(backends)["available"] is True
        assert "worker_profile" in gateway_of(backends)["schema"]["properties"]
    code, backends = await api("backends")
    backend = gateway_of(backends)
    assert backend["available"] is False and "gateway.address" in backend["reason"]
    code, error = await api("clusters", method="POST", body={"backend": "gateway"})
    assert code == 400 and error["field"] == "backend" and "not available" in error["message"]


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"worker_profile": "Huge Worker"}, "options.worker_profile", "'Small Worker'"),
        ({"worker_threads": 3}, "options.worker_threads", "at most 2"),
        ({"worker_threads": 1.0}, "options.worker_threads", "integer"),
        ({"colour": "blue"}, "options.colour", "not a known option"),
        ({"worker_profile": "Small\nWorker"}, "options.worker_profile", "line-breaking"),
    ],
)
async def test_invalid_options_are_refused_naming_the_field(api, options, field, message):
    code, error = await api(
        "clusters", method="POST", body={"backend": "gateway", "options": options}
    )
    assert code == 400, error
    assert error["field"] == field and message in error["message"], error
    _, clusters = await api("clusters")
    assert clusters == []


@pytest.mark.parametrize(
    "jp_server_config",
    [{"gateway_address": "http://127.0.0.1:9", "gateway_call_timeout": 5.0}],
    indirect=True,
)
async def test_a_gateway_that_is_down_is_said_so(api):
    started = time.monotonic()
    code, backends = await api("backends")
    assert code == 200 and time.monotonic() - started < 5
    backend = gateway_of(backends)
    assert "Could not read the gateway's options" in backend["schema"]["description"]
    code, error = await api("clusters", method="POST", body={"backend": "gateway"})
    assert code == 502 and "Dask Gateway" in error["message"], error


# --- clusters the sidebar launches -------------------------------------------------------------
async def test_launch_use_scale_adapt_stop(api, gateway_testbed, notebook_env):
    request = {"backend": "gateway", "options": MEDIUM, "scaling": {"workers": 1}}
    started = time.monotonic()
    code, model = await api("clusters", method="POST", body=request)
    assert code == 202 and model["state"] == "starting" and model["external"] is False
    model = await wait_cluster(api, model["id"], running_with(1))
    print(f"launch -> 1 worker running: {time.monotonic() - started:.2f} s")
    [name] = await gateway_clusters(gateway_testbed)
    assert model["scheduler_address"] == f"gateway://{gateway_testbed.proxy_address}/{name}"
    assert model["dashboard_link"] == f"{gateway_testbed.address}/clusters/{name}/status"
    assert model["dashboard_url"].endswith(f"/clusters/{name}/status")
    [worker] = model["workers"]
    assert worker["nthreads"] == 2 and worker["memory_limit"] == 2 * 2**30  # Medium Worker: 2 GiB
    assert (await gateway_clusters(gateway_testbed))[name].options == MEDIUM

    code, snippet = await api("clusters", model["id"], "snippet")
    assert code == 200
    assert f"gateway.connect({name!r})" in snippet["code"] and PASSWORD not in snippet["code"]
    assert (await run_snippet(snippet["code"], COMPUTE)).split() == ["42", "1"]

    code, model = await api("clusters", model["id"], method="PATCH", body={"workers": 2})
    assert code == 200 and model["scaling"] == {"workers": 2}
    joined = time.monotonic()
    await wait_cluster(api, model["id"], running_with(2))
    print(f"scale(2): second worker shown after {time.monotonic() - joined:.2f} s")

    adapt = {"adapt": {"minimum": 1, "maximum": 2}}
    code, model = await api("clusters", model["id"], method="PATCH", body=adapt)
    assert code == 200 and model["scaling"] == adapt
    await wait_cluster(api, model["id"], running_with(1))  # idle: adapts down to the minimum

    _, clusters = await api("clusters")
    assert [c["id"] for c in clusters] == [model["id"]]  # not listed a second time as external
    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204
    assert await gateway_clusters(gateway_testbed) == {}
    _, clusters = await api("clusters")
    assert clusters == []


async def test_a_stop_racing_the_start_leaves_nothing_on_the_gateway(api, gateway_testbed):
    for delay in (0, 0.5):  # before the gateway named it, and while its scheduler starts
        code, model = await api("clusters", method="POST", body={"backend": "gateway"})
        assert code == 202
        await asyncio.sleep(delay)
        code, _ = await api("clusters", model["id"], method="DELETE")
        assert code == 204

        async def gone():
            return await gateway_clusters(gateway_testbed) == {}

        await wait_for(gone, timeout=30)
        await asyncio.sleep(2.5)  # a discovery later, still nothing
        assert await gateway_clusters(gateway_testbed) == {}
        _, clusters = await api("clusters")
        assert clusters == []


# --- clusters it did not launch ------------------------------------------------------------------
async def test_a_notebooks_cluster_is_listed_used_scaled_and_stopped(
    api, gateway_testbed, jp_serverapp
):
    watch(jp_serverapp)
    name = await in_another_process(gateway_testbed, MAKE_CLUSTER)
    made = time.monotonic()
    model = await wait_cluster(api, f"gateway-{name}", lambda m: m is not None and "id" in m)
    print(f"a notebook's cluster is listed after {time.monotonic() - made:.2f} s")
    assert model["external"] is True and model["state"] == "running" and model["name"] == name
    _, listed = await api("clusters")  # what the sidebar loads: marked external there too
    assert [(c["id"], c["external"]) for c in listed] == [(model["id"], True)]
    model = await wait_cluster(api, model["id"], running_with(1))
    assert model["workers"][0]["nthreads"] == 1  # Small Worker

    code, snippet = await api("clusters", model["id"], "snippet")
    assert code == 200 and f"gateway.connect({name!r})" in snippet["code"]

    code, model = await api("clusters", model["id"], method="PATCH", body={"workers": 2})
    assert code == 200
    await wait_cluster(api, model["id"], running_with(2))

    code, _ = await api("clusters", model["id"], method="DELETE")
    assert code == 204
    assert await gateway_clusters(gateway_testbed) == {}
    await asyncio.sleep(2.5)  # a discovery later: not listed again
    _, clusters = await api("clusters")
    assert clusters == []


async def test_server_shutdown_stops_its_clusters_and_lets_the_others_go(
    api, gateway_testbed, jp_serverapp
):
    manager = watch(jp_serverapp)
    code, launched = await api("clusters", method="POST", body={"backend": "gateway"})
    assert code == 202
    external = await in_another_process(gateway_testbed, MAKE_CLUSTER)
    await wait_cluster(api, launched["id"], lambda m: m["state"] == "running")
    await wait_cluster(api, f"gateway-{external}", lambda m: m is not None and "id" in m)

    await manager.close_all()
    assert list(await gateway_clusters(gateway_testbed)) == [external]


async def test_a_cluster_stopped_elsewhere_is_reported(api, gateway_testbed):
    code, model = await api("clusters", method="POST", body={"backend": "gateway"})
    assert code == 202
    await wait_cluster(api, model["id"], lambda m: m["state"] == "running")
    [name] = await gateway_clusters(gateway_testbed)
    async with gateway_testbed.gateway(asynchronous=True) as gateway:
        await gateway.stop_cluster(name)
    model = await wait_cluster(api, model["id"], lambda m: m["state"] == "failed", timeout=30)
    assert "stopped on the gateway" in model["error"]


def test_settings_come_from_dask_config_with_templates(monkeypatch):
    with dask.config.set({"gateway.address": None}):
        reason = GatewayBackend().unavailable_reason()
    assert reason is not None and "DASK_GATEWAY__ADDRESS" in reason
    monkeypatch.setenv("DCL_TEST_HOST", "gw.example")
    config = {"gateway.address": "http://{DCL_TEST_HOST}:8000", "gateway.auth.type": "jupyterhub"}
    with dask.config.set(config):
        assert GatewayBackend().settings() == {
            "address": "http://gw.example:8000",
            "proxy_address": None,
            "public_address": None,
            "auth": "jupyterhub",
        }
        overridden = GatewayBackend("http://other:8000", auth="kerberos").settings()
        assert overridden["address"] == "http://other:8000" and overridden["auth"] == "kerberos"
