"""Recorded consent of recipients, and broadcasts: one message to a list of numbers.

A broadcast goes only to numbers the user recorded consent for (``recipient_consents``)
and that did not reply STOP on its line (``optouts``); the others are kept in the list
as ``skipped_no_consent`` / ``skipped_opted_out``, so the user sees why. The rest are
``queued`` with a due time (``server/consent/pacing.py``: evenly spaced per line). Each
node's release job (:meth:`BroadcastStore.release_due`) turns due recipients into
ordinary outgoing messages (client_msg_id ``b<broadcast>-<recipient>``, so a release
can never make two), checking consent and opt-out again at that moment; from then the
recipient's status is its message's (queued, sending, sent, delivered, failed, unknown)::

    queued ─due─▶ released (status: its message's)
       │  └─due, consent withdrawn / STOP since─▶ skipped_no_consent / skipped_opted_out
       └─cancel─▶ cancelled

Every write is one transaction taking the account's lock first, so releases of two
nodes, a cancel and an arriving STOP are serialised per account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.consent.pacing import schedule
from server.storage.conversations import _create_outgoing
from server.storage.epochs import lock_account
from server.storage.keys import KeyRing
from server.storage.optouts import opted_out_sync
from server.storage.runner import runner
from server.storage.schema import (
    broadcast_recipients,
    broadcasts,
    messages,
    optouts,
    recipient_consents,
)
from server.storage.sealed import BodyCipher
from server.storage.util import new_id

#: Most recipients of one broadcast.
MAX_RECIPIENTS = 500
#: Recipients released per transaction.
RELEASE_BATCH = 50

NO_CONSENT, OPTED_OUT = "skipped_no_consent", "skipped_opted_out"


@dataclass(frozen=True)
class Consent:
    id: int
    number: str
    given_at: datetime
    recorded_at: datetime
    note: str


@dataclass(frozen=True)
class Recipient:
    id: int
    number: str
    #: queued, skipped_no_consent, skipped_opted_out, cancelled, or once released its
    #: message's status (queued, sending, sent, delivered, failed, unknown).
    status: str
    due_at: datetime
    message_id: int | None
    error: str | None = None


@dataclass(frozen=True)
class Broadcast:
    id: int
    line_id: int
    body: str
    created_at: datetime
    cancelled_at: datetime | None
    recipients: list[Recipient] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for r in self.recipients:
            found[r.status] = found.get(r.status, 0) + 1
        return found


class ConsentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, account_id: int, number: str, given_at: datetime, note: str, now: datetime
    ) -> Consent:
        """Record (or update) that ``number`` agreed to receive the user's messages."""
        return await runner(self._engine).write(_record, account_id, number, given_at, note, now)

    async def withdraw(self, account_id: int, consent_id: int) -> bool:
        return await runner(self._engine).write(_withdraw, account_id, consent_id)

    async def for_account(self, account_id: int) -> list[Consent]:
        return await runner(self._engine).read(_consents, account_id)


class BroadcastStore:
    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys

    async def create(
        self,
        account_id: int,
        line_id: int,
        body: str,
        numbers: Sequence[str],
        client_id: str,
        now: datetime,
        per_minute: int,
    ) -> int:
        """Create a broadcast (idempotent on ``client_id``); returns its id."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).write(
            _create, cipher, account_id, line_id, body, list(numbers), client_id, now, per_minute
        )

    async def get(self, account_id: int, broadcast_id: int) -> Broadcast | None:
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(_get, cipher, account_id, broadcast_id)

    async def for_account(self, account_id: int, limit: int = 50) -> list[Broadcast]:
        """The account's broadcasts, newest first, with their recipients."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).read(_list, cipher, account_id, limit)

    async def cancel(self, account_id: int, broadcast_id: int, now: datetime) -> bool:
        """Recipients still queued are not sent; False when there is no such broadcast."""
        return await runner(self._engine).write(_cancel, account_id, broadcast_id, now)

    async def due_accounts(self, now: datetime) -> list[int]:
        """Accounts with recipients due for release."""
        return await runner(self._engine).read(_due_accounts, now)

    async def release_due(self, account_id: int, now: datetime) -> int | None:
        """Turn the account's due recipients into outgoing messages (at most
        RELEASE_BATCH); returns the account's seq when messages were made."""
        cipher = await self._keys.cipher(account_id)
        return await runner(self._engine).write(_release, cipher, account_id, now)


