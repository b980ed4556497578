"""Phone-number verification: codes, their rules, gateways, auto-verification by the
account's own bridge, change of number — over real loopback HTTP and websockets."""

from __future__ import annotations

import logging
import secrets

import pytest

from protocol.link import generate_keypair
from protocol.messages import SendSms, SendStatus, StatusAck, Upload
from server.auth.codes import code_mac, code_message, webotp_codes
from server.config import Config, ConfigError
from server.storage.schema import verification_codes
from tests.server.conftest import PASSWORD, PHONE, TERMS, Env
from tests.server.test_sockets import device, recv, sms

NEW = "+15550100044"
OTHER = "+15550100055"


async def verify(env: Env, code: str, path: str = "/api/v1/me/phone/verify") -> int:
    r = await env.client.post(path, json={"code": code})
    return r.status


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_unverified_account_is_refused_then_served_after_code(env: Env) -> None:
    code = await env.signup(NEW)
    r = await env.client.get("/api/v1/threads")
    assert r.status == 403 and (await r.json())["error"]["code"] == "phone_unverified"
    assert await verify(env, code) == 200
    assert (await env.client.get("/api/v1/threads")).status == 200
    me = await (await env.client.get("/api/v1/me")).json()
    assert me["account"]["phone_verified"] is True


async def test_code_format_message_and_storage(env: Env) -> None:
    code = await env.signup(NEW)
    assert len(code) == 6 and code.isdigit()
    text = env.sms.to(NEW)[-1].text
    assert text.splitlines()[-1] == f"@127.0.0.1 #{code}"  # WebOTP origin-bound line
    async with env.svc.engine.connect() as conn:
        row = (await conn.execute(verification_codes.select())).one()
    assert code.encode() not in row.code_hash and len(row.code_hash) == 32
    assert (row.expires_at - row.created_at).total_seconds() == 600


async def test_code_expires_after_ten_minutes(env: Env) -> None:
    code = await env.signup(NEW)
    env.clock.advance(600)
    assert await verify(env, code) == 400


async def test_code_is_single_use(env: Env) -> None:
    code = await env.signup(NEW)
    assert await verify(env, code) == 200
    # A second use (e.g. the same code for a change of number) is refused.
    await env.client.post("/api/v1/me/phone/change", json={"phone": OTHER, "password": PASSWORD})
    assert await verify(env, code, "/api/v1/me/phone/change/confirm") == 400


async def test_five_wrong_tries_kill_the_code(env: Env) -> None:
    code = await env.signup(NEW)
    for _ in range(4):
        assert await verify(env, wrong(code)) == 400
    assert await verify(env, "12ab56") == 400  # malformed counts too
    assert await verify(env, code) == 400  # dead now, even though right


async def test_four_wrong_tries_still_allow_the_right_one(env: Env) -> None:
    code = await env.signup(NEW)
    for _ in range(4):
        assert await verify(env, wrong(code)) == 400
    assert await verify(env, code) == 200


async def test_resend_is_rate_limited_and_kills_the_previous_code(env: Env) -> None:
    first = await env.signup(NEW)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    env.clock.advance(61)
    assert (await env.client.post("/api/v1/me/phone/code")).status == 202
    second = await env.code_for(NEW)
    if second != first:
        assert await verify(env, first) == 400
    assert await verify(env, second) == 200
    assert (await env.client.post("/api/v1/me/phone/code")).status == 409


async def test_hourly_send_limit(env: Env) -> None:
    await env.signup(NEW)
    for _ in range(4):
        env.clock.advance(61)
        assert (await env.client.post("/api/v1/me/phone/code")).status == 202
    env.clock.advance(61)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 429 and int(r.headers["Retry-After"]) > 60


async def test_code_is_bound_to_its_purpose(env: Env) -> None:
    r = await env.client.post("/api/v1/password-reset", json={"phone": PHONE})
    assert r.status == 202
    code = await env.code_for(PHONE)
    v = env.svc.verification
    assert await v.check(env.account_id, "verify", code, "ip") is None
    assert await v.check(env.account_id, "change_phone", code, "ip") is None
    assert await v.check(env.account_id, "reset", code, "ip") == PHONE
    # Over HTTP: a reset code does not confirm a change of number.
    await env.login()
    env.clock.advance(61)
    await env.client.post("/api/v1/password-reset", json={"phone": PHONE})
    reset_code = await env.code_for(PHONE)
    await env.client.post("/api/v1/me/phone/change", json={"phone": NEW, "password": PASSWORD})
    change_code = await env.code_for(NEW)
    if reset_code != change_code:
        assert await verify(env, reset_code, "/api/v1/me/phone/change/confirm") == 400
    assert await verify(env, change_code, "/api/v1/me/phone/change/confirm") == 200


