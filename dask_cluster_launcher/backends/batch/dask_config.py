"""The user's dask config for dask-jobqueue, read by dask-jobqueue's own rules.

dask-jobqueue reads ``jobqueue.<config_name>.*``, where ``config_name`` is the system's section
(``slurm``, ``sge``) or a section a site or user added and names with
``SGECluster(config_name="eddie")``. Three questions are answered here:

- what the user set: what dask collects from its YAML files and ``DASK_*`` variables, without
  the defaults packages register, plus what this process changed with ``dask.config.set``;
  a value the user wrote wins even when it equals dask-jobqueue's own default;
- dask-jobqueue's shipped defaults (its ``jobqueue.yaml``), which the forms start from;
- which named sections belong to which batch system (see :func:`system_of`); the systems are
  the sections of the registered batch backends (:func:`launcher_systems`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import dask.config
import yaml

from ...errors import InvalidRequest
from ..registry import backend_classes

if TYPE_CHECKING:
    from ..base import Backend

#: dask config keys (``jobqueue.<section>.*``) that map to form fields, and their old names
CONFIG_KEYS: dict[str, str | None] = {
    "cores": None,
    "processes": None,
    "memory": None,
    "walltime": None,
    "queue": None,
    "account": None,
    "project": None,
    "resource-spec": None,
    "interface": None,
    "python": None,
    "local-directory": None,
    "log-directory": None,
    "death-timeout": None,
    "job-extra-directives": "job-extra",
    "job-script-prologue": "env-extra",
    "worker-extra-args": "extra",
    "job-directives-skip": "header-skip",
}


def launcher_systems() -> list[str]:
    """The dask-jobqueue systems the launcher has a backend for: the ``config_name`` (the
    ``jobqueue.<config_name>`` section its dask-jobqueue class reads) of every registered batch
    backend, in the registry's order (``["slurm", "sge"]`` with this package alone)."""
    systems: dict[str, None] = {}
    for cls in backend_classes().values():
        section = getattr(cls, "config_name", None)  # batch backends (JobQueueBackend) name one
        if isinstance(section, str) and section:
            systems.setdefault(section)
    return list(systems)


def field_name(key: str) -> str:
    return key.replace("-", "_")


@functools.cache
def shipped() -> dict[str, dict[str, Any]]:
    """dask-jobqueue's own defaults (its ``jobqueue.yaml``), read once; importing dask_jobqueue
    also registers them in dask's config, as a notebook that uses dask-jobqueue would."""
    import dask_jobqueue

    path = os.path.join(os.path.dirname(dask_jobqueue.__file__), "jobqueue.yaml")
    with open(path, encoding="utf-8") as f:
        return dict(yaml.safe_load(f)["jobqueue"])


def shipped_form_defaults(system: str, fields: Iterable[str]) -> dict[str, Any]:
    """Form field -> dask-jobqueue's shipped default, for the fields that map to a key with a
    value (``null`` there means "not set": the form's own empty value stands for it)."""
    section = shipped().get(system, {})
    wanted = set(fields)
    return {
        field_name(key): section[key]
        for key in CONFIG_KEYS
        if field_name(key) in wanted and section.get(key) is not None
    }


# --- what the user set ------------------------------------------------------------------------
_lock = threading.Lock()
_collected: tuple[Any, dict[str, Any]] | None = None


def _fingerprint() -> Any:
    """Changes whenever a config file or a DASK_* variable changes (cheap: stat calls only)."""
    files = []
    for path in dask.config.paths:
        try:
            if os.path.isdir(path):
                names = sorted(os.listdir(path))
                candidates = [os.path.join(path, n) for n in names]
            else:
                candidates = [path]
            for name in candidates:
                if name.endswith((".yaml", ".yml", ".json")) and os.path.isfile(name):
                    status = os.stat(name)
                    files.append((name, status.st_mtime_ns, status.st_size))
        except OSError:
            continue
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("DASK_"))
    return (tuple(dask.config.paths), tuple(files), tuple(env))


