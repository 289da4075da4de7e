"""Adopting an existing scheduler never runs another user's code in the Jupyter server.

``dcl-other`` runs a fake scheduler (``fake_pickling_scheduler.py``: Dask's own protocol,
every answer carrying a pickle that, when read, records the reading process's pid) and writes
its scheduler file in ``/tmp``. A real Jupyter server runs as ``dcl-victim``:

(a) asked to adopt that file (preview and launch), it answers 400 naming
    ``options.scheduler_file`` with the reason (the file is another user's), and nothing
    connects; so are a file others can write, one in a folder others can write, and one
    reached through another user's symbolic link;
(b) given a scheduler file of the victim's own that points at the fake scheduler (the user
    trusted that address), the payload runs at most in the cluster's host process, never in
    the Jupyter server's, and the card's dashboard link is a plain one, not through the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.jupyter_process import JupyterServerProcess
from tests.users import (
    ATTACKER,
    VICTIM,
    as_user,
    let_users_run_checkout,
    remove_tree,
    require_user,
    world_enterable_dir,
)

FAKE_SCHEDULER = Path(__file__).with_name("fake_pickling_scheduler.py")


def call(server: JupyterServerProcess, path: str, body: Any = None, method: str | None = None):
    """(status, parsed JSON) of a REST call, errors included."""
    try:
        return 200, server.call(path, body, method=method)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def markers_of(folder: Path) -> dict[int, str]:
    """pid -> command line of every process that unpickled the payload."""
    return {int(p.name): p.read_text() for p in folder.iterdir()}


@pytest.fixture
def scene() -> Iterator[dict[str, Any]]:
    """The attacker's fake scheduler and its file in /tmp, and the victim's server."""
    require_user(VICTIM)
    require_user(ATTACKER)
    let_users_run_checkout()
    base = world_enterable_dir("dcl-adopt-")
    markers = base / "markers"
    markers.mkdir()
    markers.chmod(0o1777)
    attacker_file = Path(f"/tmp/dcl-adopt-{os.getpid()}-scheduler.json")
    attacker_file.unlink(missing_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    fake = subprocess.Popen(
        [sys.executable, str(FAKE_SCHEDULER), str(markers), str(attacker_file)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        **as_user(ATTACKER),
    )  # fmt: skip
    assert fake.stdout is not None
    address = fake.stdout.readline().strip()
    assert address.startswith("tcp://127.0.0.1:"), address
    root = base / "server"
    home = root / "home"
    home.mkdir(parents=True)
    config = {"ClusterLauncherApp": {"private_dir": str(home / ".dcl")}}
    server = JupyterServerProcess(root, env={"HOME": str(home)}, config=config, user=VICTIM)
    try:
        yield {"server": server, "address": address, "file": attacker_file,
               "markers": markers, "home": home, "base": base}  # fmt: skip
    finally:
        server.close()
        fake.kill()
        fake.wait(10)
        attacker_file.unlink(missing_ok=True)
        remove_tree(base)


def victim_file(path: Path, address: str, mode: int = 0o600) -> Path:
    victim = require_user(VICTIM)
    path.write_text(json.dumps({"type": "Scheduler", "address": address}))
    os.chown(path, victim.pw_uid, victim.pw_gid)
    path.chmod(mode)
    return path


def victim_folder(path: Path, mode: int) -> Path:
    victim = require_user(VICTIM)
    path.mkdir()
    os.chown(path, victim.pw_uid, victim.pw_gid)
    path.chmod(mode)
    return path


def test_another_users_scheduler_file_is_refused_and_nothing_connects(scene):
    server, markers = scene["server"], scene["markers"]
    assert scene["file"].stat().st_uid == require_user(ATTACKER).pw_uid
    for route in ("preview", "clusters"):
        body = {"backend": "existing", "options": {"scheduler_file": str(scene["file"])}}
        code, error = call(server, route, body)
        assert (code, error.get("field")) == (400, "options.scheduler_file"), (route, error)
        assert f"belongs to {ATTACKER}, not to you" in error["message"], error
    assert call(server, "clusters") == (200, [])

    # files others could have written or could replace: refused, with the reason
    home, address = scene["home"], scene["address"]
    shared = victim_folder(home / "shared", 0o777)
    sticky = victim_folder(home / "sticky", 0o1777)
    link = Path(f"/tmp/dcl-adopt-{os.getpid()}-link.json")
    link.unlink(missing_ok=True)
    own = victim_file(home / "own.json", address)
    os.symlink(own, link)
    attacker = require_user(ATTACKER)
    os.lchown(link, attacker.pw_uid, attacker.pw_gid)
    cases = {
        victim_file(home / "writable.json", address, 0o664): "can be written by others",
        victim_file(shared / "scheduler.json", address): "a folder others can write to",
        link: f"a link of {ATTACKER}'s",
    }
    try:
        for path, reason in cases.items():
            body = {"backend": "existing", "options": {"scheduler_file": str(path)}}
            code, error = call(server, "preview", body)
            assert (code, error.get("field")) == (400, "options.scheduler_file"), (path, error)
            assert reason in error["message"], error
        # the user's own file in a sticky folder (as /tmp is) is theirs alone: accepted
        for path in (own, victim_file(sticky / "s.json", address)):
            body = {"backend": "existing", "options": {"scheduler_file": str(path)}}
            assert call(server, "preview", body)[0] == 200, path
    finally:
        link.unlink(missing_ok=True)

    time.sleep(2)  # a watch would have polled several times by now
    assert markers_of(markers) == {}, "something connected to the attacker's scheduler"


def test_a_pickle_from_a_trusted_address_runs_at_most_in_the_host(scene):
    server, markers, address = scene["server"], scene["markers"], scene["address"]
    own = victim_file(scene["home"] / "scheduler.json", address)
    body = {"backend": "existing", "name": "adopted", "options": {"scheduler_file": str(own)}}
    model = server.call("clusters", body)
    assert model["state"] == "starting", model
    deadline = time.monotonic() + 60
    while not markers_of(markers) or model["state"] == "starting":
        assert time.monotonic() < deadline, (model, server.log())
        time.sleep(0.3)
        model = server.call(f"clusters/{model['id']}")
    time.sleep(2)  # the watch polls (and unpickles) again meanwhile
    found = markers_of(markers)
    assert server.pid not in found, f"the payload ran in the Jupyter server: {found}"
    assert all("dask_cluster_launcher.run_host" in line for line in found.values()), found
    if model["state"] == "running":
        assert model["dashboard_url"] is None  # never through this server
        assert model["dashboard_link"] == "http://127.0.0.1:8787/status"
    assert call(server, f"clusters/{model['id']}", method="DELETE")[0] in (200, 204)
