"""Operator looks into accounts (``ferry admin inspect|messages|security-events``) and
the staff-access audit chain (``ferry admin audit verify|list``).

Every look into an account needs a stated reason and is appended to the hash-chained
``staff_access`` log *before* anything is shown; the user sees it in Settings → Privacy
("Access history"). Message contents are shown only while the user grants
troubleshooting access (``accounts.troubleshoot_until``); a refused attempt is recorded
too.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.messages import MessageView
from protocol.phone import InvalidNumber, to_e164
from server.admin import AdminError
from server.clock import Clock, SystemClock
from server.config import Config
from server.privacy.audit import Broken, Entry
from server.storage.accounts import Account, AccountStore
from server.storage.audit import AuditLog
from server.storage.devices import Device, DeviceStore
from server.storage.engine import create_engine, migrate
from server.storage.keys import KeyRing
from server.storage.lines import Line, LineStore
from server.storage.privacy import Inventory, PrivacySettings, PrivacyStore
from server.storage.schema import messages
from server.storage.sealed import load_master_key
from server.storage.security import SecurityEvent, SecurityEventStore
from server.storage.views import message_view

#: A reason must say something: at least this many characters (at most 500).
MIN_REASON = 8
#: Most messages one ``ferry admin messages`` shows.
MAX_MESSAGES = 200


@dataclass(frozen=True)
class Inspection:
    """What ``ferry admin inspect`` shows: metadata, never contents."""

    account: Account
    settings: PrivacySettings
    stored: Inventory
    lines: list[Line]
    devices: list[Device]


def operator_name(given: str | None) -> str:
    """Who is looking: ``--operator``, else the login name of the process."""
    if given is None:
        try:
            given = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment or passwd
            given = ""
    name = given.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise AdminError("give the operator's name with --operator (1 to 64 characters)")
    return name


def check_reason(reason: str | None) -> str:
    """The stated reason, trimmed.

    Raises:
        AdminError: missing, shorter than :data:`MIN_REASON` or longer than 500.
    """
    text = (reason or "").strip()
    if len(text) < MIN_REASON or len(text) > 500 or not text.isprintable():
        raise AdminError(
            f"say why you look into this account: --reason with {MIN_REASON} to 500 "
            "printable characters (the user sees it)"
        )
    return text


@asynccontextmanager
async def _engine(config: Config) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


async def _account(engine: AsyncEngine, phone: str) -> Account:
    try:
        number = to_e164(phone)
    except InvalidNumber:
        raise AdminError(f"{phone!r} is not a phone number") from None
    account = await AccountStore(engine).by_phone(number)
    if account is None:
        raise AdminError(f"no account for {phone}")
    return account


async def _record(
    engine: AsyncEngine, clock: Clock, operator: str, account: Account, action: str, reason: str
) -> Entry:
    return await AuditLog(engine).append(clock.now(), operator, account.id, action, reason)


async def inspect(
    config: Config, phone: str, reason: str, operator: str, clock: Clock | None = None
) -> Inspection:
    """An account's metadata (counts, settings, numbers, bridges), recorded first."""
    reason = check_reason(reason)
    async with _engine(config) as engine:
        account = await _account(engine, phone)
        await _record(engine, clock or SystemClock(), operator, account, "inspect", reason)
        privacy = PrivacyStore(engine)
        return Inspection(
            account=account,
            settings=await privacy.settings(account.id),
            stored=await privacy.inventory(account.id),
            lines=await LineStore(engine).for_account(account.id),
            devices=await DeviceStore(engine).for_account(account.id),
        )


async def security_events(
    config: Config,
    phone: str,
    limit: int,
    reason: str,
    operator: str,
    clock: Clock | None = None,
) -> list[SecurityEvent]:
    """The account's security events, newest first, recorded first."""
    reason = check_reason(reason)
    async with _engine(config) as engine:
        account = await _account(engine, phone)
        await _record(engine, clock or SystemClock(), operator, account, "security_events", reason)
        return await SecurityEventStore(engine).for_account(account.id, limit=limit)


async def read_messages(
    config: Config,
    phone: str,
    reason: str,
    operator: str,
    limit: int = 20,
    clock: Clock | None = None,
) -> list[MessageView]:
    """The account's newest messages, only while its user grants troubleshooting access.

    Raises:
        AdminError: no grant (the refused attempt is recorded and shown to the user).
    """
    reason = check_reason(reason)
    limit = max(1, min(limit, MAX_MESSAGES))
    async with _engine(config) as engine:
        account = await _account(engine, phone)
        settings = await PrivacyStore(engine).settings(account.id)
        clock = clock or SystemClock()
        until = settings.troubleshoot_until
        if until is None or until <= clock.now():
            await _record(engine, clock, operator, account, "read_messages_refused", reason)
            raise AdminError(
                "the user has not granted troubleshooting access (Settings → Privacy); "
                "message contents stay closed. This attempt was recorded."
            )
        await _record(engine, clock, operator, account, "read_messages", reason)
        cipher = await KeyRing(engine, load_master_key(config.data_dir)).cipher(account.id)
        query = (
            select(messages)
            .where(messages.c.account_id == account.id, messages.c.deleted.is_(False))
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        async with engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [message_view(r, cipher) for r in reversed(rows)]


async def audit_verify(config: Config) -> tuple[int, Broken | None, bytes]:
    """Check the whole chain: rows checked, the first broken row, the newest hash."""
    async with _engine(config) as engine:
        return await AuditLog(engine).verify()


async def audit_list(config: Config, phone: str | None, limit: int) -> list[Entry]:
    """The newest accesses (of one account, when ``phone`` is given)."""
    async with _engine(config) as engine:
        log = AuditLog(engine)
        if phone is None:
            return await log.newest(limit)
        return await log.for_account((await _account(engine, phone)).id, limit)
