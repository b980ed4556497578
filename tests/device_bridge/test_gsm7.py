"""GSM 03.38 alphabet tables, septet packing and text splitting."""

from __future__ import annotations

import pytest

from device_bridge.gsm import gsm7
from device_bridge.gsm.errors import EncodeError


def test_tables_have_the_standard_shape() -> None:
    assert len(gsm7.BASIC) == 128
    assert len(set(gsm7.BASIC)) == 128
    assert gsm7.BASIC[0x00] == "@"
    assert gsm7.BASIC[0x1B] == "\x1b"
    assert gsm7.BASIC[0x24] == "¤"
    assert gsm7.BASIC[0x7F] == "à"
    assert set(gsm7.EXTENSION.values()) == set("\f^{}\\[~]|€")
    assert not set(gsm7.EXTENSION.values()) & set(gsm7.BASIC)


def test_extension_characters_cost_two_septets() -> None:
    assert gsm7.to_septets("a€") == bytes([0x61, 0x1B, 0x65])
    assert [gsm7.char_septets(ch) for ch in "a€{"] == [1, 2, 2]
    with pytest.raises(EncodeError, match="U\\+00F5"):
        gsm7.char_septets("õ")


def test_escape_oddities_decode_without_loss() -> None:
    # ESC before a value the extension table lacks: the default-alphabet character.
    assert gsm7.from_septets(bytes([0x1B, 0x41])) == "A"
    # ESC ESC (reserved for a further table) and a trailing lone ESC: a space.
    assert gsm7.from_septets(bytes([0x1B, 0x1B, 0x41])) == " A"
    assert gsm7.from_septets(bytes([0x41, 0x1B])) == "A "
    # the eighth bit of an unpacked value is ignored
    assert gsm7.from_septets(bytes([0xC1])) == "A"


def test_transliterate_and_discard_are_opt_in() -> None:
    text = "\N{GREEK CAPITAL LETTER ALPHA}\N{GREEK CAPITAL LETTER BETA}Γ ç"
    with pytest.raises(EncodeError):
        gsm7.to_septets(text)
    assert gsm7.to_septets(text, transliterate=True) == bytes([0x41, 0x42, 0x13, 0x20, 0x09])
    assert gsm7.to_septets("a日b", discard_invalid=True) == b"ab"


def test_pack_with_fill_bits() -> None:
    # one fill bit after a 6-octet UDH: "A" (0x41) lands shifted left by one
    assert gsm7.pack(bytes([0x41]), 1) == bytes([0x82])
    assert gsm7.unpack(bytes([0x82]), 1, 1) == bytes([0x41])
    assert gsm7.pack(b"") == b""
    # eight septets fill exactly seven octets
    assert len(gsm7.pack(bytes(8))) == 7


def test_split_never_cuts_a_character() -> None:
    assert gsm7.split("ab€c", gsm7.char_septets, 3) == ["ab", "€c"]
    assert gsm7.split("a😀b", gsm7.ucs2_units, 2) == ["a", "😀", "b"]
    assert gsm7.split("", gsm7.ucs2_units, 2) == [""]


def test_header_fill() -> None:
    assert gsm7.header_fill(0) == (0, 0)
    assert gsm7.header_fill(6) == (7, 1)  # 8-bit concatenation reference
    assert gsm7.header_fill(7) == (8, 0)  # 16-bit concatenation reference
    assert gsm7.header_fill(12) == (14, 2)


def test_fix_surrogates() -> None:
    assert gsm7.fix_surrogates("a\ud83d\ude00b") == "a😀b"
    assert gsm7.fix_surrogates("a\ud83d") == "a\ufffd"
    assert gsm7.fix_surrogates("\ude00z") == "\ufffdz"
    assert gsm7.fix_surrogates("plain 😀") == "plain 😀"


@pytest.mark.parametrize(
    ("encoding", "ref_bits", "limits"),
    [("gsm7", 8, (160, 153)), ("gsm7", 16, (160, 152)), ("ucs2", 8, (70, 67)),
     ("ucs2", 16, (70, 66)), ("8bit", 8, (140, 134)), ("8bit", 16, (140, 133))],
)  # fmt: skip
def test_part_limits(encoding: str, ref_bits: int, limits: tuple[int, int]) -> None:
    assert gsm7.part_limits(encoding, ref_bits) == limits


def test_part_limits_refuse_unknown_values() -> None:
    with pytest.raises(EncodeError):
        gsm7.part_limits("utf8")
    with pytest.raises(EncodeError):
        gsm7.part_limits("gsm7", 12)


# ---------------------------------------------------------------- national language tables


def test_national_tables_decode_as_ts_23_038_annex_a_says() -> None:
    # Turkish locking shift: 0x1C Ş, 0x1D ş, 0x07 dotless i, 0x60 ç; single 0x47 Ğ, 0x65 €
    assert gsm7.from_septets(bytes([0x1C, 0x1D, 0x07, 0x60]), locking=1) == "Şşıç"
    assert gsm7.from_septets(bytes([0x1B, 0x47, 0x1B, 0x65]), single=1) == "Ğ€"
    # Spanish has no locking table: the default alphabet, with its own single shift
    assert gsm7.from_septets(bytes([0x61, 0x1B, 0x61]), locking=2, single=2) == "aá"
    # Hindi locking: 0x00 candrabindu, 0x15 ka; an ESC the table lacks keeps the letter
    assert gsm7.from_septets(bytes([0x00, 0x15, 0x1B, 0x15]), locking=6, single=6) == (
        "\u0901\u0915\u00a1"  # 0x15 in the Hindi single shift table is ¡
    )
    assert gsm7.from_septets(bytes([0x0C]), locking=4) == "ø"  # undefined in Bengali
    assert gsm7.from_septets(bytes([0x1C]), locking=99) == "Æ"  # unknown language


def test_national_septets_round_trip() -> None:
    text = "Şişli'de çay içtik, ağabeyim €5 ödedi"
    septets = gsm7.to_septets(text, locking=1, single=1)
    assert gsm7.from_septets(septets, locking=1, single=1) == text
    with pytest.raises(EncodeError):
        gsm7.to_septets("ş")  # not in the default alphabet
