"""Reading conversations: threads, pages of messages, changes since a cursor.

Only conversations of verified lines are ever read out. Bodies are opened here (through
``sealed.BodyCipher``) and nowhere else on the read side. Attachment metadata comes from
``attachments.views_for``: one query per page of messages, never one per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.messages import MessageView, ThreadView
from server.storage.attachments import views_for
from server.storage.keys import KeyRing
from server.storage.masking import MASK
from server.storage.schema import accounts, contacts, lines, messages, threads
from server.storage.sealed import BodyCipher
from server.storage.util import execute_raw


@dataclass(frozen=True)
class ChangeSet:
    """Rows changed in ``(since, upto]``; ``resync`` when ``since`` cannot be resumed.

    ``epoch``: the account's cursor epoch, read in the same transaction (see
    ``schema.accounts.epoch``).
    """

    since: int
    upto: int
    messages: list[MessageView]
    threads: list[ThreadView]
    resync: bool = False
    epoch: str | None = None
    #: A limit cut the set short: more changes follow ``upto``.
    more: bool = False

    @property
    def empty(self) -> bool:
        return not self.messages and not self.threads


#: Most body characters in one change set: a page of 500 long messages (40,000
#: characters each) would otherwise make a frame of 20 million characters, more than a
#: browser accepts; a client further behind gets more pages.
PAGE_CHARS = 4_000_000


_last = messages.alias("last")


def verified_lines(account_id: int) -> Any:
    """Ids of the account's verified lines: only their conversations are ever served."""
    return select(lines.c.id).where(
        lines.c.account_id == account_id, lines.c.verified_at.is_not(None)
    )


def thread_query() -> Any:
    # A conversation is titled with the contact's name: as its line's phonebook (its own
    # phone's) has it, so one person may be "Alice" on one phone and "Mum" on another;
    # else as another verified line's phonebook has it (a phone without contacts).
    # (Two subqueries: SQLite cannot order a subquery by a column of the outer query.)
    naming = lines.alias("naming")  # not the outer query's line
    named_by = select(naming.c.id).where(
        naming.c.id == contacts.c.line_id, naming.c.verified_at.is_not(None)
    )

    def contact_name(*where: Any) -> Any:
        return (
            select(contacts.c.name)
            .where(
                contacts.c.account_id == threads.c.account_id,
                contacts.c.number == threads.c.peer,
                contacts.c.deleted.is_(False),
                *where,
            )
            .order_by(contacts.c.id)
            .limit(1)
            .correlate(threads)
            .scalar_subquery()
        )

    name = func.coalesce(
        contact_name(contacts.c.line_id == threads.c.line_id), contact_name(named_by.exists())
    )
    return (
        select(threads, _last, lines.c.number.label("line_number"), name.label("contact_name"))
        .outerjoin(_last, _last.c.id == threads.c.last_message_id)
        .join(lines, lines.c.id == threads.c.line_id)
    )


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def message_view(row: Row[Any], cipher: BodyCipher, table: Any = messages) -> MessageView:
    m = row._mapping
    deleted = bool(m[table.c.deleted])
    masked = bool(m[table.c.masked])
    if deleted:
        body = ""
    elif masked:
        body = MASK
    else:
        body = cipher.open(m[table.c.body_sealed])
    return MessageView(
        id=m[table.c.id],
        thread_id=m[table.c.thread_id],
        peer=m[table.c.peer],
        direction=m[table.c.direction],
        body=body,
        status=m[table.c.status],
        timestamp=iso(m[table.c.timestamp]),
        seq=m[table.c.seq],
        client_msg_id=m[table.c.client_msg_id],
        error=m[table.c.error],
        incomplete=bool(m[table.c.incomplete]),
        deleted=deleted,
        refused=m[table.c.refused],
        error_detail=m[table.c.error_detail],
        masked=masked,
    )


def thread_view(row: Row[Any], cipher: BodyCipher) -> ThreadView:
    m = row._mapping
    last = message_view(row, cipher, _last) if m[_last.c.id] is not None else None
    return ThreadView(
        id=m[threads.c.id],
        peer=m[threads.c.peer],
        title=m["contact_name"] or m[threads.c.peer],
        last_message=last,
        last_activity=iso(m[threads.c.last_activity]),
        unread=m[threads.c.unread],
        seq=m[threads.c.seq],
        line_id=m[threads.c.line_id],
        line=m["line_number"],
        archived=bool(m[threads.c.archived]),
        deleted=bool(m[threads.c.deleted]),
    )


