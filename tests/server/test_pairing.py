"""Pairing codes over REST and pairing over the real (loopback) encrypted device link."""

from __future__ import annotations

import argon2
import pytest

from protocol.link import generate_keypair
from protocol.messages import DeviceHello, LinkClose, Upload
from protocol.pairing import decode_key, fingerprint_matches, parse_pairing_uri, split_typed_code
from server.config import Config
from tests.device_link import DeviceClient, Refused
from tests.server.conftest import PASSWORD, Env
from tests.server.test_sockets import browser, browser_until, sms


async def new_code(env: Env) -> dict:
    resp = await env.client.post("/api/v1/pairing-codes")
    assert resp.status == 201, await resp.text()
    return await resp.json()


def one_time(offer: dict) -> str:
    return parse_pairing_uri(offer["uri"]).code


async def pair(env: Env, code: str, name: str = "Pixel") -> tuple[bytes, DeviceClient]:
    private, _ = generate_keypair()
    hello = DeviceHello(versions=[1], pairing_code=code, name=name)
    return private, await env.device(private, hello=hello)


async def refused(env: Env, code: str | None, key: bytes | None = None) -> int | None:
    private = key or generate_keypair()[0]
    with pytest.raises(Refused) as info:
        await env.device(private, hello=DeviceHello(versions=[1], pairing_code=code))
    return info.value.code


# ------------------------------------------------------------------ REST


async def test_pairing_code_carries_url_key_and_a_matching_typed_form(env: Env) -> None:
    await env.login()
    offer = await new_code(env)
    uri = parse_pairing_uri(offer["uri"])
    assert uri.server_url == str(env.client.make_url("")).rstrip("/")
    assert uri.server_key == env.svc.server_public and uri.tls_fingerprint is None
    code, fingerprint = split_typed_code(offer["code"])
    assert code == uri.code and fingerprint_matches(code, fingerprint, env.svc.server_public)
    assert offer["qr_svg"].startswith("<svg") and offer["expires_at"] == "2026-11-01T12:10:00Z"
    key = await (await env.client.get("/api/v1/pairing/server-key")).json()
    assert decode_key(key["key"]) == env.svc.server_public


