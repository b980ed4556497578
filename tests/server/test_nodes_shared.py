"""What the nodes share through Redis, tested with two apps in one process (one data
directory, so one database and the same keys) and the real Redis under a key prefix of
the test's own: throttles with the single node's rules, handshake slots, the bridge
registry (newest connection wins, an older socket elsewhere is closed), code sends
through a gateway bridge on another node, and the envelopes between nodes."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import argon2
import pytest
from aiohttp.test_utils import TestClient

from protocol.link import generate_keypair
from protocol.messages import LinkClose, ModemInfo, SendSms
from server.api.common import SERVICES
from server.app import create_app
from server.auth.throttle import Backoff, Limiter, Throttle
from server.config import Config
from server.errors import RateLimited
from server.hub import ChangesHint, CloseSessions, GatewaySend
from server.nodes import wire
from server.nodes.limits import RedisLimits
from server.nodes.redis_hub import RedisHub
from server.services import Services
from server.sms_gateway import GatewayUnavailable
from server.sms_gateway.device import DeviceGateway
from tests.device_link import connect
from tests.e2e.conftest import eventually, free_port
from tests.fakes.clock import FakeClock
from tests.server.conftest import origin_of
from tests.shared_redis import REDIS_URL, redis_prefix

PHONE = "+15550100001"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with redis_prefix() as found:
        yield found


def _svc(client: TestClient) -> Services:
    return client.app[SERVICES]


@pytest.fixture
async def nodes(
    aiohttp_client, tmp_path: Path, prefix: str
) -> AsyncIterator[tuple[TestClient, TestClient]]:
    config = Config(
        data_dir=tmp_path / "var",
        handshake_timeout=2.0,
        password_params=argon2.profiles.CHEAPEST,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        max_unauthenticated_per_ip=2,
    )
    a = await aiohttp_client(create_app(config))  # migrates the shared database first
    b = await aiohttp_client(create_app(config))
    for client in (a, b):
        client.session.headers["Origin"] = origin_of(client)
    await eventually(lambda: _svc(a).hub.live and _svc(b).hub.live, timeout=10)
    yield a, b


async def _bridge(svc: Services) -> tuple[int, bytes]:
    now = svc.clock.now()
    account_id = await svc.accounts.create(PHONE, "x", now, verified_at=now)
    private, public = generate_keypair()
    return await svc.devices.create(account_id, "gateway bridge", public, now), private


# ---- throttles ------------------------------------------------------------------------


def _rules(kind: str, clock: FakeClock) -> Throttle | Backoff:
    if kind == "window":
        return Throttle(clock, limit=3, window=60)
    return Backoff(clock, free=2, base=10, cap=40, forget=100)


#: (seconds to wait, then hit?) — a guesser's tries, then quiet.
_TRIES = [(0, True), (1, True), (5, True), (1, True), (3, False), (20, True), (30, True)]
_TRIES += [(45, False), (60, True), (200, False), (1, True)]


@pytest.mark.parametrize("kind", ["window", "backoff"])
async def test_shared_throttles_follow_the_single_nodes_rules(prefix: str, kind: str) -> None:
    """Tries spread over two nodes meet exactly the limits one node alone would set."""
    from redis.asyncio import Redis

    clock = FakeClock()
    client = Redis.from_url(REDIS_URL)
    try:
        shared = RedisLimits(client, prefix, lambda: True)
        alone = Limiter(_rules(kind, clock), name="t", clock=clock)
        node_a = Limiter(_rules(kind, clock), name="t", clock=clock, shared=shared)
        node_b = Limiter(_rules(kind, clock), name="t", clock=clock, shared=shared)
        waits = []
        for i, (pause, hit) in enumerate(_TRIES):
            clock.advance(pause)
            node = node_a if i % 2 == 0 else node_b
            if hit:
                await alone.hit("acct:1")
                await node.hit("acct:1")
            expected = await alone.retry_after("acct:1")
            assert await node_a.retry_after("acct:1") == expected, i
            assert await node_b.retry_after("acct:1") == expected, i
            waits.append(expected)
        assert any(waits), "the tries never hit a limit: the test proves nothing"
        await node_b.reset("acct:1")
        assert await node_a.retry_after("acct:1") == 0
    finally:
        await client.aclose()


async def test_throttles_count_on_each_node_when_redis_cannot_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from redis.asyncio import Redis

    clock = FakeClock()
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        limiter = Limiter(
            Throttle(clock, limit=2, window=60),
            name="t",
            clock=clock,
            shared=RedisLimits(dead, "x:", lambda: True),
        )
        with caplog.at_level(logging.INFO, logger="ferry.server.security"):
            await limiter.hit("ip:1")
            await limiter.check("ip:1")
            await limiter.hit("ip:1")
            with pytest.raises(RateLimited):
                await limiter.check("ip:1")
        unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) == 1  # logged once, not per request
    finally:
        await dead.aclose()


async def test_sign_in_checks_of_one_number_wait_for_each_other_across_nodes(
    prefix: str,
) -> None:
    from redis.asyncio import Redis

    clock = FakeClock()
    client = Redis.from_url(REDIS_URL)
    try:
        shared = RedisLimits(client, prefix, lambda: True)
        node_a, node_b = (
            Limiter(_rules("backoff", clock), name="login", clock=clock, shared=shared)
            for _ in range(2)
        )
        order: list[str] = []

        async def check(node: Limiter, name: str, entered: asyncio.Event) -> None:
            async with node.one_at_a_time("acct:+15550100001"):
                entered.set()
                order.append(f"{name} in")
                await asyncio.sleep(0.3)
                order.append(f"{name} out")

        first, second = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(check(node_a, "a", first))
        await first.wait()
        b = asyncio.create_task(check(node_b, "b", second))
        await asyncio.gather(a, b)
        assert order == ["a in", "a out", "b in", "b out"]
    finally:
        await client.aclose()


async def test_handshake_slots_are_counted_across_nodes(
    nodes: tuple[TestClient, TestClient],
) -> None:
    a, b = nodes
    # Two sockets on A that never finish their handshake use up the address's two slots.
    held = [await a.ws_connect("/api/v1/device") for _ in range(2)]
    await eventually(lambda: sum(_svc(a).unauthenticated.values()) == 2)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await b.ws_connect("/api/v1/device")
    assert refused.value.status == 429
    await held[0].close()

    async def accepted() -> bool:
        try:
            ws = await b.ws_connect("/api/v1/device")
        except aiohttp.WSServerHandshakeError:
            return False
        await ws.close()
        return True

    await eventually(accepted, timeout=10)
    await held[1].close()


# ---- the bridge registry --------------------------------------------------------------


async def test_a_bridge_connecting_to_another_node_closes_its_older_socket(
    nodes: tuple[TestClient, TestClient],
) -> None:
    a, b = nodes
    device_id, private = await _bridge(_svc(a))
    first = await connect(a, private, _svc(a).server_public)
    await eventually(lambda: _svc(a).registry.get(device_id) is not None)
    second = await connect(b, private, _svc(b).server_public)
    assert await first.closed(timeout=10) == LinkClose.REPLACED
    found = await _svc(a).hub.presence([device_id])
    assert found[device_id].node == _svc(b).hub.node
    await second.close()


async def test_the_registry_keeps_the_newest_connection(prefix: str) -> None:
    hubs = [RedisHub(REDIS_URL, prefix=prefix) for _ in range(3)]

    async def nothing() -> None:
        pass

    for hub in hubs:
        await hub.start(resync=nothing, poll=nothing)
    try:
        await eventually(lambda: all(h.live for h in hubs), timeout=10)
        newer, older, viewer = hubs
        newer.announce(7, 2000.5, ModemInfo(signal_dbm=-70))
        await eventually(lambda: _held_by(viewer, newer.node))
        older.announce(7, 1000.25, None)  # a late report of an older socket
        older.withdraw(7, 1000.25)
        await asyncio.sleep(0.3)
        assert await _held_by(viewer, newer.node)
        newer.withdraw(7, 2000.5)
        await eventually(lambda: _held_by(viewer, None))
    finally:
        for hub in hubs:
            await hub.close()


async def _held_by(viewer: RedisHub, node: str | None) -> bool:
    found = (await viewer.presence([7])).get(7)
    return (found.node if found else None) == node


# ---- the device gateway across nodes --------------------------------------------------


async def test_a_code_send_reaches_the_gateway_bridge_on_another_node(
    nodes: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    a, b = nodes
    svc = _svc(a)
    device_id, private = await _bridge(svc)
    code_key = (tmp_path / "var" / "code.key").read_bytes()
    gateway = DeviceGateway(
        device_id, svc.registry, svc.engine, svc.clock, hub=svc.hub, key=code_key
    )
    with pytest.raises(GatewayUnavailable, match="not connected"):
        await gateway.send("+15550100002", "Your code is 123456", "code")

    bridge = await connect(b, private, _svc(b).server_public)
    await eventually(lambda: _known(svc, device_id), timeout=10)
    await gateway.send("+15550100002", "Your code is 123456", "code")
    order = await bridge.recv(timeout=10)
    assert isinstance(order, SendSms) and order.outbox_id < 0
    assert (order.to, order.body) == ("+15550100002", "Your code is 123456")

    # The modem stopped answering on B: A says so instead of "sent".
    await bridge.send(ModemInfo(state="not_responding"))
    await eventually(lambda: _known(svc, device_id, "not_responding"), timeout=10)
    with pytest.raises(GatewayUnavailable, match="not responding"):
        await gateway.send("+15550100002", "Your code is 654321", "code")

    await bridge.close()
    await eventually(lambda: _gone(svc, device_id), timeout=10)
    with pytest.raises(GatewayUnavailable, match="not connected"):
        await gateway.send("+15550100002", "Your code is 111111", "code")


async def _known(svc: Services, device_id: int, state: str = "ready") -> bool:
    found = (await svc.hub.presence([device_id])).get(device_id)
    return found is not None and (found.modem.state if found.modem else "ready") == state


async def _gone(svc: Services, device_id: int) -> bool:
    return device_id not in await svc.hub.presence([device_id])


async def test_a_gateway_order_sealed_with_another_key_is_refused(
    nodes: tuple[TestClient, TestClient],
) -> None:
    from server.sms_gateway.device import carry_out

    a, b = nodes
    device_id, private = await _bridge(_svc(a))
    bridge = await connect(b, private, _svc(b).server_public)
    await eventually(lambda: _svc(b).registry.get(device_id) is not None)
    forged = GatewaySend(device_id, -1, b"\0" * 12 + b"not sealed by a node at all")
    error = await carry_out(_svc(b).registry, b"k" * 32, forged)
    assert error is not None and "could not be opened" in error
    await bridge.close()


# ---- envelopes ------------------------------------------------------------------------


def test_envelopes_round_trip_and_bad_ones_are_refused() -> None:
    bodies: list[wire.Body] = [
        wire.Hinted(3, ChangesHint(41)),
        CloseSessions(["h1", "h2"]),
        wire.Ask("node-b", "a-1", GatewaySend(5, -9, b"sealed")),
        wire.Answer("node-a", "a-1", "the gateway bridge is not connected"),
    ]
    for body in bodies:
        assert wire.decode(wire.encode("node-a", body)) == wire.Envelope("node-a", body)
    with pytest.raises(wire.WireError):
        wire.decode(b'{"origin": "x", "body": {"type": "format_disk"}}')
    with pytest.raises(wire.WireError):
        wire.decode(b"{" * (wire.MAX_BYTES + 1))
    with pytest.raises(wire.WireError):
        wire.encode("node-a", CloseSessions(["h" * 100] * 1000))


# ---- losing Redis ---------------------------------------------------------------------


async def test_a_redis_that_hangs_is_noticed_and_its_return_too(tmp_path: Path) -> None:
    """No reset, no answer (a stopped process, a network dropping packets): the node
    pings its quiet subscription and counts Redis as lost, so it polls instead of
    waiting for hints that cannot come."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    hub = RedisHub(f"redis://127.0.0.1:{port}/0", prefix="hang:")
    polls = 0

    async def poll() -> None:
        nonlocal polls
        polls += 1

    async def nothing() -> None:
        pass

    try:
        await hub.start(resync=nothing, poll=poll)
        await eventually(lambda: hub.live, timeout=20)
        await asyncio.sleep(3)  # quiet, yet answering its pings: still live
        assert hub.live
        server.send_signal(signal.SIGSTOP)
        await eventually(lambda: not hub.live, timeout=15)
        before = polls
        await eventually(lambda: polls > before, timeout=10)  # polling meanwhile
        server.send_signal(signal.SIGCONT)
        await eventually(lambda: hub.live, timeout=20)
    finally:
        server.send_signal(signal.SIGCONT)
        await hub.close()
        server.kill()
        server.wait()
