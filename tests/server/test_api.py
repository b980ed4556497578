from __future__ import annotations

from tests.server.conftest import PASSWORD, PHONE, Env


async def test_healthz(env: Env) -> None:
    resp = await env.client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_login_sets_httponly_cookie_and_me_works(env: Env) -> None:
    resp = await env.client.post(
        "/api/v1/session", json={"phone": "+1 555 010 0001", "password": PASSWORD}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["account"]["phone"] == PHONE
    assert "password" not in str(body) and "argon2" not in str(body)
    cookie = resp.cookies["ferry_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    me = await env.client.get("/api/v1/me")
    assert (await me.json())["account"]["id"] == env.account_id


async def test_wrong_password_and_unknown_number_look_the_same(env: Env) -> None:
    a = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": "nope nope"})
    b = await env.client.post(
        "/api/v1/session", json={"phone": "+15550109999", "password": "nope nope"}
    )
    assert a.status == b.status == 401
    assert await a.json() == await b.json()


async def test_login_is_throttled_with_retry_after(env: Env) -> None:
    for _ in range(10):
        await env.client.post("/api/v1/session", json={"phone": PHONE, "password": "wrong pass"})
    resp = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    env.clock.advance(15 * 60 + 1)
    resp = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert resp.status == 200


async def test_logout_ends_session_on_server(env: Env) -> None:
    await env.login()
    cookie = env.client.session.cookie_jar.filter_cookies(env.client.make_url("/"))[
        "ferry_session"
    ].value
    assert (await env.client.delete("/api/v1/session")).status == 204
    resp = await env.client.get("/api/v1/me", cookies={"ferry_session": cookie})
    assert resp.status == 401


async def test_session_idle_expiry(env: Env) -> None:
    await env.login()
    env.clock.advance(env.svc.config.session_idle.total_seconds() + 1)
    assert (await env.client.get("/api/v1/me")).status == 401


async def test_unauthenticated_api_is_401_json(env: Env) -> None:
    resp = await env.client.get("/api/v1/threads")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_unverified_account_gets_phone_unverified(env: Env) -> None:
    await env.svc.accounts.create(
        "+15550100077", env.svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=None
    )
    await env.login("+15550100077")
    resp = await env.client.get("/api/v1/threads")
    assert resp.status == 403
    assert await resp.json() == {
        "error": {
            "code": "phone_unverified",
            "message": "Verify your phone number to see your conversations.",
        }
    }


async def test_cross_site_post_is_rejected(env: Env) -> None:
    await env.login()
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "a"},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "csrf_rejected"
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": "+15550100002", "body": "hi", "client_msg_id": "a"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status == 403


async def test_send_message_is_idempotent_on_client_msg_id(env: Env) -> None:
    await env.login()
    payload = {"to": "(555) 010-0002", "body": "hello", "client_msg_id": "c1"}
    r1 = await env.client.post("/api/v1/messages", json={**payload, "to": "+1 555 010 0002"})
    r2 = await env.client.post("/api/v1/messages", json={**payload, "to": "+15550100002"})
    assert r1.status == r2.status == 201
    m1, m2 = (await r1.json())["message"], (await r2.json())["message"]
    assert m1["id"] == m2["id"] and m1["status"] == "queued" and m1["peer"] == "+15550100002"
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    assert len(threads) == 1 and threads[0]["last_message"]["body"] == "hello"
    page = await (await env.client.get(f"/api/v1/threads/{threads[0]['id']}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["hello"] and page["has_more"] is False


async def test_invalid_number_and_body_are_400(env: Env) -> None:
    await env.login()
    r = await env.client.post(
        "/api/v1/messages", json={"to": "+1", "body": "x", "client_msg_id": "1"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_number"
    r = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": " ", "client_msg_id": "2"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_body"
    r = await env.client.post(
        "/api/v1/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"


async def test_oversized_body_is_413(env: Env) -> None:
    await env.login()
    big = {"to": "+15550100002", "body": "x" * 100_000, "client_msg_id": "big"}
    r = await env.client.post("/api/v1/messages", json=big)
    assert r.status == 413
    assert (await r.json())["error"]["code"] == "payload_too_large"


async def test_other_accounts_thread_is_404(env: Env) -> None:
    await env.login()
    await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "mine", "client_msg_id": "m"}
    )
    thread_id = (await (await env.client.get("/api/v1/threads")).json())["threads"][0]["id"]
    await env.svc.accounts.create(
        "+15550100088",
        env.svc.passwords.hash(PASSWORD),
        env.clock.now(),
        verified_at=env.clock.now(),
    )
    await env.client.delete("/api/v1/session")
    await env.login("+15550100088")
    r = await env.client.get(f"/api/v1/threads/{thread_id}/messages")
    assert r.status == 404
    assert "mine" not in await r.text()


async def test_security_headers_and_index(env: Env) -> None:
    r = await env.client.get("/api/v1/me")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_api_route_is_json_404(env: Env) -> None:
    r = await env.client.get("/api/v1/nope")
    assert r.status == 404
    assert (await r.json())["error"]["code"] == "not_found"
