"""Browser session cookies and request authentication."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from server.api.common import SERVICES
from server.errors import Forbidden, Unauthenticated
from server.proxies import client_address
from server.services import Services
from server.storage.accounts import Account
from server.storage.sessions import session_handle

#: Request keys: the verified bearer token of an app's request (``server.oauth.guard``),
#: and "this request carries no cookie credential" (the CSRF check does not apply).
BEARER: web.RequestKey[Any] = web.RequestKey("ferry_bearer", object)
CSRF_EXEMPT: web.RequestKey[bool] = web.RequestKey("ferry_csrf_exempt", bool)

DEV_COOKIE = "ferry_session"
SECURE_COOKIE = "__Host-ferry_session"
#: What :func:`new_session_id` makes (``token_urlsafe``); nothing else can be a session.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class Principal:
    """A signed-in account and the session it is signed in with."""

    account: Account
    session: str  # the session's handle (see storage.sessions)


def cookie_name(services: Services) -> str:
    # The __Host- prefix requires Secure; plain-HTTP loopback development drops both.
    return SECURE_COOKIE if services.config.secure_cookies else DEV_COOKIE


def new_session_id() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def client_ip(request: web.Request) -> str:
    """The client's address, for limits, throttles, sessions and logs: the socket's peer,
    or behind a trusted proxy the address it forwarded (:mod:`server.proxies`)."""
    trusted = request.app[SERVICES].config.trusted_proxies
    if not trusted:
        return request.remote or "?"
    return client_address(request.remote, request.headers, trusted)


def user_agent(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")[:255]


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
    """The session cookie's value, if it has the form of a session id.

    The Cookie header is scanned for this one cookie: a full parse (an object for every
    cookie) showed in reconnect storms. As in aiohttp's parse, the last one wins.
    """
    name = cookie_name(services)
    value = None
    for part in request.headers.get(hdrs.COOKIE, "").split(";"):
        key, sep, found = part.partition("=")
        if sep and key.strip() == name:
            value = found.strip()
    return value if value and _SESSION_ID.fullmatch(value) else None


async def start_session(
    request: web.Request, services: Services, account: Account, resp: web.StreamResponse
) -> str:
    """Sign ``account`` in with a fresh session id (a planted or old cookie never becomes a
    signed-in session); sets the cookie on ``resp`` and returns the session's handle."""
    old = session_id(request, services)
    if old:
        await services.sessions.delete(old)
        await services.browsers.close_sessions([session_handle(old)])
    sid = new_session_id()
    now = services.clock.now()
    ip = client_ip(request)
    await services.sessions.create(sid, account.id, now, user_agent(request), ip)
    await services.events.record(account.id, "login", now, ip=ip, user_agent=user_agent(request))
    set_session_cookie(resp, services, sid)
    return session_handle(sid)


async def authenticate(request: web.Request, services: Services) -> Principal:
    """The signed-in account and its session.

    For an app's request (a bearer token checked by ``server.oauth.guard``): the
    account that granted it; the cookie is never read then, nor when an
    ``Authorization`` header came without passing the guard.

    Raises:
        Unauthenticated: no valid session.
    """
    bearer = request.get(BEARER)
    if bearer is not None:
        account = await services.accounts.get(bearer.claims.account_id)
        if account is None:
            raise Unauthenticated()
        return Principal(account, f"oauth-grant-{bearer.grant.id}")
    if hdrs.AUTHORIZATION in request.headers:
        raise Unauthenticated("Send either a session cookie or a bearer token, not both.")
    sid = session_id(request, services)
    if sid is None:
        raise Unauthenticated()
    account_id = await services.sessions.resolve(sid, services.clock.now())
    if account_id is None:
        raise Unauthenticated("Your session has ended; sign in again.")
    account = await services.accounts.get(account_id)
    if account is None:
        raise Unauthenticated()
    return Principal(account, session_handle(sid))


async def current_account(request: web.Request, services: Services) -> Account:
    """The signed-in account (see :func:`authenticate`)."""
    return (await authenticate(request, services)).account


def require_verified(account: Account) -> Account:
    """Raises Forbidden(phone_unverified) until the account's number is verified."""
    if not account.phone_verified:
        raise Forbidden(
            "Verify your phone number to see your conversations.", code="phone_unverified"
        )
    return account


async def verified_account(request: web.Request, services: Services) -> Account:
    """The signed-in account, only if its phone number is verified."""
    return require_verified(await current_account(request, services))


def origin_allowed(request: web.Request, services: Services, *, required: bool = False) -> bool:
    """Is the request's ``Origin`` one we serve (configured list, else the Host's origin)?

    A request without one passes unless ``required``: browsers send it on every
    websocket, so a socket upgrade without it does not come from a page of ours.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return not required
    allowed = services.config.allowed_origins or (f"{request.scheme}://{request.host}",)
    return origin in allowed
