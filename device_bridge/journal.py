"""The bridge's local durable store-and-forward journal (SQLite, fsync on every commit).

Invariants:

* An SMS read from the modem is committed here *before* it is deleted from the SIM, and
  stays here until the server acknowledged it: nothing is lost in between.
* An outgoing SMS is committed as ``accepted`` before the modem is touched, and as
  ``sending`` right before AT+CMGS. After a crash a row still ``sending`` may or may not
  have left the modem: it becomes ``unknown`` and is never sent again automatically.
* A message the phone decoded itself (Android) is committed together with its attachments
  and the phone-store cursor past it (``meta`` ``cursor:<source>``), so it is neither
  lost nor read again. Attachments (table ``attachments``, keyed by the item's ``n``) stay
  as long as the item's text does: pending, then in the history for repairs.
* Multipart SMS parts wait in ``parts`` until complete (or too old: then delivered with
  ``incomplete`` set), so a crash between parts loses nothing.
* An item the server refused (``Ack.rejected``) moves to ``quarantine`` with the reason:
  kept for the user to see (``ferry bridge status``), never uploaded again.
* Bodies, raw PDUs and attachments are sealed at rest (:mod:`device_bridge.sealing`).
  An outgoing body is kept only until the SMS left the modem (or failed to).

What is kept, and for how long: unacknowledged messages until the server has them;
acknowledged ones for 30 days (``history``, to repair a server restored from a backup);
refused ones for 90 days (``quarantine``); parts of a long SMS until it is complete or a
day old; outgoing messages' states for 30 days after their last report (so a repeated
order meets its outcome, never a second SMS), their bodies only until sent.

Outbound states::

    accepted ─▶ sending ─▶ sent ─▶ (delivered)
        │          │   └──▶ failed
        │          └─(crash)─▶ unknown
        └─ never touched the modem: safe to send after a restart
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from device_bridge.errors import JournalError
from device_bridge.journal_phone import PhoneRows, same_number
from device_bridge.sealing import Sealer, load_key
from protocol.messages import Attachment

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    incomplete INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS undecodable (
    key TEXT PRIMARY KEY,
    pdu TEXT NOT NULL,
    error TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    key TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound (
    outbox_id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    refs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    reported TEXT
);
"""

# Schema changes after the first release, applied in order; PRAGMA user_version counts them.
_UPGRADES = [
    # Per-part delivery outcomes, by TP-MR, for rolling status reports up into one status.
    "ALTER TABLE outbound ADD COLUMN part_status TEXT NOT NULL DEFAULT '{}'",
    # A fast network may report a part delivered before the modem confirmed the whole
    # send; such reports wait here until the send is recorded as "sent".
    "CREATE TABLE early_reports (reference INTEGER NOT NULL, recipient TEXT NOT NULL, "
    "outcome TEXT NOT NULL, seen_at TEXT NOT NULL)",
    # Acknowledged messages, kept a while so a server restored from a backup can be
    # repaired; and the highest position the server ever acknowledged.
    "CREATE TABLE history (n INTEGER PRIMARY KEY, key TEXT NOT NULL, sender TEXT NOT NULL, "
    "body TEXT NOT NULL, sent_at TEXT NOT NULL, incomplete INTEGER NOT NULL, "
    "acked_at TEXT NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # When the server confirmed a final state: the row is kept a while after that, so a
    # late repeat of the same order is answered with its outcome instead of sent again.
    "ALTER TABLE outbound ADD COLUMN finished_at TEXT",
    # Parts already joined into a message: a late copy (the SIM read again after a crash
    # between the join and AT+CMGD) must not start a new, forever-incomplete message.
    "CREATE TABLE joined_parts (key TEXT PRIMARY KEY, joined_at TEXT NOT NULL)",
    # MMS parts of an inbound item (by its position n), kept while its text is kept.
    "CREATE TABLE attachments (n INTEGER NOT NULL, seq INTEGER NOT NULL, mime TEXT NOT NULL, "
    "name TEXT, data BLOB NOT NULL, PRIMARY KEY (n, seq))",
    # Items the server refused one by one: kept with the reason, never uploaded again.
    "CREATE TABLE quarantine (n INTEGER PRIMARY KEY, key TEXT NOT NULL, sender TEXT NOT NULL, "
    "body BLOB NOT NULL, sent_at TEXT NOT NULL, reason TEXT NOT NULL, quarantined_at TEXT "
    "NOT NULL)",
    # The modem's own words behind an outgoing message's plain error.
    "ALTER TABLE outbound ADD COLUMN detail TEXT",
    # Bodies, PDUs and attachments of journals from before sealing: sealed now.
    "seal",
    # Messages the user sent from the phone itself (its sent box): direction and the
    # phone's status travel with them (issue #16).
    "ALTER TABLE inbound ADD COLUMN direction TEXT NOT NULL DEFAULT 'in'",
    "ALTER TABLE inbound ADD COLUMN status TEXT",
    "ALTER TABLE history ADD COLUMN direction TEXT NOT NULL DEFAULT 'in'",
    "ALTER TABLE history ADD COLUMN status TEXT",
    # Phone rows taken, by store, row id and time: a row id the phone reuses, or a row
    # that appears below the highest id taken (an MMS downloaded late), is still new.
    "CREATE TABLE seen (source TEXT NOT NULL, position INTEGER NOT NULL, stamp INTEGER "
    "NOT NULL, PRIMARY KEY (source, position, stamp)) WITHOUT ROWID",
    # Journals from before the seen set took every row up to their cursor: the re-scan
    # window starts above it, so nothing they took comes again under a new key.
    "INSERT INTO meta SELECT 'floor:' || substr(key, 8), value FROM meta WHERE key LIKE 'cursor:%'",
    # A keyed digest of each outgoing text and when it went to the phone, to recognise
    # the phone's sent-box copy of a message this bridge sent (never uploaded twice).
    "ALTER TABLE outbound ADD COLUMN body_mac BLOB",
    "ALTER TABLE outbound ADD COLUMN left_at TEXT",
    "ALTER TABLE outbound ADD COLUMN phone_row TEXT",
]

