"""Unit tests for the SMS PDU codec with literal bytes (vectors live in test_pdu_vectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from device_bridge.gsm.errors import EncodeError, GsmError, PduError
from device_bridge.gsm.pdu import (
    Address,
    Concat,
    Deliver,
    StatusReport,
    Submit,
    decode_address,
    decode_pdu,
    decode_timestamp,
    decode_udh,
    encode_address,
    encode_deliver,
    encode_status_report,
    encode_submit,
    encode_timestamp,
    parse_number,
    relative_validity_minutes,
    relative_validity_octet,
    segment_text,
)
from protocol import sms

CEST = timezone(timedelta(hours=2))
WHEN = datetime(2024, 5, 17, 13, 45, 30, tzinfo=CEST)


def deliver(pdu_hex: str, **kwargs: bool) -> Deliver:
    message = decode_pdu(pdu_hex, **kwargs)
    assert isinstance(message, Deliver)
    return message


def submit(pdu_hex: str, **kwargs: bool) -> Submit:
    message = decode_pdu(pdu_hex, **kwargs)
    assert isinstance(message, Submit)
    return message


# ------------------------------------------------------------------ single-part DELIVER


def test_encode_deliver_gsm7_literal_bytes() -> None:
    [pdu] = encode_deliver("+441234567890", "hello", WHEN)
    # no SMSC, first octet 04 (MMS), OA 12 digits intl, PID 00, DCS 00, SCTS, UDL 5
    assert pdu.hex == "0004" + "0C91442143658709" + "0000" + "42507131540380" + "05E8329BFD06"
    assert pdu.tpdu_length == len(pdu.hex) // 2 - 1


def test_deliver_round_trip_fields() -> None:
    [pdu] = encode_deliver("+441234567890", "Hi there", WHEN, smsc="+447785016005")
    message = deliver(pdu.hex)
    assert message == Deliver(
        smsc="+447785016005",
        sender="+441234567890",
        sender_kind="international",
        text="Hi there",
        encoding="gsm7",
        timestamp=WHEN,
    )


def test_deliver_extension_table_uses_escape_pairs() -> None:
    [pdu] = encode_deliver("+441234567890", "€5 [ok] {x} ~|^\\", WHEN)
    message = deliver(pdu.hex)
    assert message.text == "€5 [ok] {x} ~|^\\"
    assert message.encoding == "gsm7"
    # 7 single-septet chars + 9 escaped ones at two septets each; TP-UDL is octet 19
    assert int(pdu.hex[38:40], 16) == 7 + 9 * 2


def test_deliver_ucs2_literal_bytes() -> None:
    [pdu] = encode_deliver("+441234567890", "中兴", WHEN)
    assert pdu.hex.endswith("0008" + "42507131540380" + "04" + "4E2D5174")
    assert deliver(pdu.hex).text == "中兴"


def test_deliver_emoji_is_utf16_surrogate_pair() -> None:
    [pdu] = encode_deliver("+441234567890", "ok 👍", WHEN)
    assert pdu.hex.endswith("08" + "42507131540380" + "0A" + "006F006B0020D83DDC4D")
    message = deliver(pdu.hex)
    assert message.text == "ok 👍"
    assert message.encoding == "ucs2"


def test_deliver_national_and_unknown_numbers() -> None:
    [pdu] = encode_deliver("0612345678", "x", WHEN)
    assert pdu.hex.startswith("00040A81" + "6021436587")
    message = deliver(pdu.hex)
    assert (message.sender, message.sender_kind) == ("0612345678", "unknown")
    national = deliver("00040AA16021436587000042507131540380" + "0178")
    assert (national.sender, national.sender_kind) == ("0612345678", "national")


@pytest.mark.parametrize("name", ["FONIC", "www.tim.it", "Megafon", "Bank-€", "A"])
def test_alphanumeric_sender_round_trip(name: str) -> None:
    [pdu] = encode_deliver(name, "code 1234", WHEN)
    assert pdu.hex[6:8] == "D0"
    message = deliver(pdu.hex)
    assert (message.sender, message.sender_kind) == (name, "alphanumeric")
    assert message.text == "code 1234"


def test_alphanumeric_sender_too_long_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode_deliver("TwelveLetter", "x", WHEN)


def test_deliver_flags_pid_dcs_status_report_indication() -> None:
    # first octet 0x24: SMS-DELIVER with TP-SRI; PID 0x40; DCS 0xF0 (class 0, GSM-7)
    message = deliver("0024" + "04912143" + "40F0" + "42507131540380" + "0141")
    assert message.status_report_requested is True
    assert (message.pid, message.dcs, message.text) == (0x40, 0xF0, "A")


# ------------------------------------------------------------------ single-part SUBMIT


def test_encode_submit_literal_bytes() -> None:
    [pdu] = encode_submit("+34616585119", "hola")
    assert pdu == type(pdu)("0001000B914316565811F9000004E8373B0C", 17)


def test_submit_round_trip_with_options() -> None:
    [pdu] = encode_submit(
        "+441234567890",
        "ping",
        smsc="+447785016005",
        message_reference=42,
        request_status_report=True,
        validity_relative_minutes=24 * 60,
    )
    message = submit(pdu.hex)
    assert message.recipient == "+441234567890"
    assert message.smsc == "+447785016005"
    assert (message.message_reference, message.request_status_report) == (42, True)
    assert message.validity == 1440
    assert (message.text, message.encoding, message.concat) == ("ping", "gsm7", None)


def test_submit_absolute_validity_round_trip() -> None:
    [pdu] = encode_submit("+441234567890", "x", validity_absolute=WHEN)
    assert submit(pdu.hex).validity == WHEN


def test_submit_8bit() -> None:
    [pdu] = encode_submit("+441234567890", "\x00\xffAB", encoding="8bit")
    message = submit(pdu.hex)
    assert message.encoding == "8bit"
    assert message.data == b"\x00\xffAB"
    assert message.text == "\x00\xffAB"


def test_submit_8bit_refuses_non_latin1() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "€", encoding="8bit")


def test_forced_gsm7_refuses_other_characters() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "日本", encoding="gsm7")


def test_lone_surrogate_is_refused_not_crashed() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "half \ud83d")


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "x", encoding="utf8")


@pytest.mark.parametrize("number", ["", "+", "12-34", "+44 1234", "abc", "1" * 21, "++1"])
def test_bad_numbers_are_refused(number: str) -> None:
    with pytest.raises(EncodeError):
        encode_submit(number, "x")


def test_bad_smsc_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "x", smsc="SMSC")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_reference": 256},
        {"message_reference": -1},
        {"message_class": 4},
        {"validity_relative_minutes": 4},
        {"validity_relative_minutes": 60, "validity_absolute": WHEN},
        {"validity_absolute": datetime(2024, 1, 1)},
        {"concat_ref_bits": 12},
    ],
)
def test_out_of_range_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "x", **kwargs)


def test_national_flag_types_local_numbers() -> None:
    [pdu] = encode_submit("0612345678", "x", smsc="12345", national=True)
    assert pdu.hex.startswith("04A12143F5" + "0100" + "0AA1")
    assert submit(pdu.hex).recipient_kind == "national"


# ------------------------------------------------------------------ status reports


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (0x00, "delivered"),
        (0x01, "delivered"),
        (0x1F, "delivered"),
        (0x20, "temporary_trying"),
        (0x30, "temporary_trying"),
        (0x40, "permanent_failure"),
        (0x45, "permanent_failure"),
        (0x60, "temporary_stopped"),
        (0x7F, "temporary_stopped"),
        (0x80, "permanent_failure"),
        (0xFF, "permanent_failure"),
    ],
)
def test_status_report_round_trip_and_outcome(status: int, outcome: str) -> None:
    done = WHEN + timedelta(seconds=7)
    pdu = encode_status_report(7, "+441234567890", WHEN, done, status, smsc="+447785016005")
    report = decode_pdu(pdu.hex)
    assert report == StatusReport(
        smsc="+447785016005",
        message_reference=7,
        recipient="+441234567890",
        timestamp=WHEN,
        discharge_time=done,
        status=status,
        recipient_kind="international",
    )
    assert report.outcome == outcome


def test_status_report_literal_bytes() -> None:
    pdu = encode_status_report(5, "50131", WHEN, WHEN, 0)
    assert pdu.hex == "000605058105" + "31F1" + "42507131540380" * 2 + "00"


def test_status_report_with_optional_parameters_after_status() -> None:
    base = encode_status_report(5, "50131", WHEN, WHEN, 0x41).hex
    report = decode_pdu(base + "00")  # TP-PI with nothing indicated
    assert isinstance(report, StatusReport)
    assert report.outcome == "permanent_failure"


# ------------------------------------------------------------------ without SMSC prefix


def test_has_smsc_false_reads_bare_tpdu() -> None:
    [pdu] = encode_submit("+34616585119", "hola", smsc="+34646456456")
    tpdu = pdu.hex[16:]
    assert len(tpdu) // 2 == pdu.tpdu_length
    message = decode_pdu(tpdu, has_smsc=False)
    assert isinstance(message, Submit)
    assert (message.smsc, message.text) == (None, "hola")


# ------------------------------------------------------------------ timestamps


@pytest.mark.parametrize(
    ("octet", "offset"),
    [
        ("00", timedelta(0)),
        ("08", timedelta(0)),  # "-00:00"
        ("40", timedelta(hours=1)),
        ("80", timedelta(hours=2)),
        ("23", timedelta(hours=8)),
        ("2B", timedelta(hours=-8)),
        ("29", timedelta(hours=-3)),
        ("22", timedelta(hours=5, minutes=30)),
        ("32", timedelta(hours=5, minutes=45)),
        ("8B", timedelta(hours=-9, minutes=-30)),
        ("97", timedelta(hours=19, minutes=45)),
    ],
)
def test_timestamp_offsets_are_quarter_hours(octet: str, offset: timedelta) -> None:
    when = decode_timestamp(bytes.fromhex("421050214355" + octet))
    assert when.utcoffset() == offset
    assert when.replace(tzinfo=None) == datetime(2024, 1, 5, 12, 34, 55)


def test_timestamp_round_trip_keeps_offset() -> None:
    for minutes in (-15 * 47, -600, -15, 0, 15, 345, 15 * 79):
        when = datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(minutes=minutes)))
        back = decode_timestamp(encode_timestamp(when))
        assert back == when
        assert back.utcoffset() == when.utcoffset()


@pytest.mark.parametrize(
    "when",
    [
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(minutes=10))),
        datetime(2090, 1, 1, tzinfo=UTC),
        datetime(1989, 1, 1, tzinfo=UTC),
    ],
)
def test_timestamp_encode_refuses(when: datetime) -> None:
    with pytest.raises(EncodeError):
        encode_timestamp(when)


@pytest.mark.parametrize("raw", ["4213501234560A", "4201501234A600", "42315012345600", "421350"])
def test_timestamp_decode_refuses_garbage(raw: str) -> None:
    with pytest.raises(ValueError):
        decode_timestamp(bytes.fromhex(raw))


def test_bad_timestamp_in_pdu_is_pdu_error() -> None:
    good = encode_deliver("+441234567890", "x", WHEN)[0].hex
    bad = good.replace("42507131540380", "42137131540380")
    with pytest.raises(PduError, match="TP-SCTS"):
        decode_pdu(bad)


# ------------------------------------------------------------------ validity


@pytest.mark.parametrize(
    ("minutes", "octet"),
    [(5, 0), (720, 143), (750, 144), (1440, 167), (2880, 168), (43200, 196), (50400, 197),
     (63 * 10080, 255)],
)  # fmt: skip
def test_relative_validity_boundaries(minutes: int, octet: int) -> None:
    assert relative_validity_octet(minutes) == octet
    assert relative_validity_minutes(octet) == minutes


def test_relative_validity_rounds_down_between_steps() -> None:
    assert relative_validity_octet(2000) == 167  # 33h -> 24h
    assert relative_validity_octet(33 * 1440) == 196  # 33 days -> 30 days
    for octet in range(256):
        assert relative_validity_octet(relative_validity_minutes(octet)) == octet


# ------------------------------------------------------------------ addresses and UDH


def test_address_helpers_round_trip() -> None:
    for address in (
        Address("+441234567890", "international"),
        Address("0612345", "national"),
        Address("12*#", "unknown"),
        Address("Ferry", "alphanumeric"),
    ):
        field = encode_address(address)
        assert decode_address(field + b"\x00\x00") == (address, len(field))
    smsc = encode_address(parse_number("+447785016005"), smsc=True)
    assert decode_address(smsc, smsc=True) == (Address("+447785016005", "international"), 8)
    assert decode_address(b"\x00", smsc=True) == (None, 1)


def test_udh_concat_ie_out_of_range_is_ignored() -> None:
    assert decode_udh(bytes.fromhex("0003190300")).concat is None  # seq 0
    assert decode_udh(bytes.fromhex("0003190304")).concat is None  # seq > total
    assert decode_udh(bytes.fromhex("080400190201")).concat == Concat(25, 2, 1, 16)


def test_udh_element_running_past_header_is_rejected() -> None:
    with pytest.raises(ValueError):
        decode_udh(bytes.fromhex("000519"))


# ------------------------------------------------------------------ malformed input


@pytest.mark.parametrize(
    "pdu_hex",
    [
        "",
        "00",  # SMSC field only
        "0004",  # ends in the originating address
        "zz04",
        "0004" + "0B91" + "4421436587",  # address cut short
        "0704",  # SMSC length 7 but nothing follows
        "0C9144214365870921436587090004",  # SMSC longer than 11 octets
        "00041591" + "00" * 20,  # address longer than 20 digits
        "00040491214300004250713154038005" + "E8329BFD",  # UDL 5 septets, 4 octets
        "00040491214300004250713154038001" + "41" + "00",  # trailing octet
        "00040491214300084250713154038003" + "004100",  # odd UCS-2 length
        "00440491214300004250713154038005" + "0500031902",  # UDH longer than UDL
        "004404912143000042507131540380" + "08" + "0A000319020000",  # UDHL overruns
        "00" + "03" + "00" * 10,  # reserved MTI
        "00" * 189,  # longer than any PDU
    ],
)
def test_malformed_pdus_raise_pdu_error_with_raw_hex(pdu_hex: str) -> None:
    with pytest.raises(PduError) as info:
        decode_pdu(pdu_hex)
    assert info.value.pdu == pdu_hex
    assert isinstance(info.value, GsmError)


def test_lenient_mode_decodes_truncated_user_data() -> None:
    truncated = "00040491214300004250713154038005" + "E8329BFD"
    assert deliver(truncated, lenient=True).text == "hell"
    assert deliver(truncated + "0", lenient=True).text == "hell"


def test_lowercase_hex_and_surrounding_whitespace_are_accepted() -> None:
    [pdu] = encode_submit("+34616585119", "hola")
    assert submit(f" {pdu.hex.lower()}\r\n").text == "hola"


def test_compressed_and_reserved_dcs_do_not_lose_data() -> None:
    compressed = deliver("0004" + "04912143" + "0020" + "42507131540380" + "02ABCD")
    assert (compressed.encoding, compressed.data) == ("8bit", b"\xab\xcd")
    reserved = deliver("00040491214300" + "80" + "42507131540380" + "01" + "41")
    assert (reserved.encoding, reserved.text) == ("gsm7", "A")


def test_reprs_never_show_message_text() -> None:
    [pdu] = encode_deliver("+441234567890", "secret code 1234", WHEN)
    assert "secret" not in repr(decode_pdu(pdu.hex))
    [pdu] = encode_submit("+441234567890", "secret code 1234")
    assert "secret" not in repr(decode_pdu(pdu.hex))


# ------------------------------------------------------------------ concatenation


def test_multipart_deliver_udh_and_fill_bits() -> None:
    text = "x" * 153 + "y" * 10
    parts = encode_deliver("+441234567890", text, WHEN, concat_ref=0xAB)
    assert len(parts) == 2
    first = deliver(parts[0].hex)
    assert first.concat == Concat(0xAB, 2, 1)
    assert first.text == "x" * 153
    # first octet 0x44 (UDHI), UDL 160 = 7 header septets + 153, UDH 050003AB0201
    assert parts[0].hex[2:4] == "44"
    assert "A0" + "050003AB0201" in parts[0].hex
    second = deliver(parts[1].hex)
    assert (second.concat, second.text) == (Concat(0xAB, 2, 2), "y" * 10)


def test_multipart_16bit_reference() -> None:
    text = "z" * 300
    parts = encode_submit("+441234567890", text, concat_ref=0x1234, concat_ref_bits=16)
    decoded = [submit(p.hex) for p in parts]
    assert [m.concat for m in decoded] == [Concat(0x1234, 2, 1, 16), Concat(0x1234, 2, 2, 16)]
    assert [len(m.text) for m in decoded] == [152, 148]  # 7-octet UDH leaves 152 septets
    assert "060804123402" in parts[0].hex


def test_multipart_ucs2_never_splits_surrogate_pairs() -> None:
    text = "a" + "😀" * 40  # 81 UTF-16 units
    parts = encode_deliver("+441234567890", text, WHEN, concat_ref=3)
    decoded = [deliver(p.hex) for p in parts]
    assert [m.text for m in decoded] == ["a" + "😀" * 33, "😀" * 7]
    assert "".join(m.text for m in decoded) == text


def test_default_concat_ref_is_deterministic_and_in_range() -> None:
    text = "long " * 50
    a = encode_submit("+441234567890", text)
    b = encode_submit("+441234567890", text)
    assert a == b
    refs = {submit(encode_submit("+441234567890", text + str(i))[0].hex).concat.ref
            for i in range(20)}  # fmt: skip
    assert len(refs) > 10


def test_single_sms_limits() -> None:
    assert segment_text("x" * 160) == ("gsm7", ["x" * 160])
    assert segment_text("€" * 80) == ("gsm7", ["€" * 80])
    assert segment_text("ő" * 70) == ("ucs2", ["ő" * 70])
    assert segment_text("😀" * 35) == ("ucs2", ["😀" * 35])
    assert len(segment_text("😀" * 36)[1]) == 2
    assert segment_text("") == ("gsm7", [""])


def test_escape_pair_never_split() -> None:
    _, parts = segment_text("x" * 152 + "€" + "x" * 10)
    assert parts[0] == "x" * 152
    assert parts[1].startswith("€")


def test_too_many_parts_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode_submit("+441234567890", "x" * (153 * 255 + 1))
    assert len(encode_submit("+441234567890", "x" * (153 * 255))) == 255


def test_empty_text_encodes_to_empty_user_data() -> None:
    [pdu] = encode_submit("+441234567890", "")
    assert pdu.hex.endswith("000000")
    assert submit(pdu.hex).text == ""


@pytest.mark.parametrize(
    ("text", "locking", "single"),
    [
        ("Şişli'de çay içtik, ağabeyim ödedi. " * 8, 1, 0),  # Turkish: 3 parts, not 5
        ("नमस्ते दुनिया, आप कैसे हैं? " * 6, 6, 0),  # Hindi
        ("ş" * 50 + "á" * 50, 1, 2),  # both tables at once
    ],
)
def test_national_language_tables_when_they_save_parts(
    text: str, locking: int, single: int
) -> None:
    pdus = encode_submit("+15550100002", text, concat_ref=9)
    assert len(pdus) == sms.count(text).parts < sms.count(text, national=False).parts
    decoded = [decode_pdu(p.hex) for p in pdus]
    assert {(d.encoding, d.dcs) for d in decoded} == {("gsm7", 0)}
    assert "".join(d.text for d in decoded) == text
    for pdu in pdus:  # every part names its tables: IEI 0x25 locking, 0x24 single
        tpdu = bytes.fromhex(pdu.hex)[1:]  # after the empty SMSC field
        user_data = tpdu[4 + (tpdu[2] + 1) // 2 + 3 :]  # after DA, PID, DCS and UDL
        header = decode_udh(user_data[1 : 1 + user_data[0]])
        assert (header.locking, header.single) == (locking, single)
    deliver = encode_deliver("+15550100002", text, datetime(2024, 5, 17, tzinfo=UTC))
    assert "".join(decode_pdu(p.hex).text for p in deliver) == text
