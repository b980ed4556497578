"""What the bridge journal keeps, sealed, and for how long; refused items in quarantine."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_bridge.errors import JournalError
from device_bridge.journal import QUARANTINE_AGE, Journal, Part
from device_bridge.sealing import KEY_FILE
from protocol.messages import Attachment

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECRET = "meet me at the harbour at nine"
PICTURE = b"\x89PNG secret picture bytes"


def raw_bytes(path: Path) -> bytes:
    """Everything on disk: the database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def fill(j: Journal) -> None:
    j.add_inbound("k1", "+1555", SECRET, T0)
    j.add_received("k2", "+1555", SECRET + " (mms)", T0, [Attachment("image/png", PICTURE,
                   "holiday-photo.png")], source="android:mms", position=1)  # fmt: skip
    j.add_part(Part("p1", "+1555", 7, 2, 1, SECRET + " part", T0.isoformat()), T0)
    j.add_undecodable("u1", "0791" + SECRET.encode().hex(), "bad", T0)
    j.accept_outbound(1, "+1555", SECRET + " outgoing")


def test_bodies_attachments_and_pdus_are_sealed_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    j = Journal(path)
    fill(j)
    j.ack_inbound(1, T0)  # one moves to the history
    disk = raw_bytes(path)
    for secret in (SECRET.encode(), PICTURE, b"holiday-photo", SECRET.encode().hex().encode()):
        assert secret not in disk
    # …and everything opens again, after a restart too.
    j.close()
    j = Journal(path)
    assert [i.body for i in j.history_after(0)] == [SECRET]
    (mms,) = j.pending_inbound()
    assert mms.attachments == (Attachment("image/png", PICTURE, "holiday-photo.png"),)
    assert j.outbound(1).body == SECRET + " outgoing"  # type: ignore[union-attr]
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_a_journal_copied_without_its_key_does_not_open(tmp_path: Path) -> None:
    j = Journal(tmp_path / "a" / "journal.db")
    j.add_inbound("k1", "+1555", SECRET, T0)
    j.close()
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    (elsewhere / "journal.db").write_bytes((tmp_path / "a" / "journal.db").read_bytes())
    with pytest.raises(JournalError, match="is missing"):
        Journal(elsewhere / "journal.db")
    # …nor with another key.
    stolen = Journal(elsewhere / "journal.db", key=b"\x01" * 32)
    with pytest.raises(JournalError):
        stolen.pending_inbound()


def test_a_journal_from_before_sealing_is_sealed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    db = sqlite3.connect(path)
    # The schema as the previous release left it (user_version 7), with plaintext rows.
    Journal(tmp_path / "model.db").close()
    model = sqlite3.connect(tmp_path / "model.db")
    for (sql,) in model.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('quarantine', 'sqlite_sequence', 'seen')"
    ):
        for later in (", detail TEXT", ", direction TEXT NOT NULL DEFAULT 'in'", ", status TEXT",
                      ", body_mac BLOB", ", left_at TEXT", ", phone_row TEXT"):  # fmt: skip
            sql = sql.replace(later, "")
        db.execute(sql)
    db.execute("INSERT INTO inbound (key, sender, body, sent_at) VALUES ('k', '+1', ?, 't')",
               (SECRET,))  # fmt: skip
    db.execute("INSERT INTO outbound (outbox_id, recipient, body, state) VALUES "
               "(1, '+1', ?, 'accepted'), (2, '+1', ?, 'delivered')", (SECRET, SECRET))  # fmt: skip
    db.execute("INSERT INTO attachments VALUES (1, 0, 'image/png', 'n.png', ?)", (PICTURE,))
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    j = Journal(path)
    assert SECRET.encode() not in raw_bytes(path) and PICTURE not in raw_bytes(path)
    (item,) = j.pending_inbound()
    assert item.body == SECRET and item.attachments[0].data == PICTURE
    assert j.outbound(1).body == SECRET  # type: ignore[union-attr]
    assert j.outbound(2).body == ""  # type: ignore[union-attr]  # sent: no longer kept


def test_an_outgoing_body_is_kept_only_until_it_left_the_modem(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    j = Journal(path)
    j.accept_outbound(1, "+15550100002", SECRET)
    j.set_outbound(1, "sending")
    assert j.outbound(1).body == SECRET  # type: ignore[union-attr]
    j.mark_sent(1, [4], T0)
    assert j.outbound(1).body == ""  # type: ignore[union-attr]
    j.accept_outbound(2, "+15550100002", "never sent")
    j.set_outbound(2, "failed", error="The modem refused.", detail="+CMS ERROR: 21")
    failed = j.outbound(2)
    assert failed is not None and failed.body == "" and failed.detail == "+CMS ERROR: 21"


def test_sent_rows_age_out_even_without_a_delivery_report(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.db")
    j.accept_outbound(1, "+15550100002", "x")
    j.mark_sent(1, [4], T0)
    j.mark_reported(1, "sent")
    j.forget_finished(T0)
    assert j.outbound(1) is not None  # a late report still finds it
    j.forget_finished(T0 + timedelta(days=31))
    assert j.outbound(1) is None


def test_refused_items_go_to_the_quarantine_and_never_upload_again(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.db")
    for key in ("a", "b", "c"):
        j.add_inbound(key, "+1555", key, T0)
    _, b, c = j.pending_inbound()
    j.ack_inbound(c.n, T0, {b.n: "bad_sender"})
    assert j.pending_inbound() == [] and [i.key for i in j.history_after(0)] == ["a", "c"]
    (kept,) = j.quarantined()
    assert (kept.n, kept.sender, kept.reason) == (b.n, "+1555", "bad_sender")
    j.close()
    j = Journal(tmp_path / "journal.db")
    assert j.pending_inbound() == [] and len(j.quarantined()) == 1
    j.prune_history(T0 + QUARANTINE_AGE - timedelta(days=1), timedelta(days=30))
    assert len(j.quarantined()) == 1
    j.prune_history(T0 + QUARANTINE_AGE + timedelta(days=1), timedelta(days=30))
    assert j.quarantined() == []


def test_a_character_cut_between_two_parts_is_whole_again(tmp_path: Path) -> None:
    """A network may cut an emoji between two UCS-2 parts: each part holds half of it."""
    j = Journal(tmp_path / "journal.db")
    j.add_part(Part("p1", "+1555", 3, 2, 1, "ok \ud83d", T0.isoformat()), T0)
    j.add_part(Part("p2", "+1555", 3, 2, 2, "\ude00 bye", T0.isoformat()), T0)
    j.add_inbound("lone", "+1555", "half \ud83d only", T0)
    joined, lone = j.pending_inbound()
    assert joined.body == "ok 😀 bye" and lone.body == "half \ufffd only"
    # …so it can travel: the upload frame is valid JSON.
    import msgspec

    assert msgspec.json.decode(msgspec.json.encode([joined.body, lone.body])) == [
        "ok 😀 bye",
        "half \ufffd only",
    ]


def test_a_lost_key_is_said_never_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    j = Journal(path)
    j.add_inbound("k1", "+1555", SECRET, T0)
    j.close()
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(JournalError, match=r"journal\.key is missing"):
        Journal(path)
    assert not (tmp_path / KEY_FILE).exists()  # no new key that would open nothing
    # An empty journal may get a new key: nothing is lost.
    empty = tmp_path / "fresh"
    Journal(empty / "journal.db").close()
    (empty / KEY_FILE).unlink()
    Journal(empty / "journal.db").close()
    assert (empty / KEY_FILE).stat().st_size == 32
