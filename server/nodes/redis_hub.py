"""The hub of several nodes, over Redis (see the package docstring for the design).

Three tasks per node, started by :meth:`RedisHub.start`::

    subscriber  connect, SUBSCRIBE <prefix>bus, read envelopes ─▶ deliver hints, apply
                orders, answer requests; on any error: live=False, reconnect with backoff
                (0.1 s doubling to 5 s); once subscribed again: live=True, resync
    writer      drains the outgoing queue in pipelines while live (hints coalesced per
                account and kind, presence per bridge; nothing is dropped while Redis is
                away, up to MAX_QUEUE entries)
    ticker      every REFRESH s re-announces this node's bridges (their entries expire
                after PRESENCE_TTL, so a dead node's vanish); polls the database every
                ``poll`` s while not live, every ``safety_poll`` s while live (a node
                killed between its commit and its hint leaves no follower waiting long)

Nothing on the request path waits for Redis for more than ``QUICK`` seconds, and nothing
waits at all while the hub knows it is not live.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from protocol.messages import ImportProgress, ModemInfo
from server.hub import (
    ChangesHint,
    Hint,
    Hub,
    Order,
    OrderHandler,
    Presence,
    Request,
    RequestHandler,
    Unreachable,
)
from server.log import server_logger
from server.nodes import wire
from server.nodes.limits import QUICK, RedisLimits

#: Seconds a Redis command (or connecting) may take before the link counts as broken.
OP_TIMEOUT = 2.0
#: Seconds of silence on the subscription before it is pinged, and after which (no
#: answer either) Redis counts as lost: a Redis that hangs, or a network that drops
#: packets without a reset, is noticed as surely as one that closes the connection.
HEALTH_CHECK = 2.0
SILENCE_LIMIT = HEALTH_CHECK + OP_TIMEOUT
#: A bridge's entry in the registry lives this long unless its node renews it (s).
PRESENCE_TTL = 15.0
REFRESH = 5.0
#: Seconds a request to another node waits for its answer.
ASK_TIMEOUT = 5.0
#: Seconds an order may wait for Redis before it is dropped (see ``broadcast``).
ORDER_TTL = 10.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
#: Outgoing entries kept while Redis is away; beyond, the oldest are dropped.
MAX_QUEUE = 100_000
#: Entries per pipeline.
BATCH = 256

_ERRORS = (RedisError, OSError, TimeoutError)

_ANNOUNCE = """
local since = redis.call('HGET', KEYS[1], 'since')
if since and tonumber(since) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'since', ARGV[2], 'presence', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

