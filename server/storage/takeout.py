"""Storage of exports and imports (``server/privacy/takeout``): the reads of an export
page by page, and the write of an import batch (their jobs: ``data_jobs.py``).

Exports read messages thread by thread, in pages by id, bodies opened page by page,
attachments message by message: an account of any size is never in memory at once. Only
verified lines are read out, as everywhere else.

An import batch is one write transaction that runs the ordinary ingest inside it
(``conversations._ingest``: same idempotency, threads and seqs as a bridge's upload),
after recognising messages the bridge has already stored (same line, peer, direction,
time and text) and before correcting the unread counts of what the backup says was read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import Attachment
from protocol.phone import participants_key
from server.storage import attachments as mms
from server.storage.attachments import AttachmentFile
from server.storage.conversations import Inbound, _existing, _ingest, take_seqs_sync
from server.storage.epochs import lock_account
from server.storage.keys import KeyRing
from server.storage.masking import MASK
from server.storage.runner import runner
from server.storage.schema import (
    accounts,
    contacts,
    device_lines,
    devices,
    lines,
    messages,
    nul_free,
    oauth_clients,
    oauth_grants,
    optouts,
    recipient_consents,
    security_events,
    sessions,
    terms_acceptances,
    threads,
)
from server.storage.sealed import BodyCipher
from server.storage.views import iso, thread_query, verified_lines

#: Bound parameters per IN list (SQLite allows a few thousand at least).
_CHUNK = 400


@dataclass(frozen=True)
class ExportMessage:
    """One message of an export page, its body opened."""

    id: int
    thread_id: int
    line_id: int
    peer: str
    direction: str
    body: str
    status: str
    timestamp: datetime
    incomplete: bool
    refused: str | None
    error: str | None
    #: (mime, size) of each attachment (bytes: :meth:`TakeoutStore.attachments`).
    attachments: list[tuple[str, int]]


@dataclass
class ImportItem:
    """One message of a backup, ready to store on a line."""

    peer: str
    direction: str
    body: str
    timestamp: datetime
    #: Every time the bridge may have stored it under (a phone's ``date`` and
    #: ``date_sent``): a stored message with one of these is the same message.
    times: frozenset[datetime]
    read: bool
    status: str
    attachments: tuple[Attachment, ...] = ()


@dataclass
class BatchOutcome:
    added: int = 0
    #: Already stored (by a bridge, or an earlier import of the same file).
    known: int = 0
    seq: int | None = None


class TakeoutStore:
    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys

    # --------------------------------------------------------------- export

    async def overview(self, account_id: int) -> dict[str, Any]:
        """Everything of the account but its messages, as plain data for the export."""
        async with self._engine.connect() as conn:
            return await conn.run_sync(_overview, account_id)

    async def message_count(self, account_id: int) -> tuple[int, int]:
        """Live messages of verified lines: all, and those that are not placeholders for
        items the server refused (only those have a text to export as SMS)."""
        query = select(func.count(), func.count(case((messages.c.refused.is_(None), 1)))).where(
            messages.c.account_id == account_id,
            messages.c.deleted.is_(False),
            messages.c.line_id.in_(verified_lines(account_id)),
        )
        async with self._engine.connect() as conn:
            total, storable = (await conn.execute(query)).one()
        return int(total), int(storable)

    async def unread_ids(self, account_id: int) -> set[int]:
        """The received messages a thread's unread count covers (its newest ones)."""
        async with self._engine.connect() as conn:
            return await conn.run_sync(_unread_ids, account_id)

    async def thread_ids(self, account_id: int) -> list[int]:
        """The account's live threads on verified lines, by id: an export reads their
        messages thread by thread (by the ``(thread_id, id)`` index; paging the account's
        messages by id alone made SQLite sort them all for every page)."""
        query = (
            select(threads.c.id)
            .where(
                threads.c.account_id == account_id,
                threads.c.deleted.is_(False),
                threads.c.line_id.in_(verified_lines(account_id)),
            )
            .order_by(threads.c.id)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def message_page(
        self, account_id: int, thread_id: int, after: int, limit: int
    ) -> list[ExportMessage]:
        """Live messages of a thread with ids after ``after``, by id, opened."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(
            _message_page, cipher, account_id, thread_id, after, limit
        )

    async def attachments(self, account_id: int, message_id: int) -> list[AttachmentFile]:
        """One message's attachments, opened (:func:`attachments.open_all`)."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(mms.open_all, cipher, message_id)

    # --------------------------------------------------------------- import

    async def import_batch(
        self, account_id: int, line_id: int, items: Sequence[ImportItem], now: datetime
    ) -> BatchOutcome:
        """Store a batch of a backup on a line, in one transaction (see the module)."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).write(
            _import_batch, account_id, line_id, list(items), now, cipher
        )

    async def merge_contacts(
        self, account_id: int, line_id: int, entries: Sequence[tuple[str, str]]
    ) -> int:
        """Add (or rename) the line's contacts ``(number, name)``; nothing is removed.
        Returns the contacts changed."""
        if self._engine.dialect.name == "postgresql":
            entries = [(nul_free(n), nul_free(name)) for n, name in entries]
        wanted: dict[str, str] = {}
        for number, name in entries:
            wanted.setdefault(number, name)
        return await runner(self._engine).write(_merge_contacts, account_id, line_id, wanted)


# ------------------------------------------------------------------ reads


def _overview(conn: Connection, account_id: int) -> dict[str, Any]:
    account = conn.execute(select(accounts).where(accounts.c.id == account_id)).one()
    line_rows = list(
        conn.execute(select(lines).where(lines.c.account_id == account_id).order_by(lines.c.id))
    )
    served = conn.execute(
        select(device_lines.c.device_id, lines.c.number)
        .join(lines, lines.c.id == device_lines.c.line_id)
        .where(lines.c.account_id == account_id)
    )
    numbers_of: dict[int, list[str]] = {}
    for device_id, number in served:
        numbers_of.setdefault(device_id, []).append(number)
    device_rows = conn.execute(
        select(devices).where(devices.c.account_id == account_id).order_by(devices.c.id)
    )
    thread_rows = conn.execute(
        thread_query()
        .where(
            threads.c.account_id == account_id,
            threads.c.deleted.is_(False),
            threads.c.line_id.in_(verified_lines(account_id)),
        )
        .order_by(threads.c.id)
    )
    contact_rows = conn.execute(
        select(contacts.c.line_id, contacts.c.number, contacts.c.name)
        .where(
            contacts.c.account_id == account_id,
            contacts.c.deleted.is_(False),
            contacts.c.line_id.in_(verified_lines(account_id)),
        )
        .order_by(contacts.c.line_id, contacts.c.name, contacts.c.number)
    )
    session_rows = conn.execute(
        select(
            sessions.c.created_at,
            sessions.c.last_seen_at,
            sessions.c.expires_at,
            sessions.c.user_agent,
            sessions.c.ip,
        )
        .where(sessions.c.account_id == account_id)
        .order_by(sessions.c.created_at)
    )
    event_rows = conn.execute(
        select(security_events)
        .where(security_events.c.account_id == account_id)
        .order_by(security_events.c.id)
    )
    line_number = {r.id: r.number for r in line_rows}
    app_rows = conn.execute(
        select(oauth_grants, oauth_clients.c.name, oauth_clients.c.client_id)
        .join(oauth_clients, oauth_clients.c.id == oauth_grants.c.client_pk)
        .where(oauth_grants.c.account_id == account_id)
        .order_by(oauth_grants.c.id)
    )
    privacy = conn.execute(
        select(accounts.c.mask_sent, accounts.c.retention_days).where(accounts.c.id == account_id)
    ).one()
    return {
        "settings": {
            "phone": account.phone,
            "phone_verified": account.phone_verified_at is not None,
            "email": account.email,
            "display_name": account.display_name,
            "created_at": iso(account.created_at),
        },
        "lines": [
            {
                "id": r.id,
                "number": r.number,
                "label": r.label,
                "verified": r.verified_at is not None,
                "created_at": iso(r.created_at),
            }
            for r in line_rows
        ],
        "devices": [
            {
                "id": r.id,
                "name": r.name,
                "lines": sorted(numbers_of.get(r.id, [])),
                "created_at": iso(r.created_at),
                "last_seen_at": iso(r.last_seen_at) if r.last_seen_at else None,
                "revoked_at": iso(r.revoked_at) if r.revoked_at else None,
            }
            for r in device_rows
        ],
        "threads": [
            {
                "id": r.id,
                "line": r.line_number,
                "peer": r.peer,
                "contact_name": r.contact_name,
                "last_activity": iso(r.last_activity),
                "unread": r.unread,
                "archived": bool(r.archived),
            }
            for r in thread_rows
        ],
        "contacts": [
            {"line": line_number.get(r.line_id), "number": r.number, "name": r.name}
            for r in contact_rows
        ],
        # Never the session ids (not even their hashes): when, where from, with what.
        "sessions": [
            {
                "created_at": iso(r.created_at),
                "last_seen_at": iso(r.last_seen_at),
                "expires_at": iso(r.expires_at),
                "user_agent": r.user_agent,
                "ip": r.ip,
            }
            for r in session_rows
        ],
        "security_events": [
            {
                "kind": r.kind,
                "at": iso(r.created_at),
                "ip": r.ip,
                "user_agent": r.user_agent,
            }
            for r in event_rows
        ],
        "privacy": {
            "mask_sent": bool(privacy.mask_sent),
            "retention_days": privacy.retention_days,
        },
        "connected_apps": [
            {
                "app": r.name,
                "client_id": r.client_id,
                "scope": r.scope.split(),
                "conversations": json.loads(r.threads) if r.threads else None,
                "granted_at": iso(r.created_at),
                "expires_at": iso(r.expires_at) if r.expires_at else None,
                "revoked_at": iso(r.revoked_at) if r.revoked_at else None,
                "last_used_at": iso(r.last_used_at) if r.last_used_at else None,
            }
            for r in app_rows
        ],
        "terms_accepted": [
            {"version": r.version, "at": iso(r.accepted_at)}
            for r in conn.execute(
                select(terms_acceptances)
                .where(terms_acceptances.c.account_id == account_id)
                .order_by(terms_acceptances.c.id)
            )
        ],
        "recipient_consents": [
            {"number": r.number, "given_at": iso(r.given_at), "note": r.note}
            for r in conn.execute(
                select(recipient_consents)
                .where(recipient_consents.c.account_id == account_id)
                .order_by(recipient_consents.c.id)
            )
        ],
        "opt_outs": [
            {
                "line": line_number.get(r.line_id),
                "peer": r.peer,
                "opted_out": bool(r.opted_out),
                "keyword": r.keyword,
                "at": iso(r.changed_at),
            }
            for r in conn.execute(
                select(optouts)
                .where(optouts.c.account_id == account_id)
                .order_by(optouts.c.line_id, optouts.c.peer)
            )
        ],
    }


def _unread_ids(conn: Connection, account_id: int) -> set[int]:
    """One query: per thread with unread messages, its newest received ones, as many as
    it counts unread."""
    ranked = (
        select(
            messages.c.id,
            threads.c.unread,
            func.row_number()
            .over(
                partition_by=messages.c.thread_id,
                order_by=(messages.c.timestamp.desc(), messages.c.id.desc()),
            )
            .label("place"),
        )
        .join(threads, threads.c.id == messages.c.thread_id)
        .where(
            messages.c.account_id == account_id,
            messages.c.direction == "in",
            messages.c.deleted.is_(False),
            threads.c.unread > 0,
            threads.c.deleted.is_(False),
        )
        .subquery()
    )
    query = select(ranked.c.id).where(ranked.c.place <= ranked.c.unread)
    return set(conn.execute(query).scalars())


def _message_page(
    conn: Connection, cipher: BodyCipher, account_id: int, thread_id: int, after: int, limit: int
) -> list[ExportMessage]:
    rows = list(
        conn.execute(
            select(messages)
            .where(
                messages.c.account_id == account_id,
                messages.c.thread_id == thread_id,
                messages.c.id > after,
                messages.c.deleted.is_(False),
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
    )
    parts: dict[int, list[tuple[str, int]]] = {}
    ids = [r.id for r in rows]
    for start in range(0, len(ids), _CHUNK):
        meta = conn.execute(
            select(mms.attachments.c.message_id, mms.attachments.c.mime, mms.attachments.c.size)
            .where(mms.attachments.c.message_id.in_(ids[start : start + _CHUNK]))
            .order_by(mms.attachments.c.message_id, mms.attachments.c.position)
        )
        for message_id, mime, size in meta:
            parts.setdefault(message_id, []).append((mime, size))
    return [
        ExportMessage(
            id=r.id,
            thread_id=r.thread_id,
            line_id=r.line_id,
            peer=r.peer,
            direction=r.direction,
            # A masked text's ciphertext is gone; it exports as the mask, like everywhere.
            body=MASK if r.masked else cipher.open(r.body_sealed),
            status=r.status,
            timestamp=r.timestamp,
            incomplete=bool(r.incomplete),
            refused=r.refused,
            error=r.error,
            attachments=parts.get(r.id, []),
        )
        for r in rows
    ]


# ----------------------------------------------------------------- writes


def _key(cipher: BodyCipher, line_id: int, item: ImportItem) -> str:
    """An imported message's identity: a keyed digest of what it is (the same message
    imported twice has the same key; the digest confirms no guessed text)."""
    digests = b"".join(cipher.mac(a.data) for a in item.attachments)
    fields = json.dumps(
        [line_id, item.peer, item.direction, iso(item.timestamp), item.body],
        ensure_ascii=False,
    ).encode("utf-8", "surrogatepass")
    return "import:" + cipher.mac(fields + digests).hex()[:40]


def _already_synced(
    conn: Connection, cipher: BodyCipher, account_id: int, line_id: int, items: list[ImportItem]
) -> set[int]:
    """Positions of ``items`` a bridge (or anything else) has stored already: same line,
    peer, direction, one of the item's times, same text. Looked up in the peers' threads
    (the ``(thread_id, id)`` index), not across the account's messages."""
    keys = sorted({participants_key([i.peer]) for i in items})
    thread_ids: list[int] = []
    for start in range(0, len(keys), _CHUNK):
        thread_ids += conn.execute(
            select(threads.c.id).where(
                threads.c.account_id == account_id,
                threads.c.line_id == line_id,
                threads.c.participants.in_(keys[start : start + _CHUNK]),
            )
        ).scalars()
    if not thread_ids:
        return set()
    times = sorted({t for i in items for t in i.times})
    stored: dict[tuple[str, str, datetime], list[bytes | None]] = {}
    half = _CHUNK // 2
    for t0 in range(0, len(thread_ids), half):
        for t in range(0, len(times), half):
            rows = conn.execute(
                select(
                    messages.c.peer,
                    messages.c.direction,
                    messages.c.timestamp,
                    messages.c.body_sealed,
                ).where(
                    messages.c.thread_id.in_(thread_ids[t0 : t0 + half]),
                    messages.c.timestamp.in_(times[t : t + half]),
                    messages.c.deleted.is_(False),
                )
            )
            for peer, direction, when, sealed in rows:
                stored.setdefault((peer, direction, when), []).append(sealed)
    known: set[int] = set()
    for n, item in enumerate(items):
        for when in item.times:
            bodies = stored.get((item.peer, item.direction, when), [])
            if any(cipher.open(b) == item.body for b in bodies):
                known.add(n)
                break
    return known


