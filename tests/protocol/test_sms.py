"""SMS segment counting (protocol/sms.py) against the table the web client shares, and
against what the PDU encoder really produces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_bridge.gsm.pdu import encode_submit
from protocol import sms

# Served to the browser tests from tests/web/js/, so it lives there; one file for both.
TABLE = Path(__file__).resolve().parents[1] / "web" / "js" / "sms-segments.json"
CASES: list[dict[str, Any]] = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]


def build(text: str | list[list[Any]]) -> str:
    """A case's text: a string, or ``[piece, times]`` pairs repeated and joined."""
    return text if isinstance(text, str) else "".join(piece * times for piece, times in text)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_table(case: dict[str, Any]) -> None:
    info = sms.count(build(case["text"]), ref_bits=case.get("ref_bits", 8))
    expected = sms.SegmentInfo(
        case["encoding"],
        case["units"],
        case["parts"],
        case["remaining_in_part"],
        case.get("locking", 0),
        case.get("single", 0),
    )
    assert info == expected


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_table_agrees_with_the_encoder(case: dict[str, Any]) -> None:
    pdus = encode_submit(
        "+15550100002", build(case["text"]), concat_ref_bits=case.get("ref_bits", 8)
    )
    assert len(pdus) == case["parts"]


def test_the_table_covers_what_it_promises() -> None:
    texts = [build(c["text"]) for c in CASES]
    lengths = {len(t) for t in texts if set(t) == {"a"}}
    assert {160, 161, 306, 307} <= lengths
    assert any(set("€[]{}~^|\\") <= set(t) for t in texts)
    assert {c["encoding"] for c in CASES} == {"gsm7", "ucs2"}
    assert {c.get("ref_bits", 8) for c in CASES} == {8, 16}
    assert {c.get("locking", 0) for c in CASES} >= {0, 1, 3, 6, 11, 13}
    assert {c.get("single", 0) for c in CASES} >= {0, 2}


def test_alphabet_tables() -> None:
    assert len(sms.GSM7_BASIC) == 128 and sms.GSM7_BASIC[sms.ESC] == "\x1b"
    assert sms.is_gsm7("Ça coûte 5€") is False  # û is not in the table
    assert sms.is_gsm7("Ça coute 5€") is True
    assert sms.is_gsm7("\x1b") is False  # ESC itself is not a character one can send


def test_char_units_and_limits() -> None:
    assert [sms.char_units(ch, "gsm7") for ch in "a€"] == [1, 2]
    assert [sms.char_units(ch, "ucs2") for ch in "a€😀"] == [1, 1, 2]
    assert sms.part_limits("gsm7", 16) == (160, 152)
    assert sms.part_limits("8bit") == (140, 134)
    with pytest.raises(ValueError, match="U\\+00F5"):
        sms.char_units("õ", "gsm7")
    with pytest.raises(ValueError):
        sms.part_limits("gsm7", 12)
    with pytest.raises(ValueError):
        sms.count("x", ref_bits=7)


def test_lone_surrogate_counts_like_the_browser() -> None:
    # A JS string may hold half an emoji; both sides count it as one UTF-16 unit.
    assert sms.count("a\ud83d") == sms.SegmentInfo("ucs2", 2, 1, 68)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700), st.sampled_from([8, 16]))
def test_count_matches_the_encoder(text: str, ref_bits: int) -> None:
    info = sms.count(text, ref_bits=ref_bits)
    pdus = encode_submit("+15550100002", text, concat_ref_bits=ref_bits)
    assert info.parts == len(pdus)
    single, multi = sms.part_limits(info.encoding, ref_bits)
    assert 0 <= info.remaining_in_part <= (single if info.parts == 1 else multi)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("a€ç😀"), max_size=400))
def test_count_matches_the_encoder_near_boundaries(text: str) -> None:
    assert sms.count(text).parts == len(encode_submit("+15550100002", text))
