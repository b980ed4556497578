"""When each message of a broadcast may leave: pure arithmetic on times given.

A line sends broadcast messages at most ``per_minute`` a minute, evenly spaced, whatever
the number of broadcasts: a new broadcast's first message is due one interval after the
last one already scheduled on its line (or now, if that is past).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def interval(per_minute: int) -> timedelta:
    """The gap between two broadcast messages of one line."""
    if not 1 <= per_minute <= 600:
        raise ValueError("per_minute must be 1 to 600")
    return timedelta(seconds=60 / per_minute)


def schedule(
    now: datetime, last_due: datetime | None, count: int, per_minute: int
) -> list[datetime]:
    """Due times of ``count`` messages on a line whose last scheduled message is due at
    ``last_due`` (None: none is scheduled)."""
    gap = interval(per_minute)
    first = now if last_due is None else max(now, last_due + gap)
    return [first + gap * n for n in range(count)]
