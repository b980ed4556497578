"""Reassembly of concatenated SMS (3GPP TS 23.040 §9.2.3.24.1), sans I/O.

A long SMS arrives as parts that each carry ``Concat(ref, total, seq)`` in their user-data
header. The :class:`Reassembler` collects them and hands back one :class:`Deliver` per
message. It never reads a clock: the caller passes ``now`` to every call.

Rules:

* Parts belong together when they share ``(sender, ref, total)``.
* A message without concatenation, or with ``total == 1``, passes straight through.
* Parts may come in any order; a part whose ``seq`` is already held is a duplicate and is
  ignored (networks do resend).
* When every ``seq`` from 1 to ``total`` is held, the parts are joined in order and the
  whole message is returned at once.
* Nothing is dropped: a group still incomplete ``timeout`` after its first part came is
  returned by :meth:`Reassembler.expire`, joined from the parts that did arrive, with
  ``incomplete=True``. The same happens, on the next ``expire``, to the oldest group when
  more than ``max_pending`` groups are open (the limit on what we hold).

A duplicate that arrives after its message was completed (a SIM re-read after a crash,
a network resend) is recognised for ``timeout`` after completion by its identical text
and centre timestamp, and ignored. A part with the same reference but other content is a
new message reusing the reference and opens a new group.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .gsm7 import fix_surrogates
from .pdu import Deliver

__all__ = ["Reassembler"]

Key = tuple[str, int, int]  # (sender, ref, total)


@dataclass
class _Group:
    first_seen: datetime
    parts: dict[int, Deliver] = field(default_factory=dict)


class Reassembler:
    """Collects the parts of concatenated SMS-DELIVERs.

    Args:
        timeout: How long to wait for missing parts after the first part arrived.
        max_pending: Most incomplete messages held at once; beyond it the oldest is
            released (as incomplete) by the next :meth:`expire`.
    """

    def __init__(self, timeout: timedelta = timedelta(hours=24), *, max_pending: int = 1024):
        if timeout <= timedelta(0) or max_pending < 1:
            raise ValueError("timeout must be positive and max_pending at least 1")
        self.timeout = timeout
        self.max_pending = max_pending
        self._groups: dict[Key, _Group] = {}  # insertion order is arrival order
        self._evicted: list[Deliver] = []
        # Recently completed messages: when, and each part's (text, timestamp).
        self._done: dict[Key, tuple[datetime, dict[int, tuple[str, datetime]]]] = {}

    def __len__(self) -> int:
        """Number of incomplete messages held."""
        return len(self._groups)

    def add(self, part: Deliver, now: datetime) -> Deliver | None:
        """Take one received part.

        Args:
            part: A decoded SMS-DELIVER, concatenated or not.
            now: The current time, used to expire the group later.

        Returns:
            The whole message when *part* completes it (or is not a part at all), else None.
        """
        concat = part.concat
        if concat is None or concat.total <= 1:
            return part
        key = (part.sender, concat.ref, concat.total)
        done = self._done.get(key)
        if done is not None and done[1].get(concat.seq) == (part.text, part.timestamp):
            return None  # a late copy of a part of a message already delivered
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(now)
            self._evict_over_limit()
        group.parts.setdefault(concat.seq, part)  # a duplicate seq keeps the first copy
        if len(group.parts) < concat.total:
            return None
        del self._groups[key]
        self._done[key] = (now, {seq: (p.text, p.timestamp) for seq, p in group.parts.items()})
        while len(self._done) > self.max_pending:
            del self._done[next(iter(self._done))]
        return _join(group.parts, incomplete=False)

    def expire(self, now: datetime) -> list[Deliver]:
        """Release messages whose missing parts waited too long, oldest first.

        Args:
            now: The current time.

        Returns:
            Incomplete messages (``incomplete=True``) joined from the parts that came,
            including any released earlier because of ``max_pending``.
        """
        released, self._evicted = self._evicted, []
        for key, (completed, _) in list(self._done.items()):
            if now - completed >= self.timeout:
                del self._done[key]
        for key, group in list(self._groups.items()):
            if now - group.first_seen >= self.timeout:
                del self._groups[key]
                released.append(_join(group.parts, incomplete=True))
        return released

    def _evict_over_limit(self) -> None:
        while len(self._groups) > self.max_pending:
            oldest = next(iter(self._groups))
            self._evicted.append(_join(self._groups.pop(oldest).parts, incomplete=True))


def _join(parts: dict[int, Deliver], *, incomplete: bool) -> Deliver:
    """One message from its parts in ``seq`` order.

    The text is joined before surrogates are fixed, so an emoji whose UTF-16 halves were
    sent in two parts comes out whole. The timestamp is the earliest part's; the encoding
    and other header fields are those of the first part held.
    """
    ordered = [parts[seq] for seq in sorted(parts)]
    data = [p.data for p in ordered if p.data is not None]  # 8-bit parts carry octets
    return replace(
        ordered[0],
        text=fix_surrogates("".join(p.text for p in ordered)),
        data=b"".join(data) if data else None,
        timestamp=min(p.timestamp for p in ordered),
        concat=None,
        status_report_requested=any(p.status_report_requested for p in ordered),
        incomplete=incomplete,
    )
