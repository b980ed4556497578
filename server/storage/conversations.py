"""Threads, messages and the outbox, around the per-account change sequence.

Every mutation of an account's conversations takes the next per-account ``seq`` numbers
in the same transaction (``accounts.seq``) and stamps them on the rows it touches. A
browser that has applied everything up to ``since`` asks for rows with ``seq > since``
and is then exactly up to date: data and cursor commit together. Deletions are
tombstones (the row stays, emptied, with a new seq), so they propagate the same way.

Idempotency:
* inbound SMS: ``(account_id, device_key, line_id)`` is unique, whichever device uploaded
  it (pairing again or a new bridge never stores an SMS twice); a re-upload of the same
  content is skipped, different content under the same key is a recorded conflict (never
  stored over the original), and a repair may complete a message that arrived incomplete;
* browser sends: ``(account_id, client_msg_id)`` is unique; a retry returns the first row;
* outbox dispatch: the outbox id travels to the bridge, which journals by it.

Bodies are sealed with the account's data key (``sealed.py``) before they are written.
MMS attachments live in ``attachments.py``: an upload hands it the items that carry some
(a text-only upload never reaches it), and deleting a message deletes its attachments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import Attachment, MessageView, ThreadView
from protocol.phone import participants_key
from server.storage import attachments as mms
from server.storage import legacy_keys
from server.storage.epochs import lock_account, rotate_epoch
from server.storage.keys import KeyRing
from server.storage.masking import mask_new_sent
from server.storage.optouts import check_sendable_sync, record_keywords_sync
from server.storage.runner import runner
from server.storage.schema import (
    accounts,
    conflicts,
    devices,
    messages,
    nul_free,
    outbox,
    threads,
)
from server.storage.sealed import BodyCipher
from server.storage.util import execute_raw, insert_many, new_id, select_in
from server.storage.views import (
    ChangeSet,
    Views,
    changes_since,
    iso,
    message_view,
    pages_of,
    written_rows,
)

__all__ = ["ChangeSet", "ConversationStore", "Inbound", "IngestResult"]


class Inbound(NamedTuple):
    """One inbound SMS as the device layer hands it to storage.

    A named tuple, not a frozen dataclass: built once per uploaded message, and a frozen
    dataclass's constructor cost several times as much."""

    key: str
    line_id: int
    sender: str
    body: str
    sent_at: datetime
    incomplete: bool = False
    #: MMS parts, already checked (``protocol.messages.check_attachments``).
    attachments: tuple[Attachment, ...] = ()
    #: A placeholder for an item the server refused: the reason code (``server.ws.judge``).
    refused: str | None = None
    #: ``out``: sent from the phone itself (its sent box); ``sender`` is then the
    #: recipient, and ``status`` what the phone knows of it (no outbox row: it left).
    direction: str = "in"
    status: str = "received"


@dataclass(frozen=True)
class IngestResult:
    added: int
    completed: int
    #: (line id, key) of items already stored with different content (recorded, not
    #: applied).
    conflicts: list[tuple[int, str]]
    #: The account's seq after this commit, when anything changed.
    seq: int | None = None
    #: What changed, as the change feed shows it, page after page (when asked for, and
    #: anything did).
    changes: list[ChangeSet] = field(default_factory=list)
    #: The account's cursor epoch changed with this commit.
    rotated: bool = False


_ACCOUNT_SEQ = select(accounts.c.seq).where(accounts.c.id == bindparam("account_id"))
# Built once: every write takes seqs, and building the statement cost more than running it.
_TAKE_SEQS = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"))
    .values(seq=accounts.c.seq + bindparam("count"))
    .returning(accounts.c.seq)
)


def take_seqs_sync(conn: Connection, account_id: int, count: int) -> int:
    """Reserve ``count`` sequence numbers inside a :mod:`~server.storage.runner`
    transaction; returns the first. The account's row stays locked until commit, so
    the account's writers commit in the order of their seqs (see ``runner``)."""
    found = execute_raw(conn, _TAKE_SEQS, ("account_id", "count"), (account_id, count)).scalar_one()
    return int(found) - count + 1


