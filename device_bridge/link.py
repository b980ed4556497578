"""The bridge's websocket link to the server: TLS, Noise handshake, reconnect with backoff.

Each connection::

    connect (wss: system CAs, or the pinned certificate's SHA-256 from pairing)
      ─▶ Noise IK message 1 carrying DeviceHello ─▶ message 2 carrying Welcome
         (only the server holding the key from the pairing code can produce it)
      ─▶ Ping, the first transport frame: it tells the server this session is fresh
      ─▶ on_connect(welcome); every later frame both ways is one Noise transport message

The link only moves frames. It hands every decoded server message to ``on_message`` and
calls ``on_connect`` after each successful handshake (the bridge then resends what the
server has not acknowledged). A refusal arrives as a close code (:class:`LinkClose`): the
server cannot encrypt anything to a bridge it does not accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from device_bridge.backoff import Backoff
from device_bridge.credentials import Identity
from device_bridge.errors import (
    InsecureUrl,
    LinkError,
    PairingFailed,
    ServerNotTrusted,
    Unauthorized,
)
from protocol.codec import DEFAULT_MAX_SIZE, Codec
from protocol.errors import HandshakeFailed, ProtocolError
from protocol.link import LinkInitiator
from protocol.messages import (
    SUPPORTED_VERSIONS,
    DeviceHello,
    Error,
    LinkClose,
    Ping,
    ServerToDevice,
    Welcome,
)
from protocol.noise import TAGLEN

log = logging.getLogger("ferry.bridge.link")

MAX_FRAME = DEFAULT_MAX_SIZE + TAGLEN
HANDSHAKE_TIMEOUT = 15.0
#: Close codes of a server stopping on purpose (1001 going away, 1012 service restart):
#: it is back soon, or another node behind the same address takes the bridge now.
RESTART_CODES = frozenset({1001, 1012})
#: After such a close, reconnect delays stay under this many seconds (jitter included)…
RESTART_CAP = 2.0
#: … for this many attempts (about a minute); then the usual backoff goes on.
RESTART_TRIES = 30


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure: bool = False) -> None:
    """Refuse plain ws:// (or http://) to anything but loopback unless explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme in ("wss", "https"):
        return
    if parts.scheme not in ("ws", "http"):
        raise InsecureUrl(f"unsupported scheme {parts.scheme!r}")
    host = parts.hostname or ""
    if not is_loopback(host) and not allow_insecure:
        raise InsecureUrl(
            f"refusing unencrypted {parts.scheme}:// to {host}; use TLS or --allow-insecure"
        )


def device_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}/api/v1/device"


def tls_context(url: str, pin: str | None) -> ssl.SSLContext | None:
    """System CAs by default; with a pin, any certificate (checked by :func:`check_pin`)."""
    if urlsplit(url).scheme not in ("wss", "https"):
        return None
    context = ssl.create_default_context()
    if pin:
        # The pin replaces CA and host-name checks; check_pin runs before any byte is sent.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_pin(ssl_object: ssl.SSLObject | None, pin: str | None) -> None:
    """Raises ServerNotTrusted unless the peer's certificate has the pinned SHA-256."""
    if not pin:
        return
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der is None or not hmac.compare_digest(hashlib.sha256(der).hexdigest(), pin):
        raise ServerNotTrusted("the server's TLS certificate is not the pinned one")


def refusal(code: int | None) -> LinkError:
    """The error for a close frame received during the handshake."""
    messages = {
        LinkClose.UNAUTHORIZED: (Unauthorized, "the server does not know this device's key"),
        LinkClose.REVOKED: (Unauthorized, "this device was revoked; pair it again"),
        LinkClose.PAIRING_FAILED: (
            PairingFailed,
            "the pairing code is wrong, expired or already used",
        ),
        LinkClose.DEVICE_LIMIT: (PairingFailed, "the account has as many devices as allowed"),
        LinkClose.RATE_LIMITED: (LinkError, "too many attempts; try again later"),
    }
    try:
        kind, text = messages[LinkClose(code)]  # type: ignore[arg-type]
    except (ValueError, KeyError):
        return LinkError(f"the server closed the link during the handshake ({code})")
    return kind(text)


class Session:
    """One established, encrypted connection."""

    def __init__(self, ws: ClientConnection, noise: LinkInitiator, welcome: Welcome) -> None:
        self.ws = ws
        self.noise = noise
        self.welcome = welcome
        self._codec: Codec[ServerToDevice] = Codec(ServerToDevice, max_size=DEFAULT_MAX_SIZE)
        self._lock = asyncio.Lock()

    async def send(self, message: msgspec.Struct) -> None:
        # Encrypt under the lock: frames must leave in nonce order.
        async with self._lock:
            await self.ws.send(self.noise.encrypt(Codec.encode(message)))

    def decode(self, frame: bytes | str) -> ServerToDevice:
        if isinstance(frame, str):
            raise ProtocolError("text frame on the encrypted device link")
        return self._codec.decode(self.noise.decrypt(frame))


