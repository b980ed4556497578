"""AT command text: a bounded line reader, result codes, URCs and response parsers.

Everything here is pure: bytes or ``str`` lines in, typed values out. The modem session
(``device_bridge.gsm.modem``) decides *when* a line is a command's response and when it
is unsolicited; this module only knows what lines look like (3GPP TS 27.007 / 27.005,
ITU-T V.250, plus vendor habits seen in the field).

A modem speaks in lines ended by ``<CR><LF>`` (or just one of them, after a reset or on
cheap firmware), with one exception: after ``AT+CMGS=<n>`` it asks for the PDU with the
prompt ``"> "`` (some firmware sends a bare ``">"``) and *no* line ending. The reader
therefore reports the prompt as a token of its own, :data:`PROMPT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import gsm7

__all__ = [
    "LINE_TOO_LONG",
    "PROMPT",
    "CmglEntry",
    "CmgrEntry",
    "CpbrEntry",
    "CpbrRange",
    "CpbsStatus",
    "CpmsSupport",
    "FinalResult",
    "LineReader",
    "Marker",
    "UrcHeader",
    "clean_pdu",
    "csq_to_dbm",
    "decode_string",
    "is_noise",
    "parse_cmgl",
    "parse_cmgr",
    "parse_cmgs",
    "parse_cnum",
    "parse_cops",
    "parse_cpbr",
    "parse_cpbr_support",
    "parse_cpbs",
    "parse_cpbs_support",
    "parse_cpms_support",
    "parse_cscs",
    "parse_cscs_support",
    "parse_csq",
    "parse_final",
    "parse_urc",
    "redact",
    "response_prefix",
    "split_params",
    "unquote",
]


class Marker(str):
    """A reader token that is not a line; compare with ``is`` (see :data:`PROMPT`)."""

    __slots__ = ()


#: The SMS text prompt (``"> "`` or ``">"``), reported although no line ending follows.
PROMPT = Marker("> ")
#: Stands in for a line longer than the reader's limit; the line itself was dropped.
LINE_TOO_LONG = Marker("<line too long>")

_EOL = b"\r\n"


class LineReader:
    """Split modem output into lines, bounded by ``max_line`` bytes per line.

    Lines are decoded (UTF-8, undecodable bytes replaced), stripped of surrounding
    whitespace and NUL bytes; empty lines are dropped, so ``\\r\\n``, ``\\n\\r``, ``\\r``
    and ``\\n`` all work as line endings. A ``>`` at the start of a line is reported
    as :data:`PROMPT` at once. A line over the limit is skipped up to its line ending
    and reported as :data:`LINE_TOO_LONG`; the lines after it are kept.

    Args:
        max_line: The longest line accepted, in bytes. A ``+CMGR`` PDU line is at most
            ~360 bytes, so the default leaves ample room.
    """

    def __init__(self, max_line: int = 4096) -> None:
        if max_line < 2:
            raise ValueError("max_line must be at least 2")
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[str]:
        """Take bytes from the modem; return the complete lines and markers they finish."""
        out: list[str] = []
        for byte in data:
            if byte in _EOL:
                self._end_line(out)
            elif self._skipping:
                continue
            elif byte == 0x3E and not self._buf:  # '>' at the start of a line
                out.append(PROMPT)
            elif byte in b" \t" and not self._buf:
                continue  # leading blanks, including the one after '>'
            else:
                self._buf.append(byte)
                if len(self._buf) > self.max_line:
                    self._buf.clear()
                    self._skipping = True
                    out.append(LINE_TOO_LONG)
        return out

    def _end_line(self, out: list[str]) -> None:
        self._skipping = False
        if not self._buf:
            return
        line = self._buf.decode("utf-8", "replace").replace("\x00", "").strip()
        self._buf.clear()
        if line:
            out.append(line)


# ---------------------------------------------------------------- final result codes


@dataclass(frozen=True)
class FinalResult:
    """A final result code: the end of a command's response.

    Attributes:
        ok: True only for ``OK``.
        kind: ``"OK"``, ``"ERROR"``, ``"CMS"``, ``"CME"``, ``"NOT_SUPPORTED"`` or
            ``"NO_CARRIER"``.
        code: The numeric ``+CMS``/``+CME`` error code, when there is one.
        text: The line as received (verbose ``+CME ERROR: SIM PIN required`` keeps its
            words here, with ``code`` None).
    """

    ok: bool
    kind: str
    code: int | None
    text: str


_PLAIN_FINALS = {
    "OK": "OK",
    "ERROR": "ERROR",
    "COMMAND NOT SUPPORT": "NOT_SUPPORTED",  # Huawei
    "NO CARRIER": "NO_CARRIER",
}
_EXT_ERROR = re.compile(r"^\+(CMS|CME) ERROR:\s*(.*)$", re.IGNORECASE)


def parse_final(line: str) -> FinalResult | None:
    """Return the final result code ``line`` carries, or None if it is not one."""
    upper = line.upper()
    kind = _PLAIN_FINALS.get(upper)
    if kind is not None:
        return FinalResult(ok=kind == "OK", kind=kind, code=None, text=line)
    match = _EXT_ERROR.match(line)
    if match is None:
        return None
    detail = match.group(2).strip()
    code = int(detail) if detail.isdigit() else None
    return FinalResult(ok=False, kind=match.group(1).upper(), code=code, text=line)


# ---------------------------------------------------------------- unsolicited codes


@dataclass(frozen=True)
class UrcHeader:
    """An unsolicited result code we act on.

    Attributes:
        kind: ``"CMTI"`` (new message stored), ``"CDSI"`` (status report stored),
            ``"CMT"`` (message delivered directly) or ``"CDS"`` (status report
            delivered directly).
        storage: Memory name for ``CMTI``/``CDSI`` (``"SM"``, ``"ME"`` …).
        index: Slot for ``CMTI``/``CDSI``.
        pdu_follows: True for ``CMT``/``CDS``: the next line is the PDU in hex.
    """

    kind: str
    storage: str | None = None
    index: int | None = None
    pdu_follows: bool = False


# Lines modems volunteer at boot or on radio changes; nothing to do with SMS.
_NOISE_EXACT = frozenset(
    {
        "RDY",
        "SMS DONE",
        "PB DONE",
        "CALL READY",
        "SMS READY",
        "RING",
        "+CPIN: READY",
        "+CFUN: 1",
        "^BOOT",
        "^SYSSTART",
        "NORMAL POWER DOWN",
    }
)
_NOISE_PREFIXES = (
    "^RSSI:",
    "^MODE:",
    "^BOOT:",
    "^SRVST:",
    "^SIMST:",
    "^HCSQ:",
    "^DSFLOWRPT:",
    "^CEND:",
    "^ORIG:",
    "^CONF:",
    "^CONN:",
    "^STIN:",
    "^NDISSTAT:",
    "+QIND:",
    "+WIND:",
    "+STIN:",
    "+CIEV:",
    "+CRING:",
    "+PACSP",
    "+CGEV:",
    "*PSUTTZ:",
    "DST:",
    "+CTZV:",
)
_URC_STORED = re.compile(r'^\+(CMTI|CDSI):\s*"?([A-Z0-9]+)"?\s*,\s*(\d+)\s*$', re.IGNORECASE)
_URC_DIRECT = re.compile(r"^\+(CMT|CDS):", re.IGNORECASE)


def is_noise(line: str) -> bool:
    """True for vendor chatter (``RDY``, ``^RSSI:``, ``+QIND:`` …) that can be ignored.

    ``+CPIN: READY`` counts as noise only when it arrives unsolicited; the session does
    not ask this function while ``AT+CPIN?`` is running.
    """
    upper = line.upper()
    return upper in _NOISE_EXACT or upper.startswith(_NOISE_PREFIXES)


def parse_urc(line: str) -> UrcHeader | None:
    """Return the SMS-related unsolicited code ``line`` carries, or None."""
    match = _URC_STORED.match(line)
    if match is not None:
        kind, storage, index = match.groups()
        return UrcHeader(kind=kind.upper(), storage=storage.upper(), index=int(index))
    match = _URC_DIRECT.match(line)
    if match is not None:
        return UrcHeader(kind=match.group(1).upper(), pdu_follows=True)
    return None


# ---------------------------------------------------------------- parameter lists


def split_params(text: str) -> list[str]:
    """Split ``a,"b,c",(1,2)`` at top-level commas; quotes and brackets nest nothing."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def unquote(value: str) -> str:
    """Strip one pair of surrounding double quotes, if present."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _payload(line: str, prefix: str) -> str | None:
    """The text after ``prefix`` (e.g. ``"+CSQ:"``), or None if the line lacks it."""
    if not line.upper().startswith(prefix):
        return None
    return line[len(prefix) :].strip()


def _int(value: str) -> int | None:
    value = unquote(value.strip())
    return int(value) if value.isdigit() else None


# ---------------------------------------------------------------- message listing


@dataclass(frozen=True)
class CmglEntry:
    """One ``+CMGL:`` entry in PDU mode: slot, status (0-3; None when the modem left it
    empty), TPDU length and PDU hex."""

    index: int
    status: int | None
    length: int
    pdu: str


@dataclass(frozen=True)
class CmgrEntry:
    """A ``+CMGR:`` answer in PDU mode: status (0-3, or None when left empty), TPDU length
    and PDU hex."""

    status: int | None
    length: int
    pdu: str


def clean_pdu(line: str) -> str:
    """A PDU line without the stray quotes some firmware puts around or after the hex."""
    return line.strip().strip('"').strip()


def parse_cmgl(lines: list[str] | tuple[str, ...]) -> list[CmglEntry]:
    """Parse ``+CMGL: <index>,<stat>,[<alpha>],<length>`` header + PDU line pairs.

    Entries with an unreadable header are skipped; a header without a PDU line
    gets an empty PDU so the caller can still report the slot. An empty ``<stat>``
    (``+CMGL: 3,,,92``, seen from real modems) is read as None, not as a bad header.
    """
    entries: list[CmglEntry] = []
    pending: tuple[int, int | None, int] | None = None
    for line in lines:
        payload = _payload(line, "+CMGL:")
        if payload is None:
            if pending is not None:
                entries.append(CmglEntry(*pending, pdu=clean_pdu(line)))
                pending = None
            continue
        if pending is not None:
            entries.append(CmglEntry(*pending, pdu=""))
        pending = _cmgl_header(payload)
    if pending is not None:
        entries.append(CmglEntry(*pending, pdu=""))
    return entries


def _cmgl_header(payload: str) -> tuple[int, int | None, int] | None:
    fields = split_params(payload)
    if len(fields) < 3:
        return None
    index, status, length = _int(fields[0]), _int(fields[1]), _int(fields[-1])
    if index is None or length is None or (status is None and fields[1].strip()):
        return None
    return index, status, length


def parse_cmgr(lines: list[str] | tuple[str, ...]) -> CmgrEntry | None:
    """Parse ``+CMGR: <stat>,[<alpha>],<length>`` and the PDU line; None if absent.

    An empty slot answers with just ``OK`` on most modems (or ``+CMGR: 0,,0``), so
    both come back as None. An empty ``<stat>`` (``+CMGR: ,,92``) is not an empty slot:
    the entry comes back with status None.
    """
    for position, line in enumerate(lines):
        payload = _payload(line, "+CMGR:")
        if payload is None:
            continue
        fields = split_params(payload)
        status, length = _int(fields[0]), _int(fields[-1])
        has_pdu = position + 1 < len(lines)
        if (status is None and fields[0].strip()) or not length or not has_pdu:
            return None
        return CmgrEntry(status=status, length=length, pdu=clean_pdu(lines[position + 1]))
    return None


def parse_cmgs(lines: list[str] | tuple[str, ...]) -> int | None:
    """Return the TP-Message-Reference from ``+CMGS: <mr>[,<ackpdu>]``, or None."""
    for line in lines:
        payload = _payload(line, "+CMGS:")
        if payload is not None:
            return _int(split_params(payload)[0])
    return None


# ---------------------------------------------------------------- status queries


def csq_to_dbm(rssi: int) -> int | None:
    """Map a ``+CSQ`` rssi (0-31, 99 unknown) to dBm per TS 27.007 §8.5."""
    if 0 <= rssi <= 31:
        return -113 + 2 * rssi
    return None


def parse_csq(lines: list[str] | tuple[str, ...]) -> int | None:
    """Return the signal strength in dBm from ``+CSQ: <rssi>,<ber>``, or None."""
    for line in lines:
        payload = _payload(line, "+CSQ:")
        if payload is not None:
            rssi = _int(split_params(payload)[0])
            return None if rssi is None else csq_to_dbm(rssi)
    return None


def parse_cops(lines: list[str] | tuple[str, ...]) -> str | None:
    """Return the operator from ``+COPS: <mode>[,<format>,<oper>[,<AcT>]]``, or None."""
    for line in lines:
        payload = _payload(line, "+COPS:")
        if payload is not None:
            fields = split_params(payload)
            operator = unquote(fields[2]) if len(fields) >= 3 else ""
            return operator or None
    return None


def _with_plus(number: str, type_: int | None) -> str:
    """An international number (type 145) as ``+digits``, however the modem wrote it."""
    if type_ == 145 and number and not number.startswith("+"):
        return "+" + number
    return number


def parse_cnum(lines: list[str] | tuple[str, ...]) -> str | None:
    """Return the first own number from ``+CNUM: [<alpha>],<number>,<type>``, or None."""
    for line in lines:
        payload = _payload(line, "+CNUM:")
        if payload is None:
            continue
        fields = split_params(payload)
        if len(fields) >= 2 and unquote(fields[1]):
            number = unquote(fields[1])
            return _with_plus(number, _int(fields[2]) if len(fields) >= 3 else None)
    return None


@dataclass(frozen=True)
class CpmsSupport:
    """Memories offered by ``AT+CPMS=?`` for reading/deleting, writing, and receiving."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    receive: tuple[str, ...]


