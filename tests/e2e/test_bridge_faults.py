"""The bridge against every fault the emulator can inject, over real ptys, with the real
server: nothing is lost, nothing is sent twice, and the server's view ends right."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import PHONE1, PHONE2, System, eventually, open_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def faulty_system(tmp_path: Path, **options: Any):  # type: ignore[no-untyped-def]
    """The whole system with short modem timeouts and a 1 s storage poll."""
    return open_system(
        tmp_path, poll_interval=1.0, command_timeout=1.0, send_timeout=2.0, **options
    )


async def faults(system: System, **changes: object) -> None:
    """Change phone 1's faults through the emulator's control API."""
    url = f"{system.emulator.control_url}/phones/{PHONE1}/faults"
    async with aiohttp.ClientSession() as http, http.post(url, json=changes) as resp:
        assert resp.status == 200, await resp.text()


async def server_messages(system: System) -> list:
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None
    threads, _ = await system.svc.conversations.threads(account.id)
    found = []
    for thread in threads:
        msgs, _ = await system.svc.conversations.thread_messages(
            account.id, thread.id, before=None, limit=200
        )
        found += msgs
    return found


async def inbound_bodies(system: System) -> list[str]:
    return sorted(m.body for m in await server_messages(system) if m.direction == "in")


async def outgoing(system: System, text: str, client_id: str) -> int:
    """Queue ``text`` to phone 2 as the browser would; returns the message id."""
    svc = system.svc
    account = await svc.accounts.by_phone(PHONE1)
    assert account is not None
    line_id = (await svc.lines.for_account(account.id))[0].id
    message = await svc.conversations.create_outgoing(
        account.id, line_id, PHONE2, text, client_id, svc.clock.now()
    )
    svc.registry.wake_outbox(account.id)
    return message.id


async def status_of(system: System, message_id: int) -> str:
    return next(m.status for m in await server_messages(system) if m.id == message_id)


def sim_used(system: System) -> int:
    return sum(m.used for m in system.emulator.phone(PHONE1).modem.memories.values())


def from_phone2(system: System, *texts: str) -> None:
    for text in texts:
        system.emulator.network.send_text(PHONE2, PHONE1, text)


# ---------------------------------------------------------------- line faults


async def test_garbage_and_dropped_responses(tmp_path: Path) -> None:
    async with faulty_system(tmp_path) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await faults(system, garbage=True)
        from_phone2(system, "through the noise")
        reply = await outgoing(system, "noisy reply", "g1")
        await eventually(lambda: system.received_by(PHONE2) == ["noisy reply"], 10)
        await faults(system, garbage=False, drop_responses=2)
        from_phone2(system, "after a dropped answer")
        expected = ["after a dropped answer", "through the noise"]

        async def all_in() -> bool:
            return await inbound_bodies(system) == expected

        await eventually(all_in, 15)
        await eventually(lambda: sim_used(system) == 0, 10)

        async def delivered() -> bool:
            return await status_of(system, reply) == "delivered"

        await eventually(delivered, 10)
        assert system.received_by(PHONE2) == ["noisy reply"]


async def test_hung_modem_recovers_and_nothing_is_lost(tmp_path: Path) -> None:
    async with faulty_system(tmp_path) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        from_phone2(system, "before the hang")
        await eventually(lambda: sim_used(system) == 0, 10)
        await faults(system, hang=True)
        from_phone2(system, "during the hang 1", "during the hang 2")  # +CMTI never comes
        await eventually(lambda: not system.bridge.modem_ready.is_set(), 10)
        await faults(system, hang=False)
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        from_phone2(system, "after the hang")
        expected = sorted(
            ["before the hang", "during the hang 1", "during the hang 2", "after the hang"]
        )

        async def all_in() -> bool:
            return await inbound_bodies(system) == expected

        await eventually(all_in, 15)
        await eventually(lambda: sim_used(system) == 0, 10)
        await asyncio.sleep(1.5)  # another storage poll: still exactly once each
        assert await inbound_bodies(system) == expected


async def test_send_during_a_hang_is_never_duplicated(tmp_path: Path) -> None:
    async with faulty_system(tmp_path) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await faults(system, hang=True)
        message = await outgoing(system, "sent into a wedged modem", "h1")

        async def settled() -> bool:
            return await status_of(system, message) in ("failed", "unknown")

        await eventually(settled, 10)
        await faults(system, hang=False)
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await asyncio.sleep(1.5)
        assert system.received_by(PHONE2).count("sent into a wedged modem") <= 1
        assert await status_of(system, message) in ("failed", "unknown")


# ---------------------------------------------------------------- SIM PIN


async def test_locked_sim_without_pin_is_a_clear_error_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ferry.bridge")
    async with faulty_system(tmp_path, faults={"pin_locked": True}) as (system, _):

        def pin_errors() -> int:
            return sum("SIM PIN required" in r.getMessage() for r in caplog.records)

        await eventually(lambda: pin_errors() >= 3, 10)  # it keeps trying, with backoff
        assert not system.bridge.modem_ready.is_set()
        assert system.emulator.phone(PHONE1).modem.sim_locked  # no PIN was guessed
        assert all("1234" not in r.getMessage() for r in caplog.records)


async def test_locked_sim_with_the_pin_works(tmp_path: Path) -> None:
    async with faulty_system(tmp_path, pin="1234", faults={"pin_locked": True}) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        from_phone2(system, "unlocked")

        async def arrived() -> bool:
            return await inbound_bodies(system) == ["unlocked"]

        await eventually(arrived, 10)


# ---------------------------------------------------------------- sending and reports


async def test_slow_confirmation_is_never_sent_twice(tmp_path: Path) -> None:
    async with faulty_system(tmp_path) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await faults(system, send_delay=1.0)  # slow, but within the 2 s send timeout
        slow = await outgoing(system, "slow but confirmed", "s1")

        async def delivered() -> bool:
            return await status_of(system, slow) == "delivered"

        await eventually(delivered, 10)
        await faults(system, send_delay=3.0)  # confirmed only after the driver gave up
        late = await outgoing(system, "confirmed too late", "s2")
        await eventually(lambda: "confirmed too late" in system.received_by(PHONE2), 10)

        async def settled() -> bool:
            return await status_of(system, late) in ("delivered", "unknown")

        await eventually(settled, 10)
        await asyncio.sleep(1.5)
        assert system.received_by(PHONE2) == ["slow but confirmed", "confirmed too late"]
        assert await status_of(system, late) in ("delivered", "unknown")


async def test_failed_delivery_report_fails_the_message(tmp_path: Path) -> None:
    async with faulty_system(tmp_path, faults={"report_status": 0x46}) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        message = await outgoing(system, "to a phone that is gone", "f1")

        async def failed() -> bool:
            return await status_of(system, message) == "failed"

        await eventually(failed, 10)


async def test_temporary_report_then_delivered(tmp_path: Path) -> None:
    faults_on = {"report_trying": True, "report_delay": 0.5}
    async with faulty_system(tmp_path, faults=faults_on) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        message = await outgoing(system, "eventually delivered", "t1")

        async def sent() -> bool:
            return await status_of(system, message) == "sent"

        async def delivered() -> bool:
            return await status_of(system, message) == "delivered"

        await eventually(sent, 10)  # "still trying" keeps it sent, not failed
        await eventually(delivered, 10)


# ---------------------------------------------------------------- offline bridge


async def test_full_sim_while_offline_is_drained_once_started(tmp_path: Path) -> None:
    async with faulty_system(tmp_path, start=False) as (system, go):
        texts = [f"offline {n:02d}" for n in range(36)]  # the SIM holds 30
        from_phone2(system, *texts)
        assert sim_used(system) == 30
        go.set()

        async def all_in() -> bool:
            return await inbound_bodies(system) == texts

        await eventually(all_in, 20)
        await eventually(lambda: sim_used(system) == 0, 10)
