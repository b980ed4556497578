"""Broadcasts go only to numbers with recorded consent that did not reply STOP, paced
per line on the injected clock, each recipient with its own status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from protocol.messages import SendSms, SendStatus
from server.consent.pacing import interval, schedule
from server.consent.release import release_broadcasts
from server.storage.schema import outbox
from tests.server.conftest import Env
from tests.server.test_optouts import inbound

A, B, C, D = "+15550100011", "+15550100012", "+15550100013", "+15550100014"


async def consent(env: Env, number: str, **extra: object) -> dict[str, Any]:
    resp = await env.client.post("/api/v1/consents", json={"number": number, **extra})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["consent"]


async def broadcast(env: Env, numbers: list[str], cid: str = "b1") -> dict[str, Any]:
    resp = await env.client.post(
        "/api/v1/broadcasts", json={"body": "Shop opens at 9", "numbers": numbers, "client_id": cid}
    )
    assert resp.status == 201, await resp.text()
    return (await resp.json())["broadcast"]


async def statuses(env: Env, broadcast_id: int) -> dict[str, str]:
    resp = await env.client.get(f"/api/v1/broadcasts/{broadcast_id}")
    return {r["number"]: r["status"] for r in (await resp.json())["broadcast"]["recipients"]}


def test_pacing_spaces_messages_evenly_after_what_the_line_has_scheduled() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert interval(6) == timedelta(seconds=10)
    assert schedule(now, None, 3, 6) == [
        now,
        now + timedelta(seconds=10),
        now + timedelta(seconds=20),
    ]
    later = now + timedelta(minutes=5)
    assert schedule(now, later, 1, 60) == [later + timedelta(seconds=1)]
    assert schedule(later, now, 1, 60) == [later]  # the line's last one is long past


async def test_only_consenting_numbers_get_it_paced_with_a_status_each(env: Env) -> None:
    await env.login()
    given = await consent(env, A, given_at="2026-10-30T09:00:00Z", note="signed up in the shop")
    assert (
        given["given_at"] == "2026-10-30T09:00:00Z"
        and given["recorded_at"] == "2026-11-01T12:00:00Z"
    )
    for number in (B, D):
        await consent(env, number)
    await inbound(env, "k1", "STOP", peer=D)
    sent = await broadcast(env, [A, B, C, D, A])
    assert [(r["number"], r["status"]) for r in sent["recipients"]] == [
        (A, "queued"), (B, "queued"), (C, "skipped_no_consent"), (D, "skipped_opted_out"),
    ]  # fmt: skip
    due = {r["number"]: r["due_at"] for r in sent["recipients"]}
    assert (due[A], due[B]) == ("2026-11-01T12:00:00Z", "2026-11-01T12:00:10Z")  # 6 a minute
    # Two nodes' jobs at once (here two runs of this node's): one message, not two.
    await asyncio.gather(release_broadcasts(env.svc), release_broadcasts(env.svc))
    async with env.svc.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.recipient))).scalars().all()
    assert rows == [A]
    assert (await statuses(env, sent["id"]))[A] == "queued"  # its message waits in the outbox
    got = await (await env.client.get(f"/api/v1/broadcasts/{sent['id']}")).json()
    released = {r["number"]: r["message_id"] for r in got["broadcast"]["recipients"]}
    assert released[A] is not None and released[B] is None  # B's time has not come
    env.clock.advance(10)
    await release_broadcasts(env.svc)
    dev = await env.device()
    orders = [m for m in [await dev.recv(), await dev.recv()] if isinstance(m, SendSms)]
    assert sorted(o.to for o in orders) == [A, B] and {o.body for o in orders} == {
        "Shop opens at 9"
    }
    first = next(o for o in orders if o.to == A)
    await dev.send(SendStatus(outbox_id=first.outbox_id, status="delivered"))
    for _ in range(50):
        if (await statuses(env, sent["id"]))[A] == "delivered":
            break
        await asyncio.sleep(0.05)
    # B was handed to the bridge, which has not confirmed taking it yet.
    assert await statuses(env, sent["id"]) == {
        A: "delivered", B: "queued", C: "skipped_no_consent", D: "skipped_opted_out",
    }  # fmt: skip
    await dev.close()
    # The same request again (a retry) is the same broadcast, not a second one.
    assert (await broadcast(env, [A, B]))["id"] == sent["id"]
    listed = (await (await env.client.get("/api/v1/broadcasts")).json())["broadcasts"]
    assert [b["id"] for b in listed] == [sent["id"]]
    assert listed[0]["counts"] == {
        "delivered": 1, "queued": 1, "skipped_no_consent": 1, "skipped_opted_out": 1,
    }  # fmt: skip


async def test_the_line_paces_across_broadcasts_and_consent_is_checked_again(env: Env) -> None:
    await env.login()
    records = {n: await consent(env, n) for n in (A, B, C)}
    first = await broadcast(env, [A, B], cid="b1")
    second = await broadcast(env, [C], cid="b2")
    (c,) = second["recipients"]
    assert c["due_at"] == "2026-11-01T12:00:20Z"  # after the first broadcast's two
    # Before B's and C's turn: B's consent is withdrawn, C replies STOP.
    resp = await env.client.delete(f"/api/v1/consents/{records[B]['id']}")
    assert resp.status == 204
    await inbound(env, "k1", "stop", peer=C)
    env.clock.advance(30)
    await release_broadcasts(env.svc)
    assert await statuses(env, first["id"]) == {A: "queued", B: "skipped_no_consent"}
    assert await statuses(env, second["id"]) == {C: "skipped_opted_out"}


@pytest.mark.sqlite_only("the storage is covered on both backends above")
async def test_cancel_stops_what_is_not_released(env: Env) -> None:
    await env.login()
    for number in (A, B):
        await consent(env, number)
    sent = await broadcast(env, [A, B])
    await release_broadcasts(env.svc)
    resp = await env.client.post(f"/api/v1/broadcasts/{sent['id']}/cancel")
    assert resp.status == 200
    env.clock.advance(60)
    await release_broadcasts(env.svc)
    assert await statuses(env, sent["id"]) == {A: "queued", B: "cancelled"}
    assert (await env.client.post("/api/v1/broadcasts/999/cancel")).status == 404


@pytest.mark.sqlite_only("validation only")
async def test_bad_broadcasts_and_consents_get_plain_400s(env: Env) -> None:
    await env.login()
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/broadcasts", {"body": "", "numbers": [A], "client_id": "x"}, "invalid_body"),
        ("/api/v1/broadcasts", {"body": "hi", "numbers": A, "client_id": "x"}, "invalid_numbers"),
        ("/api/v1/broadcasts", {"body": "hi", "numbers": [A] * 501, "client_id": "x"}, "invalid_numbers"),  # noqa: E501
        ("/api/v1/broadcasts", {"body": "hi", "numbers": ["Mum"], "client_id": "x"}, "cannot_reply_to_name"),  # noqa: E501
        ("/api/v1/broadcasts", {"body": "hi", "numbers": [A]}, "invalid_client_id"),
        ("/api/v1/consents", {"number": A, "given_at": "2099-01-01T00:00:00Z"}, "invalid_given_at"),
        ("/api/v1/consents", {"number": A, "given_at": "yesterday"}, "invalid_given_at"),
        ("/api/v1/consents", {"number": A, "note": "x" * 201}, "invalid_note"),
        ("/api/v1/consents", {"number": "12"}, "invalid_number"),
    ]  # fmt: skip
    for path, body, code in cases:
        resp = await env.client.post(path, json=body)
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["error"]["code"] == code
