"""What users granted OAuth clients, and everything issued from it: pending
authorization requests, grants, codes, refresh tokens, socket tickets, the access log.

Single use is enforced by the database, not by a read followed by a write: a code, a
request, a refresh token or a ticket is consumed by ``UPDATE … WHERE used_at IS NULL``
(or a DELETE) whose row count says who won, so two racing redemptions cannot both pass,
on SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.schema import oauth_clients as clients
from server.storage.schema import oauth_codes as codes
from server.storage.schema import oauth_grants as grants
from server.storage.schema import oauth_log as log
from server.storage.schema import oauth_refresh as refresh
from server.storage.schema import oauth_requests as requests
from server.storage.schema import oauth_tickets as tickets
from server.storage.util import new_id


@dataclass(frozen=True)
class PendingRequest:
    client_pk: int
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    challenge: str
    expires_at: datetime


@dataclass(frozen=True)
class Grant:
    id: int
    account_id: int
    client_pk: int
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    #: Conversation ids the grant is limited to; None: all.
    threads: tuple[int, ...] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    ip: str | None
    action: str
    status: int


class Redeemed(Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    #: Used before: the grant it came from is revoked now (RFC 9700 §4.5).
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Redemption:
    outcome: Redeemed
    grant: Grant | None = None
    redirect_uri: str = ""
    challenge: str = ""
    scopes: tuple[str, ...] = ()


_GRANT = select(grants, clients.c.client_id, clients.c.name.label("client_name")).join(
    clients, clients.c.id == grants.c.client_pk
)


def _grant(row: object) -> Grant:
    r = row._mapping  # type: ignore[attr-defined]
    threads = None if r["threads"] is None else tuple(json.loads(r["threads"]))
    return Grant(
        r["id"],
        r["account_id"],
        r["client_pk"],
        r["client_id"],
        r["client_name"],
        tuple(r["scope"].split()),
        threads,
        r["created_at"],
        r["expires_at"],
        r["revoked_at"],
        r["last_used_at"],
    )


async def _revoke(conn: AsyncConnection, grant_id: int, now: datetime) -> None:
    await conn.execute(
        update(grants)
        .where(grants.c.id == grant_id, grants.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Nothing issued from it can be used again.
    await conn.execute(
        update(refresh)
        .where(refresh.c.grant_id == grant_id, refresh.c.used_at.is_(None))
        .values(used_at=now)
    )
    await conn.execute(delete(tickets).where(tickets.c.grant_id == grant_id))


class GrantStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # ------------------------------------------------------------ requests

    async def add_request(
        self,
        id_hash: bytes,
        *,
        client_pk: int,
        redirect_uri: str,
        scopes: tuple[str, ...],
        state: str | None,
        challenge: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(requests).values(
                    id_hash=id_hash,
                    client_pk=client_pk,
                    redirect_uri=redirect_uri,
                    scope=" ".join(scopes),
                    state=state,
                    challenge=challenge,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def request(self, id_hash: bytes, now: datetime) -> PendingRequest | None:
        """A request still waiting for the user's decision."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(requests).where(
                        requests.c.id_hash == id_hash,
                        requests.c.used_at.is_(None),
                        requests.c.expires_at > now,
                    )
                )
            ).first()
        if row is None:
            return None
        return PendingRequest(
            row.client_pk,
            row.redirect_uri,
            tuple(row.scope.split()),
            row.state,
            row.challenge,
            row.expires_at,
        )

    async def close_request(self, id_hash: bytes, now: datetime) -> bool:
        """Mark a request decided (denied); False if it was decided already."""
        async with self._engine.begin() as conn:
            return await self._use_request(conn, id_hash, now)

    @staticmethod
    async def _use_request(conn: AsyncConnection, id_hash: bytes, now: datetime) -> bool:
        result = await conn.execute(
            update(requests)
            .where(
                requests.c.id_hash == id_hash,
                requests.c.used_at.is_(None),
                requests.c.expires_at > now,
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)

    async def approve(
        self,
        id_hash: bytes,
        *,
        account_id: int,
        scopes: tuple[str, ...],
        threads: tuple[int, ...] | None,
        expires_at: datetime | None,
        code_hash: bytes,
        code_expires_at: datetime,
        now: datetime,
    ) -> int | None:
        """Consent given: the request is used, a grant and its code are made, in one
        transaction. None: the request was decided already or expired."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(requests).where(requests.c.id_hash == id_hash))
            ).first()
            if row is None or not await self._use_request(conn, id_hash, now):
                return None
            grant_id = new_id(
                await conn.execute(
                    insert(grants).values(
                        account_id=account_id,
                        client_pk=row.client_pk,
                        scope=" ".join(scopes),
                        threads=None if threads is None else json.dumps(list(threads)),
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
            )
            await conn.execute(
                insert(codes).values(
                    code_hash=code_hash,
                    grant_id=grant_id,
                    redirect_uri=row.redirect_uri,
                    challenge=row.challenge,
                    expires_at=code_expires_at,
                )
            )
            return grant_id

    # ------------------------------------------------------------ codes, refresh tokens

    async def redeem_code(self, code_hash: bytes, now: datetime) -> Redemption:
        """Use a code once. A second use revokes its grant (so every token the first use
        issued stops working)."""
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(codes).where(codes.c.code_hash == code_hash))).first()
            if row is None:
                return Redemption(Redeemed.UNKNOWN)
            used = await conn.execute(
                update(codes)
                .where(codes.c.code_hash == code_hash, codes.c.used_at.is_(None))
                .values(used_at=now)
            )
            if not used.rowcount:
                await _revoke(conn, row.grant_id, now)
                return Redemption(Redeemed.REPLAYED)
            grant = _grant((await conn.execute(_GRANT.where(grants.c.id == row.grant_id))).one())
            if now >= row.expires_at:
                return Redemption(Redeemed.EXPIRED, grant)
            return Redemption(Redeemed.OK, grant, row.redirect_uri, row.challenge, grant.scopes)

    async def add_refresh(
        self, token_hash: bytes, grant_id: int, scopes: tuple[str, ...], now: datetime
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(refresh).values(
                    token_hash=token_hash, grant_id=grant_id, scope=" ".join(scopes), created_at=now
                )
            )

    async def rotate_refresh(self, old_hash: bytes, new_hash: bytes, now: datetime) -> Redemption:
        """Use a refresh token once and store its successor (same scopes). A rotated
        token used again revokes the whole grant (RFC 9700 §4.14.2)."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(refresh).where(refresh.c.token_hash == old_hash))
            ).first()
            if row is None:
                return Redemption(Redeemed.UNKNOWN)
            used = await conn.execute(
                update(refresh)
                .where(refresh.c.token_hash == old_hash, refresh.c.used_at.is_(None))
                .values(used_at=now)
            )
            grant = _grant((await conn.execute(_GRANT.where(grants.c.id == row.grant_id))).one())
            if not used.rowcount:
                await _revoke(conn, row.grant_id, now)
                return Redemption(Redeemed.REPLAYED, grant)
            if not grant.live(now):
                return Redemption(Redeemed.EXPIRED, grant)
            await conn.execute(
                insert(refresh).values(
                    token_hash=new_hash, grant_id=row.grant_id, scope=row.scope, created_at=now
                )
            )
            return Redemption(Redeemed.OK, grant, scopes=tuple(row.scope.split()))

    async def refresh_grant(self, token_hash: bytes, *, unused_only: bool) -> Grant | None:
        """The grant a refresh token belongs to (with ``unused_only``: if not spent)."""
        query = _GRANT.join(refresh, refresh.c.grant_id == grants.c.id).where(
            refresh.c.token_hash == token_hash
        )
        if unused_only:
            query = query.where(refresh.c.used_at.is_(None))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _grant(row)

    # ------------------------------------------------------------ grants

    async def grant(self, grant_id: int) -> Grant | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_GRANT.where(grants.c.id == grant_id))).first()
        return None if row is None else _grant(row)

    async def live_grants(self, account_id: int, now: datetime) -> list[Grant]:
        """The account's grants that still work, newest first."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                _GRANT.where(
                    grants.c.account_id == account_id,
                    grants.c.revoked_at.is_(None),
                    or_(grants.c.expires_at.is_(None), grants.c.expires_at > now),
                ).order_by(grants.c.id.desc())
            )
            return [_grant(r) for r in rows]

    async def live_ids(self, grant_ids: list[int], now: datetime) -> set[int]:
        """Which of ``grant_ids`` still work (the socket sweep)."""
        if not grant_ids:
            return set()
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(grants.c.id).where(
                    grants.c.id.in_(grant_ids),
                    grants.c.revoked_at.is_(None),
                    or_(grants.c.expires_at.is_(None), grants.c.expires_at > now),
                )
            )
            return {r.id for r in rows}

    async def revoke(self, grant_id: int, now: datetime, *, account_id: int | None = None) -> bool:
        """End a grant (of ``account_id``, when given); False if there was none live."""
        async with self._engine.begin() as conn:
            where = [grants.c.id == grant_id, grants.c.revoked_at.is_(None)]
            if account_id is not None:
                where.append(grants.c.account_id == account_id)
            found = (await conn.execute(select(grants.c.id).where(*where))).first()
            if found is None:
                return False
            await _revoke(conn, grant_id, now)
            return True

    async def record(
        self, grant_id: int, now: datetime, *, ip: str, action: str, status: int
    ) -> None:
        """One line of the app's access log; the grant was used now."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(log).values(
                    grant_id=grant_id,
                    at=now,
                    ip=ip[:64] or None,
                    action=action[:120],
                    status=status,
                )
            )
            await conn.execute(
                update(grants).where(grants.c.id == grant_id).values(last_used_at=now)
            )

    async def log_of(self, account_id: int, grant_id: int, limit: int = 100) -> list[LogEntry]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(log)
                .join(grants, grants.c.id == log.c.grant_id)
                .where(log.c.grant_id == grant_id, grants.c.account_id == account_id)
                .order_by(log.c.id.desc())
                .limit(limit)
            )
            return [LogEntry(r.at, r.ip, r.action, r.status) for r in rows]

    # ------------------------------------------------------------ socket tickets

    async def add_ticket(self, ticket_hash: bytes, grant_id: int, expires_at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(tickets).values(
                    ticket_hash=ticket_hash, grant_id=grant_id, expires_at=expires_at
                )
            )

    async def take_ticket(self, ticket_hash: bytes, now: datetime) -> int | None:
        """Use a ticket once: its grant's id, if the ticket was live."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(tickets).where(tickets.c.ticket_hash == ticket_hash))
            ).first()
            if row is None:
                return None
            taken = await conn.execute(delete(tickets).where(tickets.c.ticket_hash == ticket_hash))
            if not taken.rowcount or now >= row.expires_at:
                return None
            return int(row.grant_id)

    async def prune(self, now: datetime, *, keep_until: datetime) -> None:
        """Forget expired requests, codes and tickets, and the refresh tokens of grants
        that ended (kept meanwhile, so reuse is still recognised); access-log lines, and
        grants that ended, from before ``keep_until`` (the access log's retention)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(log).where(log.c.at < keep_until))
            await conn.execute(
                delete(grants).where(
                    or_(
                        grants.c.revoked_at < keep_until,
                        and_(grants.c.expires_at.is_not(None), grants.c.expires_at < keep_until),
                    )
                )
            )
            await conn.execute(delete(requests).where(requests.c.expires_at < now))
            await conn.execute(delete(codes).where(codes.c.expires_at < now))
            await conn.execute(delete(tickets).where(tickets.c.expires_at < now))
            ended = select(grants.c.id).where(
                or_(
                    grants.c.revoked_at.is_not(None),
                    and_(grants.c.expires_at.is_not(None), grants.c.expires_at < now),
                )
            )
            await conn.execute(delete(refresh).where(refresh.c.grant_id.in_(ended)))
