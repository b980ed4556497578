"""The resource guard: every request to ``/api/`` with ``Authorization`` passes here.

A bearer request is judged by its token alone: cookies are never read for it (so a
page cannot borrow a user's session through an app, and CSRF protection of cookie
requests stays whole), and it skips the CSRF check because it carries no ambient
credential. Per request::

    token verified (signature, typ, iss, aud, exp, nbf) and its grant live
      ─▶ the route is open to apps (ROUTES; anything else: 403 insufficient_scope)
      ─▶ the token has the route's scope ─▶ the client is within its rate limit
      ─▶ handler (conversation limits applied there: thread_limit / check_thread)
      ─▶ one line in the app's access log; CORS headers for the client's own origins

CORS is answered only for origins of registered redirect URIs, and only for bearer
requests, the client endpoints and the public metadata and keys (never with
credentials).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import hdrs, web
from sqlalchemy.exc import SQLAlchemyError

from server.api.common import services
from server.auth.web import BEARER, CSRF_EXEMPT, client_ip
from server.errors import ApiError, Forbidden, NotFound
from server.log import security_logger
from server.middleware import Handler
from server.oauth.endpoints import CLIENT_PATHS, issuer_of
from server.oauth.errors import InsufficientScope, InvalidToken
from server.oauth.service import Bearer


@dataclass(frozen=True)
class Rule:
    scope: str
    #: What the access log says the app did ("{id}": the object in the path).
    action: str


#: The routes open to apps, each with the scope it needs. Not listed: not open to apps
#: (account settings, sessions, devices, pairing, deletion, export, OAuth management).
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/threads"): Rule("messages:read", "listed conversations"),
    ("GET", "/api/v1/threads/{thread_id}/messages"): Rule(
        "messages:read", "read conversation {thread_id}"
    ),
    ("POST", "/api/v1/threads/{thread_id}/read"): Rule(
        "messages:read", "marked conversation {thread_id} read"
    ),
    ("PATCH", "/api/v1/threads/{thread_id}"): Rule(
        "messages:send", "changed conversation {thread_id}"
    ),
    ("GET", "/api/v1/search"): Rule("messages:read", "searched messages"),
    ("GET", "/api/v1/attachments/{attachment_id}"): Rule(
        "messages:read", "downloaded attachment {attachment_id}"
    ),
    ("POST", "/api/v1/messages"): Rule("messages:send", "sent a message"),
    ("GET", "/api/v1/contacts"): Rule("contacts:read", "read contacts"),
    ("GET", "/api/v1/me"): Rule("account:read", "read the account"),
    ("GET", "/api/v1/lines"): Rule("account:read", "listed numbers"),
    ("GET", "/api/v1/devices"): Rule("account:read", "listed phones"),
    ("POST", "/api/v1/oauth/socket-ticket"): Rule("messages:read", "opened live updates"),
}

#: What the app did, when the handler says more than the route's action.
ACTION: web.RequestKey[str] = web.RequestKey("ferry_oauth_action", str)
#: Read by apps' pages too (no credentials involved).
_PUBLIC_DOCUMENTS = frozenset({"/.well-known/oauth-authorization-server", "/oauth/jwks"})
_EXPOSE = "WWW-Authenticate, Retry-After"
_METHODS = "GET, POST, PATCH, OPTIONS"


def bearer_of(request: web.Request) -> Bearer | None:
    """The request's verified bearer token, or None for a cookie request."""
    found = request.get(BEARER)
    return found if isinstance(found, Bearer) else None


def thread_limit(request: web.Request) -> frozenset[int] | None:
    """The conversations the request may see; None: all (a cookie or unlimited token)."""
    found = bearer_of(request)
    return None if found is None else found.threads


def check_thread(request: web.Request, thread_id: int) -> None:
    """404 (as for a conversation that does not exist) outside the token's limit."""
    limit = thread_limit(request)
    if limit is not None and thread_id not in limit:
        raise NotFound()


