"""The dependency floors in pyproject.toml stay above every version with a known advisory, and
the environment the tests run in satisfies them.

Each row names the advisory and the first version that fixes it. A new advisory for a
dependency is one more row; its fixed version then has to be the floor (or below it).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NamedTuple

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


class Advisory(NamedTuple):
    package: str
    id: str
    fixed: str
    what: str


ADVISORIES = [
    Advisory(
        "jupyter-server-proxy", "GHSA-w3vc-fx9p-wp4v", "4.1.1",
        "CVE-2024-28179: proxied websockets did not require authentication",
    ),
    Advisory(
        "jupyter-server-proxy", "GHSA-fvcq-4x64-hqxr", "4.2.0",
        "CVE-2024-35225: reflected XSS through the /proxy host segment",
    ),
    Advisory(
        "jupyter-server", "GHSA-5789-5fc7-67v3", "2.18.0",
        "CVE-2026-35397: contents API path traversal into sibling directories of the root",
    ),
    Advisory(
        "jupyter-server", "GHSA-24qx-w28j-9m6p", "2.18.0",
        "CVE-2026-40110: allow_origin_pat matched only a prefix of the Origin",
    ),
    Advisory(
        "jupyter-server", "GHSA-5mrq-x3x5-8v8f", "2.18.0",
        "CVE-2026-40934: cookies signed before a password change stayed valid",
    ),
    Advisory(
        "jupyter-server", "GHSA-fcw5-x6j4-ccmp", "2.20.0",
        "CVE-2026-44727: stored XSS in the nbconvert handlers (no CSP sandbox)",
    ),
    Advisory(
        "jupyter-server", "GHSA-c3mw-737p-c7g2", "2.21.0",
        "CVE-2026-86049: the Referer header (and a token in it) logged on 5xx errors",
    ),
    Advisory(
        "distributed", "GHSA-c336-7962-wfj2", "2026.1.0",
        "CVE-2026-23528: XSS in the dashboard's error page, reachable through the Jupyter proxy",
    ),
]  # fmt: skip


def requirements() -> dict[str, Requirement]:
    """Every requirement of the package, its optional ones included, by normalized name."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    found: dict[str, Requirement] = {}
    for line in lines:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name not in found or str(requirement.specifier):  # the one with a floor
            found[name] = requirement
    return found


def floor(requirement: Requirement) -> Version | None:
    lows = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(lows, default=None)


@pytest.mark.parametrize("advisory", ADVISORIES, ids=lambda a: f"{a.package}-{a.id}")
def test_each_floor_is_at_least_the_advisorys_fixed_version(advisory: Advisory) -> None:
    requirement = requirements()[canonicalize_name(advisory.package)]
    lowest = floor(requirement)
    assert lowest is not None and lowest >= Version(advisory.fixed), (
        f"{requirement} allows {advisory.package} < {advisory.fixed}, "
        f"which has {advisory.id} ({advisory.what})"
    )


def test_the_installed_versions_satisfy_the_floors() -> None:
    for name, requirement in requirements().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # an optional backend's package that this environment does not have
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{name} {installed} is installed, pyproject.toml asks for {requirement}"
        )
