"""Messages stored under the ADB driver's first keys, recognised under today's.

The ADB driver first keyed a phone row by its id alone (``android:sms:<_id>``,
``android:mms:<_id>``). Phones reuse ids, so keys now carry the row's ``date`` too
(``android:sms:<_id>:<date>``). A bridge with an empty journal (a replaced computer)
reads the phone again and uploads, under the new keys, rows the server holds under the
old ones. No migration can rewrite the old keys: ``date`` is not stored (a received
message's time comes from ``date_sent`` whenever the phone knows it).

So the ingest matches them as they arrive: an item with a new-form key that is not
stored, whose old-form key is stored on the same line for a *received* message (the old
driver read the inbox only) with the same sender, text and time, is that message. Its key
is rewritten to the new form in the upload's transaction, so later uploads find it
directly, and the item counts as stored. A reused id carries another text or time: it is
stored as a new message. Only items of this form pay for the lookup (one indexed query
per upload that has any).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from server.storage.schema import messages
from server.storage.sealed import BodyCipher

#: A new-form ADB key; group 1 is the old form.
_NEW_FORM = re.compile(r"(android:(?:sms|mms):\d+):\d+")


class _Item(Protocol):
    key: str
    line_id: int
    sender: str
    body: str
    direction: str
    incomplete: bool
    refused: str | None

    @property
    def sent_at(self) -> Any: ...


def adopt(
    conn: Connection,
    cipher: BodyCipher,
    account_id: int,
    items: Sequence[_Item],
    existing: dict[tuple[int, str], Any],
) -> dict[tuple[int, str], Any]:
    """Rows stored under the old form of the keys of ``items`` missing from ``existing``
    that are the same messages, by (line id, new key); their keys are rewritten."""
    old_of: dict[str, str] = {}
    for item in items:
        if item.direction != "in" or (item.line_id, item.key) in existing:
            continue
        if item.key.startswith("android:") and (m := _NEW_FORM.fullmatch(item.key)):
            old_of[item.key] = m.group(1)
    if not old_of:
        return {}
    rows = conn.execute(
        select(
            messages.c.id,
            messages.c.thread_id,
            messages.c.line_id,
            messages.c.device_key,
            messages.c.peer,
            messages.c.body_sealed,
            messages.c.deleted,
            messages.c.incomplete,
            messages.c.refused,
            messages.c.direction,
            messages.c.timestamp,
            messages.c.masked,
        ).where(
            messages.c.account_id == account_id,
            messages.c.device_key.in_(set(old_of.values())),
        )
    ).all()
    stored = {(r.line_id, r.device_key): r for r in rows}
    adopted: dict[tuple[int, str], Any] = {}
    for item in items:
        old_key = old_of.get(item.key)
        old = stored.pop((item.line_id, old_key), None) if old_key else None
        if old is None or not _same(old, item, cipher):
            continue
        conn.execute(update(messages).where(messages.c.id == old.id).values(device_key=item.key))
        adopted[(item.line_id, item.key)] = old
    return adopted


def _same(old: Any, item: _Item, cipher: BodyCipher) -> bool:
    """The stored message is the item: same direction, sender, time and text (a message
    the user deleted is matched by sender and time: its text is gone)."""
    if old.direction != "in" or old.peer != item.sender or old.timestamp != item.sent_at:
        return False
    if old.deleted or old.masked:
        return True
    return (
        not old.refused
        and old.incomplete == item.incomplete
        and cipher.open(old.body_sealed) == item.body
    )