def note(request: web.Request, action: str) -> None:
    """Say more precisely what the app did, for its access log."""
    request[ACTION] = action[:120]


@web.middleware
async def oauth_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and _cors_path(request.path):
        return await _preflight(request)
    if request.path in CLIENT_PATHS or request.path in _PUBLIC_DOCUMENTS:
        request[CSRF_EXEMPT] = True
        resp = await handler(request)
        await _allow_origin(request, resp, None)
        return resp
    if hdrs.AUTHORIZATION not in request.headers or not request.path.startswith("/api/"):
        return await handler(request)
    request[CSRF_EXEMPT] = True  # no cookie is read for this request
    found: Bearer | None = None
    try:
        found = await _authenticate(request)
        resp = await handler(request)
    except ApiError as exc:
        resp = exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        resp = ApiError(exc.reason, code=exc.reason.lower().replace(" ", "_")).response()
        resp.set_status(exc.status)
    if found is not None:
        await _record(request, found, resp.status)
    await _allow_origin(request, resp, found)
    return resp


async def _authenticate(request: web.Request) -> Bearer:
    svc = services(request)
    scheme, _, token = request.headers[hdrs.AUTHORIZATION].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send an access token: Authorization: Bearer <token>.")
    found = await svc.oauth.bearer(token.strip(), issuer_of(request))
    rule = _rule(request)
    if rule is None:
        raise InsufficientScope("This part of Ferry is not open to apps.")
    if rule.scope not in found.claims.scopes:
        raise InsufficientScope(f"The app was not granted {rule.scope}.", scope=rule.scope)
    await svc.oauth.limiter.check(found.claims.client_id)
    await svc.oauth.limiter.hit(found.claims.client_id)
    request[BEARER] = found
    return found


def _rule(request: web.Request) -> Rule | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    return ROUTES.get((request.method, resource.canonical))


async def _record(request: web.Request, found: Bearer, status: int) -> None:
    svc = services(request)
    action = request.get(ACTION)
    if action is None:
        rule = _rule(request)
        action = request.path if rule is None else rule.action.format(**request.match_info)
    try:
        await svc.oauth.grants.record(
            found.grant.id, svc.clock.now(), ip=client_ip(request), action=action, status=status
        )
    except SQLAlchemyError as exc:
        security_logger.warning("could not write an app's access log (%s)", type(exc).__name__)


def _cors_path(path: str) -> bool:
    return path.startswith("/api/v1/") or path in CLIENT_PATHS


async def _allow_origin(
    request: web.Request, resp: web.StreamResponse, found: Bearer | None
) -> None:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None or len(origin) > 300:
        return
    oauth = services(request).oauth
    if found is not None:
        allowed = origin in await oauth.clients.origins_of(found.claims.client_id)
    else:
        allowed = await oauth.clients.origin_registered(origin)
    if allowed:
        resp.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        resp.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = _EXPOSE
        resp.headers.add(hdrs.VARY, "Origin")


async def _preflight(request: web.Request) -> web.Response:
    """A CORS preflight: allowed for registered client origins, and on ``/api/`` only
    for requests that will carry a bearer token."""
    origin = request.headers.get(hdrs.ORIGIN, "")
    asked = {
        h.strip().lower()
        for h in request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "").split(",")
    }
    bearer_ok = request.path in CLIENT_PATHS or "authorization" in asked
    known = len(origin) <= 300 and await services(request).oauth.clients.origin_registered(origin)
    if not (known and bearer_ok):
        return Forbidden(
            "Cross-origin requests need a registered app.", code="cors_rejected"
        ).response()
    return web.Response(
        status=204,
        headers={
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: _METHODS,
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "Authorization, Content-Type",
            hdrs.ACCESS_CONTROL_MAX_AGE: "600",
            hdrs.VARY: "Origin",
        },
    )
