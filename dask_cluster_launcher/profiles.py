"""Cluster presets ("profiles"): a backend, its options and a scaling, under a name.

Profiles come from three places: built-in (shipped with the package), site (directories an
administrator configures, and the named ``jobqueue.<name>`` sections of the dask config; all
read-only) and user (saved from the sidebar, under the user's Jupyter data directory). A user
profile may not reuse a built-in or site name. A profile may lock options (``locked``): a
launch from it may not change them. A broken file is listed with its error and never hides the
others: each file is read on its own, and whatever goes wrong with one (not a regular file, too
large, not UTF-8, YAML aliases, invalid) marks only that one.

The store does blocking file I/O: the server calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import logging
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import schemas
from .backends.registry import backend_names
from .errors import ConflictError, InvalidRequest, LauncherError, NotFound, shorten

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).parent / "builtin_profiles"
SOURCES = ("builtin", "site", "user")
_SUFFIXES = (".yaml", ".yml", ".json")
#: Profiles are a few hundred bytes; a larger file is a mistake (or a trap) and is not read.
MAX_PROFILE_BYTES = 64 * 1024


def default_site_dirs() -> list[str]:
    return [
        os.path.join(sys.prefix, "share", "dask-cluster-launcher", "profiles"),
        "/etc/dask-cluster-launcher/profiles",
    ]


def default_user_dir() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return os.path.join(jupyter_data_dir(), "dask-cluster-launcher", "profiles")


@dataclass
class Profile:
    name: str
    backend: str
    title: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    scaling: dict[str, Any] = field(default_factory=lambda: {"workers": 1})
    description: str | None = None
    source: str = "builtin"
    path: str | None = None
    error: str | None = None
    #: options a launch from this profile may not change
    locked: list[str] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str, path: str | None = None) -> Profile:
        """A profile from validated file or request data."""
        return cls(
            name=data["name"],
            title=data.get("title", ""),
            description=data.get("description"),
            backend=data["backend"],
            options=data.get("options", {}),
            scaling=data.get("scaling", {"workers": 1}),
            source=source,
            path=path,
            locked=list(data.get("locked", [])),
        )

    def to_model(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title or self.name,
            "description": self.description,
            "backend": self.backend,
            "options": copy.deepcopy(self.options),
            "scaling": copy.deepcopy(self.scaling),
            "source": self.source,
            "error": self.error,
            "locked": list(self.locked),
        }

    def to_file(self) -> dict[str, Any]:
        data = {k: v for k, v in self.to_model().items() if k not in ("source", "error")}
        return {k: v for k, v in data.items() if v is not None and v != []}


def check_profile(data: Any, backend_schemas: dict[str, str]) -> None:
    """Raise InvalidRequest (naming the field) unless ``data`` is a valid profile."""
    if not isinstance(data, dict):
        raise InvalidRequest("profile: must be a mapping", field="profile")
    schemas.check(data, "profile.yaml")
    registered = backend_names()
    if data["backend"] not in registered:  # which names exist is the registry's to say
        names = ", ".join(map(shorten, registered))
        raise InvalidRequest(
            f"backend: {shorten(data['backend'])} is not one of {names}", "backend"
        )
    schema_file = backend_schemas.get(data["backend"])
    if schema_file is None:
        raise InvalidRequest(f"backend: {shorten(data['backend'])} is not enabled here", "backend")
    schemas.check(data.get("options", {}), schema_file, prefix="options")
    locked = data.get("locked", [])
    fields = schemas.form(schema_file).get("properties", {}) if locked else {}
    for index, name in enumerate(locked):
        if name not in fields:
            raise InvalidRequest(
                f"locked.{index}: {shorten(name)} is not an option of the {data['backend']} "
                "backend",
                field=f"locked.{index}",
            )


class _ProfileLoader(yaml.SafeLoader):
    """Safe YAML without aliases and without deep nesting.

    An alias (``*name``) repeats a node without repeating its text, so a few hundred bytes can
    expand to billions of values ("billion laughs"); profiles never need one. Nesting is cut
    while composing, before the recursive composer spends time (or stack) on it.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        if self._depth > schemas.MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, "is nested too deeply", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_text(path: Path, limit: int = MAX_PROFILE_BYTES) -> str:
    """The UTF-8 text of ``path``, which must be a regular file of at most ``limit`` bytes.

    FIFOs and devices are refused before opening; opening without blocking means one swapped in
    after that check cannot hang the server either (and is refused by the second check).
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("is not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    with os.fdopen(os.open(path, flags), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"is larger than {limit // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None


def read_profile(path: Path, source: str, backend_schemas: dict[str, str]) -> Profile:
    """The profile in ``path``, or a placeholder carrying the reason it is broken."""
    try:
        data = yaml.load(read_text(path), Loader=_ProfileLoader)  # a SafeLoader
        check_profile(data, backend_schemas)
    except Exception as exc:  # any problem of one file is that profile's, never the listing's
        return Profile(
            name=path.stem, backend="", source=source, path=str(path), error=_reason(exc)
        )
    return Profile.from_data(data, source, str(path))


def _reason(exc: Exception) -> str:
    if isinstance(exc, LauncherError):
        return exc.message
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 and text.isprintable() else shorten(text, 200)


class ProfileStore:
    """Finds, reads and writes profiles; files are re-read on every listing (they are small,
    and an administrator's edit shows without restarting the server)."""

    def __init__(
        self,
        backend_schemas: dict[str, str],
        site_dirs: list[str] | None = None,
        user_dir: str | None = None,
        default_name: str = "local",
        config_profiles: Callable[[], builtins.list[dict[str, Any]]] | None = None,
    ) -> None:
        self.backend_schemas = backend_schemas
        self.default_name = default_name
        #: read-only profiles from the dask config (its named jobqueue.<name> sections), as data
        self.config_profiles = config_profiles
        self.site_dirs = [
            Path(d) for d in (default_site_dirs() if site_dirs is None else site_dirs)
        ]
        self.user_dir = Path(user_dir or default_user_dir())
        # saves and deletes run in worker threads: one at a time, so that the name checks hold
        self._writing = threading.Lock()

    @classmethod
    def for_backends(cls, backends: dict[str, Any], **dirs: Any) -> ProfileStore:
        """A store for these backends, with the dask-config profiles of those that offer them
        (SLURM, SGE: ``config_profiles``)."""
        sources = [b.config_profiles for b in backends.values() if hasattr(b, "config_profiles")]

        def config_profiles() -> builtins.list[dict[str, Any]]:
            return [profile for source in sources for profile in source()]

        return cls(
            {name: b.schema_file for name, b in backends.items()},
            config_profiles=config_profiles,
            **dirs,
        )

    def _files(self) -> list[tuple[str, Path]]:
        places = [("builtin", BUILTIN_DIR)] + [("site", d) for d in self.site_dirs]
        places.append(("user", self.user_dir))
        found = []
        for source, directory in places:
            if not directory.is_dir():
                continue
            try:
                files = sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES)
            except OSError as exc:  # an unreadable directory hides only its own profiles
                log.warning("Cannot list profiles in %s: %s", directory, exc.strerror)
                continue
            found += [(source, path) for path in files]
        return found

    def list(self) -> list[Profile]:
        """Every profile; when names clash the earlier source (built-in, then site directories,
        then the dask config) wins."""
        read = [
            (source, read_profile(path, source, self.backend_schemas))
            for source, path in self._files()
        ]
        found = [p for source, p in read if source != "user"]
        found += self._from_config()
        found += [p for source, p in read if source == "user"]
        profiles: dict[str, Profile] = {}
        for profile in found:
            key = profile.name if not profile.error else f"{profile.source}:{profile.path}"
            profiles.setdefault(key, profile)
        return list(profiles.values())

    def _from_config(self) -> builtins.list[Profile]:
        """The dask config's profiles (site profiles: read-only), each checked like a file."""
        if self.config_profiles is None:
            return []
        try:
            entries = self.config_profiles()
        except Exception as exc:  # a broken dask config hides no other profile
            log.warning("Cannot read profiles from the dask config: %s", _reason(exc))
            return []
        profiles = []
        for entry in entries:
            path, error = entry.pop("path", None), entry.pop("error", None)
            try:
                if error:
                    raise InvalidRequest(error)
                check_profile(entry, self.backend_schemas)
            except Exception as exc:
                profiles.append(
                    Profile(
                        name=str(entry.get("name", "")),
                        backend="",
                        source="site",
                        path=path,
                        error=_reason(exc),
                    )
                )
                continue
            profiles.append(Profile.from_data(entry, "site", path))
        return profiles

    def models(self) -> builtins.list[dict[str, Any]]:
        """Every profile as the REST API shows it; ``default`` marks the preselected one."""
        return [{**p.to_model(), "default": p.name == self.default_name} for p in self.list()]

    def find(self, name: str) -> Profile | None:
        return next((p for p in self.list() if p.name == name and not p.error), None)

    def get(self, name: str) -> Profile:
        profile = next((p for p in self.list() if p.name == name), None)
        if profile is None:
            raise InvalidRequest(f"profile: unknown profile {shorten(name)}", field="profile")
        if profile.error:
            raise InvalidRequest(
                f"profile: {shorten(name)} is broken: {profile.error}", field="profile"
            )
        return profile

    # --- user profiles ----------------------------------------------------------------------
    def save(self, data: dict[str, Any], *, replace: str | None = None) -> Profile:
        """Write a user profile (``replace``: the name of the user profile it updates)."""
        check_profile(data, self.backend_schemas)
        with self._writing:
            return self._save(data, replace)

    def _save(self, data: dict[str, Any], replace: str | None) -> Profile:
        existing = next((p for p in self.list() if p.name == data["name"]), None)
        if existing is not None and existing.source != "user":
            raise ConflictError(
                f"name: {shorten(data['name'])} is a {existing.source} profile; "
                "choose another name",
                field="name",
            )
        if existing is not None and replace != data["name"]:
            raise ConflictError(
                f"name: a profile {shorten(data['name'])} exists already", field="name"
            )
        old = self._user_profile(replace) if replace is not None else None
        path = self.user_dir / f"{data['name']}.yaml"
        profile = Profile.from_data(data, "user", str(path))
        text = yaml.safe_dump(profile.to_file(), sort_keys=False)
        self.user_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # written whole under a name no listing reads (mode 0600), then renamed into place
        fd, tmp = tempfile.mkstemp(dir=self.user_dir, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        if old is not None and old.path and Path(old.path) != path:  # renamed
            os.remove(old.path)
        return profile

    def delete(self, name: str) -> None:
        with self._writing:
            profile = self._user_profile(name)
            if profile.path:
                os.remove(profile.path)

    def _user_profile(self, name: str) -> Profile:
        profile = next((p for p in self.list() if p.name == name), None)
        if profile is None:
            raise NotFound(f"no profile named {shorten(name)}")
        if profile.source != "user":
            raise ConflictError(f"{profile.source} profile {shorten(name)} is read-only")
        return profile