#: Delivery outcomes that end a message (anything else keeps it "sent").
_FAILED = {"permanent_failure", "temporary_stopped"}
#: Outgoing states in which the body is still needed (it has not reached the modem).
_UNSENT = ("accepted", "sending")
#: How long refused items are kept for the user to look at.
QUARANTINE_AGE = timedelta(days=90)


@dataclass(frozen=True)
class InboundItem:
    n: int
    key: str
    sender: str
    body: str
    sent_at: str
    incomplete: bool
    attachments: tuple[Attachment, ...] = ()
    #: ``out``: sent from the phone itself; ``sender`` is then the recipient.
    direction: str = "in"
    status: str | None = None


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


@dataclass(frozen=True)
class Quarantined:
    """An item the server refused (the body stays sealed in the journal)."""

    n: int
    sender: str
    sent_at: str
    reason: str
    quarantined_at: str


@dataclass(frozen=True)
class Part:
    key: str
    sender: str
    ref: int
    total: int
    seq: int
    body: str
    sent_at: str


class Journal(PhoneRows):
    """Synchronous on purpose: each call is one short, fsynced SQLite transaction.

    ``key``: the sealing key; by default ``journal.key`` beside the journal (created 0600).
    """

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # Deleted rows are overwritten with zeros, not left in free pages.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
            # A new key only for a journal that holds nothing sealed: a lost key must be
            # said, not silently replaced by one that opens nothing.
            create = key is None and not self._holds_sealed()
            raw = key if key is not None else load_key(path.parent, create=create)
            self._sealer = Sealer(raw)
            self._mac_key = hmac.new(raw, b"ferry: outgoing body digest", hashlib.sha256).digest()
            self._upgrade()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from None
        except JournalError:
            self._db.close()
            raise

    def _holds_sealed(self) -> bool:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version < _UPGRADES.index("seal") + 1:
            return False  # from before sealing: plaintext, sealed on upgrade
        tables = ("inbound", "history", "quarantine", "parts", "undecodable", "attachments")
        return any(
            self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608
            for table in tables
        ) or bool(self._db.execute("SELECT 1 FROM outbound WHERE length(body) > 0").fetchone())

    def close(self) -> None:
        self._db.close()

    def _upgrade(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for number, sql in enumerate(_UPGRADES[version:], start=version + 1):
            with self._atomic():
                if sql == "seal":
                    self._seal_existing()
                else:
                    self._db.execute(sql)
                self._db.execute(f"PRAGMA user_version = {number}")
            if sql == "seal":
                # The plaintext the rows held is still in the file's free space and the
                # write-ahead log: rewrite the file and empty the log.
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _seal_existing(self) -> None:
        seal = self._sealer
        for table in ("inbound", "history"):
            for n, key, body in self._db.execute(f"SELECT n, key, body FROM {table}").fetchall():  # noqa: S608
                self._db.execute(
                    f"UPDATE {table} SET body = ? WHERE n = ?",  # noqa: S608
                    (seal.seal_text(body, f"body:{key}"), n),
                )
        for key, body in self._db.execute("SELECT key, body FROM parts").fetchall():
            self._db.execute(
                "UPDATE parts SET body = ? WHERE key = ?",
                (seal.seal_text(body, f"part:{key}"), key),
            )
        for key, pdu in self._db.execute("SELECT key, pdu FROM undecodable").fetchall():
            self._db.execute(
                "UPDATE undecodable SET pdu = ? WHERE key = ?",
                (seal.seal_text(pdu, f"pdu:{key}"), key),
            )
        for oid, state, body in self._db.execute(
            "SELECT outbox_id, state, body FROM outbound"
        ).fetchall():
            kept = seal.seal_text(body, f"out:{oid}") if state in _UNSENT else b""
            self._db.execute("UPDATE outbound SET body = ? WHERE outbox_id = ?", (kept, oid))
        for n, seq, name, data in self._db.execute(
            "SELECT n, seq, name, data FROM attachments"
        ).fetchall():
            self._db.execute(
                "UPDATE attachments SET name = ?, data = ? WHERE n = ? AND seq = ?",
                (self._seal_name(name, n, seq), seal.seal(bytes(data), f"att:{n}:{seq}"), n, seq),
            )

    def _seal_name(self, name: str | None, n: int, seq: int) -> bytes | None:
        return None if name is None else self._sealer.seal_text(name, f"attname:{n}:{seq}")

    def _open_body(self, sealed: bytes, key: str) -> str:
        return self._sealer.open_text(sealed, f"body:{key}")

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """One transaction. The connection is in autocommit mode (``isolation_level=None``),
        where ``with connection:`` opens none: each statement would commit on its own."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _tx(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            with self._atomic():
                return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    # ----------------------------------------------------------------- inbound

    def add_inbound(
        self, key: str, sender: str, body: str, sent_at: datetime, *, incomplete: bool = False
    ) -> bool:
        """Journal an inbound SMS; False if this key is already journaled."""
        body = whole_text(body)
        cur = self._tx(
            "INSERT OR IGNORE INTO inbound (key, sender, body, sent_at, incomplete) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                key,
                sender,
                self._sealer.seal_text(body, f"body:{key}"),
                sent_at.isoformat(),
                int(incomplete),
            ),
        )
        return cur.rowcount == 1

    def add_undecodable(self, key: str, pdu: str, error: str, now: datetime) -> None:
        """Keep a PDU we could not decode, raw, so it can be decoded by a later version."""
        self._tx(
            "INSERT OR IGNORE INTO undecodable (key, pdu, error, seen_at) VALUES (?, ?, ?, ?)",
            (key, self._sealer.seal_text(pdu, f"pdu:{key}"), error[:200], now.isoformat()),
        )

    def add_received(
        self,
        key: str,
        sender: str,
        body: str,
        sent_at: datetime,
        attachments: list[Attachment],
        *,
        source: str,
        position: int,
        stamp: int | None = None,
        direction: str = "in",
        status: str | None = None,
    ) -> bool:
        """Journal a message the phone decoded, its attachments, the cursor of ``source``
        past ``position`` and (with ``stamp``) the row in the seen set, in one
        transaction; False if the key was known."""
        try:
            with self._atomic():
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO inbound (key, sender, body, sent_at, incomplete, "
                    "direction, status) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (
                        key,
                        sender,
                        self._sealer.seal_text(whole_text(body), f"body:{key}"),
                        sent_at.isoformat(),
                        direction,
                        status,
                    ),
                )
                added = cur.rowcount == 1
                if added:
                    n = int(cur.lastrowid or 0)
                    self._db.executemany(
                        "INSERT INTO attachments VALUES (?, ?, ?, ?, ?)",
                        [
                            (
                                n,
                                i,
                                a.mime,
                                self._seal_name(a.name, n, i),
                                self._sealer.seal(a.data, f"att:{n}:{i}"),
                            )
                            for i, a in enumerate(attachments)
                        ],
                    )
                self._take_row(source, position, stamp)
            return added
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def cursors(self) -> dict[str, int]:
        """The highest position taken from each phone store, by source."""
        rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'cursor:%'").fetchall()
        return {key.removeprefix("cursor:"): int(value) for key, value in rows}

    def pending_inbound(
        self, after: int = 0, limit: int = 100, max_bytes: int | None = None
    ) -> list[InboundItem]:
        """Unacknowledged items after ``after``, oldest first; with ``max_bytes``, only as
        many as keep their attachments within it together (always at least one)."""
        return self._items("inbound", after, limit, max_bytes)

    def _items(
        self, table: str, after: int, limit: int, max_bytes: int | None
    ) -> list[InboundItem]:
        rows = self._db.execute(
            f"SELECT n, key, sender, body, sent_at, incomplete, direction, status FROM {table} "  # noqa: S608
            "WHERE n > ? "
            "ORDER BY n LIMIT ?",
            (after, limit),
        ).fetchall()
        if not rows:
            return []
        sizes = dict(
            self._db.execute(
                "SELECT n, sum(length(data)) FROM attachments WHERE n > ? AND n <= ? GROUP BY n",
                (after, rows[-1][0]),
            ).fetchall()
        )
        if max_bytes is not None:
            total = 0
            for i, r in enumerate(rows):
                total += sizes.get(r[0], 0)
                if total > max_bytes and i > 0:
                    rows = rows[:i]
                    break
        parts: dict[int, list[Attachment]] = {}
        opened = self._sealer
        for n, seq, mime, name, data in self._db.execute(
            "SELECT n, seq, mime, name, data FROM attachments WHERE n > ? AND n <= ? "
            "ORDER BY n, seq",
            (after, rows[-1][0]),
        ):
            parts.setdefault(n, []).append(
                Attachment(
                    mime=mime,
                    data=opened.open(bytes(data), f"att:{n}:{seq}"),
                    name=None if name is None else opened.open_text(name, f"attname:{n}:{seq}"),
                )
            )
        return [
            InboundItem(
                r[0],
                r[1],
                r[2],
                self._open_body(r[3], r[1]),
                r[4],
                bool(r[5]),
                tuple(parts.get(r[0], ())),
                r[6],
                r[7],
            )
            for r in rows
        ]

    def ack_inbound(self, upto: int, now: datetime, refused: dict[int, str] | None = None) -> None:
        """The server handled everything up to ``upto``: items it refused (``n`` → reason)
        go to the quarantine, the rest to the history."""
        try:
            with self._atomic():
                self._db.executemany(
                    "INSERT OR IGNORE INTO quarantine SELECT n, key, sender, body, sent_at, ?, ? "
                    "FROM inbound WHERE n = ?",
                    [(reason, now.isoformat(), n) for n, reason in (refused or {}).items()],
                )
                self._db.executemany(
                    "DELETE FROM inbound WHERE n = ?", [(n,) for n in (refused or {})]
                )
                self._db.execute(
                    "INSERT OR IGNORE INTO history (n, key, sender, body, sent_at, incomplete, "
                    "acked_at, direction, status) SELECT n, key, sender, body, sent_at, "
                    "incomplete, ?, direction, status FROM inbound WHERE n <= ?",
                    (now.isoformat(), upto),
                )
                self._db.execute("DELETE FROM inbound WHERE n <= ?", (upto,))
                self._db.execute(
                    "INSERT INTO meta VALUES ('acked_n', ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = max(value, excluded.value)",
                    (upto,),
                )
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def acked_n(self) -> int:
        """The highest position the server ever acknowledged."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'acked_n'").fetchone()
        return int(row[0]) if row else 0

    def history_after(
        self, after: int, limit: int = 100, max_bytes: int | None = None
    ) -> list[InboundItem]:
        """Acknowledged messages after ``after``, for a repair of a restored server."""
        return self._items("history", after, limit, max_bytes)

    def prune_history(self, now: datetime, max_age: timedelta) -> int:
        """Forget acknowledged messages (and their attachments) acked before ``max_age``,
        and refused ones quarantined before :data:`QUARANTINE_AGE`."""
        horizon = (now - max_age).isoformat()
        refused = (now - QUARANTINE_AGE).isoformat()
        try:
            with self._atomic():
                self._db.execute(
                    "DELETE FROM attachments WHERE n IN (SELECT n FROM history WHERE acked_at < ?"
                    " UNION ALL SELECT n FROM quarantine WHERE quarantined_at < ?)",
                    (horizon, refused),
                )
                self._db.execute("DELETE FROM quarantine WHERE quarantined_at < ?", (refused,))
                cur = self._db.execute("DELETE FROM history WHERE acked_at < ?", (horizon,))
            return cur.rowcount
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def quarantined(self) -> list[Quarantined]:
        """Items the server refused, oldest first."""
        rows = self._db.execute(
            "SELECT n, sender, sent_at, reason, quarantined_at FROM quarantine ORDER BY n"
        ).fetchall()
        return [Quarantined(*r) for r in rows]

    def inbound_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM inbound").fetchone()[0])

    # ------------------------------------------------------------------- parts

    def add_part(self, part: Part, now: datetime) -> list[Part] | None:
        """Store one part; when the message is complete, return all its parts in order.

        The parts are removed and the joined message journaled in one transaction, so a
        crash never leaves both or neither.
        """
        try:
            with self._atomic():
                if self._db.execute(
                    "SELECT 1 FROM joined_parts WHERE key = ?", (part.key,)
                ).fetchone():
                    return None
                self._db.execute(
                    "INSERT OR IGNORE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        part.key,
                        part.sender,
                        part.ref,
                        part.total,
                        part.seq,
                        self._sealer.seal_text(part.body, f"part:{part.key}"),
                        part.sent_at,
                        now.isoformat(),
                    ),
                )
                group = self._group(part.sender, part.ref, part.total)
                seqs = {p.seq for p in group}
                if len(seqs) < part.total:
                    return None
                self._join(group, now, incomplete=False)
                return group
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def expire_parts(self, now: datetime, max_age: timedelta) -> int:
        """Deliver groups older than ``max_age`` as incomplete messages; returns how many."""
        horizon = (now - max_age).isoformat()
        groups = self._db.execute(
            "SELECT DISTINCT sender, ref, total FROM parts WHERE received_at < ?", (horizon,)
        ).fetchall()
        for sender, ref, total in groups:
            with self._atomic():
                self._join(self._group(sender, ref, total), now, incomplete=True)
        self._tx("DELETE FROM joined_parts WHERE joined_at < ?", (horizon,))
        return len(groups)

    def _group(self, sender: str, ref: int, total: int) -> list[Part]:
        rows = self._db.execute(
            "SELECT key, sender, ref, total, seq, body, sent_at FROM parts "
            "WHERE sender = ? AND ref = ? AND total = ? ORDER BY seq",
            (sender, ref, total),
        ).fetchall()
        unique: dict[int, Part] = {}
        for key, sender_, ref_, total_, seq, body, sent_at in rows:
            if seq not in unique:
                text = self._sealer.open_text(body, f"part:{key}")
                unique[seq] = Part(key, sender_, ref_, total_, seq, text, sent_at)
        return list(unique.values())

    def _join(self, group: list[Part], now: datetime, *, incomplete: bool) -> None:
        first = group[0]
        # A character may be cut between two parts (half a surrogate pair in each).
        body = whole_text("".join(p.body for p in group))
        key = "multi:" + ",".join(sorted(p.key for p in group))[:90]
        self._db.execute(
            "INSERT OR IGNORE INTO inbound (key, sender, body, sent_at, incomplete) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                key,
                first.sender,
                self._sealer.seal_text(body, f"body:{key}"),
                first.sent_at,
                int(incomplete),
            ),
        )
        self._db.executemany("DELETE FROM parts WHERE key = ?", [(p.key,) for p in group])
        self._db.executemany(
            "INSERT OR IGNORE INTO joined_parts VALUES (?, ?)",
            [(p.key, now.isoformat()) for p in group],
        )

    # ---------------------------------------------------------------- outbound

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
                state in _UNSENT,
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
            if reference in item.refs and _same_number(item.recipient, recipient):
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
            if ref in refs and _same_number(number, item.recipient)
        }
        if not found:
            return item
        used = [(r[0],) for r in early if r[1] in found and _same_number(r[2], item.recipient)]
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


def whole_text(text: str) -> str:
    """``text`` as valid Unicode: surrogate halves that belong together are joined, a
    lone half (its other part never came, or a phone sent it so) becomes U+FFFD."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


_same_number = same_number
