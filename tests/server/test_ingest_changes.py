"""The change sets a group commit hands to the fan-out are built from what it wrote, not
read back: they must be exactly what a reader of the feed would get, and a followed
account's bulk upload reaches its tabs without the feed reading the messages again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone

from protocol.messages import Ack, InboundSms, Upload
from server.storage.conversations import Inbound
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def test_the_writers_pages_are_what_the_feed_reads(env: Env) -> None:
    store = env.svc.conversations
    line = (await store_lines(env))[0]
    await store.ingest_inbound(
        env.account_id, env.device_id, [Inbound("old", line, "+15550100002", "earlier", T)], T
    )
    before = await store.current_seq(env.account_id)
    plus_two = timezone(timedelta(hours=2))
    items = [
        Inbound(f"k{n}", line, f"+1555010000{2 + n % 3}", f"body {n}", T + timedelta(seconds=n))
        for n in range(5)
    ] + [
        # Another zone and microseconds: shown in UTC, as stored.
        Inbound("tz", line, "+15550100002", "zoned", datetime(2026, 11, 1, 12, 0, 1, 5, plus_two)),
        Inbound("cut", line, "+15550100003", "half", T, incomplete=True),
        Inbound("box", line, "+15550100004", "from the phone", T, direction="out", status="sent"),
        Inbound("bad", line, "+15550100004", "", T, refused="bad_sender"),
    ]
    result = await store.ingest_inbound(env.account_id, env.device_id, items, T, feed_page=4)
    read = []
    cursor = before
    while True:
        page = await store.changes_since(env.account_id, cursor, limit=4)
        read.append(page)
        cursor = page.upto
        if not page.more:
            break
    assert [len(p.messages) for p in result.changes] == [4, 4, 1]
    assert result.changes == read
    assert result.changes[-1].upto == result.seq
    assert result.changes[0].messages[0].timestamp == "2026-11-01T10:00:00Z"
    zoned = next(m for p in result.changes for m in p.messages if m.body == "zoned")
    assert zoned.timestamp == "2026-11-01T10:00:01.000005Z"


async def store_lines(env: Env) -> list[int]:
    return [line.id for line in await env.svc.lines.for_account(env.account_id)]


class CountingStore:
    """The store behind the change feed, counting the reads it is asked for."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.reads = 0

    async def changes_since(self, account_id: int, since: int, limit: int = 500):  # type: ignore[no-untyped-def]
        self.reads += 1
        return await self._store.changes_since(account_id, since, limit)  # type: ignore[attr-defined]


async def test_a_bulk_upload_reaches_an_open_tab_without_a_feed_read(env: Env) -> None:
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws", max_msg_size=16 << 20)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await asyncio.wait_for(ws.receive(), 10)).data)["t"] != "device":
        pass
    counting = CountingStore(env.svc.feed._store)
    env.svc.feed._store = counting  # type: ignore[assignment]
    dev = await env.device()
    sent = {f"bulk {n}" for n in range(1, 121)}
    await dev.send(
        Upload(
            items=[
                InboundSms(n=n, key=f"b{n}", sender="+15550100002", body=f"bulk {n}",
                           sent_at=T.isoformat())
                for n in range(1, 121)
            ]
        )
    )  # fmt: skip
    ack = await dev.recv()
    assert isinstance(ack, Ack) and ack.upto == 120
    got: set[str] = set()
    while got != sent:
        frame = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        got.update(m["body"] for m in frame.get("messages", []))
    # 120 messages in one group commit: handed over by the writer, never read back.
    assert counting.reads == 0
    await dev.close()
    await ws.close()
