"""PDU fields shared by the three message types: addresses (TP-OA/DA/RA and the SMSC
field), timestamps (TP-SCTS, TP-DT, absolute TP-VP) and validity periods (TS 23.040
§9.1.2.5, §9.2.3.11-12), plus the octet cursor the decoders read them with.

Pure, like :mod:`device_bridge.gsm.pdu`, which re-exports the public names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from . import gsm7
from .errors import EncodeError, PduError

__all__ = [
    "MAX_ADDRESS_DIGITS",
    "MAX_ALPHANUMERIC",
    "Address",
    "AddressKind",
    "Reader",
    "decode_address",
    "decode_timestamp",
    "encode_address",
    "encode_timestamp",
    "encode_validity",
    "parse_number",
    "read_address",
    "read_smsc",
    "read_timestamp",
    "read_validity",
    "relative_validity_minutes",
    "relative_validity_octet",
    "sender_address",
    "smsc_field",
]

AddressKind = Literal["international", "national", "alphanumeric", "unknown"]

MAX_ADDRESS_DIGITS = 20  # TP address value is at most 10 octets
MAX_ALPHANUMERIC = 11  # septets that fit 10 octets

_VPF_NONE, _VPF_ENHANCED, _VPF_RELATIVE, _VPF_ABSOLUTE = 0, 1, 2, 3
_TOA_INTERNATIONAL, _TOA_NATIONAL, _TOA_UNKNOWN, _TOA_ALPHANUMERIC = 0x91, 0xA1, 0x81, 0xD0
_BCD_DIGITS = "0123456789*#abc"  # semi-octet values 0x0-0xE (TS 23.040 §9.1.2.3); 0xF fills
_NUMBER = re.compile(r"(\+?)([0-9*#]{1,20})")


@dataclass(frozen=True)
class Address:
    """A TP or SMSC address; *number* is ``+E164`` when *kind* is international."""

    number: str
    kind: AddressKind


class Reader:
    """Cursor over PDU octets; running off the end is a :class:`PduError`."""

    def __init__(self, data: bytes, pdu_hex: str) -> None:
        self.data = data
        self.pdu_hex = pdu_hex
        self.pos = 0

    def error(self, message: str) -> PduError:
        return PduError(message, self.pdu_hex)

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise self.error(f"PDU ends inside {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


# --------------------------------------------------------------------------- addresses


def _decode_bcd(raw: bytes, ndigits: int) -> str:
    nibbles = [n for b in raw for n in (b & 0x0F, b >> 4)][:ndigits]
    return "".join(_BCD_DIGITS[n] for n in nibbles if n != 0x0F)


def _encode_bcd(digits: str) -> bytes:
    values = [_BCD_DIGITS.index(d) for d in digits]
    if len(values) % 2:
        values.append(0x0F)
    return bytes(lo | hi << 4 for lo, hi in zip(values[::2], values[1::2], strict=True))


def _address_from(toa: int, raw: bytes, semi_octets: int) -> Address:
    ton = (toa >> 4) & 0x07
    if ton == 5:  # alphanumeric: GSM-7 packed, length counts semi-octets
        name = gsm7.from_septets(gsm7.unpack(raw, semi_octets * 4 // 7))
        return Address(name, "alphanumeric")
    digits = _decode_bcd(raw, semi_octets)
    if ton == 1:
        return Address("+" + digits, "international")
    return Address(digits, "national" if ton == 2 else "unknown")


def decode_address(data: bytes, *, smsc: bool = False) -> tuple[Address | None, int]:
    """Decode a TP address field (or, with *smsc*, an SMSC field) at the start of *data*.

    Args:
        data: Octets starting with the address length octet; trailing octets are ignored.
        smsc: Read an SMSC field (length in octets incl. type) instead of a TP address
            (length in semi-octets).

    Returns:
        The address (``None`` for an empty SMSC field) and the octets consumed.

    Raises:
        PduError: The field is truncated or too long.
    """
    r = Reader(data, data.hex().upper())
    address = read_smsc(r) if smsc else read_address(r)
    return address, r.pos


def read_address(r: Reader) -> Address:
    """A TP address field at the cursor (length in semi-octets).

    Raises:
        PduError: Truncated, or longer than 20 digits.
    """
    semi_octets = r.octet("address length")
    if semi_octets > MAX_ADDRESS_DIGITS:
        raise r.error(f"address length {semi_octets} exceeds {MAX_ADDRESS_DIGITS} semi-octets")
    toa = r.octet("address type")
    return _address_from(toa, r.take((semi_octets + 1) // 2, "address"), semi_octets)


def read_smsc(r: Reader) -> Address | None:
    """An SMSC field at the cursor (length in octets); None when empty.

    Raises:
        PduError: Truncated or too long.
    """
    length = r.octet("SMSC length")
    if length == 0:
        return None
    if length > 1 + MAX_ADDRESS_DIGITS // 2:
        raise r.error(f"SMSC length {length} exceeds {1 + MAX_ADDRESS_DIGITS // 2} octets")
    toa = r.octet("SMSC type")
    return _address_from(toa, r.take(length - 1, "SMSC address"), 2 * (length - 1))


def parse_number(number: str, *, national: bool = False) -> Address:
    """Parse a phone number given by a caller: ``+`` and digits, or digits alone.

    Args:
        number: ``"+441234567890"`` (international) or ``"01234567"``.
        national: Mark numbers without ``+`` as national (type 0xA1) instead of unknown
            (0x81); some networks want it for local numbers.

    Raises:
        EncodeError: Not a number GSM can address.
    """
    match = _NUMBER.fullmatch(number)
    if match is None:
        raise EncodeError("not a valid phone number (want '+' and up to 20 digits)")
    plus, digits = match.groups()
    if plus:
        return Address("+" + digits, "international")
    return Address(digits, "national" if national else "unknown")


def sender_address(sender: str) -> Address:
    """A DELIVER originator: a number, or else an alphanumeric name (e.g. ``"FONIC"``)."""
    if not sender:
        raise EncodeError("sender must not be empty")
    if _NUMBER.fullmatch(sender):
        return parse_number(sender)
    return Address(sender, "alphanumeric")


def encode_address(address: Address, *, smsc: bool = False) -> bytes:
    """Encode *address* as a TP address field, or with *smsc* as an SMSC field.

    Raises:
        EncodeError: An alphanumeric SMSC, or a name too long or not GSM-7.
    """
    if address.kind == "alphanumeric":
        if smsc:
            raise EncodeError("an SMSC address must be a number")
        septets = gsm7.to_septets(address.number)
        if len(septets) > MAX_ALPHANUMERIC:
            raise EncodeError(f"alphanumeric address longer than {MAX_ALPHANUMERIC} septets")
        semi_octets = (len(septets) * 7 + 3) // 4
        return bytes([semi_octets, _TOA_ALPHANUMERIC]) + gsm7.pack(septets)
    digits = address.number.removeprefix("+")
    toa = {"international": _TOA_INTERNATIONAL, "national": _TOA_NATIONAL}.get(
        address.kind, _TOA_UNKNOWN
    )
    bcd = _encode_bcd(digits)
    length = 1 + len(bcd) if smsc else len(digits)
    return bytes([length, toa]) + bcd


def smsc_field(smsc: str | None, national: bool) -> bytes:
    """The SMSC field for *smsc*, or ``00`` (use the modem's own) when None.

    Raises:
        EncodeError: Not a number.
    """
    if smsc is None:
        return b"\x00"
    return encode_address(parse_number(smsc, national=national), smsc=True)


# --------------------------------------------------------------------------- time


def _swapped(b: int) -> int:
    return (b & 0x0F) * 10 + (b >> 4)


def decode_timestamp(raw: bytes) -> datetime:
    """Decode a 7-octet TP-SCTS / TP-DT / absolute TP-VP into an aware datetime.

    Two-digit years 90-99 are 1990s, 00-89 are 2000s (SMS started in 1992).

    Raises:
        ValueError: Not BCD, or not a real date/time/offset.
    """
    if len(raw) != 7 or any(b & 0x0F > 9 or b >> 4 > 9 for b in raw[:6]) or raw[6] >> 4 > 9:
        raise ValueError("timestamp is not 7 octets of semi-octet digits")
    yy, month, day, hour, minute, second = (_swapped(b) for b in raw[:6])
    quarters = (raw[6] & 0x07) * 10 + (raw[6] >> 4)  # bit 3 is the sign
    offset = timedelta(minutes=15 * quarters * (-1 if raw[6] & 0x08 else 1))
    year = 1900 + yy if yy >= 90 else 2000 + yy
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))


def encode_timestamp(when: datetime) -> bytes:
    """Encode an aware datetime as 7 semi-octet octets, keeping its own UTC offset.

    Raises:
        EncodeError: Naive datetime, offset not whole quarter hours, or year outside
            1990-2089.
    """
    offset = when.utcoffset()
    if offset is None:
        raise EncodeError("timestamp must be timezone-aware")
    quarters, rest = divmod(abs(offset), timedelta(minutes=15))
    if rest or quarters > 79:
        raise EncodeError("timestamp offset must be whole quarter hours within ±19:45")
    if not 1990 <= when.year <= 2089:
        raise EncodeError("timestamp year must be within 1990-2089")
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    out = bytes((v % 10) << 4 | v // 10 for v in fields)
    tz = (quarters % 10) << 4 | quarters // 10 | (0x08 if offset < timedelta(0) else 0)
    return out + bytes([tz])


def read_timestamp(r: Reader, what: str) -> datetime:
    """A 7-octet timestamp at the cursor; *what* names the field in errors.

    Raises:
        PduError: Truncated or not a real date.
    """
    try:
        return decode_timestamp(r.take(7, what))
    except ValueError as exc:
        raise r.error(f"invalid {what}: {exc}") from None


def relative_validity_minutes(tp_vp: int) -> int:
    """Minutes meant by a relative TP-VP octet (TS 23.040 §9.2.3.12.1).

    Raises:
        ValueError: *tp_vp* is not an octet.
    """
    if not 0 <= tp_vp <= 255:
        raise ValueError("TP-VP must be an octet")
    if tp_vp <= 143:
        return (tp_vp + 1) * 5
    if tp_vp <= 167:
        return 720 + (tp_vp - 143) * 30
    if tp_vp <= 196:
        return (tp_vp - 166) * 1440
    return (tp_vp - 192) * 10080


def relative_validity_octet(minutes: int) -> int:
    """The relative TP-VP for *minutes*, rounded down to the nearest step.

    Raises:
        EncodeError: Shorter than 5 minutes or longer than 63 weeks.
    """
    if not 5 <= minutes <= 63 * 10080:
        raise EncodeError("relative validity must be between 5 minutes and 63 weeks")
    if minutes <= 720:
        return minutes // 5 - 1
    if minutes < 2 * 1440:
        return 143 + (min(minutes, 1440) - 720) // 30
    if minutes < 35 * 1440:
        return 166 + min(minutes // 1440, 30)
    return 192 + minutes // 10080


# --------------------------------------------------------------------------- validity


def read_validity(r: Reader, vpf: int) -> int | datetime | None:
    """TP-VP in the format TP-VPF names: relative minutes, an absolute time, or None
    (absent, or the enhanced format, which is skipped).

    Raises:
        PduError: The field is truncated or not a valid time.
    """
    if vpf == _VPF_RELATIVE:
        return relative_validity_minutes(r.octet("TP-VP"))
    if vpf == _VPF_ABSOLUTE:
        return read_timestamp(r, "TP-VP")
    if vpf == _VPF_ENHANCED:
        r.take(7, "TP-VP")  # enhanced format is rare; skip it rather than misread it
    return None


def encode_validity(relative: int | None, absolute: datetime | None) -> tuple[int, bytes]:
    """TP-VPF and the TP-VP octets for a relative (minutes) or absolute validity.

    Raises:
        EncodeError: Both given, or either out of range.
    """
    if relative is not None and absolute is not None:
        raise EncodeError("give a relative or an absolute validity, not both")
    if relative is not None:
        return _VPF_RELATIVE, bytes([relative_validity_octet(relative)])
    if absolute is not None:
        return _VPF_ABSOLUTE, encode_timestamp(absolute)
    return _VPF_NONE, b""
