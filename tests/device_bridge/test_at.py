"""The pure AT text layer: line reader, result codes, URCs, response parsers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_bridge.gsm import at
from device_bridge.gsm.at import LINE_TOO_LONG, PROMPT, LineReader

# ---------------------------------------------------------------- line reader


def test_lines_split_on_any_line_ending() -> None:
    reader = LineReader()
    assert reader.feed(b"\r\nOK\r\n+CSQ: 20,99\n\rRDY\rSMS DONE\n") == [
        "OK",
        "+CSQ: 20,99",
        "RDY",
        "SMS DONE",
    ]


def test_partial_lines_wait_for_their_ending() -> None:
    reader = LineReader()
    assert reader.feed(b'\r\n+CMTI: "S') == []
    assert reader.feed(b'M",3\r') == ['+CMTI: "SM",3']
    assert reader.feed(b"\n") == []


def test_prompt_is_a_token_without_line_ending() -> None:
    reader = LineReader()
    tokens = reader.feed(b"AT+CMGS=20\r\r\n> ")
    assert tokens == ["AT+CMGS=20", PROMPT]
    assert tokens[1] is PROMPT


def test_bare_prompt_without_space() -> None:
    assert LineReader().feed(b"\r\n>")[0] is PROMPT


def test_echoed_pdu_after_prompt_is_its_own_line() -> None:
    tokens = LineReader().feed(b"\r\n> 0011\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n")
    assert tokens[0] is PROMPT
    assert tokens[1:] == ["0011\x1a", "+CMGS: 7", "OK"]


def test_over_long_line_is_flagged_and_the_rest_kept() -> None:
    reader = LineReader(max_line=16)
    tokens = reader.feed(b"\r\n" + b"A" * 40 + b"\r\nOK\r\n")
    assert tokens == [LINE_TOO_LONG, "OK"]
    assert tokens[0] is LINE_TOO_LONG


def test_over_long_line_split_across_chunks_is_flagged_once() -> None:
    reader = LineReader(max_line=16)
    assert reader.feed(b"0123456789" * 2) == [LINE_TOO_LONG]
    assert reader.feed(b"0123456789" * 2) == []
    assert reader.feed(b'\r\n+CMTI: "SM",1\r\n') == ['+CMTI: "SM",1']


def test_garbage_bytes_do_not_break_decoding() -> None:
    tokens = LineReader().feed(b"\xff\x00~\xfe\r\nOK\r\n")
    assert tokens[-1] == "OK"
    assert len(tokens) == 2


def test_max_line_must_be_sane() -> None:
    with pytest.raises(ValueError):
        LineReader(max_line=1)


_chunks = st.lists(
    st.sampled_from([b"\r", b"\n", b"OK", b'+CMTI: "SM",1', b"> ", b">", b" ", b"A" * 30, b"\xff"]),
    max_size=30,
)


@given(_chunks, st.data())
def test_tokens_do_not_depend_on_chunking(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    whole = LineReader(max_line=64).feed(stream)
    reader = LineReader(max_line=64)
    chunked: list[str] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        chunked += reader.feed(stream[start:end])
    assert chunked == whole
    assert [t is PROMPT for t in chunked] == [t is PROMPT for t in whole]


# ---------------------------------------------------------------- final results


@pytest.mark.parametrize(
    ("line", "ok", "kind", "code"),
    [
        ("OK", True, "OK", None),
        ("ERROR", False, "ERROR", None),
        ("+CMS ERROR: 322", False, "CMS", 322),
        ("+CME ERROR: 11", False, "CME", 11),
        ("+CME ERROR: SIM PIN required", False, "CME", None),
        ("COMMAND NOT SUPPORT", False, "NOT_SUPPORTED", None),
        ("NO CARRIER", False, "NO_CARRIER", None),
    ],
)
def test_final_results(line: str, ok: bool, kind: str, code: int | None) -> None:
    result = at.parse_final(line)
    assert result is not None
    assert (result.ok, result.kind, result.code, result.text) == (ok, kind, code, line)


@pytest.mark.parametrize("line", ["+CMGS: 5", "OKAY", "RDY", '+CMTI: "SM",1', ""])
def test_not_final_results(line: str) -> None:
    assert at.parse_final(line) is None


# ---------------------------------------------------------------- URCs


def test_stored_message_urcs() -> None:
    assert at.parse_urc('+CMTI: "SM",3') == at.UrcHeader("CMTI", "SM", 3)
    assert at.parse_urc('+CMTI: "ME", 12') == at.UrcHeader("CMTI", "ME", 12)
    assert at.parse_urc('+CDSI: "SR",0') == at.UrcHeader("CDSI", "SR", 0)


def test_direct_urcs_announce_a_pdu_line() -> None:
    assert at.parse_urc("+CMT: ,24") == at.UrcHeader("CMT", pdu_follows=True)
    assert at.parse_urc('+CMT: "Mum",24') == at.UrcHeader("CMT", pdu_follows=True)
    assert at.parse_urc("+CDS: 25") == at.UrcHeader("CDS", pdu_follows=True)


@pytest.mark.parametrize(
    "line",
    [
        "RDY",
        "SMS DONE",
        "PB DONE",
        "Call Ready",
        "^RSSI:17",
        "^MODE:5,4",
        "^BOOT:20142538,0,0,0,75",
        "+QIND: SMS DONE",
        "+CPIN: READY",
        "+WIND: 4",
    ],
)
def test_vendor_noise(line: str) -> None:
    assert at.is_noise(line)
    assert at.parse_urc(line) is None


@pytest.mark.parametrize("line", ['+CMTI: "SM",3', "+CMGL: 1,0,,23", "OK", "0791"])
def test_not_noise(line: str) -> None:
    assert not at.is_noise(line)


# ---------------------------------------------------------------- responses


def test_cmgl_pairs_headers_with_pdus() -> None:
    lines = ["+CMGL: 1,0,,23", "07911326", '+CMGL: 4,1,"Mum",5', "0011"]
    assert at.parse_cmgl(lines) == [
        at.CmglEntry(1, 0, 23, "07911326"),
        at.CmglEntry(4, 1, 5, "0011"),
    ]


def test_cmgl_header_without_pdu_keeps_the_slot() -> None:
    assert at.parse_cmgl(["+CMGL: 2,0,,23", "+CMGL: 3,0,,5", "00"]) == [
        at.CmglEntry(2, 0, 23, ""),
        at.CmglEntry(3, 0, 5, "00"),
    ]


def test_cmgr() -> None:
    assert at.parse_cmgr(["+CMGR: 0,,23", "0791"]) == at.CmgrEntry(0, 23, "0791")
    assert at.parse_cmgr([]) is None
    assert at.parse_cmgr(["+CMGR: 0,,0"]) is None


def test_empty_stat_is_a_message_not_an_empty_slot() -> None:
    # Seen from real modems: <stat> left empty. The message must still be read.
    assert at.parse_cmgr(["+CMGR: ,,92", "0791AB"]) == at.CmgrEntry(None, 92, "0791AB")
    assert at.parse_cmgl(["+CMGL: 3,,,92", "0791AB", "+CMGL: 4, ,,5", "0011"]) == [
        at.CmglEntry(3, None, 92, "0791AB"),
        at.CmglEntry(4, None, 5, "0011"),
    ]
    assert at.parse_cmgl(["+CMGL: 3,x,,92", "0791AB"]) == []  # garbage is still refused


def test_stray_quote_after_the_pdu_is_dropped() -> None:
    assert at.parse_cmgr(["+CMGR: 1,,5", '0011"']) == at.CmgrEntry(1, 5, "0011")
    assert at.parse_cmgl(["+CMGL: 1,1,,5", '"0011"']) == [at.CmglEntry(1, 1, 5, "0011")]


def test_cmgs_reference() -> None:
    assert at.parse_cmgs(["+CMGS: 17"]) == 17
    assert at.parse_cmgs(['+CMGS: 18,"0011"']) == 18
    assert at.parse_cmgs([]) is None


@pytest.mark.parametrize(("rssi", "dbm"), [(0, -113), (20, -73), (31, -51), (99, None)])
def test_csq(rssi: int, dbm: int | None) -> None:
    assert at.parse_csq([f"+CSQ: {rssi},99"]) == dbm


def test_cops() -> None:
    assert at.parse_cops(['+COPS: 0,0,"T-Mobile DE",7']) == "T-Mobile DE"
    assert at.parse_cops(["+COPS: 0"]) is None


def test_cnum() -> None:
    assert at.parse_cnum(['+CNUM: "","+15550100001",145']) == "+15550100001"
    assert at.parse_cnum(['+CNUM: "Me","15550100001",145']) == "+15550100001"
    assert at.parse_cnum(['+CNUM: "","",129']) is None


def test_cpms_support() -> None:
    support = at.parse_cpms_support(['+CPMS: ("SM","ME","SR"),("SM","ME"),("SM")'])
    assert support == at.CpmsSupport(("SM", "ME", "SR"), ("SM", "ME"), ("SM",))
    assert at.parse_cpms_support(['+CPMS: ("ME")']) == at.CpmsSupport(("ME",), ("ME",), ("ME",))


def test_split_params_respects_quotes_and_brackets() -> None:
    assert at.split_params('1,"a,b",(2,3),') == ["1", '"a,b"', "(2,3)", ""]


def test_redact_hides_the_pin() -> None:
    assert at.redact('AT+CPIN="1234"') == "AT+CPIN=<redacted>"
    assert at.redact("AT+CMGR=3") == "AT+CMGR=3"


def test_response_prefix() -> None:
    assert at.response_prefix("AT+CMGL=4") == "+CMGL:"
    assert at.response_prefix("AT+CPIN?") == "+CPIN:"
    assert at.response_prefix("ATE0") is None
