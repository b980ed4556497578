"""GSM 03.38 text coding: the 7-bit default alphabet, septet packing, and cutting text
into the pieces that fit one SMS part.

The default alphabet (3GPP TS 23.038 §6.2.1) maps 128 septet values to characters; the
value ``0x1B`` (ESC) announces that the next septet comes from the extension table
(§6.2.1.1), so ``€``, ``[``, ``{`` … cost two septets. Septets are packed LSB first into
octets (§6.1.2.1.1), optionally after some fill bits so that they start on a septet
boundary after a user-data header.

UCS-2 text is carried as UTF-16-BE (what every current handset sends), so characters
outside the BMP take two 16-bit units; a split never separates a surrogate pair, just as a
GSM-7 split never separates ESC from the character it escapes.

The alphabet tables and the counting rules (which encoding, how many units, where parts
are cut) are shared with the server and the web client and live in :mod:`protocol.sms`;
this module adds the codec (septet values, packing) and the forced encodings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from protocol import sms
from protocol.sms import ESC, MAX_PARTS, MAX_USER_DATA, is_gsm7, split

from .errors import EncodeError

__all__ = [
    "BASIC",
    "ESC",
    "EXTENSION",
    "MAX_PARTS",
    "MAX_USER_DATA",
    "TRANSLITERATE",
    "Encoding",
    "TextPlan",
    "char_septets",
    "fix_surrogates",
    "from_septets",
    "header_fill",
    "is_gsm7",
    "pack",
    "part_limits",
    "plan_text",
    "segment_text",
    "split",
    "to_septets",
    "ucs2_units",
    "unpack",
]

Encoding = Literal["gsm7", "ucs2", "8bit"]

#: The GSM 03.38 tables live with the other shared SMS text rules in ``protocol.sms``.
BASIC = sms.GSM7_BASIC
EXTENSION = sms.GSM7_EXTENSION

#: One-way replacements used only when asked to transliterate: Greek capitals that look
#: like Latin ones (named, since they are indistinguishable on screen), and ``ç`` (the
#: table only has ``Ç``).
TRANSLITERATE = {
    "\N{GREEK CAPITAL LETTER ALPHA}": "A",
    "\N{GREEK CAPITAL LETTER BETA}": "B",
    "\N{GREEK CAPITAL LETTER EPSILON}": "E",
    "\N{GREEK CAPITAL LETTER ETA}": "H",
    "\N{GREEK CAPITAL LETTER IOTA}": "I",
    "\N{GREEK CAPITAL LETTER KAPPA}": "K",
    "\N{GREEK CAPITAL LETTER MU}": "M",
    "\N{GREEK CAPITAL LETTER NU}": "N",
    "\N{GREEK CAPITAL LETTER OMICRON}": "O",
    "\N{GREEK CAPITAL LETTER RHO}": "P",
    "\N{GREEK CAPITAL LETTER TAU}": "T",
    "\N{GREEK CAPITAL LETTER CHI}": "X",
    "\N{GREEK CAPITAL LETTER UPSILON}": "Y",
    "\N{GREEK CAPITAL LETTER ZETA}": "Z",
    "ç": "Ç",
}


@cache
def _encoder(locking: int, single: int) -> dict[str, bytes]:
    """Character -> septets with these national tables (0, 0: the default alphabet)."""
    table = {ch: bytes([ESC, code]) for code, ch in sms.single_shift_table(single).items()}
    table.update({ch: bytes([code]) for code, ch in sms.locking_table(locking).items()})
    return table


def char_septets(ch: str) -> int:
    """Septets one character costs in GSM-7 (1, or 2 for the extension table).

    Raises:
        EncodeError: *ch* is not in the GSM 7-bit alphabet.
    """
    try:
        return sms.char_units(ch, "gsm7")
    except ValueError as exc:
        raise EncodeError(str(exc)) from None


def fix_surrogates(text: str) -> str:
    """Join surrogate pairs into characters and replace lone surrogates with U+FFFD."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


def ucs2_units(ch: str) -> int:
    """16-bit units one character costs in UTF-16 (2 for characters outside the BMP).

    Raises:
        EncodeError: *ch* is a lone surrogate, which UTF-16 cannot carry.
    """
    if 0xD800 <= ord(ch) <= 0xDFFF:
        raise EncodeError(f"lone surrogate U+{ord(ch):04X} cannot be sent")
    return sms.char_units(ch, "ucs2")


def header_fill(header_octets: int) -> tuple[int, int]:
    """Septets taken by a user-data header of *header_octets* (UDHL included), and the
    fill bits after it that start the text on a septet boundary (TS 23.040 §9.2.3.24)."""
    septets = (header_octets * 8 + 6) // 7
    return septets, septets * 7 - header_octets * 8


def to_septets(
    text: str,
    *,
    transliterate: bool = False,
    discard_invalid: bool = False,
    locking: int = 0,
    single: int = 0,
) -> bytes:
    """Encode *text* as unpacked septets, one per byte, ESC pairs for the extension table.

    Args:
        text: The text to encode.
        transliterate: Replace look-alike characters (:data:`TRANSLITERATE`) first.
        discard_invalid: Leave out characters that have no GSM-7 code instead of failing.
        locking: National language whose locking shift table replaces the default alphabet.
        single: National language whose single shift table replaces the extension table.

    Raises:
        EncodeError: A character has no GSM-7 code and *discard_invalid* is false.
    """
    encode = _encoder(locking, single)
    out = bytearray()
    for original in text:
        ch = TRANSLITERATE.get(original, original) if transliterate else original
        code = encode.get(ch)
        if code is not None:
            out += code
        elif not discard_invalid:
            raise EncodeError(f"character U+{ord(ch):04X} is not in the GSM 7-bit alphabet")
    return bytes(out)


