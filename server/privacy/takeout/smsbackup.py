"""The "SMS Backup & Restore" XML format (pure: strings and bytes in and out).

The de-facto format Android users move their history with::

    <smses count="2" backup_set="…" backup_date="1764590400000" type="full">
      <sms protocol="0" address="+447700900123" date="1764590400000" type="1"
           subject="null" body="Hi" toa="null" sc_toa="null" service_center="null"
           read="1" status="-1" locked="0" date_sent="1764590400000" sub_id="-1"
           readable_date="1 Dec 2026 12:00:00" contact_name="Alice" />
      <mms date="…" msg_box="1" m_type="132" address="…" read="1" … >
        <parts><part seq="0" ct="image/png" name="a.png" cl="a.png" text="null"
                     data="(base64)" /></parts>
        <addrs><addr address="…" type="137" charset="106" /></addrs>
      </mms>
    </smses>

Times are Java milliseconds since the epoch. ``sms`` ``type``: 1 received, 2 sent,
3 draft, 4 outbox, 5 failed, 6 queued; ``status``: -1 none, 0 complete (delivered),
32 pending, 64 failed. ``mms`` ``msg_box``: 1 inbox, 2 sent, 4 outbox; ``addr``
``type``: 137 from, 151 to, 130 cc. Values the app has no value for are the string
``null``.

Writing: :func:`sms_element` and :func:`mms_element` return one element as text, so a
driver writes a file of any size element by element. Reading: :class:`BackupReader`
takes bytes as they arrive and hands back whole messages; it never holds more than one
element (an element over :data:`MAX_ELEMENT` bytes is refused), refuses DTDs and entity
declarations, and repairs surrogate-pair references first (``surrogates.py``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from server.privacy.takeout.errors import NotSmsBackup
from server.privacy.takeout.surrogates import SurrogateRepair

#: Largest element taken (an MMS with its base64 parts): more is not a backup of SMS.
MAX_ELEMENT = 16 * 1024 * 1024
#: Most parts and addresses read from one MMS.
MAX_PARTS = 50
#: ``sms`` types and ``mms`` boxes.
RECEIVED, SENT, DRAFT, OUTBOX, FAILED, QUEUED = 1, 2, 3, 4, 5, 6
ADDR_FROM, ADDR_TO = 137, 151
#: ``sms`` status values.
STATUS_NONE, STATUS_COMPLETE, STATUS_PENDING, STATUS_FAILED = -1, 0, 32, 64
#: Media types of MMS parts that are layout, not content.
_LAYOUT = frozenset({"application/smil"})


@dataclass
class Part:
    """One part of an MMS: text (``text``) or bytes (``data``)."""

    mime: str
    name: str | None
    text: str | None
    data: bytes | None


@dataclass
class BackupMessage:
    """One ``sms`` or ``mms`` element, read."""

    kind: str  # "sms" or "mms"
    address: str
    #: ``date`` and ``date_sent`` in milliseconds (0: absent).
    date: int
    date_sent: int
    #: ``sms`` type, or ``mms`` msg_box (the same numbers for inbox, sent, outbox).
    box: int
    body: str
    read: bool
    status: int = STATUS_NONE
    contact_name: str | None = None
    parts: list[Part] = field(default_factory=list)
    #: (address, type) of an MMS's ``addr`` elements.
    addrs: list[tuple[str, int]] = field(default_factory=list)
    #: Something in the element could not be read (bad base64, too many parts).
    damaged: bool = False


# ------------------------------------------------------------------- writing

_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        # Literal line breaks and tabs in an attribute become spaces when it is read.
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry at all (U+FFFD instead)."""
    if text.isprintable():
        return text
    return "".join(
        c
        if c in "\t\n\r" or ("\x20" <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c > "\uffff"
        else "\ufffd"
        for c in text
    )


def attr(value: object) -> str:
    """An attribute value, quoted; ``None`` is the app's ``null``."""
    if value is None:
        return '"null"'
    return '"' + _xml_safe(str(value)).translate(_ATTR_ESCAPES) + '"'


def _attrs(pairs: list[tuple[str, object]]) -> str:
    return " ".join(f"{k}={attr(v)}" for k, v in pairs)


def millis(when: datetime) -> int:
    """Java milliseconds of an aware time."""
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def readable(when: datetime) -> str:
    """The app's ``readable_date`` (its own format varies by phone locale; this is UTC)."""
    return when.astimezone(UTC).strftime("%d %b %Y %H:%M:%S UTC")


def header(count: int, backup_set: str, when: datetime) -> str:
    """The XML declaration and the opening ``smses`` tag."""
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f"<smses count={attr(count)} backup_set={attr(backup_set)} "
        f'backup_date={attr(millis(when))} type="full">\n'
    )


