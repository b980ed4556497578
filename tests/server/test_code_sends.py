"""Code sends tell the truth (issue #13): "sent" only once the SMS gateway accepted the
message, otherwise an error code and ``Retry-After``; the sign-up's own send (whose
answer must look the same for every number) is reported on ``GET /me``. Real loopback
HTTP and the real device link; the gateways that fail are the edge, faked here."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from protocol.link import generate_keypair
from protocol.messages import ModemInfo, SendSms
from server.api.common import SERVICES
from server.app import create_app
from server.auth import verification
from server.sms_gateway import GatewayRejected, GatewayUnavailable
from server.storage.conversations import Inbound
from tests.server.conftest import PASSWORD, PHONE, TERMS, Env

NEW = "+15550100044"


class DownGateway:
    """A gateway whose way out is down (or that refuses, or never answers)."""

    name = "down"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.tries = 0

    async def send(self, to: str, text: str, kind: str) -> None:
        self.tries += 1
        if self.error is None:
            await asyncio.Event().wait()  # hangs
        raise self.error

    async def close(self) -> None:
        pass


async def me(env: Env) -> dict:
    return await (await env.client.get("/api/v1/me")).json()


async def unverified(env: Env) -> None:
    """Sign up NEW (the fake gateway takes the code) and sign in."""
    await env.signup(NEW)


async def test_resend_answers_sent_only_after_the_gateway_accepted(env: Env) -> None:
    await unverified(env)
    env.clock.advance(61)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 202
    body = await r.json()
    assert body["sent"] is True and body["status"] == "code_sent"
    # Sent before the answer, not in the background after it.
    assert len(env.sms.to(NEW)) == 2


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (GatewayUnavailable("the gateway bridge is not connected"), 503, "sms_unavailable"),
        (GatewayRejected("no virtual phone has this number"), 502, "sms_refused"),
    ],
)
async def test_resend_says_what_went_wrong(
    env: Env, error: Exception, status: int, code: str
) -> None:
    await unverified(env)
    env.clock.advance(61)
    env.svc.verification.gateway = DownGateway(error)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == status
    body = await r.json()
    assert body["error"]["code"] == code
    # The gateway's own words are for the log, not the browser.
    assert str(error) not in body["error"]["message"]
    assert r.headers["Retry-After"] == "60"  # the one-a-minute gap, counted from this try
    assert (await me(env))["code_send"]["state"] == "failed"
    assert (await me(env))["code_send"]["error"] == code


async def test_a_gateway_that_never_answers_is_a_failed_send(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verification, "SEND_TIMEOUT", 0.2)
    await unverified(env)
    env.clock.advance(61)
    env.svc.verification.gateway = DownGateway()
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 503 and (await r.json())["error"]["code"] == "sms_unavailable"


async def test_the_sign_up_send_is_reported_on_me(env: Env) -> None:
    gateway = DownGateway(GatewayUnavailable("emulator unreachable"))
    env.svc.verification.gateway = gateway
    r = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": PASSWORD}
    )
    assert r.status == 202  # the same answer for every number, whatever the gateway did
    await env.svc.background.drain()
    await env.login(NEW)
    assert gateway.tries == 1
    report = (await me(env))["code_send"]
    assert report["state"] == "failed" and report["error"] == "sms_unavailable"

    env.svc.verification.gateway = env.sms
    env.clock.advance(61)
    assert (await env.client.post("/api/v1/me/phone/code")).status == 202
    assert (await me(env))["code_send"]["state"] == "sent"
    # Reports last as long as a code from them could: then they are unknown, not stale.
    env.clock.advance(600)
    assert (await me(env))["code_send"] is None


async def test_verified_accounts_carry_no_send_report(env: Env) -> None:
    await env.login()
    assert "code_send" not in await me(env)


async def test_change_of_number_tells_the_truth_too(env: Env) -> None:
    await env.login()
    env.svc.verification.gateway = DownGateway(GatewayRejected("refused"))
    r = await env.client.post("/api/v1/me/phone/change", json={"phone": NEW, "password": PASSWORD})
    assert r.status == 502 and (await r.json())["error"]["code"] == "sms_refused"


async def device_gateway_env(aiohttp_client, config, clock) -> Env:  # type: ignore[no-untyped-def]
    """A server whose codes leave through the operator's own bridge (``device`` gateway)."""
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
    return Env(client, client.app[SERVICES], clock, operator, gateway_id, private, None)  # type: ignore[arg-type]


async def test_device_gateway_accepts_only_through_a_bridge_that_can_send(
    aiohttp_client, config, clock
) -> None:
    env = await device_gateway_env(aiohttp_client, config, clock)
    r = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": PASSWORD}
    )
    await env.svc.background.drain()
    await env.login(NEW)
    # No bridge connected: not sent, and the page hears so.
    assert (await me(env))["code_send"]["error"] == "sms_unavailable"

    bridge = await env.device()
    await bridge.send(ModemInfo(signal_dbm=-70, state="not_responding"))
    await wait_for_modem(env, "not_responding")
    env.clock.advance(61)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 503 and (await r.json())["error"]["code"] == "sms_unavailable"

    await bridge.send(ModemInfo(signal_dbm=-70, state="ready"))
    await wait_for_modem(env, "ready")
    env.clock.advance(61)
    r = await env.client.post("/api/v1/me/phone/code")
    assert r.status == 202
    order = await bridge.recv()
    assert isinstance(order, SendSms) and order.to == NEW and order.outbox_id < 0
    await bridge.close()


async def wait_for_modem(env: Env, state: str) -> None:
    for _ in range(200):
        conn = env.svc.registry.get(env.device_id)
        if conn is not None and conn.modem is not None and conn.modem.state == state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never heard of modem state {state}")


async def test_the_device_gateway_does_not_text_a_number_that_replied_stop(
    aiohttp_client, config, clock
) -> None:
    env = await device_gateway_env(aiohttp_client, config, clock)
    (line,) = await env.svc.lines.for_account(env.account_id)
    stop = Inbound("k1", line.id, NEW, "STOP", clock.now())
    await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, [stop], clock.now())
    bridge = await env.device()
    await bridge.send(ModemInfo(signal_dbm=-70, state="ready"))
    await wait_for_modem(env, "ready")
    r = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": PASSWORD}
    )
    assert r.status == 202  # the same answer for every number
    await env.svc.background.drain()
    await env.login(NEW)
    assert (await me(env))["code_send"]["error"] == "sms_refused"
    await bridge.close()
