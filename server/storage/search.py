"""Message search over sealed bodies: off the event loop, in pages, within a time budget.

Bodies are sealed at rest (``sealed.py``) and no plaintext index is kept (a word index
would undo the encryption), so a search opens bodies. It does so cheaply and without
holding the event loop:

- the scan reads only what matching needs (seq, id, peer, sealed body), a batch of
  ``SCAN_ROWS`` at a time, newest change first along the account's ``seq`` index (no sort);
- opening and matching a batch happens in a worker thread; only the hits become full
  message views;
- one request scans until it has ``limit`` hits, reaches the oldest message, or spends its
  budget (``budget`` seconds of the injected clock); it then answers with what it found and
  a cursor (``before``) to continue from, so a search through 100,000 messages is a few
  short requests, never one long one;
- at most ``workers`` batches are opened at once in the whole process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import MessageView
from server.clock import Clock
from server.storage.keys import KeyRing
from server.storage.schema import messages, threads
from server.storage.sealed import BodyCipher
from server.storage.views import message_view, verified_lines, with_attachments

#: Rows opened per batch: big enough that a query's overhead is small, small enough that
#: one batch is a few milliseconds of work.
SCAN_ROWS = 2_000
#: Largest possible seq plus one: the cursor of a search that starts at the newest message.
_TOP = 2**63 - 1

_SCAN = (
    select(messages.c.seq, messages.c.id, messages.c.peer, messages.c.body_sealed)
    .join(threads, threads.c.id == messages.c.thread_id)
    .where(
        messages.c.account_id == bindparam("account_id"),
        messages.c.seq < bindparam("before"),
        messages.c.deleted.is_(False),
        threads.c.deleted.is_(False),
        messages.c.line_id.in_(verified_lines(bindparam("account_id"))),  # type: ignore[arg-type]
    )
    .order_by(messages.c.seq.desc())
    .limit(bindparam("rows"))
)


@dataclass(frozen=True)
class SearchPage:
    """Hits of one request, newest change first.

    ``before``: pass it back to continue with older messages; ``None`` when the whole
    history has been searched. ``scanned``: messages looked at by this request.
    """

    messages: list[MessageView]
    before: int | None
    scanned: int


def _match(
    cipher: BodyCipher, needle: str, rows: Sequence[Any], want: int
) -> list[tuple[int, int]]:
    """(seq, id) of the rows whose body or peer holds ``needle``; at most ``want``."""
    hits: list[tuple[int, int]] = []
    for seq, message_id, peer, sealed in rows:
        if needle in peer or (sealed is not None and needle in cipher.open(sealed).casefold()):
            hits.append((seq, message_id))
            if len(hits) >= want:
                break
    return hits


class Search:
    """Paged, budgeted search of one account's messages (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        keys: KeyRing,
        clock: Clock,
        *,
        budget: float = 0.25,
        workers: int = 1,
        scan_rows: int = SCAN_ROWS,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._budget = budget
        self._scan_rows = scan_rows
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(workers)

    async def page(
        self,
        account_id: int,
        query: str,
        limit: int,
        before: int | None = None,
        *,
        threads: frozenset[int] | None = None,
    ) -> SearchPage:
        """Up to ``limit`` messages holding ``query`` (case-insensitive), with seq below
        ``before`` (``None``: from the newest); with ``threads``, only in those
        conversations (an app limited to some)."""
        scan = _SCAN if threads is None else _SCAN.where(messages.c.thread_id.in_(sorted(threads)))
        needle = query.casefold()
        cipher = await self._keys.cipher(account_id)
        deadline = self._clock.monotonic() + self._budget
        cursor = _TOP if before is None else before
        hits: list[tuple[int, int]] = []
        scanned = 0
        while True:
            async with self._engine.connect() as conn:
                rows = (
                    await conn.execute(
                        scan,
                        {"account_id": account_id, "before": cursor, "rows": self._scan_rows},
                    )
                ).all()
            found = await self._open(cipher, needle, rows, limit - len(hits))
            hits.extend(found)
            if len(hits) >= limit:
                # Continue below the last hit: the rest of this batch is searched next time.
                scanned += next(i for i, r in enumerate(rows) if r[0] == found[-1][0]) + 1
                next_before: int | None = hits[-1][0]
                break
            scanned += len(rows)
            if len(rows) < self._scan_rows:
                next_before = None
                break
            cursor = rows[-1][0]
            if self._clock.monotonic() >= deadline:
                next_before = cursor
                break
        return SearchPage(await self._views(account_id, cipher, hits), next_before, scanned)

    async def _open(
        self, cipher: BodyCipher, needle: str, rows: Sequence[Any], want: int
    ) -> list[tuple[int, int]]:
        if not rows:
            return []
        async with self._slots:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="search")
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, _match, cipher, needle, rows, want
            )

    async def _views(
        self, account_id: int, cipher: BodyCipher, hits: list[tuple[int, int]]
    ) -> list[MessageView]:
        if not hits:
            return []
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(messages)
                .where(
                    messages.c.account_id == account_id,
                    messages.c.id.in_([message_id for _, message_id in hits]),
                )
                .order_by(messages.c.seq.desc())
            )
            views = [message_view(r, cipher) for r in rows]
            found, _ = await conn.run_sync(with_attachments, cipher, views)
        return found

    def close(self) -> None:
        """Let the worker thread go (never blocks)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
