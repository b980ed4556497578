"""Which rows of a phone store to take next (ADB), against the journal's seen set.

A store's rows have ids that mostly grow, but not always: SQLite gives a new row the
id of a deleted newest one, and an MMS downloaded late keeps the id its notice got. So
"everything above the highest id taken" can skip a message for good. Each poll instead:

1. **New first.** Once anything was taken (or the history is imported), the rows above
   ``top - WINDOW`` (the highest id taken, less a re-scan window; while importing, not
   below the lowest id taken) are listed with their times, and those not in the seen
   set are taken, oldest first: new messages, a reused id (same id, another time) and a
   late MMS within the window.
2. **Then the history, newest first**, below the lowest id taken, in spans of ids
   (doubled while a span is empty), until the floor: then the store is imported.

Only ids and times are listed (integers: unambiguous output); the driver reads the
chosen rows whole. The server's keys are idempotent, so a row read twice is stored once.
"""

from __future__ import annotations

from typing import Protocol

from .base import InboxView

#: Rows below the highest id taken that are listed again on every poll.
WINDOW = 500
#: Ids per step of the history import (doubled while a step finds nothing).
SPAN = 2000

Stamp = tuple[int, int]


class StampSource(Protocol):
    async def stamps(self, source: str, above: int, below: int | None = None) -> list[Stamp]:
        """(id, time) of the rows with ``above < id < below``, by id."""

    async def highest(self, source: str) -> int:
        """The highest id in the store (0 when empty)."""


async def new_rows(phone: StampSource, source: str, view: InboxView, limit: int) -> list[Stamp]:
    """Up to ``limit`` rows to take: new ones first, then the history, newest first."""
    imported = f"imported:{source}"
    top, floor = view.cursors().get(source, 0), view.floor(source)
    taken: list[Stamp] = []
    done = view.flag(imported)
    if top or done:
        # While importing, the rows below the lowest taken are the history's (step 2).
        low = view.low(source) if not done else None
        near = await phone.stamps(source, max(top - WINDOW, floor, (low or 1) - 1))
        taken = view.unseen(source, near)[:limit]
    if len(taken) < limit and not done:
        taken += await _history(phone, source, view, limit - len(taken), floor)
    return taken


async def _history(
    phone: StampSource, source: str, view: InboxView, limit: int, floor: int
) -> list[Stamp]:
    low = view.low(source)
    if low is None:
        if floor:  # a journal from before the seen set took all of it already
            view.set_flag(f"imported:{source}")
            return []
        low = await phone.highest(source) + 1
    taken: list[Stamp] = []
    span = SPAN
    while low > floor + 1 and len(taken) < limit:
        start = max(floor, low - span)
        rows = await phone.stamps(source, start, low)
        fresh = view.unseen(source, rows)
        taken += list(reversed(fresh))[: limit - len(taken)]
        span = span if rows else span * 2
        low = start + 1
    if low <= floor + 1 and not taken:
        view.set_flag(f"imported:{source}")
    return taken
