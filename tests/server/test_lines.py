"""Lines: conversations belong to a line; unverified lines are stored but never served."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from sqlalchemy import insert

from protocol.messages import Ack, InboundSms, Upload
from server.storage.conversations import Inbound
from server.storage.lines import insert_line
from server.storage.schema import device_lines
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _second_line(env: Env, number: str = "+15550100009") -> int:
    async with env.svc.engine.begin() as conn:
        line_id = await insert_line(conn, env.account_id, number, env.clock.now(), None)
        await conn.execute(insert(device_lines).values(device_id=env.device_id, line_id=line_id))
    return line_id


async def test_same_peer_on_two_lines_is_two_threads(env: Env) -> None:
    first = (await env.svc.lines.for_account(env.account_id))[0].id
    second = await _second_line(env)
    await env.svc.lines.set_verified(env.account_id, "+15550100009", env.clock.now())
    items = [
        Inbound("a", first, "+15550100002", "to SIM 1", T),
        Inbound("b", second, "+15550100002", "to SIM 2", T),
    ]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert sorted((t["line"], t["last_message"]["body"]) for t in threads) == [
        ("+15550100001", "to SIM 1"),
        ("+15550100009", "to SIM 2"),
    ]


async def test_unverified_line_is_stored_but_not_served(env: Env) -> None:
    second = await _second_line(env)
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, [Inbound("x", second, "+15550100002", "secret", T)], T
    )
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert threads == []
    # The browser socket sends nothing of it either.
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while True:
        msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        assert "secret" not in json.dumps(msg)
        if msg["t"] == "device":
            break
    # Sending from it is refused; once verified, everything appears.
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "1", "line_id": second},
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "phone_unverified"
    await env.svc.lines.set_verified(env.account_id, "+15550100009", env.clock.now())
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert [t["last_message"]["body"] for t in threads] == ["secret"]


async def test_other_accounts_line_is_404(env: Env) -> None:
    await env.login()
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "1", "line_id": 999},
    )
    assert resp.status == 404


async def test_upload_names_the_receiving_line(env: Env) -> None:
    second = await _second_line(env)
    await env.svc.lines.set_verified(env.account_id, "+15550100009", env.clock.now())
    ws = await env.device()
    assert ws.welcome.lines == ["+15550100001", "+15550100009"]
    item = InboundSms(
        n=1,
        key="k",
        sender="+15550100002",
        body="dual SIM",
        sent_at=T.isoformat(),
        line="+15550100009",
    )
    await ws.send(Upload(items=[item]))
    assert await ws.recv() == Ack(upto=1)
    threads, _ = await env.svc.conversations.threads(env.account_id)
    assert [(t.line_id, t.last_message.body) for t in threads] == [(second, "dual SIM")]  # type: ignore[union-attr]
    await ws.close()


async def test_lines_listed(env: Env) -> None:
    await env.login()
    lines = (await (await env.client.get("/api/v1/lines")).json())["lines"]
    assert [(x["number"], x["verified"]) for x in lines] == [("+15550100001", True)]
