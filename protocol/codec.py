"""Encode and decode wire messages, with a size, nesting and integer limit on every read.

One :class:`Codec` per channel direction, built for the union it accepts::

    device_in = Codec(DeviceToServer)   # what the server reads from a bridge
    frame = device_in.encode(Ack(upto=3))
    msg = device_in.decode(raw)         # raises a ProtocolError subclass

The JSON decoder recurses once per ``[``/``{`` (also when it skips an unknown field), so
a frame nested a thousand deep would exhaust Python's recursion limit, and it gives
integers of any size, which no database column holds. :func:`check_json` refuses both
first, with linear scans of the bytes that never recurse.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, Generic, TypeVar

import msgspec

from protocol.errors import MalformedMessage, MessageTooLarge, NestingTooDeep, NumberOutOfRange

T = TypeVar("T")

#: Default largest frame, in bytes. An upload batch of 500 long SMS fits comfortably.
DEFAULT_MAX_SIZE = 1 << 20

#: Deepest nesting of arrays and objects accepted. The deepest legitimate message is 6
#: (``Changes`` > threads > ``ThreadView`` > last_message > attachments >
#: ``AttachmentView``; ``Upload`` > items > ``InboundSms`` > attachments > ``Attachment``
#: is 5); the rest is room for new optional fields.
MAX_DEPTH = 10

# A JSON string, escapes included. The closing quote is optional so that the pattern
# matches wherever it starts: an unterminated string ends the scan instead of being
# retried from every later quote (which would be quadratic).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
#: Integers on the wire are signed 64-bit, like every integer the server stores.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1

# Digits as "1", everything else as "0": a run of 19 digits is then a plain substring
# search (shorter runs always fit), much faster than a regex over every byte.
_DIGITS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_LONG_RUN = b"1" * 19
_NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _b in b"[{":
    _STEP[_b] = 1
for _b in b"]}":
    _STEP[_b] = -1

_encoder = msgspec.json.Encoder()


class Codec(Generic[T]):
    """JSON codec for one tagged union of messages."""

    def __init__(self, union: Any, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(union)
        self.max_size = max_size

    def decode(self, data: bytes | str) -> T:
        """Decode one frame.

        Raises:
            MessageTooLarge: the frame is over ``max_size`` bytes.
            NestingTooDeep: arrays and objects nested deeper than :data:`MAX_DEPTH`.
            NumberOutOfRange: an integer outside :data:`MIN_INT`..:data:`MAX_INT`.
            MalformedMessage: invalid JSON, unknown ``t`` tag or wrong field types.
        """
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > self.max_size:
            raise MessageTooLarge(len(raw), self.max_size)
        check_json(raw)
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise MalformedMessage(f"invalid message: {exc}") from None
        except msgspec.DecodeError:
            raise MalformedMessage("frame is not valid JSON") from None

    @staticmethod
    def encode(message: msgspec.Struct) -> bytes:
        """Encode one message to JSON bytes."""
        return _encoder.encode(message)


def check_json(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """The checks a JSON document passes before it is parsed: :func:`check_depth` and
    :func:`check_integers`.

    Raises:
        NestingTooDeep, NumberOutOfRange.
    """
    check_depth(raw, max_depth)
    check_integers(raw)


def check_integers(raw: bytes) -> None:
    """Refuse JSON with an integer outside :data:`MIN_INT`..:data:`MAX_INT` (digits inside
    strings do not count). Linear in ``len(raw)``.

    Raises:
        NumberOutOfRange: such an integer.
    """
    if _LONG_RUN not in raw.translate(_DIGITS):
        return  # no run of 19 digits anywhere: every integer fits
    for number in _NUMBER.finditer(_STRING.sub(b"", raw)):
        token = number.group()
        if token.lstrip(b"-").isdigit() and not MIN_INT <= int(token) <= MAX_INT:
            raise NumberOutOfRange(MIN_INT, MAX_INT)


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON whose arrays and objects nest deeper than ``max_depth``.

    Brackets inside strings do not count. For valid JSON the result is its exact depth;
    for invalid JSON it bounds the depth a parser reaches before it finds the error, so
    no input that passes can make a parser recurse deeper. Linear in ``len(raw)``.

    Raises:
        NestingTooDeep: nested deeper than ``max_depth``.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # cannot be deeper: the common case for small frames costs two scans
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth:
        raise NestingTooDeep(max_depth)


def encode(message: msgspec.Struct) -> bytes:
    """Encode any wire message (or struct) to JSON bytes."""
    return _encoder.encode(message)


def encode_text(message: msgspec.Struct) -> str:
    """Encode a wire message for a websocket text frame."""
    return _encoder.encode(message).decode()
