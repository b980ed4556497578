"""Writing an account's export ZIP, page by page (the driver around ``smsbackup`` and
``vcard``).

The ZIP holds:

* ``ferry-export.json``: everything Ferry keeps about the account (settings, lines,
  devices, threads, contacts, security events, connected apps, messages), attachments
  named by their path in the ZIP;
* ``attachments/<message id>-<position><ext>``: each attachment's bytes;
* ``sms-backup.xml``: the messages in the "SMS Backup & Restore" format, attachments
  inline as base64, so a phone can restore them;
* ``contacts.vcf``: the contacts, vCard 3.0.

The ZIP, and the documents waiting to go into it, are sealed on disk with the job's file
key as they are written (``sealedfile.py``): nothing of the account lies in clear in the
data directory.

Memory stays bounded whatever the account's size: messages are read conversation by
conversation, a page at a time, and opened page by page, attachments a few MiB at a time;
the JSON and XML documents are written to files beside the ZIP as they grow and copied
into it at the end (a ZIP takes one member at a time, and attachments go in while the
messages are being read).
File writes run in a worker thread, so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import json
import mimetypes
import secrets
import shutil
import zipfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from server.privacy.takeout import sealedfile, smsbackup, vcard
from server.storage.takeout import ExportMessage, TakeoutStore
from server.storage.views import iso

#: Messages per page read from storage.
PAGE = 500
#: Attachment bytes opened in memory at once (about: one MMS holds at most 640 KiB).
ATTACHMENT_BYTES = 4 * 1024 * 1024
JSON_NAME = "ferry-export.json"
XML_NAME = "sms-backup.xml"
VCF_NAME = "contacts.vcf"
FORMAT = "ferry-export"
VERSION = 1

_README = """\
Your data from Ferry, exported {when}.

ferry-export.json  everything Ferry keeps about your account, messages included
attachments/       the pictures and files of your MMS (named in ferry-export.json)
sms-backup.xml     your messages in the "SMS Backup & Restore" format: restore them to
                   an Android phone with that app, or import them into another Ferry
contacts.vcf       your contacts (vCard 3.0)
"""

Progress = Callable[[int, int], Awaitable[None]]

#: Ferry's status of a sent message → the app's (sms type, sms status, mms box).
_OUT_BOX = {
    "delivered": (smsbackup.SENT, smsbackup.STATUS_COMPLETE, smsbackup.SENT),
    "sent": (smsbackup.SENT, smsbackup.STATUS_NONE, smsbackup.SENT),
    "sent_no_report": (smsbackup.SENT, smsbackup.STATUS_NONE, smsbackup.SENT),
    "failed": (smsbackup.FAILED, smsbackup.STATUS_FAILED, smsbackup.OUTBOX),
}
_UNSETTLED = (smsbackup.OUTBOX, smsbackup.STATUS_PENDING, smsbackup.OUTBOX)


async def write_export(
    store: TakeoutStore,
    account_id: int,
    path: Path,
    key: bytes,
    now: datetime,
    progress: Progress,
) -> int:
    """Write the account's export to ``path`` (a ZIP sealed with ``key``, context
    ``path.name``); returns the ZIP's size in bytes (in clear)."""
    overview = await store.overview(account_id)
    total, as_sms = await store.message_count(account_id)
    unread = await store.unread_ids(account_id)
    await progress(0, total)
    numbers = {line["id"]: line["number"] for line in overview["lines"]}
    names = {(c["line"], c["number"]): c["name"] for c in overview["contacts"]}
    work = path.with_name(path.name + ".parts")
    await asyncio.to_thread(work.mkdir, mode=0o700)
    sealed = await asyncio.to_thread(sealedfile.seal_to, path, key, path.name.encode())
    parts = _Parts(work, key)
    try:
        with (
            sealed,
            zipfile.ZipFile(sealed, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
            await asyncio.to_thread(parts.writer, "json") as js,
            await asyncio.to_thread(parts.writer, "xml") as xml,
        ):
            head = _json_head(overview, now)
            await asyncio.to_thread(_write, js, head)
            await asyncio.to_thread(_write, xml, smsbackup.header(as_sms, _uuid(), now))
            done, first = 0, True
            for thread_id in await store.thread_ids(account_id):
                after = 0
                while page := await store.message_page(account_id, thread_id, after, PAGE):
                    # Attachments are opened a few MiB at a time (a page of MMS could
                    # otherwise hold hundreds of MiB).
                    for part in _by_attachment_bytes(page):
                        files = {
                            m.id: await store.attachments(account_id, m.id)
                            for m in part
                            if m.attachments
                        }
                        await asyncio.to_thread(
                            _write_page, zf, js, xml, part, files, numbers, names, unread, first
                        )
                        first = False
                    after = page[-1].id
                    done += len(page)
                    await progress(done, max(total, done))
            await asyncio.to_thread(_write, js, "\n]}\n")
            await asyncio.to_thread(_write, xml, smsbackup.FOOTER)
            js.close()
            xml.close()
            await asyncio.to_thread(_finish_zip, zf, parts, overview, now)
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    return sealed.plain_size


class _Parts:
    """The JSON and XML documents while they grow, sealed beside the ZIP."""

    def __init__(self, work: Path, key: bytes) -> None:
        self.work = work
        self.key = key

    def writer(self, name: str) -> IO[str]:
        raw = sealedfile.seal_to(self.work / name, self.key, name.encode())
        return io.TextIOWrapper(io.BufferedWriter(raw, sealedfile.CHUNK), encoding="utf-8")

    def reader(self, name: str) -> IO[bytes]:
        return sealedfile.open_sealed(self.work / name, self.key, name.encode())


def _by_attachment_bytes(page: list[ExportMessage]) -> list[list[ExportMessage]]:
    """The page cut into runs whose attachments hold at most :data:`ATTACHMENT_BYTES`
    together (a message with more is a run of its own)."""
    runs: list[list[ExportMessage]] = [[]]
    held = 0
    for m in page:
        size = sum(s for _, s in m.attachments)
        if runs[-1] and held + size > ATTACHMENT_BYTES:
            runs.append([])
            held = 0
        runs[-1].append(m)
        held += size
    return runs


def _uuid() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _write(f: IO[str], text: str) -> None:
    f.write(text)


def _json_head(overview: dict[str, Any], now: datetime) -> str:
    """The JSON document up to its messages array, which the pages then fill."""
    head = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso(now),
        **overview,
    }
    text = json.dumps(head, ensure_ascii=False, indent=1)
    return text[: text.rindex("}")].rstrip() + ',\n "messages": [\n'


