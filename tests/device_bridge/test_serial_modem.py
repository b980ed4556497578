"""SerialModem against the emulator, over real pseudo-terminals (no mocked port)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from device_bridge.drivers.base import Modem, StoredMessage
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import Emulator, open_emulator
from device_bridge.emulator.storage import Slot
from device_bridge.gsm.errors import AtTimeout, CmeError, CmsError, ModemUnavailable
from device_bridge.gsm.modem import NewMessage, StatusReportIndex, StatusReportPdu
from device_bridge.gsm.pdu import Deliver, StatusReport, decode_pdu, encode_submit

ONE, TWO = "+15550100001", "+15550100002"
pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator([ONE, TWO], control_port=0) as emu:
        yield emu


def make_modem(emulator: Emulator, **options: object) -> SerialModem:
    options = {"command_timeout": 1.0, "send_timeout": 2.0, **options}
    return SerialModem(emulator.phones[0].pty, **options)  # type: ignore[arg-type]


@pytest.fixture
async def modem(emulator: Emulator) -> AsyncIterator[SerialModem]:
    modem = make_modem(emulator)
    await modem.open()
    yield modem
    await modem.close()


async def control(emulator: Emulator, method: str, path: str, body: object = None) -> object:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, emulator.control_url + path, json=body) as response,
    ):
        assert response.status < 300, await response.text()
        return await response.json()


async def next_event(modem: SerialModem) -> object:
    return await asyncio.wait_for(modem.next_event(), 2)


# ---------------------------------------------------------------- init


async def test_open_prepares_the_modem(emulator: Emulator, modem: SerialModem) -> None:
    emulated = emulator.phones[0].modem
    assert isinstance(modem, Modem)
    assert (modem.cnmi, modem.storage) == ("2,1,0,1,0", "SM")
    assert (emulated.echo, emulated.cmee, emulated.cmgf) == (False, 1, 0)
    assert emulated.cnmi == (2, 1, 0, 1, 0)


async def test_close_and_reopen_the_same_pty(emulator: Emulator, modem: SerialModem) -> None:
    await modem.close()
    with pytest.raises(ModemUnavailable):
        await modem.list_messages()
    await modem.open()
    assert await modem.list_messages() == []


async def test_missing_port_is_modem_unavailable() -> None:
    with pytest.raises(ModemUnavailable):
        await SerialModem("/dev/does-not-exist-ferry").open()


async def test_next_event_fails_once_closed(modem: SerialModem) -> None:
    waiter = asyncio.create_task(modem.next_event())
    await asyncio.sleep(0)
    await modem.close()
    with pytest.raises(ModemUnavailable):
        await waiter


async def test_locked_sim_is_unlocked_with_the_pin(emulator: Emulator) -> None:
    emulator.phones[0].modem.update_faults({"pin_locked": True})
    without = make_modem(emulator)
    with pytest.raises(CmeError) as caught:
        await without.open()
    assert caught.value.code == 11
    modem = make_modem(emulator, pin="1234")
    await modem.open()
    try:
        assert not emulator.phones[0].modem.sim_locked
        assert await modem.list_messages() == []
    finally:
        await modem.close()


# ---------------------------------------------------------------- receiving


async def test_incoming_sms_is_announced_and_read(emulator: Emulator, modem: SerialModem) -> None:
    await control(
        emulator,
        "POST",
        f"/phones/{ONE}/inject",
        {"from": "+447700900123", "text": "Hello from London"},
    )
    event = await next_event(modem)
    assert event == NewMessage("SM", 1)
    stored = await modem.read_message(event.index)
    assert isinstance(stored, StoredMessage)
    assert isinstance(stored.sms, Deliver)
    assert (stored.sms.sender, stored.sms.text) == ("+447700900123", "Hello from London")
    assert stored.status == 0


async def test_list_read_delete(emulator: Emulator, modem: SerialModem) -> None:
    for text in ("first", "second"):
        emulator.phones[0].modem.deliver("+447700900123", text, emulator.network.clock())
    listed = await modem.list_messages()
    assert [(m.index, m.sms.text) for m in listed] == [(1, "first"), (2, "second")]
    await modem.delete_message(1)
    assert await modem.read_message(1) is None
    assert [m.index for m in await modem.list_messages()] == [2]


async def test_undecodable_pdu_keeps_the_raw_hex(emulator: Emulator, modem: SerialModem) -> None:
    emulator.phones[0].modem.memories["SM"].add(Slot(0, "07915155000000F004", 9))
    (stored,) = await modem.list_messages()
    assert stored.sms is None
    assert stored.error
    assert stored.pdu == "07915155000000F004"


async def test_empty_stat_and_stray_quote_are_still_read(
    emulator: Emulator, modem: SerialModem
) -> None:
    emulated = emulator.phones[0].modem
    (draft,) = encode_submit(TWO, "a draft")
    emulated.memories["SM"].add(Slot(2, draft.hex, draft.tpdu_length))
    emulated.deliver("+447700900123", "first", emulator.network.clock())
    emulated.update_faults({"blank_status": True, "pdu_quote": True})  # +CMGR: ,,92 / hex"
    listed = await modem.list_messages()
    assert [(m.index, m.status, m.sms.text) for m in listed] == [(1, 2, "a draft"), (2, 0, "first")]
    stored = await modem.read_message(2)
    assert (stored.status, stored.sms.text) == (0, "first")


async def test_urc_in_the_middle_of_a_command(emulator: Emulator, modem: SerialModem) -> None:
    emulated = emulator.phones[0].modem
    emulated.deliver("+447700900123", "already there", emulator.network.clock())
    assert await next_event(modem) == NewMessage("SM", 1)
    emulated.update_faults({"urc_mid_response": True})
    emulated.deliver("+447700900123", "arrives mid-listing", emulator.network.clock())
    listed = await modem.list_messages()  # +CMTI: "SM",2 sits between the two entries
    assert [m.sms.text for m in listed] == ["already there", "arrives mid-listing"]
    assert await next_event(modem) == NewMessage("SM", 2)


# ---------------------------------------------------------------- sending


@pytest.mark.parametrize(
    "text", ["Hi there, see you @ 5?", "Привет! 👋 Как дела?", "Long message. " * 30]
)
async def test_send_reaches_the_other_phone(
    emulator: Emulator, modem: SerialModem, text: str
) -> None:
    references = await modem.send_sms(TWO, text)
    assert len(references) == (3 if len(text) > 300 else 1)
    assert len(set(references)) == len(references)
    received = await control(emulator, "GET", f"/phones/{TWO}/messages")
    assert [(m["from"], m["text"]) for m in received] == [(ONE, text)]


async def test_send_to_an_outside_number_is_recorded(
    emulator: Emulator, modem: SerialModem
) -> None:
    await modem.send_sms("+447700900123", "to the world")
    (record,) = await control(emulator, "GET", "/external")
    assert (record["from"], record["to"], record["text"]) == (ONE, "+447700900123", "to the world")


async def test_status_report_is_delivered_directly(modem: SerialModem) -> None:
    (reference,) = await modem.send_sms(TWO, "report please", request_status_report=True)
    event = await next_event(modem)
    assert isinstance(event, StatusReportPdu)
    report = decode_pdu(event.pdu)
    assert isinstance(report, StatusReport)
    assert (report.message_reference, report.recipient) == (reference, TWO)
    assert report.outcome == "delivered"


async def test_network_refusal_is_a_cms_error(emulator: Emulator, modem: SerialModem) -> None:
    emulator.phones[0].modem.update_faults({"send_error": 42})
    with pytest.raises(CmsError) as caught:
        await modem.send_sms(TWO, "will not go")
    assert (caught.value.code, caught.value.meaning) == (42, "congestion")
    assert caught.value.transient
    assert caught.value.parts_sent == ()


async def test_slow_confirmation_holds_urcs_until_done(
    emulator: Emulator, modem: SerialModem
) -> None:
    emulated = emulator.phones[0].modem
    emulated.update_faults({"send_delay": 0.3})
    sending = asyncio.create_task(modem.send_sms(TWO, "slowly"))
    await asyncio.sleep(0.1)
    emulated.deliver("+447700900123", "meanwhile", emulator.network.clock())
    assert len(await sending) == 1
    assert await next_event(modem) == NewMessage("SM", 1)


# ---------------------------------------------------------------- failures


async def test_hung_modem_times_out_then_recovers(emulator: Emulator) -> None:
    modem = make_modem(emulator, command_timeout=0.3)
    await modem.open()
    try:
        emulator.phones[0].modem.update_faults({"hang": True})
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(AtTimeout) as caught:
            await modem.list_messages()
        assert 0.25 < loop.time() - started < 3.0  # generous: CI machines stall
        assert caught.value.stage == "response"
        emulator.phones[0].modem.update_faults({"hang": False})
        assert await modem.list_messages() == []
    finally:
        await modem.close()


async def test_missing_prompt_aborts_with_esc(emulator: Emulator) -> None:
    modem = make_modem(emulator, command_timeout=0.3)
    await modem.open()
    try:
        emulator.phones[0].modem.update_faults({"no_prompt": True})
        with pytest.raises(AtTimeout) as caught:
            await modem.send_sms(TWO, "never sent")
        assert (caught.value.stage, caught.value.may_have_sent) == ("prompt", False)
        emulator.phones[0].modem.update_faults({"no_prompt": False})
        await modem.send_sms(TWO, "sent after all")
        received = emulator.phones[1].modem.received
        assert [m.text for m in received] == ["sent after all"]
    finally:
        await modem.close()


async def test_dropped_response_and_garbage(emulator: Emulator) -> None:
    modem = make_modem(emulator, command_timeout=0.3)
    await modem.open()
    try:
        emulator.phones[0].modem.update_faults({"drop_responses": 1, "garbage": True})
        with pytest.raises(AtTimeout):
            await modem.status()
        status = await modem.status()
        assert (status.signal_dbm, status.operator, status.own_number) == (-73, "Ferry Mobile", ONE)
    finally:
        await modem.close()


# ---------------------------------------------------------------- vendor quirks


@pytest.mark.parametrize(
    ("profile", "cnmi", "report"),
    [
        ("generic", "2,1,0,1,0", StatusReportPdu),
        ("simcom", "2,1,0,1,0", StatusReportPdu),
        ("quectel", "2,1,0,1,0", StatusReportPdu),
        ("huawei", "2,1,0,2,0", StatusReportIndex),
        ("wavecom", "1,1,0,1,0", StatusReportPdu),
    ],
)
async def test_vendor_profiles(profile: str, cnmi: str, report: type | None) -> None:
    async with open_emulator(
        [ONE, TWO], control_port=0, profiles={ONE: profile, TWO: profile}
    ) as emu:
        modem = make_modem(emu)
        await modem.open()
        try:
            assert modem.cnmi == cnmi
            assert await modem.read_message(5) is None
            await modem.send_sms(TWO, "Grüße ✓", request_status_report=True)
            assert [m.text for m in emu.phones[1].modem.received] == ["Grüße ✓"]
            if report is not None:
                assert isinstance(await next_event(modem), report)
            emu.phones[0].modem.deliver("+447700900123", "hi", emu.network.clock())
            event = await next_event(modem)
            stored = await modem.read_message(event.index)
            assert stored.sms.text == "hi"
            status = await modem.status()
            assert status.own_number == (None if profile == "huawei" else ONE)
        finally:
            await modem.close()


async def test_vanished_port_is_modem_unavailable(emulator: Emulator, modem: SerialModem) -> None:
    emulator.phones[0].port.close()
    with pytest.raises(ModemUnavailable):
        await modem.list_messages()
    with pytest.raises(ModemUnavailable):
        await next_event(modem)


async def test_silent_port_fails_to_open(emulator: Emulator) -> None:
    emulator.phones[0].modem.update_faults({"hang": True})
    modem = make_modem(emulator, command_timeout=0.1)
    with pytest.raises(ModemUnavailable):
        await modem.open()
