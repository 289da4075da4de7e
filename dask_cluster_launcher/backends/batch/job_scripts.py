"""Job scripts written where only their owner can reach them, then submitted and removed.

dask-jobqueue writes each job script with ``dask.utils.tmpfile``: it creates a name in the
shared temporary directory, deletes it, and opens the name again to write the script (0644).
Another user who creates that name in between (``fs.protected_regular=0``, as on many HPC
systems, lets the owner's ``open`` write into the other user's file) rewrites the script before
``sbatch`` reads it, and the job runs the other user's commands as the owner.

Every job script of a launch (dask-jobqueue's through the launcher's job class, the MPI job's)
is written here instead: in a folder of the user's private directory (0700, the user's own and
not a symbolic link, checked on the open folder), as a new file (``O_CREAT|O_EXCL|O_NOFOLLOW``,
0600 from its first byte) under a name nobody can guess, and removed once submitted (``sbatch``
and ``qsub`` keep their own copy). The folder is on the shared file system, so a batch command
prefix such as ``ssh login01`` reads the same file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from ...private import PrivateDir

#: The folder for scripts of jobs made outside a cluster of the launcher's (its job class used
#: directly); a cluster's scripts go to its own private folder.
DEFAULT_FOLDER = "job-scripts"


def default_directory() -> Path:
    return PrivateDir.at().ensure().root / DEFAULT_FOLDER


def _open_private_folder(directory: Path) -> int:
    """A descriptor of ``directory`` (created 0700 if missing) once it is sure to be a folder of
    this user's that only this user can enter; ``PermissionError`` says why not."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:  # ELOOP or ENOTDIR: a link or a file took its place
        raise PermissionError(f"{directory} is not a folder of yours: {exc.strerror}") from exc
    info = os.fstat(fd)
    if info.st_uid != os.getuid():
        os.close(fd)
        raise PermissionError(f"{directory} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, 0o700)
    return fd


def write_job_script(directory: Path, text: str, stem: str = "job") -> Path:
    """Write ``text`` to a new 0600 file ``<stem>-<random>.sh`` in ``directory``."""
    folder = _open_private_folder(directory)
    try:
        name = f"{re.sub(r'[^A-Za-z0-9_-]', '_', stem)[:64]}-{secrets.token_hex(8)}.sh"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=folder)
    finally:
        os.close(folder)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    return directory / name


@contextlib.contextmanager
def job_script_file(directory: Path, text: str, stem: str = "job") -> Iterator[Path]:
    """The path of a new private job script for as long as the block runs (to submit it)."""
    path = write_job_script(directory, text, stem)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
