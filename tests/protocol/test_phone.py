"""Peer addresses as people write them (protocol/phone.py): national and international
numbers become E.164 for the line's country, short codes and sender names stay as they
are, anything else is refused. The table is shared with the browser's To field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.phone import (
    InvalidNumber,
    Peer,
    canonical_peer,
    classify_peer,
    example_spellings,
    line_region,
    participants_key,
    to_e164,
)

# Served to the browser tests from tests/web/js/, so it lives there; one file for both.
TABLE = Path(__file__).resolve().parents[1] / "web" / "js" / "peer-addresses.json"
CASES: list[dict[str, Any]] = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]

UK, US = "+447700900001", "+15550100001"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['line']}:{c['text']!r}" for c in CASES])
def test_shared_table(case: dict[str, Any]) -> None:
    if case["kind"] == "invalid":
        with pytest.raises(InvalidNumber):
            classify_peer(case["text"], case["line"])
    else:
        assert classify_peer(case["text"], case["line"]) == Peer(case["address"], case["kind"])


def test_browser_spelling_of_each_case_means_the_same_peer() -> None:
    """What the browser sends for a case (its digits, tidied) is the same peer."""
    sendable = [c for c in CASES if c["to"] is not None]
    assert len(sendable) >= 15
    for case in sendable:
        assert classify_peer(case["to"], case["line"]).address == case["address"], case


def test_one_person_is_one_thread_key_however_written() -> None:
    spellings = ["07700900123", "07700 900123", "+447700900123", "0044 7700 900123"]
    keys = {participants_key([classify_peer(s, UK).address]) for s in spellings}
    assert keys == {"+447700900123"}


def test_national_number_needs_the_lines_country() -> None:
    with pytest.raises(InvalidNumber, match="country code"):
        classify_peer("07700900123", None)
    # A short code or a name needs no country.
    assert classify_peer("12345", None) == Peer("12345", "short_code")
    assert classify_peer("BANK", None) == Peer("BANK", "name")


def test_canonical_peer_keeps_what_it_cannot_classify() -> None:
    assert canonical_peer("07700 900123", UK) == "+447700900123"
    assert canonical_peer("Deutsche Bank", UK) == "Deutsche Bank"
    assert canonical_peer("BA\nNK", UK) == "BA\nNK"


def test_a_name_cannot_be_replied_to_a_short_code_can() -> None:
    assert not classify_peer("BANK", UK).can_reply
    assert classify_peer("12345", UK).can_reply
    assert classify_peer("07700900123", UK).can_reply


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("BANK\n", None),  # trailing whitespace is trimmed, not refused
        ("BA\nNK", "control"),
        ("BA\u200bNK", "control"),  # zero-width space (format character)
        ("\x00" * 3, "control"),
        ("1" * 41, "at most 40"),
        ("ABCDEFGHIJKL", "at most 11"),  # 12 characters
        ("ABCDEFGHIJ{", "at most 11"),  # '{' takes two septets: 12
        ("Банк", "GSM alphabet"),
        ("   ", "empty"),
    ],
)
def test_refusals_say_why(text: str, why: str | None) -> None:
    if why is None:
        assert classify_peer(text, UK) == Peer("BANK", "name")
        return
    with pytest.raises(InvalidNumber, match=why):
        classify_peer(text, UK)


def test_longest_sender_name_the_standard_allows() -> None:
    assert classify_peer("ABCDEFGHIJK", UK) == Peer("ABCDEFGHIJK", "name")
    assert classify_peer("ABCDEFGHI{", UK) == Peer("ABCDEFGHI{", "name")  # 11 septets


def test_other_scripts_digits_are_digits() -> None:
    full_width = "".join(chr(0xFF10 + int(d)) for d in "07700") + "\u3000" + "\uff19" + "00123"
    assert classify_peer(full_width, UK) == Peer("+447700900123", "number")
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in "12345")
    assert classify_peer(arabic_indic, UK) == Peer("12345", "short_code")


def test_a_few_digits_that_are_a_full_number_in_the_lines_country() -> None:
    # Denmark has 8-digit numbers: on a Danish line they are numbers, elsewhere codes.
    assert classify_peer("32123456", "+4532123456") == Peer("+4532123456", "number")
    assert classify_peer("32123456", UK) == Peer("32123456", "short_code")
    # Known short numbers stay short whatever their length says.
    assert classify_peer("112", "+4930123456") == Peer("112", "short_code")


def test_line_region() -> None:
    assert line_region(UK) == "GB"
    assert line_region(US) == "US"  # a 555-01xx number: not valid, still American
    assert line_region("+4532123456") == "DK"
    for bad in (None, "", "07700900123", "+", "+999", "+" + "1" * 30):
        assert line_region(bad) is None


def test_example_spellings() -> None:
    assert example_spellings(UK) == ("07400 123456", "+44 7400 123456")
    assert example_spellings(None) is None


def test_to_e164_still_wants_a_full_number() -> None:
    assert to_e164("+44 7700 900123") == "+447700900123"
    with pytest.raises(InvalidNumber):
        to_e164("12345")


# ------------------------------------------------------------------- properties

_LINES = [UK, US, "+4532123456", "+4930123456", "+33612345678", "+819012345678", None]
_ADDRESS_CHARS = st.sampled_from("0123456789 +()-./ABCxyz{}é\n\u202e٣")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.text(max_size=45), st.text(_ADDRESS_CHARS, max_size=20)),
    st.sampled_from(_LINES),
)
def test_normalising_is_idempotent(text: str, line: str | None) -> None:
    try:
        peer = classify_peer(text, line)
    except InvalidNumber:
        return
    assert classify_peer(peer.address, line) == peer
    assert peer.address == peer.address.strip() and peer.address
    if peer.kind == "number":
        assert peer.address == to_e164(peer.address)
    elif peer.kind == "short_code":
        assert peer.address.isascii() and peer.address.isdigit()


def _regions_with_mobiles() -> list[str]:
    regions = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is not None and len(phonenumbers.national_significant_number(example)) > 8:
            regions.append(region)
    return regions


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_regions_with_mobiles()), st.sampled_from(_LINES))
def test_stable_spellings_of_one_number(region: str, other_line: str | None) -> None:
    """A country's mobile number, written nationally on a line of that country or
    internationally anywhere, is one and the same E.164 address."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    expected = Peer(e164, "number")
    assert classify_peer(national, e164) == expected  # the line itself is of that country
    assert classify_peer(international, other_line) == expected
    assert classify_peer(e164, other_line) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabc0123456789 .-&"), min_size=1),
    st.sampled_from(_LINES),
)
def test_names_are_kept_as_sent(name: str, line: str | None) -> None:
    name = name.strip()
    if not name or not any(c.isalpha() for c in name):
        return
    if len(name) <= 11:
        assert classify_peer(name, line) == Peer(name, "name")
    else:
        with pytest.raises(InvalidNumber):
            classify_peer(name, line)


def test_a_huge_address_is_refused_before_it_is_cached() -> None:
    """A paired bridge must not make the server keep megabytes: the spelling cache only
    ever sees texts of an address's size."""
    from protocol.phone import _classify

    _classify.cache_clear()
    huge = " " * 1_000_000 + "+15550100002"
    with pytest.raises(InvalidNumber):
        classify_peer(huge, "+15550100001")
    assert _classify.cache_info().currsize == 0