def with_attachments(
    conn: Connection,
    cipher: BodyCipher,
    msgs: list[MessageView],
    thread_views: Sequence[ThreadView] = (),
) -> tuple[list[MessageView], list[ThreadView]]:
    """Fill in the attachments of messages and of threads' last messages, in one query."""
    ids = {m.id for m in msgs if not m.deleted}
    ids.update(t.last_message.id for t in thread_views if t.last_message is not None)
    found = views_for(conn, cipher, ids)
    if not found:
        return msgs, list(thread_views)

    def fill(m: MessageView) -> MessageView:
        parts = found.get(m.id)
        return msgspec.structs.replace(m, attachments=parts) if parts else m

    return [fill(m) for m in msgs], [
        msgspec.structs.replace(t, last_message=fill(t.last_message))
        if t.last_message is not None and t.last_message.id in found
        else t
        for t in thread_views
    ]


class Views:
    """Read-only queries, each in its own connection."""

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    async def threads(
        self, conn: AsyncConnection, account_id: int
    ) -> tuple[list[ThreadView], int, str]:
        """Live threads, and the cursor (seq and its epoch) they are at least as new as."""
        seq, epoch = (
            await conn.execute(
                select(accounts.c.seq, accounts.c.epoch).where(accounts.c.id == account_id)
            )
        ).one()
        cipher = await self._keys.cipher(account_id)
        rows = await conn.execute(
            thread_query()
            .where(
                threads.c.account_id == account_id,
                threads.c.line_id.in_(verified_lines(account_id)),
                threads.c.deleted.is_(False),
            )
            .order_by(threads.c.last_activity.desc(), threads.c.id.desc())
        )
        _, views = await conn.run_sync(
            with_attachments, cipher, [], [thread_view(r, cipher) for r in rows]
        )
        return views, int(seq), epoch

    async def thread_messages(
        self,
        conn: AsyncConnection,
        account_id: int,
        thread_id: int,
        *,
        before: int | None,
        limit: int,
    ) -> tuple[list[MessageView], bool]:
        owner = (
            await conn.execute(
                select(threads.c.account_id, lines.c.verified_at, threads.c.deleted)
                .join(lines, lines.c.id == threads.c.line_id)
                .where(threads.c.id == thread_id)
            )
        ).first()
        if owner is None or owner[0] != account_id or owner[2]:
            raise LookupError(thread_id)
        if owner[1] is None:
            raise PermissionError(thread_id)
        query = select(messages).where(
            messages.c.thread_id == thread_id, messages.c.deleted.is_(False)
        )
        if before is not None:
            query = query.where(messages.c.id < before)
        rows = list(await conn.execute(query.order_by(messages.c.id.desc()).limit(limit + 1)))
        cipher = await self._keys.cipher(account_id)
        has_more = len(rows) > limit
        page = [message_view(r, cipher) for r in reversed(rows[:limit])]
        page, _ = await conn.run_sync(with_attachments, cipher, page)
        return page, has_more



# The change feed's statements, built once (runs on every live change): building and
# cache-keying these per call cost more than running them.
_ACCOUNT_SEQS = select(accounts.c.seq, accounts.c.min_seq, accounts.c.epoch).where(
    accounts.c.id == bindparam("account_id")
)
_ACCOUNT_EPOCH = select(accounts.c.epoch).where(accounts.c.id == bindparam("account_id"))
_VERIFIED = verified_lines(bindparam("account_id"))  # type: ignore[arg-type]
_CHANGED_MESSAGES = (
    select(messages)
    .where(
        messages.c.account_id == bindparam("account_id"),
        messages.c.seq > bindparam("since"),
        messages.c.line_id.in_(_VERIFIED),
    )
    .order_by(messages.c.seq)
    .limit(bindparam("limit"))
)
_CHANGED_THREADS = thread_query().where(
    threads.c.account_id == bindparam("account_id"),
    threads.c.line_id.in_(_VERIFIED),
    and_(threads.c.seq > bindparam("since"), threads.c.seq <= bindparam("upto")),
)


