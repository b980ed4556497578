"""SMS text rules shared by every side: which characters GSM-7 carries, and how many SMS
parts a text takes.

The one place these rules live in Python; ``web_client/js/protocol/sms.js`` follows the
same rules for the compose box, and both are checked against one table of cases
(``tests/web/js/sms-segments.json``).

Rules (3GPP TS 23.038 §6.2.1, TS 23.040 §9.2.3.24):

* A text whose every character is in the GSM 03.38 default alphabet or its extension
  table is sent as GSM-7; any other character makes the whole text UCS-2 (UTF-16, so a
  character outside the BMP — most emoji — costs two 16-bit units).
* Extension characters (``€ [ ] { } ~ ^ | \\`` and form feed) cost two septets: ESC and
  the character.
* One SMS carries 140 octets of user data: 160 septets or 70 UTF-16 units. A longer text
  is cut into parts that each lose room to a concatenation header: 153 septets / 67
  units with an 8-bit reference, 152 / 66 with a 16-bit one.
* A cut never separates an ESC pair or a surrogate pair: such a character moves whole
  into the next part, leaving its last unit of room unused.

Pure: no I/O. Local misuse (a character GSM-7 cannot carry, an unknown encoding) raises
``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ESC",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_PARTS",
    "MAX_USER_DATA",
    "Encoding",
    "SegmentInfo",
    "char_units",
    "count",
    "is_gsm7",
    "part_limits",
    "split",
]

Encoding = Literal["gsm7", "ucs2"]

ESC = 0x1B
MAX_USER_DATA = 140  # octets of TP-UD in one TPDU
MAX_PARTS = 255  # the concatenation IE counts parts in one octet

#: Default alphabet, indexed by septet value (TS 23.038 §6.2.1). Index 0x1B is ESC.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

#: Extension table (§6.2.1.1): septet value after ESC -> character.
GSM7_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_SEPTETS: dict[str, int] = {ch: 1 for i, ch in enumerate(GSM7_BASIC) if i != ESC}
_SEPTETS.update({ch: 2 for ch in GSM7_EXTENSION.values()})


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels as SMS.

    Attributes:
        encoding: ``"gsm7"`` or ``"ucs2"``.
        units: Septets (GSM-7) or UTF-16 units (UCS-2) the whole text costs.
        parts: SMS parts it takes (1 for an empty text).
        remaining_in_part: Units still free in the last part.
    """

    encoding: Encoding
    units: int
    parts: int
    remaining_in_part: int


def is_gsm7(text: str) -> bool:
    """Whether every character of *text* is in the default alphabet or extension table."""
    return all(ch in _SEPTETS for ch in text)


def char_units(ch: str, encoding: str) -> int:
    """Units one character costs: septets in GSM-7 (1, or 2 for the extension table),
    16-bit units in UCS-2 (2 outside the BMP; a lone surrogate counts as one).

    Raises:
        ValueError: *ch* is not in the GSM 7-bit alphabet, or the encoding is unknown.
    """
    if encoding == "ucs2":
        return 2 if ord(ch) > 0xFFFF else 1
    if encoding != "gsm7":
        raise ValueError(f"unknown encoding {encoding!r} (want gsm7 or ucs2)")
    try:
        return _SEPTETS[ch]
    except KeyError:
        raise ValueError(f"character U+{ord(ch):04X} is not in the GSM 7-bit alphabet") from None


def part_limits(encoding: str, ref_bits: int = 8) -> tuple[int, int]:
    """Units (septets, UTF-16 units, or octets for ``"8bit"``) per single SMS and per
    part of a concatenated one.

    Raises:
        ValueError: Unknown encoding, or a reference size other than 8 or 16 bits.
    """
    if ref_bits not in (8, 16):
        raise ValueError("concatenation reference must be 8 or 16 bits")
    room = MAX_USER_DATA - (6 if ref_bits == 8 else 7)  # UDHL + IEI + IEDL + IE data
    if encoding == "gsm7":
        return MAX_USER_DATA * 8 // 7, room * 8 // 7
    if encoding == "ucs2":
        return MAX_USER_DATA // 2, room // 2
    if encoding == "8bit":
        return MAX_USER_DATA, room
    raise ValueError(f"unknown encoding {encoding!r} (want gsm7, ucs2 or 8bit)")


def _cuts(costs: list[int], limit: int) -> tuple[list[int], int]:
    """Start index of every piece when *costs* are packed into pieces of at most *limit*
    units each, and the units used by the last piece."""
    starts, used = [0], 0
    for i, cost in enumerate(costs):
        if used + cost > limit:
            starts.append(i)
            used = 0
        used += cost
    return starts, used


def split(text: str, cost: Callable[[str], int], limit: int) -> list[str]:
    """Cut *text* into pieces costing at most *limit* units each, never inside a character.

    Because *cost* is charged per character, an ESC pair (GSM-7) or a surrogate pair
    (UTF-16) always lands whole in one piece. An empty text gives one empty piece.

    Raises:
        Whatever *cost* raises for a character it rejects.
    """
    starts, _ = _cuts([cost(ch) for ch in text], limit)
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def count(text: str, *, ref_bits: int = 8) -> SegmentInfo:
    """Encoding, size and number of SMS parts of *text*, as a phone would send it.

    Args:
        text: Any text (GSM-7 when it can be, else UCS-2).
        ref_bits: Size of the concatenation reference the parts would carry (8 or 16).

    Raises:
        ValueError: *ref_bits* is not 8 or 16.
    """
    encoding: Encoding = "gsm7" if is_gsm7(text) else "ucs2"
    costs = [char_units(ch, encoding) for ch in text]
    units = sum(costs)
    single, multi = part_limits(encoding, ref_bits)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single - units)
    starts, used = _cuts(costs, multi)
    return SegmentInfo(encoding, units, len(starts), multi - used)
