"""A peer who replies STOP on a line is not texted from it again until START: the block
is recorded with the message, REST sends are refused with a sentence, and what was
already queued never reaches a bridge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from protocol.messages import InboundSms, SendSms, Upload
from server.storage.conversations import Inbound
from server.storage.schema import outbox
from tests.server.conftest import Env

PEER = "+15550100002"


async def line_id(env: Env) -> int:
    return (await env.svc.lines.for_account(env.account_id))[0].id


async def inbound(env: Env, key: str, body: str, minutes: float = 0, peer: str = PEER) -> None:
    """An SMS from ``peer`` stored as the bridge's upload would be."""
    at = env.clock.now() + timedelta(minutes=minutes)
    item = Inbound(key, await line_id(env), peer, body, at)
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, [item], at)


async def send(env: Env, cid: str, to: str = PEER) -> tuple[int, dict]:
    resp = await env.client.post(
        "/api/v1/messages", json={"to": to, "body": "offer!", "client_msg_id": cid}
    )
    return resp.status, await resp.json()


@pytest.mark.sqlite_only("the device link; the storage is the same as below")
async def test_stop_over_the_device_link_blocks_sends_until_start(env: Env) -> None:
    await env.login()
    dev = await env.device()
    sent_at = env.clock.now().isoformat()
    await dev.send(
        Upload(items=[InboundSms(n=1, key="k1", sender=PEER, body=" Stop ", sent_at=sent_at)])
    )
    await dev.recv()  # the Ack: committed
    status, body = await send(env, "c1")
    assert status == 409
    assert body["error"]["code"] == "recipient_opted_out"
    assert body["error"]["message"] == (
        f"{PEER} replied STOP on this line; Ferry will not text them until they send START."
    )
    # Other peers are not affected.
    assert (await send(env, "c2", to="+15550100003"))[0] == 201
    later = (env.clock.now() + timedelta(minutes=1)).isoformat()
    await dev.send(
        Upload(items=[InboundSms(n=2, key="k2", sender=PEER, body="START", sent_at=later)])
    )
    await dev.recv()
    assert (await send(env, "c3"))[0] == 201
    await dev.close()


async def test_keyword_rules_languages_listing_and_order(env: Env) -> None:
    await env.login()
    await inbound(env, "k0", "Stop by the shop later")  # a sentence, not a keyword
    assert (await send(env, "c0"))[0] == 201
    await inbound(env, "k1", "Arrêt", minutes=1)
    status, body = await send(env, "c1")
    assert status == 409 and "replied ARRET" in body["error"]["message"]
    listed = await (await env.client.get("/api/v1/opt-outs")).json()
    assert [(o["peer"], o["keyword"], o["line_id"]) for o in listed["opt_outs"]] == [
        (PEER, "ARRET", await line_id(env))
    ]
    await inbound(env, "k2", "unstop", minutes=2)
    assert (await (await env.client.get("/api/v1/opt-outs")).json())["opt_outs"] == []
    assert (await send(env, "c2"))[0] == 201
    # A STOP, then a START sent before it that arrives after it: the STOP stands.
    await inbound(env, "k4", "STOP", minutes=5)
    await inbound(env, "k3", "START", minutes=4)
    assert (await send(env, "c3"))[0] == 409


async def test_queued_messages_to_a_peer_who_opts_out_never_reach_a_bridge(env: Env) -> None:
    await env.login()
    status, body = await send(env, "c1")  # no bridge connected: it waits in the outbox
    assert status == 201
    message_id = body["message"]["id"]
    await inbound(env, "k1", "STOP", minutes=1)
    async with env.svc.engine.connect() as conn:
        (state,) = (await conn.execute(select(outbox.c.state))).one()
    assert state == "done"
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    page = await (await env.client.get(f"/api/v1/threads/{threads[0]['id']}/messages")).json()
    mine = next(m for m in page["messages"] if m["id"] == message_id)
    assert mine["status"] == "failed" and "replied STOP" in mine["error"]
    dev = await env.device()
    offered = []
    while True:
        try:
            msg = await dev.recv(timeout=0.5)
        except TimeoutError:
            break
        offered += [msg] if isinstance(msg, SendSms) else []
    assert offered == []
    await dev.close()
