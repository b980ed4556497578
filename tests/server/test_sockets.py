"""Device and browser sockets over real loopback websockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from protocol.messages import (
    Ack,
    Error,
    InboundSms,
    SendSms,
    SendStatus,
    StatusAck,
    Upload,
    Welcome,
)
from tests.device_link import DeviceClient
from tests.server.conftest import Env


async def device(env: Env) -> DeviceClient:
    return await env.device()


async def recv(dev: DeviceClient) -> Any:
    return await dev.recv()


def sms(
    n: int, body: str = "hello", key: str | None = None, sender: str = "+15550100002"
) -> InboundSms:
    return InboundSms(
        n=n, key=key or f"k{n}", sender=sender, body=body, sent_at="2026-11-01T11:59:00+01:00"
    )


async def browser(env: Env, since: int = 0) -> aiohttp.ClientWebSocketResponse:
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": since}))
    return ws


async def browser_until(ws: aiohttp.ClientWebSocketResponse, pred) -> dict:  # type: ignore[no-untyped-def]
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if pred(data):
            return data


async def test_device_hello_welcome_upload_ack_and_idempotent(env: Env) -> None:
    ws = await device(env)
    welcome = ws.welcome
    assert (
        isinstance(welcome, Welcome) and welcome.lines == ["+15550100001"] and welcome.version == 1
    )
    await ws.send(Upload(items=[sms(1), sms(2, "second")]))
    assert await recv(ws) == Ack(upto=2)
    # The same keys again (a retry after a lost ack): acknowledged, not stored twice.
    await ws.send(Upload(items=[sms(1), sms(2, "second")]))
    assert await recv(ws) == Ack(upto=2)
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert len(threads) == 1 and threads[0]["unread"] == 2
    page = await (await env.client.get(f"/api/v1/threads/{threads[0]['id']}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["hello", "second"]
    assert page["messages"][0]["timestamp"] == "2026-11-01T10:59:00Z"
    await ws.close()


async def test_malformed_message_in_a_good_frame_gets_an_error_then_closes(env: Env) -> None:
    dev = await device(env)
    await dev.ws.send_bytes(dev.noise.encrypt(b'{"t":"upload","items":"nope"}'))
    err = await dev.recv()
    assert isinstance(err, Error) and err.code == "malformed_message"
    assert await dev.closed() == 1002


async def test_handshake_timeout_closes(env: Env) -> None:
    ws = await env.client.ws_connect("/api/v1/device")
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1008


async def test_browser_gets_backlog_then_live_changes(env: Env) -> None:
    dev = await device(env)
    await dev.send(Upload(items=[sms(1, "old")]))
    await recv(dev)
    await env.login()
    ws = await browser(env)
    first = await browser_until(ws, lambda d: d["t"] == "changes")
    assert [m["body"] for m in first["messages"]] == ["old"]
    cursor = first["upto"]
    devices = await browser_until(ws, lambda d: d["t"] == "device")
    assert devices["devices"][0]["online"] is True
    await dev.send(Upload(items=[sms(2, "live")]))
    live = await browser_until(ws, lambda d: d["t"] == "changes")
    assert [m["body"] for m in live["messages"]] == ["live"] and live["upto"] > cursor
    assert live["threads"][0]["last_message"]["body"] == "live"
    await ws.close()
    # Resume from the old cursor: exactly the missed change, nothing twice.
    again = await browser(env, since=cursor)
    resumed = await browser_until(again, lambda d: d["t"] == "changes")
    assert [m["body"] for m in resumed["messages"]] == ["live"]


async def test_browser_socket_requires_session_and_origin(env: Env) -> None:
    ws = await env.client.ws_connect("/api/v1/ws")
    msg = await ws.receive()
    assert json.loads(msg.data)["code"] == "unauthenticated"
    await ws.receive()
    assert ws.close_code == 4401
    await env.login()
    try:
        await env.client.ws_connect("/api/v1/ws", headers={"Origin": "https://evil.example"})
        raise AssertionError("foreign origin accepted")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403


async def test_outgoing_message_flows_to_device_and_status_back(env: Env) -> None:
    dev = await device(env)
    await env.login()
    ws = await browser(env)
    await browser_until(ws, lambda d: d["t"] == "device")
    resp = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "reply", "client_msg_id": "x1"}
    )
    message = (await resp.json())["message"]
    order = await recv(dev)
    assert isinstance(order, SendSms) and order.to == "+15550100002" and order.body == "reply"
    await dev.send(SendStatus(outbox_id=order.outbox_id, status="accepted"))
    assert await recv(dev) == StatusAck(outbox_id=order.outbox_id, status="accepted")
    await dev.send(SendStatus(outbox_id=order.outbox_id, status="sent", references=[7]))
    assert await recv(dev) == StatusAck(outbox_id=order.outbox_id, status="sent")
    sent = await browser_until(
        ws, lambda d: d["t"] == "changes" and any(m["status"] == "sent" for m in d["messages"])
    )
    assert sent["messages"][0]["id"] == message["id"]
    # A late, replayed "accepted" does not move the status backwards.
    await dev.send(SendStatus(outbox_id=order.outbox_id, status="accepted"))
    await recv(dev)
    page = await (await env.client.get(f"/api/v1/threads/{message['thread_id']}/messages")).json()
    assert page["messages"][0]["status"] == "sent"


async def test_undelivered_outbox_is_offered_again_after_reconnect(env: Env) -> None:
    await env.login()
    await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "queued", "client_msg_id": "q"}
    )
    dev = await device(env)
    first = await recv(dev)
    assert isinstance(first, SendSms)
    await dev.close()  # gone before confirming anything
    dev2 = await device(env)
    again = await recv(dev2)
    assert isinstance(again, SendSms) and again.outbox_id == first.outbox_id
