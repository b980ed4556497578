"""Parallel sign-in guesses for one number are checked one at a time, so the throttle
counts each failure before the next guess is looked at (40 at once all passed before)."""

from __future__ import annotations

import asyncio

from tests.server.conftest import PHONE, Env


async def test_parallel_wrong_passwords_meet_the_throttle(env: Env) -> None:
    async def guess(n: int) -> int:
        resp = await env.client.post(
            "/api/v1/session", json={"phone": PHONE, "password": f"wrong guess {n}"}
        )
        return resp.status

    statuses = await asyncio.gather(*(guess(n) for n in range(40)))
    checked = statuses.count(401)
    # The free tries, then every further guess waits out a lock it cannot skip.
    assert 1 <= checked <= 6, statuses
    assert statuses.count(429) == 40 - checked
