"""The ``existing`` backend: connecting to a scheduler started elsewhere, through the REST API,
against real ``dask scheduler`` and ``dask worker`` processes (plain tcp, a scheduler file, TLS
with credentials in files), plus the pieces that need no scheduler."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher.backends import existing
from dask_cluster_launcher.backends.existing import normalize_address
from tests.helpers import wait_cluster
from tests.test_rest_local import run_snippet

COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))"


# --- real schedulers and workers ----------------------------------------------------------------
@dataclass
class Scheduler:
    """A ``dask scheduler`` with a ``dask worker --nworkers N``, as a user starts them."""

    directory: Path
    tls: bool = False
    nworkers: int = 2
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""
    dashboard_port: int = 0

    @property
    def scheduler_file(self) -> Path:
        return self.directory / "scheduler.json"

    @property
    def credentials(self) -> dict[str, str]:
        """The user's TLS files (one self-signed certificate for every role)."""
        cert, key = self.directory / "cert.pem", self.directory / "key.pem"
        return {"tls_ca_file": str(cert), "tls_client_cert": str(cert), "tls_client_key": str(key)}

    def _tls_args(self) -> list[str]:
        if not self.tls:
            return []
        files = self.credentials
        return ["--tls-ca-file", files["tls_ca_file"], "--tls-cert", files["tls_client_cert"],
                "--tls-key", files["tls_client_key"]]  # fmt: skip

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with open(self.directory / log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "dask", *args, *self._tls_args()],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        return process

    def start(self) -> Scheduler:
        if self.tls:
            write_credentials(self.directory / "cert.pem", self.directory / "key.pem")
        self.scheduler = self._spawn(
            "scheduler", "--host", "127.0.0.1", "--port", "0",
            "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(self.scheduler_file),
            *(["--protocol", "tls"] if self.tls else []), log="scheduler.log",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            assert self.scheduler.poll() is None, self.log("scheduler.log")
            assert time.monotonic() < deadline, "the scheduler did not write its file"
            time.sleep(0.1)
        time.sleep(0.1)  # written at once, but give the writer its close
        info = json.loads(self.scheduler_file.read_text())
        self.address, self.dashboard_port = info["address"], info["services"]["dashboard"]
        self.workers = self._spawn(
            "worker", "--scheduler-file", str(self.scheduler_file), "--nworkers",
            str(self.nworkers), "--nthreads", "1", "--memory-limit", "1GiB", "--no-dashboard",
            log="worker.log",
        )  # fmt: skip
        return self

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def running(self) -> bool:
        return self.scheduler.poll() is None

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def write_credentials(cert: Path, key: Path) -> None:
    from distributed.security import Security

    temporary = Security.temporary()
    cert.write_text(temporary.tls_ca_file)
    key.write_text(temporary.tls_scheduler_key)
    key.chmod(0o600)


@pytest.fixture
def scheduler(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Scheduler]:
    """A running scheduler with two workers; ``indirect`` parameter ``{"tls": True}``."""
    options = getattr(request, "param", {})
    started = Scheduler(tmp_path / "dask", **options)
    started.directory.mkdir()
    try:
        yield started.start()
    finally:
        started.stop()


@pytest.fixture
def jp_server_config(private_dir: Path) -> dict[str, Any]:
    """With jupyter-server-proxy, which serves dashboards of this machine at ``proxy/PORT/``."""
    extensions = {"dask_cluster_launcher": True, "jupyter_server_proxy": True}
    return {
        "ServerApp": {"jpserver_extensions": extensions},
        "ClusterLauncherApp": {"private_dir": str(private_dir)},
    }


async def launch(launcher_api, options: dict[str, Any], name: str = "existing") -> dict[str, Any]:
    body = {"backend": "existing", "name": name, "options": options}
    code, model = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, model
    assert model["state"] == "starting" and model["backend"] == "existing"
    return model


def running_with(n: int):
    return lambda m: m["state"] == "running" and len(m["workers"]) == n


async def no_clusters(launcher_api) -> None:
    _, clusters = await launcher_api("clusters")
    assert clusters == []


# --- the form -----------------------------------------------------------------------------------
async def test_form_and_preview(launcher_api):
    code, backends = await launcher_api("backends")
    assert code == 200
    backend = next(b for b in backends if b["name"] == "existing")
    assert backend["available"] is True and backend["title"] == "Existing scheduler"
    assert set(backend["schema"]["properties"]) == {
        "address", "scheduler_file", "tls_ca_file", "tls_client_cert", "tls_client_key",
        "connect_timeout", "shutdown_on_stop",
    }  # fmt: skip
    assert backend["defaults"]["shutdown_on_stop"] is False
    body = {"backend": "existing", "options": {"address": "127.0.0.1:8786"}}
    code, preview = await launcher_api("preview", method="POST", body=body)
    assert code == 200 and preview["job_script"] is None
    code_text = preview["code"]
    assert "from dask_cluster_launcher.backends.existing import ExistingScheduler" in code_text
    assert "    address='tcp://127.0.0.1:8786',\n" in code_text
    compile(code_text, "preview", "exec")


# --- plain tcp, by address ------------------------------------------------------------------------
async def test_by_address_shows_workers_computes_refuses_scaling_and_stop_only_disconnects(
    launcher_api, scheduler
):
    model = await launch(launcher_api, {"address": scheduler.address})
    model = await wait_cluster(launcher_api, model["id"], running_with(2))
    assert model["scheduler_address"] == scheduler.address
    assert {w["nthreads"] for w in model["workers"]} == {1}
    assert {w["memory_limit"] for w in model["workers"]} == {2**30}
    assert all(w["status"] == "running" and w["host"] == "127.0.0.1" for w in model["workers"])

    # the dashboard: a plain link to the scheduler's own, never one through the Jupyter
    # server (which would send the user's cookies and token to whoever listens there)
    port = scheduler.dashboard_port
    assert model["dashboard_link"] == f"http://127.0.0.1:{port}/status"
    assert model["dashboard_url"] is None

    # the launcher starts no workers: scaling is refused with the reason, and nothing changes
    for body in ({"workers": 5}, {"adapt": {"minimum": 1, "maximum": 4}}):
        code, error = await launcher_api("clusters", model["id"], method="PATCH", body=body)
        assert code == 409, error
        assert "does not own" in error["message"] and "cannot scale" in error["message"]

    # the notebook code computes from another process
    code, snippet = await launcher_api("clusters", model["id"], "snippet")
    assert code == 200
    assert f"client = Client({scheduler.address!r})" in snippet["code"].splitlines()
    # the explicit form is inserted: it keeps working after the launcher lets the scheduler go
    assert snippet["connect_code"] is None
    out = await run_snippet(snippet["code"], COMPUTE)
    assert out.split() == ["42", "2"]

    # a worker that joins shows within a second or two
    started = time.monotonic()
    scheduler._spawn("worker", scheduler.address, "--nthreads", "2", "--no-dashboard",
                     log="worker3.log")  # fmt: skip
    model = await wait_cluster(launcher_api, model["id"], running_with(3))
    assert {w["nthreads"] for w in model["workers"]} == {1, 2}
    print(f"third worker shown {time.monotonic() - started:.2f} s after its process started")

    # stopping disconnects: the scheduler and its workers keep running and keep serving
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204
    await no_clusters(launcher_api)
    await asyncio.sleep(0.5)
    assert scheduler.running()
    plain = f"from dask.distributed import Client\nclient = Client({scheduler.address!r})"
    out = await run_snippet(plain, COMPUTE)
    assert out.split() == ["42", "3"]


async def test_from_python_quick_connect_uses_the_same_backend(scheduler):
    code = (
        "import warnings\nwarnings.simplefilter('ignore')\n"
        "from dask_cluster_launcher import quick_connect\n"
        f"client = quick_connect('existing', address={scheduler.address!r})\n"
    )
    out = await run_snippet(code, COMPUTE)
    assert out.split() == ["42", "2"]
    assert scheduler.running()


# --- a scheduler file, shut down on stop ----------------------------------------------------------
async def test_scheduler_file_and_shutdown_on_stop_stops_the_scheduler(launcher_api, scheduler):
    options = {"scheduler_file": str(scheduler.scheduler_file), "shutdown_on_stop": True}
    model = await launch(launcher_api, options)
    model = await wait_cluster(launcher_api, model["id"], running_with(2))
    assert model["scheduler_address"] == scheduler.address
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204
    assert await asyncio.to_thread(scheduler.scheduler.wait, 30) == 0
    # the scheduler told its workers to close: `dask worker` exits by itself
    assert await asyncio.to_thread(scheduler.workers.wait, 60) is not None


async def test_scheduler_file_relative_to_the_server_and_with_a_tilde(
    launcher_api, scheduler, monkeypatch
):
    monkeypatch.chdir(scheduler.directory)
    monkeypatch.setenv("HOME", str(scheduler.directory.parent))
    for path in ("scheduler.json", "~/dask/scheduler.json"):
        model = await launch(launcher_api, {"scheduler_file": path})
        model = await wait_cluster(launcher_api, model["id"], running_with(2))
        assert model["scheduler_address"] == scheduler.address
        await launcher_api("clusters", model["id"], method="DELETE")
    assert scheduler.running()


# --- TLS: the user's certificate files ------------------------------------------------------------
@pytest.mark.parametrize("scheduler", [{"tls": True}], indirect=True)
async def test_tls_needs_the_users_files_then_computes_and_a_lost_scheduler_fails_the_card(
    launcher_api, scheduler, tmp_path
):
    assert scheduler.address.startswith("tls://")
    files = scheduler.credentials
    other = tmp_path / "other"
    other.mkdir()
    write_credentials(other / "cert.pem", other / "key.pem")
    refused = [
        ({}, "options.tls_ca_file", "is required"),
        ({"tls_ca_file": files["tls_ca_file"]}, "options.tls_client_cert", "is required"),
        ({**files, "tls_ca_file": str(tmp_path / "nope.pem")}, "options.tls_ca_file",
         "no such file"),
        ({**files, "tls_client_key": str(tmp_path)}, "options.tls_client_key",
         "not a regular file"),
        ({**files, "tls_ca_file": str(scheduler.scheduler_file)}, "options.tls_ca_file",
         "not a PEM certificate"),
        ({**files, "tls_client_key": str(other / "key.pem")}, "options.tls_client_key",
         "do not load"),
    ]  # fmt: skip
    for tls, field_path, words in refused:
        body = {"backend": "existing", "options": {"address": scheduler.address, **tls}}
        code, error = await launcher_api("clusters", method="POST", body=body)
        assert (code, error["field"]) == (400, field_path), error
        assert error["message"].startswith(field_path) and words in error["message"], error
    await no_clusters(launcher_api)

    options = {"address": scheduler.address, "connect_timeout": 2, **files}
    model = await launch(launcher_api, options)
    model = await wait_cluster(launcher_api, model["id"], running_with(2))
    code, snippet = await launcher_api("clusters", model["id"], "snippet")
    assert code == 200
    for path in files.values():
        assert f"={path!r}," in snippet["code"]  # paths to the user's files, no key material
    assert "BEGIN" not in snippet["code"] and "require_encryption=True" in snippet["code"]
    out = await run_snippet(snippet["code"], COMPUTE)
    assert out.split() == ["42", "2"]

    # without the certificate, the scheduler refuses a client (it is the user's to share)
    plain = (
        f"from dask.distributed import Client\nclient = Client({scheduler.address!r}, timeout=3)"
    )
    with pytest.raises(AssertionError):
        await run_snippet(plain, COMPUTE)

    # the scheduler dies behind the launcher's back: the card says so
    scheduler.scheduler.kill()
    model = await wait_cluster(launcher_api, model["id"], lambda m: m["state"] == "failed", 30)
    assert "lost the scheduler at " + scheduler.address in model["error"]
    assert model["workers"] == []
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204


# --- refused before anything connects -----------------------------------------------------------
@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Paths by name, for the ``{name}`` placeholders of the cases below."""
    contents = {
        "notjson": "address: tcp://127.0.0.1:8786\n",
        "noaddress": '{"type": "Scheduler"}',
        "ucx": '{"address": "ucx://127.0.0.1:8786"}',
        "cert": "not a certificate\n",
    }
    for name, text in contents.items():
        (tmp_path / name).write_text(text)
    writable = tmp_path / "writable"
    writable.write_text('{"address": "tcp://127.0.0.1:8786"}')
    writable.chmod(0o666)  # anyone could have pointed it elsewhere
    names = [*contents, "missing", "writable"]
    return {name: str(tmp_path / name) for name in names} | {"dir": str(tmp_path)}


@pytest.mark.parametrize(
    "options, field_path, words",
    [
        ({}, "options.address", "either the scheduler's address or its scheduler file"),
        (
            {"address": "tcp://127.0.0.1:8786", "scheduler_file": "{notjson}"},
            "options.address",
            "one of the two",
        ),
        ({"address": "127.0.0.1"}, "options.address", "tcp://host:port"),
        ({"address": "ucx://127.0.0.1:8786"}, "options.address", "tcp://host:port"),
        ({"address": "tcp://a b:1"}, "options.address", "not allowed"),
        ({"scheduler_file": "{missing}"}, "options.scheduler_file", "no such file"),
        ({"scheduler_file": "{dir}"}, "options.scheduler_file", "is not a regular file"),
        ({"scheduler_file": "{notjson}"}, "options.scheduler_file", "not JSON"),
        ({"scheduler_file": "{noaddress}"}, "options.scheduler_file", "no tcp:// or tls://"),
        ({"scheduler_file": "{ucx}"}, "options.scheduler_file", "no tcp:// or tls://"),
        ({"scheduler_file": "{writable}"}, "options.scheduler_file", "can be written by others"),
        (
            {
                "address": "tls://127.0.0.1:8786",
                "tls_ca_file": "{writable}",
                "tls_client_cert": "{cert}",
            },
            "options.tls_ca_file",
            "can be written by others",
        ),
        (
            {"address": "tcp://127.0.0.1:8786", "tls_ca_file": "{cert}"},
            "options.tls_ca_file",
            "does not use TLS",
        ),
        (
            {
                "address": "tls://127.0.0.1:8786",
                "tls_ca_file": "{missing}",
                "tls_client_cert": "{cert}",
            },
            "options.tls_ca_file",
            "no such file",
        ),
        (
            {
                "address": "tls://127.0.0.1:8786",
                "tls_ca_file": "{cert}",
                "tls_client_cert": "{cert}",
            },
            "options.tls_ca_file",
            "not a PEM certificate",
        ),
        (
            {"address": "tcp://127.0.0.1:8786", "connect_timeout": 0},
            "options.connect_timeout",
            "at least 1",
        ),
    ],
)
async def test_bad_addresses_and_files_get_400_naming_the_field(
    launcher_api, files, options, field_path, words
):
    options = {key: value.format(**files) if isinstance(value, str) else value
               for key, value in options.items()}  # fmt: skip
    for route in ("clusters", "preview"):
        body = {"backend": "existing", "options": options}
        code, error = await launcher_api(route, method="POST", body=body)
        assert (code, error["field"]) == (400, field_path), error
        assert error["message"].startswith(field_path) and words in error["message"], error
    await no_clusters(launcher_api)


async def test_no_scheduler_there_fails_the_card_with_the_reason(launcher_api):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = await launch(launcher_api, {"address": f"127.0.0.1:{port}", "connect_timeout": 1})
    model = await wait_cluster(launcher_api, model["id"], lambda m: m["state"] == "failed", 30)
    assert f"tcp://127.0.0.1:{port}" in model["error"]
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204


# --- units ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, address",
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("node12.cluster:8786", "tcp://node12.cluster:8786"),
        ("tls://[::1]:8786", "tls://[::1]:8786"),
        ("tcp://host", None),
        ("ws://host:80", None),
        ("tcp://host:8786/x", None),
        ("", None),
    ],
)
def test_normalize_address(text, address):
    assert normalize_address(text) == address


def test_the_dashboard_link_is_the_schedulers_own():
    info = {"services": {"dashboard": 8787}}
    assert existing.dashboard_link("tcp://10.1.2.3:8786", info) == "http://10.1.2.3:8787/status"
    assert existing.dashboard_link("tls://[::1]:8786", info) == "http://[::1]:8787/status"
    for services in ({}, {"dashboard": "8787"}, {"dashboard": True}, {"dashboard": 70000}):
        assert existing.dashboard_link("tcp://10.1.2.3:8786", {"services": services}) is None


def test_worker_rows_hold_plain_strings_and_numbers():
    class Text(str):
        pass

    class Weird:
        def __str__(self) -> str:
            return Text("weird")

    worker = {"name": Weird(), "host": Weird(), "nthreads": True, "memory_limit": "x"}
    row = existing.worker_row(Text("tcp://a:1"), worker)
    assert row == {"name": "weird", "address": "tcp://a:1", "host": "weird", "nthreads": 1,
                   "memory_limit": 0, "status": "running", "job_id": None}  # fmt: skip
    assert {type(v) for v in row.values()} == {str, int, type(None)}
    assert existing.worker_row("tcp://b:2", None)["name"] == "tcp://b:2"


def test_the_cluster_class_needs_one_way_to_find_the_scheduler():
    scheduler_class = existing.scheduler_class()
    with pytest.raises(ValueError, match="address or its scheduler_file"):
        scheduler_class(asynchronous=True)
    with pytest.raises(ValueError, match="address or its scheduler_file"):
        scheduler_class("tcp://127.0.0.1:1", scheduler_file="x", asynchronous=True)


def test_no_distributed_import_until_a_cluster_connects():
    code = (
        "import sys\nimport dask_cluster_launcher.app\n"
        "assert 'distributed' not in sys.modules, 'distributed imported'\n"
        "from dask_cluster_launcher.backends.existing import ExistingScheduler\n"
        "assert 'distributed' in sys.modules\n"
        "assert ExistingScheduler.__name__ == 'ExistingScheduler'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ}, timeout=120)
