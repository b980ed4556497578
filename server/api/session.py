"""Sign in, sign out, who am I."""

from __future__ import annotations

from aiohttp import web

from protocol.phone import InvalidNumber, to_e164
from server.api.common import json_response, read_json, services, string_field
from server.auth import web as auth
from server.auth.passwords import hash_password, needs_rehash, verify_password
from server.errors import RateLimited, Unauthenticated
from server.log import server_logger
from server.storage.accounts import Account

routes = web.RouteTableDef()


def account_json(account: Account) -> dict[str, object]:
    return {"id": account.id, "phone": account.phone, "phone_verified": account.phone_verified}


@routes.post("/api/v1/session")
async def login(request: web.Request) -> web.Response:
    svc = services(request)
    data = await read_json(request)
    phone_text = string_field(data, "phone", max_len=40, code="invalid_credentials")
    password = string_field(data, "password", max_len=128, code="invalid_credentials")
    try:
        phone = to_e164(phone_text)
    except InvalidNumber:
        phone = phone_text  # same path and timing as an unknown account
    ip_key = f"ip:{request.remote}"
    acct_key = f"acct:{phone}"
    wait = max(svc.login_throttle.retry_after(ip_key), svc.login_throttle.retry_after(acct_key))
    if wait:
        raise RateLimited(wait)
    account = await svc.accounts.by_phone(phone)
    if not verify_password(account.password_hash if account else None, password):
        svc.login_throttle.failure(ip_key)
        svc.login_throttle.failure(acct_key)
        server_logger.info("failed sign-in from %s", request.remote)
        raise Unauthenticated("Wrong phone number or password.", code="invalid_credentials")
    assert account is not None
    svc.login_throttle.reset(acct_key)
    if needs_rehash(account.password_hash):
        await svc.accounts.set_password_hash(account.id, hash_password(password))
    # A fresh id at every sign-in: a planted cookie can never become a signed-in session.
    old = auth.session_id(request, svc)
    if old:
        await svc.sessions.delete(old)
    sid = auth.new_session_id()
    await svc.sessions.create(
        sid, account.id, svc.clock.now(), request.headers.get("User-Agent", "")
    )
    resp = json_response({"account": account_json(account)})
    auth.set_session_cookie(resp, svc, sid)
    return resp


@routes.delete("/api/v1/session")
async def logout(request: web.Request) -> web.Response:
    svc = services(request)
    sid = auth.session_id(request, svc)
    if sid:
        await svc.sessions.delete(sid)
    resp = web.Response(status=204)
    auth.clear_session_cookie(resp, svc)
    return resp


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    return json_response({"account": account_json(account)})
