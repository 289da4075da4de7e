"""Python code for notebooks: connecting a client, and reproducing a cluster in code.

Every value is rendered with ``repr`` (or validated to be an identifier), so no user input can
change the structure of the code: a cluster name with quotes or newlines stays a string.
"""

from __future__ import annotations

import re
from typing import Any


def _call(callee: str, kwargs: dict[str, Any]) -> str:
    if not kwargs:
        return f"{callee}()"
    for key in kwargs:
        if not key.isidentifier():
            raise ValueError(f"not a keyword argument name: {key!r}")
    lines = "".join(f"    {key}={value!r},\n" for key, value in kwargs.items())
    return f"{callee}(\n{lines})"


def scaling_code(variable: str, scaling: dict[str, Any]) -> str:
    if "adapt" in scaling:
        adapt = scaling["adapt"]
        minimum, maximum = int(adapt["minimum"]), int(adapt["maximum"])
        return f"{variable}.adapt(minimum={minimum!r}, maximum={maximum!r})"
    return f"{variable}.scale({int(scaling['workers'])!r})"


def reproduce_code(class_path: str, kwargs: dict[str, Any], scaling: dict[str, Any]) -> str:
    """The Python that creates the same cluster without the launcher."""
    module, _, class_name = class_path.rpartition(".")
    return (
        f"from {module} import {class_name}\n"
        "from dask.distributed import Client\n\n"
        f"cluster = {_call(class_name, kwargs)}\n"
        f"{scaling_code('cluster', scaling)}\n"
        "client = Client(cluster)\n"
        "client\n"
    )


def client_code(
    scheduler_address: str,
    cluster_name: str,
    *,
    security: dict[str, str] | None = None,
    dashboard_link: str | None = None,
) -> str:
    """Connect a notebook to a running cluster's scheduler.

    ``security`` holds ``Security`` keyword arguments (file paths or inline PEM) for TLS
    schedulers; ``dashboard_link`` is a ``distributed.dashboard.link`` template so that the
    client's dashboard links go through the Jupyter server (and work behind JupyterHub).
    """
    lines = ["# Dask cluster " + repr(cluster_name), "from dask.distributed import Client"]
    if security:
        lines.append("from distributed.security import Security")
    if dashboard_link:
        lines.append("import dask")
    lines.append("")
    if dashboard_link:
        lines.append(f"dask.config.set({{'distributed.dashboard.link': {dashboard_link!r}}})")
    if security:
        lines.append(f"security = {_call('Security', {**security, 'require_encryption': True})}")
        lines.append(f"client = Client({scheduler_address!r}, security=security)")
    else:
        lines.append(f"client = Client({scheduler_address!r})")
    lines.append("client")
    return "\n".join(lines) + "\n"


def connect_code(cluster_id: str, cluster_name: str, *, dashboard_link: str | None = None) -> str:
    """The short form of ``client_code`` for a cluster whose host runs as this user: one call,
    ``connecting.connect``, that finds the scheduler and the TLS credentials from the cluster's
    record, so the notebook holds no path, key or address (and stays valid while the cluster
    runs)."""
    arguments = repr(cluster_id)
    if dashboard_link:
        arguments += f", dashboard_link={dashboard_link!r}"
    return (
        f"# Dask cluster {cluster_name!r}\n"
        "from dask_cluster_launcher import connect\n"
        f"client = connect({arguments})\n"
        "client\n"
    )


_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def holds_private_key(code: str) -> bool:
    """Whether the code carries a PEM private key inline (Saturn's external TLS mode): it lets
    whoever reads it connect to the cluster, so only those allowed to run clusters get it."""
    return _PRIVATE_KEY.search(code) is not None
