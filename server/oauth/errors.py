"""Errors of the authorization server and the resource guard.

Hierarchy::

    OAuthError (400 invalid_request)      RFC 6749 §5.2 shape: {"error", "error_description"}
    ├── InvalidClient (401)               unknown client, wrong or missing secret
    ├── InvalidGrant (400)                code or refresh token unknown, used, expired
    ├── UnauthorizedClient (400)
    ├── UnsupportedGrantType (400)
    ├── InvalidScope (400)
    └── InvalidClientMetadata (400)       RFC 7591 registration
    InvalidToken (server.errors.Unauthenticated, 401)   a bearer token that does not pass
    InsufficientScope (server.errors.Forbidden, 403)    the token may not do this

Token-endpoint errors use the OAuth shape, because clients (Authlib among them) read it;
bearer errors use the server's JSON shape plus ``WWW-Authenticate`` (RFC 6750 §3).
Messages never contain a token, code or secret.
"""

from __future__ import annotations

from aiohttp import web

from server.errors import Forbidden, Unauthenticated


class OAuthError(Exception):
    """An OAuth protocol error, answered as RFC 6749 §5.2 JSON."""

    status = 400
    error = "invalid_request"

    def __init__(self, description: str, *, error: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if error is not None:
            self.error = error

    def response(self) -> web.Response:
        resp = web.json_response(
            {"error": self.error, "error_description": self.description}, status=self.status
        )
        resp.headers["Cache-Control"] = "no-store"
        return resp


class InvalidClient(OAuthError):
    status = 401
    error = "invalid_client"

    def response(self) -> web.Response:
        resp = super().response()
        resp.headers["WWW-Authenticate"] = 'Basic realm="ferry"'
        return resp


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidClientMetadata(OAuthError):
    error = "invalid_client_metadata"


class InvalidToken(Unauthenticated):
    """A bearer token that is malformed, forged, expired, for another audience, or whose
    grant ended."""

    code = "invalid_token"
    message = "The access token is not valid."

    def response(self) -> web.Response:
        resp = super().response()
        resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp


class InsufficientScope(Forbidden):
    """The token lacks the scope this route needs, or the route is not open to apps."""

    code = "insufficient_scope"
    message = "The app was not granted this."

    def __init__(self, message: str | None = None, *, scope: str = "") -> None:
        super().__init__(message)
        self.scope = scope

    def response(self) -> web.Response:
        resp = super().response()
        value = 'Bearer error="insufficient_scope"'
        if self.scope:
            value += f', scope="{self.scope}"'
        resp.headers["WWW-Authenticate"] = value
        return resp
