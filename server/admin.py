"""Operator actions on accounts and devices (used by ``ferry admin`` and ``ferry demo``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from protocol.link import public_key
from protocol.phone import to_e164
from server import backup as backups
from server import listening
from server.auth.pairing import PairingOffer, make_offer, new_code
from server.auth.passwords import Passwords, password_problem
from server.clock import SystemClock
from server.config import Config
from server.continuity import renew_mark
from server.keys import key_path, load_server_key
from server.oauth.keys import SigningKeys
from server.storage.accounts import AccountStore
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine, migrate
from server.storage.epochs import rotate_all_epochs
from server.storage.lines import LineStore
from server.storage.oauth_clients import KeyStore
from server.storage.pairing import DeviceLimit, PairingStore, TooManyCodes
from server.storage.sealed import load_master_key
from server.tls import server_tls


class AdminError(Exception):
    """An admin action cannot be done (e.g. unknown account)."""


async def create_account(config: Config, phone: str, password: str, *, verified: bool) -> int:
    problem = password_problem(password)
    if problem:
        raise AdminError(problem)
    engine = create_engine(config.db_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate(engine)
        now = SystemClock().now()
        return await AccountStore(engine).create(
            to_e164(phone),
            Passwords(config.password_params).hash(password),
            now,
            verified_at=now if verified else None,
        )
    finally:
        await engine.dispose()


async def ensure_account(config: Config, phone: str, password: str) -> int:
    """Create the account, or reset its password if it exists (demo only)."""
    engine = create_engine(config.db_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate(engine)
        store = AccountStore(engine)
        now = SystemClock().now()
        existing = await store.by_phone(phone)
        password_hash = Passwords(config.password_params).hash(password)
        if existing is None:
            return await store.create(phone, password_hash, now, verified_at=now)
        await store.set_password_hash(existing.id, password_hash)
        await store.set_verified(existing.id, now)
        return existing.id
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class ServerUrl:
    """The URL to put into pairing codes, and whether it is only a guess."""

    url: str
    #: No public URL is configured and no server runs from the data directory: the URL
    #: comes from the configured host and port, where ``ferry serve`` would listen.
    guessed: bool


def server_url(config: Config) -> ServerUrl:
    """Where bridges reach this server: ``public_url``, else the address the server running
    from ``config.data_dir`` serves, else the configured host and port."""
    if config.public_url:
        return ServerUrl(config.public_url, guessed=False)
    live = listening.running(config.data_dir)
    if live is not None:
        return ServerUrl(live.url, guessed=False)
    scheme = "https" if config.tls_enabled else "http"
    return ServerUrl(listening.url_for(scheme, config.host, config.port), guessed=True)


async def create_pairing_code(config: Config, phone: str, server_url: str) -> PairingOffer:
    """A pairing code for the account of ``phone`` naming ``server_url`` (for headless
    set-ups and the demo); its bridge serves the account's own number.

    Raises:
        AdminError: no such account, or it hit the device or hourly code limit.
    """
    server_key = load_server_key(config)
    tls = server_tls(config)
    pin = tls.fingerprint if tls is not None and tls.self_signed else None
    engine = create_engine(config.db_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate(engine)
        account = await AccountStore(engine).by_phone(to_e164(phone))
        if account is None:
            raise AdminError(f"no account for {phone}")
        own = [
            x.id
            for x in await LineStore(engine).for_account(account.id)
            if x.number == account.phone
        ]
        code = new_code()
        result = await PairingStore(engine).create(
            account.id,
            code,
            SystemClock().now(),
            ttl=config.pairing_code_ttl,
            per_hour=config.pairing_codes_per_hour,
            max_devices=config.max_devices,
            line_id=own[0] if own else None,
        )
    finally:
        await engine.dispose()
    if isinstance(result, TooManyCodes):
        raise AdminError(f"too many pairing codes; try again in {result.retry_after} s")
    if isinstance(result, DeviceLimit):
        raise AdminError(f"the account already has {config.max_devices} devices")
    return make_offer(code, server_url, public_key(server_key), pin, result.expires_at)


async def device_active(config: Config, public_key: bytes) -> bool:
    """Is a non-revoked device registered with this key?"""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        return await DeviceStore(engine).by_public_key(public_key) is not None
    finally:
        await engine.dispose()


async def revoke_all_devices(config: Config, phone: str) -> int:
    """Revoke every device of the account (the demo, before pairing its bridge afresh)."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        account = await AccountStore(engine).by_phone(to_e164(phone))
        if account is None:
            return 0
        store = DeviceStore(engine)
        now = SystemClock().now()
        return sum(
            [await store.revoke(account.id, d.id, now) for d in await store.for_account(account.id)]
        )
    finally:
        await engine.dispose()


