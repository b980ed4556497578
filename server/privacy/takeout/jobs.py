"""Exports and imports as background jobs: start, progress, one download, expiry.

A job is a row (``storage/takeout.py``) and a task on the node that started it. Files
live in ``<data dir>/takeout`` (0700), under random names, never a user's:

* an export's ZIP from when it is written until its one download by the session that
  asked for it, or until a day has passed (:meth:`Takeout.sweep`, run periodically with
  the injected clock, deletes it and marks the job ``expired``);
* an import's upload until it has been read.

Both are sealed at rest with the job's own key (``sealedfile.py``).

One export and one import at a time per account. A job whose node died stops reporting
progress; the sweep marks it failed after :data:`STALLED` so the user can start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from server.hub import ChangesHint
from server.log import server_logger
from server.privacy.takeout.errors import Busy, FileTooLarge, NoDownload, TakeoutError
from server.privacy.takeout.export import write_export
from server.privacy.takeout.importer import import_backup, import_vcards
from server.privacy.takeout.sealedfile import open_sealed, seal_to
from server.services import Services
from server.storage.data_jobs import DONE, FAILED, READY, DataJobStore, Job
from server.storage.lines import Line
from server.storage.sealed import SealError
from server.storage.takeout import TakeoutStore

#: How long an export waits for its download.
EXPORT_TTL = timedelta(days=1)
#: A running job that has not reported progress for this long is taken as dead.
STALLED = timedelta(minutes=10)
#: Finished jobs (their state and counts, no data) are forgotten after this long.
FORGET = timedelta(days=30)
#: Largest import file taken by default (a backup of years of MMS is large).
MAX_IMPORT_BYTES = 1024 * 1024 * 1024
#: Import formats.
SMS_BACKUP, VCARD = "sms-backup", "vcard"

_log = server_logger.getChild("takeout")
#: An upload in progress reports it every this many bytes.
_UPLOAD_PROGRESS = 8 * 1024 * 1024


@dataclass(frozen=True)
class Download:
    """An export opened for its download: its bytes in clear, and how many."""

    file: IO[bytes]
    size: int


@dataclass(frozen=True)
class _Upload:
    """An import's upload, sealed on disk."""

    path: Path
    key: bytes
    context: bytes
    size: int

    def open(self) -> IO[bytes]:
        return open_sealed(self.path, self.key, self.context)


