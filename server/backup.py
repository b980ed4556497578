"""Backups of the SQLite database: ``ferry admin backup`` and ``ferry admin restore``.

Backup, while the server runs::

    ferry.db ─ SQLite online backup, one step: one read transaction, so the copy is the
               database as of one commit while the server goes on writing (WAL)
             ─▶ OUT.partial (0600) ─▶ quick_check ─▶ rollback-journal mode (one
               self-contained file) ─▶ fsync ─▶ renamed to OUT

Restore, with the server stopped::

    refuse while a server process runs from the data directory (its listening.json)
    check the backup: quick_check, a migration revision this code knows, and that the
        data directory's master key opens its accounts' data keys
    the database it replaces (with its -wal/-shm) ─▶ ferry.db.before-restore-<time>
    copy ─▶ ferry.db ─▶ migrated to this version ─▶ every account gets a new cursor epoch

The new epochs make every browser that saw the lost history refetch instead of resuming
a cursor whose seqs the restored database hands out again (``server/storage/epochs.py``);
the next start would notice the older database too (``server/continuity.py``), but not
when the data directory was restored with it.

**No keys go into a backup.** ``master.key`` (or ``FERRY_MASTER_KEY``) is the only way to
read the bodies and attachments in it, and ``server.key`` is what paired bridges trust:
keep one copy of each, once, apart from the database backups and as safe as the keys
themselves. A backup that carried its key would hand every message to whoever finds it;
a backup without its key is unreadable for good.

PostgreSQL: ``pg_dump`` / ``pg_restore`` (README, "Running in production"), then
``ferry admin new-epoch``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from server import listening
from server.storage.engine import MIGRATIONS
from server.storage.sealed import KEY_FILE as MASTER_KEY_FILE
from server.storage.sealed import BodyCipher, MasterKeyError, SealError, load_master_key

_SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """What a backup file holds."""

    path: Path
    size: int
    revision: str
    accounts: int


def backup(db: Path, out: Path) -> Snapshot:
    """Copy the live database ``db`` into the new file ``out`` (module docstring).

    Raises:
        BackupError: no database at ``db``, ``out`` exists, or the copy is damaged.
    """
    if not db.is_file():
        raise BackupError(f"there is no database at {db}")
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new name")
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        source = sqlite3.connect(db, timeout=30)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # one step: one consistent read of the whole file
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            source.close()
        snapshot = inspect(partial)
        _fsync(partial)
        os.replace(partial, out)
        _fsync(out.parent)
    finally:
        partial.unlink(missing_ok=True)
    return Snapshot(out, out.stat().st_size, snapshot.revision, snapshot.accounts)


def inspect(path: Path) -> Snapshot:
    """Check a backup file and say what it holds.

    Raises:
        BackupError: not a sound Ferry database of a version this code knows.
    """
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be opened ({exc})") from None
    try:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is damaged (SQLite's quick_check fails)")
        revision = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        accounts = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is not a Ferry database ({exc})") from None
    finally:
        db.close()
    try:
        known = _scripts().get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"{path} was made by another version of Ferry (migration {revision} is "
            "unknown here); restore it with that version or a newer one"
        )
    return Snapshot(path, path.stat().st_size, str(revision), int(accounts))


def _scripts() -> ScriptDirectory:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def check_stopped(data_dir: Path) -> None:
    """Raises BackupError while a server process runs from ``data_dir``."""
    found = listening.read(data_dir)
    if found is not None and listening.process_exists(found.pid):
        raise BackupError(
            f"a server (process {found.pid}) runs from {data_dir}: stop it first. If no "
            f"server runs there, remove {data_dir / listening.FILE_NAME}"
        )


def check_master_key(backup_file: Path, data_dir: Path) -> None:
    """Raises BackupError unless the master key the server will use opens the data keys
    of the backup's accounts (never creates a key)."""
    db = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT id, data_key FROM accounts WHERE data_key IS NOT NULL LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    if row is None:
        return  # nothing sealed yet
    if "FERRY_MASTER_KEY" not in os.environ and not (data_dir / MASTER_KEY_FILE).exists():
        raise BackupError(
            f"no master key: copy the {MASTER_KEY_FILE} of the server this backup comes "
            f"from into {data_dir} (mode 0600), or set FERRY_MASTER_KEY; without it the "
            "messages in the backup cannot be read"
        )
    try:
        BodyCipher(load_master_key(data_dir), int(row[0]), bytes(row[1]))
    except (SealError, MasterKeyError):
        raise BackupError(
            "the master key of this server does not open this backup's messages: it was "
            f"made with another key. Put that server's {MASTER_KEY_FILE} into {data_dir}, "
            "or set FERRY_MASTER_KEY to it"
        ) from None


def install(backup_file: Path, db: Path, now: datetime) -> Path | None:
    """Put a copy of ``backup_file`` in place of the database file ``db``; returns where
    the database it replaced went (None: there was none)."""
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    incoming = db.with_name(f"{db.name}.restoring")
    incoming.unlink(missing_ok=True)
    fd = os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(incoming)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        _fsync(incoming)
        kept = None
        if db.exists():
            # The old database keeps its WAL beside it under the new name: SQLite finds a
            # WAL by the database's file name, so it stays readable as it was.
            kept = db.with_name(f"{db.name}.before-restore-{now:%Y%m%dT%H%M%S}")
            for suffix in ("", *_SIDE_FILES):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{db}{suffix}", f"{kept}{suffix}")
        os.replace(incoming, db)
        _fsync(db.parent)
    finally:
        incoming.unlink(missing_ok=True)
    return kept


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
