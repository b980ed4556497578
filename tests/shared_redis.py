"""Redis for tests: where it is, whether it answers, and a key prefix per test."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

#: The Redis the tests use (a key prefix of their own keeps parallel runs apart).
REDIS_URL = os.environ.get("FERRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_answers(url: str) -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_prefix(url: str = REDIS_URL) -> AsyncIterator[str]:
    """A fresh key prefix in the Redis at ``url`` (skips when it does not answer); its
    keys are deleted afterwards."""
    if not await redis_answers(url):
        pytest.skip(f"Redis at {url} does not answer (set FERRY_TEST_REDIS_URL)")
    prefix = f"ferry-test-{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        await forget(url, prefix)


async def forget(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    with contextlib.suppress(Exception):
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    await client.aclose()
