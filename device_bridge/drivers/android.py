"""An Android phone over ADB: reads its SMS and MMS inbox and its contacts.

Edge adapter: every call is ``adb [-s SERIAL] shell content …`` (or ``exec-out content
read`` for an MMS part's bytes) through an injected :class:`~.adb.AdbRunner`; the output is
read by the pure :mod:`device_bridge.android.query`. The phone keeps its messages: nothing
is deleted. Both boxes are read: received SMS and MMS, and the user's own from the sent
box (so replies typed on the phone appear as outgoing). Which rows are new is decided by
:func:`.phone_rows.new_rows` against the journal's seen set (ids are reused and an MMS
may arrive below newer ids); keys carry the row's time, so a reused id is a new key.

ADB cannot send an SMS without the phone's screen: :meth:`AdbPhone.send_sms` raises
:class:`~device_bridge.android.errors.SendNotSupported` before touching the phone.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from device_bridge.android.errors import (
    AdbError,
    AdbOutputError,
    AdbOutputTooLarge,
    AmbiguousOutput,
    SendNotSupported,
    adb_failure,
)
from device_bridge.android.query import Row, ints_of, parse_rows
from device_bridge.gsm.errors import ModemUnavailable
from protocol.messages import MAX_ATTACHMENT_BYTES, MAX_CONTACTS, Attachment

from .adb import AdbRunner, subprocess_runner
from .base import Contact, InboxView, ModemEvent, ModemStatus, Received, StoredMessage
from .phone_rows import Stamp, new_rows

__all__ = ["MMS", "SMS", "AdbPhone"]

logger = logging.getLogger("ferry.bridge.adb")

SMS = "android:sms"
MMS = "android:mms"
SEND_UNSUPPORTED = (
    "This phone is connected over ADB, which cannot send SMS without its screen; "
    "the message was not sent."
)
_QUERY_LIMIT = 16 * 1024 * 1024
_SMALL_LIMIT = 64 * 1024
_MMS_RETRIEVED = 132  # m_type of a downloaded MMS (a notification is 130)
_MMS_SEND_REQ = 128  # m_type of an MMS the user sent
_FROM = 137  # addr type of the sender
_TO = 151  # addr type of a recipient
_SENT_BOX = 2  # msg_box / sms type of the sent box
# Telephony.Sms: type 1 inbox, 2 sent, 5 failed to send; status 0 complete (delivered),
# 32 pending, 64 failed, -1 none requested.
_SMS_FAILED_TYPE = 5
_SMS_DELIVERED, _SMS_STATUS_FAILED = 0, 64


@dataclass(frozen=True)
class _Store:
    source: str
    uri: str
    where: str


_SMS_STORE = _Store(SMS, "content://sms", "type IN (1,2,5)")
_MMS_STORE = _Store(
    MMS,
    "content://mms",
    f"(m_type={_MMS_RETRIEVED} AND msg_box=1) OR (m_type={_MMS_SEND_REQ} AND msg_box=2)",
)
_STORES = (_SMS_STORE, _MMS_STORE)


def _imported(store: _Store) -> str:
    return f"imported:{store.source}"


def _sms_received(r: Row) -> Received:
    kind, status = int(r["type"] or 1), int(r["status"] or -1)
    out = kind != 1
    state = None
    if out:
        failed = kind == _SMS_FAILED_TYPE or status >= _SMS_STATUS_FAILED
        state = "failed" if failed else "delivered" if status == _SMS_DELIVERED else "sent"
    date = int(r["date"] or 0)
    return Received(
        key=f"android:sms:{r['_id']}:{date}",
        sender=r["address"] or "unknown",
        body=r["body"] or "",
        sent_at=_when(None if out else r["date_sent"], r["date"], scale=1000),
        source=SMS,
        position=int(r["_id"] or 0),
        stamp=date,
        direction="out" if out else "in",
        status=state,
    )


_SKIPPED_PARTS = ("application/smil",)
_PROVIDER_ERROR = "Error while accessing provider"


class AdbPhone:
    """Implements :class:`.base.Modem` and :class:`.base.DecodedInbox`.

    Args:
        serial: The phone's serial (``adb devices``); None when only one is connected.
        runner: Runs adb (default: the ``adb`` on ``PATH``).
        timeout: Seconds each adb call may take.
    """

    def __init__(
        self, serial: str | None = None, *, runner: AdbRunner | None = None, timeout: float = 30.0
    ) -> None:
        self._target = ["-s", serial] if serial else []
        self._run = runner or subprocess_runner()
        self._timeout = timeout
        self._closed = asyncio.Event()

    # ------------------------------------------------------------ Modem

    async def open(self) -> None:
        self._closed = asyncio.Event()
        state = (await self._adb(["get-state"], _SMALL_LIMIT)).decode().strip()
        if state != "device":
            raise AdbError(f"the phone is not ready (adb says {state[:40]!r})", command="get-state")
        logger.info("phone ready over adb")

    async def close(self) -> None:
        self._closed.set()

    async def list_messages(self) -> list[StoredMessage]:
        return []  # nothing in PDU form: see poll_new

    async def read_message(self, index: int) -> StoredMessage | None:
        return None

    async def delete_message(self, index: int) -> None:
        """The phone keeps its inbox."""

    async def send_sms(
        self, number: str, text: str, *, request_status_report: bool = False
    ) -> list[int]:
        raise SendNotSupported(SEND_UNSUPPORTED)

    async def next_event(self) -> ModemEvent:
        """No push from the phone: the bridge polls; this only ends when closed."""
        await self._closed.wait()
        raise ModemUnavailable("the adb driver was closed")

    async def status(self) -> ModemStatus:
        raw = await self._shell(["getprop", "gsm.operator.alpha"], _SMALL_LIMIT)
        names = [n.strip() for n in raw.split(",") if n.strip()]  # one per SIM slot
        return ModemStatus(signal_dbm=None, operator=names[0][:64] if names else None,
                           own_number=None)  # fmt: skip

    async def read_contacts(self) -> list[Contact]:
        try:
            rows = await self._rows(
                "content://com.android.contacts/data/phones", ["_id", "data1", "display_name"]
            )
            pairs = [(r["display_name"], r["data1"]) for r in rows]
        except AdbError:
            rows = await self._rows("content://contacts/phones", ["_id", "number", "name"])
            pairs = [(r["name"], r["number"]) for r in rows]
        found = dict.fromkeys(Contact(n or num, num) for n, num in pairs if num)
        return list(found)[:MAX_CONTACTS]

    # ----------------------------------------------------- DecodedInbox

    async def history_size(self, view: InboxView) -> int | None:
        if all(view.flag(_imported(store)) for store in _STORES):
            return None
        counts = [len(await self._ids(store)) for store in _STORES]
        return sum(counts)

    async def poll_new(self, view: InboxView, limit: int) -> list[Received]:
        found: list[Received] = []
        for store in _STORES:
            if len(found) >= limit:
                break
            rows = await new_rows(self, store.source, view, limit - len(found))
            found += await (self._sms(rows) if store is _SMS_STORE else self._mmses(rows))
        return found

    async def stamps(self, source: str, above: int, below: int | None = None) -> list[Stamp]:
        """(id, time) of the store's rows with ``above < _id < below``, by id."""
        store = _SMS_STORE if source == SMS else _MMS_STORE
        where = f"_id>{above}" + (f" AND _id<{below}" if below is not None else "")
        text = await self._query(store.uri, ["_id", "date"], f"{where} AND ({store.where})")
        return [
            (int(r["_id"] or 0), int(r["date"] or 0))
            for r in parse_rows(text, ["_id", "date"], ints={"_id", "date"})
        ]

    async def highest(self, source: str) -> int:
        store = _SMS_STORE if source == SMS else _MMS_STORE
        return max(await self._ids(store), default=0)

    async def _ids(self, store: _Store) -> list[int]:
        return ints_of(await self._query(store.uri, ["_id"], store.where))

    async def _sms(self, rows: list[Stamp]) -> list[Received]:
        if not rows:
            return []
        columns = ["_id", "date", "date_sent", "type", "status", "address", "body"]
        ids = ",".join(str(i) for i, _ in rows)
        found = await self._rows(
            "content://sms", columns, f"_id IN ({ids})",
            ints={"_id", "date", "date_sent", "type", "status"},
        )  # fmt: skip
        by_id = {int(r["_id"] or 0): r for r in found}
        # In the order asked for (newest first), rows gone meanwhile left out.
        return [_sms_received(by_id[i]) for i, _ in rows if i in by_id]

    async def _mmses(self, rows: list[Stamp]) -> list[Received]:
        if not rows:
            return []
        ids = ",".join(str(i) for i, _ in rows)
        found = await self._rows(
            "content://mms", ["_id", "date", "date_sent", "msg_box"], f"_id IN ({ids})",
            ints={"_id", "date", "date_sent", "msg_box"},
        )  # fmt: skip
        by_id = {int(r["_id"] or 0): r for r in found}
        return [await self._mms(by_id[i]) for i, _ in rows if i in by_id]

    async def _mms(self, row: Row) -> Received:
        mid = int(row["_id"] or 0)
        out = row["msg_box"] == str(_SENT_BOX)
        kind = _TO if out else _FROM
        peers = await self._rows(
            f"content://mms/{mid}/addr", ["_id", "type", "address"], f"type={kind}",
            ints={"_id", "type"},
        )  # fmt: skip
        parts = await self._rows(
            "content://mms/part", ["_id", "ct", "name", "cl", "text"], f"mid={mid}"
        )
        texts: list[str] = []
        attachments: list[Attachment] = []
        unread: list[tuple[str | None, str]] = []
        for p in parts:
            mime, name = (p["ct"] or "application/octet-stream"), p["name"] or p["cl"]
            if mime.lower() in _SKIPPED_PARTS:
                continue
            if mime.lower().startswith("text/plain") and p["text"] is not None:
                texts.append(p["text"])
                continue
            try:
                data = await self._read_part(int(p["_id"] or 0))
            except AdbOutputTooLarge:
                unread.append((name, mime))
                continue
            except _Unreadable:
                texts.append(f"[attachment could not be read: {name or mime}]")
                continue
            attachments.append(Attachment(mime=mime, data=data, name=name))
        date = int(row["date"] or 0)
        return Received(
            key=f"android:mms:{mid}:{date}",
            sender=(peers[0]["address"] if peers else None) or "unknown",
            body="\n".join(texts),
            sent_at=_when(row["date_sent"], row["date"], scale=1),
            source=MMS,
            position=mid,
            attachments=tuple(attachments),
            unread=tuple(unread),
            stamp=date,
            direction="out" if out else "in",
            status="sent" if out else None,
        )

    async def _read_part(self, part_id: int) -> bytes:
        # exec-out: raw bytes, no terminal; the phone's error text lands in the same stream.
        uri = f"content://mms/part/{part_id}"
        data = await self._adb(
            ["exec-out", shlex.join(["content", "read", "--uri", uri])],
            MAX_ATTACHMENT_BYTES,  # a larger part could never travel: not read at all
            slow=True,
        )
        if data.startswith(_PROVIDER_ERROR.encode()):
            logger.warning("the phone could not read MMS part %d", part_id)
            raise _Unreadable()
        return data

    # ----------------------------------------------------------- plumbing

    async def _rows(
        self,
        uri: str,
        columns: Sequence[str],
        where: str | None = None,
        *,
        ints: set[str] | None = None,
        limit: int | None = None,
    ) -> list[Row]:
        """Rows of ``uri`` ordered by ``_id``: ids first (unambiguous), then the columns
        for exactly those ids; ambiguous output is read again one column at a time."""
        ints = ints or {"_id"}
        ids = ints_of(await self._query(uri, ["_id"], where))[:limit]
        if not ids:
            return []
        bounded = f"_id>={ids[0]} AND _id<={ids[-1]}" + (f" AND ({where})" if where else "")
        try:
            rows = parse_rows(
                await self._query(uri, columns, bounded), columns, ints=ints, expect_rows=len(ids)
            )
            if [r["_id"] for r in rows] == [str(i) for i in ids]:
                return rows
        except AmbiguousOutput:
            pass
        logger.info("ambiguous query output from %s; reading %d rows one by one", uri, len(ids))
        return [await self._row(uri, i, columns, ints) for i in ids]

    async def _row(self, uri: str, row_id: int, columns: Sequence[str], ints: set[str]) -> Row:
        row: Row = {"_id": str(row_id)}
        for name in columns[1:]:
            text = await self._query(uri, ["_id", name], f"_id={row_id}")
            try:
                (found,) = parse_rows(text, ["_id", name], ints=ints | {"_id"}, expect_rows=1)
            except AmbiguousOutput:
                raise AdbOutputError(f"row {row_id} of {uri} vanished while read") from None
            row[name] = found[name]
        return row

    async def _query(self, uri: str, columns: Sequence[str], where: str | None) -> str:
        words = ["content", "query", "--uri", uri, "--projection", ":".join(columns)]
        if where:
            words += ["--where", where]
        return await self._shell([*words, "--sort", "_id ASC"], _QUERY_LIMIT)

    async def _shell(self, words: list[str], limit: int) -> str:
        # adb joins its arguments for the phone's shell: quote them as one command line.
        out = await self._adb(["shell", shlex.join(words)], limit)
        return out.decode("utf-8", errors="replace")

    async def _adb(self, args: list[str], limit: int, *, slow: bool = False) -> bytes:
        seconds = self._timeout * (2 if slow else 1)
        try:
            async with asyncio.timeout(seconds):
                result = await self._run([*self._target, *args], limit=limit)
        except TimeoutError:
            raise AdbError(f"adb did not answer within {seconds:g}s", command=args[0]) from None
        err = result.stderr.decode("utf-8", errors="replace")
        if result.code != 0:
            raise adb_failure(err, args[0])
        if _PROVIDER_ERROR in err:
            # The content command reports refusals on stderr and still exits 0.
            raise AdbError("the phone refused the query (permission?)", command=args[0])
        return result.stdout


class _Unreadable(Exception):
    """The phone could not open an MMS part (a refusal, not a lost connection)."""


def _when(sent: str | None, received: str | None, *, scale: int) -> datetime:
    """``date_sent`` when the phone knows it (the SMS centre's time), else ``date``."""
    for value in (sent, received):
        if value and int(value) > 0:
            return datetime.fromtimestamp(int(value) / scale, UTC)
    return datetime.fromtimestamp(0, UTC)