def test_mac_binds_purpose_and_number() -> None:
    key = secrets.token_bytes(32)
    base = code_mac(key, "verify", NEW, "123456")
    assert base != code_mac(key, "reset", NEW, "123456")
    assert base != code_mac(key, "verify", OTHER, "123456")
    assert base != code_mac(secrets.token_bytes(32), "verify", NEW, "123456")


def test_webotp_line_is_parsed_for_our_host_only() -> None:
    text = code_message("verify", "042042", "ferry.example")
    assert webotp_codes(text, "ferry.example") == ["042042"]
    assert webotp_codes(text, "evil.example") == []
    assert webotp_codes("no code here 123456", "ferry.example") == []


async def test_change_phone_needs_password_and_new_code(env: Env) -> None:
    await env.login()
    r = await env.client.post(
        "/api/v1/me/phone/change", json={"phone": NEW, "password": "nope nope"}
    )
    assert r.status == 403 and (await r.json())["error"]["code"] == "wrong_password"
    r = await env.client.post("/api/v1/me/phone/change", json={"phone": "zz", "password": PASSWORD})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_number"
    r = await env.client.post("/api/v1/me/phone/change", json={"phone": NEW, "password": PASSWORD})
    assert r.status == 202
    code = await env.code_for(NEW)
    # Until confirmed, the account keeps its verified number.
    me = (await (await env.client.get("/api/v1/me")).json())["account"]
    assert me["phone"] == PHONE and me["phone_verified"]
    assert await verify(env, code) == 400  # not a "verify" code
    r = await env.client.post("/api/v1/me/phone/change/confirm", json={"code": code})
    assert r.status == 200
    assert (await r.json())["account"]["phone"] == NEW
    await env.client.delete("/api/v1/session")
    await env.login(NEW, PASSWORD)


async def test_change_to_a_verified_accounts_number_is_refused_after_proof(env: Env) -> None:
    await env.svc.accounts.create(
        OTHER,
        env.svc.passwords.hash("other password"),
        env.clock.now(),
        verified_at=env.clock.now(),
    )
    await env.login()
    r = await env.client.post(
        "/api/v1/me/phone/change", json={"phone": OTHER, "password": PASSWORD}
    )
    assert r.status == 202  # no hint that the number is taken before ownership is shown
    code = await env.code_for(OTHER)
    r = await env.client.post("/api/v1/me/phone/change/confirm", json={"code": code})
    assert r.status == 409 and (await r.json())["error"]["code"] == "phone_taken"


async def test_bridge_auto_verifies_when_code_sms_reaches_its_sim(env: Env) -> None:
    code = await env.signup(NEW)
    account = await env.svc.accounts.by_phone(NEW)
    private, public = generate_keypair()
    device_id = await env.svc.devices.create(account.id, "new bridge", public, env.clock.now())
    env.device_id = device_id
    ws = await env.device(private)
    text = env.sms.to(NEW)[-1].text
    await ws.send(Upload(items=[sms(1, text, sender="Ferry")]))
    await recv(ws)  # ack
    assert (await env.svc.accounts.get(account.id)).phone_verified
    assert await verify(env, code) == 400  # used by the bridge
    await ws.close()


async def test_another_accounts_bridge_cannot_submit_the_code(env: Env) -> None:
    await env.signup(NEW)
    text = env.sms.to(NEW)[-1].text
    ws = await device(env)  # paired with the first account, not the new one
    await ws.send(Upload(items=[sms(1, text, sender="Ferry")]))
    await recv(ws)
    assert not (await env.svc.accounts.by_phone(NEW)).phone_verified
    await ws.close()


