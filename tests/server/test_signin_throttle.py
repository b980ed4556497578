"""Sign-in throttling (issue #13): per account with growing delays that a success resets,
per address with a limit an office can live with, and always ``429`` with the real wait
in ``Retry-After`` — over real loopback HTTP, on the fake clock."""

from __future__ import annotations

from server.auth.throttle import Backoff, LoginThrottle, Throttle
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, Env

OTHER = "+15550100088"


async def sign_in(env: Env, phone: str = PHONE, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return await env.client.post("/api/v1/session", json={"phone": phone, "password": password})


async def wrong(env: Env, phone: str = PHONE) -> int:
    return (await sign_in(env, phone, "not the password")).status


async def test_a_few_typos_cost_nothing_then_delays_grow(env: Env) -> None:
    for _ in range(5):
        assert await wrong(env) == 401
    assert await wrong(env) == 401  # the sixth wrong try starts the first lock: 15 s
    r = await sign_in(env)
    assert r.status == 429 and r.headers["Retry-After"] == "15"
    assert (await r.json())["error"]["code"] == "rate_limited"
    env.clock.advance(10)
    r = await sign_in(env)
    assert r.status == 429 and r.headers["Retry-After"] == "5"  # the real wait, counting down
    env.clock.advance(5)
    assert await wrong(env) == 401  # seventh: 30 s
    assert (await sign_in(env)).headers["Retry-After"] == "30"
    env.clock.advance(30)
    assert await wrong(env) == 401  # eighth: 60 s
    assert (await sign_in(env)).headers["Retry-After"] == "60"


async def test_the_delay_is_capped_at_fifteen_minutes(env: Env) -> None:
    for _ in range(20):
        await wrong(env)
        env.clock.advance(15 * 60)
    assert await wrong(env) == 401
    r = await sign_in(env)
    assert r.status == 429 and r.headers["Retry-After"] == str(15 * 60)


async def test_a_try_while_locked_is_not_checked_and_not_counted(env: Env) -> None:
    for _ in range(6):
        await wrong(env)
    # Right password during the lock: refused without a look (no oracle for a guesser).
    assert (await sign_in(env)).status == 429
    assert (await sign_in(env, password="guess while locked")).status == 429
    env.clock.advance(15)
    # The refused tries did not lengthen anything: this one is simply checked.
    assert (await sign_in(env)).status == 200


async def test_a_success_resets_the_account(env: Env) -> None:
    for _ in range(6):
        await wrong(env)
    env.clock.advance(15)
    assert (await sign_in(env)).status == 200
    for _ in range(5):
        assert await wrong(env) == 401  # five free tries again
    assert (await sign_in(env)).status == 200


async def test_wrong_tries_on_one_account_do_not_lock_out_another_from_the_same_address(
    env: Env,
) -> None:
    now = env.clock.now()
    await env.svc.accounts.create(OTHER, env.svc.passwords.hash(PASSWORD), now, verified_at=now)
    for _ in range(10):
        await wrong(env)
    assert (await sign_in(env)).status == 429
    assert (await sign_in(env, OTHER)).status == 200


async def test_the_per_address_limit_is_high_but_exists(env: Env) -> None:
    # A hundred wrong tries from one address, each on a different number: none is locked
    # on its own, and the address still gets through until the hundredth.
    for i in range(99):
        assert await wrong(env, f"+1555011{i:04d}") == 401
    assert (await sign_in(env)).status == 200
    assert await wrong(env, "+15550119999") == 401
    r = await sign_in(env, OTHER)
    assert r.status == 429 and 0 < int(r.headers["Retry-After"]) <= 15 * 60
    env.clock.advance(15 * 60)
    assert (await sign_in(env)).status == 200


def test_backoff_forgets_a_quiet_key() -> None:
    clock = FakeClock()
    backoff = Backoff(clock, free=1, base=10, cap=100, forget=1000)
    backoff.failure("k")
    backoff.failure("k")
    assert backoff.retry_after("k") == 10
    clock.advance(999)
    backoff.failure("k")
    assert backoff.retry_after("k") == 20
    clock.advance(1000)
    backoff.failure("k")
    assert backoff.retry_after("k") == 0  # a day of quiet: the first failure is free again


def test_login_throttle_routes_keys_by_kind() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(Throttle(clock, limit=2, window=60), Backoff(clock, free=0, base=5))
    throttle.hit("ip:1", "acct:a")
    assert throttle.retry_after("acct:a") == 5
    assert throttle.retry_after("ip:1") == 0
    throttle.hit("ip:1", "acct:b")
    assert throttle.retry_after("ip:1") == 60
    throttle.reset("acct:a")
    assert throttle.retry_after("acct:a") == 0
