"""Operator actions on accounts and devices (used by ``ferry admin`` and ``ferry demo``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from protocol.pairing import DeviceCredentials, encode_credentials
from protocol.phone import to_e164
from server.auth.passwords import hash_password
from server.clock import SystemClock
from server.config import Config
from server.storage.accounts import AccountStore
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine, migrate


class AdminError(Exception):
    """An admin action cannot be done (e.g. unknown account)."""


async def create_account(config: Config, phone: str, password: str, *, verified: bool) -> int:
    if not 8 <= len(password) <= 128:
        raise AdminError("the password must have 8 to 128 characters")
    engine = create_engine(config.db_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate(engine)
        now = SystemClock().now()
        return await AccountStore(engine).create(
            to_e164(phone), hash_password(password), now, verified_at=now if verified else None
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
        if existing is None:
            return await store.create(phone, hash_password(password), now, verified_at=now)
        await store.set_password_hash(existing.id, hash_password(password))
        await store.set_verified(existing.id, now)
        return existing.id
    finally:
        await engine.dispose()


async def add_device(config: Config, phone: str, name: str, out: Path, server_url: str) -> int:
    """Register a bridge for the account of ``phone``; write its credential file 0600."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        account = await AccountStore(engine).by_phone(to_e164(phone))
        if account is None:
            raise AdminError(f"no account for {phone}")
        secret = secrets.token_urlsafe(32)
        device_id = await DeviceStore(engine).create(account.id, name, secret, SystemClock().now())
    finally:
        await engine.dispose()
    data = encode_credentials(DeviceCredentials(server_url, device_id, secret))
    out.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: the secret is never world-readable, not even briefly.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return device_id
