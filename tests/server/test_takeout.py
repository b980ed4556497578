"""Take your data with you: export ZIP (JSON, SMS Backup & Restore XML, vCard) downloaded
once by the session that asked for it, expiry, and import of a backup and of vCards
(the bridge's messages recognised, surrogate pairs repaired, a round trip exact)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest

from protocol.messages import Attachment
from server.api.takeout import TAKEOUT
from server.storage.conversations import Inbound
from tests.server.conftest import PASSWORD, Env
from tests.server.oauth_flow import register, tokens_for

T = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
ALICE = "+15550100002"
BOB = "+447700900123"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
OTHER_PHONE = "+15550100077"


async def _line(env: Env, account_id: int | None = None) -> int:
    return (await env.svc.lines.for_account(account_id or env.account_id))[0].id


async def _history(env: Env) -> None:
    """Received SMS (one read, one unread), an MMS with a picture, a multi-line text with
    an emoji, replies sent and delivered, and contacts."""
    line = await _line(env)
    items = [
        Inbound("a1", line, ALICE, "Hi there & <welcome>", T),
        Inbound(
            "a2",
            line,
            ALICE,
            "look 😀",
            T + timedelta(minutes=1),
            attachments=(Attachment(mime="image/png", data=PNG, name="cat.png"),),
        ),
        Inbound("b1", line, BOB, 'line one\nline two "quoted"\ttab', T + timedelta(minutes=2)),
        Inbound(
            "o1",
            line,
            ALICE,
            "sent from the phone",
            T + timedelta(minutes=3),
            direction="out",
            status="delivered",
        ),
    ]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    threads, _ = await env.svc.conversations.threads(env.account_id)
    for thread in threads:
        await env.svc.conversations.mark_read(env.account_id, thread.id)
    later = Inbound("a3", line, ALICE, "still there?", T + timedelta(minutes=4))
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, [later], T)
    await env.svc.contacts.replace(env.account_id, line, [("Alice Liddell", ALICE)])


async def _run_export(env: Env, http: Any = None) -> dict[str, Any]:
    http = http or env.client
    resp = await http.post("/api/v1/exports")
    assert resp.status == 202, await resp.text()
    job = (await resp.json())["job"]
    assert job["state"] == "running"
    await env.svc.background.drain()
    resp = await http.get(f"/api/v1/data-jobs/{job['id']}")
    return (await resp.json())["job"]


async def _download(env: Env, job_id: int, http: Any = None) -> Any:
    return await (http or env.client).get(f"/api/v1/exports/{job_id}/file")


async def test_export_holds_everything_and_downloads_once_in_its_session(env: Env) -> None:
    await _history(env)
    await env.login()
    job = await _run_export(env)
    assert (job["state"], job["done"], job["total"]) == ("ready", 5, 5)
    # On the server's disk the ZIP is sealed: no text, picture or number in clear.
    (on_disk,) = (env.svc.config.data_dir / "takeout").iterdir()
    raw = on_disk.read_bytes()
    for clear in (b"PK\x03\x04", b"Hi there", b"welcome", PNG[:32], ALICE.encode(), b"Liddell"):
        assert clear not in raw
    # Another signed-in session of the same account cannot take it, nor can a page of
    # another site (which would spend the one download).
    assert job["downloadable"] is True
    other = env.browser()
    await other.post("/api/v1/session", json={"phone": "+15550100001", "password": PASSWORD})
    seen = (await (await other.get(f"/api/v1/data-jobs/{job['id']}")).json())["job"]
    assert (seen["state"], seen["downloadable"]) == ("ready", False)
    assert (await _download(env, job["id"], other)).status == 404
    cross = await env.client.get(
        f"/api/v1/exports/{job['id']}/file", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status == 404
    resp = await _download(env, job["id"])
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    data = await resp.read()
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = set(zf.namelist())
    assert {"ferry-export.json", "sms-backup.xml", "contacts.vcf", "README.txt"} <= names
    doc = json.loads(zf.read("ferry-export.json"))
    assert doc["format"] == "ferry-export"
    for key in ("settings", "lines", "devices", "threads", "contacts", "sessions"):
        assert doc[key], key
    assert any(e["kind"] == "login" for e in doc["security_events"])
    assert set(doc["sessions"][0]) == {
        "created_at",
        "last_seen_at",
        "expires_at",
        "user_agent",
        "ip",
    }
    assert env.session_cookie().encode() not in zf.read("ferry-export.json")
    assert doc["connected_apps"] == []  # no app was ever allowed in
    assert doc["settings"]["phone"] == "+15550100001"
    assert [d["name"] for d in doc["devices"]] == ["test bridge"]
    # Conversation by conversation, each in its order.
    assert [(m["peer"], m["body"][:9]) for m in doc["messages"]] == [
        (ALICE, "Hi there "),
        (ALICE, "look 😀"),
        (ALICE, "sent from"),
        (ALICE, "still the"),
        (BOB, "line one\n"),
    ]
    (picture,) = doc["messages"][1]["attachments"]
    assert zf.read(picture["file"]) == PNG and picture["name"] == "cat.png"
    # The SMS Backup & Restore document: sms and mms elements with the app's attributes.
    root = ElementTree.fromstring(zf.read("sms-backup.xml"))
    assert root.tag == "smses" and root.get("count") == "5"
    sms = root.findall("sms")
    assert [s.get("body") for s in sms] == [
        "Hi there & <welcome>",
        "sent from the phone",
        "still there?",
        'line one\nline two "quoted"\ttab',
    ]
    first = sms[0].attrib
    assert first["address"] == ALICE and first["type"] == "1"
    assert first["date"] == str(int(T.timestamp() * 1000))
    assert first["contact_name"] == "Alice Liddell" and first["read"] == "1"
    for name in ("protocol", "subject", "toa", "sc_toa", "service_center", "status", "locked"):
        assert name in first, name
    assert first["date_sent"] == first["date"] and "readable_date" in first
    sent = next(s for s in sms if s.get("type") == "2")
    assert (sent.get("body"), sent.get("status")) == ("sent from the phone", "0")
    assert [s.get("read") for s in sms] == ["1", "1", "0", "1"]  # Alice's last is unread
    (mms,) = root.findall("mms")
    assert mms.get("msg_box") == "1" and mms.get("m_type") == "132"
    parts = mms.findall("parts/part")
    assert (parts[0].get("ct"), parts[0].get("text")) == ("text/plain", "look 😀")
    assert base64.b64decode(parts[1].get("data") or "") == PNG
    assert [(a.get("address"), a.get("type")) for a in mms.findall("addrs/addr")] == [
        (ALICE, "137"),
        ("+15550100001", "151"),
    ]
    vcf = zf.read("contacts.vcf").decode()
    assert "BEGIN:VCARD" in vcf and "FN:Alice Liddell" in vcf and ALICE in vcf
    # Once: the file is gone, and a second download is refused.
    assert list((env.svc.config.data_dir / "takeout").iterdir()) == []
    again = await _download(env, job["id"])
    assert again.status == 404
    assert (await again.json())["error"]["code"] == "export_unavailable"
    job = (await (await env.client.get(f"/api/v1/data-jobs/{job['id']}")).json())["job"]
    assert job["state"] == "downloaded"


async def test_an_export_not_downloaded_is_deleted_after_a_day(env: Env) -> None:
    await _history(env)
    await env.login()
    job = await _run_export(env)
    takeout = env.client.app[TAKEOUT]
    folder = env.svc.config.data_dir / "takeout"
    assert len(list(folder.iterdir())) == 1
    env.clock.advance(23 * 3600)
    assert await takeout.sweep() == 0
    assert len(list(folder.iterdir())) == 1
    env.clock.advance(3600 + 1)
    assert await takeout.sweep() == 1
    assert list(folder.iterdir()) == []
    assert (await _download(env, job["id"])).status == 404
    job = (await (await env.client.get(f"/api/v1/data-jobs/{job['id']}")).json())["job"]
    assert job["state"] == "expired"
    # A new export replaces a ready one: one file per account at most.
    first = await _run_export(env)
    second = await _run_export(env)
    assert len(list(folder.iterdir())) == 1
    first = (await (await env.client.get(f"/api/v1/data-jobs/{first['id']}")).json())["job"]
    assert (first["state"], second["state"]) == ("expired", "ready")
    # A job whose server died mid-way stops reporting: failed, its leftovers deleted.
    now = env.clock.now()
    dead = await takeout.jobs.create_job(env.account_id, "export", "s", now, now)
    await takeout.jobs.set_file(dead.id, "export-dead.zip")
    (folder / "export-dead.zip").write_bytes(b"partial")
    (folder / "export-dead.zip.parts").mkdir()
    (folder / "export-dead.zip.parts" / "json").write_bytes(b"partial")
    env.clock.advance(9 * 60)
    assert await takeout.sweep() == 0
    env.clock.advance(2 * 60)
    assert await takeout.sweep() == 1
    (left,) = folder.iterdir()  # only the ready export
    assert left.name.startswith(f"export-{second['id']}-")
    dead_job = await takeout.jobs.get(env.account_id, dead.id)
    assert dead_job is not None and dead_job.state == "failed"
    assert "start it again" in (dead_job.error or "")
    # Finished jobs are forgotten after 30 days; the ready export expires and goes too.
    env.clock.advance(29 * 86400)
    await takeout.sweep()
    assert len(await takeout.jobs.recent(env.account_id)) == 4
    env.clock.advance(2 * 86400)
    await takeout.sweep()
    assert [j.state for j in await takeout.jobs.recent(env.account_id)] == ["expired"]
    env.clock.advance(31 * 86400)
    await takeout.sweep()
    assert await takeout.jobs.recent(env.account_id) == []


async def _import(env: Env, body: bytes, fmt: str, http: Any = None) -> dict[str, Any]:
    http = http or env.client
    resp = await http.post(
        f"/api/v1/imports?format={fmt}",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status == 202, await resp.text()
    job = (await resp.json())["job"]
    await env.svc.background.drain()
    resp = await http.get(f"/api/v1/data-jobs/{job['id']}")
    return (await resp.json())["job"]


async def _conversations(http: Any) -> list[Any]:
    threads = (await (await http.get("/api/v1/threads")).json())["threads"]
    found = []
    for t in sorted(threads, key=lambda t: t["peer"]):
        page = await (await http.get(f"/api/v1/threads/{t['id']}/messages?limit=200")).json()
        messages = [
            (
                m["direction"],
                m["body"],
                m["status"],
                m["timestamp"],
                [(a["mime"], a["size"], a.get("name")) for a in m.get("attachments", [])],
            )
            for m in page["messages"]
        ]
        found.append((t["peer"], t["title"], t["unread"], t["last_activity"], messages))
    return found


async def test_round_trip_export_then_import_into_a_fresh_account(env: Env) -> None:
    await _history(env)
    await env.login()
    job = await _run_export(env)
    zf = zipfile.ZipFile(io.BytesIO(await (await _download(env, job["id"])).read()))
    before = await _conversations(env.client)
    svc = env.svc
    await svc.accounts.create(
        OTHER_PHONE, svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=env.clock.now()
    )
    fresh = env.browser()
    resp = await fresh.post("/api/v1/session", json={"phone": OTHER_PHONE, "password": PASSWORD})
    assert resp.status == 200
    done = await _import(env, zf.read("contacts.vcf"), "vcard", fresh)
    assert (done["state"], done["summary"]["contacts"]) == ("done", 1)
    done = await _import(env, zf.read("sms-backup.xml"), "sms-backup", fresh)
    assert done["state"] == "done", done
    assert done["summary"]["added"] == 5 and done["summary"]["refused"] == 0
    assert done["done"] == done["total"] > 0
    assert await _conversations(fresh) == before
    # Importing the same file again adds nothing.
    again = await _import(env, zf.read("sms-backup.xml"), "sms-backup", fresh)
    assert (again["summary"]["added"], again["summary"]["already_there"]) == (0, 5)
    assert await _conversations(fresh) == before


def _backup(*elements: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(elements)}">' + "".join(elements) + "</smses>"
    ).encode()


def _sms(address: str, date: int, body: str, box: int = 1, date_sent: int = 0) -> str:
    return (
        f'<sms protocol="0" address="{address}" date="{date}" type="{box}" subject="null" '
        f'body="{body}" read="1" status="-1" date_sent="{date_sent}" />'
    )


async def test_import_skips_what_the_bridge_synced_and_repairs_surrogate_pairs(env: Env) -> None:
    line = await _line(env)
    # Synced by an Android bridge: the phone's date_sent is the stored time.
    await env.svc.conversations.ingest_inbound(
        env.account_id,
        env.device_id,
        [Inbound("android:sms:7:1759311000123", line, ALICE, "from the bridge", T)],
        T,
    )
    await env.login()
    ms = int(T.timestamp() * 1000)
    done = await _import(
        env,
        _backup(
            # The same message as the phone's backup has it: received 123 ms later.
            _sms("(555) 010-0002", ms + 123, "from the bridge", date_sent=ms),
            _sms(ALICE, ms + 60_000, "smile &#55357;&#56832; lone &#55357; end"),
            _sms(ALICE, ms + 120_000, "a draft", box=3),
        ),
        "sms-backup",
    )
    assert done["state"] == "done"
    assert done["summary"] == {
        "read": 3,
        "added": 1,
        "already_there": 1,
        "refused": 0,
        "drafts_skipped": 1,
        "contacts": 0,
    }
    (thread,) = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    page = await (await env.client.get(f"/api/v1/threads/{thread['id']}/messages")).json()
    assert [m["body"] for m in page["messages"]] == [
        "from the bridge",
        "smile 😀 lone \ufffd end",
    ]


@pytest.mark.sqlite_only("HTTP answers and file handling; the storage runs on both elsewhere")
async def test_refusals_and_bad_imports_get_clear_errors(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await env.client.post("/api/v1/exports")).status == 401
    assert (await env.client.get("/api/v1/data-jobs")).status == 401
    await env.login()
    assert (await env.client.get("/api/v1/data-jobs/999")).status == 404
    assert (await env.client.get("/api/v1/data-jobs/x")).status == 404
    # One export and one import at a time: the first of each is held running (a small
    # one could otherwise finish before the second request arrives).
    takeout = env.client.app[TAKEOUT]
    release = asyncio.Event()
    for name in ("_export", "_import"):
        real = getattr(takeout, name)

        async def held(*args: Any, _real: Any = real) -> None:
            await release.wait()
            await _real(*args)

        monkeypatch.setattr(takeout, name, held)
    assert (await env.client.post("/api/v1/exports")).status == 202
    busy = await env.client.post("/api/v1/exports")
    assert (busy.status, (await busy.json())["error"]["code"]) == (409, "export_running")
    vcf = b"BEGIN:VCARD\r\nFN:A\r\nTEL:+15550100002\r\nEND:VCARD\r\n"
    assert (await env.client.post("/api/v1/imports?format=vcard", data=vcf)).status == 202
    busy = await env.client.post("/api/v1/imports?format=vcard", data=vcf)
    assert (busy.status, (await busy.json())["error"]["code"]) == (409, "import_running")
    release.set()
    await env.svc.background.drain()
    # An export file changed on disk does not open: its download is cut short, so the
    # browser knows it is incomplete.
    (zipped,) = (env.svc.config.data_dir / "takeout").glob("export-*")
    damaged = bytearray(zipped.read_bytes())
    damaged[40] ^= 1
    zipped.write_bytes(bytes(damaged))
    export_id = (await (await env.client.get("/api/v1/data-jobs")).json())["jobs"][1]["id"]
    cut = await _download(env, export_id)
    assert cut.status == 200
    with pytest.raises(aiohttp.ClientError):  # the connection closes short of the length
        await cut.read()
    resp = await env.client.post("/api/v1/imports", data=b"x")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_format"
    resp = await env.client.post("/api/v1/imports?format=sms-backup&line=12345", data=b"x")
    assert (await resp.json())["error"]["code"] == "invalid_line"
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE smses [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><smses>&b;</smses>'
    )
    job = await _import(env, bomb, "sms-backup")
    assert job["state"] == "failed" and "DTD" in job["error"]
    job = await _import(env, b"<smses><sms address='1' ", "sms-backup")
    assert job["state"] == "failed" and "not well-formed" in job["error"]
    job = await _import(env, b"<html><body>hi</body></html>", "sms-backup")
    assert job["state"] == "failed" and "<smses>" in job["error"]
    job = await _import(env, b"hello", "vcard")
    assert job["state"] == "failed" and "vCard" in job["error"]
    env.client.app[TAKEOUT].max_import_bytes = 1000
    resp = await env.client.post("/api/v1/imports?format=sms-backup", data=b"x" * 2000)
    assert resp.status == 413
    assert "(1000 bytes)" in (await resp.json())["error"]["message"]
    chunks = aiohttp.payload.AsyncIterablePayload(_chunks(b"y" * 500, 4))
    resp = await env.client.post("/api/v1/imports?format=sms-backup", data=chunks)
    assert resp.status == 413
    assert list((env.svc.config.data_dir / "takeout").glob("import-*")) == []  # none left
    jobs = (await (await env.client.get("/api/v1/data-jobs")).json())["jobs"]
    assert jobs[0]["state"] == "failed" and jobs[0]["error"] == "The file is too large."


async def _chunks(chunk: bytes, count: int) -> Any:
    for _ in range(count):
        yield chunk


async def test_export_lists_connected_apps_and_keeps_masked_texts_masked(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    items = [
        Inbound("m1", line, ALICE, "my door code is 4711", T),
        Inbound("m2", line, ALICE, "see you", T + timedelta(minutes=1)),
    ]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    await tokens_for(env, await register(env, name="Kitchen Display"))
    threads, _ = await env.svc.conversations.threads(env.account_id)
    page, _ = await env.svc.conversations.thread_messages(
        env.account_id, threads[0].id, before=None, limit=10
    )
    secret = next(m for m in page if m.body.startswith("my door"))
    assert await env.svc.masking.mask_message(env.account_id, secret.id) is not None
    job = await _run_export(env)
    zf = zipfile.ZipFile(io.BytesIO(await (await _download(env, job["id"])).read()))
    doc = json.loads(zf.read("ferry-export.json"))
    (app,) = doc["connected_apps"]
    assert app["app"] == "Kitchen Display" and app["revoked_at"] is None
    assert "messages:read" in app["scope"]
    assert sorted(m["body"] for m in doc["messages"]) == ["*****", "see you"]
    assert b"4711" not in zf.read("sms-backup.xml") and b"4711" not in zf.read("ferry-export.json")
    assert doc["privacy"]["mask_sent"] is False
