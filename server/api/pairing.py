"""Pairing codes over REST: a signed-in user creates one; a bridge fetches the server key.

``POST /api/v1/pairing-codes`` (signed in, verified number, CSRF-checked by the middleware)
→ 201 ``{"code", "uri", "qr_svg", "expires_at"}``; 429 with ``Retry-After`` past the hourly
limit; 409 ``device_limit`` when the account has as many devices as allowed.

``GET /api/v1/pairing/server-key`` → ``{"key": <base64url>}``: public; a bridge given the
typed form checks it against the code's fingerprint before trusting it.
"""

from __future__ import annotations

from aiohttp import web

from protocol.pairing import encode_key
from server.api.common import json_response, services
from server.auth.pairing import make_offer, new_code
from server.auth.web import current_account
from server.errors import Conflict, RateLimited
from server.storage.pairing import DeviceLimit, TooManyCodes

routes = web.RouteTableDef()


@routes.post("/api/v1/pairing-codes")
async def create_pairing_code(request: web.Request) -> web.Response:
    svc = services(request)
    # Signed in is enough: a bridge of an unverified account uploads into storage that is
    # not served until the number is verified, and pairing the bridge that sits on the
    # number's SIM is how the number gets verified automatically.
    account = await current_account(request, svc)
    code = new_code()
    result = await svc.pairing.create(
        account.id,
        code,
        svc.clock.now(),
        ttl=svc.config.pairing_code_ttl,
        per_hour=svc.config.pairing_codes_per_hour,
        max_devices=svc.config.max_devices,
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
    return json_response(offer.as_json(), status=201)


@routes.get("/api/v1/pairing/server-key")
async def server_key(request: web.Request) -> web.Response:
    return json_response({"key": encode_key(services(request).server_public)})
