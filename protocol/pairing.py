"""What a bridge needs to reach and prove itself to its server (pure encode/decode).

The same bytes are written by the server operator (``ferry admin add-device``) and read
by the bridge, each side doing its own file I/O. The pairing issue will add the server's
static public key and replace the shared secret with the device's key pair.
"""

from __future__ import annotations

import msgspec

from protocol.errors import MalformedMessage

_MAX = 4096


class DeviceCredentials(msgspec.Struct, frozen=True):
    server_url: str
    device_id: int
    secret: str


def encode_credentials(creds: DeviceCredentials) -> bytes:
    return msgspec.json.encode(creds)


def decode_credentials(data: bytes) -> DeviceCredentials:
    """Raises MalformedMessage when the data is not a credential file."""
    if len(data) > _MAX:
        raise MalformedMessage("credential file too large")
    try:
        return msgspec.json.decode(data, type=DeviceCredentials)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise MalformedMessage("not a device credential file") from None
