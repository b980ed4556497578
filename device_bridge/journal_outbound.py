"""The journal's outgoing messages: each order by outbox id, from ``accepted`` to its end.

An order is committed as ``accepted`` before the modem is touched and as ``sending``
right before it is handed over; after a crash a row still ``sending`` may or may not have
left, so it becomes ``unknown`` and is never sent again automatically. Its body is kept
sealed only until it reached the modem (or never will). Delivery reports are matched to
the newest ``sent`` row to the same recipient that used the report's reference (TP-MR);
a report that arrives before the send is confirmed waits in ``early_reports``. Finished
rows stay 30 days as tombstones, so a repeated order meets its outcome, never a second SMS.

Mixed into :class:`device_bridge.journal.Journal`, whose connection, sealer and
transactions it uses; every method is one short transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from device_bridge.journal_phone import same_number
from device_bridge.sealing import Sealer

__all__ = ["UNSENT", "OutboundItem", "OutboundRows"]

#: Delivery outcomes that end a message (anything else keeps it "sent").
_FAILED = {"permanent_failure", "temporary_stopped"}
#: Outgoing states in which the body is still needed (it has not reached the modem).
UNSENT = ("accepted", "sending")


@dataclass(frozen=True)
class OutboundItem:
    outbox_id: int
    recipient: str
    body: str
    state: str
    refs: list[int]
    error: str | None
    reported: str | None
    detail: str | None = None


class OutboundRows:
    _db: sqlite3.Connection
    _sealer: Sealer
    _atomic: Callable[[], contextlib.AbstractContextManager[None]]
    _tx: Callable[..., sqlite3.Cursor]
    _body_mac: Callable[[str], bytes]

    def accept_outbound(self, outbox_id: int, recipient: str, body: str) -> OutboundItem:
        """Journal a send request (idempotent on ``outbox_id``); returns the row as stored."""
        self._tx(
            "INSERT OR IGNORE INTO outbound (outbox_id, recipient, body, state, body_mac) "
            "VALUES (?, ?, ?, 'accepted', ?)",
            (
                outbox_id,
                recipient,
                self._sealer.seal_text(body, f"out:{outbox_id}"),
                self._body_mac(body),
            ),
        )
        item = self.outbound(outbox_id)
        assert item is not None
        return item

    def set_outbound(
        self,
        outbox_id: int,
        state: str,
        *,
        refs: list[int] | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Move an outgoing message on; once it left ``accepted``/``sending`` its body is
        erased (it reached the modem, or never will). ``detail``: the modem's own words
        behind the plain ``error``."""
        self._tx(
            "UPDATE outbound SET state = ?, refs = COALESCE(?, refs), error = ?, detail = ?, "
            "body = CASE WHEN ? THEN body ELSE x'' END WHERE outbox_id = ?",
            (
                state,
                json.dumps(refs) if refs is not None else None,
                error,
                detail,
                state in UNSENT,
                outbox_id,
            ),
        )

    def mark_reported(self, outbox_id: int, state: str) -> None:
        self._tx("UPDATE outbound SET reported = ? WHERE outbox_id = ?", (state, outbox_id))

    def outbound(self, outbox_id: int) -> OutboundItem | None:
        row = self._db.execute(
            "SELECT outbox_id, recipient, body, state, refs, error, reported, detail FROM outbound "
            "WHERE outbox_id = ?",
            (outbox_id,),
        ).fetchone()
        return self._outbound(row) if row else None

    def outbound_in(self, *states: str) -> list[OutboundItem]:
        rows = self._db.execute(
            "SELECT outbox_id, recipient, body, state, refs, error, reported, detail FROM outbound "
            "ORDER BY outbox_id"
        ).fetchall()
        return [self._outbound(r) for r in rows if r[3] in states]

    def unreported(self) -> list[OutboundItem]:
        rows = self._db.execute(
            "SELECT outbox_id, recipient, body, state, refs, error, reported, detail FROM outbound "
            "WHERE reported IS NULL OR reported != state ORDER BY outbox_id"
        ).fetchall()
        return [self._outbound(r) for r in rows]

    def _outbound(self, row: tuple[object, ...]) -> OutboundItem:
        oid, recipient, body, state, refs, error, reported, detail = row
        sealed = bytes(body) if isinstance(body, bytes | memoryview) else b""
        return OutboundItem(
            outbox_id=int(str(oid)),
            recipient=str(recipient),
            body=self._sealer.open_text(sealed, f"out:{oid}") if sealed else "",
            state=str(state),
            refs=json.loads(str(refs)),
            error=None if error is None else str(error),
            reported=None if reported is None else str(reported),
            detail=None if detail is None else str(detail),
        )

    def record_report(
        self, reference: int, recipient: str, outcome: str, now: datetime
    ) -> OutboundItem | None:
        """Apply one part's delivery report; returns the row when its state changed.

        The report is matched to the newest ``sent`` message to the same recipient that
        used this TP-MR (references wrap at 256, so the newest is the one meant). A report
        that matches nothing yet is kept for :meth:`mark_sent`. The message becomes
        ``delivered`` when every part is, ``failed`` as soon as one part failed for good;
        temporary outcomes leave it ``sent``.
        """
        for item in reversed(self.outbound_in("sent")):
            if reference in item.refs and same_number(item.recipient, recipient):
                return self._apply_reports(item, {reference: outcome})
        self._tx(
            "INSERT INTO early_reports VALUES (?, ?, ?, ?)",
            (reference, recipient, outcome, now.isoformat()),
        )
        return None

    def mark_sent(self, outbox_id: int, refs: list[int], now: datetime) -> OutboundItem:
        """Record a confirmed send and apply reports that raced ahead of the confirmation."""
        self.set_outbound(outbox_id, "sent", refs=refs)
        item = self.outbound(outbox_id)
        assert item is not None
        horizon = (now - timedelta(minutes=10)).isoformat()
        self._tx("DELETE FROM early_reports WHERE seen_at < ?", (horizon,))
        early = self._db.execute(
            "SELECT rowid, reference, recipient, outcome FROM early_reports ORDER BY rowid"
        ).fetchall()
        found = {
            ref: outcome
            for _rowid, ref, number, outcome in early
            if ref in refs and same_number(number, item.recipient)
        }
        if not found:
            return item
        used = [(r[0],) for r in early if r[1] in found and same_number(r[2], item.recipient)]
        with self._atomic():
            self._db.executemany("DELETE FROM early_reports WHERE rowid = ?", used)
        return self._apply_reports(item, found) or item

    def _apply_reports(self, item: OutboundItem, reports: dict[int, str]) -> OutboundItem | None:
        row = self._db.execute(
            "SELECT part_status FROM outbound WHERE outbox_id = ?", (item.outbox_id,)
        ).fetchone()
        parts: dict[str, str] = json.loads(row[0])
        parts.update({str(ref): outcome for ref, outcome in reports.items()})
        state, error = "sent", None
        if any(v in _FAILED for v in parts.values()):
            state, error = "failed", "The network could not deliver the message."
        elif all(parts.get(str(r)) == "delivered" for r in item.refs):
            state = "delivered"
        self._tx(
            "UPDATE outbound SET part_status = ?, state = ?, error = ? WHERE outbox_id = ?",
            (json.dumps(parts), state, error, item.outbox_id),
        )
        return self.outbound(item.outbox_id) if state != "sent" else None

    def recover(self) -> list[int]:
        """After a restart: sends interrupted at the modem become ``unknown``; returns them."""
        ids = [r.outbox_id for r in self.outbound_in("sending")]
        for outbox_id in ids:
            self.set_outbound(
                outbox_id, "unknown", error="The bridge stopped while sending; not retried."
            )
        return ids

    def forget_finished(self, now: datetime, keep: timedelta = timedelta(days=30)) -> None:
        """Age out rows whose last state the server confirmed ``keep`` ago.

        Confirmed rows stay for ``keep`` as tombstones (bodies are gone once sent): a
        repeated order for the same outbox id (a server that re-offers after a crash) then
        meets its outcome, never a second SMS, and a ``sent`` row still matches a late
        delivery report. After ``keep`` none is coming (networks give up within days).
        """
        self._tx(
            "UPDATE outbound SET finished_at = ? WHERE finished_at IS NULL AND reported = state "
            "AND state IN ('sent', 'failed', 'unknown', 'delivered')",
            (now.isoformat(),),
        )
        self._tx("DELETE FROM outbound WHERE finished_at < ?", ((now - keep).isoformat(),))
