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
    j.ack_inbound(first.n)
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
    j.forget_finished()
    assert j.outbound(1) is None
