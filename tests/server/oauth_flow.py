"""Helpers of the OAuth tests: register an app, walk a user through consent, trade the
code, as a client and a browser would (over the test server's real sockets)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from server.storage.conversations import Inbound
from tests.server.conftest import Env

REDIRECT = "https://app.example/callback"
APP_ORIGIN = "https://app.example"
T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ALL_SCOPES = "messages:read messages:send contacts:read account:read"


def pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class App:
    client_id: str
    secret: str | None
    redirect: str


async def register(
    env: Env, *, redirect: str = REDIRECT, confidential: bool = False, name: str = "Test App"
) -> App:
    """Register an app as the signed-in developer (signs in first)."""
    await env.login()
    resp = await env.client.post(
        "/api/v1/oauth/clients",
        json={"name": name, "redirect_uris": [redirect], "confidential": confidential},
    )
    assert resp.status == 201, await resp.text()
    client = (await resp.json())["client"]
    return App(client["client_id"], client.get("client_secret"), redirect)


async def three_threads(env: Env) -> list[int]:
    """Three conversations on the account's line (ids, oldest first)."""
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    peers = ["+15550100002", "+15550100003", "+15550100004"]
    items = [
        Inbound(f"k{n}", line, peer, f"secret words from {peer}", T) for n, peer in enumerate(peers)
    ]
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    threads, _, _ = await env.svc.conversations.snapshot(env.account_id)
    return sorted(t.id for t in threads)


async def start(
    env: Env, app: App, *, scope: str = ALL_SCOPES, state: str = "st4te", **extra: str
) -> tuple[str, str]:
    """GET /oauth/authorize: (the request handle the consent screen gets, the verifier)."""
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    resp = await env.client.get("/oauth/authorize", params=params, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    location = resp.headers["Location"]
    assert location.startswith("/oauth/consent?request="), location
    return location.split("=", 1)[1], verifier


async def consent(
    env: Env,
    handle: str,
    *,
    scopes: list[str] | None = None,
    conversations: list[int] | None = None,
    duration: str = "forever",
) -> dict[str, str]:
    """The user allows; the redirect's query parameters (code, state, iss)."""
    body: dict[str, Any] = {
        "decision": "allow",
        "scopes": scopes if scopes is not None else ALL_SCOPES.split(),
        "conversations": conversations,
        "duration": duration,
    }
    resp = await env.client.post(f"/api/v1/oauth/requests/{handle}", json=body)
    assert resp.status == 200, await resp.text()
    return query_of((await resp.json())["redirect_to"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def token_request(env: Env, app: App, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST /oauth/token as the app (its secret in HTTP Basic when it has one)."""
    headers = {}
    if app.secret is not None:
        raw = f"{app.client_id}:{app.secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        form = {"client_id": app.client_id, **form}
    # A client is not a browser: no cookies, no Origin.
    resp = await env.client.post(
        "/oauth/token", data=form, headers={**headers, "Origin": ""}, cookies={}
    )
    return resp.status, await resp.json()


async def exchange(env: Env, app: App, code: str, verifier: str) -> tuple[int, dict[str, Any]]:
    return await token_request(
        env,
        app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect,
            "code_verifier": verifier,
        },
    )


async def tokens_for(
    env: Env,
    app: App,
    *,
    scopes: list[str] | None = None,
    conversations: list[int] | None = None,
    duration: str = "forever",
) -> dict[str, Any]:
    """The whole flow: authorize, consent, exchange. The token response."""
    handle, verifier = await start(env, app)
    got = await consent(env, handle, scopes=scopes, conversations=conversations, duration=duration)
    status, body = await exchange(env, app, got["code"], verifier)
    assert status == 200, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