class Takeout:
    """The account's exports and imports (one per server node)."""

    def __init__(
        self, svc: Services, directory: Path, *, max_import_bytes: int = MAX_IMPORT_BYTES
    ) -> None:
        self._svc = svc
        self.jobs = DataJobStore(svc.engine, svc.keys)
        self.store = TakeoutStore(svc.engine, svc.keys)
        self.directory = directory
        self.max_import_bytes = max_import_bytes

    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _file(self, job: Job, suffix: str) -> str:
        return f"{job.kind}-{job.id}-{secrets.token_hex(8)}{suffix}"

    # ---------------------------------------------------------------- export

    async def start_export(self, account_id: int, session: str) -> Job:
        """Start writing the account's export; its progress shows on the job.

        Raises:
            Busy: an export of the account is running.
        """
        if await self.jobs.running(account_id, "export") is not None:
            raise Busy("An export is already being prepared.")
        now = self._svc.clock.now()
        # One export file per account at most: a new one replaces a ready one.
        for name in await self.jobs.supersede(account_id, now):
            await asyncio.to_thread(_remove_all, self.directory / name)
        job = await self.jobs.create_job(account_id, "export", session, now, now + EXPORT_TTL)
        self._svc.background.spawn(self._export(job, account_id), name=f"export-{job.id}")
        return job

    async def _export(self, job: Job, account_id: int) -> None:
        await asyncio.to_thread(self._prepare)
        name = self._file(job, ".zip")
        path = self.directory / name
        clock = self._svc.clock

        async def progress(done: int, total: int) -> None:
            await self.jobs.progress(job.id, done, total, clock.now())

        try:
            await self.jobs.set_file(job.id, name)
            key = await self.jobs.file_key(account_id, job)
            size = await write_export(self.store, account_id, path, key, clock.now(), progress)
        except Exception:
            _log.exception("export %d failed", job.id)
            await asyncio.to_thread(_remove, path)
            await self.jobs.finish(
                job.id, FAILED, clock.now(), error="The export could not be written."
            )
            return
        now = clock.now()
        await self.jobs.finish(
            job.id, READY, now, file=name, size=size, expires_at=now + EXPORT_TTL
        )
        _log.info("export %d ready (%d bytes)", job.id, size)

    async def open_download(self, account_id: int, job_id: int, session: str) -> Download:
        """The export's file, open (in clear), taken for its one download by the session
        that started it. The file is already gone from the directory when this returns (the
        open handle still reads it), so an interrupted download leaves nothing behind.

        Raises:
            NoDownload: nothing this session may download under ``job_id``.
        """
        job = await self.jobs.get(account_id, job_id)
        if (
            job is None
            or job.kind != "export"
            or job.file is None
            or not hmac.compare_digest(job.session.encode(), session.encode())
        ):
            raise NoDownload()
        path = self.directory / job.file
        try:
            key = await self.jobs.file_key(account_id, job)
            f = await asyncio.to_thread(open_sealed, path, key, job.file.encode())
        except (OSError, SealError):  # written on another node (its own directory), or gone
            raise NoDownload() from None
        if not await self.jobs.claim_download(account_id, job_id, self._svc.clock.now()):
            await asyncio.to_thread(f.close)
            raise NoDownload()
        await asyncio.to_thread(_remove, path)
        await self.jobs.finish(job_id, "downloaded", self._svc.clock.now(), size=job.size)
        return Download(f, job.size or 0)

    # ---------------------------------------------------------------- import

    async def receive_import(
        self,
        account_id: int,
        session: str,
        fmt: str,
        line: Line,
        body: AsyncIterator[bytes],
        length: int | None,
    ) -> Job:
        """Stream an upload to disk (bounded), then import it in the background.

        Raises:
            Busy: an import of the account is running.
            FileTooLarge: over :attr:`max_import_bytes`.
        """
        if length is not None and length > self.max_import_bytes:
            raise FileTooLarge()
        if await self.jobs.running(account_id, "import") is not None:
            raise Busy("An import is already running.")
        await asyncio.to_thread(self._prepare)
        now = self._svc.clock.now()
        job = await self.jobs.create_job(account_id, "import", session, now, now + EXPORT_TTL)
        name = self._file(job, ".upload")
        path = self.directory / name
        try:
            await self.jobs.set_file(job.id, name)
            key = await self.jobs.file_key(account_id, job)
            size = await self._receive(job, body, path, key, length)
        except BaseException as exc:
            await asyncio.to_thread(_remove, path)
            reason = (
                "The file is too large."
                if isinstance(exc, FileTooLarge)
                else "The upload broke off."
            )
            await self.jobs.finish(job.id, FAILED, self._svc.clock.now(), error=reason)
            raise
        upload = _Upload(path, key, name.encode(), size)
        self._svc.background.spawn(
            self._import(job, account_id, fmt, line, upload), name=f"import-{job.id}"
        )
        return job

    async def _receive(
        self, job: Job, body: AsyncIterator[bytes], path: Path, key: bytes, length: int | None
    ) -> int:
        """Write the upload to ``path``, sealed; returns its size. The job's progress
        counts the bytes received, so a long upload is not taken for a dead job."""
        received = reported = 0
        f = await asyncio.to_thread(seal_to, path, key, path.name.encode())
        try:
            async for chunk in body:
                received += len(chunk)
                if received > self.max_import_bytes:
                    raise FileTooLarge()
                await asyncio.to_thread(f.write, chunk)
                if received - reported >= _UPLOAD_PROGRESS:
                    reported = received
                    await self.jobs.progress(job.id, 0, 0, self._svc.clock.now())
        finally:
            await asyncio.to_thread(f.close)
        return received

    async def _import(
        self, job: Job, account_id: int, fmt: str, line: Line, upload: _Upload
    ) -> None:
        clock = self._svc.clock

        async def progress(done: int, total: int) -> None:
            await self.jobs.progress(job.id, done, total, clock.now())

        async def changed(seq: int | None) -> None:
            if seq is None:
                seq = await self._svc.conversations.current_seq(account_id)
            self._svc.hub.publish(account_id, ChangesHint(seq))

        try:
            if fmt == VCARD:
                summary = await import_vcards(self.store, account_id, line, upload.open, changed)
            else:
                summary = await import_backup(
                    self.store,
                    account_id,
                    line,
                    upload.open,
                    upload.size,
                    clock.now,
                    progress,
                    changed,
                )
        except TakeoutError as exc:
            await self.jobs.finish(job.id, FAILED, clock.now(), error=str(exc))
            return
        except Exception:
            _log.exception("import %d failed", job.id)
            await self.jobs.finish(
                job.id, FAILED, clock.now(), error="The import stopped on a server error."
            )
            return
        finally:
            await asyncio.to_thread(_remove, upload.path)
        await self.jobs.finish(job.id, DONE, clock.now(), summary=summary.as_dict())
        _log.info("import %d done: %s", job.id, summary.as_dict())

    # ----------------------------------------------------------------- sweep

    async def sweep(self) -> int:
        """Delete exports past their day and files of finished jobs; fail stalled jobs.
        Returns the jobs swept."""
        now = self._svc.clock.now()
        swept = await self.jobs.sweep(now, now - STALLED, now - FORGET)
        for job in swept:
            if job.file is not None:
                await asyncio.to_thread(_remove_all, self.directory / job.file)
        return len(swept)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _remove_all(path: Path) -> None:
    """A job's file and what an export cut off left beside it (``<file>.parts``)."""
    _remove(path)
    shutil.rmtree(path.with_name(path.name + ".parts"), ignore_errors=True)
