"""Progress of the first import of a phone's history, as the server and browsers see it.

``done`` counts the phone's rows the journal took (its seen set) less those the server
has not acknowledged yet, so "41,200 of 100,000" means 41,200 are on the server. A
report goes out at most every :data:`REPORT_EVERY`, and a last one (``done == total``)
when the phone has nothing more to give and the server has everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from protocol.messages import ImportProgress

if TYPE_CHECKING:
    from device_bridge.drivers.base import DecodedInbox
    from device_bridge.journal import Journal

REPORT_EVERY = timedelta(seconds=1)


class ImportTracker:
    def __init__(
        self,
        journal: Journal,
        send: Callable[[ImportProgress], Awaitable[bool]],
        clock: Callable[[], datetime],
    ) -> None:
        self._journal = journal
        self._send = send
        self._now = clock
        self._total: int | None = None
        self._caught_up = False
        self._last: ImportProgress | None = None
        self._sent_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self._total is not None

    async def start(self, inbox: DecodedInbox) -> None:
        """A phone was opened: is there a history to import, and how large is it?"""
        self._total = await inbox.history_size(self._journal)
        self._caught_up = False
        if self._total is not None:
            await self._report(force=True)

    async def batch(self, taken: int) -> None:
        """A poll round journaled ``taken`` messages (0: the phone has nothing more)."""
        if taken == 0:
            self._caught_up = True
        await self.acked()

    async def acked(self) -> None:
        """The server acknowledged uploads (or a round ended)."""
        if self._total is None:
            return
        if self._caught_up and self._journal.inbound_count() == 0:
            total = max(self._total, self._done())
            await self._send(ImportProgress(total=total, done=total))
            self._total = None
            self._last = None
            return
        await self._report()

    async def resend(self) -> None:
        """After a reconnect: the server forgot the report with the connection."""
        if self._total is not None:
            await self._report(force=True)

    def _done(self) -> int:
        return max(0, self._journal.seen_count() - self._journal.inbound_count())

    async def _report(self, *, force: bool = False) -> None:
        assert self._total is not None
        now = self._now()
        progress = ImportProgress(total=self._total, done=min(self._done(), self._total))
        due = self._sent_at is None or now - self._sent_at >= REPORT_EVERY
        if (force or (progress != self._last and due)) and await self._send(progress):
            self._last, self._sent_at = progress, now