def _thread_ids(
    conn: Connection, account_id: int, items: Sequence[Inbound], seq: int
) -> dict[tuple[int, str], int]:
    """Thread ids for every (line, sender) of a batch; missing threads are created and
    deleted ones revived, in a few statements."""
    wanted = dict.fromkeys((item.line_id, item.sender) for item in items)
    found: dict[tuple[int, str], int] = {}
    revive: list[int] = []
    rows = _threads_of(conn, account_id, list({participants_key([p]) for _, p in wanted}))
    by_key = {(line, peer): peer for line, peer in wanted}
    for thread_id, line_id, participants, deleted in rows:
        if (line_id, participants) in by_key:
            found[(line_id, participants)] = thread_id
            if deleted:
                revive.append(thread_id)
    if revive:
        # A new message revives a deleted conversation (its old messages stay deleted).
        conn.execute(
            update(threads).where(threads.c.id.in_(revive)).values(deleted=False, unread=0)
        )
    missing = [key for key in wanted if key not in found]
    if missing:
        # A new thread starts at its earliest message of the batch.
        first_at: dict[tuple[int, str], datetime] = {}
        for item in items:
            key = (item.line_id, item.sender)
            if key not in found:
                first_at[key] = min(first_at.get(key, item.sent_at), item.sent_at)
        created = conn.execute(
            insert(threads).returning(threads.c.id, sort_by_parameter_order=True),
            [
                {
                    "account_id": account_id,
                    "line_id": line_id,
                    "peer": peer,
                    "participants": participants_key([peer]),
                    "last_activity": first_at[(line_id, peer)],
                    "unread": 0,
                    "seq": seq,
                }
                for line_id, peer in missing
            ],
        )
        for key, (thread_id,) in zip(missing, created, strict=True):
            found[key] = thread_id
    return found


class ConversationStore:
    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys
        self._views = Views(keys)

    # ---------------------------------------------------------------- inbound

    async def ingest_inbound(
        self,
        account_id: int,
        device_id: int,
        items: Sequence[Inbound],
        now: datetime,
        *,
        repair: bool = False,
        upto: int | None = None,
        feed_page: int | None = None,
        rotate: bool = False,
    ) -> IngestResult:
        """Store inbound SMS idempotently, in one transaction.

        ``repair``: an existing message stored incomplete is completed by a complete copy.
        ``rotate``: if this changes anything, give the account a new cursor epoch in the
        same transaction (a repair that had to add something met a server restored from
        a backup; see ``storage/epochs.py``).
        ``upto``: the bridge's upload position acknowledged with this commit.
        ``feed_page``: also return the change set after the account's previous seq (at
        most this many messages), read in the same transaction: browsers following the
        account get it without another read.
        """
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).write(
            _ingest, account_id, device_id, items, now, cipher, repair, upto, feed_page, rotate
        )

    async def rotate_epoch(self, account_id: int) -> int:
        """A new cursor epoch for the account (its history may have been rewound: a
        bridge sends a repair); returns the account's seq, to publish as a hint so that
        open tabs are resynced at once. See ``storage/epochs.py``."""
        return await runner(self._engine).write(rotate_epoch, account_id)

    async def acknowledged(self, device_id: int) -> int:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(devices.c.acked_n).where(devices.c.id == device_id))
            ).scalar_one_or_none()
        return int(value or 0)

    async def conflict_count(self, account_id: int) -> int:
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(conflicts)
                        .where(conflicts.c.account_id == account_id)
                    )
                ).scalar_one()
            )

    # --------------------------------------------------------------- outbound

    async def create_outgoing(
        self, account_id: int, line_id: int, to: str, body: str, client_msg_id: str, now: datetime
    ) -> MessageView:
        """Queue a message for sending (idempotent on ``client_msg_id``)."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).write(
            _create_outgoing, account_id, line_id, to, body, client_msg_id, now, cipher
        )

    # ------------------------------------------------------- thread actions

    async def update_thread(
        self,
        account_id: int,
        thread_id: int,
        *,
        read: bool | None = None,
        archived: bool | None = None,
    ) -> bool:
        """Mark read/unread, archive/unarchive; returns True if anything changed.

        Raises:
            LookupError: no such (live) thread of this account.
        """
        return await runner(self._engine).write(
            _update_thread, account_id, thread_id, read, archived
        )

    async def mark_read(self, account_id: int, thread_id: int) -> bool:
        return await self.update_thread(account_id, thread_id, read=True)

    async def delete_thread(self, account_id: int, thread_id: int) -> None:
        """Tombstone a conversation and all its messages (bodies are erased).

        Raises:
            LookupError: no such (live) thread of this account.
        """
        await runner(self._engine).write(_delete_thread, account_id, thread_id)

    async def delete_message(self, account_id: int, message_id: int) -> None:
        """Tombstone one message.

        Raises:
            LookupError: no such (live) message of this account.
        """
        await runner(self._engine).write(_delete_message, account_id, message_id)

    # ------------------------------------------------------------------ reads

    async def current_seq(self, account_id: int) -> int:
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(select(accounts.c.seq).where(accounts.c.id == account_id))
                ).scalar_one()
            )

    async def threads(self, account_id: int) -> tuple[list[ThreadView], int]:
        """Live threads of verified lines, most recent first, with their cursor."""
        views, seq, _ = await self.snapshot(account_id)
        return views, seq

    async def snapshot(self, account_id: int) -> tuple[list[ThreadView], int, str]:
        """:meth:`threads`, with the epoch of the cursor (what ``GET /threads`` serves)."""
        async with self._engine.connect() as conn:
            return await self._views.threads(conn, account_id)

    async def thread_messages(
        self, account_id: int, thread_id: int, *, before: int | None, limit: int
    ) -> tuple[list[MessageView], bool]:
        """A page of a thread, oldest first.

        Raises:
            LookupError: no such thread, or another account's.
            PermissionError: the thread's line is not verified.
        """
        async with self._engine.connect() as conn:
            return await self._views.thread_messages(
                conn, account_id, thread_id, before=before, limit=limit
            )

    async def changes_since(self, account_id: int, since: int, limit: int = 500) -> ChangeSet:
        """Messages and threads changed after ``since`` (at most ``limit`` messages)."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(changes_since, cipher, account_id, since, limit)