def parse_cpms_support(lines: list[str] | tuple[str, ...]) -> CpmsSupport | None:
    """Parse ``+CPMS: ("SM","ME"),("SM","ME"),("SM")``; None if the line is absent."""
    for line in lines:
        payload = _payload(line, "+CPMS:")
        if payload is None:
            continue
        groups = [_memories(field) for field in split_params(payload)]
        while len(groups) < 3:
            groups.append(groups[-1] if groups else ())
        return CpmsSupport(read=groups[0], write=groups[1], receive=groups[2])
    return None


def _memories(field: str) -> tuple[str, ...]:
    inner = field.strip().removeprefix("(").removesuffix(")")
    return tuple(unquote(name).upper() for name in split_params(inner) if unquote(name))


# ---------------------------------------------------------------- phonebook
#
# TS 27.007 §8.11-8.12. String values (numbers and names) come in the character set
# chosen with AT+CSCS: "UCS2" is hex of UTF-16-BE, "GSM" the default alphabet's septet
# values sent as bytes, "IRA" plain ASCII.

_DIAL = re.compile(r"^\+?[0-9*#pPwW,]*$")
_HEXTEXT = re.compile(r"^(?:[0-9A-Fa-f]{4})*$")


@dataclass(frozen=True)
class CpbsStatus:
    """``+CPBS: <storage>[,<used>,<total>]``: the phonebook memory in use."""

    storage: str
    used: int | None
    total: int | None


