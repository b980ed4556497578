"""Encoded change frames, computed once per (account, cursor) and shared.

When one message reaches an account with a thousand open browser tabs, every socket sits
at the same cursor: the first socket to ask computes and encodes the ``Changes`` frame;
the others wait for that same computation and reuse the bytes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

from protocol.codec import encode_text
from protocol.messages import Changes, Resync
from server.log import browser_logger
from server.storage.conversations import ChangeSet, ConversationStore

_CACHE_SIZE = 1024
#: Most messages in one ``Changes`` frame; a client further behind gets several.
FEED_PAGE = 500

Frame = tuple[ChangeSet, str]


class ChangeFeed:
    def __init__(self, store: ConversationStore, page: int = FEED_PAGE) -> None:
        self._store = store
        self._page = page
        self._cache: OrderedDict[tuple[int, int], asyncio.Future[Frame]] = OrderedDict()

    async def frame(
        self, account_id: int, since: int, at_least: int | None = None, *, fresh: bool = False
    ) -> Frame:
        """Changes after ``since`` and their encoded frame.

        ``at_least``: the seq a hint announced; a shared result that reaches it is reused.
        ``fresh`` (a new subscription): only a read still in flight is shared, never a
        finished one, so a change committed without a hint can never be skipped.
        Without ``at_least`` the changes are always read anew.
        """
        key = (account_id, since)
        fut = self._cache.get(key)
        if fut is not None and at_least is not None and not (fresh and fut.done()):
            try:
                result = await asyncio.shield(fut)
            except Exception:
                result = None
            if result is not None and (
                result[0].upto >= at_least or len(result[0].messages) >= self._page
            ):
                return result
        return await self._compute(key)

    async def frames(
        self, account_id: int, since: int, at_least: int | None, *, fresh: bool = False
    ) -> AsyncIterator[tuple[str, int]]:
        """The frames that bring a client at ``since`` up to date, each with the cursor the
        client has once it got it (page after page; a ``resync`` when ``since`` cannot be
        resumed). Nothing when the client is up to date already."""
        cursor = max(0, since)
        while True:
            cs, frame = await self.frame(account_id, cursor, at_least, fresh=fresh)
            if cs.resync:
                # Older than what the server keeps, or from the future (a restored
                # database): the client refetches its state and follows from the seq.
                browser_logger.info("cursor %d cannot be resumed (seq %d); resync", cursor, cs.upto)
                yield encode_text(Resync()), cs.upto
                return
            if not cs.empty or cs.upto != cursor:
                yield frame, cs.upto
            if cs.upto == cursor or len(cs.messages) < self._page:
                return
            cursor = cs.upto

    def prime(self, account_id: int, changes: ChangeSet) -> None:
        """Offer a change set read by the writer of those changes (``since`` to ``upto``),
        so sockets at ``since`` get it without a read of their own."""
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        fut.set_result((changes, _encode(changes)))
        key = (account_id, changes.since)
        self._cache[key] = fut
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _compute(self, key: tuple[int, int]) -> Frame:
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._cache[key] = fut
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        try:
            cs = await self._store.changes_since(key[0], key[1], self._page)
            frame = (cs, _encode(cs))
        except BaseException as exc:
            if self._cache.get(key) is fut:
                del self._cache[key]
            fut.set_exception(exc)
            fut.exception()  # retrieved here; waiters get it from their own await
            raise
        fut.set_result(frame)
        return frame


def _encode(cs: ChangeSet) -> str:
    return encode_text(Changes(messages=cs.messages, threads=cs.threads, upto=cs.upto))
