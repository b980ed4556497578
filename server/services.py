"""Everything a handler needs, built once per app and stored under one AppKey."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from server.auth.throttle import Throttle
from server.clock import Clock
from server.config import Config
from server.hub import DevicesHint, Hub
from server.storage.accounts import AccountStore
from server.storage.conversations import ConversationStore
from server.storage.devices import DeviceStore
from server.storage.keys import KeyRing
from server.storage.lines import LineStore
from server.storage.sessions import SessionStore
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
    hub: Hub
    registry: DeviceRegistry
    feed: ChangeFeed
    login_throttle: Throttle
    #: Every open websocket, closed at shutdown so the server stops promptly.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    @classmethod
    def build(
        cls, config: Config, clock: Clock, engine: AsyncEngine, master_key: bytes
    ) -> Services:
        keys = KeyRing(engine, master_key)
        conversations = ConversationStore(engine, keys)
        return cls(
            config=config,
            clock=clock,
            engine=engine,
            keys=keys,
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
        )

    def devices_changed(self, account_id: int) -> None:
        self.hub.publish(account_id, DevicesHint())
