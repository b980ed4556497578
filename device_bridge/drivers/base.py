"""The modem interface every driver implements, and the values it hands back.

A driver is an edge: it talks to one phone or modem and translates whatever goes wrong
there (serial, Termux, ADB failures) into ``device_bridge.gsm.errors``:

* :class:`~device_bridge.gsm.errors.ModemUnavailable` — the port or device is gone;
* :class:`~device_bridge.gsm.errors.CmsError` / ``CmeError`` / ``CommandRejected`` — the
  modem refused;
* :class:`~device_bridge.gsm.errors.AtTimeout` — no answer in time (``may_have_sent``
  tells whether an SMS could have left anyway: never resend blindly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from device_bridge.gsm.errors import PduError
from device_bridge.gsm.modem import (
    IncomingPdu,
    ModemEvent,
    NewMessage,
    StatusReportIndex,
    StatusReportPdu,
)
from device_bridge.gsm.pdu import Deliver, StatusReport, Submit, decode_pdu
from protocol.messages import Attachment

__all__ = [
    "Contact",
    "DecodedInbox",
    "IncomingPdu",
    "Modem",
    "ModemEvent",
    "ModemStatus",
    "NewMessage",
    "Received",
    "StatusReportIndex",
    "StatusReportPdu",
    "StoredMessage",
    "decode_stored",
]

#: TS 27.005 <stat> in PDU mode.
STATUS_NAMES = {0: "received unread", 1: "received read", 2: "stored unsent", 3: "stored sent"}


@dataclass(frozen=True)
class StoredMessage:
    """A message slot in the modem's storage.

    Attributes:
        index: The slot number (for ``read_message``/``delete_message``).
        status: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
        pdu: The raw PDU hex, always kept (even when it cannot be decoded).
        sms: The decoded PDU, or None when it could not be decoded.
        error: Why decoding failed, else None.
    """

    index: int
    status: int
    pdu: str
    sms: Deliver | Submit | StatusReport | None
    error: str | None = None


@dataclass(frozen=True)
class Contact:
    """A phonebook entry on the SIM: a name and a number (``+E164`` when international)."""

    name: str
    number: str


@dataclass(frozen=True)
class ModemStatus:
    """What the modem says about the radio; a field is None when unsupported/unknown."""

    signal_dbm: int | None
    operator: str | None
    own_number: str | None


@runtime_checkable
class Modem(Protocol):
    """One phone line the bridge can read from and send through."""

    async def open(self) -> None:
        """Connect and prepare the device (PDU mode, storage, notifications)."""

    async def close(self) -> None:
        """Disconnect; pending calls fail with ``ModemUnavailable``."""

    async def list_messages(self) -> list[StoredMessage]:
        """Every stored message, read or not."""

    async def read_message(self, index: int) -> StoredMessage | None:
        """The message in slot ``index``, or None when the slot is empty."""

    async def delete_message(self, index: int) -> None:
        """Free slot ``index``."""

    async def send_sms(
        self, number: str, text: str, *, request_status_report: bool = False
    ) -> list[int]:
        """Send ``text``, one submit per part; return each part's TP-MR."""

    async def next_event(self) -> ModemEvent:
        """Wait for the next unsolicited event (new message, status report)."""

    async def status(self) -> ModemStatus:
        """Signal, operator and own number, as far as the device tells."""

    async def read_contacts(self) -> list[Contact]:
        """The contacts stored on the SIM, in slot order."""


@dataclass(frozen=True)
class Received:
    """A message the phone decoded itself (Android: SMS or MMS), ready to journal.

    Attributes:
        key: Stable idempotency key (``android:sms:<_id>``, ``android:mms:<_id>``).
        sender: The sender's address as the phone has it.
        body: The text (an MMS's text parts joined).
        sent_at: When it was sent (or received, when the phone does not know).
        source: The phone store it came from (``android:sms``); the journal keeps the
            highest ``position`` taken per source and the driver never reads below it.
        position: The row's ``_id`` in that store.
        attachments: The MMS parts besides text and layout, as read.
        unread: (name, media type) of parts too large to read at all.
    """

    key: str
    sender: str
    body: str
    sent_at: datetime
    source: str
    position: int
    attachments: tuple[Attachment, ...] = ()
    unread: tuple[tuple[str | None, str], ...] = ()


@runtime_checkable
class DecodedInbox(Protocol):
    """Optional capability of a driver whose phone keeps and decodes its own inbox.

    Such a phone is polled instead of drained: nothing is deleted from it; the bridge
    remembers how far it read each source (in the journal, with the messages, in one
    transaction) and asks only for what lies beyond.
    """

    async def poll_new(self, after: Mapping[str, int], limit: int) -> list[Received]:
        """Up to ``limit`` messages past ``after[source]`` (0 when absent), oldest first
        within each source."""


def decode_stored(index: int, status: int, pdu: str) -> StoredMessage:
    """Decode a stored PDU, keeping the raw hex and the reason when it is undecodable.

    Strict decoding is tried first; sloppy firmware (a trailing octet, a short TP-UDL)
    is then read leniently so the user still sees the text.
    """
    try:
        return StoredMessage(index, status, pdu, decode_pdu(pdu))
    except PduError as strict:
        try:
            return StoredMessage(index, status, pdu, decode_pdu(pdu, lenient=True))
        except PduError:
            return StoredMessage(index, status, pdu, None, strict.message)
