"""Property tests for the SMS PDU codec: round trips, segmenting, robustness."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from device_bridge.gsm import gsm7
from device_bridge.gsm.concat import Reassembler
from device_bridge.gsm.errors import PduError
from device_bridge.gsm.pdu import (
    Deliver,
    StatusReport,
    Submit,
    decode_pdu,
    decode_timestamp,
    encode_deliver,
    encode_status_report,
    encode_submit,
    encode_timestamp,
    part_limits,
    segment_text,
)

T0 = datetime(2024, 5, 17, 12, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))

GSM_CHARS = [ch for ch in gsm7.BASIC if ch != "\x1b"] + list(gsm7.EXTENSION.values())
EMOJI = ["😀", "👍", "🇬🇧", "👩‍👩‍👧", "𝄞", "🤌🏽"]

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
mixed_text = st.lists(
    st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(EMOJI), st.characters()),
    max_size=500,
).map("".join)  # emoji sequences (flags, ZWJ families) are several code points
any_text = st.one_of(st.text(), gsm_text, mixed_text)
numbers = st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True)
offsets = st.integers(-79, 79).map(lambda q: timezone(timedelta(minutes=15 * q)))
moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(datetime(1990, 1, 1), datetime(2089, 12, 31, 23, 59, 59)),
    offsets,
).map(lambda dt: dt.replace(microsecond=0))


def cost_of(text: str, encoding: str) -> int:
    if encoding == "gsm7":
        return sum(gsm7.char_septets(ch) for ch in text)
    return sum(gsm7.ucs2_units(ch) for ch in text)


@given(number=numbers, text=any_text, ref=st.integers(0, 255), mr=st.integers(0, 255))
def test_submit_round_trip(number: str, text: str, ref: int, mr: int) -> None:
    pdus = encode_submit(number, text, concat_ref=ref, message_reference=mr)
    messages = [decode_pdu(p.hex) for p in pdus]
    assert all(isinstance(m, Submit) for m in messages)
    assert "".join(m.text for m in messages) == text
    assert {(m.recipient, m.message_reference) for m in messages} == {(number, mr)}
    for pdu in pdus:
        assert pdu.tpdu_length == len(pdu.hex) // 2 - 1 <= 164
    if len(pdus) > 1:
        assert [(m.concat.ref, m.concat.total, m.concat.seq) for m in messages] == [
            (ref, len(pdus), seq) for seq in range(1, len(pdus) + 1)
        ]


@settings(max_examples=200)
@given(
    sender=st.one_of(numbers, st.text(st.sampled_from(GSM_CHARS[32:90]), min_size=1, max_size=11)),
    text=any_text,
    when=moments,
    ref_bits=st.sampled_from([8, 16]),
    order=st.randoms(use_true_random=False),
)
def test_deliver_reassembles_in_any_order(
    sender: str, text: str, when: datetime, ref_bits: int, order
) -> None:
    pdus = encode_deliver(sender, text, when, concat_ref_bits=ref_bits)
    parts = [decode_pdu(p.hex) for p in pdus]
    assert all(isinstance(p, Deliver) and p.sender == sender for p in parts)
    assert all(p.timestamp == when and p.timestamp.utcoffset() == when.utcoffset() for p in parts)
    shuffled = parts + parts[: len(parts) // 2]  # with duplicates
    order.shuffle(shuffled)
    r = Reassembler()
    results = [m for m in (r.add(p, T0) for p in shuffled) if m is not None]
    assert len(results) == 1
    assert results[0].text == text
    assert not results[0].incomplete
    assert len(r) == 0


@given(text=any_text, ref_bits=st.sampled_from([8, 16]))
def test_segments_fit_and_rejoin(text: str, ref_bits: int) -> None:
    encoding, parts = segment_text(text, ref_bits=ref_bits)
    assert encoding == ("gsm7" if gsm7.is_gsm7(text) else "ucs2")
    assert "".join(parts) == text
    single, multi = part_limits(encoding, ref_bits)
    total = cost_of(text, encoding)
    if total <= single:
        assert parts == [text]
        return
    assert all(0 < cost_of(p, encoding) <= multi for p in parts)
    # greedy cutting wastes at most one unit per part (a 2-unit char that did not fit)
    assert math.ceil(total / multi) <= len(parts) <= math.ceil(total / (multi - 1))


@given(n=st.integers(0, 153 * 6))
def test_plain_gsm_segment_counts(n: int) -> None:
    _, parts = segment_text("x" * n)
    assert len(parts) == (1 if n <= 160 else math.ceil(n / 153))
    _, parts = segment_text("ő" * n)
    assert len(parts) == (1 if n <= 70 else math.ceil(n / 67))


@given(n=st.integers(1, 400))
def test_escape_pairs_count_double(n: int) -> None:
    _, parts = segment_text("€" * n)
    assert len(parts) == (1 if n <= 80 else math.ceil(n / 76))


@given(data=st.binary(max_size=200), has_smsc=st.booleans(), lenient=st.booleans())
def test_decoder_raises_only_pdu_error(data: bytes, has_smsc: bool, lenient: bool) -> None:
    try:
        message = decode_pdu(data.hex(), has_smsc=has_smsc, lenient=lenient)
    except PduError as exc:
        assert exc.pdu == data.hex()
    else:
        assert isinstance(message, Deliver | Submit | StatusReport)


@given(
    septets=st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)),
    fill=st.integers(0, 6),
)
def test_pack_unpack_round_trip(septets: bytes, fill: int) -> None:
    packed = gsm7.pack(septets, fill)
    assert len(packed) == (math.ceil((fill + 7 * len(septets)) / 8) if septets else 0)
    assert gsm7.unpack(packed, len(septets), fill) == septets


@given(text=gsm_text)
def test_septets_round_trip(text: str) -> None:
    assert gsm7.from_septets(gsm7.to_septets(text)) == text


@given(when=moments)
def test_timestamp_round_trip(when: datetime) -> None:
    back = decode_timestamp(encode_timestamp(when))
    assert back == when and back.utcoffset() == when.utcoffset()


@given(
    mr=st.integers(0, 255),
    number=numbers,
    sent=moments,
    done=moments,
    status=st.integers(0, 255),
)
def test_status_report_round_trip(
    mr: int, number: str, sent: datetime, done: datetime, status: int
) -> None:
    report = decode_pdu(encode_status_report(mr, number, sent, done, status).hex)
    assert isinstance(report, StatusReport)
    assert (report.message_reference, report.recipient, report.status) == (mr, number, status)
    assert (report.timestamp, report.discharge_time) == (sent, done)
