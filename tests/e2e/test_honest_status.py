"""What the server is told is what happened: a modem that stops answering is reported at
once, a failed send says why in plain words (the modem's words one click away), and a
message the server cannot store is quarantined by the bridge while the rest flows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from device_bridge.gsm.errors import CmsError
from device_bridge.outcomes import explain
from tests.e2e.conftest import PHONE1, PHONE2, System, eventually, open_system
from tests.e2e.test_bridge_faults import faults, outgoing, server_messages

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def modem_state(system: System) -> str | None:
    conn = next(iter(system.svc.registry.all()), None)
    return None if conn is None or conn.modem is None else conn.modem.state


async def test_a_hung_modem_is_reported_within_seconds_and_recovers(tmp_path: Path) -> None:
    # Storage is polled only every minute: the state check alone must notice.
    async with open_system(
        tmp_path, command_timeout=1.0, status_interval=1.0, poll_interval=60.0
    ) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await eventually(lambda: modem_state(system) == "ready")
        conn = system.svc.registry.all()[0]
        assert conn.modem is not None and conn.modem.signal_dbm is not None
        await faults(system, hang=True)
        # One state check (1 s) plus one command timeout (1 s), with room for a busy CI.
        await eventually(lambda: modem_state(system) == "not_responding", timeout=8)
        assert conn.modem.signal_dbm is None and conn.modem.operator is None
        await faults(system, hang=False)
        await eventually(lambda: modem_state(system) == "ready", timeout=10)


async def test_a_refused_send_says_why_in_plain_words(tmp_path: Path) -> None:
    async with open_system(tmp_path, command_timeout=1.0, send_timeout=2.0) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        await faults(system, send_error=42)  # congestion
        message_id = await outgoing(system, "are you there?", "c1")

        async def failed() -> bool:
            return any(
                m.id == message_id and m.status == "failed" for m in await server_messages(system)
            )

        await eventually(failed)
        (message,) = [m for m in await server_messages(system) if m.id == message_id]
        assert message.error == explain(CmsError(42, command="AT+CMGS")).error
        assert "busy" in (message.error or "") and "AT+" not in (message.error or "")
        assert message.error_detail is not None and "+CMS ERROR: 42" in message.error_detail
        assert system.received_by(PHONE2) == []


async def test_a_message_the_server_refuses_is_quarantined_and_the_rest_flows(
    system: System,
) -> None:
    # An alphanumeric sender may carry any GSM-7 character, a line break included.
    system.emulator.network.send_text("BA\nNK", PHONE1, "your code is 1234")
    system.emulator.network.send_text(PHONE2, PHONE1, "and this one is fine")

    async def both_shown() -> bool:
        return len(await server_messages(system)) == 2

    await eventually(both_shown)
    placeholder, fine = sorted(await server_messages(system), key=lambda m: m.body)
    assert (placeholder.refused, placeholder.peer, placeholder.body) == (
        "bad_sender",
        "unknown",
        "",
    )
    assert fine.body == "and this one is fine" and fine.refused is None
    await eventually(lambda: system.bridge.journal.inbound_count() == 0)
    (kept,) = system.bridge.journal.quarantined()
    assert (kept.sender, kept.reason) == ("BA\nNK", "bad_sender")
    # Nothing is sent again: a reconnect uploads nothing more.
    await system.restart_server()
    await asyncio.wait_for(system.bridge.link.connected.wait(), 10)
    system.emulator.network.send_text(PHONE2, PHONE1, "after the restart")

    async def three() -> bool:
        return len(await server_messages(system)) == 3

    await eventually(three)
    await asyncio.sleep(0.5)
    assert len(await server_messages(system)) == 3
