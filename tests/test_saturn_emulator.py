"""The Saturn emulator against unmodified dask_saturn 0.4.4, with real Dask clusters behind it.

dask_saturn reads SATURN_* at call time (``Settings()`` is built in each call), so monkeypatching
the environment before each call is enough.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import dask_saturn
import psutil
import pytest
import requests
from distributed import Client, Security
from distributed.comm import connect

from dask_cluster_launcher.testing.saturn_emulator import AUTH_MESSAGE, SIZES, SaturnEmulator

TOKEN = "test-token"
# dask_saturn's Cluster.__del__ compares its string status with an enum and warns.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed cluster:ResourceWarning")


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(0.05)


def n_workers(client: Client) -> int:
    return len(client.scheduler_info()["workers"])


@pytest.fixture
def emulator() -> Iterator[SaturnEmulator]:
    with SaturnEmulator(token=TOKEN, adapt_interval="200ms") as emu:
        yield emu
        gc.collect()  # let dask_saturn's SaturnCluster.__del__ run while the server is up
    assert emu.clusters() == []


def use(emulator: SaturnEmulator, monkeypatch: pytest.MonkeyPatch, internal: bool) -> None:
    monkeypatch.delenv("SATURN_IS_INTERNAL", raising=False)
    for key, value in emulator.env(internal=internal).items():
        monkeypatch.setenv(key, value)


def api(emulator: SaturnEmulator, method: str, path: str, body: object = None) -> requests.Response:
    headers = {"Authorization": f"token {emulator.token}"}
    data = None if body is None else json.dumps(body)  # no Content-Type, like dask_saturn
    return requests.request(method, emulator.url + path, data=data, headers=headers, timeout=30)


def test_describe_sizes(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    sizes = dask_saturn.describe_sizes()
    assert list(sizes) == [s[0] for s in SIZES]
    assert sizes["medium"] == "Medium - 2 cores - 4 GB RAM"
    assert sizes["8xlarge"] == "8XLarge - 32 cores - 256 GB RAM"
    assert all("GPU" in sizes[name] for name in sizes if name.startswith(("g4dn", "p3")))


def test_internal_mode_end_to_end(emulator, monkeypatch, caplog):
    use(emulator, monkeypatch, internal=True)
    cluster = dask_saturn.SaturnCluster(n_workers=1, worker_size="medium", nthreads=1)
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert not cluster.security.require_encryption
    assert cluster.status == "ready"
    [record] = emulator.clusters()
    assert record["id"] == cluster.name and record["workers"] == 1 and not record["is_external"]
    assert requests.get(cluster.dashboard_link, timeout=10).status_code == 200
    with Client(cluster) as client:
        assert client.submit(lambda x: x + 1, 1).result() == 2
        cluster.scale(2)
        wait_for(lambda: n_workers(client) == 2)
        assert "workers=2" in repr(cluster)  # scheduler_info over HTTP
        # get-or-create: same cluster, and a warning about the differing configuration
        again = dask_saturn.SaturnCluster(n_workers=1)
        assert again.name == cluster.name
        assert "use SaturnCluster.reset()" in caplog.text
        cluster.adapt(minimum=1, maximum=3)  # idle: adaptive scales down to the minimum
        wait_for(lambda: n_workers(client) == 1)
        assert emulator.clusters()[0]["adaptive"] == [1, 3]
    cluster.close()
    assert emulator.clusters() == []
    assert cluster.status == "closed"
    with pytest.raises(ValueError, match="Cluster is not running"):
        cluster.scheduler_info  # noqa: B018


def test_reset_recreates_the_cluster(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    first = dask_saturn.SaturnCluster(n_workers=1, nthreads=1)
    second = dask_saturn.SaturnCluster.reset(n_workers=2, nthreads=1)
    assert second.name != first.name and first.status == "closed"
    [record] = emulator.clusters()
    assert record["id"] == second.name and record["workers"] == 2
    second.close()


def test_external_tls_mode(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=False)
    cluster = dask_saturn.SaturnCluster(n_workers=1, worker_size="medium", nthreads=1)
    address = cluster.scheduler_address
    assert address.startswith("tls://127.0.0.1:")
    security = cluster.security  # built by dask_saturn from the CSR reply
    assert security.require_encryption and security.tls_ca_file == emulator.ca.cert_pem
    with Client(cluster) as client:
        assert client.submit(lambda x: x + 1, 1).result() == 2
        cluster.scale(2)
        wait_for(lambda: n_workers(client) == 2)
    # the emulator's CA but a client certificate it did not sign: mutual TLS refuses it
    stranger = Security.temporary()
    forged = Security(
        tls_ca_file=emulator.ca.cert_pem,
        tls_client_cert=stranger.tls_client_cert,
        tls_client_key=stranger.tls_client_key,
        require_encryption=True,
    )
    # connections as a Client opens them (distributed's comm layer), on one event loop: three
    # Clients would each start and stop a loop thread, which a loaded machine can delay
    asyncio.run(_refused(address, forged))
    cluster.close()
    assert emulator.clusters() == []


async def _refused(address: str, forged: Security) -> None:
    with pytest.raises(OSError):  # plain tcp://, no credentials: the TLS listener hangs up
        await connect(address.replace("tls://", "tcp://"), timeout="2s")
    with pytest.raises(TypeError, match="ssl_context"):  # tls:// without credentials
        await connect(address, timeout="2s")
    with pytest.raises(OSError):  # the handshake that follows the TLS one fails: no peer
        await connect(address, timeout="2s", **forged.get_connection_args("client"))


def dask_children() -> set[int]:
    """Child processes, bar multiprocessing's per-interpreter resource tracker."""
    children = psutil.Process().children(recursive=True)
    return {p.pid for p in children if "resource_tracker" not in " ".join(p.cmdline())}


