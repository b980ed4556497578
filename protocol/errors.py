"""Errors raised by the Ferry wire protocol.

Hierarchy::

    ProtocolError                 anything a peer sent that we cannot accept
    ├── MessageTooLarge           frame over the configured size limit
    ├── MalformedMessage          not valid JSON / not a known message / wrong field types
    └── UnsupportedVersion        peer speaks no protocol version we do

Local misuse (calling the API wrongly) raises ordinary ``TypeError``/``ValueError``;
these errors are only about remote input, so drivers may turn them into a close frame.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Remote input violated the Ferry wire protocol."""

    #: Short, stable code safe to send to the peer (never includes the offending data).
    code = "protocol_error"


class MessageTooLarge(ProtocolError):
    """A frame exceeded the size limit."""

    code = "message_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class MalformedMessage(ProtocolError):
    """A frame was not a valid message of the expected union."""

    code = "malformed_message"


class UnsupportedVersion(ProtocolError):
    """The peer offered no protocol version we speak."""

    code = "unsupported_version"
