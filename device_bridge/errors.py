"""Errors of the device bridge outside the pure GSM codecs (those live in ``gsm.errors``).

Hierarchy::

    BridgeError
    ├── JournalError          the local journal cannot be read or written
    ├── CredentialsError      the device credential file is missing or invalid
    └── LinkError             the server link failed
        ├── Unauthorized      the server does not know (or revoked) this device's key
        ├── PairingFailed     the server refused the pairing code (wrong, expired, used,
        │                     rate-limited, or the account is at its device limit)
        ├── ServerNotTrusted  the server did not prove the key from pairing, or its TLS
        │                     certificate is not the pinned one (man in the middle?)
        └── InsecureUrl       plain ws:// to a non-loopback host without explicit consent
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of the bridge's own errors."""


class JournalError(BridgeError):
    """The journal cannot be used."""


class CredentialsError(BridgeError):
    """The device credential file is missing or invalid."""


class LinkError(BridgeError):
    """The link to the server failed."""


class Unauthorized(LinkError):
    """The server refused the device credential."""


class PairingFailed(LinkError):
    """The server refused to register this bridge."""


class ServerNotTrusted(LinkError):
    """The peer is not the server this bridge paired with."""


class InsecureUrl(LinkError):
    """Refusing plain ws:// to a non-loopback host."""
