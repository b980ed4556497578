"""The bridge journal: durable, idempotent, crash-honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from device_bridge.journal import Journal, Part

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_inbound_is_idempotent_and_survives_reopen(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    assert j.add_inbound("k1", "+1555", "hi", T0) is True
    assert j.add_inbound("k1", "+1555", "hi", T0) is False
    j.add_inbound("k2", "+1555", "there", T0)
    j.close()
    j = Journal(tmp_path / "j.db")
    assert [i.body for i in j.pending_inbound()] == ["hi", "there"]
    first, second = j.pending_inbound()
    j.ack_inbound(first.n, T0)
    assert [i.body for i in j.pending_inbound()] == ["there"]
    assert j.pending_inbound(after=second.n) == []


def test_parts_join_when_complete_in_any_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")

    def part(seq: int, body: str) -> Part:
        return Part(
            key=f"p{seq}",
            sender="+1555",
            ref=9,
            total=3,
            seq=seq,
            body=body,
            sent_at=T0.isoformat(),
        )

    assert j.add_part(part(3, "C"), T0) is None
    assert j.add_part(part(1, "A"), T0) is None
    assert j.add_part(part(1, "A"), T0) is None  # duplicate part
    assert j.add_part(part(2, "B"), T0) is not None
    (msg,) = j.pending_inbound()
    assert msg.body == "ABC" and msg.incomplete is False


def test_stale_partial_message_is_delivered_marked_incomplete(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.add_part(Part("p1", "+1555", 4, 2, 1, "half", T0.isoformat()), T0)
    assert j.expire_parts(T0 + timedelta(hours=1), timedelta(hours=24)) == 0
    assert j.expire_parts(T0 + timedelta(hours=25), timedelta(hours=24)) == 1
    (msg,) = j.pending_inbound()
    assert msg.body == "half" and msg.incomplete is True


def test_interrupted_send_becomes_unknown_never_accepted(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.accept_outbound(1, "+1555", "a")
    j.accept_outbound(2, "+1555", "b")
    j.set_outbound(2, "sending")
    j.close()
    j = Journal(tmp_path / "j.db")  # the bridge restarted
    assert j.recover() == [2]
    assert j.outbound(2).state == "unknown"  # type: ignore[union-attr]
    assert [i.outbox_id for i in j.outbound_in("accepted")] == [1]
    # A repeat offer of the same outbox id does not reset its state.
    assert j.accept_outbound(2, "+1555", "b").state == "unknown"


def test_reporting_and_forgetting(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.accept_outbound(1, "+1555", "a")
    j.set_outbound(1, "failed", error="+CMS ERROR: 38")
    assert [i.outbox_id for i in j.unreported()] == [1]
    j.mark_reported(1, "failed")
    assert j.unreported() == []
    j.forget_finished(T0)
    # Kept as a tombstone: a repeated order meets its outcome, not a second send.
    assert j.accept_outbound(1, "+1555", "a").state == "failed"
    j.forget_finished(T0 + timedelta(days=31))
    assert j.outbound(1) is None


def test_status_reports_roll_up_per_part(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.accept_outbound(1, "+15550100002", "long")
    j.set_outbound(1, "sent", refs=[10, 11])
    assert j.record_report(10, "+15550100002", "delivered", T0) is None  # one of two parts
    assert j.record_report(99, "+15550100002", "delivered", T0) is None  # unknown ref
    assert j.record_report(11, "15550100002", "temporary_trying", T0) is None  # still trying
    done = j.record_report(11, "15550100002", "delivered", T0)
    assert done is not None and done.state == "delivered"


def test_a_failed_part_fails_the_message(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.accept_outbound(1, "+15550100002", "x")
    j.set_outbound(1, "sent", refs=[5])
    failed = j.record_report(5, "+15550100002", "permanent_failure", T0)
    assert failed is not None and failed.state == "failed" and failed.error


def test_reused_reference_matches_the_newest_send(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    for outbox_id in (1, 2):
        j.accept_outbound(outbox_id, "+15550100002", "x")
        j.set_outbound(outbox_id, "sent", refs=[7])  # TP-MR wrapped around to 7 again
    item = j.record_report(7, "+15550100002", "delivered", T0)
    assert item is not None and item.outbox_id == 2
    assert j.outbound(1).state == "sent"  # type: ignore[union-attr]


def test_old_journal_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "j.db"
    Journal(path).close()
    db = sqlite3.connect(path)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    cols = [r[1] for r in db.execute("PRAGMA table_info(outbound)")]
    db.close()
    assert version >= 1 and "part_status" in cols
    Journal(path).close()  # reopening does not re-apply upgrades


def test_reports_that_beat_the_send_confirmation_are_applied(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.accept_outbound(1, "+15550100002", "x")
    j.set_outbound(1, "sending")
    # Both parts reported delivered before AT+CMGS returned the references.
    assert j.record_report(20, "+15550100002", "delivered", T0) is None
    assert j.record_report(21, "+15550100002", "delivered", T0) is None
    assert j.mark_sent(1, [20, 21], T0).state == "delivered"


def test_stale_early_reports_are_not_applied(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.record_report(30, "+15550100002", "delivered", T0)
    j.accept_outbound(1, "+15550100002", "x")
    assert j.mark_sent(1, [30], T0 + timedelta(hours=1)).state == "sent"


def test_acknowledged_messages_move_to_history_for_repairs(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    for key in ("a", "b", "c"):
        j.add_inbound(key, "+1555", key.upper(), T0)
    items = j.pending_inbound()
    j.ack_inbound(items[1].n, T0)
    assert j.acked_n() == items[1].n
    assert [i.body for i in j.pending_inbound()] == ["C"]
    assert [i.body for i in j.history_after(0)] == ["A", "B"]
    assert [i.body for i in j.history_after(items[0].n)] == ["B"]
    j.ack_inbound(items[0].n, T0)  # a late, lower ack never lowers the mark
    assert j.acked_n() == items[1].n
    assert j.prune_history(T0 + timedelta(days=31), timedelta(days=30)) == 2
    assert j.history_after(0) == [] and j.acked_n() == items[1].n


def test_a_part_read_again_after_its_message_was_joined_is_ignored(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    parts = [Part(f"p{i}", "+1555", 3, 2, i, t, T0.isoformat()) for i, t in ((1, "A"), (2, "B"))]
    j.add_part(parts[0], T0)
    assert j.add_part(parts[1], T0) is not None
    # Crash before AT+CMGD: the SIM still has part 2, and the bridge reads it again.
    assert j.add_part(parts[1], T0) is None
    assert j.expire_parts(T0 + timedelta(days=2), timedelta(hours=24)) == 0
    assert [i.body for i in j.pending_inbound()] == ["AB"]
