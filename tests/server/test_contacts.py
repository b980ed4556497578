"""Contacts: phonebook snapshots from the bridge name conversations, live."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from protocol.messages import ContactEntry, Contacts, ContactsAck
from server.storage.conversations import Inbound
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _snapshot(env: Env, *entries: tuple[str, str]) -> None:
    """Send a phonebook snapshot over the test's one bridge connection (a bridge keeps one)."""
    dev = getattr(env, "contacts_link", None)
    if dev is None:
        dev = await env.device()
        env.contacts_link = dev  # type: ignore[attr-defined]
    await dev.send(Contacts(entries=[ContactEntry(name=n, number=x) for n, x in entries]))  # type: ignore[attr-defined]
    assert await dev.recv() == ContactsAck(count=len(entries))  # type: ignore[attr-defined]


async def test_snapshot_names_threads_and_lists_contacts(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, [Inbound("a", line, "+15550100002", "hi", T)], T
    )
    await _snapshot(env, ("Alice", "+15550100002"), ("Zoë", "+447700900123"))
    await env.login()
    contacts = (await (await env.client.get("/api/v1/contacts")).json())["contacts"]
    assert [(c["name"], c["number"]) for c in contacts] == [
        ("Alice", "+15550100002"),
        ("Zoë", "+447700900123"),
    ]
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert [(t["title"], t["peer"]) for t in threads] == [("Alice", "+15550100002")]


async def test_rename_and_removal_reach_open_browsers(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, [Inbound("a", line, "+15550100002", "hi", T)], T
    )
    await _snapshot(env, ("Alice", "+15550100002"))
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await asyncio.wait_for(ws.receive(), 5)).data)["t"] != "device":
        pass
    await _snapshot(env, ("Alice Smith", "+15550100002"))

    async def next_title() -> str:
        while True:
            msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
            if msg["t"] == "changes" and msg["threads"]:
                return str(msg["threads"][0]["title"])

    assert await next_title() == "Alice Smith"
    await _snapshot(env)  # the number left the phonebook
    assert await next_title() == "+15550100002"
    assert (await (await env.client.get("/api/v1/contacts")).json())["contacts"] == []


async def test_unchanged_snapshot_changes_nothing(env: Env) -> None:
    await _snapshot(env, ("Alice", "+15550100002"))
    seq = await env.svc.conversations.current_seq(env.account_id)
    await _snapshot(env, ("Alice", "+15550100002"))
    assert await env.svc.conversations.current_seq(env.account_id) == seq
