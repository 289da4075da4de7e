"""A cluster can run a kernel's Python (its own environment), and inserting client code into a
notebook whose kernel has other versions than the cluster says so."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import psutil
import pytest

from tests.helpers import wait_for
from tests.test_rest_local import run_snippet

COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result())"


def make_environment(root: Path, *, distributed: bool = True, version: str | None = None) -> Path:
    """A venv of its own (its own ``bin/python`` and prefix); with ``distributed`` it sees this
    test run's packages through a .pth file; ``version`` makes it report another distributed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    lines = [sysconfig.get_paths()["purelib"]] if distributed else []
    if version:
        lines.append(f"import distributed; distributed.__version__ = {version!r}")
    (site / "environment.pth").write_text("\n".join(lines) + "\n")
    return root / "bin" / "python"


def register_kernel(kernel_dir: Path, name: str, python: Path) -> None:
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name,
        "language": "python",
    }
    (kernel_dir / name).mkdir(parents=True)
    (kernel_dir / name / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture
def kernels(jp_data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    kernel_dir = jp_data_dir / "kernels"
    pythons = {
        "other-env": make_environment(tmp_path / "other-env"),
        "old-dask": make_environment(tmp_path / "old-dask", version="2020.12.0"),
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

    # a notebook on a kernel with another distributed is told before it connects
    snippet = await snippet_for(jp_fetch, cluster["id"], "old-dask")
    assert "distributed" in snippet["warning"] and "2020.12.0 (notebook)" in snippet["warning"]
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


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
