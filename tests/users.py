"""The two unprivileged users of the attack tests (made by ``testbeds/install.sh``).

- ``dcl-victim`` runs a real Jupyter server with the extension: the owner of the clusters. It
  is not root, because root passes every permission check the kernel makes (a test with a root
  victim proves nothing about files, sockets and ``/proc``).
- ``dcl-other`` is another user of the same machine: the attacker.

Both must be able to run this checkout's Python (its ``.venv``): :func:`let_users_run_checkout`
lets others traverse (not list) the folders above it, as on a machine where software is
installed for everyone.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

VICTIM = "dcl-victim"
ATTACKER = "dcl-other"
CHECKOUT = Path(__file__).resolve().parent.parent


def require_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pytest.fail(f"no user {name}: run `sudo testbeds/install.sh`", pytrace=False)


def let_users_run_checkout() -> None:
    """Give others search (x) permission on every folder from ``/`` to this checkout's Python
    and read on the checkout's package, so both users can run and import it."""
    python = Path(sys.executable)
    base = Path(sys.base_prefix).resolve()  # the interpreter the venv links to
    folders = {*python.parents, *python.resolve().parents, base, *base.parents}
    for folder in folders | {*CHECKOUT.parents, CHECKOUT}:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def as_user(name: str) -> dict[str, Any]:
    """``subprocess`` arguments that run a child as ``name`` with only its own group."""
    entry = require_user(name)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def run_as(
    name: str, argv: Sequence[str], env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``name`` with a minimal environment (no root's variables)."""
    base = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    return subprocess.run(
        list(argv),
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        **as_user(name),
        **kwargs,
    )


def owned_dir(name: str, path: Path, mode: int = 0o755) -> Path:
    """``path`` (and missing parents, root's and 0755) with the last folder owned by ``name``."""
    entry = require_user(name)
    path.mkdir(parents=True, exist_ok=True)
    for parent in path.parents:
        if parent == Path(tempfile.gettempdir()) or parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)
    return path


def chown_tree(name: str, path: Path) -> None:
    entry = require_user(name)
    for folder, dirs, files in os.walk(path):
        for item in [folder, *(os.path.join(folder, d) for d in dirs)]:
            os.chown(item, entry.pw_uid, entry.pw_gid)
        for item in files:
            os.chown(os.path.join(folder, item), entry.pw_uid, entry.pw_gid)


def world_enterable_dir(prefix: str) -> Path:
    """A fresh 0755 folder outside pytest's own (0700) temporary folders."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
