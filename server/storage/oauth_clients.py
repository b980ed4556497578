"""OAuth signing keys and registered clients (with their exact redirect URIs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import oauth_clients as clients
from server.storage.schema import oauth_keys as keys
from server.storage.schema import oauth_redirects as redirects
from server.storage.util import new_id


@dataclass(frozen=True)
class StoredKey:
    kid: str
    private_sealed: bytes
    public_raw: bytes
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class Client:
    id: int
    client_id: str
    account_id: int | None
    name: str
    logo_uri: str | None
    secret_hash: bytes | None
    created_at: datetime
    redirect_uris: tuple[str, ...]

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None


class KeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> list[StoredKey]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(keys).order_by(keys.c.created_at))
            return [StoredKey(**r._mapping) for r in rows]

    async def add(self, key: StoredKey, *, retire_others: bool) -> None:
        """Store a new signing key; with ``retire_others`` the older ones stop signing."""
        async with self._engine.begin() as conn:
            if retire_others:
                await conn.execute(
                    update(keys)
                    .where(keys.c.retired_at.is_(None))
                    .values(retired_at=key.created_at)
                )
            await conn.execute(insert(keys).values(**key.__dict__))

    async def drop_retired(self, before: datetime) -> int:
        """Delete keys retired before ``before`` (their tokens have all expired)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(keys).where(keys.c.retired_at < before))
            return int(result.rowcount or 0)


class ClientStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        client_id: str,
        *,
        account_id: int | None,
        name: str,
        logo_uri: str | None,
        secret_hash: bytes | None,
        redirect_uris: list[tuple[str, str]],
        now: datetime,
    ) -> int:
        """Register a client; ``redirect_uris`` are (uri, origin) pairs."""
        async with self._engine.begin() as conn:
            pk = new_id(
                await conn.execute(
                    insert(clients).values(
                        client_id=client_id,
                        account_id=account_id,
                        name=name,
                        logo_uri=logo_uri,
                        secret_hash=secret_hash,
                        created_at=now,
                    )
                )
            )
            await conn.execute(
                insert(redirects),
                [{"client_pk": pk, "uri": u, "origin": o} for u, o in redirect_uris],
            )
            return pk

    async def by_client_id(self, client_id: str) -> Client | None:
        found = await self._find(clients.c.client_id == client_id)
        return found[0] if found else None

    async def by_pk(self, pk: int) -> Client | None:
        found = await self._find(clients.c.id == pk)
        return found[0] if found else None

    async def of_account(self, account_id: int) -> list[Client]:
        return await self._find(clients.c.account_id == account_id)

    async def _find(self, where: object) -> list[Client]:
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(select(clients).where(where).order_by(clients.c.id)))  # type: ignore[arg-type]
            if not rows:
                return []
            uris: dict[int, list[str]] = {r.id: [] for r in rows}
            for r in await conn.execute(
                select(redirects.c.client_pk, redirects.c.uri).where(
                    redirects.c.client_pk.in_(list(uris))
                )
            ):
                uris[r.client_pk].append(r.uri)
        return [
            Client(
                r.id,
                r.client_id,
                r.account_id,
                r.name,
                r.logo_uri,
                r.secret_hash,
                r.created_at,
                tuple(sorted(uris[r.id])),
            )
            for r in rows
        ]

    async def delete(self, account_id: int, pk: int) -> bool:
        """Delete one of the account's clients (its grants go with it)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(clients).where(clients.c.id == pk, clients.c.account_id == account_id)
            )
            return bool(result.rowcount)

    async def origin_registered(self, origin: str) -> bool:
        """Is ``origin`` the origin of some client's redirect URI (CORS preflights)?"""
        async with self._engine.connect() as conn:
            row = await conn.execute(
                select(redirects.c.client_pk).where(redirects.c.origin == origin).limit(1)
            )
            return row.first() is not None

    async def origins_of(self, client_id: str) -> set[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(redirects.c.origin)
                .join(clients, clients.c.id == redirects.c.client_pk)
                .where(clients.c.client_id == client_id)
            )
            return {r.origin for r in rows}
