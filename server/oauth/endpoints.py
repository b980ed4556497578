"""The authorization server's HTTP endpoints (thin: decisions are in ``service``).

- ``GET /.well-known/oauth-authorization-server``  metadata (RFC 8414)
- ``GET /oauth/jwks``                               public signing keys (RFC 7517)
- ``GET /oauth/authorize``                          starts consent (RFC 6749 §4.1.1)
- ``POST /oauth/token``                             code and refresh grants (§4.1.3, §6)
- ``POST /oauth/revoke``                            RFC 7009
- ``POST /oauth/introspect``                        RFC 7662, confidential clients
- ``POST /oauth/register``                          RFC 7591, when the operator allows it

The token-side endpoints never read cookies, so they skip the CSRF check and answer in
the RFC 6749 §5.2 error shape.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import hdrs, web

import web_client
from server.api.common import json_response, read_json, services
from server.auth.web import client_ip
from server.errors import NotFound
from server.middleware import CSP
from server.oauth import core
from server.oauth.errors import InvalidClient, OAuthError
from server.oauth.service import audience, error_redirect
from server.storage.oauth_clients import Client

routes = web.RouteTableDef()

#: Endpoints a client calls directly (never with cookies; CORS for registered origins).
CLIENT_PATHS = frozenset({"/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/register"})
MAX_FORM = 8 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def issuer_of(request: web.Request) -> str:
    """This server's issuer identifier: ``FERRY_PUBLIC_URL``, else the request's origin."""
    public = services(request).config.public_url
    return public or f"{request.scheme}://{request.host}"


def oauth_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except OAuthError as exc:
            return exc.response()

    return wrapped


def _no_store(resp: web.Response) -> web.Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@routes.get("/.well-known/oauth-authorization-server")
async def metadata(request: web.Request) -> web.Response:
    issuer = issuer_of(request)
    body: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "scopes_supported": list(core.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": f"{issuer}/api/v1/openapi.json",
        # RFC 9728-style hint for clients: the audience of access tokens.
        "ferry_resource": audience(issuer),
    }
    if services(request).config.oauth_dynamic_registration:
        body["registration_endpoint"] = f"{issuer}/oauth/register"
    return json_response(body)


@routes.get("/oauth/jwks")
async def jwks(request: web.Request) -> web.Response:
    svc = services(request)
    resp = json_response(await svc.oauth.keys.jwks(svc.clock.monotonic()))
    # Short: a rotation must reach verifiers before the new key signs much.
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@routes.get("/oauth/authorize")
async def authorize(request: web.Request) -> web.StreamResponse:
    """Check the request and hand it to the consent screen by a server-side record."""
    svc = services(request)
    if any(len(v) > 1000 for v in request.query.values()) or len(request.query) > 20:
        return _problem_page("The sign-in link is too long.")
    if any(len(request.query.getall(k)) > 1 for k in request.query):
        return _problem_page("A parameter of the sign-in link appears twice.")
    try:
        handle, _ = await svc.oauth.start(request.query)
    except core.RedirectableError as exc:
        raise web.HTTPFound(
            error_redirect(
                request.query["redirect_uri"],
                exc.error,
                exc.description,
                request.query.get("state"),
                issuer_of(request),
            )
        ) from None
    except OAuthError as exc:
        # Never redirect to a URI that was not registered (RFC 9700 §4.11: open redirector).
        return _problem_page(exc.description)
    raise web.HTTPFound(f"/oauth/consent?request={handle}")


def _problem_page(reason: str) -> web.Response:
    text = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Ferry: link not valid</title>"
        '<link rel="stylesheet" href="/static/css/app.css">'
        "<main class=oauth-problem><h1>This app's sign-in link does not work</h1>"
        f"<p>{html.escape(reason)}</p><p>Nothing was shared. Tell the app's developer.</p></main>"
    )
    return web.Response(text=text, status=400, content_type="text/html")


@routes.get("/oauth/consent")
async def consent_page(request: web.Request) -> web.FileResponse:
    """The consent screen; an app's logo may come from its own https host."""
    resp = _page("consent.html")
    resp.headers["Content-Security-Policy"] = CSP.replace(
        "img-src 'self' data:", "img-src 'self' data: https:"
    )
    return resp


