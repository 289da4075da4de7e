"""A launch request resolved once, into a typed :class:`LaunchPlan`.

A request names a profile or a bare backend, with options, scaling, a kernel and a name. The
server's manager, ``quick_connect``/``make_cluster``/``start_cluster`` and the command line all
resolve it here, with the same profiles, schemas, locks and site limits: a cluster is checked
the same way whoever starts it. Nothing here starts anything.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import schemas, snippets
from .backends import Backend
from .backends.batch import allocation
from .backends.batch.lifetimes import with_default_lifetime
from .backends.registry import class_path
from .errors import InvalidRequest
from .handles import runs_in_host
from .hosting import job_host
from .hosting.records import HostSpec
from .kernels import KernelPython, kernel_python
from .limits import Limits, check_locks
from .profiles import ProfileStore


def check_scaling(scaling: Any, prefix: str) -> None:
    """``{"workers": n}`` or ``{"adapt": {"minimum": a, "maximum": b}}`` with ``a <= b``."""
    schemas.check(scaling, "scaling.yaml", prefix=prefix)
    if "adapt" in scaling and scaling["adapt"]["minimum"] > scaling["adapt"]["maximum"]:
        field = ".".join(p for p in (prefix, "adapt", "minimum") if p)
        raise InvalidRequest(f"{field}: must not be greater than the maximum", field=field)


@dataclass
class LaunchPlan:
    """What a launch will start: every value checked against the backend's schema, the
    profile's locks and the site's limits."""

    backend: Backend
    #: Validated options (the profile's, overridden by the request's).
    options: dict[str, Any]
    scaling: dict[str, Any]
    #: The site's limits for this backend (also checked on later rescales).
    limits: Limits
    #: The profile's name, or None for a bare backend.
    profile: str | None = None
    #: The name the request gave the cluster, if any.
    name: str | None = None
    #: The kernel whose Python runs the cluster (see ``with_kernel``); None: the server's.
    kernel: KernelPython | None = None

    @property
    def hosted(self) -> bool:
        """The cluster runs in a host process of its own (else in the caller's process)."""
        return runs_in_host(self.backend)

    def cluster_kwargs(self, cluster_id: str, name: str) -> dict[str, Any]:
        return self.backend.cluster_kwargs(self.options, cluster_id=cluster_id, cluster_name=name)

    def host_spec(
        self,
        cluster_id: str,
        name: str,
        *,
        records_dir: Path,
        grace_period: float,
        idle_timeout: float,
        kwargs: dict[str, Any] | None = None,
        created: str | None = None,
    ) -> HostSpec:
        """The spec of the cluster's host, with its credentials and logs in the backend's
        private directory and the server settings the host applies itself (the idle timeout,
        the batch command prefix)."""
        backend = self.backend
        return HostSpec(
            cluster_id=cluster_id,
            name=name,
            backend=backend.name,
            kwargs=self.cluster_kwargs(cluster_id, name) if kwargs is None else kwargs,
            scaling=self.scaling,
            private_root=str(backend.private_dir.root),
            records_dir=str(records_dir),
            grace_period=grace_period,
            options=self.options,
            profile=self.profile,
            created=created or datetime.now(timezone.utc).isoformat(),
            python=self.kernel.python if self.kernel else None,
            idle_timeout=idle_timeout,
            command_prefix=list(getattr(backend, "command_prefix", ())),
            backend_class=class_path(type(backend)),
        )

    def preview(self) -> dict[str, Any]:
        """The Python that makes the same cluster without the launcher, and the job script
        its batch jobs would run (None for backends without any)."""
        backend = self.backend
        kwargs = self.cluster_kwargs("preview", "preview")
        # the paths the real cluster's credentials will have; nothing is written for a preview
        files = backend.private_dir.cluster("<cluster-id>")
        python = self.kernel.python if self.kernel else None
        code = snippets.reproduce_code(backend.cluster_class_path, kwargs, self.scaling)
        if allocation.is_allocation(kwargs):  # no cluster class: the job script, submitted
            code = allocation.reproduce_code(backend.with_credentials(kwargs, files), self.scaling)
        return {
            "code": code,
            "job_script": backend.job_script(backend.with_credentials(kwargs, files)),
            # the scheduler's own job, when it has one (see hosting/job_host.py)
            "scheduler_job_script": job_host.preview_script(backend, kwargs, self.options, python),
        }

    async def preview_with_estimate(self) -> dict[str, Any]:
        """The preview, and when the batch system would start its job as asked (see
        ``backends/batch/start_estimates.py``; ``start`` None: no estimate)."""
        answer = self.preview()
        answer["start_estimate"] = await self.backend.start_estimate(answer["job_script"])
        return answer


class RequestResolver:
    """Resolves requests against the backends, profiles and limits a server has."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        profiles: ProfileStore,
        limits: Mapping[str, Limits] | None = None,
        kernel_spec_manager: Any = None,
    ) -> None:
        self.backends = backends
        self.profiles = profiles
        self.limits = limits or {}
        #: jupyter_client's KernelSpecManager, to run clusters with a kernel's Python
        self.kernel_spec_manager = kernel_spec_manager

    def limits_for(self, backend_name: str) -> Limits:
        return self.limits.get(backend_name) or Limits()

    def backend(self, name: str) -> Backend:
        backend = self.backends.get(name)
        if backend is None:
            known = ", ".join(sorted(self.backends))
            raise InvalidRequest(f"backend: unknown backend {name!r} (known: {known})", "backend")
        reason = backend.unavailable_reason()
        if reason:
            raise InvalidRequest(f"backend: {backend.title} is not available: {reason}", "backend")
        return backend

    async def resolve(self, request: Mapping[str, Any]) -> LaunchPlan:
        """The plan of a launch or preview request (its kernel: see ``with_kernel``)."""
        options: dict[str, Any] = {}
        scaling: dict[str, Any] = {"workers": 1}
        profile = None
        if "profile" in request:
            # profiles are files: read them off the event loop
            profile = await asyncio.to_thread(self.profiles.get, request["profile"])
            backend = self.backend(profile.backend)
            options.update(profile.options)
            scaling = profile.scaling
        else:
            backend = self.backend(request["backend"])
        options = backend.with_overrides(options, request.get("options") or {})
        if profile is not None and profile.locked:
            # before validation, which asks the site: a locked field is refused as locked, not
            # for what the site thinks of the value the user tried
            fixed = {**backend.defaults(), **profile.options}
            check_locks(profile.name, profile.locked, fixed, request.get("options") or {})
        scaling = copy.deepcopy(request.get("scaling") or scaling)
        await asyncio.to_thread(check_scaling, scaling, "scaling")  # validation: off the loop
        backend.check_scaling(scaling, "scaling")
        validated = await backend.validate(options)
        given = set(request.get("options") or {}) | set(profile.options if profile else {})
        validated = with_default_lifetime(validated, scaling, given)
        allocation.check_request(backend, validated, scaling)  # fixed size, SLURM only
        limits = self.limits_for(backend.name)
        limits.check_options(validated)
        limits.check_scaling(scaling)
        return LaunchPlan(
            backend,
            validated,
            scaling,
            limits,
            profile=request.get("profile"),
            name=request.get("name"),
        )

    async def with_kernel(self, plan: LaunchPlan, name: str | None) -> LaunchPlan:
        """The plan run with kernel ``name``'s Python (its batch workers too, unless the form
        names another Python); only hosted clusters can."""
        if name is None:
            return plan
        if not plan.hosted or self.kernel_spec_manager is None:
            raise InvalidRequest(
                f"kernel: {plan.backend.title} clusters run their own environment", "kernel"
            )
        kernel = await kernel_python(self.kernel_spec_manager, name)
        options = dict(plan.options)
        if options.get("python") == sys.executable:
            options["python"] = kernel.python
        return dataclasses.replace(plan, options=options, kernel=kernel)

    def request_for(
        self, profile: str, overrides: dict[str, Any], scaling: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The request for a name that is a profile or else a bare backend (the Python API's
        and the command line's first argument)."""
        known_profiles = {p.name for p in self.profiles.list()}
        request: dict[str, Any] = {"options": overrides}
        request["profile" if profile in known_profiles else "backend"] = profile
        if scaling is not None:
            request["scaling"] = scaling
        return request
