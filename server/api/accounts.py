"""Sign-up, password reset and change, sessions and security events of the signed-in user.

Sign-up and reset requests answer the same ``202`` whether or not the number has an
account, after the same argon2 and throttle work; what differs happens by SMS only:

* sign-up, new number (or one with only an unverified claim): an unverified account is
  created (a previous unproven claim is replaced) and a code goes to the number;
* sign-up, number of a verified account: that number gets a notice instead of a code;
* reset, number of a verified account: a reset code goes to it; otherwise nothing is sent.
"""

from __future__ import annotations

from aiohttp import web

from server.api.common import (
    AUTH_BODY_BYTES,
    MAX_ID,
    check_password,
    hash_password,
    int_query,
    json_response,
    new_password_field,
    phone_field,
    read_json,
    services,
    string_field,
)
from server.api.session import _iso, account_json, email_value
from server.auth import web as auth
from server.auth.codes import SIGNUP_NOTICE
from server.auth.signup import INVITE_INVALID, REFUSAL_TEXT, invite_hash, normalise_invite
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.services import Services

routes = web.RouteTableDef()

CODE_SENT = {
    "status": "code_sent",
    "message": "If this number can use Ferry, a text message with a code is on its way.",
}


async def _guard_requests(request: web.Request, svc: Services, phone: str) -> str:
    """Throttles shared by sign-up and reset, applied before anything depends on the number."""
    ip = auth.client_ip(request)
    await svc.throttles.signup.check(f"ip:{ip}")
    await svc.verification.check_send(phone, ip)
    await svc.throttles.signup.hit(f"ip:{ip}")
    return ip


def check_number_allowed(svc: Services, phone: str) -> None:
    """Refuse a number of a country not on ``FERRY_SIGNUP_COUNTRIES`` (sign-up, a new
    number for the account, a new line): no code is texted to it.

    Raises:
        Forbidden(country_not_allowed).
    """
    refusal = svc.signup_policy.number_refusal(phone)
    if refusal is not None:
        raise Forbidden(REFUSAL_TEXT[refusal], code=refusal.value)


def check_terms_field(svc: Services, data: dict[str, object], name: str) -> str:
    """The version of the terms the user accepted, which must be the current one.

    Raises:
        BadRequest(terms_required): not accepted; Conflict(terms_changed): another version.
    """
    version = data.get(name)
    if not isinstance(version, str) or not version:
        raise BadRequest(
            "Read and accept the terms of use and privacy notice to go on.",
            code="terms_required",
        )
    if version != svc.terms.version:
        raise Conflict(
            "The terms of use or privacy notice changed since you opened them; read the "
            "new version and accept it.",
            code="terms_changed",
        )
    return version


@routes.post("/api/v1/accounts")
async def signup(request: web.Request) -> web.Response:
    """Sign up: ``phone``, ``password``, ``accept_terms`` (the current terms version),
    ``invite`` (with FERRY_SIGNUP=invite), optional ``email``. Refusals that do not depend
    on the number having an account come first (403 ``signup_closed``,
    ``invite_required``, ``invite_invalid``, ``country_not_allowed``; 429
    ``sms_budget_spent``)."""
    svc = services(request)
    data = await read_json(request, AUTH_BODY_BYTES)
    phone = phone_field(data)
    password = new_password_field(data)
    email = data.get("email") or None
    if email is not None and (not isinstance(email, str) or len(email) > 254):
        raise BadRequest("That is not an email address.", code="invalid_email")
    email = email_value(email)
    version = check_terms_field(svc, data, "accept_terms")
    invite = data.get("invite")
    refusal = svc.signup_policy.signup_refusal(phone, invite_given=bool(invite))
    if refusal is not None:
        raise Forbidden(REFUSAL_TEXT[refusal], code=refusal.value)
    code_hash = await _usable_invite(request, svc, invite)
    ip = await _guard_requests(request, svc, phone)
    invite_id = None
    if code_hash is not None:
        # Used whatever happens next, so its use never tells whether the number had an
        # account; lost to a parallel sign-up with the same code, it is refused.
        invite_id = await svc.invites.consume(code_hash, svc.clock.now())
        if invite_id is None:
            raise Forbidden(INVITE_INVALID, code="invite_invalid")
    password_hash = await hash_password(svc, password)  # both paths pay for the hash
    now = svc.clock.now()
    created = await svc.accounts.replace_unverified(phone, password_hash, now, email=email)
    # The rest runs after the answer, so both paths answer after the same work.
    svc.background.spawn(
        _after_signup(svc, phone, created, ip, auth.user_agent(request), version, invite_id),
        name="signup",
    )
    return json_response(CODE_SENT, status=202)


async def _usable_invite(request: web.Request, svc: Services, invite: object) -> bytes | None:
    """With FERRY_SIGNUP=invite: the hash of a usable invite code (not used yet: see
    ``signup``); wrong codes count against the address's sign-up throttle.

    Raises:
        Forbidden(invite_invalid), RateLimited.
    """
    if svc.signup_policy.mode != "invite":
        return None
    key = f"ip:{auth.client_ip(request)}"
    await svc.throttles.signup.check(key)
    normalised = normalise_invite(invite) if isinstance(invite, str) else None
    code_hash = invite_hash(normalised) if normalised else None
    if code_hash is None or not await svc.invites.usable(code_hash, svc.clock.now()):
        await svc.throttles.signup.hit(key)
        raise Forbidden(INVITE_INVALID, code="invite_invalid")
    return code_hash


