"""Fitting a decoded message (MMS) into what the wire protocol accepts (pure).

The server refuses a whole upload when one item breaks a limit, and the bridge would
offer that upload again forever. So a message is made to fit *before* it is journaled:

* media types are reduced to ``type/subtype`` (parameters dropped); one that is still not
  a media type becomes ``application/octet-stream``; file names are sanitised;
* attachments are kept in order while they fit :data:`MAX_ATTACHMENTS` and
  :data:`MAX_ATTACHMENT_BYTES` together; each one that does not is dropped and a line
  ``[attachment too large: NAME, SIZE]`` (or ``[attachment not kept: …]`` past the count)
  is added to the text, so the user knows to look on the phone;
* a body longer than the server takes is cut, and says so; beside attachments a body is
  also cut to what leaves room for them in one upload frame (:data:`MMS_TEXT_BYTES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from protocol.errors import InvalidAttachment
from protocol.messages import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BODY,
    Attachment,
    clean_attachment_name,
    normalize_mime,
)

_CUT = "\n[message cut: too long]"
#: Most bytes the text of a message with attachments may take in JSON (where a control
#: character costs six): attachments at their limit (853 KiB in base64), their names and
#: the item's other fields at theirs, and this, fit one 1 MiB upload frame.
MMS_TEXT_BYTES = 150_000


@dataclass(frozen=True)
class Fitted:
    body: str
    attachments: list[Attachment]
    #: (media type, size) of each part left out, for the log (never names).
    dropped: list[tuple[str, int]]


def fit(
    body: str,
    attachments: Sequence[Attachment],
    *,
    too_large: Sequence[tuple[str | None, str]] = (),
) -> Fitted:
    """The message as it can travel; ``too_large`` lists (name, media type) of parts the
    driver already refused to read in full (over :data:`MAX_ATTACHMENT_BYTES` alone)."""
    kept: list[Attachment] = []
    notes: list[str] = []
    dropped: list[tuple[str, int]] = []
    total = 0
    for a in attachments:
        clean = Attachment(mime=_mime(a.mime), data=a.data, name=clean_attachment_name(a.name))
        size = len(clean.data)
        label = clean.name or clean.mime
        if len(kept) >= MAX_ATTACHMENTS:
            notes.append(f"[attachment not kept: {label}, {_size(size)}; too many]")
        elif total + size > MAX_ATTACHMENT_BYTES:
            notes.append(f"[attachment too large: {label}, {_size(size)}]")
        else:
            kept.append(clean)
            total += size
            continue
        dropped.append((clean.mime, size))
    for name, mime in too_large:
        label = clean_attachment_name(name) or _mime(mime)
        notes.append(f"[attachment too large: {label}, over {_size(MAX_ATTACHMENT_BYTES)}]")
        dropped.append((_mime(mime), MAX_ATTACHMENT_BYTES + 1))
    text = "\n".join([body, *notes]) if body and notes else body or "\n".join(notes)
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(_CUT)] + _CUT
    if kept and _json_size(text) > MMS_TEXT_BYTES:
        text = _cut_to_bytes(text, MMS_TEXT_BYTES - _json_size(_CUT)) + _CUT
    return Fitted(text, kept, dropped)


def _json_size(text: str) -> int:
    return len(msgspec.json.encode(text))


def _cut_to_bytes(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose JSON form takes at most ``budget`` bytes."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _json_size(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def _mime(mime: str) -> str:
    try:
        return normalize_mime(mime.split(";", 1)[0])
    except InvalidAttachment:
        return "application/octet-stream"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"
