"""What browsers are told about bridges (issue #13): the modem's state while connected,
with no stale signal once it stopped answering, and who paired a bridge in the security
log — over the real encrypted device link and real loopback HTTP."""

from __future__ import annotations

import asyncio

from protocol.messages import ModemInfo
from tests.server.conftest import Env
from tests.server.test_pairing import new_code, one_time, pair


async def devices(env: Env) -> list[dict]:
    return (await (await env.client.get("/api/v1/devices")).json())["devices"]


async def until_device(env: Env, check) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(300):
        [view] = await devices(env)
        if check(view):
            return view
        await asyncio.sleep(0.01)
    raise AssertionError(f"device view never matched: {view}")


async def test_device_views_carry_the_modem_state(env: Env) -> None:
    await env.login()
    [idle] = await devices(env)
    assert idle["online"] is False and idle.get("modem_state") is None

    bridge = await env.device()
    await bridge.send(ModemInfo(signal_dbm=-71, operator="Ferry Mobile", state="ready"))
    view = await until_device(env, lambda v: v.get("modem_state") == "ready")
    assert view["signal_dbm"] == -71 and view["operator"] == "Ferry Mobile"

    # The modem hangs: signal and network are unknown now, even if a bridge repeats them.
    await bridge.send(ModemInfo(signal_dbm=-71, operator="Ferry Mobile", state="not_responding"))
    view = await until_device(env, lambda v: v.get("modem_state") == "not_responding")
    assert view["online"] is True
    assert view.get("signal_dbm") is None and view.get("operator") is None
    await bridge.close()


async def test_a_paired_bridge_is_named_in_the_security_log(env: Env) -> None:
    await env.login()
    _, bridge = await pair(env, one_time(await new_code(env)), name="desk modem")
    events = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    added = next(e for e in events if e["kind"] == "device_added")
    assert added["user_agent"] == "Ferry bridge" and added["ip"] == "127.0.0.1"
    login = next(e for e in events if e["kind"] == "login")
    assert login["user_agent"] != "Ferry bridge"
    await bridge.close()
