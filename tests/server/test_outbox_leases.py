"""Exactly one bridge sends each outgoing message: line leases, claims and whose reports
count, over the real device link with two bridges of one account."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from protocol.link import generate_keypair
from protocol.messages import Ping, SendSms, SendStatus
from server.storage.outbox import LEASE_GRACE, LEASE_TTL, TAKEN_OVER
from server.storage.schema import outbox
from tests.device_link import DeviceClient
from tests.server.conftest import Env, write_lock


async def second_bridge(env: Env) -> bytes:
    """Register another bridge of the account (serving its line); its private key."""
    private, public = generate_keypair()
    await env.svc.devices.create(env.account_id, "second bridge", public, env.clock.now())
    return private


async def send(env: Env, cid: str, body: str = "hello") -> dict[str, Any]:
    resp = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": body, "client_msg_id": cid}
    )
    assert resp.status == 201, await resp.text()
    return (await resp.json())["message"]


async def orders(dev: DeviceClient, wait: float = 1.0) -> list[SendSms]:
    """The SendSms orders the bridge receives within ``wait`` seconds."""
    got: list[SendSms] = []
    while True:
        try:
            message = await dev.recv(timeout=wait)
        except TimeoutError:
            return got
        if isinstance(message, SendSms):
            got.append(message)


async def status_of(env: Env, message_id: int) -> tuple[str, str | None]:
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    for thread in threads:
        page = await (await env.client.get(f"/api/v1/threads/{thread['id']}/messages")).json()
        for m in page["messages"]:
            if m["id"] == message_id:
                return m["status"], m["error"]
    raise AssertionError("no such message")


async def settled(env: Env, message_id: int, status: str) -> tuple[str, str | None]:
    """The message's status and error once it is ``status`` (or after 5 s, as it is)."""
    for _ in range(50):
        if (await status_of(env, message_id))[0] == status:
            break
        await asyncio.sleep(0.1)
    return await status_of(env, message_id)


async def outbox_rows(env: Env) -> list[Any]:
    async with env.svc.engine.connect() as conn:
        return list(await conn.execute(select(outbox).order_by(outbox.c.id)))


async def test_only_the_bridge_holding_the_line_is_offered_a_message(env: Env) -> None:
    first = await env.device()
    await asyncio.sleep(0.2)  # its pump took the lease
    second = await env.device(await second_bridge(env))
    await env.login()
    message = await send(env, "c1")
    (order,) = await orders(first)
    assert order.body == "hello" and order.to == "+15550100002"
    assert await orders(second, wait=0.5) == []
    (row,) = await outbox_rows(env)
    assert row.state == "dispatched" and row.device_id == env.device_id
    assert message["status"] == "queued"


async def test_only_the_claiming_bridges_reports_count(env: Env) -> None:
    first = await env.device()
    await asyncio.sleep(0.2)
    second = await env.device(await second_bridge(env))
    await env.login()
    message = await send(env, "c1")
    (order,) = await orders(first)
    # The other bridge's "failed" must not hide the true outcome (nor invite a resend).
    await second.send(SendStatus(outbox_id=order.outbox_id, status="failed", error="nope"))
    await second.send(Ping())
    await asyncio.sleep(0.3)
    assert (await status_of(env, message["id"]))[0] == "queued"
    await first.send(SendStatus(outbox_id=order.outbox_id, status="delivered"))
    await first.send(Ping())
    assert await settled(env, message["id"], "delivered") == ("delivered", None)


