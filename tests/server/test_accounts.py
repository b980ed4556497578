"""Sign-up, password policy and hashing, profile, password change and reset — over real
loopback HTTP with a fake clock."""

from __future__ import annotations

import argon2
import pytest

from server.api.common import SERVICES
from server.app import create_app
from server.auth.passwords import Passwords, password_problem
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, TERMS, Env

NEW = "+15550100044"


def no_hash(text: str) -> None:
    assert "$argon2" not in text and "password_hash" not in text


async def test_signup_normalises_number_creates_unverified_account_and_sends_code(
    env: Env,
) -> None:
    resp = await env.client.post(
        "/api/v1/accounts",
        json={
            "accept_terms": TERMS,
            "phone": "+1 (555) 010-0044",
            "password": "a long enough phrase",
            "email": "a@b.c",
        },
    )
    assert resp.status == 202
    no_hash(await resp.text())
    await env.svc.background.drain()
    [sent] = env.sms.to(NEW)
    assert sent.kind == "code" and sent.text.endswith(f"@127.0.0.1 #{env.sms.last_code(NEW)}")
    await env.login("+1 555 010 0044", "a long enough phrase")
    me = await (await env.client.get("/api/v1/me")).json()
    assert me["account"]["phone"] == NEW and me["account"]["phone_verified"] is False
    assert me["account"]["email"] == "a@b.c"
    no_hash(str(me))


@pytest.mark.parametrize("phone", ["banana", "+1", "12", "+999 123"])
async def test_signup_with_invalid_number_is_a_clear_400(env: Env, phone: str) -> None:
    resp = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": phone, "password": PASSWORD}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "invalid_number" and "country code" in body["error"]["message"]


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short", False),
        ("x" * 129, False),
        ("x" * 128, True),
        ("password1", False),  # common
        ("PassWord1", False),  # common, case-insensitively
        ("Ferry rocks 4ever", True),
        ("trustno1", False),
        ("ünïcødé ✓ パスワード", True),  # any Unicode, no composition rules
        ("11111111", False),
        ("zebra yacht", True),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok


async def test_weak_password_is_refused_with_reason(env: Env) -> None:
    resp = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": "qwertyuiop"}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "weak_password" and "common" in body["error"]["message"]


async def test_signup_does_not_reveal_existing_accounts(env: Env) -> None:
    taken = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": PHONE, "password": "x y z w v u"}
    )
    free = await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": "x y z w v u"}
    )
    assert taken.status == free.status == 202
    assert await taken.json() == await free.json()
    assert taken.cookies.keys() == free.cookies.keys() == set()
    await env.svc.background.drain()
    # The owner of the taken number is told by SMS, without a code; the account is intact.
    [notice] = env.sms.to(PHONE)
    assert notice.kind == "notice" and "#" not in notice.text
    await env.login(PHONE, PASSWORD)
    kinds = [
        e["kind"]
        for e in (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    ]
    assert "signup_attempt" in kinds


async def test_newer_signup_replaces_an_unproven_claim(env: Env) -> None:
    await env.signup(NEW, "squatter password")
    squatter_cookie = env.session_cookie()
    env.clock.advance(61)  # sends to one number: at most one a minute
    code = await env.signup(NEW, "owner password!")
    r = await env.client.get("/api/v1/me", cookies={"ferry_session": squatter_cookie})
    assert r.status == 401  # the old claim and its sessions are gone
    r = await env.client.post("/api/v1/me/phone/verify", json={"code": code})
    assert r.status == 200 and (await r.json())["account"]["phone_verified"] is True
    bad = await env.client.post(
        "/api/v1/session", json={"phone": NEW, "password": "squatter password"}
    )
    assert bad.status == 401


async def test_login_rehashes_when_parameters_change(aiohttp_client, config, tmp_path) -> None:
    weak = argon2.profiles.CHEAPEST
    stronger = argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=2,
        memory_cost=16,
        parallelism=1,
    )
    client = await aiohttp_client(
        create_app(
            config.__class__(data_dir=config.data_dir, password_params=stronger), clock=FakeClock()
        )
    )
    svc = client.app[SERVICES]
    account_id = await svc.accounts.create(
        PHONE, Passwords(weak).hash(PASSWORD), svc.clock.now(), verified_at=None
    )
    before = (await svc.accounts.get(account_id)).password_hash
    assert "t=1" in before and svc.passwords.needs_rehash(before)
    resp = await client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert resp.status == 200
    after = (await svc.accounts.get(account_id)).password_hash
    assert after != before and "t=2" in after and not svc.passwords.needs_rehash(after)
    # The new hash still verifies, and signing in again does not rehash.
    assert (
        await client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    ).status == 200
    assert (await svc.accounts.get(account_id)).password_hash == after