FOOTER = "</smses>\n"


def sms_element(
    *,
    address: str,
    when: datetime,
    box: int,
    body: str,
    read: bool,
    status: int,
    contact_name: str | None,
) -> str:
    """One ``sms`` element, with the attributes the app writes."""
    ms = millis(when)
    return (
        "  <sms "
        + _attrs(
            [
                ("protocol", 0),
                ("address", address),
                ("date", ms),
                ("type", box),
                ("subject", None),
                ("body", body),
                ("toa", None),
                ("sc_toa", None),
                ("service_center", None),
                ("read", int(read)),
                ("status", status),
                ("locked", 0),
                ("date_sent", ms if box == RECEIVED else 0),
                ("sub_id", -1),
                ("readable_date", readable(when)),
                ("contact_name", contact_name or "(Unknown)"),
            ]
        )
        + " />\n"
    )


def mms_element(
    *,
    address: str,
    own_number: str,
    when: datetime,
    box: int,
    body: str,
    read: bool,
    contact_name: str | None,
    parts: list[tuple[str, str | None, bytes]],
) -> str:
    """One ``mms`` element: its text as a ``text/plain`` part, each attachment (media
    type, file name, bytes) as a part with base64 ``data``."""
    ms = millis(when)
    incoming = box == RECEIVED
    head = _attrs(
        [
            ("date", ms),
            ("ct_t", "application/vnd.wap.multipart.related"),
            ("msg_box", box),
            ("address", address),
            ("m_type", 132 if incoming else 128),
            ("read", int(read)),
            ("seen", 1),
            ("locked", 0),
            ("date_sent", ms if incoming else 0),
            ("sub_id", -1),
            ("text_only", 0 if parts else 1),
            ("readable_date", readable(when)),
            ("contact_name", contact_name or "(Unknown)"),
        ]
    )
    out = [f"  <mms {head}>\n    <parts>\n"]
    seq = 0
    if body:
        out.append(
            "      <part "
            + _attrs(
                [
                    ("seq", seq),
                    ("ct", "text/plain"),
                    ("name", None),
                    ("chset", 106),
                    ("cl", "text_0.txt"),
                    ("text", body),
                ]
            )
            + " />\n"
        )
        seq += 1
    for mime, name, data in parts:
        out.append(
            "      <part "
            + _attrs(
                [
                    ("seq", seq),
                    ("ct", mime),
                    ("name", name),
                    ("chset", None),
                    ("cl", name),
                    ("text", None),
                    ("data", base64.b64encode(data).decode("ascii")),
                ]
            )
            + " />\n"
        )
        seq += 1
    sender, recipient = (address, own_number) if incoming else (own_number, address)
    out.append("    </parts>\n    <addrs>\n")
    out.append(
        f"      <addr {_attrs([('address', sender), ('type', ADDR_FROM), ('charset', 106)])} />\n"
    )
    out.append(
        f"      <addr {_attrs([('address', recipient), ('type', ADDR_TO), ('charset', 106)])} />\n"
    )
    out.append("    </addrs>\n  </mms>\n")
    return "".join(out)


# ------------------------------------------------------------------- reading


def _null(value: str | None) -> str | None:
    return None if value is None or value == "null" else value


def _int(value: str | None, default: int = 0) -> int:
    value = _null(value)
    if value is None:
        return default
    value = value.strip()
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return default
    return int(value)


