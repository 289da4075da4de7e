"""The backends the launcher knows, registered once: the entry point group
``dask_cluster_launcher.backends``.

Each entry point is named after its backend and points at its class (``local =
"dask_cluster_launcher.backends.local:LocalBackend"``). This package registers its own there
(``pyproject.toml``), so a site or another package adds a backend by installing a package with
an entry point in the same group, without editing this one (see docs/adding-a-backend.md).
Everything that lists backends reads them here: the server's ``allowed_backends`` default, the
backends a profile may name, the dask config sections of batch systems, the tests.

Order (the sidebar lists bare backends in it): this package's own in :data:`OWN_ORDER`, then
other packages' by package name and backend name. A name registered twice
keeps its first registration; a broken entry point (it fails to import, is not a backend class,
names another backend) is logged and left out, and never hides the others.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import re
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .base import Backend

log = logging.getLogger(__name__)

GROUP = "dask_cluster_launcher.backends"
#: This package's distribution: its entry points come first.
OWN_DISTRIBUTION = "dask-cluster-launcher"
#: A backend's name goes into URLs, requests, profiles, limits and job names: short and plain.
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}\Z")
#: Only the order in which this package's own backends are listed: the local one first (it
#: works anywhere), then batch systems, then services. Which backends exist is the entry points'
#: business (packaging tools sort entry points by name, so their order cannot say this).
OWN_ORDER = (
    "local",
    "slurm",
    "sge",
    "pbs",
    "lsf",
    "htcondor",
    "saturn",
    "existing",
    "cuda",
    "gateway",
    "mpi",
)


def _normalized(distribution: str) -> str:
    """A distribution's name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _distribution(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return _normalized(dist.name) if dist is not None else ""


@functools.cache
def backend_classes() -> dict[str, type[Backend]]:
    """Backend name -> class, for every backend registered in :data:`GROUP` (read once per
    process)."""
    found = list(entry_points(group=GROUP))
    own = sorted(
        (ep for ep in found if _distribution(ep) == OWN_DISTRIBUTION),
        key=lambda ep: OWN_ORDER.index(ep.name) if ep.name in OWN_ORDER else len(OWN_ORDER),
    )
    others = sorted(
        (ep for ep in found if _distribution(ep) != OWN_DISTRIBUTION),
        key=lambda ep: (_distribution(ep), ep.name),
    )
    classes: dict[str, type[Backend]] = {}
    for entry_point in own + others:
        where = f"{entry_point.name} = {entry_point.value!r} ({_distribution(entry_point)})"
        if entry_point.name in classes:
            log.warning("Backend %s left out: %r is registered already", where, entry_point.name)
            continue
        try:
            classes[entry_point.name] = _load(entry_point)
        except Exception as exc:  # one broken package hides no other backend
            log.warning("Backend %s left out: %s", where, exc)
    return classes


def _load(entry_point: EntryPoint) -> type[Backend]:
    if not NAME.match(entry_point.name):
        raise ValueError(f"its name must match {NAME.pattern}")
    loaded = entry_point.load()
    if not (isinstance(loaded, type) and issubclass(loaded, Backend)):
        raise TypeError(f"{loaded!r} is not a subclass of {Backend.__module__}.Backend")
    if inspect.isabstract(loaded):
        raise TypeError(f"{loaded.__qualname__} leaves abstract methods to implement")
    if getattr(loaded, "name", None) != entry_point.name:
        raise ValueError(
            f"{loaded.__qualname__}.name is {getattr(loaded, 'name', None)!r}, "
            f"not the entry point's name {entry_point.name!r}"
        )
    return loaded


def backend_names() -> list[str]:
    """The registered backends' names, in the registry's order."""
    return list(backend_classes())


def create_backends(settings: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Backend]:
    """One instance of every registered backend; ``settings[name]`` are the keyword arguments
    of that backend's class (server settings such as Saturn's credentials). A backend whose
    constructor fails is logged and left out."""
    settings = settings or {}
    backends: dict[str, Backend] = {}
    for name, cls in backend_classes().items():
        try:
            backends[name] = cls(**settings.get(name, {}))
        except Exception:
            log.warning("Backend %r left out: it could not be created", name, exc_info=True)
    return backends


def class_path(cls: type[Backend]) -> str:
    """``module:QualifiedName`` of a backend class, as an entry point writes it."""
    return f"{cls.__module__}:{cls.__qualname__}"


def load_class(path: str) -> type[Backend]:
    """The backend class at a :func:`class_path`: a cluster host imports the class the server
    chose, so it needs no registry of its own (a kernel's environment may not have this
    package's entry points, only its source)."""
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, Backend)):
        raise TypeError(f"{path} is not a backend class")
    return found
