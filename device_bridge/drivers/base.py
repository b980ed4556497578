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

from collections.abc import Iterable
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
    "InboxChanged",
    "InboxView",
    "IncomingPdu",
    "Modem",
    "ModemEvent",
    "ModemStatus",
    "NewMessage",
    "Received",
    "SendUpdate",
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

    async def next_event(self) -> ModemEvent | InboxChanged | SendUpdate:
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
        stamp: The row's time as the phone stores it; (position, stamp) is the row's
            identity in the journal's seen set (ids are reused).
        direction: ``out`` for a message the user sent from the phone (its sent box);
            ``sender`` is then the recipient.
        status: For ``out``: ``sent``, ``delivered`` or ``failed``, as the phone knows.
    """

    key: str
    sender: str
    body: str
    sent_at: datetime
    source: str
    position: int
    attachments: tuple[Attachment, ...] = ()
    unread: tuple[tuple[str | None, str], ...] = ()
    stamp: int | None = None
    direction: str = "in"
    status: str | None = None


@dataclass(frozen=True)
class InboxChanged:
    """A pushed event: the phone has new messages to poll (``DecodedInbox.poll_new``)."""


@dataclass(frozen=True)
class SendUpdate:
    """A pushed event: what became of a message sent earlier (``send_sms`` returned
    ``reference``): ``delivered`` or ``permanent_failure``."""

    reference: int
    recipient: str
    outcome: str


class InboxView(Protocol):
    """What a polled phone driver may ask the journal (``device_bridge.journal``)."""

    def cursors(self) -> dict[str, int]:
        """The highest row id taken per store."""

    def unseen(self, source: str, rows: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Those of ``rows`` ((id, stamp)) not taken yet."""

    def low(self, source: str) -> int | None:
        """The lowest row id taken from a store (None: none yet)."""

    def floor(self, source: str) -> int:
        """Rows at or below this id count as taken."""

    def flag(self, name: str) -> bool: ...

    def set_flag(self, name: str) -> None: ...


@runtime_checkable
class DecodedInbox(Protocol):
    """Optional capability of a driver whose phone keeps and decodes its own inbox.

    Such a phone is polled instead of drained: nothing is deleted from it; the journal
    records each row taken with the message, in one transaction, and the driver asks it
    which rows are new (``InboxView``). A driver may also push ``InboxChanged`` (poll
    now) and ``SendUpdate`` (a send's fate) from ``next_event``.
    """

    async def poll_new(self, view: InboxView, limit: int) -> list[Received]:
        """Up to ``limit`` messages not taken yet (``view`` says which were): new ones
        first, then the next part of the history, newest first."""

    async def history_size(self, view: InboxView) -> int | None:
        """How many messages the phone holds in all while its history is still being
        imported (for the progress shown); None once imported, or when unknown."""


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
