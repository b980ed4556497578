"""The bridge's websocket link: URL policy, hello, reconnect after the server restarts."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiohttp import web

from device_bridge.backoff import Backoff
from device_bridge.credentials import load_identity
from device_bridge.errors import InsecureUrl
from device_bridge.link import Link, check_url
from device_bridge.pairing import pair
from protocol.messages import Welcome
from server import shutdown
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from tests.device_link import new_pairing_code


@pytest.mark.parametrize(
    "url,ok",
    [
        ("ws://127.0.0.1:8080/api/v1/device", True),
        ("ws://localhost/api/v1/device", True),
        ("ws://[::1]:80/x", True),
        ("wss://ferry.example/api/v1/device", True),
        ("ws://ferry.example/api/v1/device", False),
        ("ws://192.168.1.10/api/v1/device", False),
        ("ftp://127.0.0.1/", False),
    ],
)
def test_plain_ws_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        check_url(url)
    else:
        with pytest.raises(InsecureUrl):
            check_url(url)
    check_url("ws://ferry.example/api/v1/device", allow_insecure=True)


def test_backoff_grows_caps_and_resets() -> None:
    b = Backoff(base=1, cap=8, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    b.reset()
    assert b.next_delay() == 1
    low = Backoff(base=1, cap=8, rand=lambda: 0.0)
    assert low.next_delay() == 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(config: Config) -> web.AppRunner:
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    return runner


async def test_link_reconnects_after_server_restart(tmp_path: Path) -> None:
    config = Config(port=_free_port(), data_dir=tmp_path)
    runner = await _start(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(
        "+15550100001", svc.passwords.hash("pw-pw-pw-pw"), now, verified_at=now
    )
    url = f"http://127.0.0.1:{config.port}"
    offer = await new_pairing_code(svc, account, url)
    paired = await pair(tmp_path / "bridge", offer.uri, name="test bridge")
    device_id = paired.device_id
    welcomes: list[Welcome] = []

    async def on_connect(w: Welcome) -> None:
        welcomes.append(w)

    async def on_message(_m: object) -> None:
        return None

    link = Link(
        load_identity(tmp_path / "bridge"),
        on_message,
        on_connect,
        backoff=Backoff(base=0.05, cap=0.2),
    )
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
        await runner.cleanup()
        for _ in range(100):
            if not link.connected.is_set():
                break
            await asyncio.sleep(0.05)
        assert not link.connected.is_set()
        runner = await _start(config)
        await asyncio.wait_for(link.connected.wait(), 5)
        assert len(welcomes) == 2 and welcomes[1].device_id == device_id
    finally:
        task.cancel()
        await runner.cleanup()


async def test_a_server_restarting_is_reconnected_to_at_once_whatever_the_backoff(
    tmp_path: Path,
) -> None:
    """A graceful stop closes the link with 1012 (service restart): the next attempts
    come within RESTART_CAP seconds, not after the long backoff of a link in trouble."""
    config = Config(port=_free_port(), data_dir=tmp_path)
    runner = await _start(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(
        "+15550100001", svc.passwords.hash("pw-pw-pw-pw"), now, verified_at=now
    )
    url = f"http://127.0.0.1:{config.port}"
    await pair(tmp_path / "bridge", (await new_pairing_code(svc, account, url)).uri, name="b")

    async def ignore(_m: object) -> None:
        return None

    # A backoff whose first delay is 15 to 30 s.
    link = Link(load_identity(tmp_path / "bridge"), ignore, ignore, backoff=Backoff(base=30))
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        await shutdown.stop(runner)
        assert not link.connected.is_set()
        runner = await _start(config)
        await asyncio.wait_for(link.connected.wait(), 10)
    finally:
        task.cancel()
        await runner.cleanup()
