"""argon2id runs off the event loop: a sign-in being checked never stalls other requests,
and when every worker is busy and the waiting line is full, a sign-in is refused at once
with 503 ``server_busy`` and ``Retry-After`` instead of queueing behind minutes of work."""

from __future__ import annotations

import asyncio
import threading

import argon2
import pytest

from server.auth.passwords import Passwords, PasswordsBusy
from tests.server.conftest import PASSWORD, PHONE, Env


class Gate:
    """A password check that blocks its thread until released (or a safety timeout)."""

    def __init__(self, passwords: Passwords) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self._real = passwords.verify

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.entered.release()
        # The safety timeout only matters when the check ran on the loop (the old code):
        # nothing else could release it, and the test must fail rather than hang.
        self.release.wait(timeout=5)
        return self._real(stored_hash, password)


def gated(env: Env, monkeypatch: pytest.MonkeyPatch, *, workers: int, waiting: int) -> Gate:
    passwords = Passwords(argon2.profiles.CHEAPEST, workers=workers, waiting=waiting)
    env.svc.passwords = passwords
    gate = Gate(passwords)
    monkeypatch.setattr(passwords, "verify", gate.verify)
    return gate


async def wait_entered(gate: Gate, n: int) -> None:
    for _ in range(n):
        assert await asyncio.to_thread(gate.entered.acquire, True, 5), "check never started"


async def sign_in(env: Env, password: str = PASSWORD) -> int:
    resp = await env.client.post("/api/v1/session", json={"phone": PHONE, "password": password})
    return resp.status


async def test_other_requests_are_served_while_a_password_is_checked(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gated(env, monkeypatch, workers=1, waiting=4)
    signing_in = asyncio.create_task(sign_in(env))
    await wait_entered(gate, 1)
    resp = await env.client.get("/healthz")
    # Served while the check is still blocked in its thread: the loop was free.
    assert resp.status == 200
    assert not gate.release.is_set()
    assert not signing_in.done()
    gate.release.set()
    assert await signing_in == 200


async def test_saturated_pool_refuses_at_once_and_recovers(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gated(env, monkeypatch, workers=1, waiting=1)
    # Two numbers: sign-ins of one number are already checked one at a time.
    other = "+15550100123"
    await env.svc.accounts.create(
        other, env.svc.passwords.hash(PASSWORD), env.clock.now(), verified_at=env.clock.now()
    )
    first = asyncio.create_task(sign_in(env))
    await wait_entered(gate, 1)
    second = asyncio.create_task(
        env.client.post("/api/v1/session", json={"phone": other, "password": "wrong one"})
    )
    for _ in range(100):  # until the second waits for the one worker
        if env.svc.passwords.in_flight == 2:
            break
        await asyncio.sleep(0.01)
    assert env.svc.passwords.in_flight == 2
    resp = await env.client.post(
        "/api/v1/session", json={"phone": "+15550100124", "password": "x" * 9}
    )
    assert resp.status == 503
    body = await resp.json()
    assert body["error"]["code"] == "server_busy"
    assert "try again" in body["error"]["message"]
    assert int(resp.headers["Retry-After"]) >= 1
    gate.release.set()
    assert await first == 200
    assert (await second).status == 401
    assert env.svc.passwords.in_flight == 0
    # Capacity is back: the next sign-in is checked normally.
    assert await sign_in(env) == 200


async def test_sign_up_hash_is_refused_when_saturated_not_queued() -> None:
    passwords = Passwords(argon2.profiles.CHEAPEST, workers=1, waiting=0)
    release = threading.Event()
    real = passwords.hash

    def slow_hash(password: str) -> str:
        release.wait(timeout=5)
        return real(password)

    passwords.hash = slow_hash  # type: ignore[method-assign]
    running = asyncio.create_task(passwords.hash_off_loop("correct horse battery"))
    await asyncio.sleep(0)
    with pytest.raises(PasswordsBusy):
        await passwords.hash_off_loop("another password")
    release.set()
    stored = await running
    assert await passwords.verify_off_loop(stored, "correct horse battery")
    passwords.close()
