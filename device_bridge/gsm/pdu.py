"""SMS PDU codec: SMS-DELIVER, SMS-SUBMIT and SMS-STATUS-REPORT (3GPP TS 23.040 / 23.038).

Pure: bytes in, typed immutable messages out, and back. No I/O and no clock reads; every
time value is passed in as an aware :class:`~datetime.datetime`.

A PDU as handed over by ``AT+CMGR``/``+CMT`` in PDU mode is hex text: an optional SMSC
field (length octet, ``00`` when absent) followed by the TPDU. The TPDU's first octet holds
TP-MTI (which of the three message types follows) and the flags; the user data is GSM-7
(packed septets), UCS-2 (UTF-16-BE here, so emoji work) or 8-bit data, optionally after a
user-data header (UDH) that carries the concatenation reference of a multi-part message.

Decoding validates and raises :class:`PduError` for anything malformed; encoding raises
:class:`EncodeError` for anything GSM cannot carry. Addresses, timestamps and validity
periods live in :mod:`device_bridge.gsm.fields` (their public names are re-exported
here); multi-part reassembly lives in :mod:`device_bridge.gsm.concat`.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from . import gsm7
from .errors import EncodeError, PduError
from .fields import (
    MAX_ADDRESS_DIGITS,
    MAX_ALPHANUMERIC,
    Address,
    AddressKind,
    Reader,
    decode_address,
    decode_timestamp,
    encode_address,
    encode_timestamp,
    encode_validity,
    parse_number,
    read_address,
    read_smsc,
    read_timestamp,
    read_validity,
    relative_validity_minutes,
    relative_validity_octet,
    sender_address,
    smsc_field,
)
from .gsm7 import MAX_USER_DATA, Encoding, TextPlan, part_limits, plan_text, segment_text

__all__ = [
    "MAX_ADDRESS_DIGITS",
    "MAX_ALPHANUMERIC",
    "Address",
    "AddressKind",
    "Concat",
    "Deliver",
    "EncodedPdu",
    "Encoding",
    "StatusReport",
    "Submit",
    "UserDataHeader",
    "decode_address",
    "decode_pdu",
    "decode_timestamp",
    "decode_udh",
    "encode_address",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "encode_timestamp",
    "parse_number",
    "part_limits",
    "relative_validity_minutes",
    "relative_validity_octet",
    "segment_text",
]

Outcome = Literal["delivered", "temporary_trying", "permanent_failure", "temporary_stopped"]

MAX_PDU_HEX = 2 * (12 + 176)  # SMSC field + a generous TPDU bound (164 for SUBMIT); a limit

_MTI_DELIVER, _MTI_SUBMIT, _MTI_STATUS_REPORT = 0, 1, 2
_UDHI, _SRR, _RD, _MMS = 0x40, 0x20, 0x04, 0x04
_IEI_CONCAT8, _IEI_CONCAT16, _IEI_PORT8, _IEI_PORT16 = 0x00, 0x08, 0x04, 0x05
_IEI_SINGLE_SHIFT, _IEI_LOCKING_SHIFT = 0x24, 0x25  # national language tables
_DCS_ALPHABET = {"gsm7": 0x00, "8bit": 0x04, "ucs2": 0x08}
_HEX = re.compile(r"[0-9A-Fa-f]{2,}")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Concat:
    """Concatenation information element: part *seq* of *total*, all sharing *ref*."""

    ref: int
    total: int
    seq: int
    ref_bits: int = 8


@dataclass(frozen=True)
class UserDataHeader:
    """What we understand of a UDH; every element is also kept raw in *elements*.

    *locking* and *single* are the national languages (TS 23.038 §6.2.1.2.4) whose shift
    tables the GSM-7 text uses; 0 when the header names none.
    """

    concat: Concat | None = None
    ports: tuple[int, int] | None = None  # (destination, originator) application ports
    elements: tuple[tuple[int, bytes], ...] = ()
    locking: int = 0
    single: int = 0


@dataclass(frozen=True)
class Deliver:
    """An SMS-DELIVER: a message received by the phone.

    For 8-bit data, *data* holds the octets and *text* the same octets read as Latin-1,
    so nothing is lost. *incomplete* is set by the reassembler when parts never came.
    """

    smsc: str | None
    sender: str
    sender_kind: AddressKind
    text: str = field(repr=False)  # message bodies never reach logs via repr()
    encoding: Encoding
    timestamp: datetime
    pid: int = 0
    dcs: int = 0
    concat: Concat | None = None
    data: bytes | None = field(default=None, repr=False)
    status_report_requested: bool = False
    incomplete: bool = False


@dataclass(frozen=True)
class Submit:
    """An SMS-SUBMIT: a message sent by the phone (as stored, or as we built it).

    *validity* is relative minutes (``int``), an absolute aware ``datetime``, or ``None``
    (absent, or the rarely used enhanced format).
    """

    smsc: str | None
    recipient: str
    text: str = field(repr=False)
    encoding: Encoding
    message_reference: int
    concat: Concat | None = None
    request_status_report: bool = False
    validity: int | datetime | None = None
    data: bytes | None = field(default=None, repr=False)
    recipient_kind: AddressKind = "unknown"
    pid: int = 0
    dcs: int = 0
    reject_duplicates: bool = False


@dataclass(frozen=True)
class StatusReport:
    """An SMS-STATUS-REPORT about the message we sent with *message_reference*."""

    smsc: str | None
    message_reference: int
    recipient: str
    timestamp: datetime  # when the SC received our SMS-SUBMIT
    discharge_time: datetime  # when the SC delivered it, or last tried
    status: int  # TP-ST
    recipient_kind: AddressKind = "unknown"

    @property
    def outcome(self) -> Outcome:
        """TP-ST class (TS 23.040 §9.2.3.15). Reserved values (bit 7 set) count as a
        permanent failure: never claim delivery we cannot read, never wait forever."""
        if self.status >= 0x80:
            return "permanent_failure"
        return _OUTCOMES[self.status >> 5]


_OUTCOMES: tuple[Outcome, ...] = (
    "delivered",  # 0x00-0x1F transaction completed
    "temporary_trying",  # 0x20-0x3F temporary error, SC still trying
    "permanent_failure",  # 0x40-0x5F permanent error, SC not trying
    "temporary_stopped",  # 0x60-0x7F temporary error, SC stopped trying
)


@dataclass(frozen=True)
class EncodedPdu:
    """One encoded PDU: upper-case hex incl. the SMSC field, and the TPDU length in
    octets (the number ``AT+CMGS=`` wants)."""

    hex: str
    tpdu_length: int


# --------------------------------------------------------------------------- reading
#
# Addresses, timestamps and validity periods: see :mod:`device_bridge.gsm.fields`.


def _parse_hex(pdu_hex: str, lenient: bool) -> bytes:
    text = pdu_hex.strip()
    if len(text) > MAX_PDU_HEX:
        raise PduError(f"PDU longer than {MAX_PDU_HEX} hex digits", pdu_hex)
    if not _HEX.fullmatch(text):
        raise PduError("PDU is not a hex string", pdu_hex)
    if len(text) % 2:
        if not lenient:
            raise PduError("PDU has an odd number of hex digits", pdu_hex)
        text = text[:-1]  # a dangling nibble carries no complete octet
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- user data


def decode_udh(udh: bytes) -> UserDataHeader:
    """Parse UDH information elements (without the UDHL octet).

    A concatenation IE with a zero count or a sequence outside 1..count is ignored, as
    TS 23.040 §9.2.3.24.1 asks; when an IE repeats, the last one wins.

    Raises:
        ValueError: An element runs past the end of the header.
    """
    concat, ports, elements, pos = None, None, [], 0
    shifts = {_IEI_LOCKING_SHIFT: 0, _IEI_SINGLE_SHIFT: 0}
    while pos < len(udh):
        if pos + 2 > len(udh) or pos + 2 + udh[pos + 1] > len(udh):
            raise ValueError("user data header element runs past the header")
        iei, body = udh[pos], udh[pos + 2 : pos + 2 + udh[pos + 1]]
        pos += 2 + len(body)
        elements.append((iei, body))
        if (iei, len(body)) == (_IEI_CONCAT8, 3):
            concat = _concat_ie(body[0], body[1], body[2], 8)
        elif (iei, len(body)) == (_IEI_CONCAT16, 4):
            concat = _concat_ie(int.from_bytes(body[:2], "big"), body[2], body[3], 16)
        elif (iei, len(body)) == (_IEI_PORT8, 2):
            ports = (body[0], body[1])
        elif (iei, len(body)) == (_IEI_PORT16, 4):
            ports = (int.from_bytes(body[:2], "big"), int.from_bytes(body[2:], "big"))
        elif iei in shifts and len(body) == 1:
            shifts[iei] = body[0]
    return UserDataHeader(
        concat, ports, tuple(elements), shifts[_IEI_LOCKING_SHIFT], shifts[_IEI_SINGLE_SHIFT]
    )


def _concat_ie(ref: int, total: int, seq: int, bits: int) -> Concat | None:
    return Concat(ref, total, seq, bits) if 1 <= seq <= total else None


def _alphabet(dcs: int) -> Encoding:
    """Alphabet of a TP-DCS (TS 23.038 §4); reserved codings read as GSM-7, as §4 asks."""
    group = dcs >> 4
    if group <= 0x7:
        if dcs & 0x20:
            return "8bit"  # compressed: we cannot decompress, so keep the raw octets
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if group == 0xE:
        return "ucs2"
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # 0x8-0xB reserved, 0xC/0xD message waiting (GSM-7)


@dataclass(frozen=True)
class _UserData:
    encoding: Encoding
    text: str
    data: bytes | None
    header: UserDataHeader


def _read_user_data(r: Reader, first: int, dcs: int, lenient: bool) -> _UserData:
    udl = r.octet("TP-UDL")
    encoding = _alphabet(dcs)
    size = (udl * 7 + 7) // 8 if encoding == "gsm7" else udl
    ud = r.rest()
    if not lenient and (size > MAX_USER_DATA or len(ud) != size):
        raise r.error(f"TP-UDL {udl} does not match {len(ud)} octets of user data")
    ud = ud[:size]
    header, hlen = UserDataHeader(), 0
    if first & _UDHI:
        if not ud or 1 + ud[0] > len(ud):
            raise r.error("user data header runs past the user data")
        hlen = 1 + ud[0]
        try:
            header = decode_udh(ud[1:hlen])
        except ValueError as exc:
            raise r.error(str(exc)) from None
    body = ud[hlen:]
    if encoding == "gsm7":
        text = _gsm7_body(r, body, udl, hlen, lenient, header)
        return _UserData(encoding, text, None, header)
    if encoding == "ucs2":
        return _UserData(encoding, _ucs2_body(r, body, header, lenient), None, header)
    return _UserData(encoding, body.decode("latin-1"), body, header)


def _gsm7_body(
    r: Reader, body: bytes, udl: int, hlen: int, lenient: bool, header: UserDataHeader
) -> str:
    header_septets, fill = gsm7.header_fill(hlen)
    count = udl - header_septets
    if count < 0:
        raise r.error("user data header is longer than TP-UDL")
    if lenient:  # a truncated PDU yields the septets that are really there
        count = min(count, (len(body) * 8 - fill) // 7)
    septets = gsm7.unpack(body, count, fill)
    return gsm7.from_septets(septets, locking=header.locking, single=header.single)


def _ucs2_body(r: Reader, body: bytes, header: UserDataHeader, lenient: bool) -> str:
    if len(body) % 2:
        if not lenient:
            raise r.error("UCS-2 user data has an odd number of octets")
        body = body[:-1]
    text = body.decode("utf-16-be", "surrogatepass")
    # A lone surrogate in one part of a multi-part message is half an emoji whose other
    # half is in the next part: keep it for the reassembler, which rejoins the pair.
    multipart = header.concat is not None and header.concat.total > 1
    return text if multipart else gsm7.fix_surrogates(text)


# --------------------------------------------------------------------------- decoding


def decode_pdu(
    pdu_hex: str, *, has_smsc: bool = True, lenient: bool = False
) -> Deliver | Submit | StatusReport:
    """Decode a PDU in hex as given by the modem.

    Args:
        pdu_hex: The PDU, hex digits (either case).
        has_smsc: The PDU starts with the SMSC field (``+CMGR``/``+CMT`` PDU mode does;
            some modems' ``+CMGL`` or a raw TPDU does not).
        lenient: Accept a dangling hex digit, a TP-UDL longer than the data, and trailing
            octets, decoding what is there (for sloppy modems). Default is strict.

    Raises:
        PduError: Not hex, truncated, inconsistent, or a reserved message type.
    """
    r = Reader(_parse_hex(pdu_hex, lenient), pdu_hex)
    smsc_address = read_smsc(r) if has_smsc else None
    smsc = smsc_address.number if smsc_address else None
    first = r.octet("first octet")
    mti = first & 0x03
    if mti == _MTI_DELIVER:
        return _decode_deliver(r, first, smsc, lenient)
    if mti == _MTI_SUBMIT:
        return _decode_submit(r, first, smsc, lenient)
    if mti == _MTI_STATUS_REPORT:
        return _decode_status_report(r, smsc)
    raise r.error("reserved TP-MTI 3")


def _decode_deliver(r: Reader, first: int, smsc: str | None, lenient: bool) -> Deliver:
    sender = read_address(r)
    pid, dcs = r.octet("TP-PID"), r.octet("TP-DCS")
    timestamp = read_timestamp(r, "TP-SCTS")
    ud = _read_user_data(r, first, dcs, lenient)
    return Deliver(
        smsc=smsc,
        sender=sender.number,
        sender_kind=sender.kind,
        text=ud.text,
        encoding=ud.encoding,
        timestamp=timestamp,
        pid=pid,
        dcs=dcs,
        concat=ud.header.concat,
        data=ud.data,
        status_report_requested=bool(first & _SRR),
    )


def _decode_submit(r: Reader, first: int, smsc: str | None, lenient: bool) -> Submit:
    reference = r.octet("TP-MR")
    recipient = read_address(r)
    pid, dcs = r.octet("TP-PID"), r.octet("TP-DCS")
    validity = read_validity(r, (first >> 3) & 0x03)
    ud = _read_user_data(r, first, dcs, lenient)
    return Submit(
        smsc=smsc,
        recipient=recipient.number,
        text=ud.text,
        encoding=ud.encoding,
        message_reference=reference,
        concat=ud.header.concat,
        request_status_report=bool(first & _SRR),
        validity=validity,
        data=ud.data,
        recipient_kind=recipient.kind,
        pid=pid,
        dcs=dcs,
        reject_duplicates=bool(first & _RD),
    )


def _decode_status_report(r: Reader, smsc: str | None) -> StatusReport:
    reference = r.octet("TP-MR")
    recipient = read_address(r)
    timestamp = read_timestamp(r, "TP-SCTS")
    discharge = read_timestamp(r, "TP-DT")
    status = r.octet("TP-ST")
    # Optional TP-PI/PID/DCS/UD may follow; nothing in them matters to us.
    return StatusReport(
        smsc=smsc,
        message_reference=reference,
        recipient=recipient.number,
        timestamp=timestamp,
        discharge_time=discharge,
        status=status,
        recipient_kind=recipient.kind,
    )


# --------------------------------------------------------------------------- encoding helpers


def _concat_udh(ref: int, total: int, seq: int, ref_bits: int) -> bytes:
    if ref_bits == 8:
        return bytes([_IEI_CONCAT8, 3, ref, total, seq])
    return bytes([_IEI_CONCAT16, 4, ref >> 8, ref & 0xFF, total, seq])


def _user_data(text: str, plan: TextPlan, udh: bytes) -> bytes:
    """TP-UDL and TP-UD for one part (UDH given without its UDHL octet)."""
    header = bytes([len(udh)]) + udh if udh else b""
    encoding = plan.encoding
    if encoding == "gsm7":
        septets = gsm7.to_septets(text, locking=plan.locking, single=plan.single)
        header_septets, fill = gsm7.header_fill(len(header))
        udl = header_septets + len(septets)
        ud = (header + gsm7.pack(septets, fill)).ljust((udl * 7 + 7) // 8, b"\x00")
    else:
        ud = header + (text.encode("utf-16-be") if encoding == "ucs2" else text.encode("latin-1"))
        udl = len(ud)
    return bytes([udl]) + ud


def _default_ref(key: str, ref_bits: int) -> int:
    # Deterministic but varied, so two long messages to one peer rarely share a ref.
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) & ((1 << ref_bits) - 1)


def _headers(plan: TextPlan, ref: int | None, ref_bits: int, key: str) -> list[bytes]:
    """Each part's UDH (without UDHL): concatenation, then the national language tables."""
    shift = b""
    if plan.single:
        shift += bytes([_IEI_SINGLE_SHIFT, 1, plan.single])
    if plan.locking:
        shift += bytes([_IEI_LOCKING_SHIFT, 1, plan.locking])
    parts = len(plan.parts)
    if parts == 1:
        return [shift]
    ref = _default_ref(key, ref_bits) if ref is None else ref
    if not 0 <= ref < 1 << ref_bits:
        raise EncodeError(f"concatenation reference must fit {ref_bits} bits")
    return [_concat_udh(ref, parts, seq, ref_bits) + shift for seq in range(1, parts + 1)]


def _dcs(encoding: Encoding, message_class: int | None) -> int:
    if message_class is None:
        return _DCS_ALPHABET[encoding]
    if message_class not in (0, 1, 2, 3):
        raise EncodeError("message class must be 0-3")
    return 0x10 | _DCS_ALPHABET[encoding] | message_class


def _octet(value: int, what: str) -> int:
    if not 0 <= value <= 255:
        raise EncodeError(f"{what} must be 0-255")
    return value


def _pdu(smsc: bytes, tpdu: bytes) -> EncodedPdu:
    return EncodedPdu((smsc + tpdu).hex().upper(), len(tpdu))


# --------------------------------------------------------------------------- encoding


def encode_submit(
    number: str,
    text: str,
    *,
    smsc: str | None = None,
    message_reference: int = 0,
    request_status_report: bool = False,
    concat_ref: int | None = None,
    validity_relative_minutes: int | None = None,
    encoding: str | None = None,
    validity_absolute: datetime | None = None,
    message_class: int | None = None,
    reject_duplicates: bool = False,
    concat_ref_bits: int = 8,
    national: bool = False,
) -> list[EncodedPdu]:
    """Encode *text* to *number* as SMS-SUBMIT PDUs, one per part.

    Args:
        number: Recipient, ``"+E164"`` or digits.
        text: Message text; see :func:`segment_text` for encoding and splitting (a text
            that is not plain GSM-7 goes with national language tables when that takes
            fewer parts than UCS-2, see :func:`~device_bridge.gsm.gsm7.plan_text`).
        smsc: Service centre number, or ``None`` to let the modem use its own (``00``).
        message_reference: TP-MR for every part (most modems assign their own anyway).
        request_status_report: Set TP-SRR.
        concat_ref: Concatenation reference for multi-part text; by default one derived
            from recipient and text.
        validity_relative_minutes: Relative TP-VP (rounded down to a step).
        encoding: Force ``"gsm7"``, ``"ucs2"`` or ``"8bit"``.
        validity_absolute: Absolute TP-VP, an aware datetime.
        message_class: DCS message class 0-3 (0 is "flash").
        reject_duplicates: Set TP-RD.
        concat_ref_bits: 8 (IEI 0x00) or 16 (IEI 0x08).
        national: Type numbers without ``+`` (recipient and SMSC) as national, not unknown.

    Raises:
        EncodeError: Bad number or SMSC, text the encoding cannot carry or too long for
            255 parts, both validity forms given, or an option out of range.
    """
    recipient = encode_address(parse_number(number, national=national))
    smsc_octets = smsc_field(smsc, national)
    vpf, vp = encode_validity(validity_relative_minutes, validity_absolute)
    plan = plan_text(text, encoding=encoding, ref_bits=concat_ref_bits)
    headers = _headers(plan, concat_ref, concat_ref_bits, number + text)
    fixed = bytes([_octet(message_reference, "message reference")]) + recipient
    fixed += bytes([0, _dcs(plan.encoding, message_class)]) + vp
    flags = 0x01 | vpf << 3 | (_RD if reject_duplicates else 0)
    flags |= _SRR if request_status_report else 0
    return [
        _pdu(smsc_octets, bytes([flags | (_UDHI if h else 0)]) + fixed + _user_data(t, plan, h))
        for t, h in zip(plan.parts, headers, strict=True)
    ]


def encode_deliver(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    smsc: str | None = None,
    concat_ref: int | None = None,
    concat_ref_bits: int = 8,
    encoding: str | None = None,
) -> list[EncodedPdu]:
    """Encode SMS-DELIVER PDUs, one per part: what a phone receives (for the emulator).

    Args:
        sender: ``"+E164"``, digits, or an alphanumeric name of up to 11 GSM-7 septets.
        text: Message text; see :func:`segment_text`.
        timestamp: TP-SCTS, an aware datetime (its own offset is sent).
        smsc: Service centre number, or ``None`` for an empty SMSC field.
        concat_ref: Concatenation reference; by default one derived from sender and text.
        concat_ref_bits: 8 (IEI 0x00) or 16 (IEI 0x08).
        encoding: Force ``"gsm7"``, ``"ucs2"`` or ``"8bit"``.

    Raises:
        EncodeError: Bad sender or SMSC, naive timestamp, or text that cannot be carried.
    """
    originator = encode_address(sender_address(sender))
    smsc_octets = smsc_field(smsc, national=False)
    plan = plan_text(text, encoding=encoding, ref_bits=concat_ref_bits)
    headers = _headers(plan, concat_ref, concat_ref_bits, sender + text)
    fixed = originator + bytes([0, _dcs(plan.encoding, None)]) + encode_timestamp(timestamp)
    return [
        _pdu(smsc_octets, bytes([_MMS | (_UDHI if h else 0)]) + fixed + _user_data(t, plan, h))
        for t, h in zip(plan.parts, headers, strict=True)
    ]


def encode_status_report(
    message_reference: int,
    recipient: str,
    timestamp: datetime,
    discharge_time: datetime,
    status: int,
    *,
    smsc: str | None = None,
) -> EncodedPdu:
    """Encode an SMS-STATUS-REPORT (for the emulator).

    Args:
        message_reference: TP-MR of the SMS-SUBMIT being reported on.
        recipient: The number that message went to.
        timestamp: TP-SCTS, when the SC received the message (aware).
        discharge_time: TP-DT, when it was delivered or last tried (aware).
        status: TP-ST, 0-255 (0 = delivered).
        smsc: Service centre number, or ``None`` for an empty SMSC field.

    Raises:
        EncodeError: Bad number or SMSC, naive times, or an out-of-range octet.
    """
    tpdu = bytes([0x02 | _MMS, _octet(message_reference, "message reference")])
    tpdu += encode_address(parse_number(recipient))
    tpdu += encode_timestamp(timestamp) + encode_timestamp(discharge_time)
    tpdu += bytes([_octet(status, "status")])
    return _pdu(smsc_field(smsc, national=False), tpdu)
