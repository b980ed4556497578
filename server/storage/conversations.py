"""Threads, messages and the outbox, around the per-account change sequence.

Every mutation of an account's conversations takes the next per-account ``seq`` numbers
in the same transaction (``accounts.seq``) and stamps them on the rows it touches. A
browser that has applied everything up to ``since`` asks for rows with ``seq > since``
and is then exactly up to date: data and cursor commit together.

Idempotency:
* inbound SMS: ``(device_id, device_key)`` is unique; a re-upload is skipped;
* browser sends: ``(account_id, client_msg_id)`` is unique; a retry returns the first row;
* outbox dispatch: the outbox id travels to the bridge, which journals by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from protocol.messages import MessageView, ThreadView
from protocol.phone import participants_key
from server.storage.schema import accounts, lines, messages, outbox, threads
from server.storage.util import new_id as _new_id


@dataclass(frozen=True)
class Inbound:
    """One inbound SMS as the device layer hands it to storage."""

    key: str
    line_id: int
    sender: str
    body: str
    sent_at: datetime
    incomplete: bool = False


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message_id: int
    line: str
    recipient: str
    body: str


@dataclass(frozen=True)
class ChangeSet:
    """Rows changed in ``(since, upto]``."""

    since: int
    upto: int
    messages: list[MessageView]
    threads: list[ThreadView]

    @property
    def empty(self) -> bool:
        return not self.messages and not self.threads


# Final states: a status report or failure ends the outbox row.
_FINAL = {"delivered", "failed", "unknown"}
# Order of progress; a late "sending" must not overwrite "sent".
_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "unknown": 3}


async def _take_seqs(conn: AsyncConnection, account_id: int, count: int) -> int:
    """Reserve ``count`` sequence numbers; returns the first."""
    res = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(seq=accounts.c.seq + count)
        .returning(accounts.c.seq)
    )
    return int(res.scalar_one()) - count + 1


async def _thread_id(
    conn: AsyncConnection, account_id: int, line_id: int, peer: str, now: datetime, seq: int
) -> int:
    key = participants_key([peer])
    row = (
        await conn.execute(
            select(threads.c.id).where(
                threads.c.account_id == account_id,
                threads.c.line_id == line_id,
                threads.c.participants == key,
            )
        )
    ).first()
    if row is not None:
        return int(row[0])
    res = await conn.execute(
        insert(threads).values(
            account_id=account_id,
            line_id=line_id,
            peer=peer,
            participants=key,
            last_activity=now,
            unread=0,
            seq=seq,
        )
    )
    return _new_id(res)


class ConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ writes

    async def ingest_inbound(
        self, account_id: int, device_id: int, items: Sequence[Inbound], now: datetime
    ) -> int:
        """Store inbound SMS idempotently; returns how many were new. One transaction."""
        async with self._engine.begin() as conn:
            keys = [i.key for i in items]
            seen = {
                r[0]
                for r in await conn.execute(
                    select(messages.c.device_key).where(
                        messages.c.device_id == device_id, messages.c.device_key.in_(keys)
                    )
                )
            }
            fresh: dict[str, Inbound] = {}
            for item in items:
                if item.key not in seen:
                    fresh.setdefault(item.key, item)
            if not fresh:
                return 0
            seq = await _take_seqs(conn, account_id, len(fresh))
            rows = []
            for item in fresh.values():
                thread_id = await _thread_id(
                    conn, account_id, item.line_id, item.sender, item.sent_at, seq
                )
                rows.append(
                    dict(
                        account_id=account_id,
                        thread_id=thread_id,
                        line_id=item.line_id,
                        direction="in",
                        peer=item.sender,
                        body=item.body,
                        status="received",
                        timestamp=item.sent_at,
                        created_at=now,
                        incomplete=item.incomplete,
                        device_id=device_id,
                        device_key=item.key,
                        seq=seq,
                    )
                )
                seq += 1
            await conn.execute(insert(messages), rows)
            touched = {int(r["thread_id"]) for r in rows}  # type: ignore[call-overload]
            await self._refresh_threads(conn, touched, unread_from=rows)
            return len(rows)

    async def create_outgoing(
        self, account_id: int, line_id: int, to: str, body: str, client_msg_id: str, now: datetime
    ) -> MessageView:
        """Queue a message for sending (idempotent on ``client_msg_id``)."""
        async with self._engine.begin() as conn:
            existing = (
                await conn.execute(
                    _message_query().where(
                        messages.c.account_id == account_id,
                        messages.c.client_msg_id == client_msg_id,
                    )
                )
            ).first()
            if existing is not None:
                return _message_view(existing)
            seq = await _take_seqs(conn, account_id, 1)
            thread_id = await _thread_id(conn, account_id, line_id, to, now, seq)
            res = await conn.execute(
                insert(messages).values(
                    account_id=account_id,
                    thread_id=thread_id,
                    line_id=line_id,
                    direction="out",
                    peer=to,
                    body=body,
                    status="queued",
                    timestamp=now,
                    created_at=now,
                    incomplete=False,
                    client_msg_id=client_msg_id,
                    seq=seq,
                )
            )
            message_id = _new_id(res)
            await conn.execute(
                insert(outbox).values(
                    account_id=account_id,
                    message_id=message_id,
                    line_id=line_id,
                    recipient=to,
                    state="pending",
                    created_at=now,
                )
            )
            await self._refresh_threads(conn, {thread_id})
            row = (await conn.execute(_message_query().where(messages.c.id == message_id))).one()
            return _message_view(row)

    async def outbox_for_dispatch(
        self, account_id: int, line_ids: Iterable[int], limit: int = 100
    ) -> list[OutboxItem]:
        """Outbox rows no bridge has confirmed yet, oldest first.

        Re-offering a dispatched row is safe: the bridge journals by outbox id and answers
        a repeat with the status it already has, never a second SMS.
        """
        query = (
            select(
                outbox.c.id,
                outbox.c.message_id,
                lines.c.number,
                outbox.c.recipient,
                messages.c.body,
            )
            .join(messages, messages.c.id == outbox.c.message_id)
            .join(lines, lines.c.id == outbox.c.line_id)
            .where(
                outbox.c.account_id == account_id,
                outbox.c.line_id.in_(list(line_ids)),
                outbox.c.state.in_(("pending", "dispatched")),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [OutboxItem(*r) for r in await conn.execute(query)]

    async def mark_dispatched(self, outbox_id: int, device_id: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id, outbox.c.state == "pending")
                .values(state="dispatched", device_id=device_id, dispatched_at=now)
            )

    async def apply_send_status(
        self, account_id: int, outbox_id: int, status: str, error: str | None
    ) -> bool:
        """Record a bridge's report on an outgoing message; returns True if anything changed.

        Statuses only move forward (``sent`` after ``delivered`` is ignored), so reports
        replayed after a reconnect are harmless.
        """
        new_status = "sending" if status == "accepted" else status
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(outbox.c.message_id, messages.c.status, messages.c.thread_id)
                    .join(messages, messages.c.id == outbox.c.message_id)
                    .where(outbox.c.id == outbox_id, outbox.c.account_id == account_id)
                )
            ).first()
            if row is None:
                return False
            message_id, old_status, thread_id = row
            if _RANK.get(new_status, -1) <= _RANK.get(old_status, 0):
                return False
            seq = await _take_seqs(conn, account_id, 1)
            await conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(status=new_status, error=(error or None) and error[:200], seq=seq)
            )
            # The bridge journals what it accepted and reports on it by itself after a
            # reconnect, so only rows it never confirmed are offered again.
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(state="done" if new_status in _FINAL else "accepted")
            )
            await self._refresh_threads(conn, {thread_id}, seq=seq)
            return True

    async def mark_read(self, account_id: int, thread_id: int) -> bool:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(threads.c.unread).where(
                        threads.c.id == thread_id, threads.c.account_id == account_id
                    )
                )
            ).first()
            if row is None:
                raise LookupError(thread_id)
            if row[0] == 0:
                return False
            seq = await _take_seqs(conn, account_id, 1)
            await conn.execute(
                update(threads).where(threads.c.id == thread_id).values(unread=0, seq=seq)
            )
            return True

    async def _refresh_threads(
        self,
        conn: AsyncConnection,
        thread_ids: Iterable[int],
        *,
        unread_from: Sequence[dict[str, object]] = (),
        seq: int | None = None,
    ) -> None:
        """Recompute each thread's last message, activity and seq after a change."""
        for thread_id in thread_ids:
            last = (
                await conn.execute(
                    select(messages.c.id, messages.c.timestamp, messages.c.seq)
                    .where(messages.c.thread_id == thread_id)
                    .order_by(messages.c.timestamp.desc(), messages.c.id.desc())
                    .limit(1)
                )
            ).one()
            max_seq = (
                await conn.execute(
                    select(func.max(messages.c.seq)).where(messages.c.thread_id == thread_id)
                )
            ).scalar_one()
            new_unread = sum(1 for r in unread_from if r["thread_id"] == thread_id)
            await conn.execute(
                update(threads)
                .where(threads.c.id == thread_id)
                .values(
                    last_message_id=last.id,
                    last_activity=last.timestamp,
                    unread=threads.c.unread + new_unread,
                    seq=seq if seq is not None else max_seq,
                )
            )

    # ------------------------------------------------------------------- reads

    async def current_seq(self, account_id: int) -> int:
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(select(accounts.c.seq).where(accounts.c.id == account_id))
                ).scalar_one()
            )

    async def threads(self, account_id: int) -> tuple[list[ThreadView], int]:
        """All threads, most recent activity first, with the cursor they are valid at."""
        async with self._engine.connect() as conn:
            seq = (
                await conn.execute(select(accounts.c.seq).where(accounts.c.id == account_id))
            ).scalar_one()
            rows = await conn.execute(
                _thread_query()
                .where(
                    threads.c.account_id == account_id, threads.c.line_id.in_(_verified(account_id))
                )
                .order_by(threads.c.last_activity.desc(), threads.c.id.desc())
            )
            return [_thread_view(r) for r in rows], int(seq)

    async def thread_messages(
        self, account_id: int, thread_id: int, *, before: int | None, limit: int
    ) -> tuple[list[MessageView], bool]:
        """A page of a thread, oldest first.

        Raises:
            LookupError: no such thread, or another account's.
            PermissionError: the thread's line is not verified.
        """
        async with self._engine.connect() as conn:
            owner = (
                await conn.execute(
                    select(threads.c.account_id, lines.c.verified_at)
                    .join(lines, lines.c.id == threads.c.line_id)
                    .where(threads.c.id == thread_id)
                )
            ).first()
            if owner is None or owner[0] != account_id:
                raise LookupError(thread_id)
            if owner[1] is None:
                raise PermissionError(thread_id)
            query = _message_query().where(messages.c.thread_id == thread_id)
            if before is not None:
                query = query.where(messages.c.id < before)
            rows = list(await conn.execute(query.order_by(messages.c.id.desc()).limit(limit + 1)))
        has_more = len(rows) > limit
        return [_message_view(r) for r in reversed(rows[:limit])], has_more

    async def changes_since(self, account_id: int, since: int, limit: int = 500) -> ChangeSet:
        """Messages and threads changed after ``since`` (at most ``limit`` messages).

        When the page is cut by ``limit``, ``upto`` is the last included message's seq and
        threads are limited to that range too, so the cursor never skips a change.
        """
        async with self._engine.connect() as conn:
            upto = int(
                (
                    await conn.execute(select(accounts.c.seq).where(accounts.c.id == account_id))
                ).scalar_one()
            )
            msg_rows = list(
                await conn.execute(
                    _message_query()
                    .where(
                        messages.c.account_id == account_id,
                        messages.c.seq > since,
                        messages.c.line_id.in_(_verified(account_id)),
                    )
                    .order_by(messages.c.seq)
                    .limit(limit + 1)
                )
            )
            if len(msg_rows) > limit:
                msg_rows = msg_rows[:limit]
                upto = int(msg_rows[-1].seq)
            thread_rows = await conn.execute(
                _thread_query().where(
                    threads.c.account_id == account_id,
                    threads.c.line_id.in_(_verified(account_id)),
                    and_(threads.c.seq > since, threads.c.seq <= upto),
                )
            )
            return ChangeSet(
                since=since,
                upto=upto,
                messages=[_message_view(r) for r in msg_rows],
                threads=[_thread_view(r) for r in thread_rows],
            )


