"""Cluster presets ("profiles"): a backend, its options and a scaling, under a name."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest


@dataclass
class Profile:
    name: str
    title: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    scaling: dict[str, Any] = field(default_factory=lambda: {"workers": 1})
    description: str | None = None
    source: str = "builtin"
    error: str | None = None

    def to_model(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "backend": self.backend,
            "options": copy.deepcopy(self.options),
            "scaling": copy.deepcopy(self.scaling),
            "source": self.source,
            "error": self.error,
        }


BUILTIN_PROFILES = [
    Profile(
        name="local",
        title="Local",
        description="Two single-threaded worker processes on the Jupyter server's machine.",
        backend="local",
        options={"threads_per_worker": 1, "processes": True, "memory_limit": "auto"},
        scaling={"workers": 2},
    ),
]


class ProfileStore:
    """Looks profiles up by name."""

    def __init__(self, profiles: list[Profile] | None = None) -> None:
        self._profiles = {p.name: p for p in (profiles or BUILTIN_PROFILES)}

    def list(self) -> list[Profile]:
        return list(self._profiles.values())

    def get(self, name: str) -> Profile:
        profile = self._profiles.get(name)
        if profile is None:
            raise InvalidRequest(f"profile: unknown profile {name!r}", field="profile")
        if profile.error:
            raise InvalidRequest(f"profile: {name!r} is broken: {profile.error}", field="profile")
        return profile
