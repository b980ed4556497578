"""Deleting an account: password-confirmed, its data key destroyed first, every session,
socket, bridge and code ended at once, rows purged in the background, nothing of its
content left readable in the raw database; the number signs up again into an empty
account. Real loopback HTTP and websockets, both backends."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from protocol.messages import Attachment
from server.auth.codes import CODE_TTL
from server.storage.codes import CodeStore
from server.storage.conversations import Inbound
from server.storage.erasure import erase
from server.storage.keys import AccountDeleted
from server.storage.schema import (
    accounts,
    devices,
    messages,
    metadata,
    oauth_grants,
    pairing_codes,
    sessions,
    verification_codes,
)
from server.ws.browsers import CLOSE_SESSION_ENDED
from tests.device_link import new_pairing_code
from tests.server.conftest import PASSWORD, PHONE, Env, stored_bytes
from tests.server.oauth_flow import bearer, register, tokens_for
from tests.server.test_sessions import closed_with, subscribed

BODY = "the secret plan is QX7-ZEBRA"
CONTACT = "Zebediah Quartermaine"
PEER = "+15550177777"
PICTURE = b"\x89PNG-secret-picture-bytes-QX7"


async def _seed(env: Env) -> int:
    """A conversation with a text and an MMS, a contact and a profile; returns the line."""
    svc = env.svc
    (line,) = await svc.lines.for_account(env.account_id)
    now = env.clock.now()
    items = [
        Inbound("k1", line.id, PEER, BODY, now),
        Inbound(
            "k2",
            line.id,
            PEER,
            "a picture",
            now,
            attachments=(Attachment(mime="image/png", data=PICTURE, name="zebra-plan.png"),),
        ),
    ]
    await svc.conversations.ingest_inbound(env.account_id, env.device_id, items, now)
    await svc.contacts.replace(env.account_id, line.id, [(CONTACT, PEER)])
    await svc.accounts.update_profile(env.account_id, email="zeb@example.org", display_name="Zeb Q")
    await svc.lines.set_label(env.account_id, line.id, "Plotting line")
    return line.id


async def test_delete_needs_the_password_and_ends_everything_at_once(env: Env) -> None:
    await _seed(env)
    http = env.browser()
    login = {"phone": PHONE, "password": PASSWORD}
    assert (await http.post("/api/v1/session", json=login)).status == 200
    ws = await subscribed(http)
    bridge = await env.device()
    app = await register(env)
    token = (await tokens_for(env, app))["access_token"]
    assert (await env.client.get("/api/v1/threads", headers=bearer(token))).status == 200
    wrong = await http.post("/api/v1/me/delete", json={"password": "not my password"})
    assert wrong.status == 403 and (await wrong.json())["error"]["code"] == "wrong_password"
    assert (await http.get("/api/v1/threads")).status == 200
    await env.login()  # a second session

    resp = await http.post("/api/v1/me/delete", json={"password": PASSWORD})
    assert resp.status == 204
    # Browser socket, bridge socket, every session: all gone at once.
    assert await closed_with(ws) == CLOSE_SESSION_ENDED
    assert await bridge.closed() is not None
    assert (await http.get("/api/v1/me")).status == 401
    assert (await env.client.get("/api/v1/me")).status == 401
    assert await env.svc.devices.get(env.account_id, env.device_id) is None
    assert (await http.post("/api/v1/session", json=login)).status == 401
    # An app's token stops at once too (before the background purge).
    assert (await env.client.get("/api/v1/threads", headers=bearer(token))).status == 401
    with pytest.raises(AccountDeleted):
        await env.svc.keys.cipher(env.account_id)


async def test_the_key_goes_first_then_the_rows(env: Env) -> None:
    """Straight after the deletion's transaction, before any purge: the wrapped key is
    gone (the sealed bodies still there cannot be opened by anyone); the purge then
    removes every row of the account."""
    await _seed(env)
    await new_pairing_code(env.svc, env.account_id, "http://127.0.0.1")
    await env.svc.sessions.create("a-session-id", env.account_id, env.clock.now(), "ua")
    await CodeStore(env.svc.engine, ttl=CODE_TTL, max_attempts=5).issue(
        env.account_id, "change_phone", "+15550199999", bytes(32), env.clock.now()
    )
    await tokens_for(env, await register(env))
    await erase(env.svc.engine, env.account_id, env.clock.now())
    async with env.svc.engine.connect() as conn:
        # Apps' grants end in the same transaction (their tokens need a live grant).
        grants = (
            await conn.execute(
                select(oauth_grants.c.revoked_at).where(
                    oauth_grants.c.account_id == env.account_id
                )
            )
        ).scalars().all()
        assert len(grants) == 1 and all(g is not None for g in grants)
        for table in (sessions, pairing_codes, verification_codes):
            gone = select(func.count()).select_from(table)
            assert (await conn.execute(gone)).scalar_one() == 0, table.name
        live = select(func.count()).where(devices.c.revoked_at.is_(None))
        assert (await conn.execute(live)).scalar_one() == 0
        key, phone = (
            await conn.execute(
                select(accounts.c.data_key, accounts.c.phone).where(accounts.c.id == env.account_id)
            )
        ).one()
        sealed = (
            await conn.execute(select(func.count()).where(messages.c.body_sealed.is_not(None)))
        ).scalar_one()
    assert key is None and phone != PHONE
    assert sealed == 2  # still stored, but unreadable: the key that opened them is gone
    assert await env.svc.purge_deleted() == 1
    async with env.svc.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "account_id" in table.c:
                left = (
                    await conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.account_id == env.account_id)
                    )
                ).scalar_one()
                assert left == 0, table.name


async def test_nothing_readable_remains_and_the_number_starts_afresh(env: Env) -> None:
    await _seed(env)
    async with env.svc.engine.connect() as conn:
        ciphertexts = list((await conn.execute(select(messages.c.body_sealed))).scalars())
    if env.svc.config.database_url is None:
        # Data that has lived a while is in the database file itself, not only the WAL.
        db = sqlite3.connect(env.svc.config.data_dir / "ferry.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    before = await stored_bytes(env.svc.config)
    for needle in (BODY.encode(), PICTURE):
        assert needle not in before  # sealed at rest from the start
    plain = [CONTACT.encode(), PEER.encode(), b"zeb@example.org", b"Plotting line", PHONE.encode()]
    assert all(p in before for p in plain)  # what deletion must take away

    await env.login()
    assert (await env.client.post("/api/v1/me/delete", json={"password": PASSWORD})).status == 204
    await env.svc.background.drain()  # the purge the deletion started

    after = await stored_bytes(env.svc.config)
    # Every file of the data directory too (keys, marks, the SQLite files and their -shm).
    after += b"".join(f.read_bytes() for f in env.svc.config.data_dir.rglob("*") if f.is_file())
    for needle in [BODY.encode(), PICTURE, b"zebra-plan", *plain, *ciphertexts]:
        assert needle not in after, needle[:20]

    # The number signs up again, into an empty account.
    code = await env.signup(PHONE)
    assert (await env.client.post("/api/v1/me/phone/verify", json={"code": code})).status == 200
    threads = await (await env.client.get("/api/v1/threads")).json()
    assert threads["threads"] == []
    assert (await (await env.client.get("/api/v1/contacts")).json())["contacts"] == []
    privacy = await (await env.client.get("/api/v1/me/privacy")).json()
    assert privacy["stored"]["messages"] == 0 and privacy["stored"]["devices"] == 0
