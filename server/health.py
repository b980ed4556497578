"""Liveness (``/healthz``) and readiness (``/readyz``) of a server node.

* ``/healthz``: the process is up and its event loop answers. Nothing else is asked, so
  a database or Redis outage never gets a healthy node restarted: that would not help.
* ``/readyz``: the node can do its work, so a load balancer may send it traffic::

      serving     not stopping (a SIGTERM turns it off at once)
      database    answers a read within CHECK_TIMEOUT seconds
      migrations  its Alembic revision is this code's head ("mismatch": a database
                  of another version; "missing": never migrated)
      redis       answers PING within CHECK_TIMEOUT (only when FERRY_REDIS_URL is set)

  ``200 {"status": "ready", "checks": {...}}`` or ``503 {"status": "not_ready", ...}``
  naming each check's state in a word; never an exception's text. Callers arriving
  while a check runs share its answer, so a flood costs one read, not one per request.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.api.common import services
from server.log import server_logger
from server.storage.engine import MIGRATIONS
from server.storage.runner import runner

#: Seconds each check may take before it counts as failed.
CHECK_TIMEOUT = 3.0


@functools.cache
def migration_heads() -> frozenset[str]:
    """The Alembic head revision(s) of this code's migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def _revisions(conn: Connection) -> frozenset[str] | None:
    """The database's Alembic revision(s); None when it has none (never migrated)."""
    conn.execute(text("SELECT 1"))  # fails when the database cannot be reached
    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except (OperationalError, ProgrammingError):  # no such table (SQLite, PostgreSQL)
        return None
    return frozenset(str(r[0]) for r in rows)


@dataclass
class Readiness:
    """The checks of one app (module docstring), and its Redis client."""

    redis_url: str | None = None
    stopping: bool = False
    _redis: Any = field(default=None, repr=False)
    _running: asyncio.Future[dict[str, str]] | None = field(default=None, repr=False)
    _failing: frozenset[str] = frozenset()

    async def check(self, engine: AsyncEngine) -> dict[str, str]:
        """Every check's state (``ok`` or a word saying what is wrong)."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check(engine))
        return await asyncio.shield(self._running)

    async def _check(self, engine: AsyncEngine) -> dict[str, str]:
        checks = {"serving": "stopping" if self.stopping else "ok"}
        checks.update(await self._database(engine))
        if self.redis_url is not None:
            checks["redis"] = await self._ping_redis()
        failing = frozenset(k for k, v in checks.items() if v != "ok")
        if failing - self._failing - {"serving"}:
            server_logger.warning(
                "not ready: %s", ", ".join(f"{k} {checks[k]}" for k in sorted(failing))
            )
        self._failing = failing
        return checks

    async def _database(self, engine: AsyncEngine) -> dict[str, str]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                found = await runner(engine).read(_revisions)
        except (SQLAlchemyError, OSError, TimeoutError):
            return {"database": "unreachable", "migrations": "unknown"}
        if found is None:
            return {"database": "ok", "migrations": "missing"}
        return {"database": "ok", "migrations": "ok" if found == migration_heads() else "mismatch"}

    async def _ping_redis(self) -> str:
        try:
            if self._redis is None:
                from redis.asyncio import Redis  # only nodes configured with Redis need it

                self._redis = Redis.from_url(
                    self.redis_url,
                    socket_connect_timeout=CHECK_TIMEOUT,
                    socket_timeout=CHECK_TIMEOUT,
                )
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._redis.ping()
        except Exception:  # redis-py raises its own hierarchy, OSErrors and timeouts
            return "unreachable"
        return "ok"

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


READINESS: web.AppKey[Readiness] = web.AppKey("readiness", Readiness)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: answering at all is the proof (module docstring)."""
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    checks = await request.app[READINESS].check(services(request).engine)
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
