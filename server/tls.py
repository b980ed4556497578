"""TLS for ``ferry serve``: a given certificate, or a self-signed one made on first start.

Whenever the server listens beyond loopback it speaks TLS. Without ``--tls-cert``/``--tls-key``
it creates an ECDSA P-256 certificate for its host in ``<data dir>/tls/`` (key 0600) and
prints the certificate's SHA-256 fingerprint. Pairing URIs carry that fingerprint so bridges
can pin a self-signed certificate; the Noise handshake authenticates the server regardless,
TLS hides the metadata (and the browser's traffic).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.config import Config, ConfigError

_LIFETIME = timedelta(days=5 * 365)


@dataclass(frozen=True)
class ServerTls:
    context: ssl.SSLContext
    #: SHA-256 of the certificate (DER), lower-case hex.
    fingerprint: str
    #: Self-issued (ours or the operator's): bridges pin it instead of trusting CAs.
    self_signed: bool
    #: Made just now, on this start.
    created: bool


def self_signed_paths(config: Config) -> tuple[Path, Path]:
    base = config.data_dir / "tls"
    return base / "cert.pem", base / "key.pem"


def server_tls(config: Config) -> ServerTls | None:
    """The TLS setup for ``config``, creating a self-signed pair when needed.

    Raises:
        ConfigError: the certificate or key cannot be read or do not match.
    """
    if not config.tls_enabled:
        return None
    created = False
    if config.tls_cert is not None and config.tls_key is not None:
        cert_path, key_path = config.tls_cert, config.tls_key
    else:
        cert_path, key_path = self_signed_paths(config)
        if not cert_path.exists():
            # Owner-only, like the rest of the data directory (it holds the database).
            config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_self_signed(cert_path, key_path, config.host)
            created = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_path, key_path)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"cannot use the TLS certificate {cert_path}: {exc}") from None
    return ServerTls(
        context=context,
        fingerprint=fingerprint(cert),
        self_signed=cert.issuer == cert.subject,
        created=created,
    )


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def pretty(fp: str) -> str:
    """``AB:CD:…``, the way browsers show certificate fingerprints."""
    return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2)).upper()


def create_self_signed(cert_path: Path, key_path: Path, host: str) -> None:
    """Write a self-signed certificate for ``host`` (plus localhost) and its key (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for h in {host, "127.0.0.1", "::1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "ferry")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
