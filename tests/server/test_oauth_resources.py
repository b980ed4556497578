"""Apps at the REST routes and the live socket: scopes, conversation limits on every
route, bearer requests never using cookies, CORS, per-client limits, socket tickets,
and what the user sees and controls (connected apps, access log, revocation)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from protocol.messages import Attachment
from server.auth.throttle import Limiter, Throttle
from server.hub import ChangesHint
from server.storage.conversations import Inbound
from tests.server.conftest import PASSWORD, Env
from tests.server.oauth_flow import (
    APP_ORIGIN,
    bearer,
    register,
    three_threads,
    tokens_for,
)

SQLITE_ONLY = pytest.mark.sqlite_only("request handling; storage is covered by the others")
PNG = b"\x89PNG\r\n\x1a\nhidden-pixels"


async def _attachment_in(env: Env, peer: str) -> int:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    item = Inbound(
        "mms", line, peer, "a picture", datetime(2026, 11, 2, tzinfo=UTC),
        attachments=(Attachment(mime="image/png", data=PNG),),
    )  # fmt: skip
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, [item], item.sent_at)
    found = await env.svc.search.page(env.account_id, "a picture", 1)
    return found.messages[0].attachments[0].id


async def test_a_token_limited_to_two_conversations_never_sees_the_third(env: Env) -> None:
    app = await register(env)
    one, two, three = await three_threads(env)
    hidden_attachment = await _attachment_in(env, "+15550100004")  # conversation three
    got = await tokens_for(env, app, conversations=[one, two])
    auth = bearer(got["access_token"])
    listed = await (await env.client.get("/api/v1/threads", headers=auth)).json()
    assert sorted(t["id"] for t in listed["threads"]) == [one, two]
    assert "+15550100004" not in json.dumps(listed)
    resp = await env.client.get(f"/api/v1/threads/{three}/messages", headers=auth)
    assert resp.status == 404 and await resp.json() == {
        "error": {"code": "not_found", "message": "Not found."}
    }
    assert (await env.client.get(f"/api/v1/threads/{one}/messages", headers=auth)).status == 200
    found = await (await env.client.get("/api/v1/search?q=secret", headers=auth)).json()
    assert sorted(m["thread_id"] for m in found["messages"]) == [one, two]
    resp = await env.client.get(f"/api/v1/attachments/{hidden_attachment}", headers=auth)
    assert resp.status == 404
    resp = await env.client.post(f"/api/v1/threads/{three}/read", headers=auth)
    assert resp.status == 404
    # Sending: into a granted conversation yes; to anyone else no, not even a new number.
    for to, status in (("+15550100002", 201), ("+15550100004", 404), ("+15550100099", 404)):
        resp = await env.client.post(
            "/api/v1/messages",
            headers=auth,
            json={"to": to, "body": "hi", "client_msg_id": f"app-{to}"},
        )
        assert resp.status == status, (to, await resp.text())
    # The cookie session of the same user still sees everything.
    everything = await (await env.client.get("/api/v1/threads")).json()
    assert len(everything["threads"]) == 3


@SQLITE_ONLY
async def test_scopes_are_enforced_and_other_routes_are_closed_to_apps(env: Env) -> None:
    app = await register(env)
    await three_threads(env)
    got = await tokens_for(env, app, scopes=["messages:read"])
    auth = bearer(got["access_token"])
    assert (await env.client.get("/api/v1/threads", headers=auth)).status == 200
    for method, path in (
        ("POST", "/api/v1/messages"),
        ("GET", "/api/v1/contacts"),
        ("GET", "/api/v1/me"),
    ):
        resp = await env.client.request(method, path, headers=auth, json={})
        assert resp.status == 403, path
        assert (await resp.json())["error"]["code"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    # Never open to apps, whatever the scope: settings, sessions, deletion, OAuth itself.
    full = await tokens_for(env, app)
    for method, path in (
        ("GET", "/api/v1/me/security-events"),
        ("GET", "/api/v1/me/sessions"),
        ("DELETE", "/api/v1/threads/1"),
        ("GET", "/api/v1/oauth/grants"),
        ("POST", "/api/v1/oauth/clients"),
        ("DELETE", "/api/v1/session"),
        ("GET", "/api/v1/ws"),
    ):
        resp = await env.client.request(method, path, headers=bearer(full["access_token"]), json={})
        assert resp.status == 403, path
    for value in ("Bearer", "Bearer not-a-jwt", "Basic abc", "bearer " + "x" * 5000):
        resp = await env.client.get("/api/v1/threads", headers={"Authorization": value})
        assert resp.status == 401 and "invalid_token" in resp.headers["WWW-Authenticate"]


@SQLITE_ONLY
async def test_a_bearer_request_never_uses_the_cookie(env: Env) -> None:
    """Token confusion: a signed-in browser's cookie never stands in for a bad token, and
    a token never takes the cookie's account; bearer requests skip CSRF (no cookie)."""
    app = await register(env)
    await three_threads(env)
    got = await tokens_for(env, app)
    other = "+15550100088"
    await env.svc.accounts.create(
        other, env.svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=env.clock.now()
    )
    await env.login(other)  # the cookie is now another account's
    me = await (await env.client.get("/api/v1/me", headers=bearer(got["access_token"]))).json()
    assert me["account"]["id"] == env.account_id
    assert (await (await env.client.get("/api/v1/me")).json())["account"]["phone"] == other
    # A bad token with a good cookie: refused, not served from the cookie.
    resp = await env.client.get("/api/v1/me", headers=bearer(got["access_token"] + "x"))
    assert resp.status == 401
    # A cross-site bearer POST is not a CSRF (it carries no ambient credential)...
    resp = await env.client.post(
        "/api/v1/messages",
        headers={**bearer(got["access_token"]), "Origin": "https://evil.test"},
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "x1"},
    )
    assert resp.status == 201
    # ...while a cross-site cookie POST still is.
    resp = await env.client.post(
        "/api/v1/messages",
        headers={"Origin": "https://evil.test"},
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "x2"},
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf_rejected"


