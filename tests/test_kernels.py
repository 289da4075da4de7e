"""A cluster can run a kernel's Python (its own environment), and inserting client code into a
notebook whose kernel has other versions than the cluster says so (a real second environment
with an older distributed, from PyPI). A kernel's versions are read once per state of its
environment, so launches with a kernel answer at once."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dask_cluster_launcher import kernels as kernels_module
from tests.helpers import wait_cluster, wait_for
from tests.test_rest_local import run_snippet

COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result())"

#: The other environment: an older distributed and its dask (a few MB of wheels), and what
#: they need, installed from PyPI once per machine (``.venv/kernels/``) and reused.
OLD_DISTRIBUTED = "2025.1.0"
OLD_REQUIREMENTS = [f"distributed=={OLD_DISTRIBUTED}", f"dask=={OLD_DISTRIBUTED}"]


def make_environment(root: Path, *, distributed: bool = True) -> Path:
    """A venv of its own (its own ``bin/python`` and prefix); with ``distributed`` it sees this
    test run's packages through a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    lines = [sysconfig.get_paths()["purelib"]] if distributed else []
    (site / "environment.pth").write_text("\n".join(lines) + "\n")
    return root / "bin" / "python"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator at a time (parallel runs)
        yield


@pytest.fixture(scope="session")
def old_distributed_python(pytestconfig: pytest.Config) -> Path:
    """The Python of a venv with distributed 2025.1.0 (not this run's), created once per
    machine under ``.venv/kernels/`` (``~/.cache/dask-cluster-launcher/kernels/`` outside a
    venv) and reused while its stamp names the same requirements."""
    in_venv = sys.prefix != sys.base_prefix
    home = Path(sys.prefix) if in_venv else Path.home() / ".cache" / "dask-cluster-launcher"
    root = home / "kernels" / f"distributed-{OLD_DISTRIBUTED}"
    stamp = root / ".installed"
    python = root / "bin" / "python"
    with _locked(root.parent / f".{root.name}.lock"):
        if stamp.exists() and stamp.read_text() == "\n".join(OLD_REQUIREMENTS):
            return python
        started = time.monotonic()
        venv = [sys.executable, "-m", "venv", "--clear", "--without-pip", str(root)]
        subprocess.run(venv, check=True)
        pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
        install = [*pip, "install", "--quiet", "--only-binary=:all:", *OLD_REQUIREMENTS]
        done = subprocess.run(install, capture_output=True, text=True)
        assert done.returncode == 0, f"pip could not install {OLD_REQUIREMENTS}:\n{done.stderr}"
        stamp.write_text("\n".join(OLD_REQUIREMENTS))
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n[created {root} in {time.monotonic() - started:.1f} s]")
    return python


def register_kernel(kernel_dir: Path, name: str, python: Path) -> None:
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name,
        "language": "python",
    }
    (kernel_dir / name).mkdir(parents=True)
    (kernel_dir / name / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture
def kernels(jp_data_dir: Path, tmp_path: Path, old_distributed_python: Path) -> dict[str, Path]:
    kernel_dir = jp_data_dir / "kernels"
    pythons = {
        "other-env": make_environment(tmp_path / "other-env"),
        "old-distributed": old_distributed_python,
        "no-dask": make_environment(tmp_path / "no-dask", distributed=False),
    }
    for name, python in pythons.items():
        register_kernel(kernel_dir, name, python)
    return pythons


def processes_running(python: Path) -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == str(python)
    ]


async def snippet_for(jp_fetch, cluster_id: str, kernel: str) -> dict:
    response = await jp_fetch(
        "dask-cluster-launcher", "clusters", cluster_id, "snippet", params={"kernel": kernel}
    )
    return json.loads(response.body)


async def test_a_cluster_runs_the_chosen_kernels_python(launcher_api, jp_fetch, kernels):
    request = {"backend": "local", "kernel": "other-env", "scaling": {"workers": 2}}
    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster

    async def running():
        _, model = await launcher_api("clusters", cluster["id"])
        live = [w for w in model["workers"] if w["status"] == "running"]
        return model if model["state"] == "running" and len(live) == 2 else None

    model = await wait_for(running, timeout=90)
    assert model["kernel"] == "other-env"
    import distributed

    assert model["versions"]["distributed"] == distributed.__version__
    # the host (scheduler) and its worker processes run that environment's Python
    hosts = [
        p for p in processes_running(kernels["other-env"]) if cluster["id"] in " ".join(p.cmdline())
    ]
    assert hosts, "no host process runs the kernel's Python"
    workers = [
        c
        for c in hosts[0].children(recursive=True)
        if c.cmdline()[:1] == [str(kernels["other-env"])]
    ]
    assert len(workers) >= 2

    snippet = await snippet_for(jp_fetch, cluster["id"], "other-env")
    assert snippet["warning"] is None
    assert (await run_snippet(snippet["code"], COMPUTE)).split()[-1] == "42"
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


