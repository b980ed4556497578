"""The account's numbers (lines): label them, and prove a number added with a phone.

``GET /api/v1/lines`` (with the conversations API) lists them. A number is added by
pairing a bridge for it (``server.api.pairing``); it stays unverified, its conversations
stored but never served, until the account proves it holds the SIM:

* ``POST /api/v1/lines/{id}/code`` texts a code to the number (throttled like every code
  send; ``202`` only once the SMS gateway took it, see ``server.api.phone``). The bridge
  on that SIM uploads the SMS like any other, and the server recognises the code
  (auto-verification, ``server.auth.verification``); or
* ``POST /api/v1/lines/{id}/verify`` ``{"code"}``: the user types it.

Once verified, open browsers refetch (the account's epoch changes) and the line's
conversations appear. ``PATCH /api/v1/lines/{id}`` ``{"label"}`` names a line ("Work"),
shown beside its number wherever the account has several. Other accounts' lines are 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.api.accounts import check_number_allowed
from server.api.common import AUTH_BODY_BYTES, id_param, json_response, read_json, services
from server.api.phone import send_report
from server.auth import web as auth
from server.errors import BadRequest, Conflict, NotFound
from server.services import Services
from server.storage.lines import MAX_LABEL, Line

routes = web.RouteTableDef()


def line_json(line: Line) -> dict[str, Any]:
    return {"id": line.id, "number": line.number, "label": line.label, "verified": line.verified}


async def _line(request: web.Request, svc: Services, account_id: int) -> Line:
    line = await svc.lines.get(account_id, id_param(request, "line_id"))
    if line is None:
        raise NotFound("No such line.")
    return line


@routes.patch(r"/api/v1/lines/{line_id}")
async def label_line(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.verified_account(request, svc)
    line = await _line(request, svc, account.id)
    label = (await read_json(request, AUTH_BODY_BYTES)).get("label")
    if not isinstance(label, str) or len(label) > MAX_LABEL or not label.isprintable():
        raise BadRequest(
            f"A label is at most {MAX_LABEL} characters on one line.", code="invalid_label"
        )
    labelled = await svc.lines.set_label(account.id, line.id, " ".join(label.split()))
    if labelled is None:
        raise NotFound("No such line.")
    svc.devices_changed(account.id)
    return json_response({"line": line_json(labelled)})


@routes.post(r"/api/v1/lines/{line_id}/code")
async def send_line_code(request: web.Request) -> web.Response:
    """Text a code to an unverified line's number."""
    svc = services(request)
    account = await auth.verified_account(request, svc)
    line = await _line(request, svc, account.id)
    if line.verified:
        raise Conflict("This number is already verified.", code="already_verified")
    check_number_allowed(svc, line.number)
    await svc.verification.check_send(line.number, auth.client_ip(request))
    report = await svc.verification.issue(account.id, "line", line.number)
    return await send_report(svc, line.number, report)


@routes.post(r"/api/v1/lines/{line_id}/verify")
async def verify_line(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.verified_account(request, svc)
    line = await _line(request, svc, account.id)
    data = await read_json(request, AUTH_BODY_BYTES)
    proved = await svc.verification.check(
        account.id, "line", data.get("code"), auth.client_ip(request)
    )
    if proved is None or proved != line.number:
        raise BadRequest("The code is wrong or has expired.", code="invalid_code")
    await svc.verification.apply(account.id, "line", proved)
    verified = await svc.lines.get(account.id, line.id)
    assert verified is not None
    return json_response({"line": line_json(verified)})
