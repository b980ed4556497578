"""The bridge on the phone itself, in Termux, through the Termux:API commands.

Edge adapter: every call is one ``termux-*`` command (Termux:API app + ``termux-api``
package) whose JSON output is read with a size limit:

* ``termux-sms-list -t all -l N -o K`` — SMS of every box, newest first in pages (the
  command prints each page oldest first); each row has ``_id``, ``type`` (``inbox``,
  ``sent``, ``failed``, …), ``address``/``number``, ``body`` and ``received`` (the
  phone's local time, ``yyyy-MM-dd HH:mm:ss``). Termux reads no MMS.
* ``termux-sms-send -n NUMBER [-s SLOT]`` with the text on standard input (not as
  arguments: the script passes arguments through ``echo``, which mangles backslashes).
  Android reports nothing back to Termux: no delivery report, not even whether the
  network took it. A send that started is ``sent`` ("sent from phone"), never
  ``delivered``.
* ``termux-contact-list`` and ``termux-telephony-deviceinfo``.

Which rows are new: each poll reads the newest page and takes the rows not in the
journal's seen set; while the history is imported it also reads the next older page
(pages overlap by :data:`OVERLAP` rows, so rows the user deletes meanwhile cannot shift
an unread row past the import). Polling costs one short command per
``--poll-interval``; the phone sleeps in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from device_bridge.android.errors import PhoneAppError, SendMaybeSent, SendRefused
from device_bridge.gsm.errors import ModemUnavailable
from protocol.messages import MAX_CONTACTS

from .base import Contact, InboxView, ModemEvent, ModemStatus, Received, StoredMessage

__all__ = ["SOURCE", "TermuxPhone"]

logger = logging.getLogger("ferry.bridge.termux")

SOURCE = "termux:sms"
#: Rows per ``termux-sms-list`` call.
PAGE = 200
#: Rows each import page re-reads of the one before.
OVERLAP = 20
#: Rows below the highest id taken that count as new if not taken (ids mostly grow).
WINDOW = 100
_OUTPUT_LIMIT = 32 * 1024 * 1024
_KINDS = {"inbox": "in", "sent": "out", "failed": "out"}
_IMPORTED = f"imported:{SOURCE}"


class TermuxPhone:
    """Implements :class:`.base.Modem` and :class:`.base.DecodedInbox` in Termux.

    Args:
        sim_slot: The SIM slot to send from (0-based, as ``termux-sms-send -s``), or None
            for the phone's default.
        timeout: Seconds each command may take (Termux:API starts an activity: slow).
    """

    def __init__(self, *, sim_slot: int | None = None, timeout: float = 60.0) -> None:
        self._slot = sim_slot
        self._timeout = timeout
        self._closed = asyncio.Event()
        # The import page returned by the last poll; recorded as read at the next poll,
        # by when the bridge has journaled it.
        self._pending_offset: int | None = None
        self._offset = 0

    # ------------------------------------------------------------ Modem

    async def open(self) -> None:
        self._closed = asyncio.Event()
        info = await self._json(["termux-telephony-deviceinfo"])
        if not isinstance(info, dict):
            raise PhoneAppError("termux-telephony-deviceinfo printed no object")
        logger.info("phone ready through Termux:API")

    async def close(self) -> None:
        self._closed.set()

    async def list_messages(self) -> list[StoredMessage]:
        return []

    async def read_message(self, index: int) -> StoredMessage | None:
        return None

    async def delete_message(self, index: int) -> None:
        """The phone keeps its messages."""

    async def send_sms(
        self, number: str, text: str, *, request_status_report: bool = False
    ) -> list[int]:
        args = ["termux-sms-send", "-n", number]
        if self._slot is not None:
            args += ["-s", str(self._slot)]
        try:
            code, _, err = await self._run(args, stdin=text.encode())
        except ModemUnavailable as exc:
            raise SendMaybeSent(
                "Termux stopped answering while sending; the message may or may not have been sent."
            ) from exc
        if code != 0:
            raise SendRefused(f"Termux could not send the message ({_first_line(err)}).")
        return []  # no references: Android tells Termux nothing more

    async def next_event(self) -> ModemEvent:
        """Nothing is pushed: the bridge polls; this only ends when closed."""
        await self._closed.wait()
        raise ModemUnavailable("the Termux driver was closed")

    async def status(self) -> ModemStatus:
        info = await self._json(["termux-telephony-deviceinfo"])
        name = info.get("network_operator_name") if isinstance(info, dict) else None
        operator = name.strip()[:64] if isinstance(name, str) and name.strip() else None
        return ModemStatus(signal_dbm=None, operator=operator, own_number=None)

    async def read_contacts(self) -> list[Contact]:
        found = await self._json(["termux-contact-list"])
        entries = found if isinstance(found, list) else []
        contacts = dict.fromkeys(
            Contact(str(e.get("name") or e["number"]), str(e["number"]))
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("number"), str) and e["number"].strip()
        )
        return list(contacts)[:MAX_CONTACTS]

    # ----------------------------------------------------- DecodedInbox

    async def history_size(self, view: InboxView) -> int | None:
        return None  # Termux cannot count without reading everything

    async def poll_new(self, view: InboxView, limit: int) -> list[Received]:
        if self._pending_offset is not None:
            self._offset, self._pending_offset = self._pending_offset, None
        imported = view.flag(_IMPORTED)
        top = view.cursors().get(SOURCE, 0)
        taken: list[Received] = []
        if top or imported:
            # New rows: pages from the newest back to the re-scan window below the
            # highest id taken (more than a page after a long time away), taken oldest
            # first so that the highest id taken never passes one not taken yet.
            offset, fresh = 0, []
            while True:
                count, page = await self._page(offset)
                fresh += _unseen(view, page)
                if count < PAGE or min((r.position for r in page), default=0) <= top - WINDOW:
                    break
                offset += count
            if not imported:  # below the lowest id taken lies the history (step 2)
                low = view.low(SOURCE) or 0
                fresh = [r for r in fresh if r.position > low]
            taken = sorted(fresh, key=lambda r: r.position)[:limit]
        if len(taken) < limit and not imported:
            taken += await self._history(view, limit - len(taken), taken)
        return taken

    async def _history(self, view: InboxView, room: int, taken: list[Received]) -> list[Received]:
        """The next older page of the history with something new in it (see the module
        docstring); the page is recorded as read at the next poll, once journaled."""
        while True:
            start = max(0, self._offset - OVERLAP)
            count, page = await self._page(start)
            older = [r for r in _unseen(view, page) if r not in taken]
            if not older and (count < PAGE or start + count <= self._offset):
                view.set_flag(_IMPORTED)  # the oldest page holds nothing new
                return []
            if not older:
                self._offset = start + count  # nothing to journal: read on at once
                continue
            if len(older) <= room:
                self._pending_offset = start + count
            return older[:room]

    async def _page(self, offset: int) -> tuple[int, list[Received]]:
        """How many rows the page had, and its messages, newest first."""
        rows = await self._json(
            ["termux-sms-list", "-t", "all", "-l", str(PAGE), "-o", str(offset)]
        )
        if not isinstance(rows, list):
            raise PhoneAppError("termux-sms-list printed no list")
        return len(rows), [r for row in reversed(rows) if (r := _received(row)) is not None]

    # ----------------------------------------------------------- plumbing

    async def _json(self, args: Sequence[str]) -> Any:
        code, out, err = await self._run(args)
        if code != 0:
            raise PhoneAppError(f"{args[0]} failed: {_first_line(err)}")
        try:
            return json.loads(out or b"null")
        except ValueError:
            raise PhoneAppError(f"{args[0]} printed no JSON (is Termux:API installed?)") from None

    async def _run(
        self, args: Sequence[str], stdin: bytes | None = None
    ) -> tuple[int, bytes, bytes]:
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=_OUTPUT_LIMIT,
            )
        except FileNotFoundError:
            raise PhoneAppError(
                f"'{args[0]}' was not found: run 'pkg install termux-api' in Termux "
                "and install the Termux:API app"
            ) from None
        except OSError as exc:
            raise PhoneAppError(f"cannot run '{args[0]}': {exc.strerror}") from None
        try:
            async with asyncio.timeout(self._timeout):
                out, err = await proc.communicate(stdin)
        except TimeoutError:
            raise PhoneAppError(f"{args[0]} did not answer within {self._timeout:g}s") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if len(out) > _OUTPUT_LIMIT:
            raise PhoneAppError(f"{args[0]} printed more than {_OUTPUT_LIMIT} bytes")
        return proc.returncode or 0, out, err


def _unseen(view: InboxView, rows: list[Received]) -> list[Received]:
    fresh = set(view.unseen(SOURCE, [(r.position, r.stamp or 0) for r in rows]))
    return [r for r in rows if (r.position, r.stamp or 0) in fresh]


def _received(row: object) -> Received | None:
    """A ``termux-sms-list`` row, or None for drafts, queued rows and nonsense."""
    if not isinstance(row, dict):
        return None
    direction = _KINDS.get(str(row.get("type")))
    sms_id, when = row.get("_id"), row.get("received")
    if direction is None or type(sms_id) is not int or not isinstance(when, str):
        return None
    try:
        # The phone's local time: the bridge runs on the phone, in its time zone.
        sent_at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").astimezone()
    except ValueError:
        return None
    stamp = int(sent_at.timestamp())
    address = row.get("address") or row.get("number")
    body = row.get("body")
    status = None if direction == "in" else "failed" if row.get("type") == "failed" else "sent"
    return Received(
        key=f"termux:sms:{sms_id}:{stamp}",
        sender=address if isinstance(address, str) and address else "unknown",
        body=body if isinstance(body, str) else "",
        sent_at=sent_at,
        source=SOURCE,
        position=sms_id,
        stamp=stamp,
        direction=direction,
        status=status,
    )


def _first_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:200] if text else "no output"
