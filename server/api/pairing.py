"""Pairing codes over REST: a signed-in user creates one; a bridge fetches the server key.

``POST /api/v1/pairing-codes`` (signed in, CSRF-checked by the middleware), optionally
``{"number": N}`` → 201 ``{"code", "uri", "qr_svg", "expires_at", "line_id"}``; 429 with
``Retry-After`` past the hourly limit; 409 ``device_limit`` when the account has as many
devices as allowed.

A bridge serves the SIM next to it, so a code names the line its bridge will serve: the
account's own number by default, or ``number``, the number of another phone or modem
(verified account only). A new number becomes an unverified line: what its bridge uploads
is stored, and shown once the account proves the number (the code texted to it:
``server.api.lines``). 409 ``number_taken`` when another account holds the number as a
verified line or as its own number.

``GET /api/v1/pairing/server-key`` → ``{"key": <base64url>}``: public; a bridge given the
typed form checks it against the code's fingerprint before trusting it.
"""

from __future__ import annotations

from aiohttp import web

from protocol.pairing import encode_key
from server.api.common import AUTH_BODY_BYTES, json_response, phone_field, read_json, services
from server.auth.pairing import make_offer, new_code
from server.auth.web import current_account, require_verified
from server.errors import Conflict, RateLimited
from server.services import Services
from server.storage.accounts import Account
from server.storage.lines import NumberTaken
from server.storage.pairing import DeviceLimit, TooManyCodes

routes = web.RouteTableDef()


@routes.post("/api/v1/pairing-codes")
async def create_pairing_code(request: web.Request) -> web.Response:
    svc = services(request)
    # Signed in is enough: a bridge of an unverified account uploads into storage that is
    # not served until the number is verified, and pairing the bridge that sits on the
    # number's SIM is how the number gets verified automatically.
    account = await current_account(request, svc)
    line_id = await _line_for(request, svc, account)
    code = new_code()
    result = await svc.pairing.create(
        account.id,
        code,
        svc.clock.now(),
        ttl=svc.config.pairing_code_ttl,
        per_hour=svc.config.pairing_codes_per_hour,
        max_devices=svc.config.max_devices,
        line_id=line_id,
    )
    if isinstance(result, TooManyCodes):
        raise RateLimited(result.retry_after, "Too many pairing codes; try again later.")
    if isinstance(result, DeviceLimit):
        raise Conflict(
            f"This account already has {svc.config.max_devices} devices; remove one first.",
            code="device_limit",
        )
    url = svc.config.public_url or f"{request.scheme}://{request.host}"
    offer = make_offer(code, url, svc.server_public, svc.tls_pin, result.expires_at)
    return json_response({**offer.as_json(), "line_id": line_id}, status=201)


async def _line_for(request: web.Request, svc: Services, account: Account) -> int | None:
    """The line the new bridge will serve: ``number``'s (claimed for the account when new),
    else the account's own number's."""
    data = await read_json(request, AUTH_BODY_BYTES) if request.body_exists else {}
    if data.get("number") is None:
        own = [x for x in await svc.lines.for_account(account.id) if x.number == account.phone]
        return own[0].id if own else None
    require_verified(account)
    number = phone_field(data, "number")
    try:
        return await svc.lines.claim(account.id, number, svc.clock.now())
    except NumberTaken:
        raise Conflict(
            "This number is already on another Ferry account.", code="number_taken"
        ) from None


@routes.get("/api/v1/pairing/server-key")
async def server_key(request: web.Request) -> web.Response:
    return json_response({"key": encode_key(services(request).server_public)})
