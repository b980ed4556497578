"""Search runs off the event loop, in pages, within a time budget: every match is found
exactly once across pages, a spent budget answers early with a cursor to continue from,
and other requests are served while bodies are being opened."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.storage import search as search_module
from server.storage.conversations import Inbound
from server.storage.search import Search
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _fill(env: Env, count: int, body: Any) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    items = [
        Inbound(f"k{n}", line, f"+1555010{n % 7:04}", body(n), T + timedelta(seconds=n))
        for n in range(count)
    ]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)


class Ticking:
    """A clock whose monotonic time moves by ``step`` on every reading."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.t = 0.0

    def now(self) -> datetime:
        return T

    def monotonic(self) -> float:
        self.t += self.step
        return self.t


async def test_pages_cover_every_match_once_newest_first(env: Env) -> None:
    await _fill(env, 60, lambda n: f"parcel {n} ready" if n % 3 == 0 else f"other {n}")
    await env.login()
    seen: list[str] = []
    before: int | None = None
    pages = 0
    while True:
        query = "/api/v1/search?q=PARCEL&limit=7" + (f"&before={before}" if before else "")
        resp = await env.client.get(query)
        assert resp.status == 200
        page = await resp.json()
        seen += [m["body"] for m in page["messages"]]
        pages += 1
        before = page["before"]
        if before is None:
            break
        assert len(page["messages"]) == 7
    assert pages == 3  # 7 + 7 + 6
    assert seen == [f"parcel {n} ready" for n in range(57, -1, -3)]


async def test_a_spent_budget_answers_early_and_the_cursor_continues(env: Env) -> None:
    await _fill(env, 55, lambda n: "needle here" if n == 3 else f"hay {n}")
    # Every clock reading costs a second against a half-second budget: one batch per request.
    search = Search(env.svc.engine, env.svc.keys, Ticking(1.0), budget=0.5, scan_rows=10)
    first = await search.page(env.account_id, "needle", 50)
    assert first.messages == [] and first.scanned == 10 and first.before is not None
    found: list[str] = []
    scanned = first.scanned
    before = first.before
    requests = 1
    while before is not None:
        page = await search.page(env.account_id, "needle", 50, before)
        found += [m.body for m in page.messages]
        scanned += page.scanned
        before = page.before
        requests += 1
    assert found == ["needle here"]
    assert scanned == 55
    assert requests == 6  # 10 rows a request: 10, 10, 10, 10, 10, 5
    search.close()


async def test_other_requests_are_served_while_a_search_opens_bodies(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fill(env, 20, lambda n: f"body {n}")
    await env.login()
    entered = threading.Event()
    release = threading.Event()
    real = search_module._match

    def blocked(*args: Any) -> Any:
        entered.set()
        release.wait(timeout=5)  # only reached on the loop in the old code: fail, not hang
        return real(*args)

    monkeypatch.setattr(search_module, "_match", blocked)
    searching = asyncio.create_task(env.client.get("/api/v1/search?q=body"))
    assert await asyncio.to_thread(entered.wait, 5)
    assert (await env.client.get("/healthz")).status == 200
    assert not searching.done() and not release.is_set()
    release.set()
    resp = await searching
    assert len((await resp.json())["messages"]) == 20


async def test_hidden_messages_are_never_matched(env: Env) -> None:
    await _fill(env, 4, lambda n: f"secret {n}")
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    gone = threads[0]
    assert (await env.client.delete(f"/api/v1/threads/{gone['id']}")).status in (200, 204)
    page = await (await env.client.get("/api/v1/search?q=secret")).json()
    assert page["before"] is None
    assert page["messages"] and all(m["thread_id"] != gone["id"] for m in page["messages"])
