"""Importing an "SMS Backup & Restore" file or a vCard file into one of the account's
lines (the driver around ``smsbackup`` and ``vcard``).

The upload is already on disk (the handler streams it there, bounded). The file is read
in chunks and parsed incrementally; messages are stored in batches, each one write
transaction (``TakeoutStore.import_batch``), so memory holds one chunk and one batch. A
message the server already has — synced by a bridge from the same phone (same line,
peer, direction, time and text), or imported before — is recognised and skipped, so an
import may be run again safely.

How the app's values are taken: ``sms`` type 1 is received, 2 sent (status 0:
delivered, 64: failed), 5 failed, 4 and 6 (outbox, queued) are of unknown fate, 3
(drafts) are skipped; ``mms`` boxes the same way. A received message's time is its
``date_sent`` when the phone knew it (as the bridges store it), else ``date``. Peers are
spelled for the line's country, as a bridge's upload is. A message Ferry cannot hold
(over 40,000 characters, a sender that is no address, more attachments than an MMS may
carry) is counted as refused; the rest goes on.
"""

from __future__ import annotations

import asyncio
import io
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from protocol.errors import InvalidAttachment
from protocol.messages import MAX_BODY, MAX_SENDER, Attachment, check_attachments
from protocol.phone import canonical_peer
from server.privacy.takeout import smsbackup, vcard
from server.privacy.takeout.errors import NotVCard
from server.storage.lines import Line
from server.storage.takeout import ImportItem, TakeoutStore

#: Bytes read and parsed at a time.
CHUNK = 256 * 1024
#: Messages stored per transaction, and the attachment bytes that close a batch early.
BATCH = 200
BATCH_BYTES = 4 * 1024 * 1024
#: Most contacts taken from one vCard file.
MAX_CONTACTS = 50_000
#: Longest contact name Ferry keeps.
MAX_NAME = 100

_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Progress = Callable[[int, int], Awaitable[None]]
#: Opens the uploaded file (in clear) for reading.
Source = Callable[[], IO[bytes]]
#: Called after each stored batch with the account's new seq, or None when only contacts
#: changed (open tabs catch up).
Changed = Callable[[int | None], Awaitable[None]]


@dataclass
class ImportSummary:
    """What an import did; shown to the user."""

    read: int = 0
    added: int = 0
    already_there: int = 0
    refused: int = 0
    drafts_skipped: int = 0
    contacts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _time(ms: int) -> datetime | None:
    if ms <= 0:
        return None
    try:
        when = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None
    return when if when >= _EARLIEST else None


def _direction_status(message: smsbackup.BackupMessage) -> tuple[str, str] | None:
    box = message.box
    if box == smsbackup.RECEIVED:
        return "in", "received"
    if box == smsbackup.SENT:
        if message.kind == "sms" and message.status == smsbackup.STATUS_COMPLETE:
            return "out", "delivered"
        if message.kind == "sms" and message.status == smsbackup.STATUS_FAILED:
            return "out", "failed"
        return "out", "sent"
    if box == smsbackup.FAILED and message.kind == "sms":
        return "out", "failed"
    if box in (smsbackup.OUTBOX, smsbackup.QUEUED):
        return "out", "unknown"
    return None  # drafts, and boxes the app does not write


def _peer(message: smsbackup.BackupMessage, direction: str, own: str) -> str:
    """The other party: an MMS names it among its addresses (from for received, to for
    sent), else the element's ``address`` (a group's first)."""
    wanted = smsbackup.ADDR_FROM if direction == "in" else smsbackup.ADDR_TO
    for address, kind in message.addrs:
        if kind == wanted and address and canonical_peer(address, own) != own:
            return address
    return message.address.split("~")[0].strip()


def _sender_ok(peer: str) -> bool:
    return (
        0 < len(peer) <= MAX_SENDER
        and peer.isprintable()
        and not any(unicodedata.category(c) == "Cf" for c in peer)
    )