async def test_a_notebook_on_another_distributed_is_warned(
    monkeypatch, launcher_api, jp_fetch, kernels
):
    # the test server exports its own sys.path as PYTHONPATH, which every kernel would inherit
    monkeypatch.delenv("PYTHONPATH", raising=False)
    # a cluster of the server's environment (the default kernel) ...
    code, cluster = await launcher_api("clusters", method="POST", body={"backend": "local"})
    assert code == 202, cluster
    await wait_for(lambda: _running(launcher_api, cluster["id"]), timeout=90)
    import dask
    import distributed

    # ... and its client code inserted into a notebook on the kernel of the older environment:
    # told before it connects, with both versions
    snippet = await snippet_for(jp_fetch, cluster["id"], "old-distributed")
    warning = snippet["warning"]
    assert f"distributed {distributed.__version__} (cluster) vs 2025.1.0 (notebook)" in warning
    assert f"dask {dask.__version__} (cluster) vs 2025.1.0 (notebook)" in warning
    assert "'old-distributed'" in warning and "msgpack" not in warning  # what really differs

    # run there anyway: while that notebook's client is connected, the card says so
    notebook = await asyncio.create_subprocess_exec(
        str(kernels["old-distributed"]),
        "-c",
        snippet["code"] + "\nprint('connected', flush=True)\nimport sys; sys.stdin.readline()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert notebook.stdout is not None and notebook.stdin is not None
        line = await asyncio.wait_for(notebook.stdout.readline(), 60)
        if line.strip() != b"connected":
            _, err = await notebook.communicate()
            raise AssertionError(f"the notebook did not connect: {err.decode()}")
        differs = f"distributed {distributed.__version__} (cluster) vs 2025.1.0 (notebook)"
        model = await wait_cluster(
            launcher_api,
            cluster["id"],
            lambda m: any(differs in message for message in m["messages"]),
            timeout=20,
        )
        assert model["state"] == "running"
        notebook.stdin.close()
        await asyncio.wait_for(notebook.wait(), 30)
        await wait_cluster(launcher_api, cluster["id"], lambda m: m["messages"] == [], timeout=20)
    finally:
        if notebook.returncode is None:
            notebook.kill()
            await notebook.wait()
    # a kernel without dask.distributed: the code still comes, with why it will not run
    snippet = await snippet_for(jp_fetch, cluster["id"], "no-dask")
    assert "Client(" in snippet["code"] and "cannot import dask.distributed" in snippet["warning"]
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


async def _running(launcher_api, cluster_id: str) -> bool:
    _, model = await launcher_api("clusters", cluster_id)
    return model["state"] == "running"


async def test_a_kernels_versions_are_read_once_per_state_of_its_environment(
    monkeypatch, launcher_api, kernels
):
    """The 202 of a second launch with the same kernel runs no Python to read versions; an
    install into the kernel's environment (or an edited kernelspec) makes the next one read."""
    kernels_module._versions_cache.clear()
    reads: list[str] = []
    read_versions = kernels_module.versions

    async def counting(python, env=None, timeout=30.0):
        reads.append(python)
        return await read_versions(python, env, timeout)

    monkeypatch.setattr(kernels_module, "versions", counting)

    async def launch() -> float:
        started = time.perf_counter()
        request = {"backend": "local", "kernel": "other-env", "scaling": {"workers": 0}}
        code, cluster = await launcher_api("clusters", method="POST", body=request)
        answered = time.perf_counter() - started
        assert code == 202, cluster
        code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
        assert code == 204
        return answered

    first = await launch()
    assert reads == [str(kernels["other-env"])]
    again = await launch()
    assert len(reads) == 1, "the second launch read the versions again"
    print(f"launch 202 with a kernel: first {first * 1000:.0f} ms, cached {again * 1000:.1f} ms")
    assert again < first

    # a package installed into the kernel's environment: read again, then kept
    site = next((kernels["other-env"].parent.parent / "lib").glob("python3*/site-packages"))
    (site / "newly_installed.py").write_text("")
    await launch()
    assert len(reads) == 2
    await launch()
    assert len(reads) == 2


@pytest.mark.parametrize(
    "kernel, message",
    [("nope", "there is no kernel named 'nope'"), ("no-dask", "cannot import dask.distributed")],
)
async def test_a_kernel_that_cannot_run_a_cluster_is_refused(
    monkeypatch, launcher_api, kernels, kernel, message
):
    # the test server exports its own sys.path as PYTHONPATH, which every kernel would inherit
    monkeypatch.delenv("PYTHONPATH", raising=False)
    code, error = await launcher_api(
        "clusters", method="POST", body={"backend": "local", "kernel": kernel}
    )
    assert code == 400 and error["field"] == "kernel", error
    assert message in error["message"]
    _, clusters = await launcher_api("clusters")
    assert clusters == []


def test_a_client_with_other_versions_is_named_on_the_card():
    from distributed.versions import get_versions

    cluster = kernels_module.this_python_versions()
    assert kernels_module.client_notice(cluster, get_versions()) is None  # the same: nothing
    other = get_versions()
    other["packages"] = {**other["packages"], "distributed": "2025.1.0"}
    notice = kernels_module.client_notice(cluster, other)
    assert notice is not None
    assert f"distributed {cluster['distributed']} (cluster) vs 2025.1.0 (notebook)" in notice
    assert "python" not in notice  # "3.11.7.final.0" is the cluster's "3.11.7"
    assert kernels_module.client_notice(cluster, "not versions") is None