async def test_a_bridge_that_vanished_leaves_its_claim_unknown_never_sent_twice(
    env: Env,
) -> None:
    first = await env.device()
    await asyncio.sleep(0.2)
    second = await env.device(await second_bridge(env))
    await env.login()
    message = await send(env, "c1")
    (order,) = await orders(first)
    await first.close()
    # The line stays with the first bridge for the grace period, then the second takes
    # it: what the first held becomes unknown, new messages go to the second.
    await asyncio.sleep(0.3)
    env.svc.registry.wake_outbox(env.account_id)
    assert await orders(second, wait=0.5) == []
    env.clock.advance(LEASE_GRACE.total_seconds() + 1)
    env.svc.registry.wake_outbox(env.account_id)
    assert await orders(second, wait=0.5) == []
    assert await status_of(env, message["id"]) == ("unknown", TAKEN_OVER)
    later = await send(env, "c2", "later")
    (order2,) = await orders(second)
    assert order2.body == "later" and order2.outbox_id != order.outbox_id
    # The first bridge comes back and reports what really happened: the truth wins.
    back = await env.device()
    await back.send(SendStatus(outbox_id=order.outbox_id, status="delivered"))
    await back.send(Ping())
    assert await settled(env, message["id"], "delivered") == ("delivered", None)
    assert (await status_of(env, later["id"]))[0] == "queued"
    assert await orders(back, wait=0.3) == []  # the line is the second bridge's now


async def test_a_quick_reconnect_keeps_the_line_and_gets_its_order_again(env: Env) -> None:
    first = await env.device()
    await asyncio.sleep(0.2)
    second = await env.device(await second_bridge(env))
    await env.login()
    await send(env, "c1")
    (order,) = await orders(first)
    await first.close()
    await asyncio.sleep(0.2)
    again = await env.device()
    # Re-offered to the same bridge (its journal answers a repeat with its outcome).
    (repeat,) = await orders(again)
    assert repeat.outbox_id == order.outbox_id
    assert await orders(second, wait=0.5) == []


async def test_an_expired_lease_of_a_silent_node_is_taken_over(env: Env) -> None:
    """A holder whose node died never renews: past the lease's life, the line is free.
    Moving the clock past the TTL makes both bridges race for it: whichever renews first
    holds it, and a message is offered to exactly one of them."""
    first = await env.device()
    await asyncio.sleep(0.2)
    second = await env.device(await second_bridge(env))
    env.clock.advance(LEASE_TTL.total_seconds() + 1)
    env.svc.registry.wake_outbox(env.account_id)
    await asyncio.sleep(0.3)
    await env.login()
    await send(env, "c1")
    got_first, got_second = await asyncio.gather(orders(first), orders(second))
    assert len(got_first) + len(got_second) == 1


async def test_a_bad_frame_closes_the_link_at_once_even_when_the_database_is_busy(
    env: Env,
) -> None:
    dev = await env.device()
    await dev.send(Ping())
    await asyncio.sleep(0.3)
    # Another process holds the write lock (a long ingest, a backup).
    async with write_lock(env.svc.config):
        await dev.ws.send_bytes(dev.noise.encrypt(b'{"t":"upload","items":5}'))
        assert await dev.closed(timeout=5) == 1002
    assert env.svc.registry.get(env.device_id) is None
    # Nothing is ever claimed for the bridge that is gone.
    await env.login()
    await send(env, "c1")
    env.svc.registry.wake_outbox(env.account_id)
    await asyncio.sleep(1.0)
    (row,) = await outbox_rows(env)
    assert row.state == "pending" and row.device_id is None


async def test_letting_go_never_shortens_a_lease_a_newer_connection_renewed(env: Env) -> None:
    from datetime import timedelta

    from server.storage.schema import line_leases

    line_ids = [line.id for line in await env.svc.lines.for_account(env.account_id)]
    now = env.clock.now()

    async def expires() -> object:
        async with env.svc.engine.connect() as conn:
            return (await conn.execute(select(line_leases.c.expires_at))).scalar_one()

    # The old connection ended before the new one renewed: the lease stays whole.
    await env.svc.outbox.renew(env.account_id, env.device_id, line_ids, now)
    await env.svc.outbox.let_go(env.device_id, now - timedelta(seconds=1))
    assert await expires() == now + LEASE_TTL
    # The last connection ended after its renewal: the line is free after the grace.
    ended = now + timedelta(seconds=5)
    await env.svc.outbox.let_go(env.device_id, ended)
    assert await expires() == ended + LEASE_GRACE
