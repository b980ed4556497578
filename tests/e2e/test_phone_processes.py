"""Android phones end to end with the real bridge process (``python -m device_bridge
run``), the real server and real Chromium; only the phone app's published interface is
faked: SMS Gateway's local server (``tests/fakes/smsgate.py``, in this process), the
``termux-*`` commands and ``adb`` (on ``PATH``).

* SMS Gateway: a text the phone receives appears in the browser; a reply typed there is
  sent by the phone exactly once and "Delivered" comes back.
* Termux: a reply is shown "Sent from phone (no delivery report)", and its copy in the
  phone's sent box is not shown a second time.
* ADB: the bridge is killed (``kill -9``) twice while it imports a history with pictures;
  each time it resumes, and the server ends with every message exactly once.

The import here is 3,000 texts (a fifth of them in the sent box) and 20 MMS: large
enough that the import spans many rounds and both kills land mid-import, small enough
that this module stays near a minute on 2 cores (every fake ``adb`` call is a Python
process reading the phone's JSON). ``python -m bench android`` runs 100,000.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from sqlalchemy import func, select

from device_bridge.pairing import pair
from server.api.common import SERVICES
from server.config import Config
from server.services import Services
from server.storage.schema import attachments, messages
from tests.chromium import launch
from tests.device_link import new_pairing_code
from tests.e2e.conftest import PASSWORD, PHONE1, eventually, free_port, start_server
from tests.e2e.procs import Proc
from tests.fakes.android import FakePhone
from tests.fakes.smsgate import FakeSmsGate
from tests.fakes.termux_phone import ALICE, FakeTermux

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

KEY = "w3bh00k-s1gn1ng"


@dataclass
class Rig:
    dir: Path
    url: str
    runner: web.AppRunner
    account_id: int

    @property
    def svc(self) -> Services:
        return self.runner.app[SERVICES]

    def bridge(self, *args: str, env: dict[str, str] | None = None) -> Proc:
        """The bridge process, paired already (``rig`` did), for the phone ``args`` name."""
        argv = [sys.executable, "-m", "device_bridge", "run", *args]
        argv += ["--data-dir", str(self.dir / "bridge")]
        return Proc(argv, self.dir / "bridge.log", env=env or {})

    async def count(self, table: object = messages) -> int:
        async with self.svc.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    config = Config(port=free_port(), data_dir=tmp_path / "server")
    runner = await start_server(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE1, svc.passwords.hash(PASSWORD), now, verified_at=now)
    url = f"http://127.0.0.1:{config.port}"
    offer = await new_pairing_code(svc, account, url)
    await pair(tmp_path / "bridge", offer.uri, name="Pixel")
    try:
        yield Rig(tmp_path, url, runner, account)
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(rig: Rig) -> AsyncIterator[Page]:
    async with launch() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(rig.url)
        await page.get_by_label("Phone number").fill(PHONE1)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
        yield page
        assert errors == []


async def reply_in_browser(page: Page, incoming: str, text: str) -> None:
    """Open the conversation that shows ``incoming`` and send ``text`` from it."""
    nav = page.get_by_role("navigation", name="Conversations")
    row = nav.get_by_role("button", name=re.compile(re.escape(incoming)))
    await expect(row).to_be_visible(timeout=20_000)
    await row.click()
    await expect(page.get_by_role("log").get_by_text(incoming)).to_be_visible()
    compose = page.get_by_role("textbox", name=re.compile("^Message to"))
    await compose.fill(text)
    await compose.press("Enter")


async def test_sms_gateway_phone_to_browser_and_a_reply_delivered_once(
    rig: Rig, page: Page
) -> None:
    phone = FakeSmsGate(signing_key=KEY)
    await phone.start()
    hooks = free_port()
    bridge = rig.bridge(
        "--sms-gateway", phone.url, "--webhook-listen", f"127.0.0.1:{hooks}",
        env={"FERRY_SMSGATE_USER": phone.username, "FERRY_SMSGATE_PASSWORD": phone.password,
             "FERRY_SMSGATE_SIGNING_KEY": KEY},
    )  # fmt: skip
    await bridge.start()
    try:
        await eventually(lambda: len(phone.webhooks) == 5, timeout=30)
        await expect(page.get_by_text("Pixel connected")).to_be_visible(timeout=20_000)
        phone.receive(ALICE, "Dinner at 8? 🍝")
        await reply_in_browser(page, "Dinner at 8? 🍝", "Yes — see you there")
        bubble = page.get_by_role("log").locator(".msg-out").filter(has_text="see you there")
        await expect(bubble.locator(".msg-status")).to_have_text("Delivered", timeout=20_000)
        await asyncio.sleep(1.0)  # a repeated order or report would show by now
        assert [m["text"] for m in phone.sent] == ["Yes — see you there"]
        assert phone.sent[0]["recipients"][0]["phoneNumber"] == ALICE
        await expect(bubble).to_have_count(1)
    finally:
        await bridge.stop()
        await phone.stop()


async def test_termux_reply_says_no_delivery_report_and_shows_once(
    rig: Rig, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = FakeTermux(rig.dir / "phone")
    phone.add_sms("Are you free tonight?")
    bridge = rig.bridge("--termux", "--poll-interval", "0.5", env=phone.env)
    await bridge.start()
    try:
        await reply_in_browser(page, "Are you free tonight?", "Yes, after work")
        log = page.get_by_role("log")
        bubble = log.locator(".msg-out").filter(has_text="Yes, after work")
        await expect(bubble.locator(".msg-status")).to_have_text(
            "Sent from phone (no delivery report)", timeout=20_000
        )
        # The phone's sent box now holds the reply; polls read it and recognise it.
        await eventually(lambda: any(r["type"] == 2 for r in phone.load()["sms"]), timeout=20)
        phone.add_sms("Typed on the phone", type_=2)
        typed = log.locator(".msg-out").filter(has_text="Typed on the phone")
        await expect(typed.locator(".msg-status")).to_have_text(
            "Sent from phone (no delivery report)", timeout=20_000
        )
        await expect(log.locator(".msg-out")).to_have_count(2)
        assert [c[2] for c in phone.calls() if c[0] == "termux-sms-send"] == ["Yes, after work"]
    finally:
        await bridge.stop()


async def test_adb_import_killed_twice_resumes_without_loss_or_doubles(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, pictures = 3_000, 20
    phone = FakePhone(rig.dir / "phone", monkeypatch)
    phone.add_history(texts, pictures)
    total = texts + pictures
    bridge = rig.bridge("--adb", "--poll-interval", "0.2")
    await bridge.start()
    try:
        for share in (0.2, 0.55):

            async def reached(share: float = share) -> bool:
                return await rig.count() >= share * total

            await eventually(reached, timeout=120)
            assert await rig.count() < total, "the import ended before the kill"
            await bridge.kill()
            await bridge.start()

        async def complete() -> bool:
            return await rig.count() >= total

        await eventually(complete, timeout=180)
        await asyncio.sleep(1.0)  # anything read twice would be uploaded by now
    finally:
        await bridge.stop()
    assert bridge.kills == 2
    async with rig.svc.engine.connect() as conn:
        rows = (await conn.execute(select(messages.c.direction, messages.c.body_sealed))).all()
    assert len(rows) == total
    cipher = await rig.svc.keys.cipher(rig.account_id)
    bodies = Counter(cipher.open(r.body_sealed) for r in rows)
    assert bodies == Counter(
        [f"history {n:06d}" for n in range(1, texts + 1)]
        + [f"picture {m:04d}" for m in range(1, pictures + 1)]
    )
    assert Counter(r.direction for r in rows) == {"out": texts // 5, "in": total - texts // 5}
    assert await rig.count(attachments) == pictures
    log = (rig.dir / "bridge.log").read_text()
    assert "importing the phone's history: [" in log
    assert f"imported the phone's history: [{'#' * 30}] {total:,} of {total:,}" in log
