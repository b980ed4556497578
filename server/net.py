"""Connections before HTTP: a cap per client address and a deadline for the request head.

aiohttp reads a request's head for as long as the client takes to send it, and accepts
as many connections from one address as it opens, so a few hundred sockets trickling
half a header would exhaust the server's file descriptors. :class:`ConnectionGuard`
stands between the listening socket and aiohttp's protocol::

    accepted ─▶ address already holds max_per_ip connections ─▶ closed at once
             ─▶ header_timeout starts: the TLS handshake (when TLS is on) and the first
                request's head (up to its blank line) must arrive in time, else closed
             ─▶ aiohttp: once the head is in, the request runs for as long as it needs
                (bodies and websockets have their own limits); an idle keep-alive
                connection, or a later request's head left unfinished, is closed after
                KEEPALIVE_TIMEOUT (aiohttp's own timer)

The cap counts connections from the moment they are accepted, TLS handshakes included,
so it is applied before TLS (``loop.start_tls`` after the check). Trusted proxies are
not capped: every client behind them shares their address. aiohttp's own lines about
malformed requests go to ``ferry.server.http``, one line each, without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.config import Config
from server.log import http_logger, security_logger, server_logger
from server.proxies import TrustedProxies, parse_node

#: Seconds aiohttp keeps an idle keep-alive connection (and waits for a later request's
#: head). Browsers reconnect at once; nginx uses the same.
KEEPALIVE_TIMEOUT = 75.0


class _OneLine(logging.Filter):
    """aiohttp logs each malformed request as an error with a traceback: keep one line
    without it, at INFO when the client sent something that is not HTTP."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} ({type(exc).__name__})"
            record.exc_info = None
            record.exc_text = None
            if isinstance(exc, HttpProcessingError):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


http_logger.addFilter(_OneLine())

#: Keyword arguments of ``web.AppRunner`` that go with the guard.
RUNNER_ARGS: dict[str, Any] = {"keepalive_timeout": KEEPALIVE_TIMEOUT, "logger": http_logger}

_HEAD_END = b"\r\n\r\n"


class ConnectionGuard:
    """Counts open connections per address and makes the protocols that enforce the rules
    (see the module docstring). One per listening server."""

    def __init__(
        self,
        *,
        max_per_ip: int,
        header_timeout: float,
        trusted: TrustedProxies | None = None,
    ) -> None:
        self.max_per_ip = max_per_ip
        self.header_timeout = header_timeout
        self._trusted = trusted or TrustedProxies()
        #: Open connections per address (exempt addresses are not counted).
        self.open: Counter[str] = Counter()
        self._refusing: set[str] = set()

    @classmethod
    def from_config(cls, config: Config) -> ConnectionGuard:
        if config.secure_cookies and not config.tls_enabled and not config.trusted_proxies:
            # Secure cookies over plain HTTP: TLS ends in a proxy in front of us.
            server_logger.warning(
                "TLS ends in a proxy in front of this server but FERRY_TRUSTED_PROXIES is "
                "empty: every client shares the proxy's address and its limits"
            )
        return cls(
            max_per_ip=config.max_connections_per_ip,
            header_timeout=config.header_timeout,
            trusted=config.trusted_proxies,
        )

    def protocol_factory(
        self, inner: Callable[[], asyncio.Protocol], tls: ssl.SSLContext | None = None
    ) -> Callable[[], asyncio.Protocol]:
        """A factory for ``loop.create_server`` wrapping ``inner`` (aiohttp's server);
        ``tls``: the context to wrap connections in once they are admitted."""
        return lambda: _Guarded(self, inner, tls)

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False (not counted) if over the cap."""
        if not self.max_per_ip or self._exempt(address):
            return True
        if self.open[address] >= self.max_per_ip:
            if address not in self._refusing:
                # Once per episode: a flood must not flood the log too.
                self._refusing.add(address)
                security_logger.info("too many connections from %s; closing new ones", address)
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        """A connection counted by :meth:`admit` closed."""
        if address not in self.open:
            return
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]
        self._refusing.discard(address)

    def _exempt(self, address: str) -> bool:
        parsed = parse_node(address)
        return parsed is not None and bool(self._trusted) and self._trusted.trusts(parsed)


class _Guarded(asyncio.Protocol):
    """One connection: admission, the head deadline, then everything passed to ``inner``."""

    def __init__(
        self,
        guard: ConnectionGuard,
        make_inner: Callable[[], asyncio.Protocol],
        tls: ssl.SSLContext | None,
    ) -> None:
        self._guard = guard
        self._make_inner = make_inner
        self._tls = tls
        self._inner: asyncio.Protocol | None = None
        self._raw: asyncio.Transport | None = None
        self._address: str | None = None  # set while counted
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes of the head so far (its end may be split)
        self._handshake: asyncio.Task[None] | None = None
        # TLS hands over the first bytes as the handshake completes, before start_tls()
        # returns to us: kept for the inner protocol, which does not exist yet.
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # a stream socket's
        self._raw = transport
        address = _peer_address(transport)
        if not self._guard.admit(address):
            transport.abort()
            return
        self._address = address
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.header_timeout, self._expire)
        if self._tls is None:
            self._start(transport)
        else:
            transport.pause_reading()
            self._handshake = loop.create_task(self._start_tls(transport, self._tls))

    async def _start_tls(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        wrapped = None
        try:
            wrapped = await loop.start_tls(
                transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self._guard.header_timeout,
            )
        except OSError:
            pass  # refused, timed out or reset; SSLError and TimeoutError are OSErrors
        finally:
            if wrapped is None:
                # No connection_lost comes for a connection that never got through TLS.
                transport.abort()
                self._finish()
        if wrapped is not None:
            self._start(wrapped)

    def _start(self, transport: asyncio.Transport) -> None:
        self._inner = self._make_inner()
        self._inner.connection_made(transport)
        early, self._early = self._early, []
        for data in early:
            self._inner.data_received(data)

    def _expire(self) -> None:
        self._deadline = None
        if self._raw is not None:
            self._raw.abort()

    def _finish(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._address is not None:
            self._guard.release(self._address)
            self._address = None

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            seen = self._tail + data
            if _HEAD_END in seen:
                self._deadline.cancel()
                self._deadline = None
                self._tail = b""
            else:
                self._tail = seen[-(len(_HEAD_END) - 1) :]
        if self._inner is not None:
            self._inner.data_received(data)
        else:
            self._early.append(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.cancel()
        if self._inner is not None:
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


def _peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        parsed = parse_node(str(peer[0]))
        return str(parsed) if parsed is not None else str(peer[0])
    return "?"


class GuardedSite(web.BaseSite):
    """A TCP site (like ``web.TCPSite``) whose connections pass a :class:`ConnectionGuard`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self.guard = guard

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system, if asked for port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        factory = self.guard.protocol_factory(server, self._ssl_context)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, self._host, self._port, backlog=self._backlog
        )
