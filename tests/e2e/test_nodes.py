"""Two ``ferry serve`` nodes on one database, linked by Redis: none of the guarantees change.

Real processes (``tests/e2e/cluster.py``): the nodes, HAProxy in front, the real bridge
on the emulated modem. To make each sentence deterministic, a tab connects straight to
node A and the bridge straight to node B. The nodes' own safety nets are pushed out of
reach (the database poll while Redis is up, the session sweep: 600 s), so only what
travels through Redis can pass these tests.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import ClientSession, CookieJar

from device_bridge.emulator.run import Emulator, run_emulator
from protocol.messages import LinkClose
from tests.device_link import connect
from tests.e2e.cluster import Cluster, Tab, open_cluster, sign_in
from tests.e2e.conftest import PHONE1, PHONE2, eventually
from tests.e2e.procs import Proc
from tests.e2e.provision import pair_bridge

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

PASSWORD = "two nodes password"
#: What travels through Redis arrives in well under a second; the nodes' own safety nets
#: are 600 s away. Generous for a loaded machine, far below any fallback.
LIVE = 15.0


@dataclass
class Rig:
    cluster: Cluster
    emulator: Emulator
    bridge: Proc
    account_id: int

    @property
    def a(self) -> str:
        return self.cluster.nodes[0].url

    @property
    def b(self) -> str:
        return self.cluster.nodes[1].url


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp = tmp_path_factory.mktemp("nodes")
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    quiet = {"FERRY_NODES_SAFETY_POLL": "600", "FERRY_SWEEP_INTERVAL": "600"}
    try:
        async with open_cluster(tmp / "cluster", env=quiet) as cluster:
            account_id = await cluster.account(PHONE1, PASSWORD)
            b = cluster.nodes[1].url
            creds = await pair_bridge(tmp / "bridge", await cluster.pairing_uri(PHONE1, b))
            journal = str(tmp / "bridge" / "journal.db")
            pty = emulator.phone(PHONE1).pty
            argv = [sys.executable, "-m", "device_bridge", "run", "--port", pty, *creds]
            bridge = Proc([*argv, "--journal", journal], tmp / "bridge.log")
            await bridge.start()
            try:
                yield Rig(cluster, emulator, bridge, account_id)
            finally:
                await bridge.stop()
    finally:
        await emulator.close()


@pytest_asyncio.fixture(loop_scope="module")
async def http(rig: Rig) -> AsyncIterator[ClientSession]:
    """A browser signed in (on node A; the session is valid on every node)."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        await sign_in(session, rig.a, PHONE1, PASSWORD)
        yield session


async def test_a_tab_on_one_node_sees_live_what_the_bridge_uploaded_to_another(
    rig: Rig, http: ClientSession
) -> None:
    tab = Tab(http, rig.a).start()
    try:
        # The bridge's socket is on B: A's tab sees it online, with B's modem report.
        def bridge_ready() -> bool:
            return any(d.online and d.modem_state == "ready" for d in tab.devices)

        await eventually(bridge_ready, timeout=60)
        await tab.subscribed.wait()
        for i in range(3):
            body = f"through node B, seen on node A ({i})"
            rig.emulator.network.send_text("+447700900123", PHONE1, body)
            await eventually(lambda b=body: tab.bodies()[b] == 1, timeout=LIVE)
        assert max(tab.received.values()) == 1
        assert tab.resyncs == 0
    finally:
        await tab.stop()