def test_production_default_is_rfc9106_low_memory() -> None:
    from server.config import Config

    assert Config().password_params == argon2.profiles.RFC_9106_LOW_MEMORY


async def test_unicode_password_is_normalised(env: Env) -> None:
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    await env.client.post(
        "/api/v1/accounts", json={"accept_terms": TERMS, "phone": NEW, "password": composed}
    )
    await env.login(NEW, decomposed)


async def test_edit_profile(env: Env) -> None:
    await env.login()
    r = await env.client.patch("/api/v1/me", json={"email": "me@example.org", "display_name": "Me"})
    assert r.status == 200
    account = (await r.json())["account"]
    assert account["email"] == "me@example.org" and account["display_name"] == "Me"
    r = await env.client.patch("/api/v1/me", json={"email": "not an email"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_email"
    r = await env.client.patch("/api/v1/me", json={"email": None})
    assert (await r.json())["account"] == {**account, "email": None}


async def test_change_password_needs_current_and_ends_other_sessions(env: Env) -> None:
    other = env.browser()
    assert (
        await other.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    ).status == 200
    await env.login()
    r = await env.client.post(
        "/api/v1/me/password",
        json={"current_password": "wrong one!", "new_password": "new secret 42"},
    )
    assert r.status == 403 and (await r.json())["error"]["code"] == "wrong_password"
    r = await env.client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "password123"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "weak_password"
    r = await env.client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "new secret 42"}
    )
    assert r.status == 204
    assert (await env.client.get("/api/v1/me")).status == 200  # this session stays
    assert (await other.get("/api/v1/me")).status == 401  # the other one ended
    r = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert r.status == 401
    await env.login(PHONE, "new secret 42")


async def test_password_reset_by_sms_code_ends_every_session(env: Env) -> None:
    other = env.browser()
    assert (
        await other.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    ).status == 200
    r = await env.client.post("/api/v1/password-reset", json={"phone": "+1 555-010-0001"})
    assert r.status == 202
    code = await env.code_for(PHONE)
    assert "reset" in env.sms.to(PHONE)[-1].text
    r = await env.client.post(
        "/api/v1/password-reset/confirm",
        json={"phone": PHONE, "code": code, "password": "brand new secret"},
    )
    assert r.status == 200
    no_hash(await r.text())
    assert (await other.get("/api/v1/me")).status == 401
    assert (await env.client.get("/api/v1/me")).status == 200  # signed in afresh
    await env.login(PHONE, "brand new secret")
    # The code was single use.
    r = await env.client.post(
        "/api/v1/password-reset/confirm",
        json={"phone": PHONE, "code": code, "password": "another new secret"},
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_code"
    kinds = {
        e["kind"]
        for e in (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    }
    assert {"password_reset_requested", "password_reset", "login"} <= kinds


async def test_reset_does_not_reveal_existing_accounts(env: Env) -> None:
    known = await env.client.post("/api/v1/password-reset", json={"phone": PHONE})
    unknown = await env.client.post("/api/v1/password-reset", json={"phone": NEW})
    assert known.status == unknown.status == 202
    assert await known.json() == await unknown.json()
    a = await env.client.post(
        "/api/v1/password-reset/confirm",
        json={"phone": PHONE, "code": "000000", "password": "x new secret"},
    )
    b = await env.client.post(
        "/api/v1/password-reset/confirm",
        json={"phone": NEW, "code": "000000", "password": "x new secret"},
    )
    assert a.status == b.status == 400 and await a.json() == await b.json()
    await env.svc.background.drain()
    assert env.sms.to(NEW) == []  # nothing is sent to a number without an account


async def test_login_and_reset_share_timing_work(env: Env, monkeypatch) -> None:
    """Similar timing: the expensive step (argon2) runs once on every path."""
    calls: list[str] = []
    cls = argon2.PasswordHasher
    real_verify, real_hash = cls.verify, cls.hash

    def verify(self, h, p):  # type: ignore[no-untyped-def]
        calls.append("verify")
        return real_verify(self, h, p)

    def hash_(self, p, **kw):  # type: ignore[no-untyped-def]
        calls.append("hash")
        return real_hash(self, p, **kw)

    monkeypatch.setattr(cls, "verify", verify)
    monkeypatch.setattr(cls, "hash", hash_)
    for phone in (PHONE, NEW):
        calls.clear()
        await env.client.post("/api/v1/session", json={"phone": phone, "password": "not it at all"})
        assert calls == ["verify"]
        env.clock.advance(61)
        calls.clear()
        await env.client.post(
            "/api/v1/accounts",
            json={"accept_terms": TERMS, "phone": phone, "password": "some password 1"},
        )
        assert calls == ["hash"]
        env.clock.advance(61)
