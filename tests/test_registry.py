"""One registry of backends: the entry point group ``dask_cluster_launcher.backends``.

A backend from another package (the example of docs/adding-a-backend.md, installed with pip into
a folder on a real server's PYTHONPATH) is listed, launches, runs a worker and stops; a site
profile naming it validates. The profile schema's backends, ``allowed_backends`` and the dask
config's batch systems all come from the registry, so a site profile for the gateway backend
validates and launches (it was refused: the profile schema listed every backend but that one).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import urllib.error
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml

from dask_cluster_launcher.app import ClusterLauncherApp
from dask_cluster_launcher.backends import registry
from dask_cluster_launcher.backends.batch import dask_config
from dask_cluster_launcher.backends.registry import GROUP, backend_names
from dask_cluster_launcher.errors import InvalidRequest
from dask_cluster_launcher.profiles import check_profile
from tests.gateway_testbed import GatewayTestbed
from tests.helpers import wait_cluster, wait_until
from tests.jupyter_process import JupyterServerProcess
from tests.test_backend_gateway import gateway_clusters, running_with
from tests.test_backend_gateway import settings as gateway_settings
from tests.test_config import cli
from tests.test_hosts import host_pids, run_code

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "adding-a-backend.md"
COMPUTE = "\nprint(client.submit(lambda x: x + 1, 41).result())"


def guide_files() -> dict[str, str]:
    """The example package of the guide: each code block under a ``<!-- file: PATH -->``."""
    text = GUIDE.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S))


def install_guide_example(tmp_path: Path) -> Path:
    """pip-install the guide's example package into a fresh folder (for PYTHONPATH); the
    folder. The build uses this environment's hatchling, offline."""
    source, target = tmp_path / "dcl-classroom", tmp_path / "site-packages"
    for name, text in guide_files().items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return target


def write_profile(directory: Path, profile: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{profile['name']}.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def check_with_cli(tmp_path: Path, site_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """``dask-cluster-launcher check`` with a Jupyter config naming ``site_dir``."""
    config_dir = tmp_path / "cli-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(
        f"c.ClusterLauncherApp.site_profile_dirs = [{str(site_dir)!r}]\n"
    )
    return cli(
        {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTER_DATA_DIR": str(tmp_path / "cli-data"),
            **env,
        },
        "check",
    )


# --- this package's own backends ---------------------------------------------------------------
def test_this_packages_backends_are_its_entry_points():
    own = {ep.name: ep.value for ep in entry_points(group=GROUP) if ep.dist is not None}
    classes = registry.backend_classes()
    assert set(own) <= set(classes) and "gateway" in own
    for name, cls in classes.items():
        assert cls.name == name and own.get(name, registry.class_path(cls)) == (
            registry.class_path(cls)
        )
    assert backend_names()[0] == "local"  # listed first: it works anywhere
    assert ClusterLauncherApp().allowed_backends == backend_names()
    assert list(ClusterLauncherApp().launcher_backends()) == backend_names()


def test_a_profile_may_name_every_registered_backend_and_no_other():
    backends = ClusterLauncherApp().launcher_backends()
    schemas = {name: b.schema_file for name, b in backends.items()}
    for name, backend in backends.items():
        form = backend.static_schema()
        required = {key: form["properties"][key]["default"] for key in form.get("required", [])}
        check_profile({"name": "p", "backend": name, "options": required}, schemas)
    check_profile(
        {"name": "medium", "backend": "gateway", "options": {"worker_profile": "Medium Worker"}},
        schemas,
    )
    with pytest.raises(InvalidRequest) as refused:
        check_profile({"name": "p", "backend": "oar"}, schemas)
    assert refused.value.field == "backend"
    assert refused.value.message == "backend: 'oar' is not one of " + ", ".join(
        repr(name) for name in backend_names()
    )


# --- the gateway profile (QHub / Nebari) -----------------------------------------------------
NEBARI = {
    "name": "nebari-medium",
    "title": "Nebari, medium workers",
    "backend": "gateway",
    "options": {"worker_profile": "Medium Worker"},
    "scaling": {"workers": 1},
}


@pytest.fixture
def site_dir(tmp_path) -> Path:
    return tmp_path / "site-profiles"


@pytest.fixture
def jp_server_config(gateway_testbed: GatewayTestbed, private_dir, site_dir) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {
            "private_dir": str(private_dir),
            "site_profile_dirs": [str(site_dir)],
            **gateway_settings(gateway_testbed),
        },
    }


async def test_a_site_gateway_profile_validates_and_launches(
    launcher_api, gateway_testbed, site_dir, tmp_path
):
    path = write_profile(site_dir, NEBARI)
    checked = check_with_cli(tmp_path, site_dir)
    assert f"ok   {path}" in checked.stdout.splitlines(), checked.stdout + checked.stderr

    code, profiles = await launcher_api("profiles")
    assert next(p for p in profiles if p["name"] == "nebari-medium")["error"] is None
    body = {"profile": "nebari-medium"}
    code, model = await launcher_api("clusters", method="POST", body=body)
    assert code == 202, model
    try:
        model = await wait_cluster(launcher_api, model["id"], running_with(1))
        assert (model["backend"], model["profile"]) == ("gateway", "nebari-medium")
        assert model["workers"][0]["memory_limit"] == 2 * 2**30  # the gateway's Medium Worker
        [cluster] = (await gateway_clusters(gateway_testbed)).values()
        assert cluster.options["worker_profile"] == "Medium Worker"
    finally:
        code, _ = await launcher_api("clusters", model["id"], method="DELETE")
    assert code == 204 and await gateway_clusters(gateway_testbed) == {}