async def handshake(
    ws: ClientConnection,
    private_key: bytes,
    server_key: bytes,
    hello: DeviceHello,
    *,
    confirm: bool = True,
) -> Session:
    """Run the Noise handshake on an open websocket and confirm it with a first frame.

    Without ``confirm`` (pairing only) no transport frame is sent, so the server never
    makes the connection live: the welcome is all the pairing needs.

    Raises:
        Unauthorized, PairingFailed, LinkError: the server refused (close code).
        ServerNotTrusted: message 2 is not from the holder of ``server_key``.
    """
    noise = LinkInitiator(private_key, server_key)
    await ws.send(noise.start(Codec.encode(hello)))
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):  # wait_for may swallow a cancel
            frame = await ws.recv()
    except websockets.ConnectionClosed as exc:
        raise refusal(exc.rcvd.code if exc.rcvd else None) from None
    if isinstance(frame, str):
        raise LinkError("the server answered the handshake with text")
    try:
        payload = noise.receive_handshake(frame)
    except HandshakeFailed:
        raise ServerNotTrusted(
            "the server did not prove the key from pairing (man in the middle?)"
        ) from None
    welcome: Welcome = Codec(Welcome).decode(payload)
    session = Session(ws, noise, welcome)
    if confirm:
        await session.send(Ping())
    return session


async def open_connection(url: str, pin: str | None) -> ClientConnection:
    """Connect the websocket (TLS as configured) and check the certificate pin."""
    ws = await connect(
        url,
        ssl=tls_context(url, pin),
        max_size=MAX_FRAME,
        compression=None,
        open_timeout=10,
        ping_interval=20,
    )
    try:
        check_pin(ws.transport.get_extra_info("ssl_object"), pin)
    except ServerNotTrusted:
        await ws.close()
        raise
    return ws


class Link:
    def __init__(
        self,
        identity: Identity,
        on_message: Callable[[ServerToDevice], Awaitable[None]],
        on_connect: Callable[[Welcome], Awaitable[None]],
        *,
        backoff: Backoff | None = None,
        allow_insecure: bool = False,
        bridge_version: str = "",
    ) -> None:
        self.url = device_url(identity.credentials.server_url)
        check_url(self.url, allow_insecure=allow_insecure)
        self._identity = identity
        self._on_message = on_message
        self._on_connect = on_connect
        self._backoff = backoff or Backoff()
        self._session: Session | None = None
        self._version = bridge_version
        self.connected = asyncio.Event()
        # Attempts left with short delays after the server said it restarts.
        self._restart_tries = 0

    async def send(self, message: msgspec.Struct) -> bool:
        """Send if connected; False otherwise (the caller keeps the data journaled)."""
        session = self._session
        if session is None:
            return False
        try:
            await session.send(message)
            return True
        except (websockets.ConnectionClosed, ProtocolError):
            return False

    async def run(self) -> None:
        """Stay connected until cancelled."""
        while True:
            try:
                await self._connect_once()
            except (Unauthorized, ServerNotTrusted) as exc:
                log.error("cannot use this server link: %s", exc)
                await asyncio.sleep(max(60.0, self._backoff.next_delay()))
                continue
            except (OSError, websockets.WebSocketException, LinkError, ProtocolError) as exc:
                log.warning("link down: %s", _describe(exc))
            delay = self._backoff.next_delay()
            if self._restart_tries > 0:
                self._restart_tries -= 1
                delay = min(delay, RESTART_CAP)
            log.info("reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        creds = self._identity.credentials
        hello = DeviceHello(versions=list(SUPPORTED_VERSIONS), bridge_version=self._version)
        ws = await open_connection(self.url, creds.tls_fingerprint)
        async with ws:
            session = await handshake(ws, self._identity.private_key, creds.server_public, hello)
            self._session = session
            self.connected.set()
            self._backoff.reset()
            self._restart_tries = 0
            log.info("connected to %s as device %d", self.url, session.welcome.device_id)
            try:
                await self._on_connect(session.welcome)
                async for frame in ws:
                    message = session.decode(frame)
                    if isinstance(message, Error):
                        raise LinkError(f"the server reported {message.code}")
                    await self._on_message(message)
            except websockets.ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == LinkClose.REVOKED:
                    raise Unauthorized("this device was revoked; pair it again") from None
                if exc.rcvd is None or exc.rcvd.code not in RESTART_CODES:
                    raise
            finally:
                self._session = None
                self.connected.clear()
            rcvd = ws.protocol.close_rcvd
            if rcvd is not None and rcvd.code in RESTART_CODES:
                log.info("the server is restarting (close code %d); reconnecting", rcvd.code)
                self._restart_tries = RESTART_TRIES


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