def changes_since(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    since: int,
    limit: int,
    *,
    upto: int | None = None,
    page_chars: int = PAGE_CHARS,
) -> ChangeSet:
    """Messages and threads changed after ``since``: at most ``limit`` messages, and no
    more than ``page_chars`` characters of bodies (but always one message).

    ``upto``: the account's seq, when the caller knows it and knows ``since`` can be
    resumed (the writer of the changes, inside its transaction): no range check.
    A cursor below ``accounts.min_seq`` (tombstones after it were purged) or above the
    seq (a restored database) gets ``resync``.
    """
    params = {"account_id": account_id}
    if upto is None:
        upto, min_seq, epoch = conn.execute(_ACCOUNT_SEQS, params).one()
        if 0 < since < min_seq or since > upto:
            return ChangeSet(since, int(upto), [], [], resync=True, epoch=epoch)
    else:
        epoch = conn.execute(_ACCOUNT_EPOCH, params).scalar_one()
    msg_rows = list(
        conn.execute(
            _CHANGED_MESSAGES, {"account_id": account_id, "since": since, "limit": limit + 1}
        )
    )
    msgs = [message_view(r, cipher) for r in msg_rows[:limit]]
    cut = _page_end(msgs, page_chars)
    more = len(msg_rows) > cut
    if more:
        msgs = msgs[:cut]
        upto = msgs[-1].seq
    thread_rows = conn.execute(
        _CHANGED_THREADS, {"account_id": account_id, "since": since, "upto": upto}
    )
    msgs, thread_views = with_attachments(
        conn, cipher, msgs, [thread_view(r, cipher) for r in thread_rows]
    )
    return ChangeSet(since, int(upto), msgs, thread_views, epoch=epoch, more=more)


_WRITTEN = (
    select(messages.c.id, messages.c.seq, messages.c.thread_id)
    .where(
        messages.c.account_id == bindparam("account_id"),
        messages.c.seq > bindparam("since"),
        messages.c.seq <= bindparam("upto"),
        messages.c.line_id.in_(_VERIFIED),
    )
    .order_by(messages.c.seq)
)


def written_rows(conn: Connection, account_id: int, since: int, upto: int) -> list[Any]:
    """``(id, seq, thread_id)`` of the messages of verified lines in ``(since, upto]``:
    what a writer that just inserted them does not know of its own rows."""
    # Through the driver: three integers a row need no conversion.
    names = ("account_id", "since", "upto")
    return list(execute_raw(conn, _WRITTEN, names, (account_id, since, upto)))


def pages_of(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    since: int,
    upto: int,
    msgs: list[MessageView],
    limit: int,
    *,
    page_chars: int = PAGE_CHARS,
) -> list[ChangeSet]:
    """The change sets :func:`changes_since` would read from ``since`` up to ``upto``,
    page after page, when ``msgs`` are already known: every message changed in
    ``(since, upto]`` (the writer's own, none with attachments), in seq order. Only the
    threads are read (a few per page, however many messages)."""
    epoch = conn.execute(_ACCOUNT_EPOCH, {"account_id": account_id}).scalar_one()
    pages: list[ChangeSet] = []
    while True:
        cut = _page_end(msgs[:limit], page_chars)
        page, msgs = msgs[:cut], msgs[cut:]
        end = page[-1].seq if msgs else upto
        thread_rows = conn.execute(
            _CHANGED_THREADS, {"account_id": account_id, "since": since, "upto": end}
        )
        # The writer's messages have no attachments; a thread's last message may.
        _, thread_views = with_attachments(
            conn, cipher, [], [thread_view(r, cipher) for r in thread_rows]
        )
        pages.append(ChangeSet(since, end, page, thread_views, epoch=epoch, more=bool(msgs)))
        if not msgs:
            return pages
        since = end


def _page_end(msgs: list[MessageView], page_chars: int) -> int:
    """How many of ``msgs`` fit ``page_chars`` characters of bodies (at least one)."""
    total = 0
    for n, m in enumerate(msgs):
        total += len(m.body)
        if total > page_chars and n > 0:
            return n
    return len(msgs)
