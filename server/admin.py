"""Operator actions on accounts and devices (used by ``ferry admin`` and ``ferry demo``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from protocol.pairing import DeviceCredentials, encode_credentials
from protocol.phone import to_e164
from server.auth.passwords import Passwords, password_problem
from server.clock import SystemClock
from server.config import Config
from server.storage.accounts import AccountStore
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine, migrate
from server.storage.security import SecurityEvent, SecurityEventStore


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


async def add_device(config: Config, phone: str, name: str, out: Path, server_url: str) -> int:
    """Register a bridge for the account of ``phone``; write its credential file 0600."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        account = await AccountStore(engine).by_phone(to_e164(phone))
        if account is None:
            raise AdminError(f"no account for {phone}")
        secret = secrets.token_urlsafe(32)
        now = SystemClock().now()
        device_id = await DeviceStore(engine).create(account.id, name, secret, now)
        await SecurityEventStore(engine).record(account.id, "device_added", now)
    finally:
        await engine.dispose()
    data = encode_credentials(DeviceCredentials(server_url, device_id, secret))
    out.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: the secret is never world-readable, not even briefly.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return device_id


async def security_events(config: Config, phone: str, limit: int) -> list[SecurityEvent]:
    """The account's security events, newest first."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        account = await AccountStore(engine).by_phone(to_e164(phone))
        if account is None:
            raise AdminError(f"no account for {phone}")
        return await SecurityEventStore(engine).for_account(account.id, limit=limit)
    finally:
        await engine.dispose()
