"""Opt-outs per line and peer: recorded as keyword messages are stored, checked before
anything is queued for sending.

A fresh inbound message whose whole text is an opt-out keyword (STOP, ARRET, ...; see
``server/consent/keywords.py``) blocks sends from its line to its sender; an opt-in
keyword (START, ...) lifts the block. Both are written by the ingest transaction that
stores the message (``record_keywords_sync``), so the block and the message commit
together; sends check the block inside their own transaction (``check_sendable_sync``),
serialised with ingests by the account's lock, so no send slips between the two.

The keyword message's own time decides between two keywords of one peer: an older
keyword that arrives late (a bridge that was offline) never undoes a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.consent.keywords import Keyword, classify, normalise
from server.storage.runner import runner
from server.storage.schema import optouts


class KeywordItem(Protocol):
    """What the ingest hands over (``conversations.Inbound`` fits)."""

    @property
    def line_id(self) -> int: ...
    @property
    def sender(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def sent_at(self) -> datetime: ...
    @property
    def direction(self) -> str: ...
    @property
    def refused(self) -> str | None: ...


@dataclass(frozen=True)
class OptOut:
    """A peer's standing opt-out on a line."""

    line_id: int
    peer: str
    #: The keyword as normalised (``STOP``, ``ARRET``...).
    keyword: str
    #: When the peer sent it.
    at: datetime


class OptedOut(Exception):
    """A send to a peer that opted out of messages from this line."""

    def __init__(self, optout: OptOut) -> None:
        super().__init__(f"{optout.peer} opted out on line {optout.line_id}")
        self.optout = optout

    def sentence(self) -> str:
        """The refusal, in words for the user."""
        o = self.optout
        return (
            f"{o.peer} replied {o.keyword} on this line; Ferry will not text them "
            "until they send START."
        )


def record_keywords_sync(
    conn: Connection, account_id: int, items: Iterable[KeywordItem], now: datetime
) -> list[tuple[int, str]]:
    """Apply the keyword messages among freshly stored inbound ``items``; returns the
    (line id, peer) pairs that are now opted out and were not before."""
    latest: dict[tuple[int, str], tuple[datetime, Keyword, str]] = {}
    for item in items:
        if item.direction != "in" or item.refused is not None:
            continue
        kind = classify(item.body)
        if kind is None:
            continue
        key = (item.line_id, item.sender)
        if key not in latest or latest[key][0] <= item.sent_at:
            latest[key] = (item.sent_at, kind, normalise(item.body) or "")
    if not latest:
        return []
    stored = {
        (r.line_id, r.peer): r
        for r in conn.execute(
            select(optouts).where(
                or_(*(and_(optouts.c.line_id == ln, optouts.c.peer == p) for ln, p in latest))
            )
        )
    }
    blocked = []
    for (line_id, peer), (at, kind, word) in latest.items():
        old = stored.get((line_id, peer))
        values = {
            "opted_out": kind is Keyword.OPT_OUT,
            "keyword": word[:32],
            "changed_at": at,
            "recorded_at": now,
        }
        if old is None:
            conn.execute(
                optouts.insert().values(account_id=account_id, line_id=line_id, peer=peer, **values)
            )
        elif old.changed_at <= at:
            conn.execute(
                update(optouts)
                .where(optouts.c.line_id == line_id, optouts.c.peer == peer)
                .values(**values)
            )
        else:
            continue  # an older keyword arriving late
        if kind is Keyword.OPT_OUT and (old is None or not old.opted_out):
            blocked.append((line_id, peer))
    return blocked


def opted_out_sync(conn: Connection, line_id: int, peer: str) -> OptOut | None:
    """The standing opt-out of ``peer`` on the line, if any."""
    row = conn.execute(
        select(optouts.c.keyword, optouts.c.changed_at).where(
            optouts.c.line_id == line_id, optouts.c.peer == peer, optouts.c.opted_out.is_(True)
        )
    ).first()
    return None if row is None else OptOut(line_id, peer, row.keyword, row.changed_at)


def check_sendable_sync(conn: Connection, line_id: int, peer: str) -> None:
    """Raise :class:`OptedOut` if ``peer`` opted out of texts from the line."""
    found = opted_out_sync(conn, line_id, peer)
    if found is not None:
        raise OptedOut(found)


class OptOutStore:
    """Reading the account's opt-outs (writes happen inside the ingest transaction)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def for_account(self, account_id: int) -> list[OptOut]:
        """Standing opt-outs of the account, newest first."""
        return await runner(self._engine).read(_for_account, account_id)

    async def blocked(self, line_id: int, peers: Sequence[str]) -> dict[str, OptOut]:
        """Which of ``peers`` opted out of the line."""
        return await runner(self._engine).read(_blocked, line_id, list(peers))


def _for_account(conn: Connection, account_id: int) -> list[OptOut]:
    rows = conn.execute(
        select(optouts)
        .where(optouts.c.account_id == account_id, optouts.c.opted_out.is_(True))
        .order_by(optouts.c.changed_at.desc())
        .limit(1000)
    )
    return [OptOut(r.line_id, r.peer, r.keyword, r.changed_at) for r in rows]


def _blocked(conn: Connection, line_id: int, peers: list[str]) -> dict[str, OptOut]:
    found: dict[str, OptOut] = {}
    for start in range(0, len(peers), 500):  # bounded IN lists
        rows = conn.execute(
            select(optouts).where(
                optouts.c.line_id == line_id,
                optouts.c.peer.in_(peers[start : start + 500]),
                optouts.c.opted_out.is_(True),
            )
        )
        for r in rows:
            found[r.peer] = OptOut(r.line_id, r.peer, r.keyword, r.changed_at)
    return found
