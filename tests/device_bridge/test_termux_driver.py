"""The Termux driver against fake ``termux-*`` commands on PATH (the JSON Termux:API
prints), the real subprocess path and a real journal; and the whole bridge on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_bridge.android.errors import PhoneAppError
from device_bridge.drivers.base import Contact, DecodedInbox, Modem, Received
from device_bridge.drivers.termux import PAGE, SOURCE, TermuxPhone
from device_bridge.journal import Journal
from tests.fakes.termux_phone import ALICE, FakeTermux


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTermux:
    return FakeTermux(tmp_path, monkeypatch)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db", key=b"k" * 32)


async def take(driver: TermuxPhone, journal: Journal, limit: int = 50) -> list[Received]:
    found = await driver.poll_new(journal, limit)
    for r in found:
        journal.add_received(
            r.key, r.sender, r.body, r.sent_at, [], source=r.source, position=r.position,
            stamp=r.stamp, direction=r.direction, status=r.status,
        )  # fmt: skip
    return found


async def test_all_boxes_contacts_and_status(phone: FakeTermux, journal: Journal) -> None:
    phone.add_sms("Are you coming?")
    phone.add_sms("Yes, at 8", type_=2)
    phone.add_sms("not sent", type_=5)
    phone.add_sms("a draft", type_=3)
    driver = TermuxPhone()
    assert isinstance(driver, Modem) and isinstance(driver, DecodedInbox)
    await driver.open()
    got = await take(driver, journal)
    assert sorted((r.position, r.direction, r.status, r.sender, r.body) for r in got) == [
        (1, "in", None, ALICE, "Are you coming?"),
        (2, "out", "sent", ALICE, "Yes, at 8"),
        (3, "out", "failed", ALICE, "not sent"),
    ]
    assert all(r.sent_at.tzinfo is not None and r.source == SOURCE for r in got)
    assert await take(driver, journal) == []
    assert await driver.read_contacts() == [Contact("Alice", ALICE)]
    assert (await driver.status()).operator == "Ferry Mobile"


async def test_a_long_history_is_imported_in_pages_with_new_messages_first(
    phone: FakeTermux, journal: Journal
) -> None:
    count = 2 * PAGE + 30
    for i in range(count):
        phone.add_sms(f"old {i}")
    driver = TermuxPhone()
    await driver.open()
    first = await take(driver, journal, 150)
    assert [r.body for r in first[:2]] == [f"old {count - 1}", f"old {count - 2}"]
    phone.add_sms("new while importing")
    second = await take(driver, journal, 150)
    assert second[0].body == "new while importing"
    while batch := await take(driver, journal, 150):
        assert "new while importing" not in [r.body for r in batch]
    assert journal.seen_count() == count + 1
    assert journal.flag(f"imported:{SOURCE}")


async def test_an_import_resumes_after_a_restart_without_loss(
    phone: FakeTermux, journal: Journal
) -> None:
    for i in range(PAGE + 50):
        phone.add_sms(f"m{i}")
    await take(TermuxPhone(), journal, 120)
    # Killed: a new driver (a new process) goes on from the journal alone.
    driver = TermuxPhone()
    while await take(driver, journal, 120):
        pass
    assert journal.seen_count() == PAGE + 50


async def test_a_burst_after_a_long_time_away_is_read_whole(
    phone: FakeTermux, journal: Journal
) -> None:
    phone.add_sms("before")
    driver = TermuxPhone()
    assert [r.body for r in await take(driver, journal)] == ["before"]
    await take(driver, journal)
    for i in range(PAGE + 10):  # more than a page arrived while the bridge was down
        phone.add_sms(f"burst {i}")
    got: list[str] = []
    while batch := await take(driver, journal, 100):
        got += [r.body for r in batch]
    assert sorted(got) == sorted(f"burst {i}" for i in range(PAGE + 10))


async def test_send_uses_stdin_and_the_slot(phone: FakeTermux) -> None:
    driver = TermuxPhone(sim_slot=1)
    await driver.open()
    text = "back\\slash and 'quotes' -n too"
    assert await driver.send_sms(ALICE, text) == []
    _name, args, stdin = next(c for c in phone.calls() if c[0] == "termux-sms-send")
    assert args == ["-n", ALICE, "-s", "1"] and stdin == text
    assert phone.load()["sms"][-1]["body"] == text


async def test_missing_termux_api_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(PhoneAppError, match="pkg install termux-api"):
        await TermuxPhone().open()
