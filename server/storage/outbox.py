"""Outgoing messages: one sender per line, by lease, and only the sender's reports count.

A bridge may send for a line only while it holds the line's lease (``line_leases``).
Connections renew their leases while they are up; a lease that is not renewed expires,
and the first other bridge of the account serving that line takes it over::

    outbox row   pending ─claim (lease holder only)─▶ dispatched(device) ─▶ accepted
                    │                                    │   (the bridge reported progress)
                    │                                    ▼
                    └─ message deleted ─▶ done     done (final status reported)

* A claim takes a row that is ``pending`` or already dispatched to the claiming device
  (re-offering after a reconnect is safe: the bridge journals by outbox id), never one
  dispatched to another device.
* A status report counts only from the device the row was dispatched to; reports from
  any other device are ignored.
* When a bridge takes over a line, rows still held by the previous sender (dispatched
  or accepted, no final status) become ``unknown`` ("may or may not have been sent"),
  never offered again: a second send would cost the user money and double the SMS.
  Should that sender come back and report what really happened, its report wins over
  ``unknown``.

Every operation is one write transaction (``runner.write``: ``BEGIN IMMEDIATE`` on
SQLite; on PostgreSQL the account's row is taken first, ``lock_account``), so reading a
row's state and changing it cannot interleave with another writer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.conversations import _refresh_threads_sync, take_seqs_sync
from server.storage.epochs import lock_account
from server.storage.keys import KeyRing
from server.storage.masking import mask_if_sent
from server.storage.runner import runner
from server.storage.schema import line_leases, lines, messages, outbox
from server.storage.sealed import BodyCipher

#: How long a lease lasts without renewal. Connections renew every ``_RESCAN`` (30 s).
LEASE_TTL = timedelta(seconds=90)
#: How long a line stays with a bridge that disconnected, so a quick reconnect keeps it.
LEASE_GRACE = timedelta(seconds=10)

TAKEN_OVER = (
    "Another phone took over this line before the one sending this message confirmed "
    "it; it may or may not have been sent."
)

# Final states end the outbox row.
_FINAL = {"delivered", "failed", "unknown"}
# Order of progress: a report only moves a message forward. ``unknown`` ranks below what
# a sender can confirm, so the true outcome replaces it when it finally arrives.
_RANK = {
    "queued": 0, "sending": 1, "unknown": 2, "sent": 3, "sent_no_report": 3,
    "delivered": 4, "failed": 4,
}  # fmt: skip
_HELD = ("dispatched", "accepted")


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message_id: int
    line: str
    recipient: str
    body: str


@dataclass(frozen=True)
class Leases:
    """The lines a device holds after a renewal, and what the renewal changed."""

    held: frozenset[int]
    #: Messages of a previous sender marked ``unknown`` by a takeover.
    orphaned: list[int] = field(default_factory=list)
    #: The account's seq after those changes (None: nothing changed).
    seq: int | None = None


class OutboxStore:
    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys

    async def renew(
        self, account_id: int, device_id: int, line_ids: Collection[int], now: datetime
    ) -> Leases:
        """Take or renew the leases of ``line_ids`` that are free, expired or already ours."""
        return await runner(self._engine).write(_renew, account_id, device_id, list(line_ids), now)

    async def let_go(
        self, device_id: int, ended: datetime, *, grace: timedelta = LEASE_GRACE
    ) -> None:
        """A device's connection ended at ``ended``: its leases end ``grace`` later, unless
        a newer connection of the device renewed them since."""
        await runner(self._engine).write(_let_go, device_id, ended, grace)

    async def for_dispatch(
        self, account_id: int, device_id: int, line_ids: Collection[int], limit: int = 100
    ) -> list[OutboxItem]:
        """Rows this device may send, oldest first: pending ones on the given (leased)
        lines, and those already dispatched to it that it has not confirmed."""
        if not line_ids:
            return []
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(
            _for_dispatch, cipher, account_id, device_id, list(line_ids), limit
        )

    async def claim(self, account_id: int, outbox_id: int, device_id: int, now: datetime) -> bool:
        """Hand a row to a device; False unless the device holds the row's line and the
        row is pending or already its own."""
        return await runner(self._engine).write(_claim, account_id, outbox_id, device_id, now)

    async def apply_status(
        self,
        account_id: int,
        device_id: int,
        outbox_id: int,
        status: str,
        error: str | None,
        error_detail: str | None = None,
    ) -> bool:
        """Record a sender's report on an outgoing message; True if anything changed.

        Only the device the row was dispatched to is heard. Statuses only move forward
        (see ``_RANK``), so reports replayed after a reconnect are harmless.
        """
        return await runner(self._engine).write(
            _apply_status, account_id, device_id, outbox_id, status, error, error_detail
        )


# ------------------------------------------------------------------ transactions


def _renew(
    conn: Connection, account_id: int, device_id: int, line_ids: list[int], now: datetime
) -> Leases:
    if not line_ids:
        return Leases(frozenset())
    # Serialised with other renewals and claims of the account (a no-op on SQLite, whose
    # writes are one at a time): two bridges taking a free line take it one after the
    # other, and a claim committing after a takeover read the held rows would be left
    # dispatched to a device that no longer holds the line.
    lock_account(conn, account_id)
    current = {
        r.line_id: r
        for r in conn.execute(
            select(line_leases.c.line_id, line_leases.c.device_id, line_leases.c.expires_at).where(
                line_leases.c.line_id.in_(line_ids)
            )
        )
    }
    held: set[int] = set()
    taken: list[int] = []
    for line_id in line_ids:
        lease = current.get(line_id)
        if lease is not None and lease.device_id != device_id and lease.expires_at > now:
            continue  # another live sender has this line
        values = {"device_id": device_id, "expires_at": now + LEASE_TTL}
        if lease is None:
            conn.execute(line_leases.insert().values(line_id=line_id, acquired_at=now, **values))
        else:
            if lease.device_id != device_id:
                values["acquired_at"] = now
            conn.execute(
                update(line_leases).where(line_leases.c.line_id == line_id).values(**values)
            )
        if lease is None or lease.device_id != device_id:
            taken.append(line_id)
        held.add(line_id)
    orphaned, seq = _orphan(conn, account_id, device_id, taken) if taken else ([], None)
    return Leases(frozenset(held), orphaned, seq)


def _orphan(
    conn: Connection, account_id: int, device_id: int, line_ids: list[int]
) -> tuple[list[int], int | None]:
    """Rows another device held on lines we just took become ``unknown``."""
    rows = conn.execute(
        select(outbox.c.id, outbox.c.message_id, messages.c.thread_id)
        .join(messages, messages.c.id == outbox.c.message_id)
        .where(
            outbox.c.account_id == account_id,
            outbox.c.line_id.in_(line_ids),
            outbox.c.state.in_(_HELD),
            outbox.c.device_id != device_id,
        )
    ).all()
    if not rows:
        return [], None
    seq = take_seqs_sync(conn, account_id, len(rows))
    for offset, row in enumerate(rows):
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(state="done"))
        conn.execute(
            update(messages)
            .where(messages.c.id == row.message_id)
            .values(status="unknown", error=TAKEN_OVER, error_detail=None, seq=seq + offset)
        )
    _refresh_threads_sync(conn, {r.thread_id for r in rows})
    return [r.message_id for r in rows], seq + len(rows) - 1


def _let_go(conn: Connection, device_id: int, ended: datetime, grace: timedelta) -> None:
    until = ended + grace
    conn.execute(
        update(line_leases)
        .where(
            line_leases.c.device_id == device_id,
            line_leases.c.expires_at > until,
            # Renewed after the end: a newer connection of the device holds it now.
            line_leases.c.expires_at <= ended + LEASE_TTL,
        )
        .values(expires_at=until)
    )


def _for_dispatch(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    device_id: int,
    line_ids: list[int],
    limit: int,
) -> list[OutboxItem]:
    query = (
        select(
            outbox.c.id,
            outbox.c.message_id,
            lines.c.number,
            outbox.c.recipient,
            messages.c.body_sealed,
        )
        .join(messages, messages.c.id == outbox.c.message_id)
        .join(lines, lines.c.id == outbox.c.line_id)
        .where(
            outbox.c.account_id == account_id,
            outbox.c.line_id.in_(line_ids),
            or_(
                outbox.c.state == "pending",
                and_(outbox.c.state == "dispatched", outbox.c.device_id == device_id),
            ),
            messages.c.deleted.is_(False),
            messages.c.masked.is_(False),
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [OutboxItem(r[0], r[1], r[2], r[3], cipher.open(r[4])) for r in conn.execute(query)]


def _claim(
    conn: Connection, account_id: int, outbox_id: int, device_id: int, now: datetime
) -> bool:
    lock_account(conn, account_id)  # see _renew
    leased = (
        select(line_leases.c.line_id)
        .where(
            line_leases.c.line_id == outbox.c.line_id,
            line_leases.c.device_id == device_id,
            line_leases.c.expires_at > now,
        )
        .exists()
    )
    res = conn.execute(
        update(outbox)
        .where(
            outbox.c.id == outbox_id,
            or_(
                outbox.c.state == "pending",
                and_(outbox.c.state == "dispatched", outbox.c.device_id == device_id),
            ),
            leased,
        )
        .values(state="dispatched", device_id=device_id, dispatched_at=now)
    )
    return bool(res.rowcount)


def _apply_status(
    conn: Connection,
    account_id: int,
    device_id: int,
    outbox_id: int,
    status: str,
    error: str | None,
    error_detail: str | None,
) -> bool:
    lock_account(conn, account_id)  # the status read below is still true when written
    row = conn.execute(
        select(outbox.c.message_id, outbox.c.device_id, messages.c.status, messages.c.thread_id)
        .join(messages, messages.c.id == outbox.c.message_id)
        .where(outbox.c.id == outbox_id, outbox.c.account_id == account_id)
    ).first()
    if row is None or row.device_id != device_id:
        return False  # not this device's to report on
    new_status = "sending" if status == "accepted" else status
    if _RANK.get(new_status, -1) <= _RANK.get(row.status, 0):
        return False
    seq = take_seqs_sync(conn, account_id, 1)
    conn.execute(
        update(messages)
        .where(messages.c.id == row.message_id)
        .values(
            status=new_status,
            error=_cut(error, 200),
            error_detail=_cut(error_detail, 500),
            seq=seq,
        )
    )
    mask_if_sent(conn, account_id, row.message_id, new_status)
    # The bridge journals what it accepted and reports on it by itself after a
    # reconnect, so only rows it never confirmed are offered again.
    conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id)
        .values(state="done" if new_status in _FINAL else "accepted")
    )
    _refresh_threads_sync(conn, {row.thread_id}, seq=seq)
    return True


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None