async def test_wrong_codes_in_sms_do_not_burn_tries(env: Env) -> None:
    code = await env.signup(NEW)
    account = await env.svc.accounts.by_phone(NEW)
    private, public = generate_keypair()
    env.device_id = await env.svc.devices.create(account.id, "b", public, env.clock.now())
    ws = await env.device(private)
    items = [sms(n, f"hi\n\n@127.0.0.1 #{wrong(code)}", key=f"x{n}") for n in range(1, 8)]
    await ws.send(Upload(items=items))
    await recv(ws)
    assert not (await env.svc.accounts.get(account.id)).phone_verified
    assert await verify(env, code) == 200
    await ws.close()


async def test_device_gateway_sends_code_through_the_operators_bridge(
    aiohttp_client, config, clock
) -> None:
    from dataclasses import replace

    from server.api.common import SERVICES
    from server.app import create_app

    setup = await aiohttp_client(create_app(config, clock=clock))
    svc = setup.app[SERVICES]
    operator = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=clock.now()
    )
    private, public = generate_keypair()
    gateway_id = await svc.devices.create(operator, "operator modem", public, clock.now())
    await setup.close()
    gw_config = replace(config, sms_gateway="device", gateway_device_id=gateway_id).validate()
    client = await aiohttp_client(create_app(gw_config, clock=clock))
    env = Env(client, client.app[SERVICES], clock, operator, gateway_id, private, None)  # type: ignore[arg-type]
    ws = await device(env)
    r = await client.post(
        "/api/v1/accounts",
        json={"accept_terms": TERMS, "phone": NEW, "password": "a good password"},
    )
    assert r.status == 202
    send = await recv(ws)
    assert isinstance(send, SendSms) and send.outbox_id < 0 and send.to == NEW
    assert send.body.splitlines()[-1].startswith("@127.0.0.1 #")
    # The bridge's reports on it are acknowledged (so it can forget them) and change nothing.
    await ws.send(SendStatus(outbox_id=send.outbox_id, status="sent"))
    assert await recv(ws) == StatusAck(outbox_id=send.outbox_id, status="sent")
    # The code is not stored as a conversation of the operator.
    await client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    threads = (await (await client.get("/api/v1/threads")).json())["threads"]
    assert threads == []
    await ws.close()


async def test_log_gateway_writes_the_code_to_the_log(env: Env, caplog) -> None:
    from server.sms_gateway.log import LogGateway

    env.svc.verification.gateway = LogGateway()
    with caplog.at_level(logging.WARNING, logger="ferry.server.sms"):
        await env.client.post(
            "/api/v1/accounts",
            json={"accept_terms": TERMS, "phone": NEW, "password": "a good password"},
        )
        await env.svc.background.drain()
    assert any(NEW in r.getMessage() and "#" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("kwargs", "ok"),
    [
        ({"sms_gateway": "log"}, True),
        ({"sms_gateway": "log", "host": "0.0.0.0", "secure_cookies": True}, False),
        ({"sms_gateway": "log", "secure_cookies": True}, False),
        ({"sms_gateway": "emulator", "host": "0.0.0.0", "secure_cookies": True}, True),
        ({"sms_gateway": "device", "host": "0.0.0.0", "secure_cookies": True}, False),
        ({"sms_gateway": "device", "gateway_device_id": 1, "secure_cookies": True}, True),
        ({"sms_gateway": "carrier-pigeon"}, False),
    ],
)
def test_gateway_choice_is_validated(kwargs: dict, ok: bool) -> None:
    if ok:
        Config(**kwargs).validate()
    else:
        with pytest.raises(ConfigError):
            Config(**kwargs).validate()


def test_gateway_from_environment() -> None:
    config = Config.from_env(
        {"FERRY_SMS_GATEWAY": "emulator", "FERRY_EMULATOR_URL": "http://127.0.0.1:9"}
    )
    assert config.sms_gateway == "emulator" and config.emulator_url == "http://127.0.0.1:9"
    assert (
        Config.from_env({"FERRY_PUBLIC_URL": "https://sms.example:8443"}).webotp_host
        == "sms.example"
    )


async def test_wrong_codes_are_throttled_per_ip(env: Env) -> None:
    await env.signup(NEW)
    statuses = [await verify(env, "000000") for _ in range(25)]
    assert statuses[:20] == [400] * 20 and statuses[20:] == [429] * 5
