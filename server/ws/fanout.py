"""Live changes to an account's browser sockets: one pusher per account, not per socket.

A hint wakes one task for the account, which groups the followers by cursor (and the
epoch the cursor belongs to), gets each group's ``Changes`` frame once (``ChangeFeed``:
read and encoded once, shared) and writes the same bytes to every socket of the group.
Nothing wakes per socket, so a message reaching an account with a thousand open tabs
costs one read, one encode and a thousand writes::

    hub hint ─▶ AccountFanout.hint ─▶ (one task) for each (cursor, epoch) group:
        frames = feed.catch_up(account, cursor, epoch) ─▶ write to each follower
        ─▶ group moves to the new cursor; or, on a Resync, stops being followed
           (the browser refetches and subscribes again)

Backpressure: a follower whose socket has more than ``send_buffer`` bytes unsent is
dropped (closed with 1013, try again later) instead of being waited for; its browser
reconnects and resumes from its cursor, so nothing is lost and memory stays flat.

A failed read (a busy or broken database) puts the group back at the cursor it reached
and the round is tried again after a pause that doubles with each failure in a row
(``RETRY_FIRST`` up to ``RETRY_MAX``): the tabs stay connected and get everything once
the database answers, and a database that keeps failing gets one read per account per
pause, whatever the number of tabs or hints.
"""

from __future__ import annotations

import asyncio
import gc
import struct
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import WSCloseCode, web

from protocol.codec import encode_text
from protocol.messages import Devices, DeviceView
from server.hub import ChangesHint, DevicesHint, Hint, Hub
from server.log import browser_logger
from server.metrics import METRICS
from server.ws.feed import ChangeFeed

DeviceViews = Callable[[int], Awaitable[list[DeviceView]]]


class Follower:
    """One subscribed browser socket and the seq it has everything up to."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        cursor: int,
        epoch: str | None = None,
    ) -> None:
        self.ws = ws
        self.cursor = cursor
        #: The epoch of ``cursor`` (``server/storage/epochs.py``).
        self.epoch = epoch
        self._transport = transport
        self.dropped = False
        #: Pushed to; False once it was sent ``Resync`` (it subscribes again).
        self.following = True
        self.unsent: Callable[[], int] = getattr(
            transport, "get_write_buffer_size", _nothing_unsent
        )

    def write(self, data: bytes) -> None:
        """Write a whole, ready frame (see :func:`text_frame`) to the socket."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)


def _nothing_unsent() -> int:
    return 0


class Fanout:
    """The per-account pushers of one process."""

    def __init__(
        self, hub: Hub, feed: ChangeFeed, devices: DeviceViews, *, send_buffer: int
    ) -> None:
        self._hub = hub
        self._feed = feed
        self._devices = devices
        self._send_buffer = send_buffer
        self._accounts: dict[int, AccountFanout] = {}

    def follow(self, account_id: int, follower: Follower) -> None:
        """Start pushing to ``follower``; catches it up if it is behind already."""
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = AccountFanout(self, account_id)
            self._hub.listen(account_id, account.hint)
        account.add(follower)
        if self._hub.latest(account_id) > follower.cursor:
            account.hint(ChangesHint(self._hub.latest(account_id)))

    def following(self, account_id: int) -> bool:
        """Does any tab of this process follow the account?"""
        return account_id in self._accounts

    def accounts(self) -> list[int]:
        """The accounts some tab of this process follows."""
        return list(self._accounts)

    def pending(self) -> int:
        """Accounts with a push round running or due (metrics)."""
        return sum(1 for a in self._accounts.values() if a.busy)

    def unfollow(self, account_id: int, follower: Follower) -> None:
        account = self._accounts.get(account_id)
        if account is None:
            return
        account.remove(follower)
        if not account.followers:
            self._hub.unlisten(account_id, account.hint)
            del self._accounts[account_id]
            account.close()

    def drop_all(self, account_id: int) -> None:
        """Drop every follower of the account (they reconnect and resume)."""
        account = self._accounts.get(account_id)
        for follower in list(account.followers if account else ()):
            self.drop(follower)

    def drop_everyone(self) -> None:
        """Drop every follower of every account (the epochs changed under them)."""
        for account in list(self._accounts.values()):
            for follower in list(account.followers):
                self.drop(follower)

    def drop(self, follower: Follower) -> None:
        if follower.dropped:
            return
        follower.dropped = True
        task = asyncio.ensure_future(
            follower.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
        )
        _closing.add(task)
        task.add_done_callback(_closing.discard)


# Sockets being closed in the background (referenced until done).
_closing: set[asyncio.Future[bool]] = set()


#: Pause after a failed round, doubled with each failure in a row, up to RETRY_MAX (s).
RETRY_FIRST = 0.05
RETRY_MAX = 5.0

Group = tuple[int, str | None]  # (cursor, epoch)


