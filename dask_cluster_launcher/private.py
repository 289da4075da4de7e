"""The user's private files: per-cluster TLS credentials, worker preload, job logs, and the
short private folders where a cluster's host keeps its dashboard socket and scratch space.

Everything a launched cluster needs to keep to its owner lives under one directory that only the
owner can enter (0700; files 0600), by default ``~/.dask-cluster-launcher``: in the home
directory because batch jobs on compute nodes read the credentials from there, and private even
when ``$HOME`` itself is world-readable::

    ~/.dask-cluster-launcher/            0700
        clusters/<cluster id>/           0700  credentials, worker preload, MPI runner
            tls.pem  tls.key             0600  the cluster's certificate (its own CA) and key
        logs/<cluster id>/                     batch job output (when the form names no folder)

Nothing of a cluster ever goes to a shared directory under a name another user could guess or
create first. What must stay on the host's machine (the dashboard's Unix socket, whose path is
limited to 107 bytes, and the scheduler's and local workers' scratch space) goes to a folder of
the host's own (see :func:`make_runtime_dir`): ``$XDG_RUNTIME_DIR/dask-cluster-launcher/dcl-*``
when the session has one, else a fresh ``dcl-*`` folder that ``mkdtemp`` creates in the
temporary directory (0700, unpredictable name, never an existing one), checked with ``lstat``
each time it is used. When neither gives a short enough private path the launch is refused.

Each cluster gets its own self-signed certificate (as ``distributed.Security.temporary`` makes
one, with an elliptic-curve key): the scheduler, workers, nannies and clients all present it,
and distributed requires it from every peer (mutual TLS), so only processes that can read the
owner's files can talk to the cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LauncherError, NotFound

DEFAULT_ROOT = "~/.dask-cluster-launcher"
#: A Unix socket's path fits in 108 bytes, the final NUL included.
SOCKET_PATH_LIMIT = 107
DASHBOARD_SOCKET = "dashboard.sock"
#: Folders a host makes on its machine (see ``make_runtime_dir``) start with this.
RUNTIME_PREFIX = "dcl-"
_PRELOAD_SOURCE = Path(__file__).parent / "hosting" / "private_http.py"
_MPI_RUNNER_SOURCE = Path(__file__).parent / "backends" / "batch" / "mpi_runner.py"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make sure only the owner can enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file that is 0600 from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class ClusterFiles:
    """Paths of one cluster's private files. Computing them touches nothing on disk."""

    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "tls.pem"

    @property
    def key(self) -> Path:
        return self.directory / "tls.key"

    @property
    def worker_preload(self) -> Path:
        """A copy of ``private_http.py`` next to the credentials, so batch workers on compute
        nodes load it from the same (shared) file system whatever Python they run."""
        return self.directory / "dcl_private_http.py"

    @property
    def mpi_runner(self) -> Path:
        """A copy of ``backends/mpi_runner.py`` beside the preload it imports (MPI jobs)."""
        return self.directory / "dcl_mpi_run.py"

    def security_kwargs(self) -> dict[str, str]:
        """``distributed.Security`` arguments for any role: one certificate, its own CA."""
        cert, key = str(self.cert), str(self.key)
        return {
            "tls_ca_file": cert,
            "tls_client_cert": cert,
            "tls_client_key": key,
            "tls_scheduler_cert": cert,
            "tls_scheduler_key": key,
            "tls_worker_cert": cert,
            "tls_worker_key": key,
        }

    def security(self) -> Any:
        from distributed.security import Security

        return Security(require_encryption=True, **self.security_kwargs())

    def create(self) -> ClusterFiles:
        """Write a fresh certificate and key and the worker preload (0700 dir, 0600 files)."""
        make_private_dir(self.directory.parent)
        make_private_dir(self.directory)
        cert, key = self_signed_certificate()
        write_private_file(self.cert, cert)
        write_private_file(self.key, key)
        write_private_file(self.worker_preload, _PRELOAD_SOURCE.read_text(encoding="utf-8"))
        write_private_file(self.mpi_runner, _MPI_RUNNER_SOURCE.read_text(encoding="utf-8"))
        return self

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class PrivateDir:
    """The root of the user's private files."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] = DEFAULT_ROOT) -> PrivateDir:
        return cls(Path(os.path.expanduser(os.fspath(root))).absolute())

    def cluster(self, cluster_id: str) -> ClusterFiles:
        """The cluster's files, always in this private directory whatever its path's length
        (only the dashboard socket needs a short path: see ``make_runtime_dir``)."""
        return ClusterFiles(self.root / "clusters" / cluster_id)

    def log_directory(self, cluster_id: str) -> str:
        return str(self.root / "logs" / cluster_id)

    def ensure(self) -> PrivateDir:
        """Create the root (0700) and tighten it if it exists with looser permissions."""
        make_private_dir(self.root)
        return self


class NoPrivatePlace(LauncherError):
    """This machine offers no short private folder for a cluster's dashboard socket."""