def test_worker_processes_nprocs_and_no_leaks(monkeypatch):
    before = dask_children()
    with SaturnEmulator(token=TOKEN, processes=True) as emulator:
        use(emulator, monkeypatch, internal=True)
        cluster = dask_saturn.SaturnCluster(n_workers=1, nprocs=2, nthreads=1)
        with Client(cluster) as client:
            assert n_workers(client) == 2  # n_workers * nprocs real workers
            assert client.submit(lambda x: x + 1, 1).result() == 2
        assert len(dask_children() - before) == 2  # two worker processes
        cluster.close()
        assert emulator.clusters() == []
        del cluster, client
        gc.collect()
    wait_for(lambda: not dask_children() - before, timeout=10)


def listeners(pids: set[int]) -> set[tuple[str, int]]:
    return {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids
    }


@pytest.mark.parametrize("internal", [True, False])
def test_every_listener_is_on_loopback(monkeypatch, internal):
    """The API, the scheduler, its dashboard, the workers and their nannies: another machine
    (or another interface of this one) reaches none of them."""
    me = psutil.Process().pid
    before = listeners({me} | dask_children())
    with SaturnEmulator(token=TOKEN, processes=True) as emulator:
        use(emulator, monkeypatch, internal=internal)
        cluster = dask_saturn.SaturnCluster(n_workers=1, nprocs=2, nthreads=1)
        opened = listeners({me} | dask_children()) - before
        # the API, the scheduler and its dashboard, and two nannies with a worker each
        assert len(opened) >= 7, opened
        assert {ip for ip, _ in opened} == {"127.0.0.1"}, opened
        cluster.close()
        del cluster
        gc.collect()


def test_emulator_stop_closes_what_is_left(monkeypatch):
    with SaturnEmulator(token=TOKEN) as emulator:
        use(emulator, monkeypatch, internal=True)
        reply = api(emulator, "POST", "api/dask_clusters", {"n_workers": 1}).json()
        assert reply["status"] == "ready" and len(emulator.clusters()) == 1
    assert emulator.clusters() == []