def to_item(message: smsbackup.BackupMessage, line: Line) -> ImportItem | str:
    """The message to store, or why not (``draft`` or ``refused``)."""
    kind = _direction_status(message)
    if kind is None:
        return "draft"
    direction, status = kind
    date, sent = _time(message.date), _time(message.date_sent)
    when = (sent or date) if direction == "in" else (date or sent)
    peer = canonical_peer(_peer(message, direction, line.number), line.number)
    if when is None or message.damaged or len(message.body) > MAX_BODY or not _sender_ok(peer):
        return "refused"
    attachments: tuple[Attachment, ...] = ()
    if message.parts:
        try:
            attachments = tuple(
                check_attachments(
                    [
                        Attachment(mime=p.mime, data=p.data or b"", name=p.name)
                        for p in message.parts
                    ]
                )
            )
        except InvalidAttachment:
            return "refused"
    if not message.body and not attachments:
        return "refused"
    return ImportItem(
        peer=peer,
        direction=direction,
        body=message.body,
        timestamp=when,
        times=frozenset(t for t in (date, sent, when) if t is not None),
        read=message.read,
        status=status,
        attachments=attachments,
    )


async def import_backup(
    store: TakeoutStore,
    account_id: int,
    line: Line,
    source: Source,
    size: int,
    now: Callable[[], datetime],
    progress: Progress,
    changed: Changed,
) -> ImportSummary:
    """Import the "SMS Backup & Restore" file ``source`` opens (``size`` bytes) into
    ``line``.

    Raises:
        NotSmsBackup: the file is not one (what was stored before stays).
    """
    summary = ImportSummary()
    reader = smsbackup.BackupReader()
    batch: list[ImportItem] = []
    batch_bytes = 0

    async def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            outcome = await store.import_batch(account_id, line.id, batch, now())
            summary.added += outcome.added
            summary.already_there += outcome.known
            if outcome.seq is not None:
                await changed(outcome.seq)
        batch, batch_bytes = [], 0

    with await asyncio.to_thread(source) as f:
        done = 0
        while True:
            messages, read = await asyncio.to_thread(_read_some, f, reader)
            done += read
            for message in messages:
                summary.read += 1
                item = to_item(message, line)
                if item == "draft":
                    summary.drafts_skipped += 1
                elif isinstance(item, str):
                    summary.refused += 1
                else:
                    batch.append(item)
                    batch_bytes += sum(len(a.data) for a in item.attachments)
                    if len(batch) >= BATCH or batch_bytes >= BATCH_BYTES:
                        await flush()
            await progress(done, size)
            if not read:
                break
    await flush()
    return summary


def _read_some(
    f: IO[bytes], reader: smsbackup.BackupReader
) -> tuple[list[smsbackup.BackupMessage], int]:
    """Read and parse one chunk (in a worker thread); at the end, close the parser."""
    chunk = f.read(CHUNK)
    if not chunk:
        return reader.close(), 0
    return reader.feed(chunk), len(chunk)


async def import_vcards(
    store: TakeoutStore, account_id: int, line: Line, source: Source, changed: Changed
) -> ImportSummary:
    """Add the contacts of the vCard file ``source`` opens to ``line``'s contacts.

    Raises:
        NotVCard: the file is not one.
    """
    entries, refused = await asyncio.to_thread(_read_vcards, source, line.number)
    summary = ImportSummary(read=len(entries) + refused, refused=refused)
    if entries:
        summary.contacts = await store.merge_contacts(account_id, line.id, entries)
        if summary.contacts:
            await changed(None)
    return summary


def _read_vcards(source: Source, own: str) -> tuple[list[tuple[str, str]], int]:
    entries: list[tuple[str, str]] = []
    refused = 0
    try:
        with io.TextIOWrapper(source(), encoding="utf-8", errors="replace", newline="") as f:
            for card in vcard.read_cards(f):
                name = " ".join(card.name.split())[:MAX_NAME]
                for number in card.numbers:
                    peer = canonical_peer(number, own)
                    if not name or not _sender_ok(peer) or len(entries) >= MAX_CONTACTS:
                        refused += 1
                    else:
                        entries.append((peer, name))
    except UnicodeError:
        raise NotVCard("The vCard file is not text.") from None
    return entries, refused
