"""The change feed's bounds: frames a browser accepts, a cache bounded in bytes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from server.storage.conversations import Inbound
from server.storage.views import PAGE_CHARS
from server.ws.feed import ChangeFeed
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
#: The longest body a bridge may upload.
LONG = 40_000
#: What the web client accepts in one frame (web_client/js/protocol/frames.js).
MAX_FRAME_CHARS = 16 * 1024 * 1024


async def _ingest_long(env: Env, count: int) -> list[str]:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    bodies = [f"{n:04} " + "x" * (LONG - 5) for n in range(count)]
    items = [Inbound(f"k{n}", line, "+15550100002", b, T) for n, b in enumerate(bodies)]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    return bodies


async def test_a_long_backlog_comes_in_frames_a_browser_accepts(env: Env) -> None:
    # 450 messages of 40,000 characters: one page of 500 messages would be an 18-million
    # character frame, which the web client refuses (and would reconnect for, forever).
    bodies = await _ingest_long(env, 450)
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws", max_msg_size=64 << 20)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    got: list[str] = []
    sizes: list[int] = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 30)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if frame["t"] == "device":
            break
        sizes.append(len(msg.data))
        got += [m["body"] for m in frame["messages"]]
    await ws.close()
    assert got == bodies
    assert len(sizes) > 1 and max(sizes) < MAX_FRAME_CHARS
    assert max(sizes) < PAGE_CHARS + 2 * LONG  # a page stops once it holds PAGE_CHARS


async def test_the_feed_cache_keeps_its_byte_bound_oldest_out(env: Env) -> None:
    await _ingest_long(env, 40)
    bound = 1 << 20
    feed = ChangeFeed(env.svc.conversations, max_bytes=bound)
    for since in range(40):
        page = await feed.page(env.account_id, since, at_least=0)
        assert page.upto == 40 and len(page.text) > LONG
        assert feed.cached_bytes <= bound
    # Its own count is true to what it holds, and what it holds is the newest.
    held = [fut.result() for fut in feed._cache.values()]
    assert feed.cached_bytes == sum(p.size for p in held)
    assert [p.since for p in held] == list(range(40 - len(held), 40))
    assert 1 < len(held) < 40
    # A page bigger than the whole bound is served, not kept.
    whole = ChangeFeed(env.svc.conversations, max_bytes=LONG)
    assert (await whole.page(env.account_id, 0, at_least=0)).upto == 40
    assert whole.cached_bytes == 0 and not whole._cache


_RSS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime
    from pathlib import Path

    import argon2
    from aiohttp.test_utils import TestClient, TestServer

    from server.api.common import SERVICES
    from server.app import create_app
    from server.config import Config
    from server.storage.conversations import Inbound

    T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)

    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    async def tab(client, since: int) -> None:
        origin = str(client.make_url("/")).rstrip("/")  # browsers always send it
        ws = await client.ws_connect("/api/v1/ws", max_msg_size=64 << 20, origin=origin)
        await ws.send_str(json.dumps({"t": "subscribe", "since": since}))
        while json.loads((await ws.receive()).data)["t"] != "device":
            pass
        await ws.close()

    async def main(data_dir: str, count: int, cache: int) -> None:
        config = Config(
            data_dir=Path(data_dir),
            password_params=argon2.profiles.CHEAPEST,
            feed_cache_bytes=cache,
        )
        client = TestClient(TestServer(create_app(config), host="127.0.0.1"))
        await client.start_server()
        svc = client.app[SERVICES]
        now = T
        account = await svc.accounts.create("+15550100001", svc.passwords.hash("pw"), now,
                                             verified_at=now)
        device = await svc.devices.create(account, "bridge", b"k" * 32, now)
        line = (await svc.lines.for_account(account))[0].id
        items = [Inbound(f"k{n}", line, "+15550100002", f"{n:04} " + "x" * 39_995, T)
                 for n in range(count)]
        await svc.conversations.ingest_inbound(account, device, items, T)
        resp = await client.post("/api/v1/session", json={"phone": "+15550100001",
                                                          "password": "pw"})
        assert resp.status == 200
        for since in range(3):  # warm up: allocator, statements, caches
            await tab(client, count - 1 - since)
        before = rss()
        for since in range(count):  # every tab at its own cursor: one frame each
            await tab(client, since)
        print(json.dumps({"growth": rss() - before}))
        await client.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    """
)


def test_memory_stays_bounded_while_tabs_at_many_cursors_fetch_long_bodies(
    tmp_path: Path,
) -> None:
    # 80 messages of 40,000 characters, 80 tabs each at its own cursor: unbounded, the
    # cache keeps 80 frames of up to 3.2 MB (and their rows), some 250 MB; bounded at
    # 8 MiB, the process grows by that and what one tab's frame takes meanwhile.
    script = tmp_path / "rss.py"
    script.write_text(_RSS_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "var"), "80", str(8 << 20)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    growth = json.loads(done.stdout.strip().splitlines()[-1])["growth"]
    assert growth < 80 << 20, f"RSS grew by {growth >> 20} MiB"
