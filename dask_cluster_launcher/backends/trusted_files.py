"""Whether a file that says where to connect can only have been written by the user.

A scheduler file names the address the launcher connects to, and whatever answers there is
trusted: Dask messages may carry pickles, which run code as the user when read. So a scheduler
file (or a CA certificate, which says whom a TLS connection trusts) is used only when no other
user can have written it or can replace it: the file is the user's and writable by nobody
else, and every folder and symbolic link on its path belongs to the user or to root, with no
folder writable by others (group or world) unless it has the sticky bit (as ``/tmp`` has:
there, others cannot rename or delete the user's file). Symbolic links are followed the way
the kernel follows them, each one checked where it lies.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import PurePosixPath

#: Symbolic links followed before giving up (the kernel's own limit).
MAX_LINKS = 40
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_trusted_file(path: str, *, root_may_own: bool = False) -> None:
    """Raise ``ValueError`` saying why someone other than this user could have written the
    file at ``path`` (an absolute path), or could replace it; ``OSError`` when it cannot be
    looked at. ``root_may_own``: a file of root's is trusted too (a site's CA certificate)."""
    uid = os.getuid()
    pending = list(reversed(PurePosixPath(path).parts))
    current, links = "/", 0
    _check_folder("/", os.lstat("/"), uid)
    while pending:
        name = pending.pop()
        if name == "/":
            current = "/"
            continue
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        info = os.lstat(candidate)
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > MAX_LINKS:
                raise ValueError("has too many symbolic links on its path")
            if info.st_uid not in (uid, 0):
                raise ValueError(f"goes through {candidate}, a link of {owner_name(info.st_uid)}'s")
            pending.extend(reversed(PurePosixPath(os.readlink(candidate)).parts))
            continue
        if pending:
            _check_folder(candidate, info, uid)
        else:
            _check_file(info, uid, root_may_own)
        current = candidate


def _check_folder(path: str, info: os.stat_result, uid: int) -> None:
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(20, "not a directory", path)
    if info.st_uid not in (uid, 0):
        raise ValueError(f"is in {path}, a folder of {owner_name(info.st_uid)}'s")
    if info.st_mode & WRITABLE_BY_OTHERS and not info.st_mode & stat.S_ISVTX:
        raise ValueError(f"is in {path}, a folder others can write to")


def _check_file(info: os.stat_result, uid: int, root_may_own: bool) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file")
    owners = (uid, 0) if root_may_own else (uid,)
    if info.st_uid not in owners:
        raise ValueError(f"belongs to {owner_name(info.st_uid)}, not to you")
    if info.st_mode & WRITABLE_BY_OTHERS:
        raise ValueError("can be written by others (group or world): chmod go-w it")
