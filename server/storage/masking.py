"""Permanent masking: a message's content destroyed for good, the message kept.

A masked message keeps its place, peer, time and status, and shows ``*****``
(:data:`MASK`) wherever its text would show (REST, the change feed, search). Its sealed
body is set to NULL and its attachments are deleted in the same transaction that takes
the change's seq, so the change reaches every open browser like any other. Nothing can
bring the content back: not the user, not an operator, not a bridge re-uploading it
(``conversations._same`` and ``attachments.ingest`` treat a masked message as stored).

Two ways in:

* "mask now", for one message or every message of a conversation
  (:meth:`MaskingStore.mask_message`, :meth:`MaskingStore.mask_thread`);
* the account's ``mask_sent`` setting: an outgoing message is masked in the transaction
  that records the phone's report that it was sent (:func:`mask_if_sent`, from
  ``outbox._apply_status``), and one read from the phone's sent box as it is stored
  (:func:`mask_new_sent`, from the ingest).

A message still waiting to be handed to a bridge cannot be sent once its text is gone:
masking it cancels it (status ``failed``, saying why).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage import attachments as mms
from server.storage.epochs import lock_account
from server.storage.runner import runner
from server.storage.schema import accounts, messages, outbox, threads

#: What a masked message shows instead of its text.
MASK = "*****"
#: Statuses that mean the phone sent it.
SENT = ("sent", "sent_no_report", "delivered")
NOT_SENT = "Masked before it was sent, so it was not sent."

_MASK_ONE = (
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(masked=True, body_sealed=None, body=None, seq=bindparam("new_seq"))
)


class MaskingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def mask_message(self, account_id: int, message_id: int) -> int | None:
        """Mask one message; returns the account's seq after it (None: it was masked
        already).

        Raises:
            LookupError: no such (live) message of this account.
        """
        return await runner(self._engine).write(_mask_message, account_id, message_id)

    async def mask_thread(self, account_id: int, thread_id: int) -> int | None:
        """Mask every message of a conversation; returns the account's seq after it
        (None: nothing was left to mask).

        Raises:
            LookupError: no such (live) conversation of this account.
        """
        return await runner(self._engine).write(_mask_thread, account_id, thread_id)


def _mask_message(conn: Connection, account_id: int, message_id: int) -> int | None:
    lock_account(conn, account_id)
    row = conn.execute(
        select(messages.c.masked).where(
            messages.c.id == message_id,
            messages.c.account_id == account_id,
            messages.c.deleted.is_(False),
        )
    ).first()
    if row is None:
        raise LookupError(message_id)
    if row.masked:
        return None
    return mask_sync(conn, account_id, [message_id])


def _mask_thread(conn: Connection, account_id: int, thread_id: int) -> int | None:
    lock_account(conn, account_id)
    found = conn.execute(
        select(threads.c.id).where(
            threads.c.id == thread_id,
            threads.c.account_id == account_id,
            threads.c.deleted.is_(False),
        )
    ).first()
    if found is None:
        raise LookupError(thread_id)
    ids = list(
        conn.execute(
            select(messages.c.id)
            .where(
                messages.c.thread_id == thread_id,
                messages.c.deleted.is_(False),
                messages.c.masked.is_(False),
            )
            .order_by(messages.c.id)
        ).scalars()
    )
    return mask_sync(conn, account_id, ids) if ids else None


def mask_sync(conn: Connection, account_id: int, message_ids: Sequence[int]) -> int:
    """Mask ``message_ids`` (live, unmasked messages of the account) inside the caller's
    write transaction; returns the last seq taken."""
    from server.storage.conversations import _refresh_threads_sync, take_seqs_sync

    seq = take_seqs_sync(conn, account_id, len(message_ids))
    conn.execute(
        _MASK_ONE, [{"message_id": m, "new_seq": seq + n} for n, m in enumerate(message_ids)]
    )
    mms.delete_for(conn, list(message_ids))
    _cancel_unsent(conn, message_ids)
    touched = set(
        conn.execute(
            select(messages.c.thread_id).where(messages.c.id.in_(list(message_ids))).distinct()
        ).scalars()
    )
    _refresh_threads_sync(conn, touched)
    return seq + len(message_ids) - 1


def _cancel_unsent(conn: Connection, message_ids: Sequence[int]) -> None:
    pending = list(
        conn.execute(
            select(outbox.c.message_id).where(
                outbox.c.message_id.in_(list(message_ids)), outbox.c.state == "pending"
            )
        ).scalars()
    )
    if pending:
        conn.execute(update(outbox).where(outbox.c.message_id.in_(pending)).values(state="done"))
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(pending))
            .values(status="failed", error=NOT_SENT)
        )


def masks_sent(conn: Connection, account_id: int) -> bool:
    """Does the account mask its sent messages (inside the caller's transaction)?"""
    found = conn.execute(select(accounts.c.mask_sent).where(accounts.c.id == account_id)).scalar()
    return bool(found)


def mask_if_sent(conn: Connection, account_id: int, message_id: int, status: str) -> None:
    """The phone reported ``status`` for an outgoing message: if that means sent and the
    account masks sent messages, destroy its content now (in the report's transaction,
    which already gave the message its new seq)."""
    if status in SENT and masks_sent(conn, account_id):
        conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(masked=True, body_sealed=None, body=None)
        )
        mms.delete_for(conn, [message_id])


def mask_new_sent(conn: Connection, account_id: int, first_seq: int, last_seq: int) -> None:
    """Messages just stored in seqs ``[first_seq, last_seq]`` that the phone's sent box
    says were sent are masked at once, when the account masks sent messages."""
    if not masks_sent(conn, account_id):
        return
    conn.execute(
        update(messages)
        .where(
            messages.c.account_id == account_id,
            messages.c.seq.between(first_seq, last_seq),
            messages.c.direction == "out",
            messages.c.status.in_(SENT),
        )
        .values(masked=True, body_sealed=None, body=None)
    )
