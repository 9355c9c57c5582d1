"""The self-signed certificate tidescanned shows to TLS clients, generated at start.

Why this exists: the point of answering TLS is to let a scanner grab a certificate (masscan's
`--banners` SSL grabber, nmap's ssl-cert, zgrab).  A fresh RSA-2048 key and a self-signed X.509
certificate are made with `cryptography` when tidescanned starts (about a tenth of a second), so no
key material ships with the project and every instance has its own fingerprint.  Subject and issuer
are `CN=<common name>, O=tidescanned`; validity starts one day ago and lasts one year; the
subject-alternative-name lists the common name.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsIdentity:
    cert_der: bytes
    key_pem: bytes
    common_name: str

    @property
    def sha256(self) -> str:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.cert_der)
        return digest.finalize().hex()


def generate_identity(common_name: str = "localhost", now: float | None = None) -> TlsIdentity:
    """A new RSA-2048 key and a self-signed certificate for `common_name`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tidescanned")])
    start = (datetime.datetime.now(datetime.timezone.utc) if now is None
             else datetime.datetime.fromtimestamp(now, datetime.timezone.utc))
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - datetime.timedelta(days=1))
            .not_valid_after(start + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return TlsIdentity(
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
        common_name=common_name)


@functools.lru_cache(maxsize=1)
def default_identity() -> TlsIdentity:
    """One identity per process, made on first use (tests and the in-memory core share it)."""
    return generate_identity()