def _import_batch(
    conn: Connection,
    account_id: int,
    line_id: int,
    items: list[ImportItem],
    now: datetime,
    cipher: BodyCipher,
) -> BatchOutcome:
    """The transaction of :meth:`TakeoutStore.import_batch`."""
    lock_account(conn, account_id)
    known = _already_synced(conn, cipher, account_id, line_id, items)
    keyed = [(_key(cipher, line_id, item), item) for n, item in enumerate(items) if n not in known]
    stored = _existing(conn, account_id, [k for k, _ in keyed])
    fresh: dict[str, ImportItem] = {}
    for key, item in keyed:
        if (line_id, key) not in stored:
            fresh.setdefault(key, item)
    outcome = BatchOutcome(known=len(items) - len(fresh))
    if not fresh:
        return outcome
    inbound = [
        Inbound(
            key,
            line_id,
            item.peer,
            item.body,
            item.timestamp,
            attachments=item.attachments,
            direction=item.direction,
            status=item.status,
        )
        for key, item in fresh.items()
    ]
    result = _ingest(conn, account_id, None, inbound, now, cipher, False, None)  # type: ignore[arg-type]
    outcome.added, outcome.seq = result.added, result.seq
    # The ingest counts every received message unread; the backup says which were read.
    read = Counter(i.peer for i in fresh.values() if i.direction == "in" and i.read)
    for peer, count in read.items():
        conn.execute(
            update(threads)
            .where(
                threads.c.account_id == account_id,
                threads.c.line_id == line_id,
                threads.c.participants == participants_key([peer]),
            )
            .values(unread=case((threads.c.unread > count, threads.c.unread - count), else_=0))
        )
    return outcome


