"""The event loop is never held hostage: delivery latency while the server works hard.

One account holds ``search_messages`` messages (100,000 in the full run). Measured:

- ``search_full_scan``: a search that matches nothing, so it opens every body, followed
  across the server's budgeted pages until the whole history is searched (ms for all
  pages; the requests it took are in the detail);
- ``latency_loaded_p99``: bridge ─▶ tab delivery p99 while ``signin_clients`` clients sign
  in in a loop (the production argon2id cost, each its own account) and one client
  searches in a loop, as a ratio to the same probe on the idle server just before.
  Goal: at most 2x.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp

from bench.latency import deliveries, percentile
from bench.report import Figure, at_most
from bench.target import PASSWORD, Context, Ferry, running_ferry
from server.auth.passwords import Passwords
from server.auth.web import DEV_COOKIE
from server.clock import SystemClock
from server.config import Config
from server.storage.accounts import AccountStore
from server.storage.engine import create_engine

TARGET_RATIO = 2.0
_TABS = 20


async def _accounts(ctx: Context, data_dir_name: str, count: int) -> list[str]:
    """``count`` more verified accounts, sharing one password hash (hashed once)."""
    config = Config(data_dir=ctx.work_dir / data_dir_name)
    engine = create_engine(config.db_url)
    stored = Passwords(config.password_params).hash(PASSWORD)
    now = SystemClock().now()
    phones = [f"+1555020{n:04}" for n in range(count)]
    try:
        store = AccountStore(engine)
        for phone in phones:
            await store.create(phone, stored, now, verified_at=now)
    finally:
        await engine.dispose()
    return phones


async def _sign_in_loop(
    http: aiohttp.ClientSession, base: str, phone: str, stop: asyncio.Event, counts: dict[int, int]
) -> None:
    # A fresh cookie jar per attempt: each sign-in is a new session, as a new client's.
    while not stop.is_set():
        async with http.post(
            f"{base}/api/v1/session",
            json={"phone": phone, "password": PASSWORD},
            headers={"Origin": base},
        ) as resp:
            counts[resp.status] = counts.get(resp.status, 0) + 1
            if resp.status == 503:  # the password pool said so: wait as told
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))


async def _search_all(http: aiohttp.ClientSession, ferry: Ferry, query: str) -> tuple[float, int]:
    """Follow a search across its pages to the oldest message: (seconds, requests)."""
    base = ferry.server.base_url
    headers = {"Cookie": f"{DEV_COOKIE}={ferry.cookie}", "Origin": base}
    before: int | None = None
    requests = 0
    started = time.perf_counter()
    while True:
        params = {"q": query, "limit": "50"} | ({"before": str(before)} if before else {})
        async with http.get(f"{base}/api/v1/search", params=params, headers=headers) as resp:
            resp.raise_for_status()
            page = await resp.json()
        requests += 1
        before = page["before"]
        if before is None:
            return time.perf_counter() - started, requests


@contextlib.asynccontextmanager
async def _load(
    ferry: Ferry, phones: list[str], counts: dict[int, int]
) -> AsyncIterator[list[int]]:
    """Sign-ins in a loop from every phone and one search in a loop, while the block runs."""
    stop = asyncio.Event()
    searches: list[int] = []

    async def search_loop(http: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            await _search_all(http, ferry, "no such words anywhere")
            searches.append(1)

    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) for _ in phones]
    searcher = aiohttp.ClientSession()
    base = ferry.server.base_url
    tasks = [
        asyncio.create_task(_sign_in_loop(http, base, phone, stop, counts))
        for http, phone in zip(sessions, phones, strict=True)
    ]
    tasks.append(asyncio.create_task(search_loop(searcher)))
    try:
        await asyncio.sleep(1.0)  # the load is running before the probe starts
        yield searches
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for http in [*sessions, searcher]:
            await http.close()


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    counts: dict[int, int] = {}
    probe = {
        "tabs": _TABS,
        "rounds": size.latency_rounds,
        "interval": size.latency_interval,
        "concurrency": size.connect_concurrency,
    }
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, "loaded", http) as ferry,
    ):
        await ferry.upload_history(size.search_messages)
        phones = await _accounts(ctx, "loaded", size.signin_clients)
        scan_s, scan_requests = await _search_all(http, ferry, "no such words anywhere")
        idle, _, _, _ = await deliveries(ferry, http, **probe)
        async with _load(ferry, phones, counts) as searches:
            started = time.perf_counter()
            loaded, _, expected, _ = await deliveries(ferry, http, **probe)
            loaded_s = time.perf_counter() - started
    if not idle or not loaded:
        raise RuntimeError("no latency samples: no tab received a change")
    i99, l99 = percentile(idle, 99) * 1e3, percentile(loaded, 99) * 1e3
    sign_ins = counts.get(200, 0)
    detail = {
        "idle_p50_ms": percentile(idle, 50) * 1e3,
        "loaded_p50_ms": percentile(loaded, 50) * 1e3,
        "loaded_samples": len(loaded),
        "expected_samples": expected,
        "sign_ins_per_s": sign_ins / loaded_s,
        "sign_ins_refused_busy": counts.get(503, 0),
        "sign_in_other_statuses": sum(v for k, v in counts.items() if k not in (200, 503)),
        "full_searches_meanwhile": len(searches),
        "signin_clients": size.signin_clients,
    }
    return [
        Figure(
            "search_full_scan",
            "ms",
            scan_s * 1e3,
            0.0,
            0.0,
            "report",
            True,
            {
                "messages": size.search_messages,
                "requests": scan_requests,
                "messages_per_s": size.search_messages / scan_s,
            },
        ),
        at_most("latency_loaded_p99", "ms", l99, i99, TARGET_RATIO, "idle p99", **detail),
    ]
