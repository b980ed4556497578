"""The terms of use and privacy notice, their acceptance, and how sign-up works here
(see ``server/consent/terms.py`` and ``server/auth/signup.py``)."""

from __future__ import annotations

from aiohttp import web

from server.api.accounts import check_terms_field
from server.api.common import AUTH_BODY_BYTES, json_response, read_json, services
from server.api.session import _iso
from server.auth import web as auth
from server.services import Services

routes = web.RouteTableDef()


@routes.get("/api/v1/terms")
async def terms(request: web.Request) -> web.Response:
    """The current terms and privacy notice (Markdown) and their version (public)."""
    svc = services(request)
    t = svc.terms
    return json_response({"version": t.version, "terms": t.terms, "privacy": t.privacy})


@routes.get("/api/v1/signup")
async def signup_rules(request: web.Request) -> web.Response:
    """How sign-up works on this server (public): ``mode`` (open, invite, closed), the
    countries whose numbers may sign up (empty: any) and the terms version to accept."""
    svc = services(request)
    policy = svc.signup_policy
    return json_response(
        {
            "mode": policy.mode,
            "countries": sorted(policy.countries),
            "terms_version": svc.terms.version,
        }
    )


async def _status(svc: Services, account_id: int) -> dict[str, object]:
    latest = await svc.acceptances.latest(account_id)
    return {
        "version": svc.terms.version,
        "accepted_version": latest.version if latest else None,
        "accepted_at": _iso(latest.accepted_at) if latest else None,
        "accepted": latest is not None and latest.version == svc.terms.version,
        # Asked again only after accepting an earlier version: an account that never
        # accepted any (made by an operator with ``ferry admin create-account``, or before
        # versioned terms) is not stopped by the web client (see consent/terms.py).
        "must_accept": latest is not None and latest.version != svc.terms.version,
    }


@routes.get("/api/v1/me/terms")
async def my_terms(request: web.Request) -> web.Response:
    """Whether the account accepted the current version (``accepted``), which it
    accepted last and when; ``must_accept``: it accepted an earlier one, and the web
    client asks again."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    return json_response(await _status(svc, account.id))


@routes.post("/api/v1/me/terms")
async def accept_terms(request: web.Request) -> web.Response:
    """Accept the current version: ``{"version": "<the version shown>"}`` (409
    ``terms_changed`` when it is no longer the current one)."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    version = check_terms_field(svc, data, "version")
    now = svc.clock.now()
    await svc.acceptances.accept(account.id, version, now)
    await svc.events.record(
        account.id,
        "terms_accepted",
        now,
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    return json_response(await _status(svc, account.id))
