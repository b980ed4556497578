"""What nodes say to each other on their Redis channel: one JSON envelope per message.

Nothing here is a secret or a message body: account, device and seq numbers, session
handles (never the cookie's session id) and, for the ``device`` gateway, a recipient and
text sealed with a key every node holds. A message over :data:`MAX_BYTES`, or one that
does not decode (another version, garbage), is dropped: hints are only wake-ups.
"""

from __future__ import annotations

import msgspec

from server.hub import (
    CloseAccount,
    CloseDevice,
    CloseSessions,
    DeviceConnected,
    ForgetFrames,
    Hint,
    Request,
)

#: The largest envelope read or written, in bytes.
MAX_BYTES = 64 * 1024
#: Session handles per ``CloseSessions`` envelope (more are split over several).
MAX_HANDLES = 500


class WireError(Exception):
    """An envelope that is too large or does not decode."""


class Hinted(msgspec.Struct, frozen=True, tag="hint"):
    account: int
    hint: Hint


class Ask(msgspec.Struct, frozen=True, tag="ask"):
    """A request for node ``to``; answered with an :class:`Answer` of the same ``id``."""

    to: str
    id: str
    request: Request


class Answer(msgspec.Struct, frozen=True, tag="answer"):
    """None: done; otherwise why not, in words."""

    to: str
    id: str
    error: str | None = None


Body = (
    Hinted
    | CloseSessions
    | CloseAccount
    | CloseDevice
    | DeviceConnected
    | ForgetFrames
    | Ask
    | Answer
)


class Envelope(msgspec.Struct, frozen=True):
    #: The sending node (a node ignores its own envelopes).
    origin: str
    body: Body


_decoder = msgspec.json.Decoder(Envelope)


def encode(origin: str, body: Body) -> bytes:
    data = msgspec.json.encode(Envelope(origin, body))
    if len(data) > MAX_BYTES:
        raise WireError(f"envelope of {len(data)} bytes")
    return data


def decode(data: bytes) -> Envelope:
    if len(data) > MAX_BYTES:
        raise WireError(f"envelope of {len(data)} bytes")
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise WireError(str(exc)[:200]) from None
