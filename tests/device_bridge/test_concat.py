"""Reassembly of concatenated SMS-DELIVERs, driven with an explicit clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from device_bridge.gsm.concat import Reassembler
from device_bridge.gsm.pdu import Concat, Deliver, decode_pdu, encode_deliver

T0 = datetime(2024, 5, 17, 12, 0, tzinfo=UTC)
SENDER = "+441234567890"
LONG = "".join(f"{i:03d} lorem ipsum " for i in range(36))  # 576 chars, 4 parts


def parts_of(text: str, *, sender: str = SENDER, ref: int = 7, **kwargs) -> list[Deliver]:
    pdus = encode_deliver(sender, text, T0, concat_ref=ref, **kwargs)
    decoded = [decode_pdu(p.hex) for p in pdus]
    assert all(isinstance(m, Deliver) for m in decoded)
    return decoded  # type: ignore[return-value]


def test_single_message_passes_straight_through() -> None:
    [single] = parts_of("hello")
    assert Reassembler().add(single, T0) is single


def test_total_of_one_passes_straight_through() -> None:
    [single] = parts_of("hello")
    one = replace(single, concat=Concat(9, 1, 1))
    assert Reassembler().add(one, T0) is one


def test_parts_in_order_join_on_the_last() -> None:
    parts = parts_of(LONG)
    assert len(parts) == 4
    r = Reassembler()
    assert [r.add(p, T0) for p in parts[:-1]] == [None, None, None]
    whole = r.add(parts[-1], T0)
    assert whole is not None
    assert (whole.text, whole.concat, whole.incomplete) == (LONG, None, False)
    assert (whole.sender, whole.timestamp, whole.encoding) == (SENDER, T0, "gsm7")
    assert len(r) == 0


def test_out_of_order_and_duplicates() -> None:
    p1, p2, p3, p4 = parts_of(LONG)
    r = Reassembler()
    for part in (p3, p1, p3, p1, p4):
        assert r.add(part, T0) is None
    whole = r.add(p2, T0)
    assert whole is not None and whole.text == LONG


def test_duplicate_keeps_first_copy() -> None:
    p1, p2 = parts_of("a" * 200)
    r = Reassembler()
    r.add(p1, T0)
    r.add(replace(p1, text="IMPOSTOR"), T0)
    whole = r.add(p2, T0)
    assert whole is not None and "IMPOSTOR" not in whole.text


def test_groups_are_keyed_by_sender_ref_and_total() -> None:
    a1, a2 = parts_of("a" * 200, ref=1)
    b1, b2 = parts_of("b" * 200, ref=1, sender="+449999999999")
    c1, c2 = parts_of("c" * 200, ref=2)
    d = parts_of("d" * 400, ref=1)  # same sender and ref, three parts
    r = Reassembler()
    for part in (a1, b1, c1, d[0], d[1]):
        assert r.add(part, T0) is None
    assert len(r) == 4
    assert r.add(c2, T0).text == "c" * 200
    assert r.add(a2, T0).text == "a" * 200
    assert r.add(b2, T0).text == "b" * 200
    assert r.add(d[2], T0).text == "d" * 400


def test_expire_returns_incomplete_message_without_missing_text() -> None:
    p1, _, p3, _ = parts_of(LONG)
    r = Reassembler(timeout=timedelta(hours=1))
    r.add(p1, T0)
    r.add(p3, T0 + timedelta(minutes=10))
    assert r.expire(T0 + timedelta(minutes=59)) == []
    [partial] = r.expire(T0 + timedelta(hours=1))
    assert partial.incomplete is True
    assert partial.text == p1.text + p3.text
    assert partial.concat is None
    assert len(r) == 0
    assert r.expire(T0 + timedelta(days=9)) == []


def test_default_timeout_is_a_day() -> None:
    r = Reassembler()
    r.add(parts_of(LONG)[0], T0)
    assert r.expire(T0 + timedelta(hours=23, minutes=59)) == []
    assert len(r.expire(T0 + timedelta(hours=24))) == 1


def test_expire_is_oldest_first() -> None:
    r = Reassembler(timeout=timedelta(minutes=5))
    r.add(parts_of("a" * 200, ref=1)[1], T0)
    r.add(parts_of("b" * 200, ref=2)[0], T0 + timedelta(minutes=1))
    released = r.expire(T0 + timedelta(minutes=30))
    assert [m.text[0] for m in released] == ["a", "b"]


def test_max_pending_releases_oldest_on_next_expire() -> None:
    r = Reassembler(max_pending=2)
    firsts = [parts_of("x" * 200, ref=ref)[0] for ref in range(3)]
    for i, part in enumerate(firsts):
        r.add(part, T0 + timedelta(seconds=i))
    assert len(r) == 2
    [evicted] = r.expire(T0 + timedelta(seconds=3))
    assert evicted.incomplete and evicted.text == firsts[0].text
    assert r.expire(T0 + timedelta(seconds=4)) == []


def test_emoji_split_across_parts_is_rejoined() -> None:
    # Some phones cut UTF-16 text at exactly 67 units, halving a surrogate pair.
    units = ("a" * 66 + "😀" + "b" * 10).encode("utf-16-be")
    halves = [units[:134], units[134:]]
    [template] = parts_of("x", encoding="ucs2")
    parts = [
        replace(template, text=h.decode("utf-16-be", "surrogatepass"), concat=Concat(5, 2, n))
        for n, h in enumerate(halves, start=1)
    ]
    r = Reassembler()
    assert r.add(parts[1], T0) is None
    assert r.add(parts[0], T0).text == "a" * 66 + "😀" + "b" * 10


def test_emoji_half_in_incomplete_message_becomes_replacement_char() -> None:
    units = ("a" * 66 + "😀").encode("utf-16-be")
    [template] = parts_of("x", encoding="ucs2")
    half = replace(
        template, text=units[:134].decode("utf-16-be", "surrogatepass"), concat=Concat(5, 2, 1)
    )
    r = Reassembler()
    r.add(half, T0)
    [partial] = r.expire(T0 + timedelta(days=1))
    assert partial.text == "a" * 66 + "\ufffd"


def test_8bit_parts_join_their_data() -> None:
    parts = parts_of("\x01" * 200, encoding="8bit")
    r = Reassembler()
    r.add(parts[1], T0)
    whole = r.add(parts[0], T0)
    assert whole.data == b"\x01" * 200


def test_timestamp_is_earliest_and_flags_merge() -> None:
    p1, p2 = parts_of("a" * 200)
    p2 = replace(p2, timestamp=T0 - timedelta(seconds=5), status_report_requested=True)
    r = Reassembler()
    r.add(p1, T0)
    whole = r.add(p2, T0)
    assert whole.timestamp == T0 - timedelta(seconds=5)
    assert whole.status_report_requested is True


@pytest.mark.parametrize("kwargs", [{"timeout": timedelta(0)}, {"max_pending": 0}])
def test_bad_configuration_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Reassembler(**kwargs)


def test_late_copy_after_completion_is_ignored_but_a_reused_reference_is_not() -> None:
    parts = parts_of(LONG)
    r = Reassembler()
    for p in parts:
        r.add(p, T0)
    # The SIM is read again after a crash: the last part comes once more.
    assert r.add(parts[-1], T0 + timedelta(minutes=1)) is None
    assert len(r) == 0 and r.expire(T0 + timedelta(days=2)) == []
    # A new message from the same sender reusing reference 7 (same part count) is new.
    other = LONG[::-1]
    later = [replace(p, timestamp=T0 + timedelta(hours=2)) for p in parts_of(other, ref=7)]
    assert len(later) == len(parts)
    again = [m for m in (r.add(p, T0) for p in later) if m is not None]
    assert [m.text for m in again] == [other]