def check_private_folder(path: Path) -> Path:
    """``path`` when it is a real folder (not a link: ``lstat``) of this user's that only they
    can enter; ``PermissionError`` saying what is wrong otherwise."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"{path} is not a folder")
    if info.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        raise PermissionError(f"{path} is open to others (mode {stat.S_IMODE(info.st_mode):o})")
    return path


def _tighten(path: Path) -> Path:
    """Make a folder of this user's 0700 (a umask may have left it otherwise), then check it."""
    info = os.lstat(path)
    mine = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    if mine and stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return check_private_folder(path)


def make_temp_dir(base: str | os.PathLike[str] | None = None) -> Path:
    """A new ``dcl-*`` folder in ``base`` (default: the temporary directory), made by
    ``mkdtemp``: an unpredictable name, created with ``mkdir`` (which never takes an existing
    name, a link included), 0700, checked."""
    return _tighten(Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX, dir=base)))


def _xdg_base(environ: Mapping[str, str]) -> Path | None:
    """``$XDG_RUNTIME_DIR/dask-cluster-launcher`` (made when missing) when the session has a
    runtime directory of this user's; None when it has none (or one that is not theirs)."""
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if not os.path.isabs(runtime):
        return None
    try:
        info = os.lstat(runtime)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        base = Path(runtime) / "dask-cluster-launcher"
        with contextlib.suppress(FileExistsError):
            os.mkdir(base, 0o700)
        return _tighten(base)
    except OSError:
        return None


def make_runtime_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A new private folder on this machine for a cluster's dashboard socket, in the first of
    ``$XDG_RUNTIME_DIR/dask-cluster-launcher`` and the temporary directory that is usable and
    short enough; ``NoPrivatePlace`` says why there is none (never a shared fallback)."""
    tried = []
    bases = [base for base in (_xdg_base(environ),) if base is not None]
    for base in [*bases, Path(tempfile.gettempdir())]:
        # mkdtemp's names have 8 random characters
        longest = len(os.fsencode(base / f"{RUNTIME_PREFIX}{'x' * 8}" / DASHBOARD_SOCKET))
        if longest > SOCKET_PATH_LIMIT:
            tried.append(f"in {base} its path would be {longest} bytes")
            continue
        try:
            return make_temp_dir(base)
        except OSError as exc:
            tried.append(f"{base}: {exc.strerror or exc}")
    raise NoPrivatePlace(
        "no private folder for the cluster's dashboard socket on this machine "
        f"({'; '.join(tried)}; a socket path has at most {SOCKET_PATH_LIMIT} bytes): "
        "set XDG_RUNTIME_DIR or TMPDIR to a short folder of your own"
    )


def make_scheduler_dirs(scratch: bool) -> tuple[Path, list[Path]]:
    """(dashboard socket, folders made) for a host whose scheduler runs in its process: a
    runtime folder for the socket and, with ``scratch``, a private scratch space for the
    scheduler and local workers, the last folder (distributed's default,
    ``/tmp/dask-scratch-space``, is shared by every user of the machine, and each worker
    copies its preload module there before importing it). The runtime folder serves as
    scratch space too unless it is in ``$XDG_RUNTIME_DIR``, usually a small in-memory file
    system."""
    runtime = make_runtime_dir()
    folders = [runtime]
    if scratch and runtime.parent != Path(tempfile.gettempdir()):
        try:
            folders.append(make_temp_dir())
        except BaseException:
            remove_runtime_dir(runtime)
            raise
    return runtime / DASHBOARD_SOCKET, folders


def remove_runtime_dir(path: str | os.PathLike[str]) -> None:
    """Remove a folder a host made (see ``make_runtime_dir``, ``make_temp_dir``): only a
    private ``dcl-*`` folder of this user's, so a path read from a record never removes
    anything else."""
    folder = Path(path)
    if not folder.is_absolute() or not folder.name.startswith(RUNTIME_PREFIX):
        return
    try:
        check_private_folder(folder)
    except OSError:
        return
    shutil.rmtree(folder, ignore_errors=True)


def checked_dashboard_socket(path: str) -> str:
    """``path`` once its folder is still the private one the host made and the socket is this
    user's: the relay never connects to a socket someone else could have put in its place."""
    socket = Path(path)
    try:
        check_private_folder(socket.parent)
        info = os.lstat(socket)
    except OSError as exc:
        raise NotFound(f"the cluster's dashboard socket is not available: {exc}") from None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        raise NotFound(f"{socket} is not the cluster's dashboard socket")
    return path


def self_signed_certificate(days: int = 365) -> tuple[str, str]:
    """(certificate, key) in PEM: a self-signed certificate for ``dask-internal``, the name
    distributed's TLS expects, as ``distributed.Security.temporary`` makes it but with a P-256
    key: made in a fraction of a millisecond where an RSA-2048 key takes tens to hundreds (on
    every launch's path), and with faster TLS handshakes for every worker and client."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dask-internal")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("dask-internal")]), False)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks of compute nodes
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()
