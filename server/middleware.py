"""Request middlewares: JSON errors without internals, CSRF/Origin checks, security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from server.api.common import services
from server.auth.web import CSRF_EXEMPT, client_ip, origin_allowed
from server.errors import ApiError, Forbidden, NotFound, PayloadTooLarge
from server.log import server_logger

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One access-log row per request (see ``server.access_log``); the outermost layer."""
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        services(request).access_log.record(request, status, client_ip(request))


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return PayloadTooLarge().response()
    except web.HTTPException as exc:
        if request.path.startswith("/api/") and exc.status >= 400:
            err = ApiError(exc.reason, code=exc.reason.lower().replace(" ", "_"))
            err.status = exc.status
            if exc.status == 404:
                err = NotFound()
            return err.response()
        raise
    except Exception:
        # Full detail stays in the server log; the client gets a stable, empty shape.
        server_logger.exception("unhandled error in %s %s", request.method, request.path)
        return ApiError().response()


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in _UNSAFE and not request.get(CSRF_EXEMPT):
        svc = services(request)
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or not origin_allowed(
            request, svc
        ):
            raise Forbidden("Cross-site requests are not allowed.", code="csrf_rejected")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/"):
        h.setdefault("Cache-Control", "no-store")
    if request.secure or services(request).config.secure_cookies:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
