"""Android phones as full sources, through the real bridge, journal and server in this
process; only the phone's published interface is faked (``termux-*`` commands on PATH).

A reply sent from the browser through the phone comes back in the phone's sent box: it
must not reach the server a second time. Termux hears nothing after a send, so the
message says so ("sent_no_report"), as does one the user typed on the phone. A modem and
a phone on one account each serve their own number.
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
from tests.e2e.conftest import (
    PASSWORD,
    PHONE1,
    PHONE2,
    eventually,
    free_port,
    open_system,
    start_server,
)
from tests.fakes.sms import FakeSms
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


async def test_a_modem_and_a_phone_on_one_account_each_serve_their_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's modem (emulator, real AT driver) and a second phone (Termux) for
    another number: the phone is paired for its own number, which its own bridge proves
    with the code texted to it; each line's messages arrive on it, and each reply leaves
    through the line the user chose, exactly once."""
    second = "+15550100009"
    async with open_system(tmp_path) as (system, _):
        svc = system.svc
        svc.verification.gateway = network = FakeSms()
        await asyncio.wait_for(system.bridge.link.connected.wait(), 10)
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            phones = PhoneSystem(system.url, system.runner, tmp_path / "phone bridge", http)
            login = {"phone": PHONE1, "password": PASSWORD}
            async with http.post(f"{system.url}/api/v1/session", json=login) as resp:
                assert resp.status == 200
            body = {"number": second}
            async with http.post(f"{system.url}/api/v1/pairing-codes", json=body) as resp:
                assert resp.status == 201, await resp.text()
                offer = await resp.json()
            await pair(phones.bridge_dir, offer["uri"], name="Second phone")
            phone = FakeTermux(tmp_path / "phone", monkeypatch)
            phone.add_sms("kept until the number is proven", sender=ALICE)
            await phones.start_bridge(TermuxPhone())
            line_id = offer["line_id"]
            async with http.post(f"{system.url}/api/v1/lines/{line_id}/code") as resp:
                assert resp.status == 202, await resp.text()
            await svc.background.drain()
            # The network delivers the code to the second phone; its bridge uploads it.
            phone.add_sms(network.to(second)[-1].text, sender="FERRY")

            async def proven() -> bool:
                found = (await phones.get("/api/v1/lines"))["lines"]
                return [(x["number"], x["verified"]) for x in found] == [
                    (PHONE1, True),
                    (second, True),
                ]

            await eventually(proven, timeout=20)
            system.emulator.network.send_text(PHONE2, PHONE1, "to the modem")
            found = await phones.until(lambda ms: len(ms) == 3)
            threads = (await phones.get("/api/v1/threads"))["threads"]
            lines_of = {t["id"]: t["line"] for t in threads}
            assert sorted((lines_of[m["thread_id"]], m["body"]) for m in found) == sorted([
                (PHONE1, "to the modem"),
                (second, "kept until the number is proven"),
                (second, network.to(second)[-1].text),
            ])  # fmt: skip
            lines = {x["number"]: x["id"] for x in (await phones.get("/api/v1/lines"))["lines"]}
            for to, text, line in ((ALICE, "from the phone", second),
                                   (PHONE2, "from the modem", PHONE1)):  # fmt: skip
                payload = {"to": to, "body": text, "client_msg_id": text, "line_id": lines[line]}
                async with http.post(f"{system.url}/api/v1/messages", json=payload) as resp:
                    assert resp.status == 201, await resp.text()
            done = {"from the phone": "sent_no_report", "from the modem": "delivered"}
            await phones.until(lambda ms: {m["body"]: m["status"] for m in ms
                                           if m["direction"] == "out"} == done)  # fmt: skip
            await asyncio.sleep(0.5)
            assert system.received_by(PHONE2) == ["from the modem"]
            sends = [c[2] for c in phone.calls() if c[0] == "termux-sms-send"]
            assert sends == ["from the phone"]
            await phones.stop_bridge()