class AccountFanout:
    def __init__(self, fanout: Fanout, account_id: int) -> None:
        self._fanout = fanout
        self.account_id = account_id
        self.followers: set[Follower] = set()
        # The same followers by cursor and epoch, kept as they move: a round groups a
        # thousand tabs without visiting each of them (they nearly all share one cursor).
        self._at: dict[Group, set[Follower]] = {}
        self._changes = False
        self._devices = False
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        # When the oldest hint not pushed yet came (perf_counter), for the latency.
        self._hinted: float | None = None

    @property
    def busy(self) -> bool:
        """A round runs (or waits out a pause after a failure)."""
        return self._task is not None and not self._task.done()

    def add(self, follower: Follower) -> None:
        self.followers.add(follower)
        self._at.setdefault((follower.cursor, follower.epoch), set()).add(follower)

    def remove(self, follower: Follower) -> None:
        self.followers.discard(follower)
        group = self._at.get(key := (follower.cursor, follower.epoch))
        if group is not None:
            group.discard(follower)
            if not group:
                del self._at[key]

    def close(self) -> None:
        """Nobody follows any more: stop a round in progress or a pause after a failure."""
        if self._task is not None:
            self._task.cancel()

    def hint(self, hint: Hint) -> None:
        if isinstance(hint, ChangesHint):
            self._changes = True
            self._hinted = self._hinted or time.perf_counter()
        elif isinstance(hint, DevicesHint):
            self._devices = True
        else:
            return  # for the outbox pumps, not the browsers
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"fanout-{self.account_id}")

    async def _run(self) -> None:
        # Hints arriving meanwhile (also during a pause) only set the flags: one more
        # round covers them all.
        while (self._changes or self._devices) and self.followers:
            devices, self._devices = self._devices, False
            changes, self._changes = self._changes, False
            hinted, self._hinted = self._hinted, None
            try:
                if devices:
                    views = await self._fanout._devices(self.account_id)
                    self._write(self.followers, encode_text(Devices(devices=views)))
                    devices = False
                if changes:
                    await self._push_changes()
                    if hinted is not None:
                        METRICS.fanout_latency.observe(time.perf_counter() - hinted)
            except Exception as exc:
                # What failed is tried again; nothing moved that was not written.
                self._devices |= devices
                self._changes |= changes
                self._hinted = hinted or self._hinted
                await asyncio.sleep(self._failed(exc))
                continue
            if self._failures:
                browser_logger.info(
                    "pushing changes of account %d works again after %d failed rounds",
                    self.account_id,
                    self._failures,
                )
                self._failures = 0

    def _failed(self, exc: Exception) -> float:
        """Log a failed round (one line for a streak; the trace at debug level) and
        return the pause."""
        self._failures += 1
        delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (self._failures - 1))
        if self._failures == 1:
            browser_logger.warning(
                "pushing changes of account %d failed (%s); retrying in %.2f s",
                self.account_id,
                type(exc).__name__,
                delay,
            )
        browser_logger.debug(
            "account %d: failed round %d", self.account_id, self._failures, exc_info=exc
        )
        return delay

    async def _push_changes(self) -> None:
        target = self._fanout._hub.latest(self.account_id)
        for key in [k for k in self._at if k[0] < target]:
            # Taken out while it is written to; a tab that follows meanwhile at this
            # cursor forms a new group, served by the next round.
            group = self._at.pop(key, None)
            if group is None:
                continue
            frames = self._fanout._feed.catch_up(self.account_id, key[0], key[1], target)
            try:
                async for frame in frames:
                    self._write(group, frame)
            finally:
                # Also when a read failed: the group is back, at the page it reached.
                self._settle(group, frames.cursor, frames.epoch, resync=frames.resync)

    def _settle(
        self, group: set[Follower], cursor: int, epoch: str | None, *, resync: bool
    ) -> None:
        for follower in group:
            if follower not in self.followers:  # unfollowed meanwhile
                continue
            if resync:
                # It refetches and subscribes again; until then nothing is pushed to it.
                follower.following = False
                self._fanout.unfollow(self.account_id, follower)
                continue
            follower.cursor = max(follower.cursor, cursor)
            follower.epoch = epoch
            self._at.setdefault((follower.cursor, epoch), set()).add(follower)

    def _write(self, followers: Iterable[Follower], frame: str) -> None:
        limit = self._fanout._send_buffer
        # A server's websocket frames are not masked, so every socket gets the very same
        # bytes: the frame is built once and written straight to each transport (no
        # per-socket framing, no coroutine per write). Flow control is the check below.
        data = text_frame(frame.encode())
        # A thousand writes allocate enough to trigger several collections, each walking
        # the whole young generation mid-loop; collect after the loop instead.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for follower in followers:
                if follower.dropped or follower.ws.closed:
                    continue
                if follower.unsent() > limit:
                    self._fanout.drop(follower)
                    continue
                follower.write(data)
        finally:
            if collecting:
                gc.enable()


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed websocket text frame (RFC 6455 §5.2) of ``payload``."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload
