"""The SMS Gateway driver against a fake of the app's local server (built from its
published API: endpoints, webhook payloads, signing, retries), over real loopback HTTP,
with a real journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_bridge.android.errors import SendRefused
from device_bridge.drivers.base import DecodedInbox, InboxChanged, Modem, Received, SendUpdate
from device_bridge.drivers.smsgate import SmsGateway, reference_of
from device_bridge.drivers.webhooks import WebhookReceiver
from device_bridge.journal import Journal
from tests.fakes.smsgate import FakeSmsGate

ALICE = "+15550100002"
KEY = "s1gn1ng"


@pytest.fixture
async def app() -> AsyncIterator[FakeSmsGate]:
    fake = FakeSmsGate(signing_key=KEY)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db", key=b"k" * 32)


def driver_for(app: FakeSmsGate, key: str | None = KEY, sim: int | None = None) -> SmsGateway:
    hooks = WebhookReceiver("127.0.0.1", 0, signing_key=key)
    return SmsGateway(app.url, app.username, app.password, hooks, sim_number=sim)


async def journaled(driver: SmsGateway, journal: Journal) -> list[Received]:
    """What the bridge does on InboxChanged: poll, journal, poll again."""
    found: list[Received] = []
    while batch := await driver.poll_new(journal, 50):
        for r in batch:
            journal.add_received(r.key, r.sender, r.body, r.sent_at, list(r.attachments),
                                 source=r.source, position=r.position)  # fmt: skip
        found += batch
    return found


async def test_a_received_sms_is_answered_only_once_journaled(
    app: FakeSmsGate, journal: Journal
) -> None:
    driver = driver_for(app)
    assert isinstance(driver, Modem) and isinstance(driver, DecodedInbox)
    await driver.open()
    assert {h["event"] for h in app.webhooks.values()} >= {"sms:received", "sms:delivered"}
    app.receive(ALICE, "Dinner at 8?")
    assert isinstance(await asyncio.wait_for(driver.next_event(), 10), InboxChanged)
    assert not any(event == "sms:received" and status == 200 for event, status in app.posted)
    (sms,) = await journaled(driver, journal)
    assert (sms.sender, sms.body) == (ALICE, "Dinner at 8?")
    for _ in range(200):  # the app's request is answered now
        if ("sms:received", 200) in app.posted:
            break
        await asyncio.sleep(0.02)
    assert ("sms:received", 200) in app.posted
    await driver.close()


async def test_a_send_reports_delivered_by_reference(app: FakeSmsGate) -> None:
    driver = driver_for(app, sim=2)
    await driver.open()
    (ref,) = await driver.send_sms(ALICE, "On my way", request_status_report=True)
    (message,) = app.messages.values()
    assert message["simNumber"] == 2 and reference_of(message["id"]) == ref
    update = await asyncio.wait_for(driver.next_event(), 10)
    assert update == SendUpdate(ref, ALICE, "delivered")
    assert len(app.sent) == 1
    await driver.close()


async def test_a_refused_send_is_plain(app: FakeSmsGate) -> None:
    driver = driver_for(app)
    await driver.open()
    app.messages["taken"] = {}
    original = driver.send_sms

    async def conflict() -> None:
        app.password = "changed"  # the app now refuses us
        await original(ALICE, "x")

    with pytest.raises(SendRefused, match="refused"):
        await conflict()
    await driver.close()


async def test_unsigned_or_forged_webhooks_are_refused(app: FakeSmsGate) -> None:
    driver = driver_for(app)
    await driver.open()
    app.signing_key = "wrong"
    app.retries = 2
    app.receive(ALICE, "forged")
    for _ in range(200):
        if len([p for p in app.posted if p[0] == "sms:received"]) >= 2:
            break
        await asyncio.sleep(0.02)
    assert [s for e, s in app.posted if e == "sms:received"] == [401, 401]
    assert driver._hooks.pending(10) == []
    await driver.close()


async def test_messages_received_while_the_bridge_was_down_are_replayed(
    app: FakeSmsGate, journal: Journal
) -> None:
    driver = driver_for(app)
    await driver.open()
    await driver.close()
    app.retries = 1
    app.receive(ALICE, "while you were away")  # its webhook finds nobody listening
    await asyncio.sleep(0.3)
    driver = driver_for(app)
    await driver.open()  # catch-up: the app replays the period's webhooks
    assert isinstance(await asyncio.wait_for(driver.next_event(), 10), InboxChanged)
    assert [r.body for r in await journaled(driver, journal)] == ["while you were away"]
    await driver.close()


async def test_an_mms_with_a_picture(app: FakeSmsGate, journal: Journal) -> None:
    driver = driver_for(app)
    await driver.open()
    app.receive_mms(ALICE, "look", [("image/jpeg", "a.jpg", b"\xff\xd8pixels")])
    await asyncio.wait_for(driver.next_event(), 10)
    (mms,) = await journaled(driver, journal)
    assert mms.body == "look" and [(a.mime, a.data) for a in mms.attachments] == [
        ("image/jpeg", b"\xff\xd8pixels")
    ]
    await driver.close()
