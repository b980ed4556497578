"""Everything a handler needs, built once per app and stored under one AppKey."""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.link import public_key
from protocol.messages import LinkClose
from server.access_log import AccessLog
from server.auth.codes import CODE_TTL, MAX_ATTEMPTS
from server.auth.passwords import Passwords
from server.auth.throttle import Throttle
from server.auth.verification import Throttles, Verification
from server.background import Background
from server.clock import Clock
from server.config import Config
from server.hub import ChangesHint, DevicesHint, Hub
from server.sms_gateway.factory import build_gateway
from server.storage.access_log import AccessLogStore
from server.storage.accounts import AccountStore
from server.storage.attachments import AttachmentStore
from server.storage.codes import CodeStore
from server.storage.contacts import ContactStore
from server.storage.conversations import ConversationStore
from server.storage.devices import DeviceStore
from server.storage.keys import KeyRing
from server.storage.lines import LineStore
from server.storage.outbox import OutboxStore
from server.storage.pairing import PairingStore
from server.storage.security import SecurityEventStore
from server.storage.sessions import SessionStore
from server.ws.browsers import BrowserSockets
from server.ws.fanout import Fanout
from server.ws.feed import ChangeFeed
from server.ws.registry import DeviceRegistry


@dataclass
class Services:
    config: Config
    clock: Clock
    engine: AsyncEngine
    keys: KeyRing
    accounts: AccountStore
    sessions: SessionStore
    devices: DeviceStore
    lines: LineStore
    conversations: ConversationStore
    outbox: OutboxStore
    attachments: AttachmentStore
    contacts: ContactStore
    events: SecurityEventStore
    hub: Hub
    registry: DeviceRegistry
    feed: ChangeFeed
    passwords: Passwords
    throttles: Throttles
    verification: Verification
    access_log: AccessLog
    background: Background
    browsers: BrowserSockets
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
    #: What browsers are told about an account's bridges, until ``devices_changed``.
    device_views: dict[int, list[Any]] = field(default_factory=dict)
    #: Every open websocket, closed at shutdown so the server stops promptly.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)
    #: Pushes live changes to browser sockets (set by ``build``: it needs the services).
    fanout: Fanout = field(init=False)

    @classmethod
    def build(
        cls,
        config: Config,
        clock: Clock,
        engine: AsyncEngine,
        code_key: bytes,
        master_key: bytes,
        *,
        server_key: bytes,
        tls_pin: str | None = None,
    ) -> Services:
        keys = KeyRing(engine, master_key)
        lines = LineStore(engine)
        conversations = ConversationStore(engine, keys)
        accounts = AccountStore(engine)
        events = SecurityEventStore(engine)
        registry = DeviceRegistry()
        background = Background()
        throttles = Throttles.build(clock)
        svc = cls(
            config=config,
            clock=clock,
            engine=engine,
            keys=keys,
            accounts=accounts,
            sessions=SessionStore(
                engine, idle=config.session_idle, absolute=config.session_absolute
            ),
            devices=DeviceStore(engine),
            lines=lines,
            conversations=conversations,
            outbox=OutboxStore(engine, keys),
            attachments=AttachmentStore(engine, keys),
            contacts=ContactStore(engine),
            events=events,
            hub=Hub(),
            registry=registry,
            feed=ChangeFeed(conversations, max_bytes=config.feed_cache_bytes),
            passwords=Passwords(config.password_params),
            throttles=throttles,
            verification=Verification(
                codes=CodeStore(engine, ttl=CODE_TTL, max_attempts=MAX_ATTEMPTS),
                accounts=accounts,
                events=events,
                gateway=build_gateway(config, registry, engine, clock),
                background=background,
                clock=clock,
                key=code_key,
                host=config.webotp_host,
                throttles=throttles,
                lines=lines,
            ),
            access_log=AccessLog(AccessLogStore(engine), clock),
            background=background,
            browsers=BrowserSockets(),
            pairing=PairingStore(engine),
            server_key=server_key,
            server_public=public_key(server_key),
            pairing_throttle=Throttle(clock, limit=10, window=15 * 60),
            tls_pin=tls_pin,
        )
        from server.ws.device_views import device_views  # it reads these services

        svc.verification.on_line_verified = svc.line_verified
        svc.fanout = Fanout(
            svc.hub,
            svc.feed,
            lambda account_id: device_views(svc, account_id),
            send_buffer=config.browser_send_buffer,
        )
        return svc

    def line_verified(self, account_id: int, seq: int) -> None:
        """A line's conversations may be served now: tabs resync (its epoch changed) and
        see its number as verified."""
        self.hub.publish(account_id, ChangesHint(seq))
        self.devices_changed(account_id)

    def devices_changed(self, account_id: int) -> None:
        self.device_views.pop(account_id, None)
        self.hub.publish(account_id, DevicesHint())

    async def end_sessions(self, account_id: int, *, keep: str | None = None) -> None:
        """End every session of the account but ``keep`` and close their sockets now."""
        handles = await self.sessions.delete_all(account_id, keep=keep)
        stale = [h for h in self.browsers.handles_of(account_id) if h != keep]
        await self.browsers.close_sessions({*handles, *stale})

    async def drop_account_connections(self, account_id: int) -> None:
        """Close every socket of an account that no longer exists."""
        await self.browsers.close_sessions(self.browsers.handles_of(account_id))
        for conn in self.registry.for_account(account_id):
            await conn.close(LinkClose.REVOKED)

    async def sweep_sessions(self) -> None:
        """Close sockets whose session expired or vanished; delete expired sessions."""
        now = self.clock.now()
        handles = self.browsers.handles()
        live = await self.sessions.live_handles(handles, now)
        await self.browsers.close_sessions(h for h in handles if h not in live)
        await self.sessions.prune(now)

    async def prune_access_log(self) -> int:
        return await self.access_log.prune(self.clock.now() - self.config.access_log_retention)
