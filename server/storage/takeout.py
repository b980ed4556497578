"""Storage of exports and imports (``server/privacy/takeout``): job rows, the reads of an
export page by page, and the write of an import batch.

Jobs (``schema.data_jobs``) carry their progress, so any tab of the account sees it. An
export's file may be downloaded once, by the session that started it: ``claim_download``
moves ``ready`` to ``downloaded`` in one conditional UPDATE, so two requests cannot both
get it.

Exports read messages in pages by id (``(after, after + page]`` in id order), bodies
opened page by page, attachments message by message: an account of any size is never in
memory at once. Only verified lines are read out, as everywhere else.

An import batch is one write transaction that runs the ordinary ingest inside it
(``conversations._ingest``: same idempotency, threads and seqs as a bridge's upload),
after recognising messages the bridge has already stored (same line, peer, direction,
time and text) and before correcting the unread counts of what the backup says was read.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from server.storage.runner import runner
from server.storage.schema import (
    accounts,
    contacts,
    data_jobs,
    device_lines,
    devices,
    lines,
    messages,
    nul_free,
    security_events,
    threads,
)
from server.storage.sealed import BodyCipher, SealError
from server.storage.util import new_id
from server.storage.views import iso, thread_query, verified_lines

#: States of a job.
RUNNING, READY, DOWNLOADED, EXPIRED, DONE, FAILED = (
    "running",
    "ready",
    "downloaded",
    "expired",
    "done",
    "failed",
)
#: Bound parameters per IN list (SQLite allows a few thousand at least).
_CHUNK = 400


@dataclass(frozen=True)
class Job:
    """An export or import as its owner sees it."""

    id: int
    kind: str
    state: str
    done: int
    total: int
    size: int | None
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    expires_at: datetime
    #: Internal: the session that started it, the file's name and its sealed key.
    session: str = field(repr=False, default="")
    file: str | None = field(repr=False, default=None)
    file_key: bytes | None = field(repr=False, default=None)

    def public(self, session: str | None = None) -> dict[str, Any]:
        """What the REST API shows (never the session or the file's name);
        ``downloadable``: a ready export that ``session`` may download."""
        mine = session is not None and hmac.compare_digest(self.session, session)
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "size": self.size,
            "summary": self.summary,
            "error": self.error,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "downloadable": self.kind == "export" and self.state == READY and mine,
        }


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        state=row.state,
        done=row.done,
        total=row.total,
        size=row.size,
        summary=json.loads(row.summary) if row.summary else None,
        error=row.error,
        created_at=row.created_at,
        expires_at=row.expires_at,
        session=row.session,
        file=row.file,
        file_key=row.file_key,
    )


def _key_context(job_id: int) -> bytes:
    return b"takeout-file-key:%d" % job_id


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

    # ----------------------------------------------------------------- jobs

    async def create_job(
        self, account_id: int, kind: str, session: str, now: datetime, expires_at: datetime
    ) -> Job:
        """A new running job, with a fresh file key (sealed in its row)."""
        cipher = await self._keys.cipher(account_id)
        async with self._engine.begin() as conn:
            res = await conn.execute(
                insert(data_jobs).values(
                    account_id=account_id,
                    kind=kind,
                    session=session,
                    state=RUNNING,
                    created_at=now,
                    updated_at=now,
                    expires_at=expires_at,
                )
            )
            job_id = new_id(res)
            sealed = cipher.seal_bytes(secrets.token_bytes(32), _key_context(job_id))
            await conn.execute(
                update(data_jobs).where(data_jobs.c.id == job_id).values(file_key=sealed)
            )
            row = (await conn.execute(select(data_jobs).where(data_jobs.c.id == job_id))).one()
        return _job(row)

    async def file_key(self, account_id: int, job: Job) -> bytes:
        """The job's file key, opened.

        Raises:
            SealError: it does not open (the account's data key is gone, or tampering).
        """
        if job.file_key is None:
            raise SealError("the job has no file key")
        cipher = await self._keys.cipher(account_id)
        return cipher.open_bytes(job.file_key, _key_context(job.id))

    async def running(self, account_id: int, kind: str) -> Job | None:
        """The account's job of this kind that is still running, if any."""
        query = select(data_jobs).where(
            data_jobs.c.account_id == account_id,
            data_jobs.c.kind == kind,
            data_jobs.c.state == RUNNING,
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query.limit(1))).first()
        return None if row is None else _job(row)

    async def set_file(self, job_id: int, name: str) -> None:
        """Name the job's file as soon as it exists, so a job cut off by a crash still
        has its file found and deleted by :meth:`sweep`."""
        async with self._engine.begin() as conn:
            await conn.execute(update(data_jobs).where(data_jobs.c.id == job_id).values(file=name))

    async def supersede(self, account_id: int, now: datetime) -> list[str]:
        """A new export replaces the account's ready ones (marked ``expired``); returns
        their files, to delete."""
        async with self._engine.begin() as conn:
            rows = list(
                await conn.execute(
                    select(data_jobs.c.id, data_jobs.c.file).where(
                        data_jobs.c.account_id == account_id,
                        data_jobs.c.kind == "export",
                        data_jobs.c.state == READY,
                    )
                )
            )
            for job_id, _ in rows:
                await conn.execute(
                    update(data_jobs)
                    .where(data_jobs.c.id == job_id, data_jobs.c.state == READY)
                    .values(state=EXPIRED, file=None, updated_at=now)
                )
        return [name for _, name in rows if name]

    async def progress(self, job_id: int, done: int, total: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(data_jobs)
                .where(data_jobs.c.id == job_id, data_jobs.c.state == RUNNING)
                .values(done=done, total=total, updated_at=now)
            )

    async def finish(
        self,
        job_id: int,
        state: str,
        now: datetime,
        *,
        file: str | None = None,
        size: int | None = None,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": now, "file": file, "size": size}
        if summary is not None:
            values["summary"] = json.dumps(summary)
        if error is not None:
            values["error"] = error[:200]
        if expires_at is not None:
            values["expires_at"] = expires_at
        async with self._engine.begin() as conn:
            await conn.execute(update(data_jobs).where(data_jobs.c.id == job_id).values(**values))

    async def get(self, account_id: int, job_id: int) -> Job | None:
        query = select(data_jobs).where(
            data_jobs.c.id == job_id, data_jobs.c.account_id == account_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _job(row)

    async def recent(self, account_id: int, limit: int = 10) -> list[Job]:
        """The account's latest jobs, newest first."""
        query = (
            select(data_jobs)
            .where(data_jobs.c.account_id == account_id)
            .order_by(data_jobs.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_job(r) for r in await conn.execute(query)]

    async def claim_download(self, account_id: int, job_id: int, now: datetime) -> bool:
        """Take a ready export for its one download (``ready`` → ``downloaded``)."""
        async with self._engine.begin() as conn:
            res = await conn.execute(
                update(data_jobs)
                .where(
                    data_jobs.c.id == job_id,
                    data_jobs.c.account_id == account_id,
                    data_jobs.c.state == READY,
                    data_jobs.c.expires_at > now,
                )
                .values(state=DOWNLOADED, updated_at=now)
            )
        return bool(res.rowcount)

    async def sweep(self, now: datetime, stalled_before: datetime) -> list[Job]:
        """Jobs whose files must go: exports past their time (now ``expired``), and jobs
        still ``running`` that stopped reporting progress before ``stalled_before`` (their
        process died: now ``failed``). Returns them, with the files to delete; downloaded
        and finished jobs that still name a file are returned too."""
        async with self._engine.begin() as conn:
            rows = list(
                await conn.execute(
                    select(data_jobs).where(
                        ((data_jobs.c.state == READY) & (data_jobs.c.expires_at <= now))
                        | (
                            (data_jobs.c.state == RUNNING)
                            & (data_jobs.c.updated_at < stalled_before)
                        )
                        | (
                            data_jobs.c.file.is_not(None)
                            & (data_jobs.c.state != READY)
                            & (data_jobs.c.state != RUNNING)
                        )
                    )
                )
            )
            for r in rows:
                state = {READY: EXPIRED, RUNNING: FAILED}.get(r.state, r.state)
                values: dict[str, Any] = {"state": state, "file": None, "updated_at": now}
                if r.state == RUNNING:
                    values["error"] = "It stopped (the server restarted?); start it again."
                await conn.execute(
                    update(data_jobs)
                    .where(data_jobs.c.id == r.id, data_jobs.c.state == r.state)
                    .values(**values)
                )
        return [_job(r) for r in rows]

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

    async def message_page(self, account_id: int, after: int, limit: int) -> list[ExportMessage]:
        """Live messages of verified lines with ids after ``after``, by id, opened."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(_message_page, cipher, account_id, after, limit)

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
    event_rows = conn.execute(
        select(security_events)
        .where(security_events.c.account_id == account_id)
        .order_by(security_events.c.id)
    )
    line_number = {r.id: r.number for r in line_rows}
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
        "security_events": [
            {
                "kind": r.kind,
                "at": iso(r.created_at),
                "ip": r.ip,
                "user_agent": r.user_agent,
            }
            for r in event_rows
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
    conn: Connection, cipher: BodyCipher, account_id: int, after: int, limit: int
) -> list[ExportMessage]:
    rows = list(
        conn.execute(
            select(messages)
            .where(
                messages.c.account_id == account_id,
                messages.c.id > after,
                messages.c.deleted.is_(False),
                messages.c.line_id.in_(verified_lines(account_id)),
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
            body=cipher.open(r.body_sealed),
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
    peer, direction, one of the item's times, same text."""
    peers = sorted({i.peer for i in items})
    times = sorted({t for i in items for t in i.times})
    stored: dict[tuple[str, str, datetime], list[bytes | None]] = {}
    for p in range(0, len(peers), _CHUNK // 2):
        for t in range(0, len(times), _CHUNK // 2):
            rows = conn.execute(
                select(
                    messages.c.peer,
                    messages.c.direction,
                    messages.c.timestamp,
                    messages.c.body_sealed,
                ).where(
                    messages.c.account_id == account_id,
                    messages.c.line_id == line_id,
                    messages.c.deleted.is_(False),
                    messages.c.peer.in_(peers[p : p + _CHUNK // 2]),
                    messages.c.timestamp.in_(times[t : t + _CHUNK // 2]),
                )
            )
            for peer, direction, when, sealed in rows:
                stored.setdefault((peer, direction, when), []).append(sealed)
    if not stored:
        return set()
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
