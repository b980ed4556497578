"""Hostile input over real loopback sockets: JSON nested a thousand deep on every channel,
numbers out of range, a browser socket without Origin, plain HTTP to a websocket address,
the OpenAPI document's cookie name."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import aiohttp
import pytest

from protocol.messages import Error
from server.api.common import SERVICES
from server.app import create_app
from server.auth.web import DEV_COOKIE, SECURE_COOKIE
from server.config import Config
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, Env

DEEP = b"[" * 1000 + b"]" * 1000  # ~2 KB, as the security battery sent it


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the log"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def post_raw(env: Env, path: str, body: bytes) -> aiohttp.ClientResponse:
    return await env.client.post(path, data=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "body",
    [
        b'{"phone":' + DEEP + b',"password":"x"}',
        b'{"phone":"+15550100001","password":"x","extra":' + DEEP + b"}",
        DEEP,
    ],
)
async def test_deep_json_before_sign_in_is_400(
    env: Env, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    r = await post_raw(env, "/api/v1/session", body)
    assert r.status == 400
    assert (await r.json())["error"] == {
        "code": "invalid_json",
        "message": "The body is nested too deeply.",
    }
    no_tracebacks(caplog)


async def test_deep_json_in_a_message_send_is_400(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.login()
    body = b'{"to":"+15550100002","body":"hi","client_msg_id":"c1","line_id":' + DEEP + b"}"
    r = await post_raw(env, "/api/v1/messages", body)
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    no_tracebacks(caplog)
    # Nothing was queued, and the same send without the junk still works.
    ok = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "hi", "client_msg_id": "c1"}
    )
    assert ok.status == 201


async def test_deep_json_on_the_browser_socket_gets_an_error_and_a_clean_close(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str('{"t":"subscribe","since":0,"x":' + DEEP.decode() + "}")
    frames = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        frames.append(msg.json())
    assert frames == [{"t": "error", "code": "nesting_too_deep", "message": "bad message"}]
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1003
    no_tracebacks(caplog)


async def test_deep_json_inside_the_device_link_is_a_protocol_error(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    dev = await env.device()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ferry.server.device"):
        await dev.ws.send_bytes(dev.noise.encrypt(b'{"t":"ping","x":' + DEEP + b"}"))
        err = await dev.recv()
        assert err == Error(code="nesting_too_deep")
        assert await dev.closed() == 1002
    lines = [r.getMessage() for r in caplog.records if r.name == "ferry.server.device"]
    assert [m for m in lines if "nesting_too_deep" in m] == [
        "device link from 127.0.0.1 violated the protocol: nesting_too_deep"
    ]
    no_tracebacks(caplog)
    # The bridge reconnects and carries on.
    again = await env.device()
    await again.close()


async def test_an_upload_number_beyond_64_bits_is_a_protocol_error(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to reach the database, fail there with a traceback and close with 1011."""
    dev = await env.device()
    item = b'{"n":99999999999999999999,"key":"k","sender":"+15550100002","body":"x",'
    item += b'"sent_at":"2026-11-01T11:59:00+01:00"}'
    await dev.ws.send_bytes(dev.noise.encrypt(b'{"t":"upload","items":[' + item + b"]}"))
    assert await dev.recv() == Error(code="number_out_of_range")
    assert await dev.closed() == 1002
    no_tracebacks(caplog)
    threads, _ = await env.svc.conversations.threads(env.account_id)
    assert threads == []


async def test_a_body_number_beyond_64_bits_is_400(env: Env) -> None:
    await env.login()
    body = b'{"to":"+15550100002","body":"hi","client_msg_id":"c1","line_id":1' + b"0" * 30 + b"}"
    r = await post_raw(env, "/api/v1/messages", body)
    assert r.status == 400
    assert (await r.json())["error"] == {
        "code": "invalid_json",
        "message": "A number in the body is out of range.",
    }


@pytest.mark.parametrize(
    "query",
    [
        "before=99999999999999999999",
        "before=-1",
        "before=0",
        "before=9223372036854775808",
        "before=1e3",
        "before=%EF%BC%91",  # a full-width digit one: int() would take it
        "before=1_000",
        "before=",
        "limit=0",
        "limit=201",
        "limit=-99999999999999999999",
        "limit=abc",
    ],
)
async def test_security_event_paging_numbers_are_range_checked(
    env: Env, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    await env.login()
    r = await env.client.get(f"/api/v1/me/security-events?{query}")
    assert r.status == 400, await r.text()
    error = (await r.json())["error"]
    assert error["code"] == "invalid_parameter"
    name = query.partition("=")[0]
    assert error["message"].startswith(f"'{name}' must be an integer from 1 to ")
    no_tracebacks(caplog)


async def test_in_range_paging_still_works(env: Env) -> None:
    await env.login()
    for query in ("", "limit=1", "limit=200", "before=1", "before=9223372036854775807"):
        r = await env.client.get(f"/api/v1/me/security-events?{query}")
        assert r.status == 200, (query, await r.text())
    events = (await (await env.client.get("/api/v1/me/security-events?limit=1")).json())["events"]
    assert len(events) == 1


@pytest.mark.parametrize(
    "query",
    ["before=99999999999999999999", "before=-5", "limit=100000000000000000000000", "limit=0"],
)
async def test_message_paging_and_search_numbers_are_range_checked(env: Env, query: str) -> None:
    await env.login()
    r = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "hi", "client_msg_id": "c1"}
    )
    thread_id = (await r.json())["message"]["thread_id"]
    r = await env.client.get(f"/api/v1/threads/{thread_id}/messages?{query}")
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_parameter"
    if query.startswith("limit"):
        r = await env.client.get(f"/api/v1/search?q=hi&{query}")
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_parameter"


async def test_browser_socket_without_origin_is_refused_before_the_upgrade(env: Env) -> None:
    await env.login()
    cookie = env.session_cookie()
    async with aiohttp.ClientSession() as bare:  # no default Origin, unlike the test client
        url = env.client.make_url("/api/v1/ws")
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await bare.ws_connect(url, headers={"Cookie": f"{DEV_COOKIE}={cookie}"})
        assert exc.value.status == 403
        # The same cookie from the page's own origin is let in.
        ws = await bare.ws_connect(
            url, headers={"Cookie": f"{DEV_COOKIE}={cookie}", "Origin": str(url.origin())}
        )
        await ws.send_str('{"t":"ping"}')
        assert (await asyncio.wait_for(ws.receive_json(), 10)) == {"t": "pong"}
        await ws.close()


async def test_plain_http_to_the_device_socket_is_400(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    r = await env.client.get("/api/v1/device")
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "websocket_required"
    no_tracebacks(caplog)
    assert env.svc.unauthenticated == {}  # nothing was counted against the address


@pytest.mark.parametrize("secure", [False, True])
async def test_openapi_names_the_cookie_the_server_sets(
    aiohttp_client, config: Config, clock: FakeClock, secure: bool
) -> None:
    client = await aiohttp_client(create_app(replace(config, secure_cookies=secure), clock=clock))
    svc = client.app[SERVICES]
    await svc.accounts.create(PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=None)
    doc = await (await client.get("/api/v1/openapi.json")).json()
    named = doc["components"]["securitySchemes"]["session"]["name"]
    r = await client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert r.status == 200
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{named}=")
    assert named == (SECURE_COOKIE if secure else DEV_COOKIE)
