"""Connections before HTTP, through ``ferry serve``'s own ``start_server`` over real loopback
sockets: requests whose head never completes are closed after the bound without holding
up anyone else, and one address cannot hold more than its share of connections."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import argon2
import pytest

from server.cli import start_server
from server.config import Config
from server.proxies import TrustedProxies
from server.tls import create_self_signed

WAIT = 30.0  # generous upper bounds for a loaded machine; nothing here measures time
HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0,  # the system's choice
        data_dir=tmp_path / "var",
        password_params=argon2.profiles.CHEAPEST,
        header_timeout=1.0,
    )


@contextlib.asynccontextmanager
async def serving(config: Config) -> AsyncIterator[int]:
    """``ferry serve``'s ``start_server`` until the block ends; its port."""
    server = await start_server(config)
    try:
        yield server.port
    finally:
        await server.close()
        gc.unfreeze()  # start_server freezes what start-up built; a test process goes on


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Wait until the server closes the connection (EOF or reset)."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        return True


async def healthz(port: int, cafile: Path | None = None) -> int:
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    scheme = "https" if cafile else "http"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{scheme}://127.0.0.1:{port}/healthz", ssl=ctx) as r,
    ):
        return r.status


async def test_half_headers_are_closed_after_the_bound_and_block_no_one(config: Config) -> None:
    config = replace(config, max_connections_per_ip=0)  # the deadline alone
    async with serving(config) as port:
        slow = []
        for _ in range(200):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(HALF_HEAD)
            slow.append((reader, writer))
        # While they hang, a normal request on another connection is answered.
        assert await healthz(port) == 200
        # A head that arrives in pieces, the blank line split across reads, is fine.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for piece in (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r", b"\n\r", b"\n"):
            writer.write(piece)
            await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"HTTP/1.1 200")
        writer.close()
        # Every half-finished head is cut off by the server.
        for reader, writer in slow:
            assert await closed_by_server(reader)
            writer.close()


async def test_the_deadline_ends_with_the_head(config: Config) -> None:
    """A websocket opened in time lives on past the bound."""
    async with serving(config) as port, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{port}"
        ws = await http.ws_connect(f"{base}/api/v1/ws", headers={"Origin": base})
        # The bound has passed once a connection opened after the socket is cut off.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_HEAD)
        assert await closed_by_server(reader)
        writer.close()
        assert not ws.closed
        msg = await asyncio.wait_for(ws.receive(), WAIT)  # not signed in: told so, in band
        assert msg.type == aiohttp.WSMsgType.TEXT and "unauthenticated" in msg.data
        await ws.close()


async def test_connections_over_the_per_address_cap_are_closed_at_once(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    config = replace(config, max_connections_per_ip=3, header_timeout=120.0)
    caplog.set_level(logging.INFO, logger="ferry.server.security")
    async with serving(config) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert await closed_by_server(reader)  # closed before any answer
            writer.close()
        refusals = [r for r in caplog.records if "too many connections" in r.getMessage()]
        assert len(refusals) == 1  # one line per episode, not one per connection
        # A held connection closes: the address may connect again.
        held.pop()[1].close()
        for _ in range(int(WAIT / 0.05)):
            with contextlib.suppress(aiohttp.ClientError):
                if await healthz(port) == 200:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the address stayed refused after a connection closed")
        for _, writer in held:
            writer.close()


async def test_trusted_proxies_are_not_capped(config: Config) -> None:
    config = replace(
        config,
        max_connections_per_ip=2,
        header_timeout=120.0,
        trusted_proxies=TrustedProxies.parse("127.0.0.1"),
    )
    async with serving(config) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        assert await healthz(port) == 200
        for _, writer in held:
            writer.close()


async def test_over_tls_the_cap_and_the_deadline_come_before_the_handshake(
    config: Config, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    create_self_signed(cert, key, "127.0.0.1")
    config = replace(config, tls_cert=cert, tls_key=key, secure_cookies=True)
    async with serving(config) as port:
        assert await healthz(port, cert) == 200
        # A connection that never starts its handshake is closed after the bound...
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_by_server(reader)
        writer.close()
    config = replace(config, max_connections_per_ip=2, header_timeout=120.0)
    async with serving(config) as port:
        # ...and counts against its address while it waits.
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_by_server(reader)
        writer.close()
        for _, w in held:
            w.close()


async def test_malformed_requests_log_one_info_line_without_a_traceback(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="ferry.server.http"):
        async with serving(config) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\nHost: x\n\n")  # bare LF: refused by the parser
            assert (await asyncio.wait_for(reader.readline(), WAIT)).startswith(b"HTTP/1.")
            writer.close()
    http = [r for r in caplog.records if r.name == "ferry.server.http"]
    assert [(r.levelname, bool(r.exc_info or r.exc_text)) for r in http] == [("INFO", False)]
