"""Text PostgreSQL cannot hold: a NUL character (SQLite keeps it). What a bridge or a
user sends with one is stored, on PostgreSQL with U+FFFD in its place, found again by
the same key, and never costs the rest of a batch (over the real device link)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from protocol.messages import Ack, ContactEntry, Contacts, ContactsAck, InboundSms, Upload
from server.storage.schema import contacts, messages
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def test_an_upload_key_with_a_nul_is_stored_idempotently_with_the_rest(env: Env) -> None:
    dev = await env.device()
    items = [
        InboundSms(n=1, key="k\x001", sender="+15550100002", body="one", sent_at=T.isoformat()),
        InboundSms(n=2, key="k2", sender="+15550100002", body="two", sent_at=T.isoformat()),
    ]
    await dev.send(Upload(items=items))
    assert await dev.recv() == Ack(upto=2)
    await dev.send(Upload(items=items[:1]))  # the same item again: no second copy
    assert await dev.recv() == Ack(upto=1)
    async with env.svc.engine.connect() as conn:
        keys = (await conn.execute(select(messages.c.device_key).order_by(messages.c.id))).all()
    assert [k for (k,) in keys] == [_stored(env, "k\x001"), "k2"]


async def test_a_phonebook_with_nuls_is_stored_and_the_same_snapshot_changes_nothing(
    env: Env,
) -> None:
    dev = await env.device()
    book = Contacts(entries=[ContactEntry("Al\x00ice", "+1555\x000100"), ContactEntry("Bob", "2")])
    await dev.send(book)
    assert await dev.recv() == ContactsAck(count=2)
    seq = await env.svc.conversations.current_seq(env.account_id)
    await dev.send(book)  # the phone sends its phonebook again
    assert await dev.recv() == ContactsAck(count=2)
    assert await env.svc.conversations.current_seq(env.account_id) == seq  # nothing changed
    async with env.svc.engine.connect() as conn:
        rows = (await conn.execute(select(contacts.c.name, contacts.c.number))).all()
    assert sorted(tuple(r) for r in rows) == [
        (_stored(env, "Al\x00ice"), _stored(env, "+1555\x000100")),
        ("Bob", "2"),
    ]


def _stored(env: Env, text: str) -> str:
    """``text`` as the test's database keeps it."""
    if env.svc.engine.dialect.name == "postgresql":
        return text.replace("\x00", "\ufffd")
    return text


async def test_a_device_renamed_with_a_nul_keeps_its_new_name(env: Env) -> None:
    await env.login()
    resp = await env.client.patch(
        f"/api/v1/devices/{env.device_id}", json={"name": "Kitchen\x00phone"}
    )
    assert resp.status in (200, 204), await resp.text()
    (device,) = await env.svc.devices.for_account(env.account_id)
    assert device.name == _stored(env, "Kitchen\x00phone")
