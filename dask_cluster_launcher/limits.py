"""Operator limits per backend, and the options a site profile locks.

A site sets limits in Jupyter config (``c.ClusterLauncherApp.limits``)::

    {"slurm": {"max_workers": 100, "max_cores": 32, "max_memory": "128 GB",
               "max_walltime": "24:00:00", "max_clusters": 2}}

They are checked on every launch and rescale, server-side, whoever sends the request (sidebar,
REST, ``quick_connect``, the CLI), and a refusal names the limit; the forms show them too
(``maximum`` on the fields, ``x-limits`` on the form). Per job: ``max_cores``, ``max_memory``
and ``max_walltime`` (batch backends: extra directives that set what they govern are refused,
see ``backends/directives.py``, and so is skipping the memory directive under
``max_memory``); per cluster: ``max_workers`` (fixed size or adaptive maximum); per user:
``max_clusters`` of that backend at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dask.utils import parse_bytes

from .backends.batch import directives
from .backends.batch.queues import walltime_seconds
from .errors import InvalidRequest, shorten

#: Where a batch cluster's scheduler can run (the schema's ``scheduler_placement``).
PLACEMENTS = ("beside_jupyter", "own_job", "one_allocation")


@dataclass(frozen=True)
class Limits:
    """One backend's limits; ``None``: no limit."""

    max_workers: int | None = None
    max_cores: int | None = None
    max_memory: str | None = None
    max_walltime: str | None = None
    max_clusters: int | None = None
    #: Where a batch cluster's scheduler may run (``scheduler_placement`` values, e.g.
    #: ``["own_job"]`` on a login node that forbids long processes); None: anywhere.
    scheduler_placements: list[str] | None = None

    @classmethod
    def from_config(cls, backend: str, data: Any) -> Limits:
        """Checked limits from config; ``ValueError`` names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"limits[{backend!r}] must be a mapping of limit names to values")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"limits[{backend!r}]: unknown {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        limits = cls(**data)
        for name in ("max_workers", "max_cores", "max_clusters"):
            value = getattr(limits, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"limits[{backend!r}].{name} must be a whole number >= 0")
        placements = limits.scheduler_placements
        if placements is not None and (
            not isinstance(placements, list)
            or not placements
            or not set(placements) <= set(PLACEMENTS)
        ):
            raise ValueError(
                f"limits[{backend!r}].scheduler_placements must be a non-empty list of "
                f"{', '.join(PLACEMENTS)}"
            )
        try:
            if limits.max_memory is not None:
                parse_bytes(limits.max_memory)
            if limits.max_walltime is not None:
                walltime_seconds(limits.max_walltime)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"limits[{backend!r}]: {exc}") from None
        return limits

    def model(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    # --- checks ---------------------------------------------------------------------------------
    def check_options(self, options: dict[str, Any]) -> None:
        """Per-job limits, for the fields the backend has."""
        placement = options.get("scheduler_placement")
        allowed = self.scheduler_placements
        if allowed is not None and placement is not None and placement not in allowed:
            raise InvalidRequest(
                f"options.scheduler_placement: {shorten(placement)} is not allowed on this "
                f"site (scheduler_placements = {', '.join(allowed)})",
                field="options.scheduler_placement",
            )
        if self.max_cores is not None and "cores" in options:
            _refuse_above(options["cores"], self.max_cores, "options.cores", "max_cores")
        memory, walltime = options.get("memory"), options.get("walltime")
        if self.max_memory and memory and parse_bytes(memory) > parse_bytes(self.max_memory):
            _refuse("options.memory", options["memory"], "max_memory", self.max_memory)
        skips = options.get("job_directives_skip") or []
        memory_line = directives.slurm_memory_line(options) if self.max_memory and skips else None
        if memory_line:
            for index, skip in enumerate(skips):
                if skip in memory_line:
                    field = f"options.job_directives_skip.{index}"
                    raise InvalidRequest(
                        f"{field}: would leave out the job's memory request ({memory_line}); "
                        f"the site limits memory (max_memory = {self.max_memory})",
                        field=field,
                    )
        if (
            self.max_walltime
            and walltime
            and walltime_seconds(walltime) > walltime_seconds(self.max_walltime)
        ):
            _refuse("options.walltime", walltime, "max_walltime", self.max_walltime)
        if placement == "own_job":
            self._check_scheduler_job(options)

    def _check_scheduler_job(self, options: dict[str, Any]) -> None:
        """The scheduler's own batch job is a job too: the per-job limits apply to it."""
        cores, memory = options.get("scheduler_cores"), options.get("scheduler_memory")
        walltime = options.get("scheduler_walltime")
        if self.max_cores is not None and cores is not None:
            _refuse_above(cores, self.max_cores, "options.scheduler_cores", "max_cores")
        if self.max_memory and memory and parse_bytes(memory) > parse_bytes(self.max_memory):
            _refuse("options.scheduler_memory", memory, "max_memory", self.max_memory)
        if (
            self.max_walltime
            and walltime
            and walltime_seconds(walltime) > walltime_seconds(self.max_walltime)
        ):
            _refuse("options.scheduler_walltime", walltime, "max_walltime", self.max_walltime)

    def check_scaling(self, scaling: dict[str, Any], prefix: str = "scaling") -> None:
        if self.max_workers is None:
            return
        if "adapt" in scaling:
            field = ".".join(p for p in (prefix, "adapt", "maximum") if p)
            _refuse_above(scaling["adapt"]["maximum"], self.max_workers, field, "max_workers")
        else:
            field = ".".join(p for p in (prefix, "workers") if p)
            _refuse_above(scaling["workers"], self.max_workers, field, "max_workers")

    def check_clusters(self, running: int, backend_title: str) -> None:
        """``running``: this user's clusters of the backend that have not stopped."""
        if self.max_clusters is not None and running >= self.max_clusters:
            raise InvalidRequest(
                f"backend: you have {running} {backend_title} cluster(s); the site allows "
                f"{self.max_clusters} at once (max_clusters): stop one first",
                field="backend",
            )

    # --- the form -------------------------------------------------------------------------------
    def annotate(self, schema: dict[str, Any]) -> None:
        """Show the limits in a form schema: ``maximum`` where JSON Schema has one, the limit in
        the field's description otherwise, and all of them under ``x-limits``."""
        properties = schema.get("properties", {})
        if self.max_cores is not None and "cores" in properties:
            field = properties["cores"]
            field["maximum"] = min(field.get("maximum", self.max_cores), self.max_cores)
        for name, limit in (("memory", self.max_memory), ("walltime", self.max_walltime)):
            if limit is not None and name in properties:
                text = properties[name].get("description", "")
                properties[name]["description"] = f"{text} At most {limit} on this site.".strip()
        placement = properties.get("scheduler_placement")
        if self.scheduler_placements is not None and placement is not None:
            allowed = self.scheduler_placements
            placement["oneOf"] = [c for c in placement.get("oneOf", []) if c["const"] in allowed]
            placement["default"] = allowed[0]
        if self.model():
            schema["x-limits"] = self.model()


def _refuse_above(value: Any, limit: int, field: str, name: str) -> None:
    if isinstance(value, int) and value > limit:
        _refuse(field, value, name, limit)


def _refuse(field: str, value: Any, name: str, limit: Any) -> None:
    raise InvalidRequest(
        f"{field}: {shorten(value)} is more than the site allows ({name} = {limit})",
        field=field,
    )


def limits_from_config(config: Any) -> dict[str, Limits]:
    """Backend name -> limits, from the ``limits`` setting."""
    if not isinstance(config, dict):
        raise ValueError("limits must map backend names to their limits")
    return {str(name): Limits.from_config(str(name), data) for name, data in config.items()}


def check_locks(
    profile_name: str, locked: list[str], fixed: dict[str, Any], requested: dict[str, Any]
) -> None:
    """Refuse a request that changes an option the profile locks. ``fixed``: the values the
    profile gives them (its options, else the form's defaults); a request may repeat them (the
    sidebar sends every field)."""
    for name in locked:
        if name in requested and requested[name] != fixed.get(name):
            raise InvalidRequest(
                f"options.{name}: is locked by the profile {profile_name!r} "
                f"(locked: {', '.join(locked)}); it stays {shorten(fixed.get(name))}",
                field=f"options.{name}",
            )
