"""Phone verification through the whole system: the code leaves through the ``emulator``
gateway, reaches the virtual SIM, the real bridge reads it over the AT driver and uploads
it, and the server verifies the account by itself."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import run_emulator
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from server.config import Config
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port, start_server

TERMS = Config.terms_version  # the terms a sign-up accepts

PASSWORD = "e2e password!"


async def test_bridge_auto_verifies_its_own_number(tmp_path: Path) -> None:
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    config = Config(
        port=free_port(),
        data_dir=tmp_path / "server",
        sms_gateway="emulator",
        emulator_url=emulator.control_url,
    ).validate()
    runner = await start_server(config)
    url = f"http://127.0.0.1:{config.port}"
    journal = Journal(tmp_path / "journal.db")
    modem = SerialModem(emulator.phone(PHONE1).pty, command_timeout=5)
    task = None
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            signup = {"phone": PHONE1, "password": PASSWORD, "accept_terms": TERMS}
            async with http.post(f"{url}/api/v1/accounts", json=signup) as resp:
                assert resp.status == 202
            async with http.post(f"{url}/api/v1/session", json=signup) as resp:
                assert (await resp.json())["account"]["phone_verified"] is False
            async with http.get(f"{url}/api/v1/threads") as resp:
                assert resp.status == 403
            # The code SMS is already waiting on the SIM; now the user pairs the bridge,
            # with a pairing code made in the web client (signed in, not yet verified).
            async with http.post(f"{url}/api/v1/pairing-codes") as resp:
                assert resp.status == 201
                uri = (await resp.json())["uri"]
            await pair(tmp_path / "bridge", uri, name="e2e")
            bridge = Bridge(
                modem,
                journal,
                load_identity(tmp_path / "bridge"),
                link_backoff=Backoff(base=0.05, cap=0.5),
                modem_backoff=Backoff(base=0.05, cap=0.5),
            )
            task = asyncio.create_task(bridge.run())
            await eventually(
                lambda: any("#" in m.text for m in emulator.phone(PHONE1).modem.received)
            )

            async def verified() -> bool:
                async with http.get(f"{url}/api/v1/me") as resp:
                    return bool((await resp.json())["account"]["phone_verified"])

            await eventually(verified, 20)
            async with http.get(f"{url}/api/v1/threads") as resp:
                assert resp.status == 200
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await modem.close()
        journal.close()
        await runner.cleanup()
        await emulator.close()


async def test_code_reaches_an_unbridged_phone_through_the_emulator(tmp_path: Path) -> None:
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    config = Config(
        port=free_port(),
        data_dir=tmp_path / "server",
        sms_gateway="emulator",
        emulator_url=emulator.control_url,
    ).validate()
    runner = await start_server(config)
    url = f"http://127.0.0.1:{config.port}"
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            signup = {"phone": PHONE2, "password": PASSWORD, "accept_terms": TERMS}
            assert (await http.post(f"{url}/api/v1/accounts", json=signup)).status == 202
            assert (await http.post(f"{url}/api/v1/session", json=signup)).status == 200
            await eventually(lambda: bool(emulator.phone(PHONE2).modem.received))
            text = emulator.phone(PHONE2).modem.received[-1].text
            code = text.rsplit("#", 1)[1].strip()
            assert text.splitlines()[-1] == f"@127.0.0.1 #{code}"
            async with http.post(f"{url}/api/v1/me/phone/verify", json={"code": code}) as resp:
                assert resp.status == 200
                assert (await resp.json())["account"]["phone_verified"] is True
    finally:
        await runner.cleanup()
        await emulator.close()
