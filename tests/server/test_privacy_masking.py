"""Permanent masking ("mask now", and the mask-sent setting) and retention: real HTTP,
the browser socket's change feed, the raw database; both backends."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select

from protocol.messages import Attachment
from server.config import Config, ConfigError
from server.storage.conversations import Inbound
from server.storage.masking import MASK, NOT_SENT
from server.storage.schema import attachments, messages
from tests.server.conftest import Env, stored_bytes
from tests.server.test_sockets import browser, browser_until

PEER = "+15550177777"
SECRET = "meet me at the old mill QX9"
PICTURE = b"\x89PNG-a-picture-only-the-two-of-us-have"


async def _line(env: Env) -> int:
    (line,) = await env.svc.lines.for_account(env.account_id)
    return line.id


async def _ingest(env: Env, *items: Inbound) -> None:
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, items, env.clock.now()
    )


async def _page(env: Env, thread_id: int) -> list[dict]:
    resp = await env.client.get(f"/api/v1/threads/{thread_id}/messages")
    return (await resp.json())["messages"]


def _checkpoint(env: Env) -> None:
    if env.svc.config.database_url is None:
        db = sqlite3.connect(env.svc.config.data_dir / "ferry.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()


async def test_mask_now_destroys_the_content_everywhere_for_good(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    line = await _line(env)
    now = env.clock.now()
    picture = Attachment(mime="image/png", data=PICTURE, name="mill.png")
    await _ingest(
        env,
        Inbound("k1", line, PEER, SECRET, now),
        Inbound("k2", line, PEER, "and bring this", now, attachments=(picture,)),
        Inbound("k3", line, PEER, "see you", now),
    )
    await env.login()
    (thread,) = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    first, second, third = await _page(env, thread["id"])
    async with env.svc.engine.connect() as conn:
        sealed = (
            await conn.execute(select(messages.c.body_sealed).where(messages.c.id == first["id"]))
        ).scalar_one()
    ws = await browser(env)
    await browser_until(ws, lambda f: f["t"] == "changes" and f["upto"] >= 3)

    assert (await env.client.post(f"/api/v1/messages/{first['id']}/mask")).status == 204
    # The change feed carries it to the open browser.
    frame = await browser_until(
        ws, lambda f: f["t"] == "changes" and any(m["id"] == first["id"] for m in f["messages"])
    )
    (pushed,) = [m for m in frame["messages"] if m["id"] == first["id"]]
    assert pushed["body"] == MASK and pushed["masked"] is True
    # No frame cached for other tabs still holds the old text.
    cached = [f.result().text for f in env.svc.feed._cache.values() if f.done()]
    assert cached and not any("old mill" in text for text in cached)
    # REST shows it masked; search no longer finds its text.
    page = await _page(env, thread["id"])
    assert [m["body"] for m in page] == [MASK, "and bring this", "see you"]
    found = await (await env.client.get("/api/v1/search", params={"q": "old mill"})).json()
    assert found["messages"] == []
    # Irreversible: masking again changes nothing; the bridge's re-upload brings nothing back.
    assert (await env.client.post(f"/api/v1/messages/{first['id']}/mask")).status == 204
    await _ingest(env, Inbound("k1", line, PEER, SECRET, now))
    assert (await _page(env, thread["id"]))[0]["body"] == MASK

    # The whole conversation: its picture goes too.
    assert second["attachments"]
    assert (await env.client.post(f"/api/v1/threads/{thread['id']}/mask")).status == 204
    assert [m["body"] for m in await _page(env, thread["id"])] == [MASK] * 3
    assert all(not m.get("attachments") for m in await _page(env, thread["id"]))
    assert (await env.client.post("/api/v1/messages/999999/mask")).status == 404

    # The raw storage keeps neither the ciphertexts nor the picture.
    async with env.svc.engine.connect() as conn:
        bodies = list((await conn.execute(select(messages.c.body_sealed))).scalars())
        parts = (await conn.execute(select(attachments.c.id))).all()
    assert bodies == [None, None, None] and parts == []
    _checkpoint(env)
    raw = await stored_bytes(env.svc.config)
    assert sealed not in raw and PICTURE not in raw
    assert SECRET not in caplog.text and third["id"]
    await ws.close()


async def test_mask_sent_masks_once_the_phone_reports_it_sent(env: Env) -> None:
    await env.login()
    resp = await env.client.patch("/api/v1/me/privacy", json={"mask_sent": True})
    assert resp.status == 200 and (await resp.json())["settings"]["mask_sent"] is True
    sent = await env.client.post(
        "/api/v1/messages", json={"to": PEER, "body": SECRET, "client_msg_id": "c1"}
    )
    message = (await sent.json())["message"]
    # Queued: still readable (it has not gone yet).
    page = await _page(env, message["thread_id"])
    assert page[0]["body"] == SECRET
    line = await _line(env)
    svc, now = env.svc, env.clock.now()
    await svc.outbox.renew(env.account_id, env.device_id, [line], now)
    (item,) = await svc.outbox.for_dispatch(env.account_id, env.device_id, [line])
    assert await svc.outbox.claim(env.account_id, item.id, env.device_id, now)
    await svc.outbox.apply_status(env.account_id, env.device_id, item.id, "accepted", None)
    assert (await _page(env, message["thread_id"]))[0]["body"] == SECRET
    await svc.outbox.apply_status(env.account_id, env.device_id, item.id, "sent", None)
    (masked,) = await _page(env, message["thread_id"])
    assert (masked["body"], masked["status"], masked["masked"]) == (MASK, "sent", True)
    # Read from the phone's sent box: masked as it is stored.
    await _ingest(
        env, Inbound("s1", line, PEER, "typed on the phone", now, direction="out", status="sent")
    )
    bodies = [m["body"] for m in await _page(env, message["thread_id"])]
    assert "typed on the phone" not in bodies and bodies.count(MASK) == 2


async def test_masking_an_unsent_message_cancels_it(env: Env) -> None:
    await env.login()
    sent = await env.client.post(
        "/api/v1/messages", json={"to": PEER, "body": SECRET, "client_msg_id": "c2"}
    )
    message = (await sent.json())["message"]
    assert (await env.client.post(f"/api/v1/messages/{message['id']}/mask")).status == 204
    (m,) = await _page(env, message["thread_id"])
    assert (m["body"], m["status"], m["error"]) == (MASK, "failed", NOT_SENT)
    line = await _line(env)
    await env.svc.outbox.renew(env.account_id, env.device_id, [line], env.clock.now())
    assert await env.svc.outbox.for_dispatch(env.account_id, env.device_id, [line]) == []


async def test_retention_deletes_old_messages_and_old_access_log_rows(env: Env) -> None:
    await env.login()
    for bad in (0, 3651, "30", True):
        resp = await env.client.patch("/api/v1/me/privacy", json={"retention_days": bad})
        assert resp.status == 400, bad
    resp = await env.client.patch("/api/v1/me/privacy", json={"retention_days": 30})
    assert (await resp.json())["settings"]["retention_days"] == 30
    line = await _line(env)
    now = env.clock.now()
    await _ingest(
        env,
        Inbound("old", line, PEER, "from last season", now - timedelta(days=31)),
        Inbound("new", line, PEER, "from this week", now - timedelta(days=2)),
        Inbound("gone", line, "+15550188888", "a thread all old", now - timedelta(days=40)),
    )
    ws = await browser(env)
    await browser_until(ws, lambda f: f["t"] == "changes" and f["upto"] >= 3)
    assert await env.svc.apply_retention() == 2
    frame = await browser_until(ws, lambda f: f["t"] == "changes" and f["messages"])
    assert {m["body"] for m in frame["messages"] if m["deleted"]} == {""}
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert [t["peer"] for t in threads] == [PEER]
    assert [m["body"] for m in await _page(env, threads[0]["id"])] == ["from this week"]
    async with env.svc.engine.connect() as conn:
        left = (await conn.execute(select(messages.c.body_sealed, messages.c.deleted))).all()
    assert sorted(d for _, d in left) == [False, True, True]
    assert all(b is None for b, d in left if d)
    # Without retention, nothing more goes; the next run finds nothing.
    assert await env.svc.apply_retention() == 0
    await ws.close()

    # The access log keeps FERRY_ACCESS_LOG_DAYS (default 30, 1 to 365): older rows go.
    assert Config.from_env({"FERRY_ACCESS_LOG_DAYS": "7"}).access_log_retention.days == 7
    for bad in ("0", "366"):
        with pytest.raises(ConfigError, match="FERRY_ACCESS_LOG_DAYS"):
            Config.from_env({"FERRY_ACCESS_LOG_DAYS": bad})
    await env.svc.access_log.flush()
    env.clock.advance(timedelta(days=31).total_seconds())
    await env.client.get("/api/v1/me/privacy")
    await env.svc.access_log.flush()
    assert await env.svc.prune_access_log() > 0
    recent = await env.svc.access_log._store.recent()
    assert recent and all(r.at >= env.clock.now() - timedelta(days=30) for r in recent)
