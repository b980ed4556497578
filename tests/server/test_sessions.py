"""Sessions: cookie, rotation, expiry, listing and revocation, and their sockets closing
within seconds — real loopback HTTP and websockets, fake clock."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import aiohttp
import pytest

from server.api.common import SERVICES
from server.app import create_app
from server.auth.web import DEV_COOKIE
from server.config import Config
from server.ws.browsers import CLOSE_SESSION_ENDED
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, Env

LOGIN = {"phone": PHONE, "password": PASSWORD}


async def subscribed(http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while True:  # wait until the server is serving it (devices frame follows catch-up)
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if json.loads(msg.data)["t"] == "device":
            return ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3) -> int | None:
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            return int(msg.data)
        if msg.type == aiohttp.WSMsgType.CLOSED:
            return ws.close_code


async def two_browsers(env: Env) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
    a, b = env.browser(), env.browser()
    for http in (a, b):
        assert (await http.post("/api/v1/session", json=LOGIN)).status == 200
    return a, b


async def test_logout_closes_that_sessions_sockets_only(env: Env) -> None:
    a, b = await two_browsers(env)
    ws_a, ws_b = await subscribed(a), await subscribed(b)
    assert (await a.delete("/api/v1/session")).status == 204
    assert await closed_with(ws_a) == CLOSE_SESSION_ENDED
    await ws_b.send_str(json.dumps({"t": "ping"}))
    msg = await asyncio.wait_for(ws_b.receive(), 3)
    assert json.loads(msg.data)["t"] == "pong"
    await ws_b.close()


async def test_sessions_list_and_revoke_one(env: Env) -> None:
    a, b = await two_browsers(env)
    ws_b = await subscribed(b)
    listing = await (await a.get("/api/v1/me/sessions", headers={"User-Agent": "A"})).json()
    assert len(listing["sessions"]) == 2
    mine = [s for s in listing["sessions"] if s["current"]]
    other = next(s for s in listing["sessions"] if not s["current"])
    assert len(mine) == 1 and other["ip"] == "127.0.0.1"
    assert env.session_cookie(b) not in json.dumps(listing)
    assert (await a.delete(f"/api/v1/me/sessions/{other['id']}")).status == 204
    assert await closed_with(ws_b) == CLOSE_SESSION_ENDED
    assert (await b.get("/api/v1/me")).status == 401
    assert (await a.get("/api/v1/me")).status == 200


async def test_sign_out_everywhere_else(env: Env) -> None:
    a, b = await two_browsers(env)
    ws_a, ws_b = await subscribed(a), await subscribed(b)
    assert (await a.delete("/api/v1/me/sessions")).status == 204
    assert await closed_with(ws_b) == CLOSE_SESSION_ENDED
    assert (await b.get("/api/v1/me")).status == 401
    assert (await a.get("/api/v1/me")).status == 200
    assert not ws_a.closed
    await ws_a.close()


async def test_other_accounts_session_id_is_404(env: Env) -> None:
    a = env.browser()
    await a.post("/api/v1/session", json=LOGIN)
    victim = [s["id"] for s in (await (await a.get("/api/v1/me/sessions")).json())["sessions"]]
    await env.svc.accounts.create(
        "+15550100088", env.svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=None
    )
    await env.login("+15550100088")
    for handle in [*victim, "nothex", "00" * 32]:
        r = await env.client.delete(f"/api/v1/me/sessions/{handle}")
        assert r.status == 404
    assert (await a.get("/api/v1/me")).status == 200


async def test_reset_closes_every_socket(env: Env) -> None:
    a, b = await two_browsers(env)
    ws_a, ws_b = await subscribed(a), await subscribed(b)
    await env.client.post("/api/v1/password-reset", json={"phone": PHONE})
    code = await env.code_for(PHONE)
    r = await env.client.post(
        "/api/v1/password-reset/confirm",
        json={"phone": PHONE, "code": code, "password": "fresh secret 9"},
    )
    assert r.status == 200
    assert await closed_with(ws_a) == await closed_with(ws_b) == CLOSE_SESSION_ENDED


async def test_session_id_is_replaced_at_login(env: Env) -> None:
    await env.login()
    first = env.session_cookie()
    assert len(first) >= 22  # >= 128 bits, url-safe base64
    await env.login()
    second = env.session_cookie()
    assert second != first
    assert (await env.client.get("/api/v1/me", cookies={"ferry_session": first})).status == 401


async def test_planted_cookie_never_becomes_a_session(env: Env) -> None:
    planted = "attacker-chosen-value-0123456789abcdef"
    env.client.session.cookie_jar.update_cookies({"ferry_session": planted})
    await env.login()
    assert env.session_cookie() != planted
    assert (await env.client.get("/api/v1/me", cookies={"ferry_session": planted})).status == 401


async def test_absolute_expiry_despite_activity(env: Env) -> None:
    await env.login()
    idle = env.svc.config.session_idle.total_seconds()
    absolute = env.svc.config.session_absolute.total_seconds()
    elapsed = 0.0
    while elapsed + idle / 2 < absolute:
        env.clock.advance(idle / 2)
        elapsed += idle / 2
        assert (await env.client.get("/api/v1/me")).status == 200
    env.clock.advance(absolute - elapsed + 1)
    assert (await env.client.get("/api/v1/me")).status == 401


@pytest.fixture
async def swept(aiohttp_client, config: Config, clock: FakeClock) -> Env:
    fast = replace(config, sweep_interval=0.05)
    client = await aiohttp_client(create_app(fast, clock=clock))
    svc = client.app[SERVICES]
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=clock.now()
    )
    env = Env(client, svc, clock, account_id, 0, "", None)  # type: ignore[arg-type]
    yield env
    await env.close()


async def test_expired_sessions_sockets_close_within_seconds(swept: Env) -> None:
    a = swept.browser()
    await a.post("/api/v1/session", json=LOGIN)
    ws = await subscribed(a)
    await asyncio.sleep(0.2)
    assert not ws.closed  # the sweep leaves live sessions alone
    swept.clock.advance(swept.svc.config.session_idle.total_seconds() + 1)
    assert await closed_with(ws, timeout=2) == CLOSE_SESSION_ENDED
    assert (await a.get("/api/v1/me")).status == 401


async def test_secure_cookie_and_hsts(aiohttp_client, config: Config, clock: FakeClock) -> None:
    client = await aiohttp_client(create_app(replace(config, secure_cookies=True), clock=clock))
    svc = client.app[SERVICES]
    await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=None)
    r = await client.post("/api/v1/session", json=LOGIN)
    assert r.status == 200
    header = r.headers["Set-Cookie"]
    assert header.startswith("__Host-ferry_session=")
    attrs = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attrs and "domain" not in attrs
    assert "SameSite=Lax" in header and "Path=/" in header
    assert "max-age=" in r.headers["Strict-Transport-Security"]


async def test_no_hsts_on_plain_http_dev(env: Env) -> None:
    r = await env.client.get("/healthz")
    assert "Strict-Transport-Security" not in r.headers
    await env.login()
    assert (
        "Secure"
        not in env.client.session.cookie_jar.filter_cookies(env.client.make_url("/"))[
            "ferry_session"
        ].output()
    )


async def test_session_cookie_is_found_among_others_and_malformed_values_are_refused(
    env: Env,
) -> None:
    await env.login()
    jar = env.client.session.cookie_jar.filter_cookies(env.client.make_url("/"))
    sid = jar[DEV_COOKIE].value
    http = env.browser()  # its own, empty cookie jar: only the header below is sent
    cases = [
        (f"theme=dark; {DEV_COOKIE}={sid}; lang=en", 200),
        (f"{DEV_COOKIE}=stale-value; {DEV_COOKIE}={sid}", 200),  # the last one wins
        (f"{DEV_COOKIE}={sid}; {DEV_COOKIE}=stale-value", 401),
        (f'{DEV_COOKIE}="{sid}"', 401),  # not the form a session id has
        (f"{DEV_COOKIE}={sid};x", 200),
        (f"x{DEV_COOKIE}={sid}", 401),
        (f"{DEV_COOKIE}={'a' * 129}", 401),
        ("", 401),
    ]
    for header, status in cases:
        resp = await http.get("/api/v1/devices", headers={"Cookie": header})
        assert resp.status == status, header
