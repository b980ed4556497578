"""The longest SMS the standard allows (255 parts) from the emulator, read by the real AT
driver over a real pty and joined by the bridge's journal, byte for byte.

No server runs: the bridge's link finds nobody listening and keeps retrying, which is all
the modem side needs. A SIM holds 30 messages, so most parts wait in the network until
the bridge has journaled and deleted earlier ones, as on a real line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import aiohttp
import pytest

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import Credentials, Identity
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import open_emulator
from device_bridge.journal import Journal
from protocol import sms
from protocol.pairing import encode_key
from tests.e2e.conftest import free_port

ONE = "+15550100001"
SENDER = "+447700900123"
pytestmark = pytest.mark.timeout(120)

# Every default-alphabet character but ESC, some extension ones, and line breaks.
GSM_PATTERN = sms.GSM7_BASIC.replace("\x1b", "") + "€[]{}|^~\\" + "\r\n"
# BMP letters of several scripts and characters outside it (surrogate pairs).
UCS2_PATTERN = "Привет мир 👋 你好世界 🚀 ἀλήθεια שלום עולם 😀 Ünïcödé — "


def longest(pattern: str, ref_bits: int) -> str:
    """The longest repetition of ``pattern`` that still fits 255 parts."""
    low, high = 0, 255 * 160
    text = (pattern * (high // len(pattern) + 1))[:high]
    while low < high:  # the largest length whose count is at most 255 parts
        middle = (low + high + 1) // 2
        if sms.count(text[:middle], ref_bits=ref_bits).parts <= 255:
            low = middle
        else:
            high = middle - 1
    return text[:low]


async def inject(control: str, text: str, ref_bits: int) -> None:
    body = {"from": SENDER, "text": text, "ref_bits": ref_bits}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{control}/phones/{ONE}/inject", json=body) as response,
    ):
        assert response.status == 201, await response.text()


@pytest.mark.parametrize(
    ("pattern", "ref_bits", "encoding"),
    [(GSM_PATTERN, 8, "gsm7"), (UCS2_PATTERN, 16, "ucs2")],
    ids=["gsm7-8bit-ref", "ucs2-16bit-ref"],
)
async def test_255_parts_arrive_whole(
    tmp_path: Path, pattern: str, ref_bits: int, encoding: str
) -> None:
    text = longest(pattern, ref_bits)
    info = sms.count(text, ref_bits=ref_bits)
    assert (info.encoding, info.parts) == (encoding, 255)
    identity = Identity(
        Credentials(f"http://127.0.0.1:{free_port()}", encode_key(os.urandom(32))),
        os.urandom(32),
    )
    journal = Journal(tmp_path / "journal.db")
    async with open_emulator([ONE], control_port=0) as emulator:
        modem = SerialModem(emulator.phones[0].pty, command_timeout=5.0)
        bridge = Bridge(modem, journal, identity, link_backoff=Backoff(base=30, cap=30))
        running = asyncio.create_task(bridge.run())
        try:
            await asyncio.wait_for(bridge.modem_ready.wait(), 20)
            await inject(emulator.control_url, text, ref_bits)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while not journal.pending_inbound() and loop.time() < deadline:
                await asyncio.sleep(0.1)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        (item,) = journal.pending_inbound()
        assert (item.sender, item.incomplete) == (SENDER, False)
        assert item.body.encode("utf-8") == text.encode("utf-8")
        emulated = emulator.phones[0].modem
        assert sum(m.used for m in emulated.memories.values()) == 0  # every part freed
