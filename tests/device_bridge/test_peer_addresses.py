"""Short codes and sender names through the modem path: a reply to a short code leaves
the real driver as a SUBMIT to those digits (type of number unknown, not international)
and the emulated network hands it to the outside world; a name and a short code arrive
as they were sent. Real pseudo-terminals, the real AT driver (issue #12)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import Emulator, open_emulator
from device_bridge.gsm.modem import NewMessage
from device_bridge.gsm.pdu import Deliver, Submit, decode_pdu, encode_submit
from tests.device_bridge.test_serial_modem import ONE, TWO, control, make_modem, next_event

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator([ONE, TWO], control_port=0) as emu:
        yield emu


@pytest.fixture
async def modem(emulator: Emulator) -> AsyncIterator[SerialModem]:
    modem = make_modem(emulator)
    await modem.open()
    yield modem
    await modem.close()


def test_short_code_is_addressed_as_digits_of_unknown_type() -> None:
    (part,) = encode_submit("12345", "STOP")
    submit = decode_pdu(part.hex)
    assert isinstance(submit, Submit)
    assert (submit.recipient, submit.recipient_kind) == ("12345", "unknown")
    # TP-DA: 5 semi-octets, type 0x81 (unknown, ISDN plan), swapped BCD with F filler.
    # SMSC 00 (the modem's own), SUBMIT 01, TP-MR 00, then TP-DA 05 81 21 43 F5.
    assert part.hex.startswith("00" + "01" + "00" + "05812143F5")


async def test_reply_to_a_short_code_goes_out(emulator: Emulator, modem: SerialModem) -> None:
    references = await modem.send_sms("12345", "STOP")
    assert len(references) == 1
    (record,) = await control(emulator, "GET", "/external")
    assert (record["from"], record["to"], record["text"]) == (ONE, "12345", "STOP")


@pytest.mark.parametrize("sender", ["12345", "BANK", "Amazon.de"])
async def test_short_code_and_name_arrive_as_sent(
    emulator: Emulator, modem: SerialModem, sender: str
) -> None:
    await control(emulator, "POST", f"/phones/{ONE}/inject", {"from": sender, "text": "code 42"})
    event = await next_event(modem)
    assert isinstance(event, NewMessage)
    stored = await modem.read_message(event.index)
    assert stored is not None and isinstance(stored.sms, Deliver)
    assert (stored.sms.sender, stored.sms.text) == (sender, "code 42")
    assert stored.sms.sender_kind == ("unknown" if sender.isdigit() else "alphanumeric")