class BackupReader:
    """Reads an "SMS Backup & Restore" file fed in chunks; hands back whole messages.

    ``feed(chunk)`` returns the messages completed by the chunk; ``close()`` the rest and
    checks that the document ended.

    Raises (from ``feed``/``close``):
        NotSmsBackup: malformed XML, a DTD or entity declaration, another root element,
            elements nested deeper than the format, or an element over MAX_ELEMENT bytes.
    """

    def __init__(self) -> None:
        self._parser = expat.ParserCreate("UTF-8")
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.StartDoctypeDeclHandler = self._refuse
        self._parser.EntityDeclHandler = self._refuse
        self._parser.ExternalEntityRefHandler = self._refuse
        self._repair = SurrogateRepair()
        self._depth = 0
        self._root_seen = False
        self._current: BackupMessage | None = None
        self._done: list[BackupMessage] = []
        self._since_tag_end = 0

    def _refuse(self, *args: Any) -> None:
        raise NotSmsBackup("The file declares a DTD or entities; a backup has none.")

    def feed(self, chunk: bytes) -> list[BackupMessage]:
        self._guard(chunk)
        self._parse(self._repair.feed(chunk), False)
        done, self._done = self._done, []
        return done

    def close(self) -> list[BackupMessage]:
        self._parse(self._repair.close(), True)
        if not self._root_seen:
            raise NotSmsBackup("The file has no messages element (<smses>).")
        done, self._done = self._done, []
        return done

    def _guard(self, chunk: bytes) -> None:
        end = chunk.rfind(b">")
        self._since_tag_end = len(chunk) - end - 1 if end >= 0 else self._since_tag_end + len(chunk)
        if self._since_tag_end > MAX_ELEMENT:
            raise NotSmsBackup("An element of the file is too large for a backup of messages.")

    def _parse(self, data: bytes, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise NotSmsBackup(
                f"The file is not well-formed XML (line {exc.lineno}: "
                f"{expat.ErrorString(exc.code)})."
            ) from None

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1:
            if name != "smses":
                raise NotSmsBackup("This is not an SMS Backup & Restore file (no <smses>).")
            self._root_seen = True
        elif self._depth == 2:
            self._current = self._message(name, attrs)
        elif self._depth > 4:
            raise NotSmsBackup("The file nests elements deeper than a backup does.")
        elif self._depth == 4 and self._current is not None:
            self._child(name, attrs)

    def _end(self, name: str) -> None:
        if self._depth == 2 and self._current is not None:
            message, self._current = self._current, None
            if message.kind == "mms":
                _finish_mms(message)
            self._done.append(message)
        self._depth -= 1

    def _message(self, name: str, attrs: dict[str, str]) -> BackupMessage | None:
        if name not in ("sms", "mms"):
            return None  # other elements (call logs of a mixed file): not ours
        box_attr = "type" if name == "sms" else "msg_box"
        return BackupMessage(
            kind=name,
            address=_null(attrs.get("address")) or "",
            date=_int(attrs.get("date")),
            date_sent=_int(attrs.get("date_sent")),
            box=_int(attrs.get(box_attr)),
            body=(_null(attrs.get("body")) or "") if name == "sms" else "",
            read=_int(attrs.get("read"), 1) != 0,
            status=_int(attrs.get("status"), STATUS_NONE),
            contact_name=_null(attrs.get("contact_name")),
        )

    def _child(self, name: str, attrs: dict[str, str]) -> None:
        message = self._current
        assert message is not None
        if len(message.parts) + len(message.addrs) >= MAX_PARTS:
            message.damaged = True
        elif name == "part":
            data = None
            if (raw := _null(attrs.get("data"))) is not None:
                try:
                    data = base64.b64decode(raw)
                except (binascii.Error, ValueError):
                    message.damaged = True
                    return
            message.parts.append(
                Part(
                    mime=(_null(attrs.get("ct")) or "application/octet-stream").lower(),
                    name=_null(attrs.get("name")) or _null(attrs.get("cl")),
                    text=_null(attrs.get("text")),
                    data=data,
                )
            )
        elif name == "addr":
            message.addrs.append((_null(attrs.get("address")) or "", _int(attrs.get("type"))))


def _finish_mms(message: BackupMessage) -> None:
    """An MMS's text is its ``text/plain`` parts that carry text (not bytes); times
    written in seconds (Android's own MMS table) become milliseconds."""
    message.body = "\n".join(
        p.text for p in message.parts if p.mime == "text/plain" and p.data is None and p.text
    )
    message.parts = [p for p in message.parts if p.mime not in _LAYOUT and p.data is not None]
    if 0 < message.date < 100_000_000_000:  # before 1973 in ms: it was seconds
        message.date *= 1000
    if 0 < message.date_sent < 100_000_000_000:
        message.date_sent *= 1000
