"""Typed, immutable wire messages of the Ferry protocol.

Two channels, each a tagged union (the ``t`` field names the type):

* the **device link** between a bridge and the server (:data:`DeviceToServer`,
  :data:`ServerToDevice`);
* the **browser socket** between a browser and the server (:data:`BrowserToServer`,
  :data:`ServerToBrowser`).

Versioning: a bridge opens with :class:`DeviceHello` listing the versions it speaks; the
server answers :class:`Welcome` with the one chosen (:func:`negotiate_version`). New
optional fields may be added within a version (unknown fields are ignored on decode);
anything else needs a new version number.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import Annotated, Literal

import msgspec

from protocol.errors import (
    AttachmentTooLarge,
    InvalidAttachment,
    TooManyAttachments,
    UnsupportedVersion,
)

#: Versions this implementation speaks, newest last.
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

#: Largest batch of items a bridge may upload in one frame.
MAX_UPLOAD_BATCH = 500
#: Longest text of one uploaded message, in characters. The network delivers up to 255
#: parts of 153 GSM-7 characters (39,015) or 67 UCS-2 units (17,085): every SMS fits.
MAX_BODY = 40_000
#: Longest sender of an uploaded message (E.164 has 15 digits; alphanumeric senders 11).
MAX_SENDER = 32
#: Longest idempotency key of an uploaded message.
MAX_KEY = 100
#: An upload position: the bridge journal's row number (1, 2, …; far below 2**53).
Position = Annotated[int, msgspec.Meta(ge=1, le=2**53)]

#: ``sent_no_report``: the phone sent it and will say nothing more (Termux: Android tells
#: it nothing after the hand-over), so "delivered" can never come.
MessageStatus = Literal[
    "received", "queued", "sending", "sent", "sent_no_report", "delivered", "failed", "unknown"
]
Direction = Literal["in", "out"]
SendOutcome = Literal["accepted", "sending", "sent", "delivered", "failed", "unknown"]
#: The state of a message sent from the phone itself, as the phone reports it.
PhoneSendStatus = Literal["sent", "delivered", "failed"]


class _Msg(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    """Base of every wire message."""


# ---------------------------------------------------------------- device link


class DeviceHello(_Msg, tag="hello", frozen=True):
    """What a bridge says in Noise handshake message 1 (encrypted to the server's key).

    The bridge's identity is its static key, which the handshake carries; the hello only
    says which protocol versions it speaks and, on first contact, the one-time pairing code
    that lets the server register that key.
    """

    versions: list[int]
    bridge_version: str = ""
    #: The one-time part of a pairing code (first contact only).
    pairing_code: str | None = None
    #: A name for a new device, shown to the user (first contact only).
    name: str = ""


class LinkClose(enum.IntEnum):
    """Websocket close codes of the device link; the reason text is the lower-case name.

    Before the handshake completes nothing can be encrypted, so a refusal is a close frame
    with one of these stable codes and no detail.
    """

    #: Unknown or revoked device key, and no valid pairing code.
    UNAUTHORIZED = 4401
    #: The pairing code is wrong, expired, used up or killed by wrong attempts.
    PAIRING_FAILED = 4403
    #: The account already has as many devices as the server allows.
    DEVICE_LIMIT = 4406
    #: Another connection of the same device replaced this one.
    REPLACED = 4409
    #: The user revoked this device.
    REVOKED = 4410
    #: Too many attempts or connections from this address; try later.
    RATE_LIMITED = 4429


#: Most attachments one message (MMS) may carry.
MAX_ATTACHMENTS = 10
#: Most bytes all attachments of one message may carry together. Base64 on the wire makes
#: them 4/3 as large: 640 KiB becomes 853 KiB, which leaves ~170 KiB of the 1 MiB device
#: frame (``protocol.codec.DEFAULT_MAX_SIZE``) for the item's other fields even at their
#: limits. A bridge sends such a message in an upload of its own.
MAX_ATTACHMENT_BYTES = 640 * 1024
#: Longest media type (``type/subtype``, lower case, no parameters).
MAX_MIME_LEN = 100
#: Longest file name kept; longer names are cut.
MAX_ATTACHMENT_NAME = 255

# RFC 9110 token characters, lower case (checked after lower-casing).
_MIME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+/[a-z0-9!#$%&'*+.^_`|~-]+")


class Attachment(msgspec.Struct, frozen=True, omit_defaults=True):
    """One part of an MMS besides its text: a picture, a contact card, a document.

    ``data`` travels as base64 in JSON. ``name`` is the sender's file name, if any: only
    shown to the user, never used as a path.
    """

    mime: str
    data: bytes
    name: str | None = None


def check_attachments(attachments: list[Attachment]) -> list[Attachment]:
    """Validate and normalise the attachments of one uploaded message.

    The media type is lower-cased and must then be ``type/subtype`` in token syntax
    (no parameters), at most :data:`MAX_MIME_LEN` characters. File names are sanitised,
    never refused: only the part after the last ``/`` or ``\\`` is kept, control and
    format characters (including bidirectional overrides) are dropped, the result is
    stripped and cut to :data:`MAX_ATTACHMENT_NAME` characters; nothing left (or ``.``,
    ``..``) becomes ``None``.

    Raises:
        TooManyAttachments: more than :data:`MAX_ATTACHMENTS`.
        AttachmentTooLarge: more than :data:`MAX_ATTACHMENT_BYTES` together.
        InvalidAttachment: a media type is not ``type/subtype``.
    """
    if len(attachments) > MAX_ATTACHMENTS:
        raise TooManyAttachments(f"a message may carry at most {MAX_ATTACHMENTS} attachments")
    if sum(len(a.data) for a in attachments) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(
            f"a message's attachments may total at most {MAX_ATTACHMENT_BYTES} bytes"
        )
    return [
        Attachment(mime=normalize_mime(a.mime), data=a.data, name=clean_attachment_name(a.name))
        for a in attachments
    ]


def normalize_mime(mime: str) -> str:
    """``mime`` lower-cased, if it is a ``type/subtype`` media type.

    Raises:
        InvalidAttachment: it is not (parameters such as ``; charset=`` are not allowed).
    """
    lowered = mime.strip().lower()
    if len(lowered) > MAX_MIME_LEN or not _MIME.fullmatch(lowered):
        raise InvalidAttachment("an attachment's media type is not type/subtype")
    return lowered


def clean_attachment_name(name: str | None) -> str | None:
    """A file name safe to show and to offer as a download name (see check_attachments)."""
    if name is None:
        return None
    base = re.split(r"[/\\]", name)[-1]
    kept = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf"))
    kept = kept.strip()[:MAX_ATTACHMENT_NAME].strip()
    return None if kept in ("", ".", "..") else kept


class InboundSms(msgspec.Struct, frozen=True, omit_defaults=True):
    """One SMS (or MMS, with attachments) the bridge read from the phone or modem.

    ``n`` is the bridge journal's position (monotonic per bridge); ``key`` is the
    device-scoped idempotency key (stable across re-reads of the same SMS).
    Fields at their defaults are left out of the frame, so a text-only item carries no
    ``attachments`` key and servers that predate attachments read it unchanged.
    """

    n: Position
    key: str
    sender: str
    body: str
    sent_at: str  # ISO 8601 with offset, from the SMS centre timestamp
    incomplete: bool = False
    #: The receiving line's number, when the bridge serves several; else its only line.
    line: str | None = None
    #: The parts of an MMS besides its text (see :func:`check_attachments` for limits).
    attachments: list[Attachment] = []
    #: ``out``: a message the user sent from the phone itself (its sent box); ``sender``
    #: then holds the recipient, the conversation's peer. Servers that predate it read
    #: every item as received (the field is left out of the frame at its default).
    direction: Direction = "in"
    #: For ``out`` only: what the phone knows of its fate.
    status: PhoneSendStatus | None = None
    #: For ``out`` with status ``sent``: the phone gives no delivery reports (Termux), so
    #: that is all anyone will know (stored as ``sent_no_report``).
    no_report: bool = False


class Upload(_Msg, tag="upload", frozen=True):
    """A batch of inbound messages, in journal order.

    ``repair``: the bridge is re-sending its full state after a long outage; the server
    only adds what is missing or completes what was incomplete, never removes.
    """

    items: list[InboundSms]
    repair: bool = False


class SendStatus(_Msg, tag="send_status", frozen=True):
    """Progress of one outgoing message the server asked the bridge to send."""

    outbox_id: int
    status: SendOutcome
    references: list[int] = []
    #: A plain sentence for the user (what went wrong, what to do).
    error: str | None = None
    #: The technical detail (the modem's words), shown one click away.
    error_detail: str | None = None
    #: With ``sent``: the phone gives no delivery report (Termux), so nothing will follow
    #: (stored as ``sent_no_report``). Servers that predate it show plain "sent".
    no_report: bool = False


ModemState = Literal["ready", "not_responding", "starting"]


class ModemInfo(_Msg, tag="modem", frozen=True):
    """What the bridge knows about its modem (any field may be unknown).

    ``state``: ``ready`` while the modem answers; ``not_responding`` as soon as the bridge
    noticed it stopped answering (signal and operator are then unknown, not stale);
    ``starting`` while it is being opened again.
    """

    signal_dbm: int | None = None
    operator: str | None = None
    own_number: str | None = None
    state: ModemState = "ready"


class ImportProgress(_Msg, tag="import", frozen=True):
    """How far the first import of a phone's history has come.

    ``done`` of ``total`` messages are on the server; the bridge reports while it imports
    and once more with ``done == total`` at the end. Not acknowledged: the server only
    shows the latest report of a connected bridge.
    """

    total: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
    done: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]


class Ping(_Msg, tag="ping", frozen=True):
    """Keep-alive; answered with :class:`Pong`."""


class Pong(_Msg, tag="pong", frozen=True):
    """Answer to :class:`Ping`."""


class Welcome(_Msg, tag="welcome", frozen=True):
    """The server accepted the bridge; ``lines`` are the numbers it serves.

    ``acked_upto`` is the highest upload position the server remembers acknowledging. A
    bridge that knows of later acknowledged items (the server was restored from a backup)
    re-sends them as a repair.
    """

    version: int
    device_id: int
    lines: list[str]
    acked_upto: int = 0


class Rejection(msgspec.Struct, frozen=True):
    """The server's verdict on one upload item it could not store as a message.

    ``reason`` is a stable code (:data:`REFUSAL_REASONS`); the server stored a placeholder
    in its place, so the item counts as handled: the bridge moves it to its quarantine
    and never sends it again.
    """

    n: int
    reason: str


#: Why an upload item was refused (``Rejection.reason``, ``MessageView.refused``).
REFUSAL_REASONS: tuple[str, ...] = (
    "body_too_long",
    "field_too_long",
    "bad_sender",
    "invalid_attachment",
    "too_many_attachments",
    "attachment_too_large",
    "malformed",
)


class Ack(_Msg, tag="ack", frozen=True):
    """Every upload item with ``n <= upto`` is handled on the server (committed).

    ``conflicts`` lists the ``n`` of items whose key was already stored with different
    content: recorded on the server, not stored over the original. ``rejected`` lists
    items judged unacceptable one by one (each with its reason); everything else up to
    ``upto`` is stored.
    """

    upto: int
    conflicts: list[int] = []
    rejected: list[Rejection] = []


class SendSms(_Msg, tag="send_sms", frozen=True):
    """Ask the bridge to send one SMS. ``outbox_id`` is the idempotency key."""

    outbox_id: int
    to: str
    body: str
    #: The number (SIM) to send from.
    line: str = ""


class StatusAck(_Msg, tag="status_ack", frozen=True):
    """The server committed a :class:`SendStatus`; the bridge may forget it."""

    outbox_id: int
    status: SendOutcome


class Error(_Msg, tag="error", frozen=True):
    """A fatal or per-request error, by stable code; never internals."""

    code: str
    message: str = ""


class ContactEntry(msgspec.Struct, frozen=True):
    """One phonebook entry of the phone or SIM."""

    name: str
    number: str


#: Largest phonebook a bridge may send in one snapshot (SIMs hold 250; phones more).
MAX_CONTACTS = 5000


class Contacts(_Msg, tag="contacts", frozen=True):
    """The whole phonebook of one line, as the phone has it now (a snapshot).

    The server adds and renames by number and forgets numbers no longer in it; answered
    with :class:`ContactsAck`.
    """

    entries: list[ContactEntry]
    line: str | None = None


class ContactsAck(_Msg, tag="contacts_ack", frozen=True):
    """The snapshot is stored."""

    count: int


DeviceToServer = DeviceHello | Upload | SendStatus | ModemInfo | Contacts | ImportProgress | Ping
ServerToDevice = Welcome | Ack | SendSms | StatusAck | ContactsAck | Error | Pong


# ------------------------------------------------------------- browser socket


#: Longest cursor epoch a client may send back (the server makes 16 hex digits).
MAX_EPOCH_LEN = 64


class Subscribe(_Msg, tag="subscribe", frozen=True):
    """Start (or resume) the change stream after ``since``.

    ``epoch``: the epoch the cursor belongs to (from ``GET /threads``, or the last
    ``Changes``). A cursor of another epoch (the server's history was restored or
    repaired since) gets :class:`Resync`. Clients that send none are only range-checked.
    """

    since: int = 0
    epoch: Annotated[str, msgspec.Meta(max_length=MAX_EPOCH_LEN)] | None = None


class AttachmentView(msgspec.Struct, frozen=True):
    """An attachment's metadata as a browser sees it; the bytes are fetched by ``id``
    from ``GET /api/v1/attachments/{id}``."""

    id: int
    mime: str
    size: int
    name: str | None = None


class MessageView(msgspec.Struct, frozen=True):
    """A message as a browser sees it."""

    id: int
    thread_id: int
    peer: str
    direction: Direction
    body: str
    status: MessageStatus
    timestamp: str
    seq: int
    client_msg_id: str | None = None
    error: str | None = None
    #: Some parts of a long SMS never arrived; the body has what did.
    incomplete: bool = False
    #: A tombstone: the message was deleted (the body is empty).
    deleted: bool = False
    #: MMS parts, in order (metadata only).
    attachments: list[AttachmentView] = []
    #: A placeholder: the bridge received a message from ``peer`` that the server could not
    #: store; the reason code (``REFUSAL_REASONS``). The body is empty.
    refused: str | None = None
    #: The technical detail behind ``error`` (the modem's own words), for a "details" view.
    error_detail: str | None = None
    #: Masked for good: the content was destroyed; ``body`` is ``*****``.
    masked: bool = False


class ThreadView(msgspec.Struct, frozen=True):
    """A conversation summary as a browser sees it."""

    id: int
    peer: str
    title: str
    last_message: MessageView | None
    last_activity: str
    unread: int
    seq: int
    line_id: int = 0
    #: The number (SIM) this conversation happens on.
    line: str = ""
    archived: bool = False
    #: A tombstone: the conversation was deleted.
    deleted: bool = False


class DeviceView(msgspec.Struct, frozen=True):
    """A paired bridge as a browser sees it."""

    id: int
    name: str
    online: bool
    last_seen: str | None
    #: What the bridge last reported about its modem, while it is connected.
    signal_dbm: int | None = None
    operator: str | None = None
    lines: list[str] = []
    #: The modem's state as the bridge last reported it, while connected (``ModemInfo``).
    modem_state: ModemState | None = None
    #: While a connected bridge imports a phone's history: messages on the server, of all.
    import_done: int | None = None
    import_total: int | None = None


class Changes(_Msg, tag="changes", frozen=True):
    """Changes after the subscriber's cursor, up to and including ``upto``."""

    messages: list[MessageView]
    threads: list[ThreadView]
    upto: int
    #: The epoch ``upto`` belongs to; a client keeps it with its cursor.
    epoch: str | None = None


class Devices(_Msg, tag="device", frozen=True):
    """The account's bridges and whether each is connected."""

    devices: list[DeviceView]


class Resync(_Msg, tag="resync", frozen=True):
    """The cursor cannot be resumed (older than what the server keeps, from the future,
    or of another epoch): refetch the state, then send :class:`Subscribe` again. The
    server pushes nothing more on this socket until then."""

    #: The server's epoch now (informational: the refetched state names its own).
    epoch: str | None = None


BrowserToServer = Subscribe | Ping
ServerToBrowser = Changes | Devices | Resync | Error | Pong


def negotiate_version(offered: list[int]) -> int:
    """Pick the newest version both sides speak.

    Raises:
        UnsupportedVersion: no common version.
    """
    common = set(offered) & set(SUPPORTED_VERSIONS)
    if not common:
        raise UnsupportedVersion(f"no common protocol version in {offered[:8]!r}")
    return max(common)
