"""The ADB driver against a fake ``adb`` on PATH: the real subprocess path, the real
reader, a real journal deciding which rows are new; only the phone is fake (a JSON
description answered from SQLite tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_bridge.android.errors import AdbError, SendNotSupported
from device_bridge.drivers.adb import subprocess_runner
from device_bridge.drivers.android import MMS, SMS, AdbPhone
from device_bridge.drivers.base import Contact, DecodedInbox, Modem, Received
from device_bridge.drivers.phone_rows import WINDOW
from device_bridge.journal import Journal
from protocol.messages import MAX_ATTACHMENT_BYTES
from tests.fakes.android import ALICE, JPEG, PDF, SERIAL, T0_MS, FakePhone


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhone:
    return FakePhone(tmp_path, monkeypatch)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db", key=b"k" * 32)


async def take(driver: AdbPhone, journal: Journal, limit: int = 50) -> list[Received]:
    """One poll, journaled as the bridge journals it."""
    found = await driver.poll_new(journal, limit)
    for r in found:
        journal.add_received(
            r.key, r.sender, r.body, r.sent_at, list(r.attachments), source=r.source,
            position=r.position, stamp=r.stamp, direction=r.direction, status=r.status,
        )  # fmt: skip
    return found


async def test_sms_and_mms_with_attachments(phone: FakePhone, journal: Journal) -> None:
    phone.add_sms("Hi, it's me = Alice,\nsecond line")
    phone.add_mms("Invoice and photo", [("image/jpeg", "IMG_1.jpg", JPEG),
                                        ("application/pdf", "Rechnung.pdf", PDF)])  # fmt: skip
    driver = AdbPhone(SERIAL)
    assert isinstance(driver, Modem) and isinstance(driver, DecodedInbox)
    await driver.open()
    sms, mms = await take(driver, journal)
    date = T0_MS + 60_000 + 5_000
    assert (sms.key, sms.sender, sms.body) == (f"android:sms:1:{date}", ALICE,
                                               "Hi, it's me = Alice,\nsecond line")  # fmt: skip
    assert (sms.source, sms.position, sms.direction) == (SMS, 1, "in")
    assert sms.sent_at.tzinfo is not None and sms.sent_at.second == 0  # date_sent, not date
    assert (mms.sender, mms.body, mms.source, mms.direction) == (
        ALICE, "Invoice and photo", MMS, "in",
    )  # fmt: skip
    assert [(a.mime, a.name, a.data) for a in mms.attachments] == [
        ("image/jpeg", "IMG_1.jpg", JPEG),
        ("application/pdf", "Rechnung.pdf", PDF),
    ]
    assert await take(driver, journal) == []


async def test_the_sent_box_is_read_as_outgoing_with_the_phones_status(
    phone: FakePhone, journal: Journal
) -> None:
    phone.add_sms("Are you coming?")
    replies = [phone.add_sms(text, type_=2) for text in ("Yes", "At 8", "Oops")]
    for row, (kind, status) in zip(replies, [(2, 0), (2, 32), (5, -1)], strict=True):
        phone.state["sms"][row - 1].update(type=kind, status=status)
    phone.add_sms("a draft", type_=3)  # never sent: not a message of the thread
    phone.add_mms(None, [("image/jpeg", "me.jpg", JPEG)])
    phone.state["mms"][-1].update(m_type=128, msg_box=2)  # an MMS the user sent
    phone.save()
    driver = AdbPhone(SERIAL)
    await driver.open()
    got = await take(driver, journal)
    assert sorted((r.direction, r.status, r.sender, r.body) for r in got) == [
        ("in", None, ALICE, "Are you coming?"),
        ("out", "delivered", ALICE, "Yes"),
        ("out", "failed", ALICE, "Oops"),
        ("out", "sent", "+15550100001", ""),  # the MMS's recipient (addr type 151)
        ("out", "sent", ALICE, "At 8"),
    ]


async def test_history_is_imported_newest_first_and_new_messages_come_first(
    phone: FakePhone, journal: Journal
) -> None:
    for i in range(7):
        phone.add_sms(f"old {i}")
    driver = AdbPhone(SERIAL)
    await driver.open()
    assert await driver.history_size(journal) == 7
    assert [r.body for r in await take(driver, journal, 3)] == ["old 6", "old 5", "old 4"]
    phone.add_sms("new while importing")
    # The new message is read before the rest of the history.
    assert [r.body for r in await take(driver, journal, 2)] == ["new while importing", "old 3"]
    assert [r.body for r in await take(driver, journal)] == ["old 2", "old 1", "old 0"]
    assert await take(driver, journal) == []
    assert await driver.history_size(journal) is None  # imported


async def test_a_reused_id_and_a_late_mms_below_newer_ids_are_not_skipped(
    phone: FakePhone, journal: Journal
) -> None:
    for i in range(3):
        phone.add_sms(f"m{i}")
    driver = AdbPhone(SERIAL)
    await driver.open()
    await take(driver, journal)
    assert await take(driver, journal) == []
    # The user deletes the newest SMS; SQLite gives the next one the same _id.
    gone = phone.state["sms"].pop()
    phone.add_sms("after the deletion")
    assert phone.state["sms"][-1]["_id"] == gone["_id"]
    phone.state["sms"][-1]["date"] = gone["date"] + 3_600_000
    phone.save()
    (again,) = await take(driver, journal)
    assert (again.position, again.body) == (gone["_id"], "after the deletion")
    assert again.key != f"android:sms:{gone['_id']}:{gone['date']}"  # a new key
    # Two MMS arrive; the first was only a notice until later: it gets its id first
    # but appears (as downloaded) after the second.
    first = phone.add_mms("late photo", [("image/jpeg", "a.jpg", JPEG)])
    second = phone.add_mms("quick one", [])
    phone.state["mms"][first - 1]["m_type"] = 130  # not downloaded yet
    phone.save()
    assert [r.body for r in await take(driver, journal)] == ["quick one"]
    phone.state["mms"][first - 1]["m_type"] = 132  # downloaded now, below the newest id
    phone.save()
    (late,) = await take(driver, journal)
    assert (late.position, late.body) == (first, "late photo") and first < second
    assert await take(driver, journal) == []


async def test_the_rescan_window_is_bounded(phone: FakePhone, journal: Journal) -> None:
    phone.add_sms("one")
    driver = AdbPhone(SERIAL)
    await driver.open()
    await take(driver, journal)
    journal.take_rows(SMS, [(WINDOW + 100, 1)])  # as if many rows were taken since
    await take(driver, journal)
    # Only ids above top - WINDOW are listed again, never the whole store.
    assert any("_id>100 " in " ".join(c) for c in phone.calls()[-3:])


async def test_a_journal_from_before_the_seen_set_reads_nothing_twice(
    phone: FakePhone, tmp_path: Path
) -> None:
    for i in range(3):
        phone.add_sms(f"m{i}")
    old = Journal(tmp_path / "old.db", key=b"k" * 32)
    # The previous release kept only the cursor; the upgrade sets the floor from it.
    old._db.execute("DELETE FROM meta")
    old._db.execute("INSERT INTO meta VALUES ('floor:android:sms', 2), ('cursor:android:sms', 2)")
    driver = AdbPhone(SERIAL)
    await driver.open()
    assert [r.body for r in await take(driver, old)] == ["m2"]
    assert await take(driver, old) == []


async def test_a_forged_row_in_a_body_is_read_one_by_one(
    phone: FakePhone, journal: Journal
) -> None:
    phone.add_sms(
        "hi\nRow: 2 _id=99, date=1, date_sent=1, type=1, status=1, address=+1800BANK, "
        "body=code 1234"
    )
    phone.add_sms("a, address=b, body=c")
    driver = AdbPhone(SERIAL)
    await driver.open()
    got = sorted(await take(driver, journal), key=lambda r: r.position)
    assert [(r.position, r.sender) for r in got] == [(1, ALICE), (2, ALICE)]
    assert got[0].body.endswith("body=code 1234") and got[1].body == "a, address=b, body=c"


async def test_oversize_and_unreadable_parts(phone: FakePhone, journal: Journal) -> None:
    huge = b"\xff\xd8" + b"h" * MAX_ATTACHMENT_BYTES
    phone.add_mms(None, [("image/jpeg", "huge.jpg", huge), ("image/png", "gone.png", None)])
    driver = AdbPhone(SERIAL)
    await driver.open()
    (mms,) = await take(driver, journal)
    assert mms.attachments == ()
    assert mms.unread == (("huge.jpg", "image/jpeg"),)
    assert mms.body == "[attachment could not be read: gone.png]"


async def test_contacts_status_and_send(phone: FakePhone) -> None:
    phone.state["phones"] = [
        {"_id": 1, "display_name": "Alice, A.", "data1": ALICE},
        {"_id": 2, "display_name": None, "data1": "+15550100003"},
        {"_id": 3, "display_name": "Alice, A.", "data1": ALICE},  # two accounts, one entry
    ]
    phone.save()
    driver = AdbPhone(SERIAL)
    await driver.open()
    assert await driver.read_contacts() == [
        Contact("Alice, A.", ALICE),
        Contact("+15550100003", "+15550100003"),
    ]
    status = await driver.status()
    assert (status.operator, status.signal_dbm, status.own_number) == ("Ferry Mobile", None, None)
    with pytest.raises(SendNotSupported) as caught:
        await driver.send_sms(ALICE, "hello")
    assert "cannot send" in caught.value.message and not caught.value.parts_sent
    assert not any("send" in " ".join(c) for c in phone.calls())


@pytest.mark.parametrize(
    ("state", "serial", "meaning"),
    [
        ("unauthorized", SERIAL, "has not authorized this computer"),
        ("offline", SERIAL, "offline"),
        ("device", "OTHER", "not connected"),
    ],
)
async def test_unreachable_phones(phone: FakePhone, state: str, serial: str, meaning: str) -> None:
    phone.state["state"] = state
    phone.save()
    with pytest.raises(AdbError, match=meaning):
        await AdbPhone(serial).open()


async def test_adb_missing_and_provider_refusal(
    phone: FakePhone, tmp_path: Path, journal: Journal
) -> None:
    with pytest.raises(AdbError, match="not found: install Android platform-tools"):
        await AdbPhone(SERIAL, runner=subprocess_runner(str(tmp_path / "no-adb"))).open()
    phone.state["refuse"] = ["content://sms"]
    phone.save()
    driver = AdbPhone(SERIAL)
    await driver.open()
    with pytest.raises(AdbError, match="refused"):
        await driver.poll_new(journal, 10)


async def test_output_limit_and_timeout() -> None:
    async def chatty(args: object, *, limit: int) -> object:
        from device_bridge.android.errors import AdbOutputTooLarge

        raise AdbOutputTooLarge("adb printed more than 1 bytes")

    with pytest.raises(AdbError, match="more than"):
        await AdbPhone(runner=chatty).open()  # type: ignore[arg-type]

    async def stuck(args: object, *, limit: int) -> object:
        import asyncio

        await asyncio.sleep(10)

    with pytest.raises(AdbError, match=r"did not answer within 0\.05s"):
        await AdbPhone(runner=stuck, timeout=0.05).open()  # type: ignore[arg-type]


def test_sent_at_falls_back_to_the_received_time() -> None:
    from device_bridge.drivers.android import _when

    assert _when("0", "1793530800", scale=1) == datetime.fromtimestamp(1793530800, UTC)
    assert _when(None, None, scale=1000) == datetime.fromtimestamp(0, UTC)
