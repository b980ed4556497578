"""Contacts as vCard (pure: strings in, strings out).

Written as vCard 3.0 (RFC 2426), which every address book reads. Read: 2.1, 3.0 and 4.0
(RFC 6350), as phones export them: folded lines, backslash escapes, and 2.1's
quoted-printable names (Android writes ``FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:``).
Only what Ferry keeps is taken: the formatted name (else one built from ``N``) and the
telephone numbers. Every reader has a limit: a logical line of at most
:data:`MAX_LINE` characters, at most :data:`MAX_NUMBERS` numbers per card.
"""

from __future__ import annotations

import quopri
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from server.privacy.takeout.errors import NotVCard

#: Longest logical (unfolded) line taken; a photo line is skipped, not refused.
MAX_LINE = 64 * 1024
#: Most telephone numbers taken from one card.
MAX_NUMBERS = 50


@dataclass
class Card:
    """One contact: a display name and its numbers as written in the card."""

    name: str
    numbers: list[str] = field(default_factory=list)


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace(",", "\\,")
        .replace(";", "\\;")
    )


def write_card(name: str, numbers: Iterable[str]) -> str:
    """One vCard 3.0 (CRLF line ends, as the RFC wants)."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_escape(name)}", f"N:{_escape(name)};;;;"]
    lines += [f"TEL;TYPE=CELL:{_escape(n)}" for n in numbers]
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, "")
        out.append("\n" if nxt in ("n", "N") else nxt)
    return "".join(out)


def _logical_lines(lines: Iterable[str]) -> Iterator[str]:
    """Unfold: a line starting with a space or tab continues the previous one; a 2.1
    quoted-printable value ending in ``=`` continues on the next line."""
    current: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if current is not None and line[:1] in (" ", "\t"):
            current += line[1:]
        elif (
            current is not None
            and current.endswith("=")
            and "QUOTED-PRINTABLE" in (current.split(":", 1)[0].upper())
        ):
            current = current[:-1] + line
        else:
            if current is not None:
                yield current
            current = line
        if current is not None and len(current) > MAX_LINE:
            current = ""  # a photo or something as large: not kept
    if current is not None:
        yield current


def _value(params: list[str], raw: str) -> str:
    upper = [p.upper() for p in params]
    if "ENCODING=QUOTED-PRINTABLE" in upper or "QUOTED-PRINTABLE" in upper:
        charset = next((p.split("=", 1)[1] for p in upper if p.startswith("CHARSET=")), "UTF-8")
        try:
            return quopri.decodestring(raw.encode("ascii", "replace")).decode(charset, "replace")
        except LookupError:
            return quopri.decodestring(raw.encode("ascii", "replace")).decode("utf-8", "replace")
    return _unescape(raw)


def read_cards(lines: Iterable[str]) -> Iterator[Card]:
    """The cards of a vCard file, one by one, as its lines arrive.

    Raises:
        NotVCard: the file has no ``BEGIN:VCARD`` before other content, or a card is
            never ended.
    """
    card: Card | None = None
    structured = ""
    seen_any = False
    for line in _logical_lines(lines):
        if not line.strip():
            continue
        head, sep, raw = line.partition(":")
        if not sep:
            if card is None:
                raise NotVCard("This is not a vCard file.")
            continue
        name, *params = head.split(";")
        name = name.split(".")[-1].upper()  # "item1.TEL" (Apple's groups)
        if name == "BEGIN" and raw.strip().upper() == "VCARD":
            card, structured, seen_any = Card(""), "", True
        elif card is None:
            raise NotVCard("This is not a vCard file.")
        elif name == "END" and raw.strip().upper() == "VCARD":
            if not card.name and structured:
                card.name = structured
            yield card
            card = None
        elif name == "FN":
            card.name = _value(params, raw).strip()
        elif name == "N":
            parts = [p.strip() for p in _value(params, raw).split(";")]
            # family; given; additional; prefix; suffix -> "given additional family"
            ordered = [*parts[1:3], parts[0]] if parts else []
            structured = " ".join(p for p in ordered if p)
        elif name == "TEL" and len(card.numbers) < MAX_NUMBERS:
            number = _value(params, raw).strip()
            if number.lower().startswith("tel:"):
                number = number[4:]  # vCard 4.0 writes a URI
            if number:
                card.numbers.append(number)
    if card is not None:
        raise NotVCard("The vCard file ends in the middle of a card.")
    if not seen_any:
        raise NotVCard("This is not a vCard file.")
