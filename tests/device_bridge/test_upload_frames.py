"""Uploads are capped by encoded size as well as by count: a frame never exceeds the
server's device frame limit, and the largest message the bridge can journal fits alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from device_bridge.attachments import fit
from device_bridge.bridge import UPLOAD_FRAME_BYTES, _frame
from device_bridge.journal import Journal
from protocol.codec import DEFAULT_MAX_SIZE, encode
from protocol.messages import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    MAX_BODY,
    MAX_MIME_LEN,
    MAX_SENDER,
    Attachment,
    Upload,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def frame_size(items: list) -> int:
    return len(encode(Upload(items=items, repair=True)))


def test_large_messages_go_one_per_frame_and_small_ones_together(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    photo = Attachment(mime="image/jpeg", data=b"\xff" * (MAX_ATTACHMENT_BYTES - 100))
    for i in range(3):
        j.add_received(f"big{i}", "+1555", "x", T0, [photo], source="mms", position=i + 1)
    for i in range(50):
        j.add_inbound(f"small{i}", "+1555", "hello", T0)
    sent: list[list[str]] = []
    after = 0
    while items := j.pending_inbound(after, 100, MAX_ATTACHMENT_BYTES):
        wired = _frame(items)
        assert frame_size(wired) <= UPLOAD_FRAME_BYTES < DEFAULT_MAX_SIZE
        sent.append([w.key for w in wired])
        after = wired[-1].n
    # Two near-limit messages never share a frame; small ones fill the room that is left.
    assert sent == [["big0"], ["big1"], ["big2", *(f"small{i}" for i in range(50))]]


def test_the_longest_text_message_fits_a_frame_alone() -> None:
    # An SMS of 255 parts at most: 40,000 characters even when each costs six in JSON.
    fitted = fit("\u0001" * (2 * MAX_BODY), [])
    assert len(fitted.body) == MAX_BODY
    from device_bridge.journal import InboundItem

    item = InboundItem(1, "k" * 100, "+1", fitted.body, T0.isoformat(), False)
    wired = _frame([item] * 6)
    assert 1 <= len(wired) < 6 and frame_size(wired) <= UPLOAD_FRAME_BYTES


def test_the_worst_message_the_bridge_can_journal_fits_a_frame_alone() -> None:
    # Text that JSON escapes six-fold, names and media types at their limits, attachments
    # filling the byte budget exactly.
    name = "\u0001" * 3 + "n" * MAX_ATTACHMENT_NAME
    parts = [
        Attachment(mime="a/" + "b" * (MAX_MIME_LEN - 2), data=b"\x00" * size, name=name)
        for size in [MAX_ATTACHMENT_BYTES // MAX_ATTACHMENTS] * MAX_ATTACHMENTS
    ]
    fitted = fit("\u0001" * (2 * MAX_BODY), parts)
    # The text is cut to leave the attachments their room, and says so.
    assert len(fitted.attachments) == MAX_ATTACHMENTS and len(fitted.body) < MAX_BODY
    assert fitted.body.endswith("[message cut: too long]")
    from device_bridge.journal import InboundItem

    item = InboundItem(
        n=2**62, key="k" * 100, sender="\u0001" * MAX_SENDER, body=fitted.body,
        sent_at=T0.isoformat(), incomplete=True, attachments=tuple(fitted.attachments),
    )  # fmt: skip
    wired = _frame([item, item])
    assert len(wired) == 1 and frame_size(wired) <= UPLOAD_FRAME_BYTES
