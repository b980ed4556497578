"""The journal's record of a phone that keeps its own messages (Android).

Such a phone is read, never drained, so the journal must know which of its rows it took:

* **The seen set** (``seen``: store, row id, the row's time). A cursor "highest id taken"
  is not enough: SQLite reuses the id of a deleted newest row, and an MMS downloaded late
  keeps the lower id it got when its notice arrived. Drivers re-read a window below the
  highest id and take every row whose (id, time) is not in the set; the server's
  idempotent keys catch anything read twice all the same. Rows at or below ``floor``
  (the cursor of a journal from before the set existed) count as taken.
* **Own sends.** A message this bridge sent through the phone lands in the phone's sent
  box. The outgoing row keeps a keyed digest of its text (the text itself is erased once
  sent) and when it went to the phone; the first sent-box row to the same number with
  the same text within :data:`OWN_SEND_WINDOW` is claimed by it and not uploaded, since
  the server has that message already (from the browser).
* **Flags** (``meta`` rows with value 1), e.g. that a store's first import finished.

Mixed into :class:`device_bridge.journal.Journal`, whose connection and transactions it
uses; every method is one short transaction.
"""

from __future__ import annotations

import contextlib
import hmac
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from device_bridge.errors import JournalError

#: How far apart the bridge's send and the phone's sent-box row may be, either way.
OWN_SEND_WINDOW = timedelta(minutes=15)


class PhoneRows:
    _db: sqlite3.Connection
    _mac_key: bytes
    _atomic: Callable[[], contextlib.AbstractContextManager[None]]

    # ------------------------------------------------------------ seen rows

    def _take_row(self, source: str, position: int, stamp: int | None) -> None:
        """Inside a transaction: the cursor past ``position``, the lowest id taken, and
        the row in the seen set."""
        self._db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) "
            "DO UPDATE SET value = max(value, excluded.value)",
            (f"cursor:{source}", position),
        )
        self._db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) "
            "DO UPDATE SET value = min(value, excluded.value)",
            (f"low:{source}", position),
        )
        if stamp is not None:
            self._db.execute(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (source, position, stamp)
            )

    def take_rows(self, source: str, rows: Iterable[tuple[int, int]]) -> None:
        """Record rows as taken without journaling a message (rows that are not messages
        to relay, such as the phone's copy of a send of this bridge)."""
        try:
            with self._atomic():
                for position, stamp in rows:
                    self._take_row(source, position, stamp)
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def unseen(self, source: str, rows: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Those of ``rows`` ((id, time)) not taken yet, in the order given."""
        floor = self.floor(source)
        wanted = [r for r in rows if r[0] > floor]
        if not wanted:
            return []
        low, high = min(r[0] for r in wanted), max(r[0] for r in wanted)
        taken = set(
            self._db.execute(
                "SELECT position, stamp FROM seen WHERE source = ? AND position BETWEEN ? AND ?",
                (source, low, high),
            ).fetchall()
        )
        return [r for r in wanted if r not in taken]

    def low(self, source: str) -> int | None:
        """The lowest row id taken from ``source`` (None before the first)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"low:{source}",))
        return int(found[0]) if (found := row.fetchone()) else None

    def floor(self, source: str) -> int:
        """Rows at or below this id count as taken (see the module docstring)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"floor:{source}",))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def seen_count(self) -> int:
        """How many phone rows were taken (by the seen set)."""
        return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def prune_seen(self, source: str, below: int) -> None:
        """Forget taken rows with ids below ``below`` (they are beyond any re-scan), and
        raise the floor to match."""
        try:
            with self._atomic():
                self._db.execute(
                    "DELETE FROM seen WHERE source = ? AND position < ?", (source, below)
                )
                self._db.execute(
                    "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = max(value, excluded.value)",
                    (f"floor:{source}", below - 1),
                )
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    # ---------------------------------------------------------------- flags

    def flag(self, name: str) -> bool:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"flag:{name}",))
        return bool(found[0]) if (found := row.fetchone()) else False

    def set_flag(self, name: str) -> None:
        try:
            with self._atomic():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, 1)", (f"flag:{name}",))
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    # ------------------------------------------------------------ own sends

    def _body_mac(self, body: str) -> bytes:
        return hmac.new(self._mac_key, body.encode("utf-8", "surrogatepass"), "sha256").digest()

    def mark_left(self, outbox_id: int, now: datetime) -> None:
        """The send is being handed to the phone now."""
        try:
            with self._atomic():
                self._db.execute(
                    "UPDATE outbound SET left_at = ? WHERE outbox_id = ?",
                    (now.isoformat(), outbox_id),
                )
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None

    def own_send(self, row_key: str, recipient: str, body: str, when: datetime) -> int | None:
        """The outbox id of this bridge's send that a sent-box row is the copy of, or
        None. The row is claimed: no other row matches that send afterwards."""
        with self._claiming() as db:
            claimed = db.execute(
                "SELECT outbox_id FROM outbound WHERE phone_row = ?", (row_key,)
            ).fetchone()
            if claimed:
                return int(claimed[0])
            low, high = (when - OWN_SEND_WINDOW).isoformat(), (when + OWN_SEND_WINDOW).isoformat()
            candidates = db.execute(
                "SELECT outbox_id, recipient FROM outbound WHERE phone_row IS NULL AND "
                "body_mac = ? AND left_at BETWEEN ? AND ? ORDER BY left_at",
                (self._body_mac(body), low, high),
            ).fetchall()
            for outbox_id, number in candidates:
                if same_number(number, recipient):
                    db.execute(
                        "UPDATE outbound SET phone_row = ? WHERE outbox_id = ?",
                        (row_key, outbox_id),
                    )
                    return int(outbox_id)
            return None

    @contextlib.contextmanager
    def _claiming(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._atomic():
                yield self._db
        except sqlite3.Error as exc:
            raise JournalError(str(exc)) from None


def same_number(a: str, b: str) -> bool:
    """Same subscriber, whatever the number's spelling (+CC vs national)."""
    da, db = "".join(c for c in a if c.isdigit()), "".join(c for c in b if c.isdigit())
    tail = min(len(da), len(db), 9)
    return tail > 0 and da[-tail:] == db[-tail:]