async def _after_signup(
    svc: Services,
    phone: str,
    created: tuple[int, int | None] | None,
    ip: str,
    ua: str,
    terms_version: str,
    invite_id: int | None,
) -> None:
    """Runs after the answer: whether the number had an account never shows in it."""
    now = svc.clock.now()
    if created is None:
        existing = await svc.accounts.by_phone(phone)
        if existing is not None:
            await svc.events.record(existing.id, "signup_attempt", now, ip=ip, user_agent=ua)
        svc.verification.send(phone, SIGNUP_NOTICE, "notice")
        return
    account_id, replaced = created
    if replaced is not None:
        await svc.drop_account_connections(replaced)
    await svc.events.record(account_id, "signup", now, ip=ip, user_agent=ua)
    await svc.acceptances.accept(account_id, terms_version, now)
    if invite_id is not None:
        await svc.invites.used_by(invite_id, account_id)
    await svc.verification.issue(account_id, "verify", phone)


@routes.post("/api/v1/password-reset")
async def request_reset(request: web.Request) -> web.Response:
    svc = services(request)
    data = await read_json(request, AUTH_BODY_BYTES)
    phone = phone_field(data)
    ip = await _guard_requests(request, svc, phone)
    svc.background.spawn(
        _after_reset_request(svc, phone, ip, auth.user_agent(request)), name="reset-request"
    )
    return json_response(CODE_SENT, status=202)


async def _after_reset_request(svc: Services, phone: str, ip: str, ua: str) -> None:
    """Runs after the answer: whether the number has an account never shows in it."""
    account = await svc.accounts.by_phone(phone)
    if account is not None and account.phone_verified:
        now = svc.clock.now()
        await svc.events.record(account.id, "password_reset_requested", now, ip=ip, user_agent=ua)
        await svc.verification.issue(account.id, "reset", phone)


@routes.post("/api/v1/password-reset/confirm")
async def confirm_reset(request: web.Request) -> web.Response:
    """A correct reset code sets the new password, ends every session and socket of the
    account, and signs this browser in with a fresh session."""
    svc = services(request)
    data = await read_json(request, AUTH_BODY_BYTES)
    phone = phone_field(data)
    password = new_password_field(data)
    ip = auth.client_ip(request)
    account = await svc.accounts.by_phone(phone)
    eligible = account if account is not None and account.phone_verified else None
    proved = await svc.verification.check(
        eligible.id if eligible else None, "reset", data.get("code"), ip
    )
    if eligible is None or proved != eligible.phone:
        raise BadRequest("The code is wrong or has expired.", code="invalid_code")
    await svc.accounts.set_password_hash(eligible.id, await hash_password(svc, password))
    await svc.end_sessions(eligible.id)
    await svc.events.record(
        eligible.id, "password_reset", svc.clock.now(), ip=ip, user_agent=auth.user_agent(request)
    )
    resp = json_response({"account": account_json(eligible)})
    await auth.start_session(request, svc, eligible, resp)
    return resp


async def reauthenticate(
    request: web.Request, svc: Services, account_id: int, password: str, stored_hash: str
) -> None:
    """Check the current password again before a sensitive change (throttled like sign-in).

    Raises:
        Forbidden(wrong_password), RateLimited.
    """
    keys = (f"ip:{auth.client_ip(request)}", f"acct-id:{account_id}")
    await svc.throttles.login.check(*keys)
    if not await check_password(svc, stored_hash, password):
        await svc.throttles.login.hit(*keys)
        raise Forbidden("Your current password is not right.", code="wrong_password")


@routes.post("/api/v1/me/password")
async def change_password(request: web.Request) -> web.Response:
    """Change the password; every other session of the account ends."""
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    account = principal.account
    data = await read_json(request, AUTH_BODY_BYTES)
    current = string_field(data, "current_password", max_len=512, code="wrong_password")
    new = new_password_field(data, "new_password")
    await reauthenticate(request, svc, account.id, current, account.password_hash)
    await svc.accounts.set_password_hash(account.id, await hash_password(svc, new))
    await svc.end_sessions(account.id, keep=principal.session)
    await svc.events.record(
        account.id,
        "password_changed",
        svc.clock.now(),
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    return web.Response(status=204)


@routes.get("/api/v1/me/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    sessions = await svc.sessions.for_account(principal.account.id, svc.clock.now())
    return json_response(
        {
            "sessions": [
                {
                    "id": s.handle,
                    "current": s.handle == principal.session,
                    "created_at": _iso(s.created_at),
                    "last_seen_at": _iso(s.last_seen_at),
                    "expires_at": _iso(s.expires_at),
                    "user_agent": s.user_agent,
                    "ip": s.ip,
                }
                for s in sessions
            ]
        }
    )


@routes.delete("/api/v1/me/sessions")
async def revoke_other_sessions(request: web.Request) -> web.Response:
    """Sign out everywhere else."""
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    await svc.end_sessions(principal.account.id, keep=principal.session)
    await svc.events.record(
        principal.account.id,
        "sessions_revoked",
        svc.clock.now(),
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    return web.Response(status=204)


@routes.delete(r"/api/v1/me/sessions/{session_id}")
async def revoke_session(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    handle = request.match_info["session_id"]
    if not await svc.sessions.delete_handle(principal.account.id, handle):
        raise NotFound()
    await svc.browsers.close_sessions([handle])
    await svc.events.record(
        principal.account.id,
        "session_revoked",
        svc.clock.now(),
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    resp = web.Response(status=204)
    if handle == principal.session:
        auth.clear_session_cookie(resp, svc)
    return resp


@routes.get("/api/v1/me/security-events")
async def security_events(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    limit = int_query(request, "limit", 50, 1, 200)
    before = int_query(request, "before", None, 1, MAX_ID)
    events = await svc.events.for_account(account.id, limit=limit, before=before)
    return json_response(
        {
            "events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "at": _iso(e.created_at),
                    "ip": e.ip,
                    "user_agent": e.user_agent,
                }
                for e in events
            ]
        }
    )