async def new_epoch(config: Config) -> int:
    """Give every account a new cursor epoch (after restoring a backup): every browser
    refetches its conversations instead of resuming. Returns how many accounts."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        return await rotate_all_epochs(engine)
    finally:
        await engine.dispose()


async def rotate_oauth_key(config: Config, *, drop_old: bool) -> str:
    """A new signing key for OAuth access tokens; its kid. The old keys keep verifying
    the tokens they signed (at most ``FERRY_OAUTH_ACCESS_TTL``) unless ``drop_old``
    (a leaked key): then their tokens stop on every node within a minute, and apps get
    new ones with their refresh tokens."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        store = KeyStore(engine)
        ring = SigningKeys(store, load_master_key(config.data_dir), access_ttl=0)
        clock = SystemClock()
        kid = await ring.rotate(clock.now(), clock.monotonic())
        if drop_old:
            await store.drop_retired(clock.now() + timedelta(seconds=1))
        return kid
    finally:
        await engine.dispose()


def sqlite_file(config: Config) -> Path:
    """The SQLite database file of ``config``.

    Raises:
        AdminError: the database is not SQLite (PostgreSQL has its own tools).
    """
    url = make_url(config.db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise AdminError(
            "the database is not a SQLite file: back PostgreSQL up with pg_dump and restore "
            "it with pg_restore, then run 'ferry admin new-epoch' (README, 'Running in "
            "production')"
        )
    return Path(url.database)


async def backup_database(config: Config, out: Path) -> backups.Snapshot:
    """A consistent copy of the live SQLite database in the new file ``out``.

    Raises:
        AdminError: not SQLite; BackupError: see :func:`server.backup.backup`.
    """
    return await asyncio.to_thread(backups.backup, sqlite_file(config), out)


@dataclass(frozen=True)
class Restored:
    snapshot: backups.Snapshot
    #: Where the database it replaced went (None: there was none).
    kept: Path | None
    #: Accounts given a new cursor epoch.
    rotated: int
    #: No server key in the data directory: the server will make one, and every bridge
    #: must pair again.
    new_server_key: bool


async def restore_database(config: Config, source: Path) -> Restored:
    """Restore a backup made by :func:`backup_database` (server stopped): see
    :mod:`server.backup`.

    Raises:
        AdminError: not SQLite; BackupError: a server runs, the backup is unsound or of
            an unknown version, or the master key does not open it.
    """
    db = sqlite_file(config)
    backups.check_stopped(config.data_dir)
    snapshot = await asyncio.to_thread(backups.inspect, source)
    backups.check_master_key(source, config.data_dir)
    kept = await asyncio.to_thread(backups.install, source, db, SystemClock().now())
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        rotated = await rotate_all_epochs(engine)
        # This node's mark now matches the restored database: its next start finds the
        # database it last saw (the epochs are new already) and need not rotate again.
        await renew_mark(engine, config.data_dir, SystemClock().now())
    finally:
        await engine.dispose()
    new_key = config.server_key is None and not key_path(config).exists()
    return Restored(snapshot, kept, rotated, new_key)
