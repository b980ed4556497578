"""The OpenAPI part of third-party apps (``server/oauth``): the bearer scheme and the
authorization server's and the user's endpoints (merged into the document by
``openapi.py``). Built by a function that takes the document's helpers from ``openapi``
when called, so there is no import cycle."""

from __future__ import annotations

from typing import Any

from server.oauth.core import DURATIONS, SCOPES

Schema = dict[str, Any]


def build() -> tuple[Schema, dict[str, dict[str, Schema]]]:
    """The ``oauth`` security scheme and the OAuth paths."""
    from server.api import openapi as o

    (
        _AUTH,
        _B,
        _I,
        _ID,
        _NS,
        _PUBLIC,
        _S,
        _VERIFIED,
        _err,
        _json,
        _obj,
        _op,
        _path_param,
        _query,
    ) = (
        o._AUTH,
        o._B,
        o._I,
        o._ID,
        o._NS,
        o._PUBLIC,
        o._S,
        o._VERIFIED,
        o._err,
        o._json,
        o._obj,
        o._op,
        o._path_param,
        o._query,
    )
    #: Access tokens for apps: RFC 9068 JWTs (EdDSA) sent as ``Authorization: Bearer``.
    OAUTH_SCHEME: Schema = {
        "type": "oauth2",
        "description": (
            "Third-party apps: authorization code with PKCE (S256) only; access tokens are "
            "JWTs (typ at+jwt, EdDSA, at most 10 minutes) sent as Authorization: Bearer. "
            "A bearer request never uses cookies; conversation limits apply to every route."
        ),
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "/oauth/authorize",
                "tokenUrl": "/oauth/token",
                "refreshUrl": "/oauth/token",
                "scopes": dict(SCOPES),
            }
        },
    }
    _FORM_CLIENT = {
        "client_id": _S,
        "client_secret": {**_S, "description": "confidential clients, unless sent in Basic"},
    }

    def _form(required: tuple[str, ...], **props: Schema) -> Schema:
        return {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": _obj(required, **props, **_FORM_CLIENT)
                }
            },
        }

    _OAUTH_ERROR = {
        "description": "RFC 6749 error",
        **_json(_obj(("error",), error=_S, error_description=_S)),
    }
    _HANDLE = _path_param("handle", {"type": "string", "pattern": "^[A-Za-z0-9_-]{20,100}$"})
    _CLIENT = _obj(
        ("id", "client_id", "name", "redirect_uris", "confidential"),
        id=_I,
        client_id=_S,
        name=_S,
        logo_uri=_NS,
        redirect_uris={"type": "array", "items": _S},
        confidential=_B,
        created_at=_S,
        client_secret={**_S, "description": "only in the answer that created it"},
    )
    _SCOPE_LIST = {"type": "array", "items": {"enum": list(SCOPES)}}
    _GRANT = _obj(
        ("id", "app", "scopes", "granted_at"),
        id=_I,
        app=_S,
        client_id=_S,
        scopes={"type": "array", "items": _obj(("scope",), scope=_S, description=_S)},
        conversations={"type": ["array", "null"], "items": _obj(("id",), id=_I, title=_S)},
        granted_at=_S,
        expires_at=_NS,
        last_used_at=_NS,
    )

    def _form_op(summary: str, body: Schema, ok: Schema | None) -> Schema:
        return {
            "summary": summary,
            "requestBody": body,
            "responses": {
                "200": {"description": "success", **(_json(ok) if ok else {})},
                "400": _OAUTH_ERROR,
                "401": {**_OAUTH_ERROR, "description": "invalid_client"},
                "429": _err("too many requests from this client"),
            },
            **_PUBLIC,
        }

    OAUTH_PATHS: dict[str, dict[str, Schema]] = {
        "/.well-known/oauth-authorization-server": {
            "get": {
                **_op("Authorization server metadata (RFC 8414)", ok=("200", {"type": "object"})),
                **_PUBLIC,
            }
        },
        "/oauth/jwks": {
            "get": {
                **_op(
                    "Public keys that sign access tokens (JWKS, Ed25519)",
                    ok=("200", _obj(("keys",), keys={"type": "array"})),
                ),
                **_PUBLIC,
            }
        },
        "/oauth/authorize": {
            "get": {
                "summary": "Authorization request (code + PKCE S256): to the consent screen",
                "parameters": [
                    _query("response_type", {"const": "code"}, required=True),
                    _query("client_id", _S, required=True),
                    _query("redirect_uri", _S, required=True),
                    _query("scope", _S, required=True),
                    _query("state", _S),
                    _query("code_challenge", _S, required=True),
                    _query("code_challenge_method", {"const": "S256"}, required=True),
                ],
                "responses": {
                    "302": {"description": "to the consent screen, or the client's error redirect"},
                    "400": {"description": "unknown client or redirect URI (an HTML page)"},
                },
                **_PUBLIC,
            }
        },
        "/oauth/consent": {
            "get": {
                "summary": "The consent screen (HTML; loads the request by its handle)",
                "responses": {"200": {"description": "HTML page"}},
                **_PUBLIC,
            }
        },
        "/settings/apps": {
            "get": {
                "summary": "Connected apps and developer apps (HTML page)",
                "responses": {"200": {"description": "HTML page"}},
                **_PUBLIC,
            }
        },
        "/oauth/token": {
            "post": _form_op(
                "Token endpoint: authorization_code (with code_verifier) or refresh_token",
                _form(
                    ("grant_type",),
                    grant_type={"enum": ["authorization_code", "refresh_token"]},
                    code=_S,
                    redirect_uri=_S,
                    code_verifier=_S,
                    refresh_token=_S,
                    scope=_S,
                ),
                _obj(
                    ("access_token", "token_type", "expires_in", "refresh_token", "scope"),
                    access_token=_S,
                    token_type={"const": "Bearer"},
                    expires_in={"type": "integer", "maximum": 600},
                    refresh_token=_S,
                    scope=_S,
                ),
            )
        },
        "/oauth/revoke": {
            "post": _form_op(
                "Revoke a token and its grant (RFC 7009); 200 whatever the token",
                _form(("token",), token=_S, token_type_hint=_S),
                None,
            )
        },
        "/oauth/introspect": {
            "post": _form_op(
                "Token introspection (RFC 7662), confidential clients, their own tokens",
                _form(("token",), token=_S, token_type_hint=_S),
                _obj(("active",), active=_B, scope=_S, client_id=_S, sub=_S, exp=_I),
            )
        },
        "/oauth/register": {
            "post": {
                "summary": "Dynamic client registration (RFC 7591), when the operator enables it",
                "requestBody": {
                    "required": True,
                    **_json(
                        _obj(
                            ("redirect_uris",),
                            redirect_uris={"type": "array", "items": _S},
                            client_name=_S,
                            logo_uri=_S,
                            token_endpoint_auth_method={
                                "enum": ["none", "client_secret_basic", "client_secret_post"]
                            },
                        )
                    ),
                },
                "responses": {
                    "201": {
                        "description": "registered",
                        **_json(_obj(("client_id",), client_id=_S)),
                    },
                    "400": _OAUTH_ERROR,
                    "404": _err("dynamic registration is off"),
                    "429": _err("too many registrations from this address"),
                },
                **_PUBLIC,
            }
        },
        "/api/v1/oauth/requests/{handle}": {
            "get": _op(
                "A pending authorization request, for the consent screen",
                ok=("200", {"type": "object"}),
                errors={**_VERIFIED, "404": _err("expired or answered")},
                params=[_HANDLE],
            ),
            "post": _op(
                "Allow (with the ticked scopes, conversations and duration) or deny",
                body=_obj(
                    ("decision",),
                    decision={"enum": ["allow", "deny"]},
                    scopes=_SCOPE_LIST,
                    conversations={"type": ["array", "null"], "items": _ID},
                    duration={"enum": list(DURATIONS)},
                ),
                ok=("200", _obj(("redirect_to",), redirect_to=_S)),
                errors={**_VERIFIED, "404": _err("expired or answered")},
                params=[_HANDLE],
            ),
        },
        "/api/v1/oauth/clients": {
            "get": _op(
                "Developer apps the account registered",
                ok=("200", _obj(("clients",), clients={"type": "array", "items": _CLIENT})),
                errors=_AUTH,
            ),
            "post": _op(
                "Register an app (a confidential app's secret is in this answer only)",
                body=_obj(
                    ("name", "redirect_uris"),
                    name=_S,
                    redirect_uris={"type": "array", "items": _S, "minItems": 1, "maxItems": 5},
                    logo_uri=_S,
                    confidential=_B,
                ),
                ok=("201", _obj(("client",), client=_CLIENT)),
                errors=_VERIFIED,
            ),
        },
        "/api/v1/oauth/clients/{client_pk}": {
            "delete": _op(
                "Delete a registered app (every grant to it ends)",
                errors={**_AUTH, "404": _err("not found")},
                params=[_path_param("client_pk", _ID)],
            )
        },
        "/api/v1/oauth/grants": {
            "get": _op(
                "Connected apps: what each may do, until when, when last used",
                ok=("200", _obj(("grants",), grants={"type": "array", "items": _GRANT})),
                errors=_AUTH,
            )
        },
        "/api/v1/oauth/grants/{grant_id}": {
            "delete": _op(
                "Revoke an app's access: its tokens stop and its sockets close",
                errors={**_AUTH, "404": _err("not found")},
                params=[_path_param("grant_id", _ID)],
            )
        },
        "/api/v1/oauth/grants/{grant_id}/log": {
            "get": _op(
                "An app's access log (time, address, what it read or sent)",
                ok=("200", _obj(("log",), log={"type": "array", "items": {"type": "object"}})),
                errors=_AUTH,
                params=[_path_param("grant_id", _ID)],
            )
        },
        "/api/v1/oauth/socket-ticket": {
            "post": _op(
                "A one-time ticket (30 s) to open the app socket (bearer only)",
                ok=("201", _obj(("ticket", "expires_in"), ticket=_S, expires_in=_I)),
                errors={"401": _err("invalid_token"), "403": _err("bearer_required")},
            )
        },
        "/api/v1/oauth/socket": {
            "get": {
                **_op(
                    "App websocket: Sec-WebSocket-Protocol 'ferry.v1, ticket.<ticket>'; pushes "
                    "changes of the granted conversations",
                    ok=("101", None),
                    errors={"401": _err("invalid_ticket"), "403": _err("origin_rejected")},
                ),
                **_PUBLIC,
            }
        },
    }
    return OAUTH_SCHEME, OAUTH_PATHS