async def test_pairing_code_needs_a_signed_in_same_site_user(env: Env) -> None:
    assert (await env.client.post("/api/v1/pairing-codes")).status == 401
    # An unverified account may pair: its bridge is how the number verifies itself.
    await env.svc.accounts.create(
        "+15550100077", env.svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=None
    )
    await env.login("+15550100077")
    resp = await env.client.post("/api/v1/pairing-codes")
    assert resp.status == 201
    await env.login()
    resp = await env.client.post(
        "/api/v1/pairing-codes", headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf_rejected"


async def test_pairing_codes_are_rate_limited_per_account(env: Env) -> None:
    await env.login()
    for _ in range(env.svc.config.pairing_codes_per_hour):
        await new_code(env)
        env.clock.advance(60)
    resp = await env.client.post("/api/v1/pairing-codes")
    assert resp.status == 429 and (await resp.json())["error"]["code"] == "rate_limited"
    assert 0 < int(resp.headers["Retry-After"]) <= 3600
    env.clock.advance(int(resp.headers["Retry-After"]))
    await new_code(env)


@pytest.fixture
def config(tmp_path, database_url) -> Config:  # type: ignore[no-untyped-def]
    return Config(
        data_dir=tmp_path / "var",
        database_url=database_url,
        handshake_timeout=2.0,
        max_devices=2,
        password_params=argon2.profiles.CHEAPEST,
    )


async def test_device_limit_is_409_and_holds_at_registration(env: Env) -> None:
    await env.login()
    offers = [await new_code(env), await new_code(env)]  # one device exists; room for one
    await pair(env, one_time(offers[0]))
    resp = await env.client.post("/api/v1/pairing-codes")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "device_limit"
    # A code made while there was room still cannot exceed the limit.
    assert await refused(env, one_time(offers[1])) == LinkClose.DEVICE_LIMIT


# ------------------------------------------------------------- the link


async def test_pairing_happy_path_registers_the_key_once(env: Env) -> None:
    await env.login()
    ws = await browser(env)
    await browser_until(ws, lambda d: d["t"] == "device")
    offer = await new_code(env)
    private, dev = await pair(env, one_time(offer), name="Pixel\n\u202e 8")
    assert dev.welcome.lines == ["+15550100001"] and dev.welcome.device_id != env.device_id
    await dev.send(Upload(items=[sms(1)]))
    assert (await dev.recv()).upto == 1
    hint = await browser_until(ws, lambda d: d["t"] == "device" and len(d["devices"]) == 2)
    assert [d["name"] for d in hint["devices"]] == ["test bridge", "Pixel 8"]
    await dev.close()
    # The key is now the credential: no code needed, and the used code is worthless.
    again = await env.device(private)
    assert again.welcome.device_id == dev.welcome.device_id
    assert await refused(env, one_time(offer)) == LinkClose.PAIRING_FAILED


async def test_expired_code_is_refused(env: Env) -> None:
    await env.login()
    offer = await new_code(env)
    env.clock.advance(10 * 60 + 1)
    assert await refused(env, one_time(offer)) == LinkClose.PAIRING_FAILED


async def test_five_wrong_tries_kill_the_code(env: Env) -> None:
    await env.login()
    code = one_time(await new_code(env))
    wrong = [code[:2] + c * 6 for c in "ABCDE" if code[2:] != c * 6][:5]
    for guess in wrong:
        assert await refused(env, guess) == LinkClose.PAIRING_FAILED
    assert await refused(env, code) == LinkClose.PAIRING_FAILED


async def test_wrong_codes_are_throttled_per_address(env: Env) -> None:
    await env.login()
    code = one_time(await new_code(env))
    for _ in range(10):
        assert await refused(env, "ZZZZZZZ2") == LinkClose.PAIRING_FAILED
    assert await refused(env, code) == LinkClose.RATE_LIMITED
    env.clock.advance(15 * 60 + 1)
    await pair(env, one_time(await new_code(env)))


async def test_unknown_key_without_code_is_refused(env: Env) -> None:
    assert await refused(env, None) == LinkClose.UNAUTHORIZED
    assert await refused(env, "not a code!") == LinkClose.PAIRING_FAILED


async def test_revocation_closes_the_socket_at_once_and_forever(env: Env) -> None:
    dev = await env.device()
    await env.login()
    ws = await browser(env)
    await browser_until(ws, lambda d: d["t"] == "device" and d["devices"][0]["online"])
    resp = await env.client.delete(f"/api/v1/devices/{env.device_id}")
    assert resp.status == 204
    assert await dev.closed(timeout=2) == LinkClose.REVOKED
    await browser_until(ws, lambda d: d["t"] == "device" and d["devices"] == [])
    # The old key is refused, and can never pair again, even with a fresh code.
    assert await refused(env, None, env.device_key) == LinkClose.UNAUTHORIZED
    code = one_time(await new_code(env))
    assert await refused(env, code, env.device_key) == LinkClose.UNAUTHORIZED
    await pair(env, code)  # the code was not used up by the refused key
    assert (await env.client.delete(f"/api/v1/devices/{env.device_id}")).status == 404


async def test_other_accounts_devices_are_404_and_rename_works(env: Env) -> None:
    await env.svc.accounts.create(
        "+15550100077",
        env.svc.passwords.hash(PASSWORD),
        env.clock.now(),
        verified_at=env.clock.now(),
    )
    await env.login("+15550100077")
    assert (await env.client.delete(f"/api/v1/devices/{env.device_id}")).status == 404
    resp = await env.client.patch(f"/api/v1/devices/{env.device_id}", json={"name": "mine"})
    assert resp.status == 404
    assert (await env.client.delete("/api/v1/devices/abc")).status == 404
    await env.login()
    resp = await env.client.patch(f"/api/v1/devices/{env.device_id}", json={"name": "Kitchen"})
    assert resp.status == 200 and (await resp.json())["device"]["name"] == "Kitchen"
    resp = await env.client.patch(f"/api/v1/devices/{env.device_id}", json={"name": ""})
    assert resp.status == 400