def collected() -> dict[str, Any]:
    """The config the user wrote: dask's YAML files and ``DASK_*`` environment variables,
    without the defaults that packages register (re-read when a file changes)."""
    global _collected
    key = _fingerprint()
    with _lock:
        if _collected is None or _collected[0] != key:
            _collected = (key, dask.config.collect(paths=dask.config.paths, env=os.environ))
        return _collected[1]


_MISSING = object()


def user_value(key: str) -> Any:
    """The value the user set for a dotted key, or ``None`` when they set none.

    Files and environment decide first. A value present only in this process's config differs
    from the registered defaults exactly when ``dask.config.set`` (or an update) changed it; one
    set equal to the default is indistinguishable from it and means the same.
    """
    value = dask.config.get(key, _MISSING, config=collected())
    if value is not _MISSING:
        return value
    current = dask.config.get(key, None)
    return current if current != dask.config.get(key, None, config=_defaults()) else None


_merged_defaults: tuple[tuple[int, ...], dict[str, Any]] | None = None


def _defaults() -> dict[str, Any]:
    """The defaults packages registered, merged (again only when one more registers)."""
    global _merged_defaults
    key = tuple(id(d) for d in dask.config.defaults)
    with _lock:
        if _merged_defaults is None or _merged_defaults[0] != key:
            _merged_defaults = (key, dask.config.merge(*dask.config.defaults))
        return _merged_defaults[1]


