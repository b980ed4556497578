"""The journal's decoded messages: attachments and phone-store cursors, durable together,
kept as long as the text is kept; and the upgrade from the journal before them."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device_bridge import journal as journal_module
from device_bridge.errors import JournalError
from device_bridge.journal import Journal
from protocol.messages import Attachment

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PHOTO = Attachment(mime="image/jpeg", data=b"\xff\xd8" + bytes(range(256)), name="a.jpg")
DOC = Attachment(mime="application/pdf", data=b"%PDF" * 100, name=None)


def add(j: Journal, key: str, position: int, parts: list[Attachment], source: str = "sms") -> bool:
    return j.add_received(key, "+1555", f"body {key}", T0, parts, source=source, position=position)


def test_message_attachments_and_cursor_commit_together(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    assert add(j, "android:mms:4", 4, [PHOTO, DOC], source="mms") is True
    assert add(j, "android:mms:4", 4, [PHOTO, DOC], source="mms") is False
    assert add(j, "android:sms:9", 9, []) is True
    j.close()
    j = Journal(tmp_path / "j.db")
    assert j.cursors() == {"mms": 4, "sms": 9}
    mms, sms = j.pending_inbound()
    assert mms.attachments == (PHOTO, DOC) and sms.attachments == ()
    assert (mms.key, mms.body) == ("android:mms:4", "body android:mms:4")
    # A cursor never moves back.
    add(j, "android:sms:3", 3, [])
    assert j.cursors()["sms"] == 9


def test_a_failed_write_moves_no_cursor(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    bad = Attachment(mime="image/png", data=None, name=None)  # type: ignore[arg-type]
    with contextlib.suppress(JournalError, TypeError):
        add(j, "k", 5, [bad])
    assert j.cursors() == {} and j.pending_inbound() == []


def test_batches_are_capped_by_attachment_bytes(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    big = Attachment(mime="image/jpeg", data=b"x" * 600)
    for i in range(4):
        add(j, f"m{i}", i + 1, [big] if i != 2 else [])
    add(j, "text", 10, [])
    assert [i.key for i in j.pending_inbound(max_bytes=1000)] == ["m0"]
    assert [i.key for i in j.pending_inbound(max_bytes=1300)] == ["m0", "m1", "m2"]
    first = j.pending_inbound()[0]
    assert [i.key for i in j.pending_inbound(after=first.n, max_bytes=10)] == ["m1"]


def test_attachments_stay_with_the_history_and_go_with_it(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    add(j, "a", 1, [PHOTO])
    add(j, "b", 2, [DOC])
    _, second = j.pending_inbound()
    j.ack_inbound(second.n, T0)
    assert j.pending_inbound() == []
    # A repair re-sends the acknowledged message with its parts.
    assert [i.attachments for i in j.history_after(0)] == [(PHOTO,), (DOC,)]
    assert j.prune_history(T0 + timedelta(days=31), timedelta(days=30)) == 2
    db = sqlite3.connect(tmp_path / "j.db")
    assert db.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0


def test_upgrade_from_the_journal_before_attachments(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    before = next(i for i, sql in enumerate(journal_module._UPGRADES) if "TABLE attachments" in sql)
    db = sqlite3.connect(path)
    db.executescript(journal_module._SCHEMA)
    for sql in journal_module._UPGRADES[:before]:
        db.execute(sql)
    db.execute(f"PRAGMA user_version = {before}")
    db.execute(
        "INSERT INTO inbound (key, sender, body, sent_at) VALUES ('old', '+1555', 'hi', ?)",
        (T0.isoformat(),),
    )
    db.commit()
    db.close()
    j = Journal(path)
    (old,) = j.pending_inbound()
    assert (old.body, old.attachments) == ("hi", ())
    add(j, "new", 1, [PHOTO])
    assert j.pending_inbound()[1].attachments == (PHOTO,)
    j.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(journal_module._UPGRADES)
