"""A graceful stop through ``ferry serve``'s own ``start_server`` and ``stop_within``:
an upload taken before the stop is stored and acknowledged before the bridge is told to
reconnect (1012); one sent after it is left to the bridge; tabs are told to reconnect."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import argon2
import pytest
from aiohttp import WSMsgType

from protocol.link import generate_keypair
from protocol.messages import Ack, InboundSms, Ping, Pong, Upload
from server import listening
from server.api.common import SERVICES
from server.cli import Serving, start_server, stop_within
from server.config import Config
from server.health import READINESS
from server.services import Services
from tests.device_link import DeviceClient, codec, connect

PHONE = "+15550100001"
PASSWORD = "correct horse battery"
T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    config = Config(port=0, data_dir=tmp_path / "var", password_params=argon2.profiles.CHEAPEST)
    serving = await start_server(config)
    gc.unfreeze()  # start_server freezes what start-up built; a test process goes on
    try:
        yield serving
    finally:
        await serving.close()


def _svc(serving: Serving) -> Services:
    return serving.runner.app[SERVICES]


async def _eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def sms(n: int) -> InboundSms:
    return InboundSms(
        n=n, key=f"k{n}", sender="+15550100002", body=f"message {n}", sent_at=T.isoformat()
    )


async def _next(dev: DeviceClient) -> object:
    """The next message, or the close code (an int) when the server closes."""
    msg = await asyncio.wait_for(dev.ws.receive(), 20)
    if msg.type == WSMsgType.BINARY:
        return codec.decode(dev.noise.decrypt(msg.data))
    assert msg.type == WSMsgType.CLOSE, msg
    return int(msg.data)


async def test_a_stop_acknowledges_what_it_took_then_tells_everyone_to_reconnect(
    serving: Serving,
) -> None:
    svc = _svc(serving)
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now)
    private, public = generate_keypair()
    await svc.devices.create(account, "bridge", public, now)
    async with aiohttp.ClientSession(
        base_url=serving.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        login = {"phone": PHONE, "password": PASSWORD}
        assert (await http.post("/api/v1/session", json=login)).status == 200
        tab = await http.ws_connect("/api/v1/ws", headers={"Origin": serving.url})
        await tab.send_str(json.dumps({"t": "subscribe", "since": 0}))
        dev = await connect(http, private, svc.server_public)
        assert await _next(dev) == Pong()
        # Another writer holds the database: the bridge's upload is taken, not stored.
        db = sqlite3.connect(serving.runner.app[SERVICES].config.data_dir / "ferry.db")
        db.isolation_level = None
        db.execute("BEGIN IMMEDIATE")
        try:
            await dev.send(Upload(items=[sms(1), sms(2), sms(3)]))
            await dev.send(Ping())
            assert await _next(dev) == Pong()  # read after the upload: it was taken
            stopping = asyncio.create_task(stop_within(serving, svc.config.shutdown_timeout))
            await _eventually(lambda: serving.runner.app[READINESS].stopping)
            await dev.send(Upload(items=[sms(4)]))  # after the stop began
            await dev.send(Ping())
            assert await _next(dev) == Pong()
        finally:
            db.execute("COMMIT")
            db.close()
        assert await _next(dev) == Ack(upto=3)
        assert await _next(dev) == 1012  # service restart: reconnect
        tab_closed = await asyncio.wait_for(tab.receive(), 20)
        while tab_closed.type == WSMsgType.TEXT:
            tab_closed = await asyncio.wait_for(tab.receive(), 20)
        assert (tab_closed.type, tab_closed.data) == (WSMsgType.CLOSE, 1012)
        assert await stopping == 0
    assert listening.read(svc.config.data_dir) is None
    stored = sqlite3.connect(svc.config.data_dir / "ferry.db")
    try:
        keys = {k for (k,) in stored.execute("SELECT device_key FROM messages")}
    finally:
        stored.close()
    assert keys == {"k1", "k2", "k3"}  # k4 was never acknowledged: the bridge keeps it


async def test_a_stop_that_cannot_finish_in_time_is_cut_short(serving: Serving) -> None:
    svc = _svc(serving)
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now)
    private, public = generate_keypair()
    await svc.devices.create(account, "bridge", public, now)
    async with aiohttp.ClientSession(base_url=serving.url) as http:
        dev = await connect(http, private, svc.server_public)
        assert await _next(dev) == Pong()
        db = sqlite3.connect(svc.config.data_dir / "ferry.db")
        db.isolation_level = None
        db.execute("BEGIN IMMEDIATE")  # held past the bound: the upload cannot be stored
        try:
            await dev.send(Upload(items=[sms(1)]))
            await dev.send(Ping())
            assert await _next(dev) == Pong()
            assert await stop_within(serving, 1.0) == 1
        finally:
            db.execute("COMMIT")
            db.close()