@dataclass(frozen=True)
class CpbrRange:
    """``+CPBR: (<first>-<last>),<nlength>,<tlength>``: slots and field lengths."""

    first: int
    last: int
    number_length: int | None
    text_length: int | None


@dataclass(frozen=True)
class CpbrEntry:
    """One ``+CPBR: <index>,<number>,<type>,<text>`` entry, decoded from the charset."""

    index: int
    number: str
    type: int | None
    text: str


def decode_string(value: str, charset: str) -> str:
    """A string parameter as sent in the TE character set *charset* (quotes removed).

    ``UCS2`` hex is decoded (a leading ``80``, the SIM's own UCS2 marker that some
    Huawei firmware passes on, is dropped); text that is not hex is kept as sent, since
    firmware that ignores ``AT+CSCS`` for some fields exists. ``GSM`` septet values are
    mapped to characters. Anything else is returned unchanged.
    """
    charset = charset.upper()
    if charset == "UCS2":
        if len(value) % 4 == 2 and value[:2] == "80":
            value = value[2:]
        if value and _HEXTEXT.match(value):
            return bytes.fromhex(value).decode("utf-16-be", "replace")
        return value
    if charset == "GSM" and value.isascii():
        return gsm7.from_septets(value.encode("ascii"))
    return value


def _decode_number(value: str, type_: int | None, charset: str) -> str:
    decoded = decode_string(value, charset)
    number = decoded if decoded and _DIAL.match(decoded) else value  # plain despite UCS2
    return _with_plus(number, type_)


