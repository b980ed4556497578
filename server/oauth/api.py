"""The user's side of OAuth, over REST with the session cookie (CSRF-checked):

- consent: ``GET/POST /api/v1/oauth/requests/{handle}`` (the consent screen)
- developer apps: ``GET/POST /api/v1/oauth/clients``, ``DELETE …/clients/{id}``
- connected apps: ``GET /api/v1/oauth/grants``, ``GET …/grants/{id}/log``,
  ``DELETE …/grants/{id}`` (revoke: tokens stop, sockets close)

and the apps' own ``POST /api/v1/oauth/socket-ticket`` (bearer), for live updates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from server.api.common import id_param, json_response, read_json, services
from server.auth import web as auth
from server.errors import BadRequest, Forbidden, NotFound
from server.oauth import core
from server.oauth.endpoints import issuer_of
from server.oauth.errors import InvalidClientMetadata, InvalidScope
from server.oauth.guard import bearer_of
from server.services import Services
from server.storage.accounts import Account
from server.storage.oauth_clients import Client
from server.storage.oauth_grants import Grant

routes = web.RouteTableDef()

GRANT_NOTICE = (
    "Ferry: {app} can now {what} for you. Not you? Revoke it in Settings > Connected apps."
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _handle(request: web.Request) -> str:
    handle = request.match_info["handle"]
    if not core.looks_like_secret(handle):
        raise NotFound("This request has expired or was answered already.")
    return handle


async def _pending(request: web.Request, svc: Services) -> Any:
    found = await svc.oauth.pending(_handle(request))
    if found is None:
        raise NotFound("This request has expired or was answered already.")
    return found


def _client_view(client: Client) -> dict[str, Any]:
    return {
        "name": client.name,
        "logo_uri": client.logo_uri,
        "redirect_hosts": sorted({core.origin_of(u) for u in client.redirect_uris}),
    }


# ------------------------------------------------------------------ consent


@routes.get("/api/v1/oauth/requests/{handle}")
async def consent_request(request: web.Request) -> web.Response:
    """What the consent screen shows: who asks, what for, and the account's
    conversations to choose from."""
    svc = services(request)
    account = await auth.verified_account(request, svc)
    pending, client = await _pending(request, svc)
    threads, _, _ = await svc.conversations.snapshot(account.id)
    return json_response(
        {
            "client": _client_view(client),
            "redirect_host": core.origin_of(pending.redirect_uri),
            "scopes": [{"scope": s, "description": core.SCOPES[s]} for s in pending.scopes],
            "conversations": [
                {"id": t.id, "title": t.title, "peer": t.peer, "line": t.line} for t in threads
            ],
            "durations": list(core.DURATIONS),
            "expires_at": _iso(pending.expires_at),
        }
    )


@routes.post("/api/v1/oauth/requests/{handle}")
async def decide(request: web.Request) -> web.Response:
    """Allow (``{"decision": "allow", "scopes": [...], "conversations": [...] | null,
    "duration": "1h"|"1d"|"30d"|"forever"}``) or deny; answers where to send the browser."""
    svc = services(request)
    account = await auth.verified_account(request, svc)
    handle = _handle(request)
    pending, client = await _pending(request, svc)
    data = await read_json(request)
    issuer = issuer_of(request)
    if data.get("decision") == "deny":
        target = await svc.oauth.deny(handle, pending, issuer)
        if target is None:
            raise NotFound("This request has expired or was answered already.")
        return json_response({"redirect_to": target})
    if data.get("decision") != "allow":
        raise BadRequest("Say 'allow' or 'deny'.", code="invalid_body")
    scopes, threads, expires_at = await _choices(svc, account, pending.scopes, data)
    done = await svc.oauth.approve(
        handle,
        pending,
        account_id=account.id,
        scopes=scopes,
        threads=threads,
        expires_at=expires_at,
        issuer=issuer,
    )
    if done is None:
        raise NotFound("This request has expired or was answered already.")
    await _granted(request, svc, account, client, scopes)
    return json_response({"redirect_to": done[1]})


async def _choices(
    svc: Services, account: Account, asked: tuple[str, ...], data: dict[str, Any]
) -> tuple[tuple[str, ...], tuple[int, ...] | None, datetime | None]:
    ticked = data.get("scopes")
    if not isinstance(ticked, list) or not all(isinstance(s, str) for s in ticked):
        raise BadRequest("Tick at least one permission.", code="invalid_scope")
    try:
        scopes = core.narrowed(asked, ticked)
    except InvalidScope as exc:
        raise BadRequest(exc.description, code="invalid_scope") from None
    threads_now, _, _ = await svc.conversations.snapshot(account.id)
    try:
        threads = core.chosen_threads(data.get("conversations"), [t.id for t in threads_now])
    except ValueError as exc:
        raise BadRequest(f"Conversations: {exc}.", code="invalid_conversations") from None
    try:
        expires_at = core.expiry(svc.clock.now(), data.get("duration"))
    except KeyError:
        raise BadRequest(
            "Choose how long: 1h, 1d, 30d or forever.", code="invalid_duration"
        ) from None
    return scopes, threads, expires_at


async def _granted(
    request: web.Request, svc: Services, account: Account, client: Client, scopes: tuple[str, ...]
) -> None:
    """A security event, and an SMS to the account's number: a grant the user did not
    make (a hijacked session) must not go unnoticed."""
    await svc.events.record(
        account.id,
        "app_granted",
        svc.clock.now(),
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    what = "read your messages" if "messages:read" in scopes else "use your account"
    if "messages:send" in scopes:
        what = "read and send your messages" if "messages:read" in scopes else "send texts"
    svc.verification.send(
        account.phone, GRANT_NOTICE.format(app=client.name[:40], what=what), "notice"
    )


# ------------------------------------------------------------------ developer apps


def _developer_view(client: Client, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": client.id,
        "client_id": client.client_id,
        "name": client.name,
        "logo_uri": client.logo_uri,
        "redirect_uris": list(client.redirect_uris),
        "confidential": client.confidential,
        "created_at": _iso(client.created_at),
    }
    if secret is not None:
        body["client_secret"] = secret  # shown this once; only its hash is kept
    return body


@routes.get("/api/v1/oauth/clients")
async def list_clients(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    return json_response(
        {"clients": [_developer_view(c) for c in await svc.oauth.clients.of_account(account.id)]}
    )


@routes.post("/api/v1/oauth/clients")
async def create_client(request: web.Request) -> web.Response:
    """Register an app: ``{"name", "redirect_uris": [...], "logo_uri"?, "confidential"}``."""
    svc = services(request)
    account = await auth.verified_account(request, svc)
    data = await read_json(request)
    if len(await svc.oauth.clients.of_account(account.id)) >= 20:
        raise Forbidden("An account may register 20 apps.", code="too_many_apps")
    confidential = data.get("confidential", False)
    if not isinstance(confidential, bool):
        raise BadRequest("'confidential' is true or false.", code="invalid_body")
    try:
        done = await svc.oauth.register(
            account_id=account.id,
            name=data.get("name"),
            redirect_uris=data.get("redirect_uris"),
            logo_uri=data.get("logo_uri"),
            confidential=confidential,
        )
    except InvalidClientMetadata as exc:
        raise BadRequest(exc.description, code=exc.error) from None
    return json_response({"client": _developer_view(done.client, done.secret)}, status=201)


@routes.delete("/api/v1/oauth/clients/{client_pk}")
async def delete_client(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    if not await svc.oauth.clients.delete(account.id, id_param(request, "client_pk")):
        raise NotFound()
    await svc.oauth.sweep_sockets()
    return web.Response(status=204)


# ------------------------------------------------------------------ connected apps


def _grant_view(grant: Grant, titles: dict[int, str]) -> dict[str, Any]:
    return {
        "id": grant.id,
        "app": grant.client_name,
        "client_id": grant.client_id,
        "scopes": [{"scope": s, "description": core.SCOPES.get(s, s)} for s in grant.scopes],
        "conversations": None
        if grant.threads is None
        else [{"id": t, "title": titles.get(t, "(deleted conversation)")} for t in grant.threads],
        "granted_at": _iso(grant.created_at),
        "expires_at": _iso(grant.expires_at),
        "last_used_at": _iso(grant.last_used_at),
    }


@routes.get("/api/v1/oauth/grants")
async def list_grants(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    grants = await svc.oauth.grants.live_grants(account.id, svc.clock.now())
    threads, _, _ = await svc.conversations.snapshot(account.id)
    titles = {t.id: t.title for t in threads}
    return json_response({"grants": [_grant_view(g, titles) for g in grants]})


@routes.get("/api/v1/oauth/grants/{grant_id}/log")
async def grant_log(request: web.Request) -> web.Response:
    svc = services(request)
    account = await auth.current_account(request, svc)
    entries = await svc.oauth.grants.log_of(account.id, id_param(request, "grant_id"))
    return json_response(
        {
            "log": [
                {"at": _iso(e.at), "ip": e.ip, "action": e.action, "status": e.status}
                for e in entries
            ]
        }
    )


@routes.delete("/api/v1/oauth/grants/{grant_id}")
async def revoke_grant(request: web.Request) -> web.Response:
    """Revoke an app's access: its tokens stop now and its sockets close."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    grant_id = id_param(request, "grant_id")
    if not await svc.oauth.grants.revoke(grant_id, svc.clock.now(), account_id=account.id):
        raise NotFound()
    await svc.oauth.sweep_sockets()
    await svc.events.record(
        account.id,
        "app_revoked",
        svc.clock.now(),
        ip=auth.client_ip(request),
        user_agent=auth.user_agent(request),
    )
    return web.Response(status=204)


# ------------------------------------------------------------------ socket tickets


@routes.post("/api/v1/oauth/socket-ticket")
async def socket_ticket(request: web.Request) -> web.Response:
    """A one-time ticket (30 s) for ``/api/v1/oauth/socket``: a bearer token never goes
    into a socket URL."""
    svc = services(request)
    found = bearer_of(request)
    if found is None:
        raise Forbidden("Apps ask for tickets with their access token.", code="bearer_required")
    ticket = await svc.oauth.new_ticket(found.grant)
    return json_response(
        {"ticket": ticket, "expires_in": int(core.TICKET_TTL.total_seconds())}, status=201
    )
