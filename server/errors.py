"""API errors of the server, mapped to one JSON shape.

Hierarchy::

    ApiError (500 internal)          base; ``code`` and ``status`` are sent to the client
    ├── BadRequest (400)             invalid_json, invalid_number, invalid_body, ...
    ├── Unauthenticated (401)        unauthenticated, invalid_credentials
    ├── Forbidden (403)              csrf_rejected, phone_unverified
    ├── NotFound (404)               not_found (also for other accounts' objects)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)            carries ``retry_after`` seconds
    └── Busy (503)                   the server is saturated; carries ``retry_after``

Anything else raised in a handler becomes ``500 internal`` with no detail; the cause is
logged on the server only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An error whose code and message are safe to show to the client."""

    status = 500
    code = "internal"
    message = "Something went wrong on the server."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def response(self) -> web.Response:
        resp = web.json_response(self.body(), status=self.status)
        if isinstance(self, (RateLimited, Busy)):
            resp.headers["Retry-After"] = str(self.retry_after)
        return resp


class BadRequest(ApiError):
    status = 400
    code = "bad_request"
    message = "The request is not valid."


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"
    message = "Sign in first."


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    message = "Not allowed."


class NotFound(ApiError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(ApiError):
    status = 409
    code = "conflict"
    message = "Conflicts with existing data."


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"
    message = "The request body is too large."


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"
    message = "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Busy(ApiError):
    status = 503
    code = "server_busy"
    message = "The server is busy checking other passwords; try again in a few seconds."

    def __init__(self, retry_after: int = 2, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
