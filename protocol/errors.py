"""Errors raised by the Ferry wire protocol.

Hierarchy::

    ProtocolError                 anything a peer sent that we cannot accept
    ├── MessageTooLarge           frame over the configured size limit
    ├── MalformedMessage          not valid JSON / not a known message / wrong field types
    │   ├── NestingTooDeep        arrays/objects nested deeper than the codec's limit
    │   └── NumberOutOfRange      an integer that does not fit in 64 bits
    ├── InvalidAttachment         an attachment's media type is not ``type/subtype``
    │   ├── TooManyAttachments    more than MAX_ATTACHMENTS on one message
    │   └── AttachmentTooLarge    one message's attachments over MAX_ATTACHMENT_BYTES
    ├── UnsupportedVersion        peer speaks no protocol version we do
    ├── HandshakeFailed           Noise handshake message malformed or not authentic
    ├── DecryptionFailed          Noise transport frame tampered, replayed, reordered, truncated
    ├── NonceExhausted            a Noise cipher used up its 2**64-1 nonces; handshake again
    └── SessionFailed             an earlier error left this link session unusable

Local misuse (calling the API wrongly) raises ordinary ``TypeError``/``ValueError``;
these errors are about remote input (plus the two ends of a Noise session's life,
``NonceExhausted`` and ``SessionFailed``), so drivers may turn them into a close frame.
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


class NestingTooDeep(MalformedMessage):
    """Arrays and objects nested deeper than allowed (refused before any parser runs)."""

    code = "nesting_too_deep"

    def __init__(self, limit: int) -> None:
        super().__init__(f"arrays and objects may nest at most {limit} deep")
        self.limit = limit


class NumberOutOfRange(MalformedMessage):
    """An integer outside the signed 64-bit range (refused before any parser runs)."""

    code = "number_out_of_range"

    def __init__(self, low: int, high: int) -> None:
        super().__init__(f"integers must be from {low} to {high}")


class InvalidAttachment(ProtocolError):
    """An attachment of an uploaded message is not acceptable (see ``check_attachments``)."""

    code = "invalid_attachment"


class TooManyAttachments(InvalidAttachment):
    """One message carries more attachments than ``MAX_ATTACHMENTS``."""

    code = "too_many_attachments"


class AttachmentTooLarge(InvalidAttachment):
    """One message's attachments together exceed ``MAX_ATTACHMENT_BYTES``."""

    code = "attachment_too_large"


class UnsupportedVersion(ProtocolError):
    """The peer offered no protocol version we speak."""

    code = "unsupported_version"


class HandshakeFailed(ProtocolError):
    """A Noise handshake message was malformed or failed authentication.

    Covers a wrong static key on either side, a tampered or truncated message and a
    low-order public key.
    """

    code = "handshake_failed"


class DecryptionFailed(ProtocolError):
    """A Noise transport frame failed authentication.

    Nonces are implicit, so a replayed, reordered or truncated frame fails the same way
    as a tampered one.
    """

    code = "decryption_failed"


class NonceExhausted(ProtocolError):
    """A Noise cipher reached nonce 2**64-1; the session needs a new handshake.

    Not reachable in practice; raised (rather than wrapping around) because reusing a
    nonce would break the cipher.
    """

    code = "nonce_exhausted"


class SessionFailed(ProtocolError):
    """A link session was used after an earlier error made it unusable.

    ``__cause__`` holds the original error.
    """

    code = "session_failed"