def _is_set(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def section_values(section: str, fields: Iterable[str]) -> dict[str, Any]:
    """Form field -> value for each key of ``jobqueue.<section>`` the user set (old key names
    too, when the new one is not set)."""
    wanted = set(fields)
    found: dict[str, Any] = {}
    for key, old_key in CONFIG_KEYS.items():
        if field_name(key) not in wanted:
            continue
        for config_key in filter(None, (key, old_key)):
            value = user_value(f"jobqueue.{section}.{config_key}")
            if _is_set(value):
                found[field_name(key)] = value
                break
    return found


def scheduler_options(section: str) -> dict[str, Any]:
    """``jobqueue.<section>.scheduler-options`` as the user set it (e.g. ``interface: ib0``)."""
    value = user_value(f"jobqueue.{section}.scheduler-options")
    return dict(value) if isinstance(value, dict) else {}


# --- named sections -----------------------------------------------------------------------------
def named_sections() -> dict[str, dict[str, Any]]:
    """``jobqueue.<name>`` sections other than dask-jobqueue's own system sections."""
    jobqueue = dask.config.get("jobqueue", {}) or {}
    return {
        str(name): dict(section)
        for name, section in jobqueue.items()
        if name not in shipped() and isinstance(section, dict)
    }


def system_of(section: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the launcher system it belongs to, or ``None``; why it cannot be used) for a named
    section.

    dask-jobqueue does not record a class in a section: ``SLURMCluster(config_name=name)``
    reads the keys its classes read, from that section, and fails on any it lacks. So a named
    section is a copy of a system's section with values changed. It belongs to the system
    whose shipped section has every key it has: ``account``/``job-cpu``/``job-mem`` make a
    SLURM section, ``project``/``resource-spec`` an SGE one; a section with keys of systems the
    launcher has no backend for (PBS, LSF, ...) is not the launcher's (``None``, no reason).
    """
    systems = _systems_of(section)
    if len(systems) == 1:
        return systems[0], None
    if not systems:
        return None, None
    sections = " and ".join(f"jobqueue.{system}" for system in systems)
    names = _jobqueue_class_names()
    classes = [names.get(system, f"the {system} class") for system in systems]
    if len(classes) == 2:
        which = f"neither {classes[0]} nor {classes[1]}"
    else:
        which = f"none of {', '.join(classes)}"
    copies = " or ".join(f"jobqueue.{system}" for system in systems)
    return None, (
        f"has only keys that the {sections} sections share, so {which} can use it: "
        f"dask-jobqueue reads the whole section, so start from a copy of {copies}"
    )


def _systems_of(section: dict[str, Any]) -> list[str]:
    """The launcher systems whose shipped section has every key ``section`` has."""
    keys = {str(k).replace("_", "-") for k in section}
    return [s for s in launcher_systems() if keys <= set(shipped().get(s, {}))]


@functools.cache
def _jobqueue_class_names() -> dict[str, str]:
    """dask-jobqueue's section name -> its cluster class's name (``slurm`` -> SLURMCluster)."""
    import dask_jobqueue

    names: dict[str, str] = {}
    for name, value in vars(dask_jobqueue).items():
        section = getattr(getattr(value, "job_cls", None), "config_name", None)
        if isinstance(value, type) and isinstance(section, str):
            names.setdefault(section, name)
    return names


def named_options(section: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Form options for a named section: each key it maps, its ``scheduler-options``
    interface; a ``null`` string value is the form's empty value (dask-jobqueue reads
    ``null`` as "none" too). ``fields`` are the form's properties."""
    values = {str(k).replace("_", "-"): v for k, v in section.items()}
    options: dict[str, Any] = {}
    for key, old_key in CONFIG_KEYS.items():
        name = field_name(key)
        if name not in fields:
            continue
        value = values.get(key)
        if not _is_set(value) and old_key is not None and _is_set(values.get(old_key)):
            value = values[old_key]
        if _is_set(value):
            options[name] = value
        elif key in values and fields[name].get("default") == "":
            options[name] = ""
    interface = (values.get("scheduler-options") or {}).get("interface")
    if interface and "scheduler_interface" in fields:
        options["scheduler_interface"] = interface
    return options


def named_profiles(backend: Backend, own_system: str) -> list[dict[str, Any]]:
    """A read-only profile (as data) for each named section that ``backend`` (a batch backend
    whose dask config section is ``jobqueue.<own_system>``) can use; ``error`` says why one
    cannot be used (a section several systems share is reported once, by the first of them)."""
    profiles = []
    class_name = backend.cluster_class_path.rpartition(".")[2]
    properties = backend.static_schema()["properties"]
    for name, section in named_sections().items():
        system, problem = system_of(section)
        # a section no single system can use is reported once, by the first that could
        reports_problem = problem is not None and own_system == _systems_of(section)[0]
        if system != own_system and not reports_problem:
            continue
        options = named_options(section, properties)
        options["config_name"] = name
        profiles.append(
            {
                "name": name,
                "title": f"{name} (dask config)",
                "description": f"Your dask config's jobqueue.{name}, as "
                f"{class_name}(config_name={name!r}).",
                "backend": backend.name,
                "options": options,
                "path": f"dask config: jobqueue.{name}",
                "error": f"jobqueue.{name} {problem}"
                if problem
                else _probe(backend, name, options),
            }
        )
    return profiles


def _probe(backend: Backend, name: str, options: dict[str, Any]) -> str | None:
    """Why dask-jobqueue could not build a job from this section, or ``None``: the job script
    is built by dask-jobqueue from the section, as a launch would."""
    from ... import schemas

    try:
        schemas.check(options, backend.schema_file, prefix="options")
        complete = {**backend.defaults(), **options}
        kwargs = backend.cluster_kwargs(complete, cluster_id="probe", cluster_name=name)
        # credentials' paths as a preview shows them; nothing is written
        files = backend.private_dir.cluster("<cluster-id>")
        backend.job_script(backend.with_credentials(kwargs, files))
    except InvalidRequest as exc:
        return f"jobqueue.{name}: {exc.message}"
    except KeyError as exc:
        return f"jobqueue.{name} lacks {exc.args[0]!r}, which dask-jobqueue reads"
    except Exception as exc:
        return f"jobqueue.{name}: {type(exc).__name__}: {exc}"
    return None
