"""The journal's record of a phone that keeps its own messages: a poll round journaled in
one transaction, and the phone's copy of a send of this bridge recognised once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_bridge.errors import JournalError
from device_bridge.journal import Journal
from device_bridge.journal_phone import OWN_SEND_WINDOW, Decoded
from protocol.messages import Attachment

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ALICE = "+15550100002"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db", key=b"k" * 32)


def decoded(n: int, **fields: object) -> Decoded:
    values: dict[str, object] = {
        "key": f"android:sms:{n}:{n}", "sender": ALICE, "body": f"text {n}", "sent_at": T,
        "attachments": (), "source": "android:sms", "position": n, "stamp": n,
    }  # fmt: skip
    values.update(fields)
    return Decoded(**values)  # type: ignore[arg-type]


def test_a_poll_round_is_journaled_whole_or_not_at_all(journal: Journal) -> None:
    photo = Attachment(mime="image/jpeg", data=b"\xff\xd8 pixels", name="a.jpg")
    assert journal.add_received_many([decoded(1), decoded(2, attachments=(photo,))]) == 2
    assert journal.add_received_many([decoded(2), decoded(3)]) == 1  # a known key is skipped
    items = journal.pending_inbound()
    assert [(i.body, i.attachments) for i in items] == [
        ("text 1", ()), ("text 2", (photo,)), ("text 3", ()),
    ]  # fmt: skip
    assert journal.cursors() == {"android:sms": 3} and journal.seen_count() == 3
    # A round that fails midway leaves nothing of it: neither messages nor rows taken.
    broken = decoded(5, position=None)  # the cursor cannot be NULL: the round fails
    with pytest.raises(JournalError):
        journal.add_received_many([decoded(4), broken])
    assert journal.inbound_count() == 3 and journal.seen_count() == 3
    assert journal.unseen("android:sms", [(4, 4)]) == [(4, 4)]


def test_the_phones_copy_of_a_send_is_recognised_once(journal: Journal) -> None:
    journal.accept_outbound(7, ALICE, "On my way")
    journal.mark_left(7, T)
    # Another text, another number, or too long before: not this send's copy.
    assert journal.own_send("termux:sms:40:1", ALICE, "on my way", T) is None
    assert journal.own_send("termux:sms:41:1", "+15550100003", "On my way", T) is None
    late = T + OWN_SEND_WINDOW + timedelta(seconds=1)
    assert journal.own_send("termux:sms:42:1", ALICE, "On my way", late) is None
    # The copy, in the national spelling the phone uses: claimed by the send.
    assert journal.own_send("termux:sms:43:1", "(555) 010-0002", "On my way", T) == 7
    assert journal.own_send("termux:sms:43:1", ALICE, "On my way", T) == 7  # read again
    # The same text sent again from the phone itself is the user's: not claimed twice.
    assert journal.own_send("termux:sms:44:1", ALICE, "On my way", T) is None