# ------------------------------------------------------------------ transactions


def _consent(r: Any) -> Consent:
    return Consent(r.id, r.number, r.given_at, r.recorded_at, r.note)


def _record(
    conn: Connection, account_id: int, number: str, given_at: datetime, note: str, now: datetime
) -> Consent:
    where = (recipient_consents.c.account_id == account_id, recipient_consents.c.number == number)
    values = {"given_at": given_at, "note": note, "recorded_at": now}
    if conn.execute(select(recipient_consents.c.id).where(*where)).first() is None:
        conn.execute(
            recipient_consents.insert().values(account_id=account_id, number=number, **values)
        )
    else:
        conn.execute(update(recipient_consents).where(*where).values(**values))
    return _consent(conn.execute(select(recipient_consents).where(*where)).one())


def _withdraw(conn: Connection, account_id: int, consent_id: int) -> bool:
    done = conn.execute(
        recipient_consents.delete().where(
            recipient_consents.c.id == consent_id, recipient_consents.c.account_id == account_id
        )
    )
    return bool(done.rowcount)


def _consents(conn: Connection, account_id: int) -> list[Consent]:
    rows = conn.execute(
        select(recipient_consents)
        .where(recipient_consents.c.account_id == account_id)
        .order_by(recipient_consents.c.number)
        .limit(5000)
    )
    return [_consent(r) for r in rows]


