"""The bridge's identity on disk, in its data directory (default ``var/bridge``).

* ``device.json``: the server URL, the server's static public key and an optional TLS
  certificate pin (:class:`protocol.pairing.DeviceCredentials`);
* ``device.key``: the bridge's X25519 private key, base64, created 0600.

Both are written by ``ferry bridge pair`` and read by ``ferry bridge run``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from device_bridge.errors import CredentialsError
from protocol.errors import MalformedMessage
from protocol.link import public_key
from protocol.pairing import DeviceCredentials as Credentials
from protocol.pairing import decode_credentials, encode_credentials

__all__ = ["Credentials", "Identity", "load_identity", "save_identity", "write_private"]

CREDENTIALS_FILE = "device.json"
KEY_FILE = "device.key"


@dataclass(frozen=True)
class Identity:
    """Who this bridge is and which server it trusts."""

    credentials: Credentials
    private_key: bytes = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return public_key(self.private_key)


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write a secret file created 0600 from the start (no world-readable window), durably
    (the file and its directory entry reach the disk).

    ``exclusive``: never replace an existing file; False when one exists (two processes
    creating the same key must agree on one).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # atomic, and fails if the file exists
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def save_identity(data_dir: Path, identity: Identity) -> None:
    """Write the key first, then the credentials that make the directory usable."""
    write_private(data_dir / KEY_FILE, base64.b64encode(identity.private_key) + b"\n")
    write_private(data_dir / CREDENTIALS_FILE, encode_credentials(identity.credentials))


def load_identity(data_dir: Path) -> Identity:
    """Raises CredentialsError when the bridge is not paired (or its files are damaged)."""
    try:
        creds = decode_credentials((data_dir / CREDENTIALS_FILE).read_bytes())
        raw = (data_dir / KEY_FILE).read_bytes()
    except FileNotFoundError:
        raise CredentialsError(
            f"this bridge is not paired (nothing in {data_dir}); run 'ferry bridge pair' first"
        ) from None
    except MalformedMessage:
        raise CredentialsError(
            f"{data_dir / CREDENTIALS_FILE} is not valid (from an older version?); pair again"
        ) from None
    try:
        private = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        private = b""
    if len(private) != 32:
        raise CredentialsError(f"{data_dir / KEY_FILE} is not a device key; pair again")
    return Identity(creds, private)