# ------------------------------------------- read-then-write transactions
#
# Each runs whole in one write transaction (runner: BEGIN IMMEDIATE on SQLite, after
# lock_account elsewhere), so what it read is still true when it writes: a concurrent
# ingest cannot slip a message into a thread being deleted, and two retries of one
# send cannot both miss each other's row.


def _create_outgoing(
    conn: Connection,
    account_id: int,
    line_id: int,
    to: str,
    body: str,
    client_msg_id: str,
    now: datetime,
    cipher: BodyCipher,
) -> MessageView:
    """The transaction of :meth:`ConversationStore.create_outgoing`."""
    lock_account(conn, account_id)
    existing = conn.execute(
        select(messages).where(
            messages.c.account_id == account_id, messages.c.client_msg_id == client_msg_id
        )
    ).first()
    if existing is not None:
        return message_view(existing, cipher)
    check_sendable_sync(conn, line_id, to)  # raises OptedOut
    seq = take_seqs_sync(conn, account_id, 1)
    # The thread of ``to`` on the line, created (or revived) as an arriving SMS would.
    thread_id = _thread_ids(conn, account_id, [Inbound("", line_id, to, "", now)], seq)[
        (line_id, to)
    ]
    res = conn.execute(
        insert(messages).values(
            account_id=account_id,
            thread_id=thread_id,
            line_id=line_id,
            direction="out",
            peer=to,
            body_sealed=cipher.seal(body),
            status="queued",
            timestamp=now,
            created_at=now,
            incomplete=False,
            client_msg_id=client_msg_id,
            seq=seq,
        )
    )
    message_id = new_id(res)
    conn.execute(
        insert(outbox).values(
            account_id=account_id,
            message_id=message_id,
            line_id=line_id,
            recipient=to,
            state="pending",
            created_at=now,
        )
    )
    _refresh_threads_sync(conn, {thread_id})
    row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    return message_view(row, cipher)


def _update_thread(
    conn: Connection, account_id: int, thread_id: int, read: bool | None, archived: bool | None
) -> bool:
    """The transaction of :meth:`ConversationStore.update_thread`."""
    lock_account(conn, account_id)
    row = _own_thread(conn, account_id, thread_id)
    values: dict[str, Any] = {}
    if read is True and row.unread:
        values["unread"] = 0
    elif read is False and not row.unread:
        values["unread"] = 1
    if archived is not None and archived != row.archived:
        values["archived"] = archived
    if not values:
        return False
    values["seq"] = take_seqs_sync(conn, account_id, 1)
    conn.execute(update(threads).where(threads.c.id == thread_id).values(**values))
    return True


_TOMBSTONE = (
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(deleted=True, body_sealed=None, body=None, seq=bindparam("new_seq"))
)


def _delete_thread(conn: Connection, account_id: int, thread_id: int) -> None:
    """The transaction of :meth:`ConversationStore.delete_thread`."""
    lock_account(conn, account_id)
    _own_thread(conn, account_id, thread_id)
    ids = list(
        conn.execute(
            select(messages.c.id)
            .where(messages.c.thread_id == thread_id, messages.c.deleted.is_(False))
            .order_by(messages.c.id)
        ).scalars()
    )
    seq = take_seqs_sync(conn, account_id, len(ids) + 1)
    if ids:
        conn.execute(
            _TOMBSTONE,
            [{"message_id": m, "new_seq": seq + offset} for offset, m in enumerate(ids)],
        )
    mms.delete_for(conn, ids)
    _cancel_outbox(conn, ids)
    conn.execute(
        update(threads)
        .where(threads.c.id == thread_id)
        .values(deleted=True, unread=0, seq=seq + len(ids))
    )


def _delete_message(conn: Connection, account_id: int, message_id: int) -> None:
    """The transaction of :meth:`ConversationStore.delete_message`."""
    lock_account(conn, account_id)
    row = conn.execute(
        select(messages.c.thread_id).where(
            messages.c.id == message_id,
            messages.c.account_id == account_id,
            messages.c.deleted.is_(False),
        )
    ).first()
    if row is None:
        raise LookupError(message_id)
    seq = take_seqs_sync(conn, account_id, 1)
    conn.execute(_TOMBSTONE, {"message_id": message_id, "new_seq": seq})
    mms.delete_for(conn, [message_id])
    _cancel_outbox(conn, [message_id])
    _refresh_threads_sync(conn, {row.thread_id}, seq=seq)


# -------------------------------------------------------------------- helpers


def _same(old: Any, item: Inbound, cipher: BodyCipher) -> bool:
    """Is a re-uploaded item the message already stored under its key?"""
    if old.deleted or old.masked:
        return True  # deleted or masked by the user: a re-upload must not resurrect it
    return (
        old.peer == item.sender
        and old.incomplete == item.incomplete
        and old.refused == item.refused
        and cipher.open(old.body_sealed) == item.body
    )


def _ingest_attachments(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    device_id: int,
    items: Sequence[Inbound],
    now: datetime,
    repair: bool,
    fresh: dict[tuple[int, str], Inbound],
    clashing: list[tuple[int, str]],
    last_seq: int | None,
) -> tuple[list[tuple[int, str]], int | None]:
    """Store the MMS parts of an upload in its transaction (rules in ``attachments.py``).

    Returns the keys whose attachments conflict and the account's seq after this commit:
    a message stored earlier that gains attachments (a repair) gets a new seq, so the
    change reaches browsers.
    """
    outcome = mms.ingest(
        conn,
        cipher,
        account_id,
        device_id,
        [i for i in items if i.attachments],
        now,
        repair=repair,
        fresh=fresh,
        skip=set(clashing),
    )
    if outcome.completed:
        seq = take_seqs_sync(conn, account_id, len(outcome.completed))
        for offset, message_id in enumerate(outcome.completed):
            conn.execute(
                update(messages).where(messages.c.id == message_id).values(seq=seq + offset)
            )
        _refresh_threads_sync(conn, set(outcome.completed.values()))
        last_seq = seq + len(outcome.completed) - 1
    return outcome.conflicts, last_seq


def _own_thread(conn: Connection, account_id: int, thread_id: int) -> Any:
    row = conn.execute(
        select(threads.c.unread, threads.c.archived).where(
            threads.c.id == thread_id,
            threads.c.account_id == account_id,
            threads.c.deleted.is_(False),
        )
    ).first()
    if row is None:
        raise LookupError(thread_id)
    return row


def _refuse_opted_out(
    conn: Connection, account_id: int, blocked: list[tuple[int, str]]
) -> int | None:
    """Outgoing messages not yet handed to a bridge, to peers who just opted out of their
    line, fail with the reason; returns the last seq taken (None: there were none)."""
    rows = []
    for line_id, peer in blocked:
        rows += conn.execute(
            select(outbox.c.id, outbox.c.message_id, messages.c.thread_id, outbox.c.recipient)
            .join(messages, messages.c.id == outbox.c.message_id)
            .where(
                outbox.c.account_id == account_id,
                outbox.c.line_id == line_id,
                outbox.c.recipient == peer,
                outbox.c.state == "pending",
            )
        ).all()
    if not rows:
        return None
    seq = take_seqs_sync(conn, account_id, len(rows))
    for offset, row in enumerate(rows):
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(state="done"))
        conn.execute(
            update(messages)
            .where(messages.c.id == row.message_id)
            .values(status="failed", error=_opted_out_error(row.recipient), seq=seq + offset)
        )
    _refresh_threads_sync(conn, {r.thread_id for r in rows})
    return seq + len(rows) - 1


def _opted_out_error(peer: str) -> str:
    return f"Not sent: {peer} replied STOP on this line and will not be texted until START."


def _cancel_outbox(conn: Connection, message_ids: list[int]) -> None:
    """A deleted message that was never handed to a bridge is not sent."""
    if message_ids:
        conn.execute(
            update(outbox)
            .where(outbox.c.message_id.in_(message_ids), outbox.c.state == "pending")
            .values(state="done")
        )


def _refresh_threads_sync(
    conn: Connection,
    thread_ids: Iterable[int],
    *,
    unread_from: Sequence[dict[str, Any]] = (),
    seq: int | None = None,
) -> None:
    """Recompute each thread's last message, activity and seq after a change."""
    for thread_id in thread_ids:
        last = (
            conn.execute(
                select(messages.c.id, messages.c.timestamp)
                .where(messages.c.thread_id == thread_id, messages.c.deleted.is_(False))
                .order_by(messages.c.timestamp.desc(), messages.c.id.desc())
                .limit(1)
            )
        ).first()
        max_seq = (
            conn.execute(select(func.max(messages.c.seq)).where(messages.c.thread_id == thread_id))
        ).scalar_one()
        new_unread = sum(1 for r in unread_from if r["thread_id"] == thread_id)
        values: dict[str, Any] = {
            "last_message_id": last.id if last else None,
            "unread": threads.c.unread + new_unread,
            "seq": seq if seq is not None else max_seq,
        }
        if last is not None:
            values["last_activity"] = last.timestamp
        if new_unread:
            values["archived"] = False  # a new message brings an archived conversation back
        conn.execute(update(threads).where(threads.c.id == thread_id).values(**values))


# The ingest path's statements, built once: building and cache-keying a statement on
# every batch cost more than running it.
_ACKED = (
    update(devices)
    .where(devices.c.id == bindparam("device_id"), devices.c.acked_n < bindparam("upto"))
    .values(acked_n=bindparam("upto"))
)
# What a batch of new messages (one seq range) does to their threads, in one statement
# run inside the database: per thread, how many arrived, the highest seq, and the newest
# message by (timestamp, id).
_arrived = (
    select(
        messages.c.thread_id,
        messages.c.id,
        messages.c.timestamp,
        # Only received messages are unread; one sent from the phone is not.
        func.sum(case((messages.c.direction == "in", 1), else_=0))
        .over(partition_by=messages.c.thread_id)
        .label("n"),
        func.max(messages.c.seq).over(partition_by=messages.c.thread_id).label("top"),
        func.row_number()
        .over(
            partition_by=messages.c.thread_id,
            order_by=(messages.c.timestamp.desc(), messages.c.id.desc()),
        )
        .label("place"),
    )
    .where(
        messages.c.account_id == bindparam("account_id"),
        messages.c.seq.between(bindparam("first"), bindparam("last")),
    )
    .subquery("arrived")
)
_newer = threads.c.last_activity <= _arrived.c.timestamp
_THREAD_ARRIVALS = (
    update(threads)
    .where(threads.c.id == _arrived.c.thread_id, _arrived.c.place == 1)
    .values(
        unread=threads.c.unread + _arrived.c.n,
        seq=_arrived.c.top,
        archived=False,  # a new message brings an archived conversation back
        last_message_id=case(
            (_newer | threads.c.last_message_id.is_(None), _arrived.c.id),
            else_=threads.c.last_message_id,
        ),
        last_activity=case((_newer, _arrived.c.timestamp), else_=threads.c.last_activity),
    )
)