# --- a backend from another package ----------------------------------------------------------
def test_a_backend_from_another_package_is_listed_launched_used_and_stopped(tmp_path):
    site_packages = install_guide_example(tmp_path)
    site_dir = tmp_path / "site-profiles"
    profile = write_profile(
        site_dir,
        {
            "name": "classroom-pair",
            "backend": "classroom",
            "options": {"threads_per_worker": 2},
            "scaling": {"workers": 1},
        },
    )
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site_packages), os.getenv("PYTHONPATH")]))
    }
    checked = check_with_cli(tmp_path, site_dir, **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"ok   {profile}" in checked.stdout.splitlines()

    config = {
        "ClusterLauncherApp": {
            "private_dir": str(tmp_path / "private"),
            "site_profile_dirs": [str(site_dir)],
        }
    }
    with JupyterServerProcess(tmp_path / "server", env=env, config=config) as server:
        backends = {b["name"]: b for b in server.call("backends")}
        assert list(backends)[: len(backend_names())] == backend_names()
        classroom = backends["classroom"]
        assert classroom["title"] == "Classroom (small local cluster)"
        assert (classroom["available"], classroom["hosted"]) == (True, True)
        assert list(classroom["schema"]["properties"]) == ["threads_per_worker", "memory_limit"]
        profiles = {p["name"]: p for p in server.call("profiles")}
        assert profiles["classroom-pair"]["error"] is None

        launched = server.call("clusters", {"profile": "classroom-pair"})
        assert launched["backend"] == "classroom"

        def running() -> Any:
            model = next(c for c in server.call("clusters") if c["id"] == launched["id"])
            live = [w for w in model["workers"] if w["status"] == "running"]
            return model if model["state"] == "running" and len(live) == 1 else None

        model = wait_until(running, 90, "the classroom cluster running with 1 worker")
        assert model["workers"][0]["nthreads"] == 2
        assert model["workers"][0]["memory_limit"] == 2**30  # the form's default, 1 GiB
        assert host_pids(launched["id"])  # in a host process of its own
        snippet = server.call(f"clusters/{launched['id']}/snippet")
        assert run_code(snippet["code"] + COMPUTE).split() == ["42"]

        server.call(f"clusters/{launched['id']}", method="DELETE")
        assert server.call("clusters") == []
        wait_until(lambda: not host_pids(launched["id"]), 30, "its host process to end")

        refused = server_error(
            server, {"backend": "classroom", "options": {"memory_limit": "8 GiB"}}
        )
        assert refused["field"] == "options.memory_limit", refused


def server_error(server: JupyterServerProcess, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON error of a request the server refuses with 400."""
    with pytest.raises(urllib.error.HTTPError) as error:
        server.call("clusters", body)
    assert error.value.code == 400
    return json.loads(error.value.read())


# --- what the registry leaves out ------------------------------------------------------------
ODD_PACKAGE = """
from dask_cluster_launcher.backends.local import LocalBackend
from dask_cluster_launcher.backends.batch.slurm import SLURMBackend


class OARBackend(SLURMBackend):  # only what the registry and the dask config read
    name = "oar"
    title = "OAR"
    config_name = "oar"


class NotLocal(LocalBackend):
    name = "local"


class Misnamed(LocalBackend):
    name = "something-else"


class NotABackend:
    name = "plain"
"""
ODD_ENTRY_POINTS = {
    "oar": "dcl_odd:OARBackend",
    "local": "dcl_odd:NotLocal",  # this package's local backend stays
    "misnamed": "dcl_odd:Misnamed",
    "plain": "dcl_odd:NotABackend",
    "broken": "dcl_odd_missing:Backend",
    "Bad.Name": "dcl_odd:OARBackend",
}


@pytest.fixture
def odd_package(tmp_path, monkeypatch):
    """A package on sys.path registering good and broken backends (as pip would install it)."""
    (tmp_path / "dcl_odd.py").write_text(ODD_PACKAGE)
    dist = tmp_path / "dcl_odd-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dcl-odd\nVersion: 1.0\n")
    lines = [f"{name} = {value}" for name, value in ODD_ENTRY_POINTS.items()]
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.backend_classes.cache_clear()
    yield
    monkeypatch.undo()
    registry.backend_classes.cache_clear()


def test_a_broken_or_clashing_registration_is_logged_and_hides_nothing(odd_package, caplog):
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        classes = registry.backend_classes()
    assert list(classes)[:-1] == list(registry.OWN_ORDER) and list(classes)[-1] == "oar"
    assert classes["local"].__module__ == "dask_cluster_launcher.backends.local"
    said = caplog.text
    for name in ("local", "misnamed", "plain", "broken", "Bad.Name"):
        assert f"Backend {name} = " in said, said
    assert "is registered already" in said and "not the entry point's name" in said
    assert "is not a subclass" in said and "No module named 'dcl_odd_missing'" in said


def test_a_registered_batch_system_gets_its_dask_config_sections(odd_package):
    assert dask_config.launcher_systems()[-1] == "oar"
    oar = dict(dask_config.shipped()["oar"], cores=8, memory="8GB")
    assert dask_config.system_of(oar) == ("oar", None)


def test_without_the_package_an_oar_section_is_not_the_launchers():
    assert "oar" not in dask_config.launcher_systems()
    oar = dict(dask_config.shipped()["oar"], cores=8, memory="8GB")
    assert dask_config.system_of(oar) == (None, None)
