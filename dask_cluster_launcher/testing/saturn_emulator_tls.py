"""A throw-away certificate authority for the Saturn emulator (external / TLS mode).

The emulator creates one CA at start-up. The Dask schedulers and workers it runs in external mode
use a certificate issued by that CA, and ``POST /api/dask_clusters/{id}/csr`` signs the client's
CSR with it, so the ``Security`` object that ``dask_saturn`` builds from the reply chains to the
same root as the scheduler.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from distributed import Security


class CSRError(ValueError):
    """The body of a CSR request is not a valid, correctly self-signed PEM CSR."""


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class CertificateAuthority:
    """In-memory CA (EC P-256) that issues the emulator's node certificate and signs client CSRs."""

    def __init__(self, common_name: str = "Saturn Emulator Dask CA", days: int = 7) -> None:
        self._days = days
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _dt.datetime.now(_dt.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem: str = _pem(self._cert)
        self._node: tuple[str, str] | None = None

    def _builder(
        self, subject: x509.Name, public_key: CertificatePublicKeyTypes
    ) -> x509.CertificateBuilder:
        now = _dt.datetime.now(_dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=self._days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )

    def node_cert(self) -> tuple[str, str]:
        """(cert PEM, key PEM) for schedulers, workers and the emulator's own connections.

        Valid for serverAuth and clientAuth, with SANs for ``127.0.0.1`` and ``localhost``
        (distributed does not check host names, but other TLS clients may).
        """
        if self._node is None:
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dask-emulator-node")])
            san = x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            )
            eku = x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            )
            cert = (
                self._builder(subject, key.public_key())
                .add_extension(san, critical=False)
                .add_extension(eku, critical=False)
                .sign(self._key, hashes.SHA256())
            )
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            self._node = (_pem(cert), key_pem)
        return self._node

    def node_security(self) -> Security:
        """Dask ``Security`` for the emulator's schedulers, workers and internal clients:
        the node certificate for every role, mutual TLS, ``require_encryption``."""
        cert, key = self.node_cert()
        pems = {f"tls_{role}_{kind}": pem for role in ("client", "scheduler", "worker")
                for kind, pem in (("cert", cert), ("key", key))}  # fmt: skip
        return Security(tls_ca_file=self.cert_pem, require_encryption=True, **pems)

    def sign_csr(self, csr_pem: bytes) -> str:
        """Sign a client CSR; return ``client cert PEM + CA cert PEM`` (what Saturn replies)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as err:
            raise CSRError(f"Request body is not a PEM certificate signing request: {err}") from err
        if not csr.is_signature_valid:
            raise CSRError("The certificate signing request's signature is invalid")
        cert = (
            self._builder(csr.subject, csr.public_key())
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return _pem(cert) + self.cert_pem
