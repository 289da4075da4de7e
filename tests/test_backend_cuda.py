"""The ``cuda`` backend (dask_cuda.LocalCUDACluster): the GPU list from nvidia-smi (a fake one on
PATH here), the form, the options and the cluster's arguments everywhere; a real cluster only on
a machine whose ``nvidia-smi -L`` lists GPUs (the one test allowed to skip)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher.backends import cuda
from dask_cluster_launcher.backends.cuda import GPU, CUDABackend, parse_nvidia_smi, visible
from dask_cluster_launcher.errors import InvalidRequest
from tests.helpers import wait_for
from tests.test_rest_local import dask_worker_processes, run_snippet

# what nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader prints
SMI_OUTPUT = """\
0, GPU-5f0c1e2d-aaaa-bbbb-cccc-000000000000, NVIDIA H200, 143771 MiB
1, GPU-7a9b3c4d-aaaa-bbbb-cccc-111111111111, NVIDIA H200, 143771 MiB
2, GPU-00000000-aaaa-bbbb-cccc-222222222222, "Tesla V100-SXM2-16GB, rev 2", [N/A]
No devices were found
"""
H200 = 143771 * 2**20


def test_nvidia_smi_output_is_parsed():
    gpus = parse_nvidia_smi(SMI_OUTPUT)
    assert [g.index for g in gpus] == ["0", "1", "2"]
    assert gpus[0] == GPU("0", "GPU-5f0c1e2d-aaaa-bbbb-cccc-000000000000", "NVIDIA H200", H200)
    assert gpus[0].title == "GPU 0: NVIDIA H200, 140.40 GiB"
    assert gpus[2].name == "Tesla V100-SXM2-16GB, rev 2" and gpus[2].memory == 0
    assert gpus[2].title == "GPU 2: Tesla V100-SXM2-16GB, rev 2"
    assert parse_nvidia_smi("") == [] and parse_nvidia_smi("No devices were found\n") == []


@pytest.mark.parametrize(
    "variable, indices",
    [
        (None, ["0", "1", "2"]),
        ("", []),
        ("1", ["1"]),
        ("2,0", ["2", "0"]),
        ("GPU-7a9b", ["1"]),  # a UUID prefix, as CUDA accepts
        ("0,7,1", ["0"]),  # like CUDA, the list ends at the first entry naming no GPU
    ],
)
def test_the_servers_cuda_visible_devices_limits_the_choice(variable, indices):
    assert [g.index for g in visible(parse_nvidia_smi(SMI_OUTPUT), variable)] == indices


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``nvidia-smi`` that prints SMI_OUTPUT, alone on PATH (with the shell it needs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{SMI_OUTPUT}'\n")  # printf: a builtin
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return script


@pytest.fixture
def no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without NVIDIA's tools (nor dask-cuda), whatever this one has."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(cuda, "importable", lambda module: False)


@pytest.fixture
def with_dask_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """dask-cuda, rmm and UCX count as installed (nothing here starts a cluster)."""
    real = cuda.importable
    installed = ("dask_cuda", "rmm", "distributed_ucxx")
    monkeypatch.setattr(cuda, "importable", lambda module: module in installed or real(module))


OPTIONS = {
    "CUDA_VISIBLE_DEVICES": [],
    "threads_per_worker": 1,
    "memory_limit": "auto",
    "device_memory_limit": "default",
    "rmm_pool_size": "",
    "protocol": "tcp",
}


async def test_the_form_lists_the_gpus(fake_smi, with_dask_cuda):
    backend = CUDABackend()
    backend.allow_unencrypted_ucx = True  # the operator's opt-in (see below)
    described = await backend.describe()
    assert described["available"] is True and described["reason"] is None
    items = described["schema"]["properties"]["CUDA_VISIBLE_DEVICES"]["items"]
    assert items["oneOf"][:2] == [
        {"const": "0", "title": "GPU 0: NVIDIA H200, 140.40 GiB"},
        {"const": "1", "title": "GPU 1: NVIDIA H200, 140.40 GiB"},
    ]
    assert described["ui_schema"]["CUDA_VISIBLE_DEVICES"]["ui:widget"] == "checkboxes"
    assert described["schema"]["properties"]["protocol"]["enum"] == ["tcp", "ucx"]
    assert described["defaults"] == OPTIONS


async def test_without_dask_cuda_or_ucx_the_form_says_so(fake_smi, monkeypatch):
    monkeypatch.setattr(cuda, "importable", lambda module: False)
    described = await CUDABackend().describe()
    assert described["available"] is False
    assert described["reason"].startswith("dask-cuda is not installed")
    assert "pip install 'dask_cluster_launcher[cuda]'" in described["reason"]
    assert described["schema"]["properties"]["protocol"]["enum"] == ["tcp"]


async def test_a_failing_nvidia_smi_makes_the_backend_unavailable(fake_smi):
    fake_smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed: no driver' >&2\nexit 9\n")
    backend = CUDABackend()
    described = await backend.describe()
    assert described["available"] is False
    assert described["reason"].startswith("no NVIDIA GPU on this machine that this server can use")
    assert "no driver" in described["reason"]
    assert "ui:widget" not in described["ui_schema"].get("CUDA_VISIBLE_DEVICES", {})
    with pytest.raises(InvalidRequest) as info:
        await backend.validate({})
    assert info.value.field == "backend"


async def test_cluster_arguments(fake_smi, with_dask_cuda, tmp_path):
    backend = CUDABackend()
    options = await backend.validate(
        {"CUDA_VISIBLE_DEVICES": ["1", "0"], "rmm_pool_size": "0.5", "device_memory_limit": ".9"}
    )
    kwargs = backend.cluster_kwargs(options, cluster_id="c1", cluster_name="gpus")
    assert kwargs == {
        "CUDA_VISIBLE_DEVICES": "1,0",
        "n_workers": 1,
        "threads_per_worker": 1,
        "memory_limit": 0.5,  # "auto": the host's memory shared by the two GPUs' workers
        "device_memory_limit": 0.9,
        "rmm_pool_size": 0.5,
        "protocol": "tls",
        "security": True,
        "host": "127.0.0.1",
        "scheduler_port": 0,
        "dashboard_address": "127.0.0.1:0",
    }
    # the cluster's own certificate, and workers without an HTTP port, as for local clusters
    files = backend.private_dir.cluster("c1")
    private = backend.with_credentials(kwargs, files)
    assert private["preload"] == [str(files.worker_preload)]
    assert private["security"].require_encryption is True
    # every GPU, sizes, ucx (allowed by the operator)
    backend.allow_unencrypted_ucx = True
    options = await backend.validate(
        {"memory_limit": "30 GiB", "device_memory_limit": "60 GiB", "protocol": "ucx"}
    )
    kwargs = backend.cluster_kwargs(options, cluster_id="c2", cluster_name="gpus")
    assert kwargs["CUDA_VISIBLE_DEVICES"] is None  # all the host process sees
    assert (kwargs["memory_limit"], kwargs["device_memory_limit"]) == ("30 GiB", "60 GiB")
    assert (kwargs["rmm_pool_size"], kwargs["protocol"]) == (None, "ucx")
    auto = backend.cluster_kwargs({**OPTIONS}, cluster_id="c3", cluster_name="gpus")
    assert auto["memory_limit"] == round(1 / 3, 6)  # three GPUs listed
    assert "device_memory_limit" not in auto  # "default": dask-cuda's own


@pytest.mark.parametrize(
    "options, field, words",
    [
        ({"CUDA_VISIBLE_DEVICES": ["0", "5"]}, "options.CUDA_VISIBLE_DEVICES.1", "no GPU 5 here"),
        ({"CUDA_VISIBLE_DEVICES": ["0", "0"]}, "options.CUDA_VISIBLE_DEVICES", "unique"),
        ({"CUDA_VISIBLE_DEVICES": ["0;rm"]}, "options.CUDA_VISIBLE_DEVICES.0", "not allowed"),
        ({"rmm_pool_size": "40 GiB"}, "options.rmm_pool_size", "needs the rmm package"),
        ({"device_memory_limit": "lots"}, "options.device_memory_limit", "not allowed"),
        ({"memory_limit": "0 GiB"}, "options.memory_limit", "'auto' or a size"),
        ({"protocol": "ucx"}, "options.protocol", "ucx is not encrypted"),
        ({"protocol": "udp"}, "options.protocol", "not one of"),
    ],
)
async def test_bad_options_name_the_field(fake_smi, monkeypatch, options, field, words):
    monkeypatch.setattr(cuda, "importable", lambda module: module == "dask_cuda")
    with pytest.raises(InvalidRequest) as info:
        await CUDABackend().validate(options)
    assert info.value.field == field
    assert str(info.value).startswith(field) and words in str(info.value), str(info.value)


async def test_ucx_is_offered_and_accepted_only_with_the_operators_opt_in(
    fake_smi, with_dask_cuda, monkeypatch
):
    backend = CUDABackend()
    described = await backend.describe()
    protocol = described["schema"]["properties"]["protocol"]
    assert protocol["enum"] == ["tcp"]  # installed, but unencrypted: not offered by default
    assert "NOT encrypted" in protocol["description"]
    with pytest.raises(InvalidRequest) as info:
        await backend.validate({"protocol": "ucx"})
    assert info.value.field == "options.protocol"
    assert "allow_unencrypted_ucx" in str(info.value) and "run code as you" in str(info.value)

    backend.allow_unencrypted_ucx = True
    described = await backend.describe()
    assert described["schema"]["properties"]["protocol"]["enum"] == ["tcp", "ucx"]
    assert (await backend.validate({"protocol": "ucx"}))["protocol"] == "ucx"
    # allowed, but not installed: the reason is the missing package
    cuda_only = CUDABackend()
    cuda_only.allow_unencrypted_ucx = True
    monkeypatch.setattr(cuda, "importable", lambda module: module == "dask_cuda")
    with pytest.raises(InvalidRequest, match="distributed-ucxx") as info:
        await cuda_only.validate({"protocol": "ucx"})
    assert info.value.field == "options.protocol"


def test_the_opt_in_is_a_server_setting_the_python_api_shares_too():
    from traitlets.config import Config

    from dask_cluster_launcher.app import ClusterLauncherApp
    from dask_cluster_launcher.config import launcher_manager

    assert ClusterLauncherApp().launcher_backends()["cuda"].allow_unencrypted_ucx is False
    config = Config({"ClusterLauncherApp": {"allow_unencrypted_ucx": True}})
    settings = ClusterLauncherApp(config=config)
    assert settings.launcher_backends()["cuda"].allow_unencrypted_ucx is True
    assert launcher_manager(settings).backends["cuda"].allow_unencrypted_ucx is True


async def test_ucx_without_the_opt_in_answers_400_naming_the_field(
    launcher_api, fake_smi, with_dask_cuda
):
    for route in ("clusters", "preview"):
        body = {"backend": "cuda", "options": {"protocol": "ucx"}, "scaling": {"workers": 1}}
        code, error = await launcher_api(route, method="POST", body=body)
        assert (code, error["field"]) == (400, "options.protocol"), error
        assert error["message"].startswith("options.protocol: ucx is not encrypted"), error
    _, clusters = await launcher_api("clusters")
    assert clusters == []


async def test_scaling_beyond_the_gpus_is_refused_with_the_reason():
    class Cluster:
        cuda_visible_devices = [0, 1]

        def scale(self, n: int) -> None:
            self.n = n

    backend, cluster = CUDABackend(), Cluster()
    await backend.scale(cluster, 2)
    assert cluster.n == 2
    with pytest.raises(ValueError, match=r"at most 2 workers: one per GPU \(0, 1\)"):
        await backend.scale(cluster, 3)
    with pytest.raises(ValueError, match="at most 2 workers"):
        await backend.adapt(cluster, 0, 4)


# --- through the REST API, on any machine ---------------------------------------------------------
async def test_without_a_gpu_it_is_listed_unavailable_and_launching_answers_400(
    launcher_api, no_gpu
):
    code, backends = await launcher_api("backends")
    assert code == 200
    backend = next(b for b in backends if b["name"] == "cuda")
    assert backend["title"] == "Local GPUs (dask-cuda)"
    assert backend["available"] is False
    assert backend["reason"].startswith("no NVIDIA GPU on this machine")
    for route in ("clusters", "preview"):
        body = {"backend": "cuda", "options": {}, "scaling": {"workers": 1}}
        code, error = await launcher_api(route, method="POST", body=body)
        assert (code, error["field"]) == (400, "backend"), error
        assert "Local GPUs (dask-cuda) is not available: no NVIDIA GPU" in error["message"]
    _, clusters = await launcher_api("clusters")
    assert clusters == []


def test_dask_cuda_is_not_needed_to_import_the_server():
    code = "import sys\nimport dask_cluster_launcher.app\nassert 'dask_cuda' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- on a machine with NVIDIA GPUs ----------------------------------------------------------------
def listed_gpus() -> int:
    """GPUs ``nvidia-smi -L`` lists (0 without nvidia-smi or a driver)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines())