_WITHDRAW = """
if redis.call('HGET', KEYS[1], 'node') == ARGV[1]
    and redis.call('HGET', KEYS[1], 'since') == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

Write = Callable[[Pipeline], None]
_presence_decoder = msgspec.json.Decoder(Presence)


class RedisHub(Hub):
    """:class:`~server.hub.Hub` for several nodes; ``prefix`` names every key and the
    channel, so deployments (or test runs) can share one Redis."""

    def __init__(
        self, url: str, *, prefix: str = "ferry:", poll: float = 2.0, safety_poll: float = 30.0
    ) -> None:
        super().__init__()
        self.live = False
        self.prefix = prefix
        self._poll_every = poll
        self._safety_poll = safety_poll
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=OP_TIMEOUT,
            socket_connect_timeout=OP_TIMEOUT,
            # Never retried here: the hub decides (a hint waits, a request goes local).
            retry=Retry(NoBackoff(), 0),
        )
        self._channel = f"{prefix}bus"
        self._announce = self._redis.register_script(_ANNOUNCE)
        self._withdraw = self._redis.register_script(_WITHDRAW)
        self.limits = RedisLimits(self._redis, prefix, lambda: self.live)
        self._queue: OrderedDict[object, Write] = OrderedDict()
        self._queued = asyncio.Event()
        #: Set while nothing waits to be written.
        self._drained = asyncio.Event()
        self._drained.set()
        self._serial = itertools.count()
        #: The bridges whose socket this node holds.
        self._held: dict[int, Presence] = {}
        #: What the registry said of other nodes' bridges, for while it cannot be asked.
        self._seen: dict[int, Presence | None] = {}
        self._orders: OrderHandler | None = None
        self._requests: RequestHandler | None = None
        self._asks: dict[str, asyncio.Future[str | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._aside: set[asyncio.Task[Any]] = set()
        self._resync: Callable[[], Awaitable[None]] | None = None
        self._poll: Callable[[], Awaitable[None]] | None = None
        self._lost_at: float | None = None
        self._started = False  # subscribed once already
        self._dropped = 0

    # ------------------------------------------------------------ hub interface

    def publish(self, account_id: int, hint: Hint) -> None:
        self.deliver(account_id, hint)
        key = ("hint", account_id, type(hint))
        upto = 0
        if isinstance(hint, ChangesHint):
            # Coalesced while waiting: one hint per account carries the highest seq.
            upto = max(hint.upto, getattr(self._queue.get(key), "upto", 0))
            hint = ChangesHint(upto)
        envelope = self._envelope(wire.Hinted(account_id, hint))
        self._enqueue(key, _Publish(self._channel, envelope, upto))

    def on_order(self, handler: OrderHandler) -> None:
        self._orders = handler

    def broadcast(self, order: Order) -> None:
        if not self.live:
            # Dropped, not kept for later: an order applied after Redis returns could hit
            # sockets opened since (a new sign-in). Meanwhile each node's own checks do
            # the work: the session sweep, and the revocation check of the poll and of
            # the resync; the resync announces every bridge again.
            return
        envelope = self._envelope(order)
        expires = time.monotonic() + ORDER_TTL
        self._enqueue(("order", next(self._serial)), _Publish(self._channel, envelope, 0, expires))

    def announce(
        self,
        device_id: int,
        since: float,
        modem: ModemInfo | None,
        importing: ImportProgress | None = None,
    ) -> None:
        # The modem's own number stays on the node; views need state, signal, operator.
        shown = msgspec.structs.replace(modem, own_number=None) if modem is not None else None
        self._held[device_id] = Presence(self.node, since, shown, importing)
        self._enqueue(("presence", device_id), self._announcing(device_id))

    def withdraw(self, device_id: int, since: float) -> None:
        held = self._held.get(device_id)
        if held is not None and held.since == since:
            del self._held[device_id]
        args = [self.node, repr(since)]
        key = self._key(device_id)
        self._enqueue(("presence", device_id), lambda pipe: _eval(pipe, self._withdraw, key, args))

    async def presence(self, device_ids: Iterable[int]) -> dict[int, Presence]:
        ids = list(device_ids)
        if not ids:
            return {}
        if self.live:
            try:
                async with asyncio.timeout(QUICK), self._redis.pipeline(False) as pipe:
                    for device_id in ids:
                        pipe.hget(self._key(device_id), "presence")
                    found = await pipe.execute()
            except _ERRORS as exc:
                server_logger.info("reading the bridge registry failed (%s)", type(exc).__name__)
            else:
                for device_id, raw in zip(ids, found, strict=True):
                    self._seen[device_id] = _presence(raw)
        # While Redis cannot answer: what it said last.
        return {i: p for i in ids if (p := self._seen.get(i)) is not None and p.node != self.node}

    def on_request(self, handler: RequestHandler) -> None:
        self._requests = handler

    async def ask(self, node: str, request: Request) -> str | None:
        if not self.live:
            raise Unreachable("Redis, which links the server nodes, is unreachable")
        ask_id = f"{self.node}-{next(self._serial)}"
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._asks[ask_id] = answer
        try:
            # Straight out, never queued: a request sent after its asker gave up would
            # be carried out without anyone hearing of it.
            async with asyncio.timeout(QUICK):
                await self._redis.publish(
                    self._channel, self._envelope(wire.Ask(node, ask_id, request))
                )
        except _ERRORS as exc:
            self._asks.pop(ask_id, None)
            raise Unreachable(f"could not reach the other nodes ({type(exc).__name__})") from None
        try:
            async with asyncio.timeout(ASK_TIMEOUT):
                return await answer
        except TimeoutError:
            raise Unreachable("the node holding the bridge did not answer in time") from None
        finally:
            self._asks.pop(ask_id, None)

    async def start(
        self, *, resync: Callable[[], Awaitable[None]], poll: Callable[[], Awaitable[None]]
    ) -> None:
        self._resync, self._poll = resync, poll
        for name, run in (
            ("subscriber", self._subscriber),
            ("writer", self._writer),
            ("ticker", self._ticker),
        ):
            self._tasks.append(asyncio.create_task(run(), name=f"redis-hub-{name}"))

    async def close(self) -> None:
        # What the node's last moments queued (its bridges withdrawn, their hints) goes
        # out first, if Redis lets it.
        if self.live:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._drained.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._aside, return_exceptions=True)
        if self.live and self._held:
            # Gone at once rather than when their entries lapse.
            with contextlib.suppress(*_ERRORS):
                async with asyncio.timeout(QUICK), self._redis.pipeline(False) as pipe:
                    for device_id, held in list(self._held.items()):
                        args = [self.node, repr(held.since)]
                        _eval(pipe, self._withdraw, self._key(device_id), args)
                    await pipe.execute()
        self.live = False
        await self._redis.aclose()

    # -------------------------------------------------------------- internals

    def _key(self, device_id: int) -> str:
        return f"{self.prefix}bridge:{device_id}"

    def _envelope(self, body: wire.Body) -> bytes:
        return wire.encode(self.node, body)

    def _announcing(self, device_id: int) -> Write:
        held = self._held[device_id]
        args = [
            self.node,
            repr(held.since),
            msgspec.json.encode(held).decode(),
            int(PRESENCE_TTL * 1000),
        ]
        key = self._key(device_id)
        return lambda pipe: _eval(pipe, self._announce, key, args)

    def _enqueue(self, key: object, write: Write) -> None:
        self._queue.pop(key, None)
        self._queue[key] = write
        if len(self._queue) > MAX_QUEUE:
            self._queue.popitem(last=False)
            self._dropped += 1
            if self._dropped == 1:
                server_logger.warning(
                    "too much waits for Redis: the oldest hints are dropped (nodes poll)"
                )
        self._drained.clear()
        self._queued.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._aside.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._aside.discard(task)
        if not task.cancelled() and task.exception() is not None:
            server_logger.error("hub task %s failed", task.get_name(), exc_info=task.exception())

    async def _subscriber(self) -> None:
        pause = BACKOFF_FIRST
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if self._started:
                    # Pooled connections to the Redis that went away fail on first use.
                    await self._redis.connection_pool.disconnect(inuse_connections=False)
                self._went_live()
                pause = BACKOFF_FIRST
                await self._listen(pubsub)
            except _ERRORS as exc:
                self._went_down(exc)
            finally:
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(BACKOFF_MAX, pause * 2)

    async def _listen(self, pubsub: PubSub) -> None:
        heard, pinged = time.monotonic(), False
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                if message.get("type") == "message":
                    self._receive(message["data"])
            elif now - heard > SILENCE_LIMIT:
                raise RedisConnectionError(f"no answer for {SILENCE_LIMIT:.0f} s")
            elif now - heard > HEALTH_CHECK and not pinged:
                pinged = True
                await pubsub.ping()  # answered on the subscription ("pong")

    def _went_live(self) -> None:
        self.live = True
        lost, self._lost_at = self._lost_at, None
        if self._started:
            server_logger.info(
                "node %s: Redis is back after %.1f s; live push between nodes resumes",
                self.node,
                time.monotonic() - lost if lost is not None else 0.0,
            )
        else:
            self._started = True
            server_logger.info("node %s: Redis reached; live push between nodes", self.node)
        self._dropped = 0
        # Whatever happened while away: this node's bridges again, views and cursors
        # checked against the database.
        for device_id in self._held:
            self._enqueue(("presence", device_id), self._announcing(device_id))
        self._queued.set()
        if self._resync is not None:
            self._spawn(self._resync(), "redis-hub-resync")

    def _went_down(self, exc: BaseException) -> None:
        self.live = False
        if self._lost_at is None:  # once per outage
            self._lost_at = time.monotonic()
            server_logger.warning(
                "node %s: Redis unreachable (%s): until it is back, this node polls the "
                "database every %.1f s and its throttles count on their own",
                self.node,
                type(exc).__name__,
                self._poll_every,
            )
        for answer in self._asks.values():
            if not answer.done():
                answer.set_exception(Unreachable("Redis went away before the answer"))

    def _receive(self, data: bytes) -> None:
        try:
            envelope = wire.decode(data)
        except wire.WireError as exc:
            server_logger.debug("dropped an envelope from Redis: %s", exc)
            return
        if envelope.origin == self.node:
            return
        body = envelope.body
        if isinstance(body, wire.Hinted):
            self.deliver(body.account, body.hint)
        elif isinstance(body, wire.Ask):
            if body.to == self.node:
                self._spawn(self._answer(envelope.origin, body), "redis-hub-answer")
        elif isinstance(body, wire.Answer):
            answer = self._asks.get(body.id) if body.to == self.node else None
            if answer is not None and not answer.done():
                answer.set_result(body.error)
        elif self._orders is not None:
            self._spawn(self._orders(body), "redis-hub-order")

    async def _answer(self, asker: str, ask: wire.Ask) -> None:
        error: str | None = "this node cannot carry out the request"
        if self._requests is not None:
            error = await self._requests(ask.request)
        with contextlib.suppress(*_ERRORS):
            async with asyncio.timeout(QUICK):
                answer = wire.Answer(asker, ask.id, error)
                await self._redis.publish(self._channel, self._envelope(answer))

    async def _writer(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue and self.live:
                count = min(BATCH, len(self._queue))
                batch = [self._queue.popitem(last=False) for _ in range(count)]
                try:
                    async with asyncio.timeout(OP_TIMEOUT), self._redis.pipeline(False) as pipe:
                        for _, write in batch:
                            write(pipe)
                        await pipe.execute()
                except _ERRORS as exc:
                    self._requeue(batch)
                    server_logger.info("writing to Redis failed (%s)", type(exc).__name__)
                    await asyncio.sleep(1.0)
            if not self._queue:
                self._drained.set()

    def _requeue(self, batch: list[tuple[object, Write]]) -> None:
        # Back in front, unless something newer of the same key was queued meanwhile.
        for key, write in reversed(batch):
            if key not in self._queue:
                self._queue[key] = write
                self._queue.move_to_end(key, last=False)

    async def _ticker(self) -> None:
        last_poll = last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(min(self._poll_every, REFRESH))
            now = time.monotonic()
            if self.live and now - last_refresh >= REFRESH:
                last_refresh = now
                for device_id in self._held:
                    self._enqueue(("presence", device_id), self._announcing(device_id))
            due = self._poll_every if not self.live else self._safety_poll
            if self._poll is not None and now - last_poll >= due:
                last_poll = now
                try:
                    await self._poll()
                except Exception:
                    server_logger.exception("polling the database for changes failed")


class _Publish:
    __slots__ = ("_channel", "_data", "_expires", "upto")

    def __init__(
        self, channel: str, data: bytes, upto: int = 0, expires: float | None = None
    ) -> None:
        self._channel = channel
        self._data = data
        #: The seq a changes hint carries (coalescing keeps the highest).
        self.upto = upto
        self._expires = expires

    def __call__(self, pipe: Pipeline) -> None:
        if self._expires is None or time.monotonic() < self._expires:
            pipe.publish(self._channel, self._data)


def _eval(pipe: Pipeline, script: AsyncScript, key: str, args: list[Any]) -> None:
    """Queue a Lua script on a pipeline (which loads it first if Redis lacks it)."""
    pipe.scripts.add(script)
    pipe.evalsha(script.sha, 1, key, *args)


def _presence(raw: bytes | None) -> Presence | None:
    if raw is None:
        return None
    try:
        return _presence_decoder.decode(raw)
    except msgspec.DecodeError:
        return None
