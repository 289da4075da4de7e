"""One configuration: the CLI and the Python API read the Jupyter config the server reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from traitlets import TraitError

from dask_cluster_launcher import api, config
from dask_cluster_launcher.errors import InvalidRequest

SITE_PROFILE = {
    "name": "configured-site",
    "title": "Only in Jupyter config",
    "backend": "local",
    "options": {"threads_per_worker": 1},
    "scaling": {"workers": 1},
}


@pytest.fixture
def jupyter_dirs(tmp_path, monkeypatch):
    """A Jupyter config directory that names a site profile directory (and nothing else does);
    (config dir, site dir, environment for a subprocess)."""
    config_dir, site_dir = tmp_path / "config", tmp_path / "site"
    config_dir.mkdir()
    site_dir.mkdir()
    (site_dir / "configured-site.yaml").write_text(yaml.safe_dump(SITE_PROFILE))
    (config_dir / "jupyter_server_config.py").write_text(
        f"c.ClusterLauncherApp.site_profile_dirs = [{str(site_dir)!r}]\n"
        'c.ClusterLauncherApp.limits = {"local": {"max_workers": 3}}\n'
    )
    env = {
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return config_dir, site_dir, {**os.environ, **env}


def cli(env, *args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dask_cluster_launcher.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_lists_a_site_profile_set_only_in_jupyter_config(jupyter_dirs):
    _, site_dir, env = jupyter_dirs
    result = cli(env, "profiles")
    assert result.returncode == 0, result.stderr
    line = next(row for row in result.stdout.splitlines() if row.startswith("configured-site"))
    assert line.split()[:3] == ["configured-site", "site", "local"]
    result = cli(env, "check")
    assert f"ok   {site_dir / 'configured-site.yaml'}" in result.stdout.splitlines()


def test_the_python_api_uses_the_same_profiles_and_limits(jupyter_dirs):
    plan = api._resolve("configured-site", {}, None)
    assert plan.options["threads_per_worker"] == 1
    assert (plan.backend.name, plan.profile, plan.scaling) == (
        "local",
        "configured-site",
        {"workers": 1},
    )
    with pytest.raises(InvalidRequest, match=r"max_workers = 3") as refused:
        api._resolve("configured-site", {}, {"workers": 4})
    assert refused.value.field == "scaling.workers"


def test_the_extensions_own_config_file_wins(jupyter_dirs):
    config_dir, _, env = jupyter_dirs
    (config_dir / "jupyter_dask_cluster_launcher_config.json").write_text(
        json.dumps({"ClusterLauncherApp": {"site_profile_dirs": [], "idle_timeout": 60}})
    )
    settings = config.launcher_settings()
    assert settings.site_profile_dirs == [] and settings.idle_timeout == 60
    assert settings.limits == {"local": {"max_workers": 3}}  # from the server's file
    result = cli(env, "profiles")
    assert "configured-site" not in result.stdout


def test_settings_are_checked_where_they_are_read(jupyter_dirs):
    config_dir, _, env = jupyter_dirs
    (config_dir / "jupyter_dask_cluster_launcher_config.json").write_text(
        json.dumps({"ClusterLauncherApp": {"limits": {"slurm": {"max_cpus": 4}}}})
    )
    with pytest.raises(TraitError, match="unknown max_cpus"):
        config.launcher_settings()
    result = cli(env, "profiles")
    assert result.returncode == 2 and "unknown max_cpus" in result.stderr
