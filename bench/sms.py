"""Synthetic inbound SMS: what the bridge uploads, and the same rows for the sqlite baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.baselines import Row, row_values
from protocol.messages import InboundSms

#: Distinct correspondents: a backlog spreads over a few dozen conversations.
SENDERS = 50
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
# ~110 characters, a typical single-segment text.
_TEXT = (
    "Running late, the train is stuck outside the station. "
    "Order for me if you get there first? #{n}"
)
# AES-GCM adds a 12-byte nonce and a 16-byte tag to every sealed body.
_SEAL_OVERHEAD = 28


def sender(i: int) -> str:
    return f"+1555020{i % SENDERS:04d}"


def item(n: int, body: str | None = None) -> InboundSms:
    """The bridge journal's item ``n`` (positions start at 1)."""
    sent_at = _EPOCH + timedelta(seconds=n)
    return InboundSms(
        n=n,
        key=f"bench-{n}",
        sender=sender(n),
        body=body if body is not None else _TEXT.format(n=n),
        sent_at=sent_at.isoformat(),
    )


def items(first: int, count: int) -> list[InboundSms]:
    return [item(n) for n in range(first, first + count)]


def baseline_rows(batch: list[InboundSms]) -> list[Row]:
    """The rows Ferry writes for ``batch``, as plain values for bare sqlite3."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    rows = []
    for seq, sms in enumerate(batch, start=1):
        thread_id = seq % SENDERS + 1
        sealed = b"\x00" * (len(sms.body.encode()) + _SEAL_OVERHEAD)
        stamp = datetime.fromisoformat(sms.sent_at).replace(tzinfo=None).isoformat(sep=" ")
        rows.append(row_values(1, thread_id, 1, sms.sender, sealed, stamp, now, sms.key, seq))
    return rows
