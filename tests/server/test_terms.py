"""The terms and privacy notice are versioned: sign-up accepts the current version (its
time recorded), and a new version asks every user again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from server.api.common import SERVICES
from server.app import create_app
from server.config import Config, ConfigError
from server.consent.terms import load_terms
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, TERMS, Env, origin_of

NEW = "+15550100044"


async def test_sign_up_needs_the_current_terms_and_records_when(env: Env) -> None:
    body = {"phone": NEW, "password": PASSWORD}
    resp = await env.client.post("/api/v1/accounts", json=body)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "terms_required"
    resp = await env.client.post("/api/v1/accounts", json={**body, "accept_terms": "2020-01-01"})
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "terms_changed" and "read the new version" in error["message"]
    assert await env.svc.accounts.by_phone(NEW) is None
    env.clock.advance(30)
    await env.signup(NEW)  # accepts TERMS
    status = await (await env.client.get("/api/v1/me/terms")).json()
    assert status == {
        "version": TERMS,
        "accepted_version": TERMS,
        "accepted_at": env.clock.now().isoformat().replace("+00:00", "Z"),
        "accepted": True,
        "must_accept": False,
    }


@pytest.mark.sqlite_only("acceptances are stored as in the test above")
async def test_a_new_version_is_asked_for_again(
    aiohttp_client, config: Config, clock: FakeClock, tmp_path: Path
) -> None:
    texts = tmp_path / "terms"
    texts.mkdir()
    (texts / "terms.md").write_text("# Terms v2\n")
    (texts / "privacy.md").write_text("# Privacy v2\n")
    first = await aiohttp_client(create_app(config, clock=clock))
    first.session.headers["Origin"] = origin_of(first)
    svc = first.app[SERVICES]
    password_hash = svc.passwords.hash(PASSWORD)
    account_id = await svc.accounts.create(PHONE, password_hash, clock.now(), verified_at=None)
    await svc.acceptances.accept(account_id, TERMS, clock.now())
    await first.close()
    clock.advance(86400)
    newer = replace(config, terms_version="2027-01", terms_dir=texts)
    client = await aiohttp_client(create_app(newer, clock=clock))
    client.session.headers["Origin"] = origin_of(client)
    resp = await client.post("/api/v1/session", json={"phone": PHONE, "password": PASSWORD})
    assert resp.status == 200
    status = await (await client.get("/api/v1/me/terms")).json()
    assert status["accepted"] is False and status["must_accept"] is True
    assert status["version"] == "2027-01"
    assert status["accepted_version"] == TERMS
    assert (await (await client.get("/api/v1/terms")).json())["terms"] == "# Terms v2\n"
    stale = await client.post("/api/v1/me/terms", json={"version": TERMS})
    assert stale.status == 409
    resp = await client.post("/api/v1/me/terms", json={"version": "2027-01"})
    assert resp.status == 200
    assert (await resp.json())["accepted"] is True
    events = await (await client.get("/api/v1/me/security-events")).json()
    assert events["events"][0]["kind"] == "terms_accepted"


def test_missing_terms_files_stop_the_server_with_a_sentence(tmp_path: Path) -> None:
    from server.services import _terms

    with pytest.raises(ConfigError, match=r"terms\.md"):
        _terms(Config(data_dir=tmp_path, terms_dir=tmp_path / "nowhere"))
    assert load_terms("x").version == "x"


@pytest.mark.sqlite_only("no storage of its own")
async def test_texts_are_served_and_an_account_that_never_accepted_is_not_stopped(
    env: Env,
) -> None:
    shown = await (await env.client.get("/api/v1/terms")).json()
    assert shown["version"] == TERMS
    assert shown["terms"].startswith("# Terms of use") and "STOP" in shown["terms"]
    assert shown["privacy"].startswith("# Privacy notice")
    # Made by an operator (or before versioned terms): shown as not accepted, not asked.
    await env.login()
    status = await (await env.client.get("/api/v1/me/terms")).json()
    assert status["accepted_version"] is None and status["accepted"] is False
    assert status["must_accept"] is False