def _attachment_path(message_id: int, position: int, mime: str) -> str:
    ext = mimetypes.guess_extension(mime) or ".bin"
    return f"attachments/{message_id}-{position}{ext}"


def _write_page(
    zf: zipfile.ZipFile,
    js: IO[str],
    xml: IO[str],
    page: list[ExportMessage],
    files: dict[int, list[Any]],
    numbers: dict[int, str],
    names: dict[tuple[str, str], str],
    unread: set[int],
    first: bool,
) -> None:
    """One page into the three documents (in a worker thread)."""
    # Each entry and element is written as it is made: an MMS's element carries its
    # pictures in base64, and a run of them joined would hold several copies at once.
    for m in page:
        line = numbers.get(m.line_id, "")
        parts = files.pop(m.id, [])  # dropped once written
        paths = []
        for position, part in enumerate(parts):
            name = _attachment_path(m.id, position, part.mime)
            # Pictures and videos are compressed already: stored as they are.
            zf.writestr(name, part.data, zipfile.ZIP_STORED)
            paths.append(
                {"mime": part.mime, "name": part.name, "size": len(part.data), "file": name}
            )
        js.write("" if first else ",\n")
        first = False
        js.write(
            json.dumps(
                {
                    "id": m.id,
                    "thread_id": m.thread_id,
                    "line": line,
                    "peer": m.peer,
                    "direction": m.direction,
                    "body": m.body,
                    "status": m.status,
                    "timestamp": iso(m.timestamp),
                    "read": m.id not in unread,
                    "incomplete": m.incomplete,
                    "refused": m.refused,
                    "error": m.error,
                    "attachments": paths,
                },
                ensure_ascii=False,
            )
        )
        if m.refused is None:
            xml.write(_element(m, line, names.get((line, m.peer)), m.id not in unread, parts))


def _element(m: ExportMessage, line: str, contact: str | None, read: bool, parts: list[Any]) -> str:
    if m.direction == "in":
        sms_box, status, mms_box = smsbackup.RECEIVED, smsbackup.STATUS_NONE, smsbackup.RECEIVED
    else:
        sms_box, status, mms_box = _OUT_BOX.get(m.status, _UNSETTLED)
    if parts:
        return smsbackup.mms_element(
            address=m.peer,
            own_number=line,
            when=m.timestamp,
            box=mms_box,
            body=m.body,
            read=read,
            contact_name=contact,
            parts=[(p.mime, p.name, p.data) for p in parts],
        )
    return smsbackup.sms_element(
        address=m.peer,
        when=m.timestamp,
        box=sms_box,
        body=m.body,
        read=read,
        status=status,
        contact_name=contact,
    )


def _finish_zip(
    zf: zipfile.ZipFile, parts: _Parts, overview: dict[str, Any], now: datetime
) -> None:
    for member, source in ((JSON_NAME, "json"), (XML_NAME, "xml")):
        with parts.reader(source) as src, zf.open(member, "w", force_zip64=True) as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
    zf.writestr(
        VCF_NAME, "".join(vcard.write_card(c["name"], [c["number"]]) for c in overview["contacts"])
    )
    zf.writestr("README.txt", _README.format(when=iso(now)))