@routes.get("/settings/apps")
async def apps_page(request: web.Request) -> web.FileResponse:
    """Connected apps and developer apps (the page loads its data over REST)."""
    return _page("apps.html")


def _page(name: str) -> web.FileResponse:
    resp = web.FileResponse(Path(web_client.__file__).parent / name)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


async def _form(request: web.Request) -> dict[str, str]:
    """The body of a client request: form-encoded, bounded, each parameter once
    (RFC 6749 §3.1)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise OAuthError("Send the parameters form-encoded.")
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise OAuthError("The request is too large.")
    raw = await request.content.read(MAX_FORM + 1)
    if len(raw) > MAX_FORM:
        raise OAuthError("The request is too large.")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("The parameters are not valid.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError(f"The parameter {key[:30]} appears twice.")
        form[key] = value
    return form


async def _client(request: web.Request, form: dict[str, str]) -> Client:
    """The authenticated client, within its rate limit (else 429, ``Retry-After``)."""
    svc = services(request)
    client = await svc.oauth.authenticate_client(form, request.headers.get(hdrs.AUTHORIZATION))
    await svc.oauth.limiter.check(client.client_id)
    await svc.oauth.limiter.hit(client.client_id)
    return client


@routes.post("/oauth/token")
@oauth_errors
async def token(request: web.Request) -> web.Response:
    svc = services(request)
    form = await _form(request)
    client = await _client(request, form)
    body = await svc.oauth.token(form, client, issuer_of(request))
    return _no_store(json_response(body))


@routes.post("/oauth/revoke")
@oauth_errors
async def revoke(request: web.Request) -> web.Response:
    svc = services(request)
    form = await _form(request)
    client = await _client(request, form)
    token_value = form.get("token")
    if not token_value:
        raise OAuthError("Send the token to revoke.")
    revoked = await svc.oauth.revoke_token(token_value, client, issuer_of(request))
    if revoked:
        await svc.oauth.sweep_sockets()
    # The same answer whether or not the token was known (RFC 7009 §2.2).
    return _no_store(web.Response(status=200))


@routes.post("/oauth/introspect")
@oauth_errors
async def introspect(request: web.Request) -> web.Response:
    svc = services(request)
    form = await _form(request)
    client = await _client(request, form)
    if not client.confidential:
        raise InvalidClient("Introspection is for confidential clients.")
    token_value = form.get("token")
    if not token_value:
        raise OAuthError("Send the token to introspect.")
    return _no_store(
        json_response(await svc.oauth.introspect(token_value, client, issuer_of(request)))
    )


@routes.post("/oauth/register")
@oauth_errors
async def register(request: web.Request) -> web.Response:
    """RFC 7591 dynamic registration (``FERRY_OAUTH_DYNAMIC_REGISTRATION``)."""
    svc = services(request)
    if not svc.config.oauth_dynamic_registration:
        raise NotFound()
    await svc.oauth.registrations.check(client_ip(request))
    await svc.oauth.registrations.hit(client_ip(request))
    data = await read_json(request, MAX_FORM)
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in ("none", "client_secret_basic", "client_secret_post"):
        raise OAuthError("Unsupported token_endpoint_auth_method.", error="invalid_client_metadata")
    if not set(data.get("grant_types", ["authorization_code"])) <= {
        "authorization_code",
        "refresh_token",
    } or data.get("response_types", ["code"]) != ["code"]:
        raise OAuthError(
            "Only the authorization_code and refresh_token grants exist here.",
            error="invalid_client_metadata",
        )
    done = await svc.oauth.register(
        account_id=None,
        name=data.get("client_name", "Unnamed app"),
        redirect_uris=data.get("redirect_uris"),
        logo_uri=data.get("logo_uri"),
        confidential=method != "none",
    )
    client = done.client
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created_at.timestamp()),
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
    if client.logo_uri:
        body["logo_uri"] = client.logo_uri
    if done.secret is not None:
        body["client_secret"] = done.secret
        body["client_secret_expires_at"] = 0
    return _no_store(json_response(body, status=201))
