"""``connect``: the one call the sidebar's *Insert client code* writes into a notebook.

It runs in the notebook's kernel, right after the launch, so it imports only what it needs: the
cluster's record, its private files and one Dask RPC to its host. Not the launcher's profiles,
backends and request schemas (``api``: their ``jsonschema`` alone took 0.5-1 s to import, about
as long as the cluster takes to start).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from .errors import ConflictError, NotFound
from .hosting.processes import HostProcess
from .hosting.records import default_records_dir, read_records
from .private import PrivateDir


def connect(cluster_id: str, *, dashboard_link: str | None = None, timeout: float = 30.0) -> Any:
    """A ``Client`` of a running cluster of yours, by its id (the sidebar's "Insert client
    code" writes this call). The scheduler's address and the TLS credentials come from the
    cluster's record and private files, readable only by you, so the notebook carries no
    secret and no path. ``dashboard_link``: where the client's dashboard links point (the
    Jupyter server's proxy of the cluster's dashboard). ``NotFound`` when no such cluster
    runs, ``ConflictError`` before its scheduler runs."""
    records = read_records(default_records_dir(), [cluster_id])
    if not records or not records[0].alive():
        raise NotFound(
            f"no running cluster {cluster_id!r} of this user (clusters are found in "
            f"{default_records_dir()}: is the kernel on the Jupyter server's machine?)"
        )
    record = records[0]
    files = PrivateDir.at(record.spec.private_root).cluster(cluster_id)
    fields = _host_fields(HostProcess.attach(record, files))
    state = fields.get("state", "starting")
    if state not in ("starting", "running") or not fields.get("scheduler_address"):
        # a scheduler that is up takes clients while its workers start (batch jobs may queue)
        raise ConflictError(f"cluster {cluster_id!r} is {state}: its scheduler does not run")
    import dask
    from distributed import Client
    from distributed.security import Security

    if "client_security" in fields:
        # a scheduler with its own security (an adopted one): what its host connected with
        security = Security(**(fields["client_security"] or {}))
    else:
        security = files.security()
    if dashboard_link:
        dask.config.set({"distributed.dashboard.link": dashboard_link})
    return Client(fields["scheduler_address"], security=security, timeout=timeout)


def _host_fields(host: HostProcess) -> dict[str, Any]:
    """The host's model once (its first answer is the whole model). Asked from a thread of its
    own with a loop of its own: a notebook's kernel already runs a loop in this thread."""

    async def ask() -> dict[str, Any]:
        try:
            await host.changes(timeout=5.0)
        finally:
            await host.disconnect()
        return dict(host.mirror.fields)

    with concurrent.futures.ThreadPoolExecutor(1, "dask-cluster-launcher-connect") as pool:
        return pool.submit(asyncio.run, ask()).result()
