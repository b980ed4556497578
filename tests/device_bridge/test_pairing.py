"""``ferry bridge pair`` against a real server on loopback: both code forms, men in the
middle, TLS pinning, revocation of a running bridge."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar, web
from websockets.asyncio.client import connect as ws_connect

from device_bridge.backoff import Backoff
from device_bridge.credentials import load_identity
from device_bridge.errors import (
    CredentialsError,
    InsecureUrl,
    LinkError,
    PairingFailed,
    ServerNotTrusted,
)
from device_bridge.link import Link, handshake
from device_bridge.pairing import pair
from protocol.link import generate_keypair
from protocol.messages import DeviceHello
from protocol.pairing import PairingUri, encode_key, pairing_uri, parse_pairing_uri
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from server.services import Services
from server.tls import create_self_signed, server_tls
from tests.device_link import new_pairing_code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    runner: web.AppRunner
    account_id: int

    @property
    def svc(self) -> Services:
        return self.runner.app[SERVICES]

    async def offer(self):  # type: ignore[no-untyped-def]
        return await new_pairing_code(self.svc, self.account_id, self.url)


async def _serve(config: Config) -> Server:
    tls = server_tls(config)
    pin = tls.fingerprint if tls is not None and tls.self_signed else None
    runner = web.AppRunner(create_app(config, tls_pin=pin))
    await runner.setup()
    ctx = tls.context if tls is not None else None
    await web.TCPSite(runner, config.host, config.port, ssl_context=ctx).start()
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(
        "+15550100001", svc.passwords.hash("pw-pw-pw-pw"), now, verified_at=now
    )
    scheme = "https" if tls is not None else "http"
    return Server(f"{scheme}://127.0.0.1:{config.port}", runner, account)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = await _serve(Config(port=_free_port(), data_dir=tmp_path / "server"))
    yield srv
    await srv.runner.cleanup()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[Server]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    create_self_signed(cert, key, "127.0.0.1")
    config = Config(port=_free_port(), data_dir=tmp_path / "server", tls_cert=cert, tls_key=key)
    srv = await _serve(config)
    yield srv
    await srv.runner.cleanup()


async def _impostor(server_key: bytes) -> tuple[web.AppRunner, str]:
    """A man in the middle: serves its own key and answers handshakes with made-up bytes."""

    async def key(_request: web.Request) -> web.Response:
        return web.json_response({"key": encode_key(server_key)})

    async def device(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        await ws.send_bytes(os.urandom(32 + 40))  # shaped like message 2
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/api/v1/pairing/server-key", key)
    app.router.add_get("/api/v1/device", device)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def test_pair_with_the_uri_writes_a_private_identity(server: Server, tmp_path: Path) -> None:
    offer = await server.offer()
    data = tmp_path / "bridge"
    paired = await pair(data, offer.uri, name="Kitchen modem")
    assert paired.lines == ["+15550100001"] and paired.server_url == server.url
    assert stat.S_IMODE((data / "device.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "device.json").stat().st_mode) == 0o600
    saved = json.loads((data / "device.json").read_text())
    assert saved == {
        "server_url": server.url,
        "server_key": encode_key(server.svc.server_public),
        "tls_fingerprint": None,
    }
    identity = load_identity(data)
    device = await server.svc.devices.by_public_key(identity.public_key)
    assert device is not None and device.id == paired.device_id and device.name == "Kitchen modem"
    with pytest.raises(CredentialsError):
        await pair(data, (await server.offer()).uri)


async def test_pair_with_url_and_typed_code(server: Server, tmp_path: Path) -> None:
    offer = await server.offer()
    paired = await pair(tmp_path / "bridge", server.url, offer.code.lower())
    assert paired.lines == ["+15550100001"]


async def test_bad_codes_are_refused_and_nothing_is_written(server: Server, tmp_path: Path) -> None:
    offer = await server.offer()
    uri = parse_pairing_uri(offer.uri)
    wrong = "A" * 8 if uri.code != "A" * 8 else "B" * 8
    with pytest.raises(PairingFailed):
        await pair(tmp_path / "b", pairing_uri(PairingUri(uri.server_url, uri.server_key, wrong)))
    await pair(tmp_path / "a", offer.uri)
    with pytest.raises(PairingFailed):  # used up
        await pair(tmp_path / "b", offer.uri)
    assert not (tmp_path / "b").exists()


async def test_man_in_the_middle_is_refused_by_the_bridge(server: Server, tmp_path: Path) -> None:
    _, mitm_key = generate_keypair()
    runner, mitm_url = await _impostor(mitm_key)
    try:
        offer = await server.offer()
        # Typed form: the impostor's key does not have the code's fingerprint.
        with pytest.raises(ServerNotTrusted):
            await pair(tmp_path / "b", mitm_url, offer.code)
        # URI form: the real key is known; the impostor cannot finish the handshake.
        uri = parse_pairing_uri(offer.uri)
        redirected = pairing_uri(PairingUri(mitm_url, uri.server_key, uri.code))
        with pytest.raises(ServerNotTrusted):
            await pair(tmp_path / "b", redirected)
        assert not (tmp_path / "b").exists()
        # A paired bridge talking to the impostor refuses it too.
        private, _ = generate_keypair()
        async with ws_connect(mitm_url.replace("http", "ws") + "/api/v1/device") as ws:
            with pytest.raises(ServerNotTrusted):
                await handshake(ws, private, server.svc.server_public, DeviceHello(versions=[1]))
    finally:
        await runner.cleanup()


async def test_plain_http_pairing_only_to_loopback(tmp_path: Path) -> None:
    with pytest.raises(InsecureUrl):
        await pair(tmp_path / "b", "http://ferry.example:8080", "AAAA-AAAA-AAAA-AAAA-AAAA")


async def test_pairing_and_link_over_tls_with_a_pinned_self_signed_cert(
    tls_server: Server, tmp_path: Path
) -> None:
    offer = await tls_server.offer()
    uri = parse_pairing_uri(offer.uri)
    assert uri.server_url.startswith("https://") and uri.tls_fingerprint == tls_server.svc.tls_pin
    # Without the pin, a self-signed certificate is not trusted.
    with pytest.raises(ServerNotTrusted):
        await pair(tmp_path / "b", tls_server.url, offer.code)
    with pytest.raises(ServerNotTrusted):
        await pair(tmp_path / "b", offer.uri, tls_fingerprint="00" * 32)
    await pair(tmp_path / "bridge", offer.uri)
    identity = load_identity(tmp_path / "bridge")
    assert identity.credentials.tls_fingerprint == uri.tls_fingerprint
    link = Link(identity, _ignore, _ignore)
    assert link.url.startswith("wss://")
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
    finally:
        task.cancel()


async def test_typed_code_over_tls_with_the_printed_fingerprint(
    tls_server: Server, tmp_path: Path
) -> None:
    offer = await tls_server.offer()
    pin = ":".join(tls_server.svc.tls_pin[i : i + 2] for i in range(0, 64, 2)).upper()  # type: ignore[index]
    paired = await pair(tmp_path / "bridge", tls_server.url, offer.code, tls_fingerprint=pin)
    assert paired.server_url == tls_server.url


async def test_revoked_bridge_is_dropped_within_seconds(server: Server, tmp_path: Path) -> None:
    paired = await pair(tmp_path / "bridge", (await server.offer()).uri)
    link = Link(load_identity(tmp_path / "bridge"), _ignore, _ignore, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            login = {"phone": "+15550100001", "password": "pw-pw-pw-pw"}
            async with http.post(f"{server.url}/api/v1/session", json=login) as resp:
                assert resp.status == 200
            async with http.delete(f"{server.url}/api/v1/devices/{paired.device_id}") as resp:
                assert resp.status == 204
        for _ in range(100):
            if not link.connected.is_set():
                break
            await asyncio.sleep(0.02)
        assert not link.connected.is_set()
        await asyncio.sleep(0.5)  # it would have reconnected by now if it could
        assert not link.connected.is_set()
        assert server.svc.registry.get(paired.device_id) is None
    finally:
        task.cancel()


async def _ignore(_message: object) -> None:
    return None


def test_link_error_hierarchy() -> None:
    assert issubclass(PairingFailed, LinkError) and issubclass(ServerNotTrusted, LinkError)


async def test_a_server_that_hangs_up_mid_handshake_is_unreachable_not_a_crash(
    tmp_path: Path,
) -> None:
    """A server restarting while a bridge pairs closes the connection before answering
    the upgrade: pairing says it cannot reach the server (LinkError), nothing else."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, public = generate_keypair()
    uri = pairing_uri(PairingUri(f"http://127.0.0.1:{port}", public, "ABCDEFGH"))
    try:
        with pytest.raises(LinkError, match="cannot reach"):
            await pair(tmp_path / "bridge", uri)
    finally:
        server.close()
        await server.wait_closed()
