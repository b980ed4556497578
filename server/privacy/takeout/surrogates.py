"""Repair the character references of backups written from UTF-16 strings (pure).

"SMS Backup & Restore" writes a character outside the Basic Multilingual Plane (most
emoji) as two references to its UTF-16 surrogates, ``&#55357;&#56832;`` for 😀. XML has
no such characters and every conforming parser refuses the file. :class:`SurrogateRepair`
rewrites the byte stream before the parser sees it: a high surrogate followed by a low
one becomes the one real character (``&#128512;``); a lone surrogate, or a reference to
a character XML 1.0 forbids (controls other than tab, CR and LF), becomes U+FFFD.

It works on chunks as they arrive: a reference cut by a chunk boundary, or a high
surrogate whose partner is still to come, waits for the next chunk. At most
:data:`_HOLD` bytes are held back.
"""

from __future__ import annotations

import re

_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));")
#: Longest reference the pattern matches (``&#1234567;`` is 10 bytes), with room to spare.
_HOLD = 24
_REPLACEMENT = b"&#65533;"


def _code(match: re.Match[bytes]) -> int:
    hexa, dec = match.group(1), match.group(2)
    return int(hexa, 16) if hexa is not None else int(dec)


def _allowed(code: int) -> bool:
    """Is ``code`` a character XML 1.0 allows (surrogates excluded)?"""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def repair(data: bytes) -> bytes:
    """``data`` with surrogate pairs joined and forbidden references replaced (a whole
    text: nothing is held back)."""
    if b"&#" not in data:
        return data
    out: list[bytes] = []
    at = 0
    pending: re.Match[bytes] | None = None  # a high surrogate waiting for its partner
    for m in _REF.finditer(data):
        code = _code(m)
        if pending is not None:
            if m.start() == pending.end() and 0xDC00 <= code <= 0xDFFF:
                high = _code(pending)
                joined = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                out.append(data[at : pending.start()])
                out.append(b"&#%d;" % joined)
                at = m.end()
                pending = None
                continue
            out.append(data[at : pending.start()])
            out.append(_REPLACEMENT)
            at = pending.end()
            pending = None
        if 0xD800 <= code <= 0xDBFF:
            pending = m
        elif not _allowed(code):
            out.append(data[at : m.start()])
            out.append(_REPLACEMENT)
            at = m.end()
    if pending is not None:
        out.append(data[at : pending.start()])
        out.append(_REPLACEMENT)
        at = pending.end()
    out.append(data[at:])
    return b"".join(out)


class SurrogateRepair:
    """:func:`repair` over a stream of chunks."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """The repaired bytes that are safe to hand on; the rest waits for more."""
        buf = self._held + chunk
        cut = _safe_cut(buf)
        self._held = buf[cut:]
        return repair(buf[:cut])

    def close(self) -> bytes:
        """Whatever was held back, repaired: the stream has ended."""
        held, self._held = self._held, b""
        return repair(held)


def _safe_cut(buf: bytes) -> int:
    """Where ``buf`` may be cut: not inside a reference, and not between a high
    surrogate and what follows it."""
    amp = buf.rfind(b"&", max(0, len(buf) - _HOLD))
    if amp == -1:
        return len(buf)
    tail = buf[amp:]
    whole = _REF.match(tail)
    if whole is not None and whole.end() == len(tail):
        cut = amp if 0xD800 <= _code(whole) <= 0xDBFF else len(buf)
    else:
        cut = amp  # maybe the start of a reference cut by the chunk boundary
    # A high surrogate just before the cut must stay with what follows it.
    before = buf[max(0, cut - _HOLD) : cut]
    last = None
    for m in _REF.finditer(before):
        last = m
    if last is not None and last.end() == len(before) and 0xD800 <= _code(last) <= 0xDBFF:
        cut -= len(before) - last.start()
    return cut
