"""A widely used third-party AT client (python-gsmmodem) accepts the emulated modem.

If the emulator were only faithful to our own driver, our driver's bugs could hide in it;
an independent client talking to it over a real pty is the check against that.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from device_bridge.emulator.run import run_emulator

gsmmodem = pytest.importorskip("gsmmodem.modem", reason="python-gsmmodem-new is a test extra")

ONE, TWO = "+15550100001", "+15550100002"


async def test_python_gsmmodem_connects_sends_and_receives() -> None:
    async with await run_emulator([ONE, TWO], control_port=0) as emu:
        received: list[str] = []
        arrived = threading.Event()

        def on_sms(sms) -> None:  # type: ignore[no-untyped-def]
            received.append(sms.text)
            arrived.set()

        modem = gsmmodem.GsmModem(emu.phone(ONE).pty, 115200, smsReceivedCallbackFunc=on_sms)
        modem.smsTextMode = False  # PDU mode, as the standard requires for everything

        def identify() -> tuple[object, ...]:
            # Every property below is an AT command: run them off the emulator's loop.
            modem.connect()
            return (
                modem.manufacturer,
                modem.model,
                modem.imei,
                modem.networkName,
                (modem.signalStrength),
            )

        try:
            maker, model, imei, network, signal = await asyncio.to_thread(identify)
            assert (maker, model, network) == ("Ferry", "Virtual GSM Modem", "Ferry Mobile")
            assert imei and 0 <= signal <= 31  # type: ignore[operator]
            # Receive first: python-gsmmodem takes a URC that lands while it waits for a
            # command's answer (here: handling a delivery report) as part of that answer.
            emu.network.send_text(TWO, ONE, "to a third-party client €")
            assert await asyncio.to_thread(arrived.wait, 5)
            assert received == ["to a third-party client €"]
            await asyncio.to_thread(modem.sendSms, TWO, "Grüße from a third-party client ✓")
            assert [m.text for m in emu.phone(TWO).modem.received] == [
                "Grüße from a third-party client ✓"
            ]
        finally:
            await asyncio.to_thread(modem.close)
