"""The authorization server over HTTP: metadata, keys, registration, the code flow with
PKCE, refresh rotation, revocation, introspection and the RFC 9700 §4 attacks on them."""

from __future__ import annotations

import base64
from dataclasses import replace

import jwt
import pytest

from server.admin import rotate_oauth_key
from tests.server.conftest import Env
from tests.server.oauth_flow import (
    REDIRECT,
    App,
    bearer,
    consent,
    exchange,
    pkce,
    query_of,
    register,
    start,
    three_threads,
    token_request,
    tokens_for,
)

#: HTTP rules: one backend is enough. The tests whose records live and die in the
#: database (codes, refresh tokens, grants, keys) run on both.
SQLITE_ONLY = pytest.mark.sqlite_only("protocol rules; storage is covered by the others")


@SQLITE_ONLY
async def test_metadata_and_jwks_publish_public_keys_only(env: Env) -> None:
    meta = await (await env.client.get("/.well-known/oauth-authorization-server")).json()
    issuer = str(env.client.make_url("/")).rstrip("/")
    assert meta["issuer"] == issuer
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "registration_endpoint" not in meta  # dynamic registration is off by default
    keys = (await (await env.client.get("/oauth/jwks")).json())["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519"
    assert not {"d", "p", "q", "k"} & set(keys[0])  # no private part


@SQLITE_ONLY
async def test_registration_rules_and_secret_shown_once(env: Env) -> None:
    await env.login()
    bad = [
        "http://app.example/cb",  # plain http off loopback
        "https://app.example/cb#frag",
        "https://user:pw@app.example/cb",
        "https://*.example/cb",
        "app.example/cb",
        "javascript:alert(1)",
        "https://app.example/c b",
    ]
    for uri in bad:
        resp = await env.client.post(
            "/api/v1/oauth/clients", json={"name": "X", "redirect_uris": [uri]}
        )
        assert resp.status == 400, uri
        assert (await resp.json())["error"]["code"] == "invalid_redirect_uri", uri
    app = await register(env, redirect="http://127.0.0.1:8123/cb", confidential=True)
    assert app.secret
    listed = (await (await env.client.get("/api/v1/oauth/clients")).json())["clients"]
    assert [c["client_id"] for c in listed] == [app.client_id]
    assert "client_secret" not in listed[0] and listed[0]["confidential"] is True
    async with env.svc.engine.connect() as conn:
        from sqlalchemy import text

        stored = (await conn.execute(text("SELECT secret_hash FROM oauth_clients"))).scalar_one()
    assert app.secret.encode() not in bytes(stored)


async def test_code_flow_issues_rfc9068_tokens(env: Env) -> None:
    app = await register(env)
    handle, verifier = await start(env, app, state="xyz")
    got = await consent(env, handle, scopes=["messages:read"])
    issuer = str(env.client.make_url("/")).rstrip("/")
    assert got["state"] == "xyz" and got["iss"] == issuer  # RFC 9207
    status, body = await exchange(env, app, got["code"], verifier)
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["scope"] == "messages:read"
    assert 0 < body["expires_in"] <= 600
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == issuer and claims["aud"] == issuer + "/api/v1"
    assert claims["sub"] == str(env.account_id) and claims["client_id"] == app.client_id
    assert claims["exp"] - claims["iat"] <= 600 and claims["jti"]
    assert "conversations" not in claims  # all conversations
    # The code works once; the second try revokes what the first one gave.
    status, again = await exchange(env, app, got["code"], verifier)
    assert status == 400 and again["error"] == "invalid_grant"
    resp = await env.client.get("/api/v1/threads", headers=bearer(body["access_token"]))
    assert resp.status == 401
    status, refreshed = await token_request(
        env, app, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    assert status == 400 and refreshed["error"] == "invalid_grant"


@SQLITE_ONLY
async def test_code_expires_after_ten_minutes(env: Env) -> None:
    app = await register(env)
    handle, verifier = await start(env, app)
    got = await consent(env, handle)
    env.clock.advance(10 * 60 + 1)
    status, body = await exchange(env, app, got["code"], verifier)
    assert status == 400 and body["error"] == "invalid_grant"


@SQLITE_ONLY
async def test_pkce_is_required_and_s256_only(env: Env) -> None:
    app = await register(env)
    verifier, challenge = pkce()
    base = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": "messages:read",
        "state": "s",
    }
    for extra in (
        {},  # no challenge
        {"code_challenge": verifier, "code_challenge_method": "plain"},  # downgrade
        {"code_challenge": challenge},  # method missing (plain by default)
        {"code_challenge": "short", "code_challenge_method": "S256"},
    ):
        resp = await env.client.get(
            "/oauth/authorize", params={**base, **extra}, allow_redirects=False
        )
        assert resp.status == 302, extra
        sent = query_of(resp.headers["Location"])
        assert resp.headers["Location"].startswith(REDIRECT + "?")
        assert sent["error"] == "invalid_request" and sent["state"] == "s", extra
        assert "iss" in sent
    # Missing or wrong verifier at the token endpoint: refused, and the grant is gone.
    for bad_verifier in ("", pkce()[0]):
        handle, _ = await start(env, app)
        got = await consent(env, handle)
        status, body = await exchange(env, app, got["code"], bad_verifier)
        assert status == 400 and body["error"] == "invalid_grant"
    assert (await (await env.client.get("/api/v1/oauth/grants")).json())["grants"] == []


REDIRECT_VARIANTS = [
    "https://app.example/callback/",  # trailing slash
    "https://APP.example/callback",  # case of the host
    "https://app.example/Callback",  # case of the path
    "https://app.example/callback/../evil",  # path
    "https://app.example/callback?x=1",  # query
    "https://app.example/callback#x",  # fragment
    "https://evil@app.example/callback",  # user info
    "https://app.example:444/callback",  # port
    "https://app.example:443/callback",  # the default port spelled out
    "http://app.example/callback",  # scheme
    "https://app.example.evil.test/callback",  # host suffix
    "",
]


@SQLITE_ONLY
async def test_redirect_uri_must_match_exactly(env: Env) -> None:
    """Any other spelling is refused on the page, never redirected to (no open
    redirector, no code sent elsewhere)."""
    app = await register(env)
    _, challenge = pkce()
    for variant in REDIRECT_VARIANTS:
        await _refused_on_the_page(env, app, variant, challenge)


async def _refused_on_the_page(env: Env, app: App, variant: str, challenge: str) -> None:
    resp = await env.client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": variant,
            "scope": "messages:read",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    assert resp.status == 400 and "Location" not in resp.headers, variant
    assert "redirect_uri" in await resp.text()


@SQLITE_ONLY
async def test_code_injection_other_client_or_redirect_is_refused(env: Env) -> None:
    """A code stolen from one client cannot be redeemed by another, nor with another
    redirect URI; the grant is revoked when it is tried."""
    victim = await register(env)
    thief = await register(env, redirect="https://thief.example/cb", name="Thief")
    handle, verifier = await start(env, victim)
    got = await consent(env, handle)
    status, body = await exchange(env, thief, got["code"], verifier)
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await exchange(env, victim, got["code"], verifier)
    assert status == 400  # used up: the victim retries after the attack and gets nothing
    handle, verifier = await start(env, victim)
    got = await consent(env, handle)
    status, body = await token_request(
        env,
        victim,
        {
            "grant_type": "authorization_code",
            "code": got["code"],
            "redirect_uri": "https://thief.example/cb",
            "code_verifier": verifier,
        },
    )
    assert status == 400 and body["error"] == "invalid_grant"


async def test_refresh_rotates_and_reuse_revokes_the_grant(env: Env) -> None:
    app = await register(env)
    first = await tokens_for(env, app)
    status, second = await token_request(
        env, app, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    ok = await env.client.get("/api/v1/threads", headers=bearer(second["access_token"]))
    assert ok.status == 200
    # Narrowing is allowed, widening is not.
    status, narrow = await token_request(
        env,
        app,
        {
            "grant_type": "refresh_token",
            "refresh_token": second["refresh_token"],
            "scope": "messages:read",
        },
    )
    assert status == 200 and narrow["scope"] == "messages:read"
    # The spent token comes back (stolen): the whole grant dies, the newest tokens too.
    status, body = await token_request(
        env, app, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert status == 400 and body["error"] == "invalid_grant"
    for token in (second["access_token"], narrow["access_token"]):
        resp = await env.client.get("/api/v1/threads", headers=bearer(token))
        assert resp.status == 401
    status, _ = await token_request(
        env, app, {"grant_type": "refresh_token", "refresh_token": narrow["refresh_token"]}
    )
    assert status == 400


@SQLITE_ONLY
async def test_refresh_cannot_widen_scope_and_ends_with_the_grant(env: Env) -> None:
    app = await register(env)
    got = await tokens_for(env, app, scopes=["messages:read"], duration="1h")
    status, body = await token_request(
        env,
        app,
        {
            "grant_type": "refresh_token",
            "refresh_token": got["refresh_token"],
            "scope": "messages:read messages:send",
        },
    )
    assert status == 400 and body["error"] == "invalid_scope"
    claims = jwt.decode(got["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 600
    env.clock.advance(3601)  # the grant's hour is over: its refresh token ends with it
    status, body = await token_request(
        env, app, {"grant_type": "refresh_token", "refresh_token": got["refresh_token"]}
    )
    assert status == 400 and body["error"] == "invalid_grant"


@SQLITE_ONLY
async def test_confidential_client_needs_its_secret(env: Env) -> None:
    app = await register(env, confidential=True)
    handle, verifier = await start(env, app)
    got = await consent(env, handle)
    wrong = App(app.client_id, "x" * 43, app.redirect)
    status, body = await exchange(env, wrong, got["code"], verifier)
    assert status == 401 and body["error"] == "invalid_client"
    public = App(app.client_id, None, app.redirect)  # no secret at all
    status, body = await exchange(env, public, got["code"], verifier)
    assert status == 401 and body["error"] == "invalid_client"
    status, body = await exchange(env, app, got["code"], verifier)
    assert status == 200, body


@SQLITE_ONLY
async def test_revocation_and_introspection(env: Env) -> None:
    confidential = await register(env, confidential=True)
    public = await register(env, redirect="https://other.example/cb")
    tokens = await tokens_for(env, confidential)
    # Introspection: confidential clients only, and only about their own tokens.
    resp = await env.client.post(
        "/oauth/introspect", data={"client_id": public.client_id, "token": tokens["access_token"]}
    )
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    seen = await _introspect(env, confidential, tokens["access_token"])
    assert seen["active"] is True and seen["client_id"] == confidential.client_id
    assert seen["scope"] and seen["sub"] == str(env.account_id)
    assert (await _introspect(env, confidential, "garbage"))["active"] is False
    # Another client cannot revoke it (and cannot tell): 200 either way.
    resp = await env.client.post(
        "/oauth/revoke", data={"client_id": public.client_id, "token": tokens["refresh_token"]}
    )
    assert resp.status == 200
    assert (await _introspect(env, confidential, tokens["access_token"]))["active"] is True
    resp = await env.client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        headers=_basic(confidential),
    )
    assert resp.status == 200
    assert (await _introspect(env, confidential, tokens["access_token"]))["active"] is False
    resp = await env.client.get("/api/v1/threads", headers=bearer(tokens["access_token"]))
    assert resp.status == 401


def _basic(app: App) -> dict[str, str]:
    assert app.secret is not None
    raw = base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()
    return {"Authorization": "Basic " + raw}


async def _introspect(env: Env, app: App, token: str) -> dict[str, object]:
    resp = await env.client.post("/oauth/introspect", data={"token": token}, headers=_basic(app))
    assert resp.status == 200
    return dict(await resp.json())


@SQLITE_ONLY
async def test_unknown_grant_type_and_bad_forms(env: Env) -> None:
    app = await register(env)
    status, body = await token_request(env, app, {"grant_type": "password"})
    assert status == 400 and body["error"] == "unsupported_grant_type"
    status, body = await token_request(env, app, {"grant_type": "client_credentials"})
    assert status == 400 and body["error"] == "unsupported_grant_type"
    resp = await env.client.post("/oauth/token", json={"grant_type": "authorization_code"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    resp = await env.client.post(
        "/oauth/token",
        data="grant_type=refresh_token&grant_type=authorization_code&client_id=" + app.client_id,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_consent_needs_a_verified_number_and_limits_what_is_granted(env: Env) -> None:
    app = await register(env)
    threads = await three_threads(env)
    handle, verifier = await start(env, app, scope="messages:read contacts:read")
    shown = await (await env.client.get(f"/api/v1/oauth/requests/{handle}")).json()
    assert [s["scope"] for s in shown["scopes"]] == ["messages:read", "contacts:read"]
    assert shown["client"]["name"] == "Test App"
    assert shown["redirect_host"] == "https://app.example"
    assert sorted(c["id"] for c in shown["conversations"]) == threads
    # Ticking more than was asked, or others' conversations, is refused.
    for body in (
        {"scopes": ["messages:send"], "conversations": None, "duration": "1h"},
        {"scopes": ["messages:read"], "conversations": [999], "duration": "1h"},
        {"scopes": ["messages:read"], "conversations": None, "duration": "1y"},
        {"scopes": [], "conversations": None, "duration": "1h"},
    ):
        resp = await env.client.post(
            f"/api/v1/oauth/requests/{handle}", json={"decision": "allow", **body}
        )
        assert resp.status == 400, body
    got = await consent(env, handle, scopes=["messages:read"], conversations=threads[:2])
    status, tokens = await exchange(env, app, got["code"], verifier)
    assert status == 200
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "messages:read" and claims["conversations"] == threads[:2]
    # Answered: the request cannot be used twice.
    resp = await env.client.post(
        f"/api/v1/oauth/requests/{handle}",
        json={"decision": "allow", "scopes": ["messages:read"], "duration": "1h"},
    )
    assert resp.status == 404
    # An unverified account cannot consent.
    await env.signup("+15550100077")
    handle, _ = await start(env, app)
    resp = await env.client.get(f"/api/v1/oauth/requests/{handle}")
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "phone_unverified"


@SQLITE_ONLY
async def test_deny_redirects_with_access_denied(env: Env) -> None:
    app = await register(env)
    handle, _ = await start(env, app, state="abc")
    resp = await env.client.post(f"/api/v1/oauth/requests/{handle}", json={"decision": "deny"})
    sent = query_of((await resp.json())["redirect_to"])
    assert sent["error"] == "access_denied" and sent["state"] == "abc" and sent["iss"]
    assert "code" not in sent


async def test_key_rotation_keeps_valid_tokens_valid(env: Env) -> None:
    app = await register(env)
    old = await tokens_for(env, app)
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    await env.svc.oauth.keys.rotate(env.clock.now(), env.clock.monotonic())
    kids = [k["kid"] for k in (await (await env.client.get("/oauth/jwks")).json())["keys"]]
    assert old_kid in kids and len(kids) == 2
    assert (
        await env.client.get("/api/v1/threads", headers=bearer(old["access_token"]))
    ).status == 200
    new = await tokens_for(env, app)
    assert jwt.get_unverified_header(new["access_token"])["kid"] != old_kid
    # The operator rotates again, dropping the old keys (a leak): their tokens stop.
    await rotate_oauth_key(env.svc.config, drop_old=True)
    env.clock.advance(61)  # every node reloads its keys within a minute
    resp = await env.client.get("/api/v1/threads", headers=bearer(new["access_token"]))
    assert resp.status == 401
    newest = await tokens_for(env, app)
    resp = await env.client.get("/api/v1/threads", headers=bearer(newest["access_token"]))
    assert resp.status == 200
    # Once every token of a retired key has expired, the key leaves the JWKS.
    env.clock.advance(env.svc.oauth.keys.keep_retired.total_seconds() + 1)
    await env.svc.oauth.maintain()
    kids = [k["kid"] for k in (await (await env.client.get("/oauth/jwks")).json())["keys"]]
    assert old_kid not in kids


@SQLITE_ONLY
async def test_dynamic_registration_rfc7591(env: Env) -> None:
    resp = await env.client.post("/oauth/register", json={"redirect_uris": [REDIRECT]})
    assert resp.status == 404  # off unless the operator turns it on
    env.svc.config = replace(env.svc.config, oauth_dynamic_registration=True)
    meta = await (await env.client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["registration_endpoint"].endswith("/oauth/register")
    resp = await env.client.post(
        "/oauth/register",
        json={
            "client_name": "Dyn",
            "redirect_uris": ["http://127.0.0.1:9000/cb"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["client_id"] and "client_secret" not in body
    resp = await env.client.post(
        "/oauth/register", json={"client_name": "Bad", "redirect_uris": ["http://evil.test/cb"]}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_redirect_uri"
    resp = await env.client.post(
        "/oauth/register",
        json={"redirect_uris": ["https://ok.example/cb"], "grant_types": ["implicit"]},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_client_metadata"
