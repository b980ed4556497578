"""Sync semantics: conflicts, repair, tombstones, thread actions, search, resync."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime

from sqlalchemy import update

from protocol.messages import Ack, InboundSms, Upload
from server.hub import ChangesHint
from server.storage.conversations import Inbound
from server.storage.schema import accounts
from tests.server.conftest import Env, stored_bytes

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _line(env: Env) -> int:
    return (await env.svc.lines.for_account(env.account_id))[0].id


async def _ingest(env: Env, *items: Inbound, repair: bool = False):  # type: ignore[no-untyped-def]
    return await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, list(items), T, repair=repair
    )


async def test_same_key_different_content_is_a_conflict_not_an_overwrite(env: Env) -> None:
    line = await _line(env)
    await _ingest(env, Inbound("k1", line, "+15550100002", "original", T))
    dev = await env.device()
    items = [
        InboundSms(n=1, key="k1", sender="+15550100002", body="tampered", sent_at=T.isoformat()),
        InboundSms(n=2, key="k2", sender="+15550100002", body="new", sent_at=T.isoformat()),
    ]
    await dev.send(Upload(items=items))
    assert await dev.recv() == Ack(upto=2, conflicts=[1])
    await dev.close()
    threads, _ = await env.svc.conversations.threads(env.account_id)
    msgs, _ = await env.svc.conversations.thread_messages(
        env.account_id, threads[0].id, before=None, limit=10
    )
    assert [m.body for m in msgs] == ["original", "new"]
    assert await env.svc.conversations.conflict_count(env.account_id) == 1


async def test_repair_adds_missing_and_completes_incomplete_never_removes(env: Env) -> None:
    line = await _line(env)
    await _ingest(
        env,
        Inbound("a", line, "+15550100002", "half of a lo", T, incomplete=True),
        Inbound("b", line, "+15550100002", "kept", T),
    )
    result = await _ingest(
        env,
        Inbound("a", line, "+15550100002", "half of a long message", T),
        Inbound("c", line, "+15550100002", "was missing", T),
        repair=True,
    )
    assert (result.added, result.completed, result.conflicts) == (1, 1, [])
    threads, _ = await env.svc.conversations.threads(env.account_id)
    msgs, _ = await env.svc.conversations.thread_messages(
        env.account_id, threads[0].id, before=None, limit=10
    )
    assert [(m.body, m.incomplete) for m in msgs] == [
        ("half of a long message", False),
        ("kept", False),
        ("was missing", False),
    ]


async def test_bodies_are_sealed_at_rest(env: Env) -> None:
    line = await _line(env)
    await _ingest(env, Inbound("s", line, "+15550100002", "the secret plan", T))
    raw = await stored_bytes(env.svc.config)
    assert b"+15550100002" in raw  # numbers are stored in clear: the bytes are the data
    assert b"the secret plan" not in raw
    async with env.svc.engine.connect() as conn:
        from sqlalchemy import select

        from server.storage.schema import messages

        row = (await conn.execute(select(messages.c.body, messages.c.body_sealed))).one()
    assert row.body is None and b"secret" not in row.body_sealed


async def test_deleted_conversation_propagates_as_tombstones(env: Env) -> None:
    line = await _line(env)
    await _ingest(env, Inbound("d1", line, "+15550100002", "delete me", T))
    await env.login()
    thread_id = (await env.svc.conversations.threads(env.account_id))[0][0].id
    cursor = await env.svc.conversations.current_seq(env.account_id)
    assert (await env.client.delete(f"/api/v1/threads/{thread_id}")).status == 204
    changes = await env.svc.conversations.changes_since(env.account_id, cursor)
    assert [(m.deleted, m.body) for m in changes.messages] == [(True, "")]
    assert [t.deleted for t in changes.threads] == [True]
    assert (await (await env.client.get("/api/v1/threads")).json())["threads"] == []
    assert (await env.client.get(f"/api/v1/threads/{thread_id}/messages")).status == 404
    # The bridge re-uploading the same SMS does not bring it back.
    result = await _ingest(env, Inbound("d1", line, "+15550100002", "delete me", T))
    assert (result.added, result.conflicts) == (0, [])
    # A new message from the same person starts the conversation afresh.
    await _ingest(env, Inbound("d2", line, "+15550100002", "hello again", T))
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    page = await (await env.client.get(f"/api/v1/threads/{threads[0]['id']}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["hello again"]


async def test_archive_unread_and_delete_message(env: Env) -> None:
    line = await _line(env)
    await _ingest(
        env,
        Inbound("x1", line, "+15550100002", "one", T),
        Inbound("x2", line, "+15550100002", "two", T),
    )
    await env.login()
    thread = (await (await env.client.get("/api/v1/threads")).json())["threads"][0]
    tid = thread["id"]
    assert thread["unread"] == 2
    r = await env.client.patch(f"/api/v1/threads/{tid}", json={"read": True, "archived": True})
    assert r.status == 204
    thread = (await (await env.client.get("/api/v1/threads")).json())["threads"][0]
    assert (thread["unread"], thread["archived"]) == (0, True)
    await env.client.patch(f"/api/v1/threads/{tid}", json={"read": False})
    thread = (await (await env.client.get("/api/v1/threads")).json())["threads"][0]
    assert thread["unread"] == 1
    r = await env.client.patch(f"/api/v1/threads/{tid}", json={"archived": "yes"})
    assert r.status == 400
    page = await (await env.client.get(f"/api/v1/threads/{tid}/messages")).json()
    first = page["messages"][0]["id"]
    assert (await env.client.delete(f"/api/v1/messages/{first}")).status == 204
    assert (await env.client.delete(f"/api/v1/messages/{first}")).status == 404
    page = await (await env.client.get(f"/api/v1/threads/{tid}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["two"]
    # A new message brings the archived conversation back.
    await _ingest(env, Inbound("x3", line, "+15550100002", "three", T))
    thread = (await (await env.client.get("/api/v1/threads")).json())["threads"][0]
    assert thread["archived"] is False


async def test_search_finds_text_in_sealed_bodies(env: Env) -> None:
    line = await _line(env)
    await _ingest(
        env,
        Inbound("s1", line, "+15550100002", "Dinner at Luigi's?", T),
        Inbound("s2", line, "+15550100003", "no match here", T),
    )
    await env.login()
    found = (await (await env.client.get("/api/v1/search?q=luigi")).json())["messages"]
    assert [m["body"] for m in found] == ["Dinner at Luigi's?"]
    assert (await env.client.get("/api/v1/search?q=a")).status == 400


async def test_cursor_older_than_kept_history_gets_resync(env: Env) -> None:
    line = await _line(env)
    await _ingest(
        env,
        Inbound("r1", line, "+15550100002", "hi", T),
        Inbound("r2", line, "+15550100002", "there", T),
    )
    # History up to seq 2 was pruned: only cursors at or after 2 can resume.
    async with env.svc.engine.begin() as conn:
        await conn.execute(update(accounts).values(min_seq=2))
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    first = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
    assert first["t"] == "changes"  # a fresh client (since 0) just gets everything
    await ws.close()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 1}))
    msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
    _, _, epoch = await env.svc.conversations.snapshot(env.account_id)
    assert msg == {"t": "resync", "epoch": epoch}
    # ...and a cursor from the future (a restored database) too.
    ws2 = await env.client.ws_connect("/api/v1/ws")
    await ws2.send_str(json.dumps({"t": "subscribe", "since": 999}))
    assert json.loads((await asyncio.wait_for(ws2.receive(), 5)).data)["t"] == "resync"


async def test_slow_browser_is_dropped_then_catches_up(env: Env) -> None:
    # A tab that stops reading: its socket's unsent bytes grow past the limit, the
    # fan-out drops it (1013) instead of waiting for it, and it resumes from its cursor.
    line = await _line(env)
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    ws.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await ws.receive()).data)["t"] != "device":
        pass
    cursor = await env.svc.conversations.current_seq(env.account_id)
    (follower,) = env.svc.fanout._accounts[env.account_id].followers
    server_socket = follower._transport.get_extra_info("socket")  # type: ignore[attr-defined]
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    env.svc.fanout._send_buffer = 16 * 1024
    # The client reads nothing from here on; every change is pushed to it.
    for n in range(400):
        body = f"flood {n} " + "x" * 900
        await _ingest(env, Inbound(f"flood{n}", line, "+15550100002", body, T))
        env.svc.hub.publish(env.account_id, ChangesHint(cursor + n + 1))
        await asyncio.sleep(0)
        if follower.dropped:
            break
    assert follower.dropped, "a tab that reads nothing was never dropped"
    msg = await asyncio.wait_for(ws.receive(), 5)
    while msg.type.name == "TEXT":  # what was already on its way
        msg = await asyncio.wait_for(ws.receive(), 5)
    assert (msg.type.name, msg.data) == ("CLOSE", 1013)
    await _ingest(env, Inbound("late", line, "+15550100002", "missed while dropped", T))
    again = await env.client.ws_connect("/api/v1/ws")
    await again.send_str(json.dumps({"t": "subscribe", "since": cursor}))
    bodies: list[str] = []
    while "missed while dropped" not in bodies:
        frame = json.loads((await asyncio.wait_for(again.receive(), 5)).data)
        bodies += [m["body"] for m in frame.get("messages", [])]
    assert bodies[-1] == "missed while dropped"
    assert len(bodies) == len(set(bodies)) == n + 2  # every flood message once, then the late one


async def test_concurrent_first_use_of_an_account_key_agrees_on_one_key(env: Env) -> None:
    from server.storage.keys import KeyRing

    rings = [KeyRing(env.svc.engine, env.svc.keys._master) for _ in range(2)]  # two processes
    ciphers = await asyncio.gather(*(r.cipher(env.account_id) for r in rings for _ in range(3)))
    sealed = ciphers[0].seal("one key")
    assert all(c.open(sealed) == "one key" for c in ciphers)


async def test_uploads_in_flight_are_acknowledged_after_commit_with_their_conflicts(
    env: Env,
) -> None:
    # Uploads sent back to back may be stored together (group commit); the acks are
    # cumulative, the last one covers every item, and a conflict keeps its position.
    line = await _line(env)
    await _ingest(env, Inbound("k1", line, "+15550100002", "original", T))
    dev = await env.device()
    sent = T.isoformat()
    batches = [
        [InboundSms(n=1, key="k2", sender="+15550100002", body="two", sent_at=sent)],
        [InboundSms(n=2, key="k1", sender="+15550100002", body="tampered", sent_at=sent)],
        [InboundSms(n=3, key="k3", sender="+15550100003", body="three", sent_at=sent)],
    ]
    for items in batches:
        await dev.send(Upload(items=items))
    acks: list[Ack] = []
    while not acks or acks[-1].upto < 3:
        acks.append(await dev.recv())
    assert [a.upto for a in acks] == sorted(a.upto for a in acks)
    assert [n for a in acks for n in a.conflicts] == [2]
    await dev.close()
    threads, _ = await env.svc.conversations.threads(env.account_id)
    bodies = set()
    for thread in threads:
        msgs, _ = await env.svc.conversations.thread_messages(
            env.account_id, thread.id, before=None, limit=10
        )
        bodies |= {m.body for m in msgs}
    assert bodies == {"original", "two", "three"}
