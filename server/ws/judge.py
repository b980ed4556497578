"""Judging uploaded items one by one (pure: no I/O).

A bridge uploads what its phone received; one item the server cannot take must never
stop the items behind it, or anyone who can text the number could stall the queue. So
every item gets its own verdict::

    item ─▶ fits the protocol's limits ─▶ Inbound (stored as a message)
         └▶ breaks one ─▶ Inbound placeholder (``refused`` = reason, empty body) and a
                          Rejection(n, reason) in the Ack: the bridge quarantines the item

A placeholder is stored under the item's own key, like a message, so a re-upload of the
same item is recognised and the user sees in the thread that a message from the sender
could not be stored, and why. A time the server cannot read is not a reason to lose a
text: the message keeps its body and takes the server's receipt time.

A frame whose items do not even have the protocol's types (a bridge bug) is taken apart
item by item (:func:`salvage_upload`), so only the broken items are refused.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta

import msgspec

from protocol.errors import InvalidAttachment, MalformedMessage
from protocol.messages import (
    MAX_BODY,
    MAX_KEY,
    MAX_SENDER,
    InboundSms,
    Rejection,
    check_attachments,
)
from protocol.phone import canonical_peer
from server.storage.conversations import Inbound

#: Earliest and latest (from now) sending times taken as they are.
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_AHEAD = timedelta(days=2)
_UNKNOWN_SENDER = "unknown"


class Verdicts(msgspec.Struct):
    """An upload judged: what to store (placeholders included) and the refusals."""

    batch: list[Inbound]
    rejected: list[Rejection]


def judge(
    items: list[InboundSms], lines: dict[str, int], first_line: int, now: datetime
) -> Verdicts:
    """Judge each item of an upload.

    ``lines`` maps the bridge's numbers to line ids; an unknown or absent line lands on
    ``first_line`` (the SMS was received by this bridge: keeping it beats refusing it).
    A sender is spelled for the receiving line's country (one thread per person).
    """
    batch: list[Inbound] = []
    rejected: list[Rejection] = []
    numbers = {line_id: number for number, line_id in lines.items()}
    for item in items:
        line_id = lines.get(item.line, first_line) if item.line else first_line
        # Only a sender within the limits is spelled (and its spelling cached).
        ok = _sender_ok(item.sender)
        sender = canonical_peer(item.sender, numbers.get(line_id)) if ok else item.sender
        reason = _fault(item)
        if reason is None:
            try:
                attachments = tuple(check_attachments(item.attachments)) if item.attachments else ()
            except InvalidAttachment as exc:
                reason = exc.code
            else:
                batch.append(
                    Inbound(
                        item.key,
                        line_id,
                        sender,
                        item.body,
                        _sent_at(item.sent_at, now),
                        item.incomplete,
                        attachments,
                        direction=item.direction,
                        status=_status(item),
                    )
                )
                continue
        batch.append(placeholder(item.key, sender, item.sent_at, line_id, reason, now))
        rejected.append(Rejection(n=item.n, reason=reason))
    return Verdicts(batch, rejected)


def _status(item: InboundSms) -> str:
    """A received message is ``received``; one sent from the phone keeps what the phone
    knows (``sent`` when it says nothing; ``sent_no_report`` when it never will)."""
    if item.direction == "in":
        return "received"
    status = item.status or "sent"
    return "sent_no_report" if status == "sent" and item.no_report else status


def placeholder(
    key: str, sender: str, sent_at: str, line_id: int, reason: str, now: datetime
) -> Inbound:
    """What is stored for a refused item: who sent it, when, and why it was refused."""
    return Inbound(
        _storable_key(key),
        line_id,
        sender if _sender_ok(sender) else _UNKNOWN_SENDER,
        "",
        _sent_at(sent_at, now),
        refused=reason,
    )


def _fault(item: InboundSms) -> str | None:
    """Why ``item`` cannot be stored as a message (checks that cost little come first)."""
    if len(item.body) > MAX_BODY:
        return "body_too_long"
    if not item.key or len(item.key) > MAX_KEY or (item.line and len(item.line) > MAX_SENDER):
        return "field_too_long"
    if not _sender_ok(item.sender):
        return "bad_sender"
    return None


def _sender_ok(sender: str) -> bool:
    # Numbers, short codes and alphanumeric names: printable, no line breaks or controls.
    if not 0 < len(sender) <= MAX_SENDER or not sender.isprintable():
        return False
    # Format characters (Cf: bidi overrides, zero widths) all lie outside ASCII, so a
    # plain number needs no scan character by character (a bulk upload has thousands).
    return sender.isascii() or not any(unicodedata.category(c) == "Cf" for c in sender)


def _storable_key(key: str) -> str:
    """The item's key, or a digest of it when it does not fit the key column."""
    if key and len(key) <= MAX_KEY:
        return key
    return "refused:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:64]


def _sent_at(text: str, now: datetime) -> datetime:
    """The sending time, or ``now`` when it cannot be read or is out of range.

    A time without an offset is taken as UTC; the body is kept either way.
    """
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        return now
    return value if _EARLIEST <= value <= now + _AHEAD else now


# ------------------------------------------------------------- salvage a frame


class _LooseUpload(msgspec.Struct, tag="upload", tag_field="t"):
    items: list[msgspec.Raw]
    repair: bool = False


_item_decoder = msgspec.json.Decoder(InboundSms)
_loose_upload = msgspec.json.Decoder(_LooseUpload)


class Salvaged(msgspec.Struct):
    """An upload whose frame did not decode whole: the items that did, and the others."""

    items: list[InboundSms]
    #: (position, key, sender, sent time) of items without the protocol's types.
    broken: list[tuple[int, str, str, str]]
    repair: bool


def salvage_upload(plaintext: bytes) -> Salvaged:
    """Decode an upload item by item after the whole frame failed to decode.

    Raises:
        MalformedMessage: not an upload at all, or an item without even a position
            (it could not be acknowledged, so the frame as a whole is refused).
    """
    try:
        loose = _loose_upload.decode(plaintext)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise MalformedMessage("invalid message") from None
    items: list[InboundSms] = []
    broken: list[tuple[int, str, str, str]] = []
    for raw in loose.items:
        try:
            items.append(_item_decoder.decode(raw))
            continue
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        try:
            fields = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            fields = None
        n = fields.get("n") if isinstance(fields, dict) else None
        if type(n) is not int or not 1 <= n <= 2**53:
            raise MalformedMessage("upload item without a position") from None
        key = _text(fields, "key") or "malformed:" + hashlib.sha256(bytes(raw)).hexdigest()[:32]
        broken.append((n, key, _text(fields, "sender"), _text(fields, "sent_at")))
    return Salvaged(items, broken, loose.repair)


def _text(fields: dict[str, object], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def judge_salvaged(
    salvaged: Salvaged, lines: dict[str, int], first_line: int, now: datetime
) -> tuple[list[int], Verdicts]:
    """Judge a salvaged upload; returns every item's position (for the Ack) and verdicts."""
    verdicts = judge(salvaged.items, lines, first_line, now)
    for n, key, sender, sent_at in salvaged.broken:
        verdicts.batch.append(placeholder(key, sender, sent_at, first_line, "malformed", now))
        verdicts.rejected.append(Rejection(n=n, reason="malformed"))
    positions = [i.n for i in salvaged.items] + [b[0] for b in salvaged.broken]
    return positions, verdicts