@SQLITE_ONLY
async def test_cors_only_for_registered_origins_and_bearer_requests(env: Env) -> None:
    app = await register(env)
    got = await tokens_for(env, app)

    async def preflight(origin: str, headers: str) -> aiohttp.ClientResponse:
        return await env.client.options(
            "/api/v1/threads",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": headers,
            },
        )

    ok = await preflight(APP_ORIGIN, "authorization")
    assert ok.status == 204 and ok.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Access-Control-Allow-Credentials" not in ok.headers
    assert (await preflight("https://evil.test", "authorization")).status == 403
    assert (await preflight(APP_ORIGIN, "content-type")).status == 403  # no bearer: no CORS
    resp = await env.client.get(
        "/api/v1/threads", headers={**bearer(got["access_token"]), "Origin": APP_ORIGIN}
    )
    assert resp.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    resp = await env.client.get("/api/v1/threads", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in resp.headers  # a cookie request
    resp = await env.client.get(
        "/api/v1/threads", headers={**bearer(got["access_token"]), "Origin": "https://evil.test"}
    )
    assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers


@SQLITE_ONLY
async def test_each_client_has_a_rate_limit(env: Env) -> None:
    env.svc.oauth.limiter = Limiter(
        Throttle(env.clock, limit=3, window=60), name="oauth-client", clock=env.clock
    )
    app = await register(env)
    got = await tokens_for(env, app)  # the code exchange counted once
    auth = bearer(got["access_token"])
    statuses = [(await env.client.get("/api/v1/threads", headers=auth)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    resp = await env.client.get("/api/v1/threads", headers=auth)
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert (await env.client.get("/api/v1/threads")).status == 200  # the user is not limited
    env.clock.advance(61)
    assert (await env.client.get("/api/v1/threads", headers=auth)).status == 200


async def _socket(
    env: Env, token: str, origin: str = APP_ORIGIN
) -> aiohttp.ClientWebSocketResponse:
    resp = await env.client.post("/api/v1/oauth/socket-ticket", headers=bearer(token))
    assert resp.status == 201, await resp.text()
    ticket = (await resp.json())["ticket"]
    return await env.client.ws_connect(
        "/api/v1/oauth/socket",
        protocols=("ferry.v1", f"ticket.{ticket}"),
        headers={"Origin": origin},
    )


async def test_live_updates_by_ticket_follow_the_limit_and_stop_on_revocation(env: Env) -> None:
    app = await register(env)
    one, _, _ = await three_threads(env)
    got = await tokens_for(env, app, conversations=[one])
    ws = await _socket(env, got["access_token"])
    assert ws.protocol == "ferry.v1"
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    for key, peer in (("n1", "+15550100004"), ("n2", "+15550100002")):  # three, then one
        item = Inbound(key, line, peer, f"new {key}", env.clock.now())
        await env.svc.conversations.ingest_inbound(
            env.account_id, env.device_id, [item], env.clock.now()
        )
        seq = await env.svc.conversations.current_seq(env.account_id)
        env.svc.hub.publish(env.account_id, ChangesHint(seq))
    frame = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
    assert frame["t"] == "changes"
    assert [m["body"] for m in frame["messages"]] == ["new n2"]
    assert {t["id"] for t in frame["threads"]} == {one}
    assert "+15550100004" not in json.dumps(frame)
    # The user revokes the app: its socket closes, its token stops.
    grants = (await (await env.client.get("/api/v1/oauth/grants")).json())["grants"]
    assert (await env.client.delete(f"/api/v1/oauth/grants/{grants[0]['id']}")).status == 204
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401
    resp = await env.client.get("/api/v1/threads", headers=bearer(got["access_token"]))
    assert resp.status == 401


@SQLITE_ONLY
async def test_tickets_are_single_use_and_bound_to_the_app_origin(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = await register(env)
    got = await tokens_for(env, app)
    resp = await env.client.post("/api/v1/oauth/socket-ticket", headers=bearer(got["access_token"]))
    ticket = (await resp.json())["ticket"]
    ws = await env.client.ws_connect(
        "/api/v1/oauth/socket",
        protocols=("ferry.v1", f"ticket.{ticket}"),
        headers={"Origin": APP_ORIGIN},
    )
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as again:
        await env.client.ws_connect(
            "/api/v1/oauth/socket",
            protocols=("ferry.v1", f"ticket.{ticket}"),
            headers={"Origin": APP_ORIGIN},
        )
    assert again.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as alone:  # without ferry.v1
        await env.client.ws_connect("/api/v1/oauth/socket", protocols=(f"ticket.{ticket}",))
    assert alone.value.status == 401
    assert ticket not in caplog.text  # refused or not, a ticket is never logged
    with pytest.raises(aiohttp.WSServerHandshakeError) as evil:
        await _socket(env, got["access_token"], origin="https://evil.test")
    assert evil.value.status == 403
    resp = await env.client.post("/api/v1/oauth/socket-ticket")  # a cookie cannot get one
    assert resp.status == 403
    # A revocation on another node is caught by the sweep, within seconds.
    ws = await _socket(env, got["access_token"])
    grant_id = (await (await env.client.get("/api/v1/oauth/grants")).json())["grants"][0]["id"]
    await env.svc.oauth.grants.revoke(grant_id, env.clock.now())  # as another node would
    assert await env.svc.oauth.sweep_sockets() == 1
    assert (await asyncio.wait_for(ws.receive(), 5)).type == aiohttp.WSMsgType.CLOSE


async def test_connected_apps_show_what_each_app_did(env: Env) -> None:
    app = await register(env, name="Inbox Helper")
    one, two, _ = await three_threads(env)
    got = await tokens_for(
        env, app, scopes=["messages:read"], conversations=[one, two], duration="1d"
    )
    auth = bearer(got["access_token"])
    await env.client.get("/api/v1/threads", headers=auth)
    await env.client.get(f"/api/v1/threads/{two}/messages", headers=auth)
    grants = (await (await env.client.get("/api/v1/oauth/grants")).json())["grants"]
    assert len(grants) == 1
    shown = grants[0]
    assert shown["app"] == "Inbox Helper"
    assert [s["scope"] for s in shown["scopes"]] == ["messages:read"]
    assert [c["id"] for c in shown["conversations"]] == [one, two]
    one_day = (env.clock.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert shown["expires_at"] == one_day
    assert shown["last_used_at"] is not None and shown["granted_at"]
    log = (await (await env.client.get(f"/api/v1/oauth/grants/{shown['id']}/log")).json())["log"]
    assert [e["action"] for e in log] == [f"read conversation {two}", "listed conversations"]
    assert all(e["ip"] == "127.0.0.1" and e["status"] == 200 for e in log)
    # A new grant is a security event and an SMS to the account's number.
    events = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    assert "app_granted" in [e["kind"] for e in events]
    await env.svc.background.drain()
    notices = [s for s in env.sms.sent if s.kind == "notice"]
    assert notices and "Inbox Helper" in notices[-1].text
    # The grant ends after its day, without anyone revoking it.
    env.clock.advance(86400 + 1)
    assert (await env.client.get("/api/v1/threads", headers=auth)).status == 401
    assert (await (await env.client.get("/api/v1/oauth/grants")).json())["grants"] == []
    # Its log is kept as long as the access log, then goes with the ended grant.
    await env.svc.oauth.maintain()
    assert len(await env.svc.oauth.grants.log_of(env.account_id, shown["id"])) == 2
    env.clock.advance(env.svc.config.access_log_retention.total_seconds())
    await env.svc.oauth.maintain()
    assert await env.svc.oauth.grants.log_of(env.account_id, shown["id"]) == []
    assert await env.svc.oauth.grants.grant(shown["id"]) is None


def test_every_rule_names_a_served_route(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A typo in the guard's table would close a route to apps without anyone noticing."""
    from server.app import create_app
    from server.config import Config
    from server.oauth.guard import ROUTES

    app = create_app(Config(data_dir=tmp_path))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    assert set(ROUTES) <= served
    assert all(method != "DELETE" for method, _ in ROUTES)  # apps never delete
