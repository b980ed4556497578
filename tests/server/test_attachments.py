"""MMS attachments end to end: the real device link, storage sealed at rest, the browser
socket and REST metadata, downloads with safe headers, limits, idempotency, deletion."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from protocol.messages import Ack, Attachment, InboundSms, Rejection, Upload
from server.storage.conversations import Inbound
from server.storage.engine import create_engine, migrate
from server.storage.schema import attachments, conflicts
from tests.server.conftest import PASSWORD, Env
from tests.server.test_lines import _second_line
from tests.server.test_sockets import browser, browser_until

PNG = b"\x89PNG\r\n\x1a\n" + b"png-secret-pixels" + os.urandom(64)
PDF = b"%PDF-1.7\n" + b"pdf-secret-invoice" + os.urandom(64)
PDF_NAME = "Rechnung März 2026.pdf"
NOT_FOUND = {"error": {"code": "not_found", "message": "Not found."}}
SAFE = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=31536000, immutable",
}


def mms(n: int, parts: list[Attachment], key: str | None = None, body: str = "look") -> InboundSms:
    return InboundSms(
        n=n,
        key=key or f"k{n}",
        sender="+15550100002",
        body=body,
        sent_at="2026-11-01T11:59:00+01:00",
        attachments=parts,
    )


def photo_and_invoice() -> list[Attachment]:
    return [
        Attachment(mime="IMAGE/PNG", data=PNG, name="photo.png"),
        Attachment(mime="application/pdf", data=PDF, name="../../" + PDF_NAME),
    ]


async def upload(env: Env, *items: InboundSms, repair: bool = False) -> Any:
    dev = await env.device()
    await dev.send(Upload(items=list(items), repair=repair))
    reply = await dev.recv()
    await dev.close()
    return reply


async def page(env: Env, client: Any = None) -> list[dict[str, Any]]:
    http = client or env.client
    threads = (await (await http.get("/api/v1/threads")).json())["threads"]
    assert len(threads) == 1
    resp = await http.get(f"/api/v1/threads/{threads[0]['id']}/messages")
    return (await resp.json())["messages"]


async def rows(env: Env) -> list[Any]:
    async with env.svc.engine.connect() as conn:
        return list(await conn.execute(select(attachments).order_by(attachments.c.id)))


async def test_mms_reaches_the_browser_and_downloads_with_safe_headers(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await upload(env, mms(1, photo_and_invoice())) == Ack(upto=1)
    await env.login()
    # The browser socket's change feed carries the metadata, never the bytes.
    ws = await browser(env)
    changes = await browser_until(ws, lambda d: d["t"] == "changes")
    await ws.close()
    png_id, pdf_id = (a["id"] for a in changes["messages"][0]["attachments"])
    expected = [
        {"id": png_id, "mime": "image/png", "size": len(PNG), "name": "photo.png"},
        {"id": pdf_id, "mime": "application/pdf", "size": len(PDF), "name": PDF_NAME},
    ]
    assert changes["messages"][0]["attachments"] == expected
    assert changes["threads"][0]["last_message"]["attachments"] == expected
    # REST: the thread list and the thread page.
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert threads[0]["last_message"]["attachments"] == expected
    assert [m["attachments"] for m in await page(env)] == [expected]
    found = (await (await env.client.get("/api/v1/search?q=look")).json())["messages"]
    assert found[0]["attachments"] == expected

    image = await env.client.get(f"/api/v1/attachments/{png_id}")
    assert image.status == 200 and await image.read() == PNG
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"] == "inline; filename*=UTF-8''photo.png"
    assert SAFE.items() <= dict(image.headers).items()

    forced = await env.client.get(f"/api/v1/attachments/{png_id}?download=1")
    assert await forced.read() == PNG
    assert forced.headers["Content-Disposition"] == "attachment; filename*=UTF-8''photo.png"

    doc = await env.client.get(f"/api/v1/attachments/{pdf_id}")
    assert doc.status == 200 and await doc.read() == PDF
    assert doc.headers["Content-Type"] == "application/octet-stream"
    assert doc.headers["Content-Disposition"] == (
        "attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz%202026.pdf"
    )
    assert SAFE.items() <= dict(doc.headers).items()
    # Read like any other request: the access log has the route pattern, not the id.
    await env.svc.access_log.flush()
    routes = [e.route for e in await env.svc.access_log._store.recent()]
    assert "/api/v1/attachments/{attachment_id}" in routes
    logged = caplog.text
    assert b"png-secret-pixels" not in logged.encode() and "Rechnung" not in logged


async def test_scriptable_types_are_always_downloads(env: Env) -> None:
    parts = [
        Attachment(mime="image/svg+xml", data=b"<svg onload='alert(1)'/>"),
        Attachment(mime="text/html", data=b"<script>alert(1)</script>", name="x.html"),
    ]
    await upload(env, mms(1, parts))
    await env.login()
    svg, html = (a["id"] for a in (await page(env))[0]["attachments"])
    for attachment_id, filename in ((svg, f"attachment-{svg}.svg"), (html, "x.html")):
        resp = await env.client.get(f"/api/v1/attachments/{attachment_id}")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{filename}"
        assert SAFE.items() <= dict(resp.headers).items()


async def test_only_the_owner_on_a_verified_line_gets_the_bytes(env: Env) -> None:
    await upload(env, mms(1, photo_and_invoice()))
    first = (await rows(env))[0].id
    # Not signed in.
    assert (await env.client.get(f"/api/v1/attachments/{first}")).status == 401
    # Another (verified) account.
    other = env.browser()
    await env.svc.accounts.create(
        "+15550100077",
        env.svc.passwords.hash(PASSWORD),
        env.clock.now(),
        verified_at=env.clock.now(),
    )
    await other.post("/api/v1/session", json={"phone": "+15550100077", "password": PASSWORD})
    resp = await other.get(f"/api/v1/attachments/{first}")
    assert resp.status == 404 and await resp.json() == NOT_FOUND
    # Ids that name nothing.
    await env.login()
    for bad in ("999999", "0", "-1", "abc", "9" * 30):
        resp = await env.client.get(f"/api/v1/attachments/{bad}")
        assert resp.status == 404 and await resp.json() == NOT_FOUND, bad
    # An unverified line's attachments are stored, not served, until it is verified.
    line = await _second_line(env)
    item = Inbound(
        "u1", line, "+15550100002", "hidden", datetime(2026, 11, 1, tzinfo=UTC),
        attachments=(Attachment(mime="image/png", data=PNG),),
    )  # fmt: skip
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, [item], env.clock.now()
    )
    hidden = (await rows(env))[-1].id
    resp = await env.client.get(f"/api/v1/attachments/{hidden}")
    assert resp.status == 404 and await resp.json() == NOT_FOUND
    await env.svc.lines.set_verified(env.account_id, "+15550100009", env.clock.now())
    assert await (await env.client.get(f"/api/v1/attachments/{hidden}")).read() == PNG


async def test_bytes_and_names_are_sealed_and_bound_to_their_row(env: Env) -> None:
    await upload(env, mms(1, photo_and_invoice()))
    async with env.svc.engine.connect() as conn:
        raw = b"".join(
            bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
            for row in await conn.execute(text("SELECT * FROM attachments"))
            for v in row
        )
    for secret in (b"png-secret-pixels", b"pdf-secret-invoice", b"photo", b"Rechnung"):
        assert secret not in raw
    png, pdf = await rows(env)
    # Swap the sealed bytes and names of the two rows (someone with database access).
    async with env.svc.engine.begin() as conn:
        for row, other in ((png, pdf), (pdf, png)):
            await conn.execute(
                update(attachments)
                .where(attachments.c.id == row.id)
                .values(data_sealed=other.data_sealed, name_sealed=other.name_sealed)
            )
    await env.login()
    for row in (png, pdf):
        resp = await env.client.get(f"/api/v1/attachments/{row.id}")
        assert resp.status == 404 and await resp.json() == NOT_FOUND
    # The page still loads; the names that no longer open are left out.
    assert [a["name"] for a in (await page(env))[0]["attachments"]] == [None, None]


async def test_same_upload_again_is_a_no_op_and_different_parts_a_conflict(env: Env) -> None:
    assert await upload(env, mms(1, photo_and_invoice())) == Ack(upto=1)
    before, seq = await rows(env), await env.svc.conversations.current_seq(env.account_id)
    assert await upload(env, mms(1, photo_and_invoice())) == Ack(upto=1)
    # Without attachments (a bridge that dropped them): nothing is removed, no conflict.
    assert await upload(env, mms(1, [])) == Ack(upto=1)
    assert await rows(env) == before
    assert await env.svc.conversations.current_seq(env.account_id) == seq
    changed = [Attachment(mime="image/png", data=PNG + b"!", name="photo.png")]
    assert await upload(env, mms(2, changed, key="k1")) == Ack(upto=2, conflicts=[2])
    renamed = [photo_and_invoice()[0], Attachment(mime="application/pdf", data=PDF, name="x.pdf")]
    assert await upload(env, mms(3, renamed, key="k1"), repair=True) == Ack(upto=3, conflicts=[3])
    assert await rows(env) == before
    assert await env.svc.conversations.conflict_count(env.account_id) == 2


async def test_repair_adds_attachments_to_a_message_stored_without(env: Env) -> None:
    assert await upload(env, mms(1, [])) == Ack(upto=1)
    await env.login()
    ws = await browser(env)
    cursor = (await browser_until(ws, lambda d: d["t"] == "changes"))["upto"]
    # An ordinary upload may not change what is stored ...
    assert await upload(env, mms(2, photo_and_invoice(), key="k1")) == Ack(upto=2, conflicts=[2])
    assert await rows(env) == []
    # ... a repair completes it, and the change reaches the browser.
    assert await upload(env, mms(3, photo_and_invoice(), key="k1"), repair=True) == Ack(upto=3)
    # A repair means the server forgot what it acknowledged (a restored backup): the tab's
    # cursor is of the old epoch and gets a resync; resumed in the new one, it gets the
    # completed message.
    resync = await browser_until(ws, lambda d: d["t"] == "resync")
    await ws.send_str(json.dumps({"t": "subscribe", "since": cursor, "epoch": resync["epoch"]}))
    live = await browser_until(ws, lambda d: d["t"] == "changes" and d["messages"])
    await ws.close()
    assert live["upto"] > cursor
    assert [a["mime"] for a in live["messages"][0]["attachments"]] == [
        "image/png",
        "application/pdf",
    ]
    assert [m["body"] for m in await page(env)] == ["look"]


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([Attachment(mime="image/png", data=b"x")] * 11, "too_many_attachments"),
        ([Attachment(mime="image/png", data=b"x" * (640 * 1024 + 1))], "attachment_too_large"),
        ([Attachment(mime="image/png; x=1", data=b"x")], "invalid_attachment"),
    ],
)
async def test_over_limit_is_refused_alone_and_the_rest_of_the_batch_is_stored(
    env: Env, parts: list[Attachment], code: str
) -> None:
    assert await upload(env, mms(1, photo_and_invoice())) == Ack(upto=1)
    dev = await env.device()
    await dev.send(Upload(items=[mms(2, [], body="same batch"), mms(3, parts)]))
    assert await dev.recv() == Ack(upto=3, rejected=[Rejection(n=3, reason=code)])
    await env.login()
    msgs = await page(env)
    assert [(m["body"], m["refused"]) for m in msgs] == [
        ("look", None),
        ("same batch", None),
        ("", code),
    ]
    assert len(msgs[0]["attachments"]) == 2 and msgs[2]["attachments"] == []
    assert len(await rows(env)) == 2
    assert (await env.device()).welcome.acked_upto == 3


async def test_a_600_kib_picture_crosses_the_real_link(env: Env) -> None:
    big = os.urandom(600 * 1024)
    dev = await env.device()
    frame = await dev.send(Upload(items=[mms(1, [Attachment(mime="image/jpeg", data=big)])]))
    assert len(frame) > 65535 * 12  # far beyond one Noise message of the specification
    assert await dev.recv() == Ack(upto=1)
    await env.login()
    (only,) = (await page(env))[0]["attachments"]
    assert only["size"] == len(big)
    assert await (await env.client.get(f"/api/v1/attachments/{only['id']}")).read() == big


async def test_deleting_a_message_or_thread_deletes_its_attachments(env: Env) -> None:
    await upload(env, mms(1, photo_and_invoice()), mms(2, photo_and_invoice()))
    await env.login()
    first, second = await page(env)
    assert (await env.client.delete(f"/api/v1/messages/{first['id']}")).status == 204
    left = await rows(env)
    assert {r.message_id for r in left} == {second["id"]}
    gone = first["attachments"][0]["id"]
    assert (await env.client.get(f"/api/v1/attachments/{gone}")).status == 404
    # The same upload again does not bring them back.
    await upload(env, mms(1, photo_and_invoice()))
    assert len(await rows(env)) == 2
    assert (await env.client.delete(f"/api/v1/threads/{second['thread_id']}")).status == 204
    assert await rows(env) == []


async def test_0007_upgrades_a_database_with_data(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(engine, "0006_contacts")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts (id, phone, password_hash, created_at, seq) "
                "VALUES (1, '+15550100001', 'h', '2026-01-01', 1)",
                "INSERT INTO lines VALUES (1, 1, '+15550100001', '', '2026-01-01', '2026-01-01')",
                "INSERT INTO threads (id, account_id, line_id, peer, participants, last_activity,"
                " unread, seq) VALUES (1, 1, 1, '+1555', '+1555', '2026-01-01', 0, 1)",
                "INSERT INTO messages (id, account_id, thread_id, line_id, direction, peer,"
                " body_sealed, status, timestamp, created_at, incomplete, seq) VALUES"
                " (1, 1, 1, 1, 'in', '+1555', x'00', 'received', '2026-01-01', '2026-01-01', 0, 1)",
            ):
                await conn.execute(text(sql))
        await migrate(engine)
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM messages"))).scalar() == 1
            await conn.execute(
                attachments.insert().values(
                    account_id=1,
                    message_id=1,
                    position=0,
                    mime="image/png",
                    size=1,
                    digest=b"d" * 32,
                    data_sealed=b"x",
                )
            )
            await conn.execute(text("DELETE FROM messages"))
            count = select(func.count()).select_from(attachments)
            assert (await conn.execute(count)).scalar() == 0  # cascades with its message
            assert (await conn.execute(select(func.count()).select_from(conflicts))).scalar() == 0
    finally:
        await engine.dispose()
