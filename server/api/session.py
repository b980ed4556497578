"""Sign in, sign out, who am I, profile.

Sign-in never tells whether a number has an account: an unknown number and a wrong
password get the same answer, after the same argon2 work (a dummy hash), and count against
the same throttles: per account key, growing delays after a few free tries (a success
resets them), and per address a limit high enough for an office behind one NAT
(:class:`server.auth.throttle.LoginThrottle`). A try while either says wait is answered
``429`` with the real wait in ``Retry-After``, without checking the password.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.phone import InvalidNumber, to_e164
from server.api.common import (
    AUTH_BODY_BYTES,
    check_password,
    hash_password,
    json_response,
    read_json,
    services,
    string_field,
)
from server.auth import web as auth
from server.errors import BadRequest, Unauthenticated
from server.log import security_logger
from server.services import Services
from server.storage.accounts import Account
from server.storage.sessions import session_handle

routes = web.RouteTableDef()


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def account_json(account: Account) -> dict[str, object]:
    """The account as its owner sees it (never the password hash)."""
    return {
        "id": account.id,
        "phone": account.phone,
        "phone_verified": account.phone_verified,
        "email": account.email,
        "display_name": account.display_name,
        "created_at": _iso(account.created_at),
    }


@routes.post("/api/v1/session")
async def login(request: web.Request) -> web.Response:
    svc = services(request)
    data = await read_json(request, AUTH_BODY_BYTES)
    phone_text = string_field(data, "phone", max_len=40, code="invalid_credentials")
    password = string_field(data, "password", max_len=512, code="invalid_credentials")
    try:
        phone = to_e164(phone_text)
    except InvalidNumber:
        phone = phone_text  # same path and timing as an unknown account
    ip = auth.client_ip(request)
    keys = (f"ip:{ip}", f"acct:{phone}")
    # One check per number at a time (on every node): parallel guesses would all pass
    # the throttle before the first failure was counted.
    async with svc.throttles.login.one_at_a_time(keys[1]):
        return await _sign_in(request, svc, phone, password, ip, keys)


async def _sign_in(
    request: web.Request,
    svc: Services,
    phone: str,
    password: str,
    ip: str,
    keys: tuple[str, str],
) -> web.Response:
    await svc.throttles.login.check(*keys)
    account = await svc.accounts.by_phone(phone)
    if not await check_password(svc, account.password_hash if account else None, password):
        await svc.throttles.login.hit(*keys)
        security_logger.info("failed sign-in from %s", ip)
        if account is not None:
            # Recorded off the request path: the answer's timing must not differ.
            svc.background.spawn(
                svc.events.record(
                    account.id,
                    "login_failed",
                    svc.clock.now(),
                    ip=ip,
                    user_agent=auth.user_agent(request),
                ),
                name="event-login-failed",
            )
        raise Unauthenticated("Wrong phone number or password.", code="invalid_credentials")
    assert account is not None
    await svc.throttles.login.reset(keys[1])
    if svc.passwords.needs_rehash(account.password_hash):
        await svc.accounts.set_password_hash(account.id, await hash_password(svc, password))
    resp = json_response({"account": account_json(account)})
    await auth.start_session(request, svc, account, resp)
    return resp


@routes.delete("/api/v1/session")
async def logout(request: web.Request) -> web.Response:
    svc = services(request)
    sid = auth.session_id(request, svc)
    if sid:
        account_id = await svc.sessions.resolve(sid, svc.clock.now())
        await svc.sessions.delete(sid)
        await svc.browsers.close_sessions([session_handle(sid)])
        if account_id is not None:
            await svc.events.record(
                account_id,
                "logout",
                svc.clock.now(),
                ip=auth.client_ip(request),
                user_agent=auth.user_agent(request),
            )
    resp = web.Response(status=204)
    auth.clear_session_cookie(resp, svc)
    return resp


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    """The account; while its number is unverified, also how the last code send went
    (``code_send``: ``sending``, ``sent`` or ``failed`` with its reason; null when unknown),
    since the sign-up answer cannot say (it looks the same for every number)."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    body: dict[str, object] = {"account": account_json(account)}
    if not account.phone_verified:
        report = svc.verification.last_send(account.id, "verify")
        body["code_send"] = (
            {"state": report.state, "error": report.error, "at": _iso(report.at)}
            if report is not None
            else None
        )
    return json_response(body)


def _optional_text(
    data: dict[str, Any], name: str, max_len: int, current: str | None
) -> str | None:
    if name not in data:
        return current
    value = data[name]
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_len or not value.isprintable():
        raise BadRequest(
            f"'{name}' must be text of at most {max_len} characters.", code=f"invalid_{name}"
        )
    return value.strip() or None


def email_value(value: str | None) -> str | None:
    if value is not None and ("@" not in value.strip("@") or any(c.isspace() for c in value)):
        raise BadRequest("That is not an email address.", code="invalid_email")
    return value


@routes.patch("/api/v1/me")
async def edit_profile(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    email = email_value(_optional_text(data, "email", 254, account.email))
    name = _optional_text(data, "display_name", 100, account.display_name)
    await svc.accounts.update_profile(account.id, email=email, display_name=name)
    updated = await svc.accounts.get(account.id)
    assert updated is not None
    return json_response({"account": account_json(updated)})
