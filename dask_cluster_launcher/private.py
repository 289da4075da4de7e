"""The user's private directory: per-cluster TLS credentials, dashboard sockets and job logs.

Everything a launched cluster needs to keep to its owner lives under one directory that only the
owner can enter (0700; files 0600), by default ``~/.dask-cluster-launcher``: in the home
directory because batch jobs on compute nodes read the credentials from there, and private even
when ``$HOME`` itself is world-readable::

    ~/.dask-cluster-launcher/            0700
        clusters/<cluster id>/           0700  credentials, dashboard socket, worker preload
            tls.pem  tls.key             0600  the cluster's certificate (its own CA) and key
            dashboard.sock               0600  the scheduler's dashboard (HTTP on a Unix socket)
        logs/<cluster id>/                     batch job output (when the form names no folder)

Each cluster gets its own self-signed certificate (as ``distributed.Security.temporary`` makes
one, with an elliptic-curve key): the scheduler, workers, nannies and clients all present it,
and distributed requires it from every peer (mutual TLS), so only processes that can read the
owner's files can talk to the cluster.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "~/.dask-cluster-launcher"
#: Unix socket paths are limited to ~107 bytes; longer ones fall back to a short private dir.
_MAX_SOCKET_PATH = 100
_PRELOAD_SOURCE = Path(__file__).with_name("private_http.py")


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
    def dashboard_socket(self) -> Path:
        return self.directory / "dashboard.sock"

    @property
    def worker_preload(self) -> Path:
        """A copy of ``private_http.py`` next to the credentials, so batch workers on compute
        nodes load it from the same (shared) file system whatever Python they run."""
        return self.directory / "dcl_private_http.py"

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
        directory = self.root / "clusters" / cluster_id
        if len(str(directory / "dashboard.sock")) > _MAX_SOCKET_PATH:
            directory = Path("/tmp") / f"dcl-{os.getuid()}" / cluster_id
        return ClusterFiles(directory)

    def log_directory(self, cluster_id: str) -> str:
        return str(self.root / "logs" / cluster_id)

    def ensure(self) -> PrivateDir:
        """Create the root (0700) and tighten it if it exists with looser permissions."""
        make_private_dir(self.root)
        return self


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
