"""The Saturn backend's own logic, without Saturn: bounded calls off the event loop, rate-limited
worker reads, the client's TLS security, options to SaturnCluster arguments."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from dask_cluster_launcher.backends.saturn import (
    SaturnBackend,
    SaturnCloudError,
    SaturnTimeout,
    _Watched,
)


async def test_a_hung_call_times_out_and_the_loop_keeps_running():
    backend = SaturnBackend()
    release, abandoned = threading.Event(), []

    def hang():
        release.wait(10)
        return "late result"

    async def ticks():
        worst, deadline = 0.0, time.monotonic() + 0.5
        while time.monotonic() < deadline:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - started)
        return worst

    started = time.monotonic()
    call = backend._call("start", hang, 0.5, on_abandoned=abandoned.append)
    results = await asyncio.gather(call, ticks(), return_exceptions=True)
    assert isinstance(results[0], SaturnTimeout) and results[0].status == 504
    assert str(results[0]) == "Saturn Cloud did not answer (start) within 0.5 s"
    assert time.monotonic() - started < 1.0 and results[1] < 0.1  # the loop never stalled
    release.set()  # the late result is handed over, e.g. to close a cluster created late
    for _ in range(100):
        if abandoned:
            break
        await asyncio.sleep(0.01)
    assert abandoned == ["late result"]


async def test_errors_keep_saturns_message():
    def refuse():
        raise ValueError("Invalid or missing API token")

    with pytest.raises(SaturnCloudError, match=r"^Invalid or missing API token$") as info:
        await SaturnBackend()._call("sizes", refuse, 5)
    assert info.value.status == 502


class FakeCluster:
    """What the backend reads from a SaturnCluster; ``scheduler_info`` is an HTTP call there."""

    dask_cluster_id = "abc"

    def __init__(self):
        self.calls = 0
        self.workers = {"tcp://10.0.0.2:4000": {"name": "w0", "host": "10.0.0.2", "nthreads": 2}}

    @property
    def scheduler_info(self):
        self.calls += 1
        return {"workers": dict(self.workers)}


async def test_workers_are_read_at_most_twice_a_second():
    backend, cluster = SaturnBackend(), FakeCluster()
    backend._watched[cluster.dask_cluster_id] = _Watched()
    rows = await backend.workers(cluster)  # the first read shows in the same poll
    assert [(r["name"], r["host"], r["nthreads"]) for r in rows] == [("w0", "10.0.0.2", 2)]
    cluster.workers["tcp://10.0.0.3:4000"] = {"name": "w1", "nthreads": 2}
    joined, seen = time.monotonic(), None
    while time.monotonic() - joined < 1.2:  # the manager polls every 0.2 s; poll faster
        rows = await backend.workers(cluster)
        if len(rows) == 2 and seen is None:
            seen = time.monotonic() - joined
        await asyncio.sleep(0.05)
    assert seen is not None and seen < 0.7
    assert 2 <= cluster.calls <= 4  # about one call per 0.5 s, not one per poll


def test_client_security_is_the_tls_material_from_saturn():
    backend = SaturnBackend()
    internal = SimpleNamespace(security=SimpleNamespace(tls_ca_file=None))
    assert backend.client_security(internal) is None
    pem = {"tls_ca_file": "CA PEM", "tls_client_cert": "CERT PEM", "tls_client_key": "KEY PEM"}
    external = SimpleNamespace(security=SimpleNamespace(require_encryption=True, **pem))
    assert backend.client_security(external) == pem


def test_options_map_to_saturn_cluster_arguments():
    backend = SaturnBackend()
    options = {**backend.defaults(), "worker_size": "large"}
    kwargs = backend.cluster_kwargs(options, cluster_id="x", cluster_name="x")
    assert kwargs == {"worker_size": "large", "worker_is_spot": False, "nprocs": 1}
    options = {**options, "scheduler_size": "medium", "nthreads": 3, "worker_is_spot": True}
    kwargs = backend.cluster_kwargs(options, cluster_id="x", cluster_name="x")
    assert kwargs["scheduler_size"] == "medium" and kwargs["nthreads"] == 3


def test_credentials_come_from_config_then_environment(monkeypatch):
    monkeypatch.setenv("SATURN_BASE_URL", "https://env.example/")
    monkeypatch.setenv("SATURN_TOKEN", "env-token")
    assert SaturnBackend().credentials() == ("https://env.example/", "env-token")
    assert SaturnBackend("https://cfg.example/", "cfg").credentials()[0] == "https://cfg.example/"
    assert SaturnBackend().unavailable_reason() is None
    assert "is not a URL" in str(SaturnBackend("saturn.example", "t").unavailable_reason())
    monkeypatch.delenv("SATURN_TOKEN")
    assert "SATURN_TOKEN" in str(SaturnBackend().unavailable_reason())
