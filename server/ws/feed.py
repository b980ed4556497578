"""Encoded change frames, computed once per (account, cursor) and shared.

When one message reaches an account with a thousand open browser tabs, every socket sits
at the same cursor: the first socket to ask computes and encodes the ``Changes`` frame;
the others wait for that same computation and reuse the text.

The cache keeps the encoded frames only (never the rows they came from) and is bounded
by their size in bytes (``Config.feed_cache_bytes``), oldest out first: a page can hold
up to 4 million characters of bodies (``views.PAGE_CHARS``), so a bound in frames would
be no bound at all.

A cursor belongs to an epoch (``server/storage/epochs.py``). :class:`CatchUp` checks it
against the epoch each page was read in: a cursor of another epoch, below what the
server keeps or from the future gets one ``Resync`` and nothing more.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from protocol.codec import encode_text
from protocol.messages import Changes, Resync
from server.log import browser_logger
from server.storage.views import ChangeSet

#: Most messages in one ``Changes`` frame; a client further behind gets several.
FEED_PAGE = 500
#: Default bound of the cache, in bytes of frames.
CACHE_BYTES = 32 << 20
#: Most entries, however small (an entry costs some bytes besides its frame).
_MAX_ENTRIES = 4096
_ENTRY_OVERHEAD = 512


class _Abandoned(Exception):
    """The reader computing a shared page was cancelled."""


class ChangeSource(Protocol):
    async def changes_since(self, account_id: int, since: int, limit: int = ...) -> ChangeSet: ...


@dataclass(frozen=True, slots=True)
class Page:
    """One change set as the feed keeps it: its frame, and what callers need to know."""

    since: int
    upto: int
    epoch: str | None
    text: str
    #: Nothing changed that a browser sees.
    empty: bool = False
    #: The cursor cannot be resumed (too old, or from the future).
    resync: bool = False
    #: A limit cut the page short: more changes follow ``upto``.
    more: bool = False

    @property
    def size(self) -> int:
        """Bytes this page holds in the cache (its text, and a share for the entry)."""
        return sys.getsizeof(self.text) + _ENTRY_OVERHEAD

    @classmethod
    def of(cls, cs: ChangeSet) -> Page:
        if cs.resync:
            return cls(cs.since, cs.upto, cs.epoch, "", resync=True)
        frame = Changes(messages=cs.messages, threads=cs.threads, upto=cs.upto, epoch=cs.epoch)
        return cls(cs.since, cs.upto, cs.epoch, encode_text(frame), cs.empty, more=cs.more)


class ChangeFeed:
    def __init__(
        self, store: ChangeSource, page: int = FEED_PAGE, *, max_bytes: int = CACHE_BYTES
    ) -> None:
        self._store = store
        self._page = page
        self._max_bytes = max_bytes
        self._cache: OrderedDict[tuple[int, int], asyncio.Future[Page]] = OrderedDict()
        # Sizes of the finished entries, and their total.
        self._sizes: dict[tuple[int, int], int] = {}
        self.cached_bytes = 0

    async def page(
        self, account_id: int, since: int, at_least: int | None = None, *, fresh: bool = False
    ) -> Page:
        """Changes after ``since`` and their encoded frame.

        ``at_least``: the seq a hint announced; a shared result that reaches it is reused.
        ``fresh`` (a new subscription): only a read still in flight is shared, never a
        finished one, so a change committed without a hint can never be skipped.
        Without ``at_least`` the changes are always read anew.
        """
        key = (account_id, since)
        fut = self._cache.get(key)
        if fut is not None and at_least is not None and not (fresh and fut.done()):
            # A failed read fails its sharers too (each retries later, with backoff,
            # instead of a thousand tabs reading a failing database at once).
            try:
                found: Page | None = await asyncio.shield(fut)
            except _Abandoned:
                found = None
            if found is not None and (found.upto >= at_least or found.more):
                return found
        return await self._compute(key)

    def catch_up(
        self,
        account_id: int,
        since: int,
        epoch: str | None,
        at_least: int | None,
        *,
        fresh: bool = False,
    ) -> CatchUp:
        """The frames that bring a client at ``since`` of ``epoch`` up to date."""
        return CatchUp(self, account_id, since, epoch, at_least, fresh)

    def prime(self, account_id: int, changes: ChangeSet) -> None:
        """Offer a change set read by the writer of those changes (``since`` to ``upto``),
        so sockets at ``since`` get it without a read of their own."""
        fut: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
        key = (account_id, changes.since)
        self._put(key, fut)
        self._finish(key, fut, Page.of(changes))

    def forget(self, account_id: int) -> None:
        """Forget the account's frames (texts in them were masked or the account deleted:
        no copy of the old text stays in memory)."""
        for key in [k for k in self._cache if k[0] == account_id]:
            self._cache.pop(key, None)
            self.cached_bytes -= self._sizes.pop(key, 0)

    def clear(self) -> None:
        """Forget every frame (the epochs changed under them)."""
        self._cache.clear()
        self._sizes.clear()
        self.cached_bytes = 0

    async def _compute(self, key: tuple[int, int]) -> Page:
        fut: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
        self._put(key, fut)
        try:
            found = Page.of(await self._store.changes_since(key[0], key[1], self._page))
        except BaseException as exc:
            if self._cache.get(key) is fut:
                del self._cache[key]
            # A reader that was cancelled (its socket went away) must not cancel the
            # others sharing its read: they read anew.
            fut.set_exception(exc if isinstance(exc, Exception) else _Abandoned())
            fut.exception()  # retrieved here; waiters get it from their own await
            raise
        self._finish(key, fut, found)
        return found

    def _put(self, key: tuple[int, int], fut: asyncio.Future[Page]) -> None:
        self._cache.pop(key, None)
        self.cached_bytes -= self._sizes.pop(key, 0)
        self._cache[key] = fut
        self._evict()

    def _finish(self, key: tuple[int, int], fut: asyncio.Future[Page], page: Page) -> None:
        fut.set_result(page)
        if self._cache.get(key) is fut:  # not replaced or evicted meanwhile
            self._sizes[key] = page.size
            self.cached_bytes += page.size
            self._evict()

    def _evict(self) -> None:
        while self._cache and (
            self.cached_bytes > self._max_bytes or len(self._cache) > _MAX_ENTRIES
        ):
            key, _ = self._cache.popitem(last=False)
            self.cached_bytes -= self._sizes.pop(key, 0)


class CatchUp:
    """Iterating gives the frames (text) to send, page after page; afterwards
    ``cursor`` and ``epoch`` are where the client is, or ``resync`` is set (a
    ``Resync`` frame was the last one and the client refetches before it subscribes
    again). ``epoch`` ``None`` (a client that sends none) takes the server's."""

    def __init__(
        self,
        feed: ChangeFeed,
        account_id: int,
        since: int,
        epoch: str | None,
        at_least: int | None,
        fresh: bool,
    ) -> None:
        self._feed = feed
        self._account_id = account_id
        self._at_least = at_least
        self._fresh = fresh
        self.cursor = max(0, since)
        self.epoch = epoch
        self.resync = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[str]:
        while True:
            page = await self._feed.page(
                self._account_id, self.cursor, self._at_least, fresh=self._fresh
            )
            if page.resync or (self.epoch is not None and page.epoch != self.epoch):
                # Older than what the server keeps, from the future (a restored
                # database) or of another history: the client refetches its state.
                browser_logger.info(
                    "cursor %d cannot be resumed (seq %d); resync", self.cursor, page.upto
                )
                self.resync = True
                self.epoch = page.epoch
                yield encode_text(Resync(epoch=page.epoch))
                return
            self.epoch = page.epoch
            if page.empty and page.upto == self.cursor:
                return
            yield page.text
            self.cursor = page.upto
            if not page.more:
                return