_EXISTING_COLUMNS = (
    messages.c.id,
    messages.c.thread_id,
    messages.c.line_id,
    messages.c.device_key,
    messages.c.peer,
    messages.c.body_sealed,
    messages.c.deleted,
    messages.c.incomplete,
    messages.c.refused,
    messages.c.masked,
)
# IN lookups through util.select_in (statements of a fixed size, built once).
_existing_by_size: dict[int, Any] = {}
_EXISTING_QUERY = select(*_EXISTING_COLUMNS)


def _existing(conn: Connection, account_id: int, keys: list[str]) -> dict[tuple[int, str], Any]:
    """The account's stored messages among ``keys``, by (line id, key), whichever device
    uploaded them (raw rows: 0/1 booleans)."""
    rows = select_in(
        conn,
        _existing_by_size,
        _EXISTING_QUERY,
        messages.c.device_key,
        keys,
        owner=(messages.c.account_id, account_id),
    )
    return {(r.line_id, r.device_key): r for r in rows}


_threads_by_size: dict[int, Any] = {}
_THREADS_QUERY = select(threads.c.id, threads.c.line_id, threads.c.participants, threads.c.deleted)


def _threads_of(conn: Connection, account_id: int, keys: list[str]) -> Any:
    """The account's threads with these participants keys, on any line (raw rows)."""
    return select_in(
        conn,
        _threads_by_size,
        _THREADS_QUERY,
        threads.c.participants,
        keys,
        owner=(threads.c.account_id, account_id),
    )


def _ingest(
    conn: Connection,
    account_id: int,
    device_id: int,
    items: Sequence[Inbound],
    now: datetime,
    cipher: BodyCipher,
    repair: bool,
    upto: int | None,
    feed_page: int | None = None,
    rotate: bool = False,
) -> IngestResult:
    """The transaction of :meth:`ConversationStore.ingest_inbound`."""
    lock_account(conn, account_id)  # before reading threads another writer may change
    if conn.dialect.name == "postgresql":
        # Keys are matched with stored ones below: as PostgreSQL stores them.
        items = [i._replace(key=nul_free(i.key)) if "\0" in i.key else i for i in items]
    # The account's seq before this transaction: where its change set starts.
    before: int | None = None
    existing = _existing(conn, account_id, [i.key for i in items])
    existing.update(legacy_keys.adopt(conn, cipher, account_id, items, existing))
    fresh: dict[tuple[int, str], Inbound] = {}
    completes: list[tuple[Any, Inbound]] = []
    clashes: list[tuple[Any, Inbound]] = []
    for item in items:
        old = existing.get((item.line_id, item.key))
        if old is None:
            fresh.setdefault((item.line_id, item.key), item)
        elif _same(old, item, cipher):
            continue
        elif repair and old.incomplete and not item.incomplete:
            completes.append((old, item))
        elif not old.deleted:
            clashes.append((old, item))
    changed = len(fresh) + len(completes)
    last_seq: int | None = None
    if changed:
        seq = take_seqs_sync(conn, account_id, changed)
        before = seq - 1
        last_seq = seq + changed - 1
        _insert_inbound(conn, account_id, device_id, list(fresh.values()), seq, now, cipher)
        if any(i.direction == "out" for i in fresh.values()):
            # Read from the phone's sent box: masked at once when the account says so.
            mask_new_sent(conn, account_id, seq, seq + len(fresh) - 1)
        seq += len(fresh)
        for old, item in completes:
            conn.execute(
                update(messages)
                .where(messages.c.id == old.id)
                .values(body_sealed=cipher.seal(item.body), incomplete=False, seq=seq)
            )
            seq += 1
        if completes:
            _refresh_threads_sync(conn, {o.thread_id for o, _ in completes})
    if fresh:
        # STOP / START replies: recorded with the message, and what was still waiting to
        # be sent to a peer who just opted out is not sent (see storage/optouts.py).
        blocked = record_keywords_sync(conn, account_id, fresh.values(), now)
        if blocked:
            last_seq = _refuse_opted_out(conn, account_id, blocked) or last_seq
    if upto is not None:
        execute_raw(conn, _ACKED, ("device_id", "upto"), (device_id, upto))
    for old, item in clashes:
        conn.execute(
            insert(conflicts).values(
                account_id=account_id,
                device_id=device_id,
                device_key=item.key,
                message_id=old.id,
                created_at=now,
            )
        )
    clashing = [(i.line_id, i.key) for _, i in clashes]
    if any(i.attachments for i in items):  # MMS only; see _ingest_attachments
        if before is None and feed_page is not None:
            before = execute_raw(conn, _ACCOUNT_SEQ, ("account_id",), (account_id,)).scalar_one()
        more, last_seq = _ingest_attachments(
            conn, cipher, account_id, device_id, items, now, repair, fresh, clashing, last_seq
        )
        clashing += more
    rotated = rotate and last_seq is not None
    if rotated:
        # In this transaction: if it fails, the repair is sent again and rotates then.
        last_seq = rotate_epoch(conn, account_id)
    changes: list[ChangeSet] = []
    if feed_page is not None and last_seq is not None and before is not None and not rotated:
        if completes or any(i.attachments for i in items):
            changes = [
                changes_since(conn, cipher, account_id, int(before), feed_page, upto=last_seq)
            ]
        else:
            changes = _written_changes(
                conn, cipher, account_id, int(before), last_seq, list(fresh.values()), feed_page
            )
    return IngestResult(len(fresh), len(completes), clashing, last_seq, changes, rotated)


