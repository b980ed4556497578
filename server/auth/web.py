"""Browser session cookies and request authentication."""

from __future__ import annotations

import secrets

from aiohttp import web

from server.errors import Forbidden, Unauthenticated
from server.services import Services
from server.storage.accounts import Account

DEV_COOKIE = "ferry_session"
SECURE_COOKIE = "__Host-ferry_session"


def cookie_name(services: Services) -> str:
    # The __Host- prefix requires Secure; plain-HTTP loopback development drops both.
    return SECURE_COOKIE if services.config.secure_cookies else DEV_COOKIE


def new_session_id() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def set_session_cookie(resp: web.StreamResponse, services: Services, session_id: str) -> None:
    resp.set_cookie(
        cookie_name(services),
        session_id,
        httponly=True,
        secure=services.config.secure_cookies,
        samesite="Lax",
        path="/",
        max_age=int(services.config.session_absolute.total_seconds()),
    )


def clear_session_cookie(resp: web.StreamResponse, services: Services) -> None:
    resp.del_cookie(cookie_name(services), path="/", secure=services.config.secure_cookies)


def session_id(request: web.Request, services: Services) -> str | None:
    value = request.cookies.get(cookie_name(services))
    return value if value and len(value) <= 128 else None


async def current_account(request: web.Request, services: Services) -> Account:
    """The signed-in account.

    Raises:
        Unauthenticated: no valid session.
    """
    sid = session_id(request, services)
    if sid is None:
        raise Unauthenticated()
    account_id = await services.sessions.resolve(sid, services.clock.now())
    if account_id is None:
        raise Unauthenticated("Your session has ended; sign in again.")
    account = await services.accounts.get(account_id)
    if account is None:
        raise Unauthenticated()
    return account


async def verified_account(request: web.Request, services: Services) -> Account:
    """The signed-in account, only if its phone number is verified."""
    account = await current_account(request, services)
    if not account.phone_verified:
        raise Forbidden(
            "Verify your phone number to see your conversations.", code="phone_unverified"
        )
    return account


def origin_allowed(request: web.Request, services: Services) -> bool:
    """Is the request's ``Origin`` one we serve (configured list, else the Host's origin)?"""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = services.config.allowed_origins or (f"{request.scheme}://{request.host}",)
    return origin in allowed