async def test_a_send_posted_on_one_node_leaves_through_the_bridge_on_another(
    rig: Rig, http: ClientSession
) -> None:
    received = rig.emulator.phone(PHONE2).modem.received
    tab = Tab(http, rig.a).start()
    try:
        await tab.subscribed.wait()
        # Three sends 6 s apart, each out within 5 s: the pump's own rescan (every 30 s)
        # could serve one of them at most; only B's pump woken through Redis serves all.
        loop = asyncio.get_running_loop()
        for i in range(3):
            posted = loop.time()
            body = f"posted on node A ({i})"
            payload = {"to": PHONE2, "body": body, "client_msg_id": f"nodes-send-{i}"}
            async with http.post(f"{rig.a}/api/v1/messages", json=payload) as resp:
                assert resp.status == 201, await resp.text()
            await eventually(lambda b=body: any(m.text == b for m in received), timeout=5)
            await asyncio.sleep(max(0.0, posted + 6 - loop.time()))

        def reported_sent() -> bool:
            outgoing = [m for m in tab.messages.values() if m.direction == "out"]
            return len(outgoing) == 3 and all(m.status in ("sent", "delivered") for m in outgoing)

        await eventually(reported_sent, timeout=LIVE)
        assert sorted(m.text for m in received) == [f"posted on node A ({i})" for i in range(3)]
    finally:
        await tab.stop()


async def test_the_sign_in_throttle_holds_across_nodes(rig: Rig) -> None:
    phone = "+15550100077"
    await rig.cluster.account(phone, PASSWORD)
    async with ClientSession() as anon:
        # Five wrong passwords are free per account, wherever they are tried; the sixth
        # locks the account for 15 s. Alternating nodes, each node alone saw three.
        for i in range(6):
            node = rig.a if i % 2 == 0 else rig.b
            body = {"phone": phone, "password": f"wrong {i}"}
            async with anon.post(f"{node}/api/v1/session", json=body) as resp:
                assert resp.status == 401, (i, resp.status)
        for node in (rig.a, rig.b):
            body = {"phone": phone, "password": PASSWORD}
            async with anon.post(f"{node}/api/v1/session", json=body) as resp:
                assert resp.status == 429
                assert 1 <= int(resp.headers["Retry-After"]) <= 15


async def test_parallel_guesses_on_both_nodes_are_checked_one_at_a_time(rig: Rig) -> None:
    """Twelve wrong passwords at once, six to each node: each is checked only after the
    one before was counted, so exactly six are answered (the five free ones and the one
    that starts the lock) and the others wait out the lock."""
    phone = "+15550100088"
    await rig.cluster.account(phone, PASSWORD)

    async def guess(http: ClientSession, node: str, i: int) -> int:
        body = {"phone": phone, "password": f"parallel guess {i}"}
        async with http.post(f"{node}/api/v1/session", json=body) as resp:
            return resp.status

    async with ClientSession() as anon:
        statuses = await asyncio.gather(
            *(guess(anon, rig.a if i % 2 else rig.b, i) for i in range(12))
        )
    assert sorted(statuses) == [401] * 6 + [429] * 6, statuses


async def test_revoking_a_session_on_one_node_closes_its_socket_on_another(
    rig: Rig, http: ClientSession
) -> None:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as other:
        await sign_in(other, rig.b, PHONE1, PASSWORD)
        tab = Tab(other, rig.b).start()
        try:
            await tab.subscribed.wait()
            async with http.get(f"{rig.a}/api/v1/me/sessions") as resp:
                sessions = (await resp.json())["sessions"]
            newest = max((s for s in sessions if not s["current"]), key=lambda s: s["created_at"])
            async with http.delete(f"{rig.a}/api/v1/me/sessions/{newest['id']}") as resp:
                assert resp.status == 204
            await eventually(lambda: tab.ended, timeout=LIVE)
            assert tab.closes[-1] == 4401
        finally:
            await tab.stop()


async def test_revoking_a_device_on_one_node_closes_its_socket_on_another(
    rig: Rig, http: ClientSession
) -> None:
    device_id, private = await rig.cluster.device(rig.account_id, "second bridge")
    async with ClientSession() as raw:
        device = await connect(
            raw, private, rig.cluster.server_public, url=f"{rig.b}/api/v1/device"
        )
        async with http.delete(f"{rig.a}/api/v1/devices/{device_id}") as resp:
            assert resp.status == 204
        assert await device.closed(timeout=LIVE) == LinkClose.REVOKED
