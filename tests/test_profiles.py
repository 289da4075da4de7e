"""Profiles: loading, precedence, validation, saving; the command line."""

from __future__ import annotations

import pytest
import yaml

from dask_cluster_launcher import cli
from dask_cluster_launcher.backends import default_backends
from dask_cluster_launcher.errors import ConflictError, InvalidRequest, NotFound
from dask_cluster_launcher.profiles import ProfileStore

SITE_SGE = {
    "name": "eddie",
    "title": "Eddie (SGE)",
    "backend": "sge",
    "options": {"memory": "8 G", "resource_spec": "h_vmem=8G", "walltime": "00:30:00"},
    "scaling": {"adapt": {"minimum": 390, "maximum": 400}},
}


@pytest.fixture
def dirs(tmp_path):
    site, user = tmp_path / "site", tmp_path / "user"
    site.mkdir()
    (site / "eddie.yaml").write_text(yaml.safe_dump(SITE_SGE))
    (site / "broken-yaml.yaml").write_text("name: [unclosed\n")
    (site / "bad-backend.yaml").write_text(yaml.safe_dump({"name": "x", "backend": "oar"}))
    bad_option = {
        "name": "y",
        "backend": "slurm",
        "options": {"cores": "many", "walltime": "01:00:00"},
    }
    (site / "bad-option.yml").write_text(yaml.safe_dump(bad_option))
    (site / "notes.txt").write_text("not a profile")
    return site, user


@pytest.fixture
def store(dirs):
    site, user = dirs
    return ProfileStore.for_backends(default_backends(), site_dirs=[str(site)], user_dir=str(user))


def test_three_sources_and_broken_files_listed_with_their_error(store):
    profiles = {(p.source, p.name): p for p in store.list()}
    assert ("builtin", "local") in profiles and ("builtin", "sge-example") in profiles
    assert profiles[("site", "eddie")].scaling == SITE_SGE["scaling"]
    errors = {p.name: p.error for p in store.list() if p.error}
    assert set(errors) == {"broken-yaml", "bad-backend", "bad-option"}
    assert "backend" in errors["bad-backend"]
    assert errors["bad-option"].startswith("options.cores")
    with pytest.raises(InvalidRequest, match="broken"):
        store.get("bad-option")


def test_user_profiles_are_saved_edited_and_deleted(store, dirs):
    _, user = dirs
    mine = {"name": "mine", "backend": "local", "options": {"threads_per_worker": 2}}
    saved = store.save(mine)
    assert saved.source == "user" and (user / "mine.yaml").exists()
    assert store.get("mine").options == {"threads_per_worker": 2}
    with pytest.raises(ConflictError):
        store.save(mine)  # exists already
    store.save({**mine, "name": "renamed", "title": "Renamed"}, replace="mine")
    assert store.find("mine") is None and store.get("renamed").title == "Renamed"
    store.delete("renamed")
    assert store.find("renamed") is None
    with pytest.raises(NotFound):
        store.delete("renamed")


def test_site_and_builtin_profiles_are_read_only(store):
    with pytest.raises(ConflictError):
        store.delete("eddie")
    with pytest.raises(ConflictError):
        store.save({**SITE_SGE, "title": "mine now"}, replace="eddie")
    with pytest.raises(ConflictError, match="builtin"):
        store.save({"name": "local", "backend": "local"})


def test_saving_refuses_invalid_profiles_naming_the_field(store):
    with pytest.raises(InvalidRequest) as info:
        store.save({"name": "x", "backend": "local", "options": {"threads_per_worker": 0}})
    assert info.value.field == "options.threads_per_worker"
    with pytest.raises(InvalidRequest) as info:
        store.save({"name": "../escape", "backend": "local"})
    assert info.value.field == "name"


def _run_cli(capsys, monkeypatch, store, *argv):
    monkeypatch.setattr(cli, "_requests", lambda: _requests_for(store))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _requests_for(store):
    from dask_cluster_launcher.requests import RequestResolver

    return RequestResolver(default_backends(), store)


def test_cli_lists_shows_checks_and_prints_scripts(store, capsys, monkeypatch):
    code, out, _ = _run_cli(capsys, monkeypatch, store, "profiles")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("eddie "))
    assert line.split()[1:3] == ["site", "sge"]
    assert "BROKEN" in next(line for line in out.splitlines() if line.startswith("bad-option"))

    code, out, _ = _run_cli(capsys, monkeypatch, store, "show", "eddie")
    assert code == 0 and yaml.safe_load(out)["options"]["resource_spec"] == "h_vmem=8G"

    code, out, _ = _run_cli(capsys, monkeypatch, store, "script", "slurm-example")
    assert code == 0
    assert out.startswith("#!/usr/bin/env bash") and "#SBATCH -t 04:00:00" in out

    code, out, _ = _run_cli(capsys, monkeypatch, store, "script", "--python", "local")
    assert code == 0 and "LocalCluster(" in out

    code, out, _ = _run_cli(capsys, monkeypatch, store, "check")
    assert code == 1
    assert sum(line.startswith("FAIL") for line in out.splitlines()) == 3

    code, _, err = _run_cli(capsys, monkeypatch, store, "show", "nope")
    assert code == 2 and "unknown profile" in err


# --- hostile files: each breaks only itself ---------------------------------------------------
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
BILLION_LAUGHS += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nname: laughs\nbackend: local\n"


@pytest.fixture
def hostile_dir(dirs):
    """The site directory with one file of each kind that must not hurt the others."""
    import os

    site, _ = dirs
    os.mkfifo(site / "fifo.yaml")  # opening it for reading would block until a writer comes
    (site / "device.yaml").symlink_to("/dev/zero")  # endless
    (site / "directory.yaml").mkdir()
    (site / "big.yaml").write_text("name: big\nbackend: local\n" + "#" * 70_000 + "\n")
    (site / "latin1.yaml").write_bytes("name: caf\xe9\nbackend: local\n".encode("latin-1"))
    (site / "laughs.yaml").write_text(BILLION_LAUGHS)
    (site / "deep.yaml").write_text("[" * 30_000 + "]" * 30_000)
    (site / "nested.yaml").write_text(
        "name: nested\nbackend: local\noptions:\n  a: " + "[" * 40 + "]" * 40 + "\n"
    )
    (site / "newline.yaml").write_text('name: "newline\\n"\nbackend: local\n')
    return site


HOSTILE_ERRORS = {
    "fifo": "not a regular file",
    "device": "not a regular file",
    "directory": "not a regular file",
    "big": "larger than 64 KiB",
    "latin1": "not UTF-8",
    "laughs": "aliases",
    "deep": "nested too deeply",
    "nested": "nested too deeply",
    "newline": "name: must not contain",
}


def test_hostile_files_are_listed_broken_and_the_others_still_work(store, hostile_dir):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a blocking open would hang here
        profiles = pool.submit(store.list).result(timeout=20)
    errors = {p.name: p.error for p in profiles if p.error}
    for name, reason in HOSTILE_ERRORS.items():
        assert name in errors and reason in errors[name], (name, errors.get(name))
        assert len(errors[name]) < 300
    assert store.get("eddie").options == SITE_SGE["options"]
    assert store.get("local").backend == "local"


def test_saved_profiles_are_private_and_written_whole(store, dirs):
    _, user = dirs
    store.save({"name": "mine", "backend": "local", "description": "two\nlines"})
    assert [p.name for p in user.iterdir()] == ["mine.yaml"]  # no temporary file left
    assert (user / "mine.yaml").stat().st_mode & 0o077 == 0
    assert store.get("mine").description == "two\nlines"