def from_septets(septets: bytes, *, locking: int = 0, single: int = 0) -> str:
    """Decode unpacked septets to text, with the national tables the header named.

    Follows TS 23.038 for odd input instead of failing, so no received text is lost: an
    ESC before a value the shift table lacks yields the character of the alphabet in use,
    a value the national locking table leaves undefined the default alphabet's, and ESC
    ESC or a trailing lone ESC yields a space.
    """
    basic = sms.locking_table(locking)
    shifted = sms.single_shift_table(single)
    out: list[str] = []
    escaped = False
    for value in septets:
        value &= 0x7F
        plain = basic.get(value) or BASIC[value]
        if escaped:
            escaped = False
            out.append(" " if value == ESC else shifted.get(value, plain))
        elif value == ESC:
            escaped = True
        else:
            out.append(plain)
    if escaped:
        out.append(" ")
    return "".join(out)


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets LSB first into octets, after *fill_bits* zero bits (0..6)."""
    if not septets:
        return b""
    bits = 0
    for i, value in enumerate(septets):
        bits |= (value & 0x7F) << (fill_bits + 7 * i)
    nbits = fill_bits + 7 * len(septets)
    return bits.to_bytes((nbits + 7) // 8, "little")


def unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack *count* septets from *data*, skipping *fill_bits* leading bits.

    The caller checks that *data* holds enough bits; missing bits read as zero.
    """
    bits = int.from_bytes(data, "little") >> fill_bits
    return bytes((bits >> (7 * i)) & 0x7F for i in range(count))


_ENCODINGS: dict[str, Encoding] = {"gsm7": "gsm7", "ucs2": "ucs2", "8bit": "8bit"}


def _choose(text: str, encoding: str | None) -> Encoding:
    if encoding is None:
        return "gsm7" if is_gsm7(text) else "ucs2"
    try:
        return _ENCODINGS[encoding]
    except KeyError:
        raise EncodeError(f"unknown encoding {encoding!r} (want gsm7, ucs2 or 8bit)") from None


def _cost(encoding: str) -> Callable[[str], int]:
    if encoding == "gsm7":
        return char_septets
    if encoding == "ucs2":
        return ucs2_units
    if encoding == "8bit":
        return _latin1_octet
    raise EncodeError(f"unknown encoding {encoding!r} (want gsm7, ucs2 or 8bit)")


def _latin1_octet(ch: str) -> int:
    if ord(ch) > 0xFF:
        raise EncodeError(f"character U+{ord(ch):04X} does not fit 8-bit data (Latin-1)")
    return 1


def part_limits(encoding: str, ref_bits: int = 8) -> tuple[int, int]:
    """Units (septets, UTF-16 units or octets) per single SMS and per concatenated part
    (see :func:`protocol.sms.part_limits`).

    Raises:
        EncodeError: Unknown encoding or reference size.
    """
    try:
        return sms.part_limits(encoding, ref_bits)
    except ValueError as exc:
        raise EncodeError(str(exc)) from None


@dataclass(frozen=True)
class TextPlan:
    """How a text is sent: encoding, the texts of its parts, and the national language
    tables (0: none) every part's header names."""

    encoding: Encoding
    parts: list[str]
    locking: int = 0
    single: int = 0


def plan_text(text: str, *, encoding: str | None = None, ref_bits: int = 8) -> TextPlan:
    """Like :func:`segment_text`, but a text that is not plain GSM-7 goes as GSM-7 with
    national language tables when they take fewer parts than UCS-2
    (:func:`protocol.sms.count` chooses; the parts agree with its count).

    Raises:
        EncodeError: As :func:`segment_text`.
    """
    if encoding is not None or is_gsm7(text):
        return TextPlan(*segment_text(text, encoding=encoding, ref_bits=ref_bits))
    info = sms.count(text, ref_bits=ref_bits)
    if info.encoding != "gsm7":
        return TextPlan(*segment_text(text, encoding="ucs2", ref_bits=ref_bits))
    if info.parts > MAX_PARTS:
        raise EncodeError(f"text needs {info.parts} parts; at most {MAX_PARTS} are possible")
    costs = sms.national_costs(info.locking, info.single)
    tables = (info.locking > 0) + (info.single > 0)
    _, multi = sms.part_limits("gsm7", ref_bits, tables)
    parts = [text] if info.parts == 1 else split(text, costs.__getitem__, multi)
    return TextPlan("gsm7", parts, info.locking, info.single)


def segment_text(
    text: str, *, encoding: str | None = None, ref_bits: int = 8
) -> tuple[Encoding, list[str]]:
    """Choose the encoding for *text* and cut it into the texts of its SMS parts.

    GSM-7 when every character is in the default alphabet or extension table, else UCS-2.
    Up to 160 septets / 70 UTF-16 units fit one SMS; longer text is cut into parts of
    153 / 67 (152 / 66 with a 16-bit reference), never inside an ESC pair or a surrogate
    pair.

    Args:
        text: The message text.
        encoding: Force ``"gsm7"``, ``"ucs2"`` or ``"8bit"`` (Latin-1 octets).
        ref_bits: Size of the concatenation reference the parts will carry.

    Raises:
        EncodeError: The forced encoding cannot carry the text, or it needs more than 255
            parts.
    """
    chosen = _choose(text, encoding)
    cost = _cost(chosen)
    single, multi = part_limits(chosen, ref_bits)
    if sum(cost(ch) for ch in text) <= single:
        return chosen, [text]
    parts = split(text, cost, multi)
    if len(parts) > MAX_PARTS:
        raise EncodeError(f"text needs {len(parts)} parts; at most {MAX_PARTS} are possible")
    return chosen, parts
