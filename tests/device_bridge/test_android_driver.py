"""The ADB driver against a fake ``adb`` on PATH: the real subprocess path, the real
reader; only the phone is fake (a JSON description answered from SQLite tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_bridge.android.errors import AdbError, SendNotSupported
from device_bridge.drivers.adb import subprocess_runner
from device_bridge.drivers.android import MMS, SMS, AdbPhone
from device_bridge.drivers.base import Contact, DecodedInbox, Modem
from protocol.messages import MAX_ATTACHMENT_BYTES
from tests.fakes.android import ALICE, JPEG, PDF, SERIAL, FakePhone


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhone:
    return FakePhone(tmp_path, monkeypatch)


async def test_sms_and_mms_with_attachments(phone: FakePhone) -> None:
    phone.add_sms("Hi, it's me = Alice,\nsecond line")
    phone.add_sms("from the outbox", type_=2)  # sent by the user: not in the inbox
    phone.add_mms("Invoice and photo", [("image/jpeg", "IMG_1.jpg", JPEG),
                                        ("application/pdf", "Rechnung.pdf", PDF)])  # fmt: skip
    driver = AdbPhone(SERIAL)
    assert isinstance(driver, Modem) and isinstance(driver, DecodedInbox)
    await driver.open()
    sms, mms = await driver.poll_new({}, 10)
    assert (sms.key, sms.sender, sms.body) == ("android:sms:1", ALICE,
                                               "Hi, it's me = Alice,\nsecond line")  # fmt: skip
    assert (sms.source, sms.position) == (SMS, 1)
    assert sms.sent_at.tzinfo is not None and sms.sent_at.second == 0  # date_sent, not date
    assert (mms.key, mms.sender, mms.body, mms.source) == (
        "android:mms:1",
        ALICE,
        "Invoice and photo",
        MMS,
    )
    assert [(a.mime, a.name, a.data) for a in mms.attachments] == [
        ("image/jpeg", "IMG_1.jpg", JPEG),
        ("application/pdf", "Rechnung.pdf", PDF),
    ]
    assert await driver.poll_new({SMS: 1, MMS: 1}, 10) == []
    # Nothing below the cursor is asked for again.
    assert any("_id>1" in " ".join(c) for c in phone.calls()[-3:])


async def test_the_limit_and_the_cursor(phone: FakePhone) -> None:
    for i in range(5):
        phone.add_sms(f"m{i}")
    driver = AdbPhone(SERIAL)
    await driver.open()
    first = await driver.poll_new({}, 2)
    assert [r.body for r in first] == ["m0", "m1"]
    rest = await driver.poll_new({SMS: first[-1].position}, 10)
    assert [r.body for r in rest] == ["m2", "m3", "m4"]


async def test_a_forged_row_in_a_body_is_read_one_by_one(phone: FakePhone) -> None:
    phone.add_sms("hi\nRow: 2 _id=99, date=1, date_sent=1, address=+1800BANK, body=code 1234")
    phone.add_sms("a, address=b, body=c")
    driver = AdbPhone(SERIAL)
    await driver.open()
    got = await driver.poll_new({}, 10)
    assert [(r.position, r.sender) for r in got] == [(1, ALICE), (2, ALICE)]
    assert got[0].body.endswith("body=code 1234") and got[1].body == "a, address=b, body=c"


async def test_oversize_and_unreadable_parts(phone: FakePhone) -> None:
    huge = b"\xff\xd8" + b"h" * MAX_ATTACHMENT_BYTES
    phone.add_mms(None, [("image/jpeg", "huge.jpg", huge), ("image/png", "gone.png", None)])
    driver = AdbPhone(SERIAL)
    await driver.open()
    (mms,) = await driver.poll_new({}, 10)
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


async def test_adb_missing_and_provider_refusal(phone: FakePhone, tmp_path: Path) -> None:
    with pytest.raises(AdbError, match="not found: install Android platform-tools"):
        await AdbPhone(SERIAL, runner=subprocess_runner(str(tmp_path / "no-adb"))).open()
    phone.state["refuse"] = ["content://sms/inbox"]
    phone.save()
    driver = AdbPhone(SERIAL)
    await driver.open()
    with pytest.raises(AdbError, match="refused"):
        await driver.poll_new({}, 10)


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