def _written_changes(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    before: int,
    last_seq: int,
    fresh: list[Inbound],
    feed_page: int,
) -> list[ChangeSet]:
    """The change sets of a commit that only inserted ``fresh`` (seqs ``before + 1`` on,
    in order), built from what was written: reading the messages back and opening their
    sealed bodies cost more than storing them did, for every group a followed account
    commits. Only each row's id and thread (and the threads) are read."""
    by_seq = {before + 1 + n: item for n, item in enumerate(fresh)}
    msgs = [
        MessageView(
            id=int(message_id),
            thread_id=int(thread_id),
            peer=(item := by_seq[int(seq)]).sender,
            direction=item.direction,  # type: ignore[arg-type]
            body=item.body,
            status=item.status,  # type: ignore[arg-type]
            timestamp=iso(item.sent_at.astimezone(UTC)),
            seq=int(seq),
            incomplete=item.incomplete,
            refused=item.refused,
        )
        for message_id, seq, thread_id in written_rows(conn, account_id, before, last_seq)
    ]
    return pages_of(conn, cipher, account_id, before, last_seq, msgs, feed_page)


_INBOUND_COLUMNS = (
    "account_id",
    "thread_id",
    "line_id",
    "direction",
    "peer",
    "body_sealed",
    "status",
    "timestamp",
    "created_at",
    "incomplete",
    "device_id",
    "device_key",
    "seq",
    "refused",
)


def _insert_inbound(
    conn: Connection,
    account_id: int,
    device_id: int,
    items: list[Inbound],
    seq: int,
    now: datetime,
    cipher: BodyCipher,
) -> None:
    """Insert new inbound messages and update their threads: a few statements per batch,
    not per message (SQLite pays per statement, not per row)."""
    if not items:
        return
    thread_of = _thread_ids(conn, account_id, items, seq)
    first, last = seq, seq + len(items) - 1
    bodies = cipher.seal_many([item.body for item in items])
    insert_many(
        conn,
        messages,
        _INBOUND_COLUMNS,
        (
            (
                account_id,
                thread_of[(item.line_id, item.sender)],
                item.line_id,
                item.direction,
                item.sender,
                bodies[n],
                item.status,
                item.sent_at,
                now,
                item.incomplete,
                device_id,
                item.key,
                seq + n,
                item.refused,
            )
            for n, item in enumerate(items)
        ),
    )
    # No RETURNING: on SQLite, RETURNING in parameter order falls back to one INSERT per
    # row. The batch's seqs are unique in the account, so its threads are updated from
    # its rows found again by their seq range (ix_messages_account_seq).
    execute_raw(conn, _THREAD_ARRIVALS, ("account_id", "first", "last"), (account_id, first, last))
