"""Losing Redis degrades two nodes to polling the database, never to loss or duplicates;
when Redis returns, live push resumes.

The nodes use a ``redis-server`` of this test's own (on a free port, no persistence),
killed with SIGKILL and started again. A tab follows node A, a bridge uploads to node B.
The nodes' safety-net poll while Redis is up is pushed out of reach (600 s), so after
Redis returns only live push can deliver in time.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from protocol.messages import Ack, InboundSms, SendSms, Upload
from tests.device_link import DeviceClient, connect
from tests.e2e.cluster import Cluster, Tab, open_cluster, sign_in
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port
from tests.e2e.procs import Proc
from tests.shared_redis import redis_answers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "redis outage password"
#: Live push arrives in well under a second; polling while Redis is lost every 2 s.
LIVE = 15.0
POLLED = 30.0


class Uploader:
    """A bridge on the device link, uploading one message at a time."""

    def __init__(self, device: DeviceClient) -> None:
        self.device = device
        self.n = 0
        self.bodies: list[str] = []

    async def upload(self, body: str) -> None:
        self.n += 1
        item = InboundSms(
            n=self.n,
            key=f"outage-{self.n}",
            sender="+447700900123",
            body=body,
            sent_at=datetime.now(UTC).isoformat(),
        )
        await self.device.send(Upload(items=[item]))
        ack = await self.device.recv(timeout=30)
        assert isinstance(ack, Ack) and ack.upto == self.n, ack
        self.bodies.append(body)


class RedisServer:
    """A ``redis-server`` of the test's own, without persistence, on a free port."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.proc = Proc([*argv, "--save", "", "--appendonly", "no"], directory / "redis.log")

    async def start(self) -> None:
        await self.proc.start()
        await eventually(lambda: redis_answers(self.url), timeout=20)

    async def kill(self) -> None:
        await self.proc.kill()


def logged(cluster: Cluster, text: str, times: int = 1) -> bool:
    """Has every node written ``text`` to its log (at least ``times`` times)?"""
    return all(n.proc.log.read_text().count(text) >= times for n in cluster.nodes)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


async def test_losing_redis_degrades_to_polling_and_live_push_resumes(
    tmp_path: Path, redis: RedisServer
) -> None:
    quiet = {"FERRY_NODES_SAFETY_POLL": "600", "FERRY_SWEEP_INTERVAL": "600"}
    async with open_cluster(tmp_path / "cluster", redis_url=redis.url, env=quiet) as cluster:
        a, b = (n.url for n in cluster.nodes)
        account_id = await cluster.account(PHONE1, PASSWORD)
        device_id, private = await cluster.device(account_id, "bridge on B")
        async with (
            ClientSession(cookie_jar=CookieJar(unsafe=True)) as http,
            ClientSession() as raw,
        ):
            await sign_in(http, a, PHONE1, PASSWORD)
            bridge = Uploader(
                await connect(raw, private, cluster.server_public, url=f"{b}/api/v1/device")
            )
            tab = Tab(http, a).start()
            try:
                await tab.subscribed.wait()
                await bridge.upload("before the outage")
                await eventually(lambda: tab.bodies()["before the outage"] == 1, timeout=LIVE)

                await redis.kill()
                await eventually(lambda: logged(cluster, "Redis unreachable"), timeout=30)
                for i in range(5):
                    body = f"during the outage ({i})"
                    await bridge.upload(body)
                    await eventually(lambda b=body: tab.bodies()[b] == 1, timeout=POLLED)
                # Sends still leave: pumps are woken by the poll.
                payload = {"to": PHONE2, "body": "sent during the outage", "client_msg_id": "o1"}
                async with http.post(f"{a}/api/v1/messages", json=payload) as resp:
                    assert resp.status == 201
                order = await bridge.device.recv(timeout=POLLED)
                assert isinstance(order, SendSms) and order.body == "sent during the outage"
                # Throttles fall back to each node's own counts: still limited.
                await _locked_out(a)

                await redis.start()
                await eventually(lambda: logged(cluster, "Redis is back after"), timeout=60)
                for i in range(3):
                    body = f"after the outage ({i})"
                    await bridge.upload(body)
                    await eventually(lambda b=body: tab.bodies()[b] == 1, timeout=LIVE)
                await asyncio.sleep(1)  # anything doubled would have arrived by now
            finally:
                await tab.stop()
            uploaded = set(bridge.bodies)
            assert {b for b in tab.bodies() if b in uploaded} == uploaded
            assert max(tab.received.values()) == 1, "a message reached the tab twice"
            assert tab.resyncs == 0
            assert device_id in {d.id for d in tab.devices}


async def _locked_out(url: str) -> None:
    phone = "+15550100066"
    async with ClientSession() as anon:
        body = {"phone": phone, "password": "a wrong one"}
        statuses = []
        for _ in range(7):
            async with anon.post(f"{url}/api/v1/session", json=body) as resp:
                statuses.append(resp.status)
        # No such account: the same answers as a real one (the throttle never tells).
        assert statuses == [401] * 6 + [429], statuses