# ---------------------------------------------------------------------- views

_last = messages.alias("last")


def _verified(account_id: int):  # type: ignore[no-untyped-def]
    """Ids of the account's verified lines: only their conversations are ever served."""
    return select(lines.c.id).where(
        lines.c.account_id == account_id, lines.c.verified_at.is_not(None)
    )


def _message_query():  # type: ignore[no-untyped-def]
    return select(messages)


def _thread_query():  # type: ignore[no-untyped-def]
    return (
        select(threads, _last, lines.c.number.label("line_number"))
        .outerjoin(_last, _last.c.id == threads.c.last_message_id)
        .join(lines, lines.c.id == threads.c.line_id)
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _message_view(row: Row) -> MessageView:  # type: ignore[type-arg]
    m = row._mapping
    return MessageView(
        id=m["id"],
        thread_id=m["thread_id"],
        peer=m["peer"],
        direction=m["direction"],
        body=m["body"],
        status=m["status"],
        timestamp=_iso(m["timestamp"]),
        seq=m["seq"],
        client_msg_id=m["client_msg_id"],
        error=m["error"],
    )


def _thread_view(row: Row) -> ThreadView:  # type: ignore[type-arg]
    m = row._mapping
    last = None
    if m[_last.c.id] is not None:
        last = MessageView(
            id=m[_last.c.id],
            thread_id=m[_last.c.thread_id],
            peer=m[_last.c.peer],
            direction=m[_last.c.direction],
            body=m[_last.c.body],
            status=m[_last.c.status],
            timestamp=_iso(m[_last.c.timestamp]),
            seq=m[_last.c.seq],
            client_msg_id=m[_last.c.client_msg_id],
            error=m[_last.c.error],
        )
    return ThreadView(
        id=m[threads.c.id],
        peer=m[threads.c.peer],
        title=m[threads.c.peer],
        last_message=last,
        last_activity=_iso(m[threads.c.last_activity]),
        unread=m[threads.c.unread],
        seq=m[threads.c.seq],
        line_id=m[threads.c.line_id],
        line=m["line_number"],
    )
