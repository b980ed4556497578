"""The client's address behind reverse proxies: the forwarding headers are believed from
trusted proxies only, walked from the right; per-address limits then hit the real client
(from a trusted proxy) and cannot be escaped by a forged header (from anyone else)."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from server.api.common import SERVICES
from server.app import create_app
from server.config import Config, ConfigError
from server.proxies import TrustedProxies, client_address
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, origin_of

PROXY = TrustedProxies.parse("10.0.0.0/8, 2001:db8:ff::/48")
FWD = TrustedProxies.parse("10.0.0.0/8", header="forwarded")


def addr(peer: str, trusted: TrustedProxies = PROXY, **headers: str | list[str]) -> str:
    h: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        for v in [value] if isinstance(value, str) else value:
            h.add(name.replace("_", "-"), v)
    return client_address(peer, h, trusted)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert addr("10.0.0.1", TrustedProxies(), x_forwarded_for="198.51.100.7") == "10.0.0.1"


def test_an_untrusted_peer_is_the_client_whatever_it_says() -> None:
    assert addr("203.0.113.5", x_forwarded_for="198.51.100.7") == "203.0.113.5"
    assert addr("203.0.113.5", FWD, forwarded="for=198.51.100.7") == "203.0.113.5"


def test_rightmost_untrusted_address_is_the_client() -> None:
    chain = "6.6.6.6, 198.51.100.7, 10.0.0.2"  # forged, client, our second proxy
    assert addr("10.0.0.1", x_forwarded_for=chain) == "198.51.100.7"
    # Several header lines are one list, in order.
    assert addr("10.0.0.1", x_forwarded_for=["6.6.6.6", "198.51.100.7, 10.0.0.2"]) == (
        "198.51.100.7"
    )


def test_a_chain_of_trusted_proxies_only_ends_at_its_leftmost_address() -> None:
    assert addr("10.0.0.1", x_forwarded_for="10.9.9.9, 10.0.0.2") == "10.9.9.9"
    assert addr("10.0.0.1") == "10.0.0.1"  # no header: the proxy itself


def test_a_hop_that_is_no_address_stops_the_walk_at_the_last_trusted_one() -> None:
    assert addr("10.0.0.1", x_forwarded_for="6.6.6.6, garbage") == "10.0.0.1"
    assert addr("10.0.0.1", x_forwarded_for="6.6.6.6, unknown, 10.0.0.2") == "10.0.0.2"
    assert addr("10.0.0.1", x_forwarded_for="6.6.6.6,") == "10.0.0.1"


def test_ports_brackets_and_mapped_addresses() -> None:
    assert addr("10.0.0.1", x_forwarded_for="203.0.113.9:8443") == "203.0.113.9"
    assert addr("10.0.0.1", x_forwarded_for="[2001:db8::1]:443") == "2001:db8::1"
    assert addr("10.0.0.1", x_forwarded_for="2001:DB8::1") == "2001:db8::1"
    assert addr("::ffff:10.0.0.1", x_forwarded_for="198.51.100.7") == "198.51.100.7"
    assert addr("2001:db8:ff::2", x_forwarded_for="::ffff:198.51.100.7") == "198.51.100.7"


def test_forwarded_rfc_7239() -> None:
    value = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    assert addr("10.0.0.1", FWD, forwarded=value) == "2001:db8:cafe::17"
    # Parameter names are case-insensitive; a quoted string may hold commas and semicolons.
    value = 'for=198.51.100.7;note="a, b; c", FOR="10.0.0.2"'
    assert addr("10.0.0.1", FWD, forwarded=value) == "198.51.100.7"
    # "unknown", obfuscated names and elements without for= end the walk.
    assert addr("10.0.0.1", FWD, forwarded="for=6.6.6.6, for=unknown") == "10.0.0.1"
    assert addr("10.0.0.1", FWD, forwarded="for=6.6.6.6, for=_hidden") == "10.0.0.1"
    assert addr("10.0.0.1", FWD, forwarded="for=6.6.6.6, proto=https") == "10.0.0.1"


def test_only_the_configured_header_is_read() -> None:
    # A proxy passes the header it does not manage on unchanged: it is the client's word.
    assert addr("10.0.0.1", FWD, x_forwarded_for="6.6.6.6") == "10.0.0.1"
    assert addr("10.0.0.1", forwarded="for=6.6.6.6") == "10.0.0.1"
    both = {"x_forwarded_for": "198.51.100.7", "forwarded": "for=6.6.6.6"}
    assert addr("10.0.0.1", **both) == "198.51.100.7"
    assert addr("10.0.0.1", FWD, **both) == "6.6.6.6"


def test_configuration() -> None:
    config = Config.from_env(
        {
            "FERRY_TRUSTED_PROXIES": " 127.0.0.1 , 10.0.0.0/8 ,",
            "FERRY_FORWARDED_HEADER": "Forwarded",
        }
    )
    assert config.trusted_proxies == TrustedProxies.parse("127.0.0.1,10.0.0.0/8", "forwarded")
    assert not Config.from_env({}).trusted_proxies
    for env in (
        {"FERRY_TRUSTED_PROXIES": "10.0.0.0/33"},
        {"FERRY_TRUSTED_PROXIES": "proxy.example"},
        {"FERRY_FORWARDED_HEADER": "x-real-ip"},
    ):
        with pytest.raises(ConfigError):
            Config.from_env(env)


# ------------------------------------------------------------- through the server


async def server(aiohttp_client, config: Config, clock: FakeClock, trusted: str) -> TestClient:  # type: ignore[no-untyped-def]
    """The test client connects from 127.0.0.1: a proxy when ``trusted`` lists it."""
    app = create_app(replace(config, trusted_proxies=TrustedProxies.parse(trusted)), clock=clock)
    client = await aiohttp_client(app)
    client.session.headers["Origin"] = origin_of(client)
    svc = client.app[SERVICES]
    await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=None)
    return client


def address_limit(client: TestClient) -> int:
    """Failed sign-ins one address may make (per account they are limited otherwise)."""
    return client.app[SERVICES].throttles.login.local.per_address.limit


async def bad_sign_ins(client: TestClient, forwarded_for: list[str]) -> None:
    for i, who in enumerate(forwarded_for):
        r = await client.post(
            "/api/v1/session",
            json={"phone": f"+1555020{i:04d}", "password": "wrong wrong"},
            headers={"X-Forwarded-For": who},
        )
        assert r.status == 401


async def test_behind_a_trusted_proxy_limits_hit_the_real_client(
    aiohttp_client, config: Config, clock: FakeClock
) -> None:
    client = await server(aiohttp_client, config, clock, trusted="127.0.0.1")
    login = {"phone": PHONE, "password": PASSWORD}
    limit = address_limit(client)
    await bad_sign_ins(client, ["198.51.100.66"] * limit)
    r = await client.post(
        "/api/v1/session", json=login, headers={"X-Forwarded-For": "198.51.100.66"}
    )
    assert r.status == 429  # the guesser is locked out...
    r = await client.post(
        "/api/v1/session", json=login, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    )
    assert r.status == 200  # ...everyone else behind the same proxy is not
    # The session, the security event and the access log name the client, not the proxy.
    svc = client.app[SERVICES]
    account = await svc.accounts.by_phone(PHONE)
    assert account is not None
    sessions = await svc.sessions.for_account(account.id, clock.now())
    assert [s.ip for s in sessions] == ["198.51.100.7"]
    events = (await (await client.get("/api/v1/me/security-events")).json())["events"]
    assert events[0]["kind"] == "login" and events[0]["ip"] == "198.51.100.7"
    await svc.access_log.flush()
    logged = [row.ip for row in await svc.access_log._store.recent(limit=limit + 10)]
    assert logged.count("198.51.100.66") == limit + 1 and logged.count("198.51.100.7") == 1


async def test_from_an_untrusted_peer_forged_headers_escape_no_limit(
    aiohttp_client, config: Config, clock: FakeClock
) -> None:
    client = await server(aiohttp_client, config, clock, trusted="10.0.0.0/8")
    await bad_sign_ins(client, [f"198.51.100.{i}" for i in range(address_limit(client))])
    r = await client.post(
        "/api/v1/session",
        json={"phone": PHONE, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert r.status == 429  # every forged address was 127.0.0.1 all along


async def idle_device_sockets(client: TestClient, who: str, count: int) -> list[object]:
    url = "/api/v1/device"
    return [await client.ws_connect(url, headers={"X-Forwarded-For": who}) for _ in range(count)]


async def test_device_handshake_slots_are_per_client_behind_a_trusted_proxy(
    aiohttp_client, config: Config, clock: FakeClock
) -> None:
    client = await server(aiohttp_client, config, clock, trusted="127.0.0.1")
    limit = config.max_unauthenticated_per_ip
    idle = await idle_device_sockets(client, "198.51.100.66", limit)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/api/v1/device", headers={"X-Forwarded-For": "198.51.100.66"})
    assert info.value.status == 429
    # Another bridge behind the same proxy still gets a slot.
    idle += await idle_device_sockets(client, "198.51.100.7", 1)
    for ws in idle:
        await ws.close()  # type: ignore[attr-defined]


async def test_device_handshake_slots_cannot_be_escaped_by_a_forged_header(
    aiohttp_client, config: Config, clock: FakeClock
) -> None:
    client = await server(aiohttp_client, config, clock, trusted="10.0.0.0/8")
    limit = config.max_unauthenticated_per_ip
    idle = [
        await client.ws_connect("/api/v1/device", headers={"X-Forwarded-For": f"198.51.100.{i}"})
        for i in range(limit)
    ]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/api/v1/device", headers={"X-Forwarded-For": "198.51.100.99"})
    assert info.value.status == 429
    for ws in idle:
        await ws.close()
