"""Errors of the device bridge outside the pure GSM codecs (those live in ``gsm.errors``).

Hierarchy::

    BridgeError
    ├── JournalError          the local journal cannot be read or written
    ├── CredentialsError      the device credential file is missing or invalid
    └── LinkError             the server link failed
        ├── Unauthorized      the server refused this device's credential (do not retry fast)
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


class InsecureUrl(LinkError):
    """Refusing plain ws:// to a non-loopback host."""
