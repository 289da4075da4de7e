"""GPUs on this machine: dask_cuda.LocalCUDACluster, one worker process per GPU.

A local cluster in every other respect (``LocalBackend``): its own host process, the cluster's
own TLS certificate, the dashboard on a private socket. dask-cuda is optional
(``pip install 'dask_cluster_launcher[cuda]'``) and imported only in the host process.

The form lists the GPUs found by ``nvidia-smi`` (an async subprocess with a timeout), or by
pynvml where nvidia-smi is missing, limited to the server's own ``CUDA_VISIBLE_DEVICES``.
Without a GPU (or without dask-cuda) the backend is listed as unavailable, with the reason.

UCX has no encryption: anyone on the machine (or the network) can connect to a UCX scheduler
and run code as its owner. It is offered only where the operator allowed it
(``ClusterLauncherApp.allow_unencrypted_ucx``, for machines that are one user's alone).
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

from dask.utils import format_bytes, parse_bytes

from ..errors import InvalidRequest
from .base import require
from .batch.commands import run
from .local import LocalBackend

NVIDIA_SMI = ("nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader")
NO_GPU = "no NVIDIA GPU on this machine"
INSTALL = "pip install 'dask_cluster_launcher[cuda]'"
UCX_NOT_ALLOWED = (
    "ucx is not encrypted: other users could connect to the scheduler and run code as you; "
    "this site does not allow it (the operator's ClusterLauncherApp.allow_unencrypted_ucx)"
)


@dataclass(frozen=True)
class GPU:
    index: str
    uuid: str
    name: str
    memory: int  # bytes, 0 when not reported

    @property
    def title(self) -> str:
        memory = f", {format_bytes(self.memory)}" if self.memory else ""
        return f"GPU {self.index}: {self.name}{memory}"


def parse_nvidia_smi(text: str) -> list[GPU]:
    """GPUs from ``nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader``
    (``0, GPU-5f0c..., NVIDIA H200, 143771 MiB``); lines that say something else are skipped."""
    gpus = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(row) != 4 or not row[0].strip().isdigit():
            continue
        index, uuid, name, memory = (field.strip() for field in row)
        try:
            size = int(parse_bytes(memory.replace(" ", "")))
        except ValueError:  # "[N/A]"
            size = 0
        gpus.append(GPU(index, uuid, name, size))
    return gpus


def visible(gpus: list[GPU], cuda_visible_devices: str | None) -> list[GPU]:
    """The GPUs a process sees under ``CUDA_VISIBLE_DEVICES`` (indices or UUID prefixes), in
    that order; like CUDA, the list ends at the first entry that names no GPU."""
    if cuda_visible_devices is None:
        return list(gpus)
    seen = []
    for entry in cuda_visible_devices.split(","):
        entry = entry.strip()
        match = next(
            (g for g in gpus if entry and (g.index == entry or g.uuid.startswith(entry))), None
        )
        if match is None:
            break
        seen.append(match)
    return seen


def _nvml_gpus() -> list[GPU]:
    """The GPUs NVML reports (pynvml; blocking: run it in a thread)."""
    import pynvml

    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    pynvml.nvmlInit()
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            gpus.append(
                GPU(
                    str(i),
                    text(pynvml.nvmlDeviceGetUUID(handle)),
                    text(pynvml.nvmlDeviceGetName(handle)),
                    int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                )
            )
        return gpus
    finally:
        pynvml.nvmlShutdown()


async def find_gpus(timeout: float = 10.0) -> tuple[list[GPU], str | None]:
    """(the GPUs this server sees, why there are none)."""
    try:
        if shutil.which(NVIDIA_SMI[0]):
            gpus = parse_nvidia_smi(await run(*NVIDIA_SMI, timeout=timeout))
        elif importable("pynvml"):
            gpus = await asyncio.wait_for(asyncio.to_thread(_nvml_gpus), timeout)
        else:
            return [], f"{NO_GPU} (neither nvidia-smi nor pynvml found)"
    except Exception as exc:  # nvidia-smi failed or hung, NVMLError, ...: no GPU to use
        reason = str(exc).strip() or type(exc).__name__
        return [], f"{NO_GPU} that this server can use ({reason})"
    gpus = visible(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    return gpus, None if gpus else f"{NO_GPU} that this server sees"


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ucx_available() -> bool:
    """UCX support for distributed: distributed-ucxx, or UCX-Py for older distributed."""
    return importable("distributed_ucxx") or importable("ucp")


def _fraction_or_size(value: str) -> float | str:
    """ "0.8" -> 0.8 (a fraction of the GPU's memory); "auto" and sizes stay strings."""
    try:
        return float(value) if "." in value and float(value) <= 1 else value
    except ValueError:
        return value


class CUDABackend(LocalBackend):
    name = "cuda"
    title = "Local GPUs (dask-cuda)"
    schema_file = "backends/cuda.yaml"
    cluster_class_path = "dask_cuda.LocalCUDACluster"
    #: Seconds a GPU listing is reused (GPUs do not come and go).
    gpus_cache_seconds = 60.0
    nvidia_smi_timeout = 10.0
    #: The operator's opt-in to the unencrypted ucx protocol (set from the server's settings).
    allow_unencrypted_ucx = False

    def __init__(self) -> None:
        self._gpus: tuple[list[GPU], str | None] | None = None
        self._gpus_time = 0.0
        self._gpus_lock = asyncio.Lock()

    def cluster_class(self) -> type:
        from dask_cuda import LocalCUDACluster

        return LocalCUDACluster

    # --- the GPUs -----------------------------------------------------------------------------
    async def gpus(self) -> list[GPU]:
        """The GPUs this server sees, listed at most every ``gpus_cache_seconds``."""
        async with self._gpus_lock:
            if self._gpus is None or time.monotonic() - self._gpus_time > self.gpus_cache_seconds:
                self._gpus = await find_gpus(self.nvidia_smi_timeout)
                self._gpus_time = time.monotonic()
            return self._gpus[0]

    def unavailable_reason(self) -> str | None:
        if self._gpus is None:  # not listed yet: describe() and launches list them first
            if not shutil.which(NVIDIA_SMI[0]) and not importable("pynvml"):
                return f"{NO_GPU} (neither nvidia-smi nor pynvml found)"
        elif self._gpus[1]:
            return self._gpus[1]
        if not importable("dask_cuda"):
            return f"dask-cuda is not installed in the Jupyter server's environment: {INSTALL}"
        return None

    async def describe(self) -> dict[str, Any]:
        await self.gpus()  # the reason and the choices come from a recent listing
        return await super().describe()

    async def form_schema(self) -> dict[str, Any]:
        schema = await super().form_schema()
        properties = schema["properties"]
        gpus = self._gpus[0] if self._gpus else []
        if gpus:
            items = properties["CUDA_VISIBLE_DEVICES"]["items"]
            items["oneOf"] = [{"const": g.index, "title": g.title} for g in gpus]
        if not (self.allow_unencrypted_ucx and ucx_available()):
            properties["protocol"]["enum"] = ["tcp"]
        return schema

    def ui_schema(self) -> dict[str, Any]:
        ui = super().ui_schema()
        if not (self._gpus and self._gpus[0]):  # checkboxes need the list of GPUs
            ui.get("CUDA_VISIBLE_DEVICES", {}).pop("ui:widget", None)
        return ui

    # --- options ---------------------------------------------------------------------------------
    async def check_consistency(self, options: dict[str, Any]) -> None:
        await super().check_consistency(options)  # the host memory limit
        gpus = await self.gpus()
        if not gpus:
            reason = self.unavailable_reason() or NO_GPU
            raise InvalidRequest(f"backend: {self.title} is not available: {reason}", "backend")
        names = ", ".join(g.index for g in gpus)
        for i, entry in enumerate(options["CUDA_VISIBLE_DEVICES"]):
            found = any(g.index == entry or g.uuid == entry for g in gpus)
            require(
                found, f"options.CUDA_VISIBLE_DEVICES.{i}", f"no GPU {entry} here (GPUs: {names})"
            )
        for key in ("device_memory_limit", "rmm_pool_size"):
            value = _fraction_or_size(options[key])
            if isinstance(value, str) and value not in ("", "auto", "default"):
                try:
                    parse_bytes(value)
                except ValueError:
                    require(False, f"options.{key}", "must be a fraction such as 0.8 or a size")
        rmm = not options["rmm_pool_size"] or importable("rmm")
        require(rmm, "options.rmm_pool_size", "needs the rmm package, not installed here")
        if options["protocol"] == "ucx":
            require(self.allow_unencrypted_ucx, "options.protocol", UCX_NOT_ALLOWED)
            message = "ucx needs distributed-ucxx (or ucx-py), not installed"
            require(ucx_available(), "options.protocol", message)

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        local = {**options, "processes": True}  # always: one worker process per GPU
        kwargs = super().cluster_kwargs(local, cluster_id=cluster_id, cluster_name=cluster_name)
        del kwargs["processes"]  # LocalCUDACluster has no choice to offer
        devices = options["CUDA_VISIBLE_DEVICES"]
        workers = len(devices) or len(self._gpus[0] if self._gpus else []) or 1
        memory = options["memory_limit"]
        device_memory = options["device_memory_limit"]
        if device_memory != "default":  # else the installed dask-cuda's own default
            kwargs["device_memory_limit"] = _fraction_or_size(device_memory)
        return {
            **kwargs,
            # "auto" shares the host's memory between the GPUs' workers (a fraction of it: the
            # cluster starts with one worker, and dask-cuda would give that one all of it)
            "memory_limit": round(1 / workers, 6) if memory == "auto" else memory,
            # none chosen: every GPU the host process sees (it inherits the server's variable)
            "CUDA_VISIBLE_DEVICES": ",".join(devices) if devices else None,
            # dask-cuda starts at least one worker; the launch's scaling follows at once
            "n_workers": 1,
            "rmm_pool_size": _fraction_or_size(options["rmm_pool_size"]) or None,
            # TLS with the cluster's own certificate; UCX has no encryption
            "protocol": "ucx" if options["protocol"] == "ucx" else "tls",
        }

    async def scale(self, cluster: Any, n: int) -> None:
        self._check_workers(cluster, n)
        await super().scale(cluster, n)

    async def adapt(self, cluster: Any, minimum: int, maximum: int) -> None:
        self._check_workers(cluster, maximum)
        await super().adapt(cluster, minimum, maximum)

    def _check_workers(self, cluster: Any, n: int) -> None:
        devices = list(getattr(cluster, "cuda_visible_devices", None) or [])
        if devices and n > len(devices):
            gpus = ", ".join(map(str, devices))
            raise ValueError(f"at most {len(devices)} workers: one per GPU ({gpus})")
