"""The staff-access audit chain: pure hashing and checking, no I/O.

Each row of ``staff_access`` records one look of an operator into an account. Its hash
is SHA-256 over the previous row's hash and the row's own fields, in a fixed, unambiguous
encoding (length-prefixed UTF-8), so changing any field of any row, removing a row or
reordering rows breaks the chain from that row on::

    GENESIS ─▶ h1 = H(GENESIS, row1) ─▶ h2 = H(h1, row2) ─▶ …

:func:`verify` walks rows in id order and names the first row whose stored ``prev_hash``
or ``hash`` does not match. Removing the *last* rows cannot be seen from the table
alone: keep the newest hash somewhere else (``ferry admin audit verify`` prints it) to
detect that too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

#: The ``prev_hash`` of the first row.
GENESIS = bytes(32)

#: What an operator may do to an account; each is written to the chain.
ACTIONS = ("inspect", "read_messages", "read_messages_refused", "security_events")


@dataclass(frozen=True)
class Entry:
    """One row of the chain (``id`` and hashes as stored)."""

    id: int
    at: datetime
    operator: str
    account_id: int | None
    action: str
    reason: str
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class Broken:
    """The first row where the chain does not hold, and why."""

    row_id: int
    why: str


def _field(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(4, "big") + raw


def entry_hash(
    prev_hash: bytes,
    at: datetime,
    operator: str,
    account_id: int | None,
    action: str,
    reason: str,
) -> bytes:
    """The hash of a row whose predecessor's hash is ``prev_hash``."""
    when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parts = (when, operator, "" if account_id is None else str(account_id), action, reason)
    digest = hashlib.sha256(b"ferry-staff-access:v1")
    digest.update(prev_hash)
    for part in parts:
        digest.update(_field(part))
    return digest.digest()


def verify(entries: Iterable[Entry], start: bytes = GENESIS) -> Broken | None:
    """Check the chain, oldest row first, from ``start`` (the hash before the first of
    ``entries``: :data:`GENESIS` for the whole chain); ``None`` when every row holds."""
    prev = start
    for e in entries:
        if e.prev_hash != prev:
            return Broken(e.id, "its link to the previous row is wrong (a row removed or changed)")
        expected = entry_hash(e.prev_hash, e.at, e.operator, e.account_id, e.action, e.reason)
        if e.hash != expected:
            return Broken(e.id, "its content does not match its hash (the row was changed)")
        prev = e.hash
    return None
