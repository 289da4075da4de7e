"""The launcher from Python: the same backends, profiles and validation the server uses."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from typing import Any

from .backends import default_backends
from .manager import ClusterManager
from .profiles import ProfileStore


def _resolve(profile: str, overrides: dict[str, Any], scaling: dict[str, Any] | None):
    backends = default_backends()
    manager = ClusterManager(backends, ProfileStore.for_backends(backends))
    known_profiles = {p.name for p in manager.profiles.list()}
    request: dict[str, Any] = {"options": overrides}
    request["profile" if profile in known_profiles else "backend"] = profile
    if scaling is not None:
        request["scaling"] = scaling
    return run_sync(manager.resolve(request))


def run_sync(coroutine: Any) -> Any:
    """Run a coroutine to completion, also from a notebook whose kernel runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def make_cluster(profile: str = "local", **overrides: Any) -> Any:
    """Create the cluster a profile (or bare backend name) describes, without scaling it."""
    backend, options, _ = _resolve(profile, overrides, None)
    kwargs = backend.cluster_kwargs(options, cluster_id=_new_id(), cluster_name=profile)
    return backend.cluster_class()(**kwargs)


def quick_connect(
    profile: str = "local",
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    timeout: float = 120.0,
    **overrides: Any,
) -> Any:
    """A connected ``Client`` to a new cluster from ``profile``.

    With ``minimum`` and ``maximum`` the cluster adapts between them; with one number it scales
    to that many workers. Waits for the first worker (``timeout`` seconds) and closes the
    cluster if start-up fails.
    """
    from distributed import Client

    if minimum is not None and maximum is not None:
        scaling: dict[str, Any] | None = {"adapt": {"minimum": minimum, "maximum": maximum}}
    elif minimum is not None or maximum is not None:
        scaling = {"workers": minimum if minimum is not None else maximum}
    else:
        scaling = None
    backend, options, scaling = _resolve(profile, overrides, scaling)
    kwargs = backend.cluster_kwargs(options, cluster_id=_new_id(), cluster_name=profile)
    cluster = backend.cluster_class()(**kwargs)
    try:
        if "adapt" in scaling:
            cluster.adapt(minimum=scaling["adapt"]["minimum"], maximum=scaling["adapt"]["maximum"])
            first = max(1, scaling["adapt"]["minimum"])
        else:
            cluster.scale(scaling["workers"])
            first = min(1, scaling["workers"])
        client = Client(cluster)
        client.wait_for_workers(first, timeout=timeout)
    except BaseException:
        cluster.close()
        raise
    return client