def _consented(conn: Connection, account_id: int, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        found.update(
            conn.execute(
                select(recipient_consents.c.number).where(
                    recipient_consents.c.account_id == account_id,
                    recipient_consents.c.number.in_(numbers[start : start + 500]),
                )
            ).scalars()
        )
    return found


def _blocked(conn: Connection, line_id: int, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        found.update(
            conn.execute(
                select(optouts.c.peer).where(
                    optouts.c.line_id == line_id,
                    optouts.c.peer.in_(numbers[start : start + 500]),
                    optouts.c.opted_out.is_(True),
                )
            ).scalars()
        )
    return found


def _create(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    line_id: int,
    body: str,
    numbers: list[str],
    client_id: str,
    now: datetime,
    per_minute: int,
) -> int:
    lock_account(conn, account_id)
    existing = conn.execute(
        select(broadcasts.c.id).where(
            broadcasts.c.account_id == account_id, broadcasts.c.client_id == client_id
        )
    ).first()
    if existing is not None:
        return int(existing.id)
    numbers = list(dict.fromkeys(numbers))
    consented = _consented(conn, account_id, numbers)
    blocked = _blocked(conn, line_id, numbers)
    sendable = [n for n in numbers if n in consented and n not in blocked]
    last_due = conn.execute(
        select(func.max(broadcast_recipients.c.due_at)).where(
            broadcast_recipients.c.line_id == line_id,
            broadcast_recipients.c.state.in_(("queued", "released")),
        )
    ).scalar_one()
    due = dict(zip(sendable, schedule(now, last_due, len(sendable), per_minute), strict=True))
    broadcast_id = new_id(
        conn.execute(
            broadcasts.insert().values(
                account_id=account_id,
                line_id=line_id,
                body_sealed=cipher.seal(body),
                client_id=client_id,
                created_at=now,
            )
        )
    )
    rows = []
    for number in numbers:
        state = "queued" if number in due else OPTED_OUT if number in blocked else NO_CONSENT
        rows.append(
            {
                "broadcast_id": broadcast_id,
                "line_id": line_id,
                "number": number,
                "state": state,
                "due_at": due.get(number, now),
            }
        )
    if rows:
        conn.execute(broadcast_recipients.insert(), rows)
    return broadcast_id


def _list(conn: Connection, cipher: BodyCipher, account_id: int, limit: int) -> list[Broadcast]:
    ids = conn.execute(
        select(broadcasts.c.id)
        .where(broadcasts.c.account_id == account_id)
        .order_by(broadcasts.c.id.desc())
        .limit(limit)
    ).scalars()
    found = [_get(conn, cipher, account_id, broadcast_id) for broadcast_id in list(ids)]
    return [b for b in found if b is not None]


def _get(
    conn: Connection, cipher: BodyCipher, account_id: int, broadcast_id: int
) -> Broadcast | None:
    head = conn.execute(
        select(broadcasts).where(
            broadcasts.c.id == broadcast_id, broadcasts.c.account_id == account_id
        )
    ).first()
    if head is None:
        return None
    rows = conn.execute(
        select(broadcast_recipients, messages.c.status, messages.c.error)
        .outerjoin(messages, messages.c.id == broadcast_recipients.c.message_id)
        .where(broadcast_recipients.c.broadcast_id == broadcast_id)
        .order_by(broadcast_recipients.c.id)
    )
    recipients = [
        Recipient(
            r.id,
            r.number,
            _status(r.state, r.status),
            r.due_at,
            r.message_id,
            r.error if r.state == "released" else None,
        )
        for r in rows
    ]
    return Broadcast(
        head.id, head.line_id, cipher.open(head.body_sealed), head.created_at,
        head.cancelled_at, recipients,
    )  # fmt: skip


def _status(state: str, message_status: str | None) -> str:
    if state != "released":
        return state
    if message_status is None:
        return "deleted"  # the user deleted its message
    return "sent" if message_status == "sent_no_report" else message_status


def _cancel(conn: Connection, account_id: int, broadcast_id: int, now: datetime) -> bool:
    lock_account(conn, account_id)
    done = conn.execute(
        update(broadcasts)
        .where(
            broadcasts.c.id == broadcast_id,
            broadcasts.c.account_id == account_id,
            broadcasts.c.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
    )
    owned = conn.execute(
        select(broadcasts.c.id).where(
            broadcasts.c.id == broadcast_id, broadcasts.c.account_id == account_id
        )
    ).first()
    if done.rowcount:
        conn.execute(
            update(broadcast_recipients)
            .where(
                broadcast_recipients.c.broadcast_id == broadcast_id,
                broadcast_recipients.c.state == "queued",
            )
            .values(state="cancelled")
        )
    return owned is not None


def _due_accounts(conn: Connection, now: datetime) -> list[int]:
    return list(
        conn.execute(
            select(broadcasts.c.account_id)
            .join(broadcast_recipients, broadcast_recipients.c.broadcast_id == broadcasts.c.id)
            .where(broadcast_recipients.c.state == "queued", broadcast_recipients.c.due_at <= now)
            .distinct()
            .limit(100)
        ).scalars()
    )


def _release(conn: Connection, cipher: BodyCipher, account_id: int, now: datetime) -> int | None:
    lock_account(conn, account_id)  # two nodes' releases, one after the other
    due = conn.execute(
        select(broadcast_recipients, broadcasts.c.body_sealed)
        .join(broadcasts, broadcasts.c.id == broadcast_recipients.c.broadcast_id)
        .where(
            broadcasts.c.account_id == account_id,
            broadcast_recipients.c.state == "queued",
            broadcast_recipients.c.due_at <= now,
        )
        .order_by(broadcast_recipients.c.due_at, broadcast_recipients.c.id)
        .limit(RELEASE_BATCH)
    ).all()
    seq = None
    for r in due:
        state, message_id = "released", None
        if not _consented(conn, account_id, [r.number]):
            state = NO_CONSENT
        elif opted_out_sync(conn, r.line_id, r.number) is not None:
            state = OPTED_OUT
        else:
            view = _create_outgoing(
                conn, account_id, r.line_id, r.number, cipher.open(r.body_sealed),
                f"b{r.broadcast_id}-{r.id}", now, cipher,
            )  # fmt: skip
            message_id, seq = view.id, view.seq
        conn.execute(
            update(broadcast_recipients)
            .where(broadcast_recipients.c.id == r.id)
            .values(state=state, message_id=message_id)
        )
    return seq
