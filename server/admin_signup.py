"""Operator controls of sign-up (``ferry admin invite …``, ``ferry admin signup status``):
invite codes, and what the sign-up settings and the verification-text budget are now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.auth.signup import invite_hash, new_invite_code, normalise_invite
from server.clock import SystemClock
from server.config import Config
from server.storage.engine import create_engine, migrate
from server.storage.invites import Invite, InviteStore
from server.storage.verify_sends import VerifySendLog

#: How long an invite code lives unless the operator says otherwise.
INVITE_DAYS = 14


@dataclass(frozen=True)
class NewInvite:
    id: int
    #: Shown once: only its hash is stored.
    code: str
    expires_at: datetime


async def create_invite(config: Config, note: str = "", days: int = INVITE_DAYS) -> NewInvite:
    """A new single-use invite code, valid ``days`` days."""
    code = new_invite_code()
    normalised = normalise_invite(code)
    assert normalised is not None
    now = SystemClock().now()
    engine = create_engine(config.db_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate(engine)
        ttl = timedelta(days=days)
        invite_id = await InviteStore(engine).create(
            invite_hash(normalised), code[:4], now, ttl, note[:100]
        )
    finally:
        await engine.dispose()
    return NewInvite(invite_id, code, now + ttl)


async def list_invites(config: Config) -> list[Invite]:
    """Every invite code, newest first."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        return await InviteStore(engine).all()
    finally:
        await engine.dispose()


async def revoke_invite(config: Config, invite_id: int) -> bool:
    """Revoke an unused code; False when there is no unused, unrevoked code of that id."""
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        return await InviteStore(engine).revoke(invite_id, SystemClock().now())
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class SignupStatus:
    mode: str
    countries: tuple[str, ...]
    sms_per_hour: int
    #: Verification texts spent from the budget in the last hour, all nodes together.
    sms_last_hour: int
    active_invites: int
    terms_version: str


async def signup_status(config: Config) -> SignupStatus:
    now = SystemClock().now()
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        invites = await InviteStore(engine).all()
        spent = await VerifySendLog(engine).since(now - timedelta(hours=1))
    finally:
        await engine.dispose()
    return SignupStatus(
        mode=config.signup,
        countries=config.signup_countries,
        sms_per_hour=config.verify_sms_per_hour,
        sms_last_hour=spent,
        active_invites=sum(1 for i in invites if i.state(now) == "active"),
        terms_version=config.terms_version,
    )
