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
from server.auth.signup import SignupPolicy
from server.auth.throttle import HandshakeSlots, Limiter, Throttle
from server.auth.verification import Throttles, Verification
from server.background import Background
from server.clock import Clock
from server.config import Config, ConfigError
from server.consent.terms import Terms, TermsError, load_terms
from server.hub import (
    ChangesHint,
    CloseAccount,
    CloseDevice,
    CloseSessions,
    DeviceConnected,
    DevicesHint,
    ForgetFrames,
    Hint,
    Hub,
    Order,
    OutboxHint,
)
from server.nodes import catchup
from server.oauth.service import OAuth
from server.sms_gateway.device import carry_out
from server.sms_gateway.factory import build_gateway
from server.storage import erasure, retention
from server.storage.access_log import AccessLogStore
from server.storage.accounts import AccountStore
from server.storage.attachments import AttachmentStore
from server.storage.audit import AuditLog
from server.storage.broadcasts import BroadcastStore, ConsentStore
from server.storage.codes import CodeStore
from server.storage.contacts import ContactStore
from server.storage.conversations import ConversationStore
from server.storage.devices import DeviceStore
from server.storage.invites import InviteStore
from server.storage.keys import KeyRing
from server.storage.lines import LineStore
from server.storage.masking import MaskingStore
from server.storage.optouts import OptOutStore
from server.storage.outbox import OutboxStore
from server.storage.pairing import PairingStore
from server.storage.privacy import PrivacyStore
from server.storage.search import Search
from server.storage.security import SecurityEventStore
from server.storage.sessions import SessionStore
from server.storage.terms import TermsStore
from server.storage.verify_sends import VerifySendLog
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
    #: Peers who replied STOP on a line (written by the ingest transaction).
    optouts: OptOutStore
    #: Invite codes (FERRY_SIGNUP=invite) and who may sign up with which number.
    invites: InviteStore
    signup_policy: SignupPolicy
    #: The current terms and privacy notice, and who accepted which version when.
    terms: Terms
    acceptances: TermsStore
    #: Recipients' recorded consent, and broadcasts (sent only to them).
    consents: ConsentStore
    broadcasts: BroadcastStore
    events: SecurityEventStore
    hub: Hub
    registry: DeviceRegistry
    feed: ChangeFeed
    passwords: Passwords
    search: Search
    throttles: Throttles
    verification: Verification
    access_log: AccessLog
    background: Background
    browsers: BrowserSockets
    pairing: PairingStore
    privacy: PrivacyStore
    masking: MaskingStore
    audit: AuditLog
    #: The server's static device-link key (raw X25519) and its public half.
    server_key: bytes = field(repr=False)
    server_public: bytes
    #: Wrong pairing codes per address.
    pairing_throttle: Limiter
    #: Device sockets per address that have not finished the handshake (counts them in
    #: ``unauthenticated``, and across the nodes).
    handshakes: HandshakeSlots
    #: SHA-256 (hex) of the server's self-signed TLS certificate, put into pairing URIs.
    tls_pin: str | None = None
    #: Device sockets per address that have not finished the handshake.
    unauthenticated: Counter[str] = field(default_factory=Counter)
    #: What browsers are told about an account's bridges, until ``devices_changed``.
    device_views: dict[int, list[Any]] = field(default_factory=dict)
    #: Bumped by every devices hint: a view computed across one is not cached.
    device_views_generation: int = 0
    #: Every open websocket, closed at shutdown so the server stops promptly.
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)
    #: Pushes live changes to browser sockets (set by ``build``: it needs the services).
    fanout: Fanout = field(init=False)
    #: Third-party clients: the authorization server and its records (``server/oauth``).
    oauth: OAuth = field(init=False)

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
        hub = _hub(config)
        shared = getattr(hub, "limits", None)  # counted across the nodes
        registry = DeviceRegistry(hub)
        background = Background()
        throttles = Throttles.build(clock, shared, sms_per_hour=config.verify_sms_per_hour)
        unauthenticated: Counter[str] = Counter()
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
            optouts=OptOutStore(engine),
            invites=InviteStore(engine),
            signup_policy=SignupPolicy(config.signup, frozenset(config.signup_countries)),
            terms=_terms(config),
            acceptances=TermsStore(engine),
            consents=ConsentStore(engine),
            broadcasts=BroadcastStore(engine, keys),
            events=events,
            hub=hub,
            registry=registry,
            feed=ChangeFeed(conversations, max_bytes=config.feed_cache_bytes),
            passwords=Passwords(config.password_params),
            search=Search(engine, keys, clock),
            throttles=throttles,
            verification=Verification(
                codes=CodeStore(engine, ttl=CODE_TTL, max_attempts=MAX_ATTEMPTS),
                accounts=accounts,
                events=events,
                gateway=build_gateway(config, registry, engine, clock, hub=hub, key=code_key),
                background=background,
                clock=clock,
                key=code_key,
                host=config.webotp_host,
                throttles=throttles,
                lines=lines,
                spent=VerifySendLog(engine),
            ),
            access_log=AccessLog(AccessLogStore(engine), clock),
            background=background,
            browsers=BrowserSockets(hub),
            pairing=PairingStore(engine),
            privacy=PrivacyStore(engine),
            masking=MaskingStore(engine),
            audit=AuditLog(engine),
            server_key=server_key,
            server_public=public_key(server_key),
            pairing_throttle=Limiter(
                Throttle(clock, limit=10, window=15 * 60),
                name="pairing",
                clock=clock,
                shared=shared,
            ),
            handshakes=HandshakeSlots(
                unauthenticated,
                clock,
                limit=config.max_unauthenticated_per_ip,
                # A claim lapses after the handshake's deadline, should its node die.
                ttl=config.handshake_timeout + 5,
                shared=shared,
            ),
            unauthenticated=unauthenticated,
            tls_pin=tls_pin,
        )
        svc.oauth = OAuth(
            engine,
            master_key,
            clock,
            config,
            limiter=Limiter(
                Throttle(clock, limit=config.oauth_rate_limit, window=60),
                name="oauth-client",
                clock=clock,
                shared=shared,
                message="This app is making too many requests; try again shortly.",
            ),
            registrations=Limiter(
                Throttle(clock, limit=20, window=3600),
                name="oauth-register",
                clock=clock,
                shared=shared,
            ),
        )
        hub.observe(svc._observe)
        hub.observe(svc.oauth.wakeups.observe)
        hub.on_order(svc.apply_order)
        hub.on_request(lambda request: carry_out(registry, code_key, request))
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
        """The account's bridges changed: every node drops its views and tells browsers."""
        self.hub.publish(account_id, DevicesHint())

    def _observe(self, account_id: int, hint: Hint) -> None:
        # Every hint of every account, from this node or another, before the fan-out.
        if isinstance(hint, DevicesHint):
            self.device_views.pop(account_id, None)
            self.device_views_generation += 1
        elif isinstance(hint, OutboxHint):
            self.registry.wake_here(account_id)

    async def start(self) -> None:
        """Start talking to the other nodes (several nodes; nothing to do for one)."""
        await self.hub.start(resync=lambda: catchup.resync(self), poll=lambda: catchup.poll(self))

    async def close(self) -> None:
        """Stop talking to the other nodes; let the password workers go."""
        await self.hub.close()
        self.passwords.close()
        self.search.close()

    async def end_sessions(self, account_id: int, *, keep: str | None = None) -> None:
        """End every session of the account but ``keep`` and close their sockets now, on
        every node (a socket whose session is already gone included)."""
        await self.sessions.delete_all(account_id, keep=keep)
        await self._order(CloseAccount(account_id, keep))

    async def drop_account_connections(self, account_id: int) -> None:
        """Close every socket of an account that no longer exists, on every node."""
        await self._order(CloseAccount(account_id, devices=True))

    async def _order(self, order: Order) -> None:
        self.hub.broadcast(order)
        await self.apply_order(order)

    async def apply_order(self, order: Order) -> None:
        """Apply an order (``server.hub``) to the sockets of this node."""
        if isinstance(order, CloseSessions):
            await self.browsers.close_here(order.handles)
        elif isinstance(order, CloseAccount):
            handles = self.browsers.handles_of(order.account)
            await self.browsers.close_here(h for h in handles if h != order.keep)
            if order.devices:
                # The account is gone: no cached key of it stays in this node's memory.
                self.keys.forget(order.account)
                self.feed.forget(order.account)
                for conn in self.registry.for_account(order.account):
                    await conn.close(LinkClose.REVOKED)
        elif isinstance(order, CloseDevice):
            await self.registry.close_here(order.device, LinkClose(order.code))
        elif isinstance(order, DeviceConnected):
            self.registry.connected_elsewhere(order.device, order.since)
        elif isinstance(order, ForgetFrames):
            self.feed.forget(order.account)

    async def sweep_sessions(self) -> None:
        """Close sockets whose session expired or vanished; delete expired sessions."""
        now = self.clock.now()
        handles = self.browsers.handles()
        live = await self.sessions.live_handles(handles, now)
        await self.browsers.close_sessions(h for h in handles if h not in live)
        await self.sessions.prune(now)

    async def delete_account(self, account_id: int) -> None:
        """Delete the account: its data key is destroyed and everything of it ends now
        (sessions, every socket on every node, bridges, codes); its rows are purged in
        the background (``storage/erasure.py``).

        Raises:
            LookupError: no such account, or deleted already.
        """
        await erasure.erase(self.engine, account_id, self.clock.now())
        self.keys.forget(account_id)
        self.feed.forget(account_id)
        await self._order(CloseAccount(account_id, devices=True))
        self.background.spawn(self.purge_deleted(), name="purge-deleted-account")

    async def masked(self, account_id: int, seq: int) -> None:
        """Texts of the account were masked (the change took ``seq``): every node drops
        the frames it cached with the old texts, and open browsers get the change."""
        await self._order(ForgetFrames(account_id))
        self.hub.publish(account_id, ChangesHint(seq))

    async def purge_deleted(self) -> int:
        """Delete the rows of deleted accounts; returns how many accounts went."""
        return await erasure.purge_deleted(self.engine)

    async def apply_retention(self) -> int:
        """Delete messages older than each account's retention; returns how many, and
        tells the account's open browsers."""
        done = await retention.expire(self.engine, self.clock.now())
        for account_id, seq in done.seqs.items():
            self.hub.publish(account_id, ChangesHint(seq))
        return done.messages

    async def prune_access_log(self) -> int:
        return await self.access_log.prune(self.clock.now() - self.config.access_log_retention)


def _terms(config: Config) -> Terms:
    try:
        return load_terms(config.terms_version, config.terms_dir)
    except TermsError as exc:
        raise ConfigError(f"the terms and privacy notice: {exc}") from None


def _hub(config: Config) -> Hub:
    if config.redis_url is None:
        return Hub()
    from server.nodes.redis_hub import RedisHub  # only nodes of a multi-node deployment

    return RedisHub(
        config.redis_url,
        prefix=config.redis_prefix,
        poll=config.nodes_poll,
        safety_poll=config.nodes_safety_poll,
    )