def test_wrong_token_and_rejected_token(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    monkeypatch.setenv("SATURN_TOKEN", "wrong")
    with pytest.raises(ValueError, match=AUTH_MESSAGE):
        dask_saturn.describe_sizes()
    with pytest.raises(ValueError, match=AUTH_MESSAGE):
        dask_saturn.SaturnCluster(n_workers=1)
    monkeypatch.setenv("SATURN_TOKEN", TOKEN)
    emulator.configure(reject_token=True)
    with pytest.raises(ValueError, match=AUTH_MESSAGE):
        dask_saturn.describe_sizes()
    emulator.clear_faults()
    assert "medium" in dask_saturn.describe_sizes()


def test_injected_create_error(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    emulator.fail("/api/dask_clusters", 500, "Saturn is down for maintenance", method="POST")
    with pytest.raises(ValueError, match="Saturn is down for maintenance"):
        dask_saturn.SaturnCluster(n_workers=1)
    assert emulator.clusters() == []


def test_invalid_sizes_and_numbers_rejected(emulator, monkeypatch):
    use(emulator, monkeypatch, internal=True)
    with pytest.raises(ValueError, match="not a valid option"):  # dask_saturn's own check
        dask_saturn.SaturnCluster(worker_size="huge")
    reply = api(emulator, "POST", "api/dask_clusters", {"worker_size": "huge"})
    assert reply.status_code == 400 and "huge" in reply.json()["message"]
    with pytest.raises(ValueError, match="n_workers must be an integer"):  # the server's check
        dask_saturn.SaturnCluster(n_workers=-1)
    for body in ({"nthreads": 0}, {"nprocs": "2"}, {"n_workers": 1000}, {"bogus": 1}):
        reply = api(emulator, "POST", "api/dask_clusters", body)
        assert reply.status_code == 400 and reply.json()["message"], body
    assert emulator.clusters() == []


def test_pending_polls_then_ready_and_raw_protocol(emulator):
    emulator.configure(pending_polls=2)
    statuses = [api(emulator, "POST", "api/dask_clusters", {}).json() for _ in range(3)]
    assert [s["status"] for s in statuses] == ["pending", "pending", "ready"]
    cid = statuses[0]["id"]
    assert {s["id"] for s in statuses} == {cid}
    assert api(emulator, "GET", f"api/dask_clusters/{cid}/status").json()["status"] == "ready"
    info = api(emulator, "GET", f"api/dask_clusters/{cid}/info").json()
    assert info["scheduler_address"].startswith("tcp://")
    ext = api(emulator, "GET", f"api/dask_clusters/{cid}/info?is_external=true")
    assert ext.status_code == 409 and "internal mode" in ext.json()["message"]
    assert api(emulator, "POST", "api/dask_clusters/reset", {}).json()["id"] == cid
    assert api(emulator, "GET", f"api/dask_clusters/{cid}").json()["status"] == "closed"
    assert emulator.clusters() == []


def test_error_replies_are_json_with_message(emulator):
    cases = [
        ("GET", "api/nothing", None, 404),
        ("GET", "api/dask_clusters/abc123/info", None, 404),
        ("POST", "api/dask_clusters", "not json", 400),
        ("POST", "api/dask_clusters", [1, 2], 400),
    ]
    for method, path, body, status in cases:
        reply = api(emulator, method, path, body)
        assert reply.status_code == status and reply.json()["message"], (method, path)
    reply = requests.get(emulator.url + "api/dask_clusters/info", timeout=10)
    assert reply.status_code == 401 and reply.json() == {"message": AUTH_MESSAGE}


def test_hang_and_admin_endpoint(emulator):
    emulator.hang("/api/dask_clusters/info")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            emulator.url + "api/dask_clusters/info",
            headers={"Authorization": f"token {TOKEN}"},
            timeout=0.5,
        )
    assert api(emulator, "POST", "_emulator/clear_faults", {}).json() == {"status": "ok"}
    assert api(emulator, "GET", "api/dask_clusters/info").status_code == 200
    fault = {"path": "/api/dask_clusters", "status": 503, "message": "quota", "times": 1}
    assert api(emulator, "POST", "_emulator/fail", fault).status_code == 200
    assert api(emulator, "POST", "api/dask_clusters", {}).json() == {"message": "quota"}
    assert api(emulator, "POST", "api/dask_clusters", {}).json()["status"] == "ready"
    assert len(api(emulator, "GET", "_emulator/clusters").json()) == 1


def test_csr_rejects_garbage(emulator):
    cid = api(emulator, "POST", "api/dask_clusters?is_external=true", {}).json()["id"]
    reply = api(emulator, "POST", f"api/dask_clusters/{cid}/csr", "not a csr")
    assert reply.status_code == 400 and "certificate signing request" in reply.json()["message"]


def test_cli_prints_env_and_serves():
    module = "dask_cluster_launcher.testing.saturn_emulator"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--token", "cli-secret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        assert env["SATURN_TOKEN"] == "cli-secret"
        url = env["SATURN_BASE_URL"] + "api/dask_clusters/info"
        reply = requests.get(url, headers={"Authorization": "token cli-secret"}, timeout=10)
        assert reply.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
