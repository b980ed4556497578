"""An off-the-shelf OAuth client, Authlib, completes the whole flow against the real
server: so the server is compatible with more than its own tests' idea of OAuth."""

from __future__ import annotations

import asyncio

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.server.conftest import Env
from tests.server.oauth_flow import REDIRECT, register, three_threads

pytestmark = pytest.mark.sqlite_only("a client library's view of the protocol")


async def test_authlib_completes_the_flow_refreshes_and_revokes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server speaks plain HTTP on loopback; Authlib insists on TLS otherwise.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    app = await register(env, confidential=True)
    await three_threads(env)
    base = str(env.client.make_url("/")).rstrip("/")
    meta = await (await env.client.get("/.well-known/oauth-authorization-server")).json()
    session = OAuth2Session(
        app.client_id,
        app.secret,
        scope="messages:read account:read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    session.trust_env = False  # no proxy between the test and its server
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier
    )
    # The user's browser: the authorization URL, the consent screen, the redirect back.
    resp = await env.client.get(url.removeprefix(base), allow_redirects=False)
    handle = resp.headers["Location"].split("=", 1)[1]
    decided = await env.client.post(
        f"/api/v1/oauth/requests/{handle}",
        json={"decision": "allow", "scopes": ["messages:read"], "duration": "30d"},
    )
    redirect_to = (await decided.json())["redirect_to"]
    assert f"state={state}" in redirect_to
    token = await asyncio.to_thread(
        session.fetch_token,
        meta["token_endpoint"],
        authorization_response=redirect_to,
        code_verifier=verifier,
    )
    assert token["token_type"] == "Bearer" and token["scope"] == "messages:read"
    threads = await asyncio.to_thread(session.get, base + "/api/v1/threads")
    assert threads.status_code == 200 and len(threads.json()["threads"]) == 3
    refused = await asyncio.to_thread(session.get, base + "/api/v1/me")
    assert refused.status_code == 403  # account:read was asked for but not ticked
    old_refresh = token["refresh_token"]
    # Authlib re-sends the scope it asked for; asking for more than was granted is refused
    # (RFC 6749 §6), so the client keeps the scope the server says it granted (§5.1).
    session.scope = token["scope"]
    new = await asyncio.to_thread(session.refresh_token, meta["token_endpoint"])
    assert new["refresh_token"] != old_refresh
    assert (await asyncio.to_thread(session.get, base + "/api/v1/threads")).status_code == 200
    revoked = await asyncio.to_thread(
        session.revoke_token, meta["revocation_endpoint"], new["refresh_token"]
    )
    assert revoked.status_code == 200
    after = await asyncio.to_thread(session.get, base + "/api/v1/threads")
    assert after.status_code == 401
