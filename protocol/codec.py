"""Encode and decode wire messages, with a size limit on every read.

One :class:`Codec` per channel direction, built for the union it accepts::

    device_in = Codec(DeviceToServer)   # what the server reads from a bridge
    frame = device_in.encode(Ack(upto=3))
    msg = device_in.decode(raw)         # raises a ProtocolError subclass
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from protocol.errors import MalformedMessage, MessageTooLarge

T = TypeVar("T")

#: Default largest frame, in bytes. An upload batch of 500 long SMS fits comfortably.
DEFAULT_MAX_SIZE = 1 << 20

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
            MalformedMessage: invalid JSON, unknown ``t`` tag or wrong field types.
        """
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > self.max_size:
            raise MessageTooLarge(len(raw), self.max_size)
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


def encode(message: msgspec.Struct) -> bytes:
    """Encode any wire message (or struct) to JSON bytes."""
    return _encoder.encode(message)


def encode_text(message: msgspec.Struct) -> str:
    """Encode a wire message for a websocket text frame."""
    return _encoder.encode(message).decode()
