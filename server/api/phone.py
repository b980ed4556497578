"""Phone-number verification and change of number, for the signed-in user.

Conversations reach a browser only once the account's number is verified. A change of
number needs the current password (re-authentication) and a code sent to the new number
(re-verification); until it is confirmed the account keeps its old, verified number.
The account's paired bridge may submit a code by itself (see ``auth.verification``).

Sending a code answers only after the SMS gateway did: ``202`` with ``"sent": true`` once
it accepted the message, otherwise :class:`CodeNotSent` — ``503 sms_unavailable`` (the way
out is down; try again later) or ``502 sms_refused`` (the gateway refused this number),
with ``Retry-After`` saying when another send is allowed. Nothing here reveals anything
about other accounts: these routes act on the signed-in account's own numbers.
"""

from __future__ import annotations

from aiohttp import web

from server.api.accounts import check_number_allowed, reauthenticate
from server.api.common import (
    AUTH_BODY_BYTES,
    json_response,
    phone_field,
    read_json,
    services,
    string_field,
)
from server.api.session import account_json
from server.auth import web as auth
from server.auth.verification import SendReport
from server.errors import ApiError, BadRequest, Conflict
from server.services import Services
from server.storage.accounts import AccountExists

routes = web.RouteTableDef()

_WRONG_CODE = "The code is wrong or has expired."


class CodeNotSent(ApiError):
    """The SMS gateway did not accept the code (``sms_unavailable``, ``sms_refused``)."""

    _STATUS = {"sms_unavailable": 503, "sms_refused": 502}
    _WORDS = {
        "sms_unavailable": "The code could not be sent: the text message service is not "
        "reachable right now. Try again in a minute.",
        "sms_refused": "The text message service refused to send a code to this number.",
    }

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(self._WORDS[reason], code=reason)
        self.status = self._STATUS[reason]
        self.retry_after = max(1, retry_after)

    def response(self) -> web.Response:
        resp = super().response()
        resp.headers["Retry-After"] = str(self.retry_after)
        return resp


async def send_report(svc: Services, phone: str, report: SendReport) -> web.Response:
    """202 once the gateway accepted the code; CodeNotSent otherwise."""
    if report.error is not None:
        raise CodeNotSent(report.error, await svc.throttles.send_gap.retry_after(f"phone:{phone}"))
    return json_response(
        {"status": "code_sent", "sent": True, "message": f"A code was sent to {phone}."},
        status=202,
    )


@routes.post("/api/v1/me/phone/code")
async def send_code(request: web.Request) -> web.Response:
    """Send (or send again) the code that verifies the account's number."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    if account.phone_verified:
        raise Conflict("Your number is already verified.", code="already_verified")
    await svc.verification.check_send(account.phone, auth.client_ip(request))
    report = await svc.verification.issue(account.id, "verify", account.phone)
    return await send_report(svc, account.phone, report)


@routes.post("/api/v1/me/phone/verify")
async def verify(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    proved = await svc.verification.check(
        account.id, "verify", data.get("code"), auth.client_ip(request)
    )
    if proved is None or proved != account.phone:
        raise BadRequest(_WRONG_CODE, code="invalid_code")
    await svc.verification.apply(account.id, "verify", proved)
    updated = await svc.accounts.get(account.id)
    assert updated is not None
    return json_response({"account": account_json(updated)})


@routes.post("/api/v1/me/phone/change")
async def change(request: web.Request) -> web.Response:
    """Start moving the account to another number: password again, code to the new one."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    password = string_field(data, "password", max_len=512, code="wrong_password")
    phone = phone_field(data)
    await reauthenticate(request, svc, account.id, password, account.password_hash)
    if phone == account.phone:
        raise BadRequest("That is already your number.", code="same_number")
    check_number_allowed(svc, phone)
    ip = auth.client_ip(request)
    await svc.verification.check_send(phone, ip)
    report = await svc.verification.issue(account.id, "change_phone", phone)
    await svc.events.record(
        account.id,
        "phone_change_requested",
        svc.clock.now(),
        ip=ip,
        user_agent=auth.user_agent(request),
    )
    return await send_report(svc, phone, report)


@routes.post("/api/v1/me/phone/change/confirm")
async def confirm_change(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    proved = await svc.verification.check(
        account.id, "change_phone", data.get("code"), auth.client_ip(request)
    )
    if proved is None:
        raise BadRequest(_WRONG_CODE, code="invalid_code")
    try:
        await svc.verification.apply(account.id, "change_phone", proved)
    except AccountExists:
        # Told only to someone who just proved they hold the number.
        raise Conflict("Another account uses this number.", code="phone_taken") from None
    updated = await svc.accounts.get(account.id)
    assert updated is not None
    return json_response({"account": account_json(updated)})
