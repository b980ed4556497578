"""``/healthz`` (the process answers) and ``/readyz`` (database, migrations, Redis): an
outage of what a node depends on makes it not ready, never not alive."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from server.app import create_app
from server.config import Config
from tests.relay import Relay
from tests.server.conftest import Env
from tests.server.test_ops_metrics import delta, scrape
from tests.shared_redis import REDIS_URL, redis_answers


async def _status(client: Any, path: str) -> tuple[int, dict[str, Any]]:
    resp = await client.get(path)
    return resp.status, await resp.json()


async def test_a_fresh_node_is_alive_and_ready(env: Env) -> None:
    assert await _status(env.client, "/healthz") == (200, {"status": "ok"})
    assert await _status(env.client, "/readyz") == (
        200,
        {"status": "ready", "checks": {"serving": "ok", "database": "ok", "migrations": "ok"}},
    )


async def test_a_database_of_another_version_is_not_ready_but_alive(env: Env) -> None:
    async with env.svc.engine.begin() as conn:
        head = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    status, body = await _status(env.client, "/readyz")
    assert (status, body["status"], body["checks"]["migrations"]) == (503, "not_ready", "mismatch")
    assert body["checks"]["database"] == "ok"
    assert (await _status(env.client, "/healthz"))[0] == 200
    async with env.svc.engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
    status, body = await _status(env.client, "/readyz")
    assert (status, body["checks"]["migrations"]) == (503, "missing")
    async with env.svc.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        await conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    assert (await _status(env.client, "/readyz"))[0] == 200


async def test_callers_during_a_check_share_it(env: Env) -> None:
    before = await scrape(env)
    answers = await asyncio.gather(*(_status(env.client, "/readyz") for _ in range(20)))
    assert {status for status, _ in answers} == {200}
    after = await scrape(env)
    reads = delta(before, after, "ferry_db_transaction_seconds_count", kind="read")
    assert 1 <= reads < 20  # far fewer database reads than requests


async def test_an_unreachable_redis_makes_the_node_not_ready_but_alive(
    aiohttp_client: Any, config: Config
) -> None:
    async with Relay("127.0.0.1", 9) as relay:  # nothing listens behind it
        client = await aiohttp_client(
            create_app(replace(config, redis_url=f"redis://127.0.0.1:{relay.port}/0"))
        )
        status, body = await _status(client, "/readyz")
        assert (status, body["checks"]["redis"]) == (503, "unreachable")
        assert body["checks"]["database"] == "ok"
        assert (await _status(client, "/healthz"))[0] == 200


async def test_redis_going_away_and_back_is_seen_by_readiness(
    aiohttp_client: Any, config: Config
) -> None:
    if not await redis_answers(REDIS_URL):
        pytest.skip(f"Redis at {REDIS_URL} does not answer (set FERRY_TEST_REDIS_URL)")
    target = urlsplit(REDIS_URL)
    relay = Relay(target.hostname or "127.0.0.1", target.port or 6379)
    async with relay:
        url = f"redis://127.0.0.1:{relay.port}{target.path or '/0'}"
        client = await aiohttp_client(create_app(replace(config, redis_url=url)))
        status, body = await _status(client, "/readyz")
        assert (status, body["checks"]["redis"]) == (200, "ok")
        await relay.cut()
        status, body = await _status(client, "/readyz")
        assert (status, body["checks"]["redis"]) == (503, "unreachable")
        assert (await _status(client, "/healthz"))[0] == 200


@pytest.fixture
def scratch_postgres(config: Config) -> URL:
    """The test's PostgreSQL database (the conftest's PostgreSQL leg: it skips, saying
    why, when no server answers)."""
    assert config.database_url is not None
    return make_url(config.database_url)


@pytest.mark.postgresql_only("a database outage seen through a relay to PostgreSQL")
async def test_a_database_outage_makes_the_node_not_ready_but_alive(
    aiohttp_client: Any, config: Config, scratch_postgres: URL
) -> None:
    async with Relay(scratch_postgres.host or "127.0.0.1", scratch_postgres.port or 5432) as relay:
        through = scratch_postgres.set(host="127.0.0.1", port=relay.port)
        app = create_app(replace(config, database_url=through.render_as_string(False)))
        client = await aiohttp_client(app)
        assert (await _status(client, "/readyz"))[0] == 200
        await relay.cut()
        status, body = await _status(client, "/readyz")
        assert (status, body["checks"]["database"]) == (503, "unreachable")
        assert await _status(client, "/healthz") == (200, {"status": "ok"})
        # Stopping during the outage still closes cleanly (what needs the database is
        # logged and skipped).
        await client.close()
