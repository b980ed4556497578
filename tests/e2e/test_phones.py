"""Android phones as full sources, through the real bridge, journal and server in this
process; only the phone's published interface is faked (``termux-*`` commands on PATH).

A reply sent from the browser through the phone comes back in the phone's sent box: it
must not reach the server a second time. Termux hears nothing after a send, so the
message says so ("sent_no_report"), as does one the user typed on the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, web

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.base import Modem
from device_bridge.drivers.termux import SOURCE, TermuxPhone
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from server.api.common import SERVICES
from server.config import Config
from tests.device_link import new_pairing_code
from tests.e2e.conftest import PASSWORD, PHONE1, eventually, free_port, start_server
from tests.fakes.termux_phone import ALICE, FakeTermux

pytestmark = pytest.mark.e2e


@dataclass
class PhoneSystem:
    url: str
    runner: web.AppRunner
    bridge_dir: Path
    http: ClientSession
    bridge: Bridge | None = None
    task: asyncio.Task[None] | None = None

    async def start_bridge(self, modem: Modem) -> Bridge:
        self.bridge = Bridge(
            modem,
            Journal(self.bridge_dir / "journal.db"),
            load_identity(self.bridge_dir),
            poll_interval=0.2,
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
        await self.bridge.modem.close()
        self.bridge.journal.close()

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.url}{path}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def messages(self) -> list[dict[str, Any]]:
        found = []
        for thread in (await self.get("/api/v1/threads"))["threads"]:
            found += (await self.get(f"/api/v1/threads/{thread['id']}/messages"))["messages"]
        return sorted(found, key=lambda m: m["id"])

    async def send(self, to: str, body: str, cid: str) -> dict[str, Any]:
        payload = {"to": to, "body": body, "client_msg_id": cid}
        async with self.http.post(f"{self.url}/api/v1/messages", json=payload) as resp:
            assert resp.status == 201, await resp.text()
            return dict((await resp.json())["message"])

    async def until(self, check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        async def holds() -> bool:
            return check(await self.messages())

        await eventually(holds, timeout=20)
        return await self.messages()


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[PhoneSystem]:
    config = Config(port=free_port(), data_dir=tmp_path / "server")
    runner = await start_server(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE1, svc.passwords.hash(PASSWORD), now, verified_at=now)
    url = f"http://127.0.0.1:{config.port}"
    offer = await new_pairing_code(svc, account, url)
    await pair(tmp_path / "bridge", offer.uri, name="phone bridge")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{url}/api/v1/session", json=login) as resp:
            assert resp.status == 200
        system = PhoneSystem(url, runner, tmp_path / "bridge", http)
        try:
            yield system
        finally:
            if system.task is not None and not system.task.done():
                await system.stop_bridge()
            await runner.cleanup()


async def test_termux_reply_is_sent_once_and_not_read_back_from_the_sent_box(
    phones: PhoneSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = FakeTermux(tmp_path / "phone", monkeypatch)
    phone.add_sms("Are you free tonight?")
    bridge = await phones.start_bridge(TermuxPhone())
    await phones.until(lambda ms: [m["body"] for m in ms] == ["Are you free tonight?"])
    reply = await phones.send(ALICE, "Yes, from the browser", "c1")
    found = await phones.until(
        lambda ms: any(m["id"] == reply["id"] and m["status"] == "sent_no_report" for m in ms)
    )
    # The phone's sent box now holds the reply: wait until the bridge has read that row.
    await eventually(lambda: bridge.journal.seen_count() == 2, timeout=20)
    phone.add_sms("Typed on the phone", type_=2)
    found = await phones.until(lambda ms: len(ms) == 3)
    await asyncio.sleep(1.0)  # a few more polls: nothing more may arrive
    found = await phones.messages()
    assert [(m["direction"], m["status"], m["body"]) for m in found] == [
        ("in", "received", "Are you free tonight?"),
        ("out", "sent_no_report", "Yes, from the browser"),
        ("out", "sent_no_report", "Typed on the phone"),
    ]
    sends = [c for c in phone.calls() if c[0] == "termux-sms-send"]
    assert [(c[1], c[2]) for c in sends] == [(["-n", ALICE], "Yes, from the browser")]
    assert [r["body"] for r in phone.load()["sms"] if r["type"] == 2] == [
        "Yes, from the browser",
        "Typed on the phone",
    ]
    assert bridge.journal.cursors()[SOURCE] == 3
