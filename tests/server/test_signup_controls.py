"""Sign-up that cannot be used to make the operator's SIM text strangers: FERRY_SIGNUP
(open, invite, closed), the country allow-list, the hourly budget of verification texts
(held across nodes through Redis), and what ``ferry admin`` shows of them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import argon2
import pytest
from aiohttp.test_utils import TestClient

from server.api.common import SERVICES
from server.app import create_app
from server.auth.signup import invite_hash, normalise_invite
from server.cli import main
from server.clock import SystemClock
from server.config import Config, ConfigError
from server.services import Services
from tests.e2e.conftest import eventually
from tests.fakes.clock import FakeClock
from tests.fakes.sms import FakeSms
from tests.server.conftest import PASSWORD, TERMS, origin_of
from tests.shared_redis import REDIS_URL, redis_prefix

ONE_DAY = timedelta(days=1)
FR = "+33612345678"
DE = "+4915112345678"


async def server(aiohttp_client: Any, config: Config, clock: FakeClock | None = None) -> TestClient:
    client = await aiohttp_client(create_app(config, clock=clock))
    client.session.headers["Origin"] = origin_of(client)
    client.app[SERVICES].verification.gateway = FakeSms()
    return client


def svc(client: TestClient) -> Services:
    return client.app[SERVICES]


async def admin(argv: list[str]) -> int:
    """``ferry …`` in-process (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(main, argv)


async def signup(client: TestClient, phone: str, **extra: object) -> tuple[int, dict]:
    body = {"phone": phone, "password": PASSWORD, "accept_terms": TERMS, **extra}
    resp = await client.post("/api/v1/accounts", json=body)
    return resp.status, await resp.json()


async def texts(client: TestClient) -> list[str]:
    await svc(client).background.drain()
    gateway = svc(client).verification.gateway
    assert isinstance(gateway, FakeSms)
    return [s.to for s in gateway.sent]


@pytest.mark.sqlite_only("no storage of its own")
async def test_closed_sign_up_texts_nobody(aiohttp_client, config: Config) -> None:
    client = await server(aiohttp_client, replace(config, signup="closed"))
    status, body = await signup(client, FR)
    assert status == 403 and body["error"]["code"] == "signup_closed"
    assert "does not take new sign-ups" in body["error"]["message"]
    assert await texts(client) == [] and await svc(client).accounts.by_phone(FR) is None
    rules = await (await client.get("/api/v1/signup")).json()
    assert rules == {"mode": "closed", "countries": [], "terms_version": TERMS}


async def test_invite_codes_are_single_use_and_revocable(
    aiohttp_client, config: Config, clock: FakeClock
) -> None:
    client = await server(aiohttp_client, replace(config, signup="invite"), clock)
    status, body = await signup(client, FR)
    assert status == 403 and body["error"]["code"] == "invite_required"
    status, body = await signup(client, FR, invite="AAAA-BBBB-CCCC-DDDD-EEEE")
    assert status == 403 and body["error"]["code"] == "invite_invalid"
    assert await texts(client) == []
    store = svc(client).invites
    good, revoked = "ABCD-EFGH-JKMN-PQRS-TVWX", "0000-1111-2222-3333-4444"
    for code in (good, revoked):
        await store.create(
            invite_hash(normalise_invite(code) or ""), code[:4], clock.now(), ONE_DAY
        )
    (revoked_row, _good) = await store.all()
    assert await store.revoke(revoked_row.id, clock.now())
    status, body = await signup(client, FR, invite=revoked)
    assert status == 403 and body["error"]["code"] == "invite_invalid"
    # Typed in lower case with look-alikes, it is still the code.
    status, _ = await signup(client, FR, invite="abcd efgh jkmn pqrs tvwx")
    assert status == 202 and await texts(client) == [FR]
    account = await svc(client).accounts.by_phone(FR)
    assert account is not None
    (_, used) = await store.all()  # newest first
    assert used.used_at == clock.now() and used.state(clock.now()) == "used"
    status, body = await signup(client, DE, invite=good)
    assert status == 403 and body["error"]["code"] == "invite_invalid"


@pytest.mark.sqlite_only("no storage of its own")
async def test_numbers_of_other_countries_cannot_sign_up(aiohttp_client, config: Config) -> None:
    client = await server(aiohttp_client, replace(config, signup_countries=("FR",)))
    status, body = await signup(client, DE)
    assert status == 403 and body["error"]["code"] == "country_not_allowed"
    assert "this country" in body["error"]["message"]
    assert (await signup(client, FR))[0] == 202
    assert await texts(client) == [FR]


@pytest.mark.sqlite_only("no storage of its own")
async def test_the_hourly_budget_of_verification_texts(
    aiohttp_client,
    config: Config,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await server(aiohttp_client, replace(config, verify_sms_per_hour=2), clock)
    assert (await signup(client, FR))[0] == 202
    reset = await client.post("/api/v1/password-reset", json={"phone": DE})
    assert reset.status == 202  # a reset request spends the budget as a sign-up does
    resp = await client.post(
        "/api/v1/accounts",
        json={"phone": "+33612345679", "password": PASSWORD, "accept_terms": TERMS},
    )
    body = await resp.json()
    assert resp.status == 429 and body["error"]["code"] == "sms_budget_spent"
    assert body["error"]["message"].startswith("Ferry has sent all the verification texts")
    assert 0 < int(resp.headers["Retry-After"]) <= 3600
    assert await texts(client) == [FR]
    # One node, no Redis: the operator still sees what was spent (the database's record).
    monkeypatch.setenv("FERRY_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("FERRY_VERIFY_SMS_PER_HOUR", "2")
    monkeypatch.setattr(SystemClock, "now", lambda self: clock.now())
    assert await admin(["admin", "signup", "status"]) == 0
    assert "at most 2 an hour (FERRY_VERIFY_SMS_PER_HOUR); 2 spent" in capsys.readouterr().out
    clock.advance(3601)
    assert (await signup(client, "+33612345679"))[0] == 202


async def test_the_budget_holds_across_nodes_and_admin_shows_it(
    aiohttp_client, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    async with redis_prefix() as prefix:
        config = Config(
            data_dir=tmp_path / "var",
            password_params=argon2.profiles.CHEAPEST,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            verify_sms_per_hour=2,
            signup_countries=("FR", "DE"),
        )
        a = await server(aiohttp_client, config)
        b = await server(aiohttp_client, config)
        await eventually(lambda: svc(a).hub.live and svc(b).hub.live, timeout=10)
        assert (await signup(a, FR))[0] == 202
        assert (await signup(b, DE))[0] == 202
        status, body = await signup(a, "+33612345679")
        assert status == 429 and body["error"]["code"] == "sms_budget_spent"
        for name, value in {
            "FERRY_DATA_DIR": str(config.data_dir),
            "FERRY_REDIS_URL": REDIS_URL,
            "FERRY_REDIS_PREFIX": prefix,
            "FERRY_VERIFY_SMS_PER_HOUR": "2",
            "FERRY_SIGNUP": "invite",
            "FERRY_SIGNUP_COUNTRIES": "fr, de",
        }.items():
            monkeypatch.setenv(name, value)
        assert await admin(["admin", "invite", "create", "--note", "for Ann"]) == 0
        made = capsys.readouterr().out
        code = made.split(": ", 1)[1].split()[0]
        assert normalise_invite(code) is not None and "not shown again" in made
        assert await admin(["admin", "signup", "status"]) == 0
        status_out = capsys.readouterr().out
        assert "invite (FERRY_SIGNUP)" in status_out and "FR, DE" in status_out
        assert "(FERRY_VERIFY_SMS_PER_HOUR); 2 spent in the last hour, all nodes" in status_out
        assert "1 active" in status_out
        assert await admin(["admin", "invite", "list"]) == 0
        listed = capsys.readouterr().out
        assert code[:4] in listed and "active" in listed and "for Ann" in listed
        assert code not in listed  # shown once, never again
        invite_id = listed.split()[0]
        assert await admin(["admin", "invite", "revoke", invite_id]) == 0
        assert await admin(["admin", "invite", "revoke", invite_id]) == 1
        assert await admin(["admin", "invite", "list"]) == 0
        assert "revoked" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"FERRY_SIGNUP": "maybe"}, "FERRY_SIGNUP must be one of open, invite, closed"),
        ({"FERRY_SIGNUP_COUNTRIES": "GB,XX"}, "XX is not a country code"),
        ({"FERRY_VERIFY_SMS_PER_HOUR": "0"}, "FERRY_VERIFY_SMS_PER_HOUR must be 1 to"),
        ({"FERRY_TERMS_VERSION": "v 1"}, "FERRY_TERMS_VERSION must be"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Config.from_env(env)
