"""MMS attachments at rest: the only module that reads or writes their bytes and names.

One row per part of a message (``schema.attachments``), keyed by ``(message_id,
position)``. Bytes and file name are sealed with the account's data key
(``sealed.BodyCipher.seal_bytes``), their additional data binding account, message and
position: a blob moved to another row, another message or another account does not open.
``digest`` is a keyed MAC of media type, name and bytes, so a re-upload is compared
without opening anything and without a plain hash that would confirm a guessed file.

Upload rules (``ingest``, called inside the upload's transaction, only for items that
carry attachments, so text-only uploads never reach this module):

* a new message gets its attachments with it;
* the same key again with the same attachments: nothing happens;
* with different attachments: a recorded conflict, never stored over the original; a
  message stored without attachments only gains them from a repair upload;
* an upload without attachments never removes stored ones (it is not looked at here).

Bytes and names are never logged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import Attachment, AttachmentView
from server.log import storage_logger
from server.storage.keys import KeyRing
from server.storage.schema import attachments, conflicts, lines, messages
from server.storage.sealed import BodyCipher, SealError
from server.storage.util import select_in

#: Rows per statement when deleting by message id (SQLite bounds bound parameters).
_CHUNK = 500

_log = storage_logger.getChild("attachments")


class Uploaded(Protocol):
    """What ``ingest`` needs of an uploaded item (``conversations.Inbound``)."""

    @property
    def key(self) -> str: ...

    @property
    def line_id(self) -> int: ...

    @property
    def attachments(self) -> Sequence[Attachment]: ...


@dataclass(frozen=True)
class AttachmentFile:
    """An attachment opened for download."""

    mime: str
    name: str | None
    data: bytes


class Unreadable(LookupError):
    """The attachment exists but its sealed bytes do not open (moved or tampered with)."""


@dataclass
class IngestOutcome:
    #: (line id, key) of items whose stored attachments differ from the upload (recorded
    #: in ``conflicts``).
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    #: Messages stored earlier that gained attachments now: ``{message_id: thread_id}``.
    completed: dict[int, int] = field(default_factory=dict)


def _context(message_id: int, position: int, part: bytes) -> bytes:
    return b"attachment:%d:%d:%s" % (message_id, position, part)


def _digest(cipher: BodyCipher, part: Attachment) -> bytes:
    # Media types are tokens and names are free of control characters (both checked by
    # protocol.messages.check_attachments), so NUL separates the fields unambiguously.
    name = b"0" if part.name is None else b"1" + part.name.encode()
    return cipher.mac(b"\0".join((part.mime.encode(), name, part.data)))


def ingest(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    device_id: int,
    items: Sequence[Uploaded],
    now: datetime,
    *,
    repair: bool,
    fresh: Mapping[tuple[int, str], object],
    skip: Collection[tuple[int, str]],
) -> IngestOutcome:
    """Store the attachments of an upload's items, inside the upload's transaction.

    Args:
        items: the batch's items that carry attachments (messages already stored).
        fresh: the items inserted by this upload, by (line id, key); only the very item
            inserted for a key gives it attachments (a repeat within the batch is
            ignored, like its text).
        skip: (line id, key) of items already recorded as conflicting (their text differs).
    """
    wanted = [
        i for i in items if (i.line_id, i.key) not in skip and fresh.get((i.line_id, i.key), i) is i
    ]
    outcome = IngestOutcome()
    if not wanted:
        return outcome
    stored = {
        (r.line_id, r.device_key): r
        for r in conn.execute(
            select(
                messages.c.id,
                messages.c.thread_id,
                messages.c.line_id,
                messages.c.device_key,
                messages.c.deleted,
                messages.c.masked,
            ).where(
                messages.c.account_id == account_id,
                messages.c.device_key.in_({i.key for i in wanted}),
            )
        )
    }
    known: dict[int, list[bytes]] = {}
    for message_id, digest in conn.execute(
        select(attachments.c.message_id, attachments.c.digest)
        .where(attachments.c.message_id.in_([m.id for m in stored.values()]))
        .order_by(attachments.c.message_id, attachments.c.position)
    ):
        known.setdefault(message_id, []).append(digest)
    rows: list[dict[str, Any]] = []
    clashes: list[dict[str, Any]] = []
    for item in wanted:
        ident = (item.line_id, item.key)
        message = stored.get(ident)
        if message is None or message.deleted or message.masked:
            continue  # a deleted or masked message never gets anything back
        digests = [_digest(cipher, a) for a in item.attachments]
        have = known.get(message.id, [])
        if have == digests:
            continue
        if not have and (ident in fresh or repair):
            rows.extend(_rows(cipher, account_id, message.id, item.attachments, digests))
            known[message.id] = digests
            if ident not in fresh:
                outcome.completed[message.id] = message.thread_id
            continue
        outcome.conflicts.append(ident)
        clashes.append(
            {
                "account_id": account_id,
                "device_id": device_id,
                "device_key": item.key,
                "message_id": message.id,
                "created_at": now,
            }
        )
    if rows:
        conn.execute(insert(attachments), rows)
    if clashes:
        conn.execute(insert(conflicts), clashes)
    return outcome


def _rows(
    cipher: BodyCipher,
    account_id: int,
    message_id: int,
    parts: Sequence[Attachment],
    digests: list[bytes],
) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account_id,
            "message_id": message_id,
            "position": position,
            "mime": part.mime,
            "name_sealed": None
            if part.name is None
            else cipher.seal_bytes(part.name.encode(), _context(message_id, position, b"name")),
            "size": len(part.data),
            "digest": digest,
            "data_sealed": cipher.seal_bytes(part.data, _context(message_id, position, b"data")),
        }
        for position, (part, digest) in enumerate(zip(parts, digests, strict=True))
    ]


# Built once: every change pushed to browsers asks it, mostly for messages without any.
_METADATA = select(
    attachments.c.id,
    attachments.c.message_id,
    attachments.c.position,
    attachments.c.mime,
    attachments.c.size,
    attachments.c.name_sealed,
).order_by(attachments.c.message_id, attachments.c.position)
_metadata_by_size: dict[int, Any] = {}


def views_for(
    conn: Connection, cipher: BodyCipher, message_ids: Collection[int]
) -> dict[int, list[AttachmentView]]:
    """Metadata (never bytes) of the attachments of ``message_ids``, in one query."""
    if not message_ids:
        return {}
    rows = select_in(
        conn, _metadata_by_size, _METADATA, attachments.c.message_id, sorted(set(message_ids))
    )
    found: dict[int, list[AttachmentView]] = {}
    for r in rows:
        view = AttachmentView(
            id=r.id,
            mime=r.mime,
            size=r.size,
            name=_open_name(cipher, r.name_sealed, r.message_id, r.position, r.id),
        )
        found.setdefault(r.message_id, []).append(view)
    return found


def _open_name(
    cipher: BodyCipher, sealed: bytes | None, message_id: int, position: int, attachment_id: int
) -> str | None:
    if sealed is None:
        return None
    try:
        return cipher.open_bytes(sealed, _context(message_id, position, b"name")).decode()
    except (SealError, UnicodeDecodeError):
        # The name is cosmetic: a page of messages must not fail over it.
        _log.warning("name of attachment %d does not open; shown without one", attachment_id)
        return None


def delete_for(conn: Connection, message_ids: Sequence[int]) -> None:
    """Delete the attachments of messages being tombstoned (inside their transaction,
    a :mod:`~server.storage.runner` one)."""
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        conn.execute(delete(attachments).where(attachments.c.message_id.in_(chunk)))


class AttachmentStore:
    """Downloads: an attachment's bytes, for its owner, on a verified line."""

    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys

    async def open(
        self, account_id: int, attachment_id: int, *, threads: frozenset[int] | None = None
    ) -> AttachmentFile:
        """The attachment, opened (with ``threads``: only of those conversations).

        Raises:
            Unreadable: it does not open (moved between rows, or tampered with).
            LookupError: no such attachment, another account's, of a deleted message or
                of a line that is not verified.
        """
        cipher = await self._keys.cipher(account_id)
        query = (
            select(
                attachments.c.message_id,
                attachments.c.position,
                attachments.c.mime,
                attachments.c.name_sealed,
                attachments.c.data_sealed,
            )
            .join(messages, messages.c.id == attachments.c.message_id)
            .join(lines, lines.c.id == messages.c.line_id)
            .where(
                attachments.c.id == attachment_id,
                attachments.c.account_id == account_id,
                messages.c.account_id == account_id,
                messages.c.deleted.is_(False),
                lines.c.verified_at.is_not(None),
            )
        )
        if threads is not None:
            query = query.where(messages.c.thread_id.in_(sorted(threads)))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise LookupError(attachment_id)
        try:
            data = cipher.open_bytes(
                row.data_sealed, _context(row.message_id, row.position, b"data")
            )
        except SealError:
            raise Unreadable(attachment_id) from None
        name = _open_name(cipher, row.name_sealed, row.message_id, row.position, attachment_id)
        return AttachmentFile(mime=row.mime, name=name, data=data)


def open_all(conn: Connection, cipher: BodyCipher, message_id: int) -> list[AttachmentFile]:
    """Every attachment of one message, opened, in order (an export reads them message
    by message, so a page of MMS never sits in memory at once).

    Raises:
        Unreadable: one does not open (moved between rows, or tampered with).
    """
    found = []
    for r in conn.execute(
        select(
            attachments.c.id,
            attachments.c.position,
            attachments.c.mime,
            attachments.c.name_sealed,
            attachments.c.data_sealed,
        )
        .where(attachments.c.message_id == message_id)
        .order_by(attachments.c.position)
    ):
        try:
            data = cipher.open_bytes(r.data_sealed, _context(message_id, r.position, b"data"))
        except SealError:
            raise Unreadable(r.id) from None
        name = _open_name(cipher, r.name_sealed, message_id, r.position, r.id)
        found.append(AttachmentFile(mime=r.mime, name=name, data=data))
    return found
