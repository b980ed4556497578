"""Web security: CSRF, Origin, headers, limits, no internals in responses, ownership,
the access log and the security event log, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.http_websocket import WSMsgType

from protocol.messages import SendStatus
from server.api.common import SERVICES
from server.api.openapi import document
from server.app import create_app
from server.auth.web import DEV_COOKIE
from server.middleware import CSP
from tests.server.conftest import PASSWORD, PHONE, Env
from tests.server.test_sockets import recv

OTHER = "+15550100088"


async def other_account(env: Env, verified: bool = True) -> int:
    now = env.clock.now()
    return await env.svc.accounts.create(
        OTHER, env.svc.passwords.hash(PASSWORD), now, verified_at=now if verified else None
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/accounts"),
        ("POST", "/api/v1/session"),
        ("DELETE", "/api/v1/session"),
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/me/password"),
        ("DELETE", "/api/v1/me/sessions"),
        ("POST", "/api/v1/password-reset"),
        ("POST", "/api/v1/me/phone/verify"),
    ],
)
async def test_cross_site_state_changes_are_403(env: Env, method: str, path: str) -> None:
    await env.login()
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        r = await env.client.request(method, path, json={}, headers=headers)
        assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_rejected"
    assert (await env.client.get("/api/v1/me")).status == 200  # still signed in


async def test_same_origin_and_configured_origins_pass(aiohttp_client, config, clock) -> None:
    app = create_app(replace(config, allowed_origins=("https://ferry.example",)), clock=clock)
    client = await aiohttp_client(app)
    svc = client.app[SERVICES]
    await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=None)
    login = {"phone": PHONE, "password": PASSWORD}
    ok = await client.post(
        "/api/v1/session", json=login, headers={"Origin": "https://ferry.example"}
    )
    assert ok.status == 200
    r = await client.post(
        "/api/v1/session", json=login, headers={"Origin": str(client.make_url("")).rstrip("/")}
    )
    assert r.status == 403  # with an allowlist, only the listed origins
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await client.ws_connect("/api/v1/ws", headers={"Origin": "https://evil.example"})
    assert exc.value.status == 403


async def test_security_headers(env: Env) -> None:
    for path in ("/", "/api/v1/me", "/healthz", "/api/v1/nope"):
        r = await env.client.get(path)
        h = r.headers
        assert h["Content-Security-Policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert "frame-ancestors 'none'" in CSP
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"


async def test_auth_routes_have_small_body_limits(env: Env) -> None:
    big = {"phone": PHONE, "password": "x" * 5000}
    for path in ("/api/v1/session", "/api/v1/accounts", "/api/v1/password-reset"):
        r = await env.client.post(path, json=big)
        assert r.status == 413 and (await r.json())["error"]["code"] == "payload_too_large"


async def test_json_depth_limit(env: Env) -> None:
    deep: object = "x"
    for _ in range(20):
        deep = [deep]
    r = await env.client.post("/api/v1/session", json={"phone": deep, "password": "x"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    r = await env.client.post(
        "/api/v1/session", data=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    r = await env.client.post(
        "/api/v1/session", data=b"phone=1", headers={"Content-Type": "text/plain"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "unsupported_media_type"


async def test_browser_socket_message_size_limit_closes_1009(env: Env) -> None:
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str("x" * (env.svc.config.browser_ws_max_bytes + 1))
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == WSMsgType.CLOSE and msg.data == 1009


async def test_browser_socket_invalid_utf8_closes_1007(env: Env) -> None:
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws._writer.send_frame(b'{"t":"ping\xff\xfe"}', WSMsgType.TEXT)
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == WSMsgType.CLOSE and msg.data == 1007


async def test_unverified_browser_socket_gets_no_data(env: Env) -> None:
    await other_account(env, verified=False)
    await env.login(OTHER)
    ws = await env.client.ws_connect("/api/v1/ws")
    frames = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type != WSMsgType.TEXT:
            break
        frames.append(json.loads(msg.data))
    assert msg.type == WSMsgType.CLOSE and msg.data == 4403
    assert frames == [{"t": "error", "code": "phone_unverified", "message": frames[0]["message"]}]


async def test_internal_errors_show_no_internals(env: Env, monkeypatch) -> None:
    async def boom(*_a: object) -> None:
        raise RuntimeError("SECRET internal detail in /srv/ferry/db.py line 42")

    monkeypatch.setattr(env.svc.accounts, "by_phone", boom)
    r = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert r.status == 500
    text = await r.text()
    assert json.loads(text) == {
        "error": {"code": "internal", "message": "Something went wrong on the server."}
    }
    assert "SECRET" not in text and "Traceback" not in text


async def test_other_accounts_objects_are_404(env: Env) -> None:
    await env.login()
    await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "mine", "client_msg_id": "m"}
    )
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    thread_id = threads[0]["id"]
    outbox_message = threads[0]["last_message"]
    await other_account(env)
    await env.client.delete("/api/v1/session")
    await env.login(OTHER)
    for method, path in [
        ("GET", f"/api/v1/threads/{thread_id}/messages"),
        ("POST", f"/api/v1/threads/{thread_id}/read"),
        ("GET", "/api/v1/threads/999999/messages"),
        ("GET", "/api/v1/threads/abc/messages"),
        ("PATCH", f"/api/v1/threads/{thread_id}"),
        ("DELETE", f"/api/v1/threads/{thread_id}"),
        ("DELETE", f"/api/v1/messages/{outbox_message['id']}"),
        ("DELETE", f"/api/v1/devices/{env.device_id}"),
        ("PATCH", f"/api/v1/devices/{env.device_id}"),
    ]:
        body = {"read": True, "name": "mine now"} if method == "PATCH" else None
        r = await env.client.request(method, path, json=body)
        assert r.status == 404, path
        assert "mine" not in await r.text()
    assert (await (await env.client.get("/api/v1/devices")).json())["devices"] == []
    assert (await (await env.client.get("/api/v1/threads")).json())["threads"] == []
    # A bridge of the other account cannot report on this account's outgoing message.
    from protocol.link import generate_keypair

    account = await env.svc.accounts.by_phone(OTHER)
    private, public = generate_keypair()
    env.device_id = await env.svc.devices.create(account.id, "theirs", public, env.clock.now())
    ws = await env.device(private)
    for outbox_id in range(1, 4):
        await ws.send(SendStatus(outbox_id=outbox_id, status="failed"))
        await recv(ws)
    await ws.close()
    await env.client.delete("/api/v1/session")
    await env.login()
    page = await (await env.client.get(f"/api/v1/threads/{thread_id}/messages")).json()
    assert page["messages"][0]["status"] == outbox_message["status"] == "queued"


async def test_access_log_records_routes_not_secrets(env: Env) -> None:
    await env.client.post(
        "/api/v1/session",
        json={"phone": PHONE, "password": PASSWORD},
        headers={"User-Agent": "UA-test"},
    )
    await env.client.get(
        "/api/v1/threads/12345/messages?token=SECRET", headers={"User-Agent": "UA-test"}
    )
    await env.client.get("/api/v1/nope")
    await env.svc.access_log.flush()
    rows = await env.svc.access_log._store.recent()
    by_route = {(r.method, r.route): r for r in rows}
    login = by_route[("POST", "/api/v1/session")]
    assert login.status == 200 and login.ip == "127.0.0.1" and login.user_agent == "UA-test"
    assert by_route[("GET", "/api/v1/threads/{thread_id}/messages")].status == 404
    assert by_route[("GET", "(unmatched)")].status == 404
    dump = repr(rows)
    assert "SECRET" not in dump and PASSWORD not in dump and "12345" not in dump


async def test_access_log_retention(env: Env) -> None:
    await env.client.get("/healthz")
    await env.svc.access_log.flush()
    env.clock.advance(env.svc.config.access_log_retention.total_seconds() - 60)
    await env.client.get("/healthz")
    await env.svc.access_log.flush()
    assert await env.svc.prune_access_log() == 0
    env.clock.advance(120)
    assert await env.svc.prune_access_log() == 1
    assert len(await env.svc.access_log._store.recent()) == 1


async def test_security_events_are_visible_to_their_owner_only(env: Env) -> None:
    await env.client.post("/api/v1/session", json={"phone": PHONE, "password": "wrong one!!"})
    await env.svc.background.drain()
    await env.login()
    events = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["login", "login_failed"] and events[0]["ip"] == "127.0.0.1"
    await other_account(env)
    await env.login(OTHER)
    theirs = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    assert [e["kind"] for e in theirs] == ["login"]


async def test_login_failures_across_accounts_do_not_lock_the_address(env: Env) -> None:
    # An office behind one address: ten wrong tries on other numbers lock no one else out
    # (the per-address limit is 100 in 15 minutes; see test_signin_throttle).
    for i in range(10):
        await env.client.post(
            "/api/v1/session", json={"phone": f"+1555010{i:04d}", "password": "nope nope"}
        )
    r = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert r.status == 200


async def test_openapi_documents_every_route(env: Env) -> None:
    r = await env.client.get("/api/v1/openapi.json")
    assert r.status == 200
    doc = await r.json()
    assert doc == json.loads(json.dumps(document(DEV_COOKIE))) and doc["openapi"].startswith("3.")
    served = set()
    for route in env.client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "*") or path is None or path == "/":
            continue
        served.add((route.method.lower(), path))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]