GPUS = listed_gpus()


@pytest.mark.skipif(GPUS == 0, reason="no NVIDIA GPU on this machine")
async def test_gpu_cluster_one_worker_per_gpu_computes_on_the_gpus_and_stops(launcher_api):
    code, backends = await launcher_api("backends")
    backend = next(b for b in backends if b["name"] == "cuda")
    assert backend["available"] is True, backend["reason"]
    listed = backend["schema"]["properties"]["CUDA_VISIBLE_DEVICES"]["items"]["oneOf"]
    n = len(listed)
    assert n >= 1
    body: dict[str, Any] = {"backend": "cuda", "name": "gpus", "options": {},
                            "scaling": {"workers": n}}  # fmt: skip
    code, model = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, model

    async def running():
        _, m = await launcher_api("clusters", model["id"])
        assert m["state"] != "failed", m["error"]
        return m if m["state"] == "running" and len(m["workers"]) == n else None

    model = await wait_for(running, timeout=240, interval=0.5)
    assert model["scheduler_address"].startswith("tls://127.0.0.1:")
    code, snippet = await launcher_api("clusters", model["id"], "snippet")
    assert code == 200
    out = await run_snippet(
        snippet["code"],
        "\nimport os"
        "\ndef on_gpu(x):"
        "\n    try:"
        "\n        import cupy"
        "\n        return int(cupy.arange(x).sum())"
        "\n    except ImportError:"
        "\n        from numba import cuda"
        "\n        import numpy as np"
        "\n        out = cuda.to_device(np.zeros(1, dtype=np.int64))"
        "\n        @cuda.jit"
        "\n        def total(n, out):"
        "\n            cuda.atomic.add(out, 0, cuda.grid(1) if cuda.grid(1) < n else 0)"
        "\n        total[1, 64](x, out)"
        "\n        return int(out.copy_to_host()[0])"
        "\nprint(client.submit(on_gpu, 10, pure=False).result())"
        "\ndevices = client.run(lambda: os.environ['CUDA_VISIBLE_DEVICES'].split(',')[0])"
        "\nprint(len(set(devices.values())), len(devices))",
    )
    total, distinct, workers = out.split()
    assert total == "45"  # 0 + 1 + ... + 9, computed on a GPU
    assert (distinct, workers) == (str(n), str(n))  # one worker per GPU, each its own
    code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204
    await wait_for(lambda: _no_workers(), timeout=60)


async def _no_workers() -> bool:
    return not dask_worker_processes()
