"""Once a browser socket is upgraded, nothing may reach the HTTP error middleware: its
error response would be written into the websocket stream as garbage (the browser saw
"Invalid frame header"). A write to a socket closed under the server (sign-out from
another tab, a revoked session) ends quietly; a bug closes with 1011 and is logged."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from server.ws import browser
from tests.server.conftest import Env


async def frames_until_close(ws: aiohttp.ClientWebSocketResponse) -> list[aiohttp.WSMessage]:
    seen = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        seen.append(msg)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return seen


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (ConnectionResetError("Cannot write to closing transport"), None),
        (RuntimeError("bug"), 1011),
    ],
    ids=["closed-under-us", "bug"],
)
async def test_a_failure_after_the_upgrade_never_writes_http_into_the_socket(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    code: int | None,
) -> None:
    async def fail(svc, account_id):  # type: ignore[no-untyped-def]
        raise failure

    monkeypatch.setattr(browser, "device_views", fail)
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str('{"t": "subscribe", "since": 0}')
    seen = await frames_until_close(ws)
    assert [m.type for m in seen[:-1]] == [aiohttp.WSMsgType.TEXT] * (len(seen) - 1)
    assert seen[-1].type != aiohttp.WSMsgType.ERROR, seen[-1]  # garbage in the stream
    if code is not None:
        assert seen[-1].type == aiohttp.WSMsgType.CLOSE and seen[-1].data == code
    unhandled = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert unhandled == []
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == (0 if code is None else 1)


async def test_a_failure_on_the_device_link_closes_it_with_1011_and_logs_once(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    from protocol.messages import ContactEntry, Contacts

    async def busy(*args: object) -> int:
        raise OperationalError("replace", {}, Exception("database is locked"))

    monkeypatch.setattr(env.svc.contacts, "replace", busy)
    dev = await env.device()
    await dev.send(Contacts(entries=[ContactEntry(name="Alice", number="+15550100002")]))
    assert await dev.closed() == 1011
    unhandled = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert unhandled == []
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    monkeypatch.undo()
    await env.device()  # it reconnects as usual
