"""Everything a handler needs, built once per app and stored under one AppKey."""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.link import public_key
from server.auth.throttle import Throttle
from server.clock import Clock
from server.config import Config
from server.hub import DevicesHint, Hub
from server.storage.accounts import AccountStore
from server.storage.conversations import ConversationStore
from server.storage.devices import DeviceStore
from server.storage.lines import LineStore
from server.storage.pairing import PairingStore
from server.storage.sessions import SessionStore
from server.ws.feed import ChangeFeed
from server.ws.registry import DeviceRegistry


@dataclass
class Services:
    config: Config
    clock: Clock
    engine: AsyncEngine
    accounts: AccountStore
    sessions: SessionStore
    devices: DeviceStore
    lines: LineStore
    conversations: ConversationStore
    hub: Hub
    registry: DeviceRegistry
    feed: ChangeFeed
    login_throttle: Throttle
    pairing: PairingStore
    #: The server's static device-link key (raw X25519) and its public half.
    server_key: bytes = field(repr=False)
    server_public: bytes
    #: Wrong pairing codes per address.
    pairing_throttle: Throttle
    #: SHA-256 (hex) of the server's self-signed TLS certificate, put into pairing URIs.
    tls_pin: str | None = None
    #: Device sockets per address that have not finished the handshake.
    unauthenticated: Counter[str] = field(default_factory=Counter)
    #: Every open websocket, closed at shutdown so the server stops promptly.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    @classmethod
    def build(
        cls,
        config: Config,
        clock: Clock,
        engine: AsyncEngine,
        *,
        server_key: bytes,
        tls_pin: str | None = None,
    ) -> Services:
        conversations = ConversationStore(engine)
        return cls(
            config=config,
            clock=clock,
            engine=engine,
            accounts=AccountStore(engine),
            sessions=SessionStore(
                engine, idle=config.session_idle, absolute=config.session_absolute
            ),
            devices=DeviceStore(engine),
            lines=LineStore(engine),
            conversations=conversations,
            hub=Hub(config.socket_queue),
            registry=DeviceRegistry(),
            feed=ChangeFeed(conversations),
            login_throttle=Throttle(clock, limit=10, window=15 * 60),
            pairing=PairingStore(engine),
            server_key=server_key,
            server_public=public_key(server_key),
            pairing_throttle=Throttle(clock, limit=10, window=15 * 60),
            tls_pin=tls_pin,
        )

    def devices_changed(self, account_id: int) -> None:
        self.hub.publish(account_id, DevicesHint())
