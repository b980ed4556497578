"""Android phone (fake adb at the edge) → ADB driver → bridge → real server → browser API.

Everything is real except the phone: the driver runs the real subprocess path against a
fake ``adb`` on PATH that answers from a JSON description of a phone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, web

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.android import AdbPhone
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from protocol.messages import MAX_ATTACHMENT_BYTES
from server.api.common import SERVICES
from server.config import Config
from tests.device_link import new_pairing_code
from tests.e2e.conftest import PASSWORD, PHONE1, eventually, free_port, start_server
from tests.fakes.android import ALICE, JPEG, PDF, SERIAL, FakePhone


@dataclass
class AndroidSystem:
    url: str
    runner: web.AppRunner
    phone: FakePhone
    bridge_dir: Path
    http: ClientSession
    bridge: Bridge | None = None
    task: asyncio.Task[None] | None = None

    async def start_bridge(self) -> Bridge:
        self.bridge = Bridge(
            AdbPhone(SERIAL),
            Journal(self.bridge_dir / "journal.db"),
            load_identity(self.bridge_dir),
            poll_interval=0.1,
            link_backoff=Backoff(base=0.05, cap=0.5),
            modem_backoff=Backoff(base=0.05, cap=0.5),
        )
        self.task = asyncio.create_task(self.bridge.run())
        await asyncio.wait_for(self.bridge.link.connected.wait(), 10)
        return self.bridge

    async def stop_bridge(self) -> None:
        assert self.task is not None and self.bridge is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.bridge.journal.close()

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.url}{path}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def messages(self) -> list[dict[str, Any]]:
        found = []
        for thread in (await self.get("/api/v1/threads"))["threads"]:
            found += (await self.get(f"/api/v1/threads/{thread['id']}/messages"))["messages"]
        return found

    async def bodies(self) -> list[str]:
        return sorted(m["body"] for m in await self.messages() if m["direction"] == "in")


@pytest.fixture
async def android(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AndroidSystem]:
    phone = FakePhone(tmp_path / "phone", monkeypatch)
    config = Config(port=free_port(), data_dir=tmp_path / "server")
    runner = await start_server(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE1, svc.passwords.hash(PASSWORD), now, verified_at=now)
    url = f"http://127.0.0.1:{config.port}"
    offer = await new_pairing_code(svc, account, url)
    await pair(tmp_path / "bridge", offer.uri, name="android bridge")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{url}/api/v1/session", json=login) as resp:
            assert resp.status == 200
        system = AndroidSystem(url, runner, phone, tmp_path / "bridge", http)
        try:
            yield system
        finally:
            if system.task is not None and not system.task.done():
                await system.stop_bridge()
            await runner.cleanup()


async def test_sms_and_mms_reach_the_server_and_the_photo_downloads_intact(
    android: AndroidSystem,
) -> None:
    android.phone.add_sms("Hello, from = Android,\nline 2")
    android.phone.add_mms(
        "Photo and invoice",
        [("image/jpeg", "IMG_0001.jpg", JPEG), ("application/pdf", "invoice.pdf", PDF)],
    )
    android.phone.state["phones"] = [{"_id": 1, "display_name": "Alice", "data1": ALICE}]
    android.phone.save()
    bridge = await android.start_bridge()

    async def both() -> bool:
        return len(await android.bodies()) == 2

    await eventually(both)
    assert await android.bodies() == ["Hello, from = Android,\nline 2", "Photo and invoice"]
    (mms,) = [m for m in await android.messages() if m["attachments"]]
    photo, doc = mms["attachments"]
    assert (photo["mime"], photo["name"], photo["size"]) == (
        "image/jpeg",
        "IMG_0001.jpg",
        len(JPEG),
    )
    async with android.http.get(f"{android.url}/api/v1/attachments/{photo['id']}") as resp:
        assert resp.status == 200 and await resp.read() == JPEG
    async with android.http.get(f"{android.url}/api/v1/attachments/{doc['id']}") as resp:
        assert resp.status == 200 and await resp.read() == PDF
    await eventually(lambda: bridge.journal.inbound_count() == 0)
    # The phone's contacts reach the server; its operator reaches the device view.
    from server.ws.device_views import device_views

    svc = android.runner.app[SERVICES]
    account = await svc.accounts.by_phone(PHONE1)
    assert account is not None

    async def named() -> bool:
        return {c.name for c in await svc.contacts.for_account(account.id)} == {"Alice"}

    await eventually(named)
    (view,) = await device_views(svc, account.id)
    assert view.online and view.operator == "Ferry Mobile"


async def test_a_restart_reads_nothing_twice_and_new_messages_still_arrive(
    android: AndroidSystem,
) -> None:
    android.phone.add_sms("one")
    android.phone.add_mms(None, [("image/jpeg", "a.jpg", JPEG)])
    bridge = await android.start_bridge()

    async def two() -> bool:
        return len(await android.messages()) == 2

    await eventually(two)
    await eventually(lambda: bridge.journal.inbound_count() == 0)
    await android.stop_bridge()
    android.phone.log.unlink()
    android.phone.add_sms("two")
    bridge = await android.start_bridge()

    async def three() -> bool:
        return len(await android.messages()) == 3

    await eventually(three)
    await asyncio.sleep(0.3)  # a few more polls
    assert await android.bodies() == ["", "one", "two"]
    queries = [" ".join(c) for c in android.phone.calls() if "query" in " ".join(c)]
    assert all("_id>0" not in q for q in queries if "inbox" in q)
    assert bridge.journal.cursors() == {"android:sms": 2, "android:mms": 1}


async def test_a_send_fails_at_once_with_a_reason(android: AndroidSystem) -> None:
    bridge = await android.start_bridge()
    send = {"to": ALICE, "body": "reply", "client_msg_id": "r1"}
    async with android.http.post(f"{android.url}/api/v1/messages", json=send) as resp:
        assert resp.status == 201
        sent = (await resp.json())["message"]

    async def failed() -> dict[str, Any] | None:
        for m in await android.messages():
            if m["id"] == sent["id"] and m["status"] == "failed":
                return m
        return None

    await eventually(failed)
    message = await failed()
    assert message is not None and "cannot send SMS" in (message["error"] or "")
    await eventually(lambda: bridge.journal.unreported() == [])


async def test_large_mms_go_one_per_frame_and_an_oversize_part_does_not_wedge(
    android: AndroidSystem,
) -> None:
    near = MAX_ATTACHMENT_BYTES - 4096
    photos = [bytes([i]) * near for i in range(3)]
    for i, data in enumerate(photos):
        android.phone.add_mms(f"big {i}", [("image/jpeg", f"big{i}.jpg", data)])
    android.phone.add_mms(
        "too big", [("image/png", "huge.png", b"p" * (MAX_ATTACHMENT_BYTES + 1)),
                    ("image/jpeg", "small.jpg", JPEG)]
    )  # fmt: skip
    android.phone.add_sms("after")
    bridge = await android.start_bridge()

    async def all_five() -> bool:
        return len(await android.messages()) == 5

    await eventually(all_five, timeout=30)
    by_body = {m["body"].split("\n")[0]: m for m in await android.messages()}
    for i, data in enumerate(photos):
        (att,) = by_body[f"big {i}"]["attachments"]
        async with android.http.get(f"{android.url}/api/v1/attachments/{att['id']}") as resp:
            assert await resp.read() == data
    too_big = by_body["too big"]
    assert too_big["body"] == "too big\n[attachment too large: huge.png, over 640 KiB]"
    assert [a["name"] for a in too_big["attachments"]] == ["small.jpg"]
    await eventually(lambda: bridge.journal.inbound_count() == 0)
