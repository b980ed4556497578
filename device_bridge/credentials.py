"""The device credential file (written 0600; read by ``bridge run``)."""

from __future__ import annotations

import os
from pathlib import Path

from device_bridge.errors import CredentialsError
from protocol.errors import MalformedMessage
from protocol.pairing import DeviceCredentials as Credentials
from protocol.pairing import decode_credentials, encode_credentials

__all__ = ["Credentials", "load_credentials", "save_credentials"]


def save_credentials(creds: Credentials, path: Path) -> None:
    write_private(path, encode_credentials(creds))


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file created 0600 from the start (no world-readable window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def load_credentials(path: Path) -> Credentials:
    try:
        return decode_credentials(path.read_bytes())
    except FileNotFoundError:
        raise CredentialsError(f"no device credentials at {path}; pair the bridge first") from None
    except MalformedMessage:
        raise CredentialsError(f"device credentials at {path} are not valid") from None
