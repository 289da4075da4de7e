"""Profiles through the REST API: listing by source, saving, editing, deleting, read-only sites."""

from __future__ import annotations

import os
import threading

import pytest
import yaml

from dask_cluster_launcher.profiles import ProfileStore

SITE = {
    "name": "site-local",
    "title": "Site local",
    "backend": "local",
    "options": {"threads_per_worker": 2},
    "scaling": {"workers": 1},
}


@pytest.fixture
def profile_dirs(tmp_path):
    site, user = tmp_path / "site", tmp_path / "user"
    site.mkdir()
    (site / "site-local.yaml").write_text(yaml.safe_dump(SITE))
    (site / "broken.yaml").write_text("{{{")
    os.mkfifo(site / "fifo.yaml")  # must neither block the server nor hide the others
    (site / "huge.yaml").write_text("name: huge\nbackend: local\n#" + "x" * 100_000)
    return site, user


@pytest.fixture
def jp_server_config(profile_dirs):
    site, user = profile_dirs
    return {
        "ServerApp": {"jpserver_extensions": {"dask_cluster_launcher": True}},
        "ClusterLauncherApp": {"site_profile_dirs": [str(site)], "user_profile_dir": str(user)},
    }


async def test_profiles_are_listed_with_their_source_and_errors(launcher_api):
    code, profiles = await launcher_api("profiles")
    assert code == 200
    by_name = {p["name"]: p for p in profiles}
    assert by_name["local"]["source"] == "builtin" and by_name["local"]["default"] is True
    assert by_name["site-local"]["default"] is False
    assert by_name["site-local"]["source"] == "site"
    assert by_name["site-local"]["options"] == {"threads_per_worker": 2}
    assert by_name["broken"]["error"]
    assert "not a regular file" in by_name["fifo"]["error"]
    assert "larger than 64 KiB" in by_name["huge"]["error"]


async def test_save_edit_delete_a_user_profile(launcher_api, profile_dirs):
    _, user = profile_dirs
    body = {"name": "mine", "title": "Mine", "backend": "local", "scaling": {"workers": 3}}
    code, saved = await launcher_api("profiles", method="POST", body=body)
    assert code == 201 and saved["source"] == "user"
    assert yaml.safe_load((user / "mine.yaml").read_text())["scaling"] == {"workers": 3}

    code, error = await launcher_api("profiles", method="POST", body=body)
    assert code == 409 and error["field"] == "name"

    edited = {**body, "options": {"threads_per_worker": 4}}
    code, saved = await launcher_api("profiles", "mine", method="PUT", body=edited)
    assert code == 200 and saved["options"] == {"threads_per_worker": 4}

    code, _ = await launcher_api("profiles", "mine", method="DELETE")
    assert code == 204
    _, profiles = await launcher_api("profiles")
    assert "mine" not in {p["name"] for p in profiles}
    code, _ = await launcher_api("profiles", "mine", method="DELETE")
    assert code == 404


async def test_site_and_builtin_profiles_cannot_be_written(launcher_api):
    code, error = await launcher_api("profiles", "site-local", method="DELETE")
    assert code == 409 and "read-only" in error["message"]
    code, error = await launcher_api(
        "profiles", "site-local", method="PUT", body={**SITE, "title": "changed"}
    )
    assert code == 409
    code, error = await launcher_api(
        "profiles", method="POST", body={"name": "local", "backend": "local"}
    )
    assert code == 409 and error["field"] == "name"


async def test_invalid_profile_gets_400_naming_the_field(launcher_api):
    bad = {"name": "x", "backend": "local", "options": {"threads_per_worker": -1}}
    code, error = await launcher_api("profiles", method="POST", body=bad)
    assert code == 400 and error["field"] == "options.threads_per_worker"
    code, error = await launcher_api(
        "profiles", method="POST", body={"name": "a/b", "backend": "local"}
    )
    assert code == 400 and error["field"] == "name"


async def test_launch_from_a_site_profile_with_overrides(launcher_api):
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"profile": "site-local", "scaling": {"workers": 0}}
    )
    assert code == 202
    assert cluster["profile"] == "site-local" and cluster["scaling"] == {"workers": 0}
    code, _ = await launcher_api("clusters", cluster["id"], method="DELETE")
    assert code == 204


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "mine\n"}, "name"),
        ({"title": "Mine\nNot mine"}, "title"),
        ({"description": "one\x00two"}, "description"),
        ({"description": "one\u2028two"}, "description"),
    ],
)
async def test_profile_strings_are_single_lines(launcher_api, profile_dirs, fields, field):
    _, user = profile_dirs
    body = {"name": "mine", "backend": "local", **fields}
    code, error = await launcher_api("profiles", method="POST", body=body)
    assert (code, error["field"]) == (400, field)
    assert not user.exists()


async def test_a_description_may_span_lines(launcher_api):
    body = {"name": "mine", "backend": "local", "description": "first line\n\tsecond line"}
    code, saved = await launcher_api("profiles", method="POST", body=body)
    assert code == 201 and saved["description"] == body["description"]


async def test_profile_files_are_read_off_the_event_loop(launcher_api, monkeypatch):
    threads = []
    original = ProfileStore.list

    def recording_list(self):
        threads.append(threading.current_thread() is threading.main_thread())
        return original(self)

    monkeypatch.setattr(ProfileStore, "list", recording_list)
    await launcher_api("profiles")
    await launcher_api("profiles", method="POST", body={"name": "mine", "backend": "local"})
    await launcher_api("profiles", "mine", method="PUT", body={"name": "mine", "backend": "local"})
    await launcher_api("profiles", "mine", method="DELETE")
    code, cluster = await launcher_api(
        "clusters", method="POST", body={"profile": "site-local", "scaling": {"workers": 0}}
    )
    assert code == 202
    await launcher_api("clusters", cluster["id"], method="DELETE")
    assert threads and not any(threads)  # the server's event loop runs in the main thread
