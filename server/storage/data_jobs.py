"""Exports and imports as rows (``schema.data_jobs``): their state and progress, the
file each writes, and its key.

Any tab of the account sees a job's progress. An export's file may be downloaded once,
by the session that started it: :meth:`DataJobStore.claim_download` moves ``ready`` to
``downloaded`` in one conditional UPDATE, so two requests cannot both get it. Each job
has a random file key, sealed with the account's data key in its row
(``server/privacy/takeout/sealedfile.py`` seals the file with it).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.keys import KeyRing
from server.storage.schema import data_jobs
from server.storage.sealed import SealError
from server.storage.util import new_id
from server.storage.views import iso

#: States of a job.
RUNNING, READY, DOWNLOADED, EXPIRED, DONE, FAILED = (
    "running",
    "ready",
    "downloaded",
    "expired",
    "done",
    "failed",
)


@dataclass(frozen=True)
class Job:
    """An export or import as its owner sees it."""

    id: int
    kind: str
    state: str
    done: int
    total: int
    size: int | None
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    expires_at: datetime
    #: Internal: the session that started it, the file's name and its sealed key.
    session: str = field(repr=False, default="")
    file: str | None = field(repr=False, default=None)
    file_key: bytes | None = field(repr=False, default=None)

    def public(self, session: str | None = None) -> dict[str, Any]:
        """What the REST API shows (never the session or the file's name);
        ``downloadable``: a ready export that ``session`` may download."""
        mine = session is not None and hmac.compare_digest(self.session, session)
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "size": self.size,
            "summary": self.summary,
            "error": self.error,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "downloadable": self.kind == "export" and self.state == READY and mine,
        }


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        state=row.state,
        done=row.done,
        total=row.total,
        size=row.size,
        summary=json.loads(row.summary) if row.summary else None,
        error=row.error,
        created_at=row.created_at,
        expires_at=row.expires_at,
        session=row.session,
        file=row.file,
        file_key=row.file_key,
    )


def _key_context(job_id: int) -> bytes:
    return b"takeout-file-key:%d" % job_id


class DataJobStore:
    def __init__(self, engine: AsyncEngine, keys: KeyRing) -> None:
        self._engine = engine
        self._keys = keys

    async def create_job(
        self, account_id: int, kind: str, session: str, now: datetime, expires_at: datetime
    ) -> Job:
        """A new running job, with a fresh file key (sealed in its row)."""
        cipher = await self._keys.cipher(account_id)
        async with self._engine.begin() as conn:
            res = await conn.execute(
                insert(data_jobs).values(
                    account_id=account_id,
                    kind=kind,
                    session=session,
                    state=RUNNING,
                    created_at=now,
                    updated_at=now,
                    expires_at=expires_at,
                )
            )
            job_id = new_id(res)
            sealed = cipher.seal_bytes(secrets.token_bytes(32), _key_context(job_id))
            await conn.execute(
                update(data_jobs).where(data_jobs.c.id == job_id).values(file_key=sealed)
            )
            row = (await conn.execute(select(data_jobs).where(data_jobs.c.id == job_id))).one()
        return _job(row)

    async def file_key(self, account_id: int, job: Job) -> bytes:
        """The job's file key, opened.

        Raises:
            SealError: it does not open (the account's data key is gone, or tampering).
        """
        if job.file_key is None:
            raise SealError("the job has no file key")
        cipher = await self._keys.cipher(account_id)
        return cipher.open_bytes(job.file_key, _key_context(job.id))

    async def running(self, account_id: int, kind: str) -> Job | None:
        """The account's job of this kind that is still running, if any."""
        query = select(data_jobs).where(
            data_jobs.c.account_id == account_id,
            data_jobs.c.kind == kind,
            data_jobs.c.state == RUNNING,
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query.limit(1))).first()
        return None if row is None else _job(row)

    async def set_file(self, job_id: int, name: str) -> None:
        """Name the job's file as soon as it exists, so a job cut off by a crash still
        has its file found and deleted by :meth:`sweep`."""
        async with self._engine.begin() as conn:
            await conn.execute(update(data_jobs).where(data_jobs.c.id == job_id).values(file=name))

    async def supersede(self, account_id: int, now: datetime) -> list[str]:
        """A new export replaces the account's ready ones (marked ``expired``); returns
        their files, to delete."""
        async with self._engine.begin() as conn:
            rows = list(
                await conn.execute(
                    select(data_jobs.c.id, data_jobs.c.file).where(
                        data_jobs.c.account_id == account_id,
                        data_jobs.c.kind == "export",
                        data_jobs.c.state == READY,
                    )
                )
            )
            for job_id, _ in rows:
                await conn.execute(
                    update(data_jobs)
                    .where(data_jobs.c.id == job_id, data_jobs.c.state == READY)
                    .values(state=EXPIRED, file=None, updated_at=now)
                )
        return [name for _, name in rows if name]

    async def progress(self, job_id: int, done: int, total: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(data_jobs)
                .where(data_jobs.c.id == job_id, data_jobs.c.state == RUNNING)
                .values(done=done, total=total, updated_at=now)
            )

    async def finish(
        self,
        job_id: int,
        state: str,
        now: datetime,
        *,
        file: str | None = None,
        size: int | None = None,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": now, "file": file, "size": size}
        if summary is not None:
            values["summary"] = json.dumps(summary)
        if error is not None:
            values["error"] = error[:200]
        if expires_at is not None:
            values["expires_at"] = expires_at
        async with self._engine.begin() as conn:
            await conn.execute(update(data_jobs).where(data_jobs.c.id == job_id).values(**values))

    async def get(self, account_id: int, job_id: int) -> Job | None:
        query = select(data_jobs).where(
            data_jobs.c.id == job_id, data_jobs.c.account_id == account_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _job(row)

    async def recent(self, account_id: int, limit: int = 10) -> list[Job]:
        """The account's latest jobs, newest first."""
        query = (
            select(data_jobs)
            .where(data_jobs.c.account_id == account_id)
            .order_by(data_jobs.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_job(r) for r in await conn.execute(query)]

    async def claim_download(self, account_id: int, job_id: int, now: datetime) -> bool:
        """Take a ready export for its one download (``ready`` → ``downloaded``)."""
        async with self._engine.begin() as conn:
            res = await conn.execute(
                update(data_jobs)
                .where(
                    data_jobs.c.id == job_id,
                    data_jobs.c.account_id == account_id,
                    data_jobs.c.state == READY,
                    data_jobs.c.expires_at > now,
                )
                .values(state=DOWNLOADED, updated_at=now)
            )
        return bool(res.rowcount)

    async def sweep(
        self, now: datetime, stalled_before: datetime, forget_before: datetime
    ) -> list[Job]:
        """Jobs whose files must go: exports past their time (now ``expired``), and jobs
        still ``running`` that stopped reporting progress before ``stalled_before`` (their
        process died: now ``failed``). Returns them, with the files to delete; downloaded
        and finished jobs that still name a file are returned too. Finished jobs last
        changed before ``forget_before`` are deleted: their history is not kept."""
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(data_jobs).where(
                    data_jobs.c.state.not_in((READY, RUNNING)),
                    data_jobs.c.file.is_(None),
                    data_jobs.c.updated_at < forget_before,
                )
            )
            rows = list(
                await conn.execute(
                    select(data_jobs).where(
                        ((data_jobs.c.state == READY) & (data_jobs.c.expires_at <= now))
                        | (
                            (data_jobs.c.state == RUNNING)
                            & (data_jobs.c.updated_at < stalled_before)
                        )
                        | (
                            data_jobs.c.file.is_not(None)
                            & (data_jobs.c.state != READY)
                            & (data_jobs.c.state != RUNNING)
                        )
                    )
                )
            )
            for r in rows:
                state = {READY: EXPIRED, RUNNING: FAILED}.get(r.state, r.state)
                values: dict[str, Any] = {"state": state, "file": None, "updated_at": now}
                if r.state == RUNNING:
                    values["error"] = "It stopped (the server restarted?); start it again."
                await conn.execute(
                    update(data_jobs)
                    .where(data_jobs.c.id == r.id, data_jobs.c.state == r.state)
                    .values(**values)
                )
        return [_job(r) for r in rows]