def _merge_contacts(conn: Connection, account_id: int, line_id: int, wanted: dict[str, str]) -> int:
    """The transaction of :meth:`TakeoutStore.merge_contacts`."""
    lock_account(conn, account_id)
    rows = {
        r.number: r
        for r in conn.execute(select(contacts).where(and_(contacts.c.line_id == line_id)))
    }
    adds = [n for n in wanted if n not in rows]
    changes = [n for n, r in rows.items() if n in wanted and (r.deleted or r.name != wanted[n])]
    if not adds and not changes:
        return 0
    seq = take_seqs_sync(conn, account_id, len(adds) + len(changes) + 1)
    if adds:
        conn.execute(
            insert(contacts),
            [
                {
                    "account_id": account_id,
                    "line_id": line_id,
                    "number": n,
                    "name": wanted[n],
                    "seq": seq + i,
                }
                for i, n in enumerate(adds)
            ],
        )
    for i, number in enumerate(changes, start=len(adds)):
        conn.execute(
            update(contacts)
            .where(contacts.c.id == rows[number].id)
            .values(name=wanted[number], deleted=False, seq=seq + i)
        )
    changed = adds + changes
    # Conversations with these numbers show a new title: bump them (as a phonebook sync).
    for start in range(0, len(changed), _CHUNK):
        conn.execute(
            update(threads)
            .where(
                threads.c.account_id == account_id,
                threads.c.peer.in_(changed[start : start + _CHUNK]),
            )
            .values(seq=seq + len(changed))
        )
    return len(changed)