def _first(lines: list[str] | tuple[str, ...], prefix: str) -> str | None:
    """The payload of the first line carrying ``prefix``, or None."""
    return next((p for line in lines if (p := _payload(line, prefix)) is not None), None)


def parse_cpbs_support(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Memories from ``+CPBS: ("SM","FD","ON")``; empty when the line is absent."""
    payload = _first(lines, "+CPBS:")
    return () if payload is None else _memories(payload)


def parse_cpbs(lines: list[str] | tuple[str, ...]) -> CpbsStatus | None:
    """Parse ``+CPBS: "SM",12,250`` (used and total are optional)."""
    payload = _first(lines, "+CPBS:")
    if payload is None:
        return None
    fields = [*split_params(payload), "", ""]
    return CpbsStatus(unquote(fields[0]).upper(), _int(fields[1]), _int(fields[2]))


def parse_cpbr_support(lines: list[str] | tuple[str, ...]) -> CpbrRange | None:
    """Parse ``+CPBR: (1-250),40,14``; a single slot may be given as ``(1)``."""
    payload = _first(lines, "+CPBR:")
    if payload is None:
        return None
    fields = [*split_params(payload), "", ""]
    bounds = fields[0].strip().removeprefix("(").removesuffix(")").split("-")
    first, last = _int(bounds[0]), _int(bounds[-1])
    if first is None or last is None or first > last:
        return None
    return CpbrRange(first, last, _int(fields[1]), _int(fields[2]))


def parse_cpbr(lines: list[str] | tuple[str, ...], charset: str = "GSM") -> list[CpbrEntry]:
    """Parse ``+CPBR: <index>,"<number>",<type>,"<text>"`` lines read in *charset*.

    Lines without a readable index are skipped. A number of type 145 (international)
    gets its ``+``; a number sent plain although the charset is UCS2 is kept as sent.
    """
    entries: list[CpbrEntry] = []
    for line in lines:
        payload = _payload(line, "+CPBR:")
        if payload is None:
            continue
        fields = [*split_params(payload), "", "", ""]
        index, type_ = _int(fields[0]), _int(fields[2])
        if index is None:
            continue
        number = _decode_number(unquote(fields[1]), type_, charset)
        entries.append(CpbrEntry(index, number, type_, decode_string(unquote(fields[3]), charset)))
    return entries


def parse_cscs(lines: list[str] | tuple[str, ...]) -> str | None:
    """The character set from ``+CSCS: "GSM"``, upper case; None if absent."""
    payload = _first(lines, "+CSCS:")
    return unquote(payload).upper() or None if payload is not None else None


def parse_cscs_support(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Character sets from ``+CSCS: ("GSM","IRA","UCS2")``; empty when absent."""
    payload = _first(lines, "+CSCS:")
    return () if payload is None else _memories(payload)


# ---------------------------------------------------------------- commands

_SECRET_ARGS = re.compile(r"^(AT\+(?:CPIN|CPWD|CLCK)=).*$", re.IGNORECASE)


def redact(command: str) -> str:
    """The command with any PIN or password replaced, fit for logs and errors."""
    return _SECRET_ARGS.sub(r"\1<redacted>", command)


def response_prefix(command: str) -> str | None:
    """The prefix a command's information lines carry: ``AT+CMGL=4`` -> ``"+CMGL:"``."""
    match = re.match(r"^AT([+^$*][A-Z0-9]+)", command, re.IGNORECASE)
    return match.group(1).upper() + ":" if match else None
