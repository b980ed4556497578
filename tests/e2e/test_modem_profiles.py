"""The bridge against every modem quirk profile: long messages both ways, delivery reports."""

from __future__ import annotations

import pytest

from device_bridge.emulator.profiles import PROFILES
from tests.e2e.conftest import PHONE1, PHONE2, System, eventually

# GSM-7 with extension characters (each costs two septets) over three parts, and UCS-2
# with emoji (surrogate pairs) over several parts: neither may be cut mid-character.
GSM_LONG = ("Prices: 5€ [promo] {code} ~tilde~ | pipe ^caret \\slash. " * 5).strip()
UCS2_LONG = ("Ünïcödé 🚀🎉 — привет мир, 你好世界! " * 6).strip()


@pytest.mark.parametrize("system", sorted(PROFILES), indirect=True)
async def test_profile_round_trip(system: System) -> None:
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None
    conv = system.svc.conversations

    for text in (GSM_LONG, UCS2_LONG):
        system.emulator.network.send_text(PHONE2, PHONE1, text)

    async def both_in() -> bool:
        threads, _ = await conv.threads(account.id)
        if not threads:
            return False
        msgs, _ = await conv.thread_messages(account.id, threads[0].id, before=None, limit=10)
        return sorted(m.body for m in msgs) == sorted([GSM_LONG, UCS2_LONG])

    await eventually(both_in, 15)

    line_id = (await system.svc.lines.for_account(account.id))[0].id
    for n, text in enumerate((GSM_LONG, UCS2_LONG)):
        now = system.svc.clock.now()
        await conv.create_outgoing(account.id, line_id, PHONE2, text, f"c{n}", now)
    system.svc.registry.wake_outbox(account.id)
    await eventually(lambda: system.received_by(PHONE2).count(GSM_LONG) == 1, 15)
    await eventually(lambda: system.received_by(PHONE2).count(UCS2_LONG) == 1, 15)

    async def all_delivered() -> bool:
        threads, _ = await conv.threads(account.id)
        msgs, _ = await conv.thread_messages(account.id, threads[0].id, before=None, limit=10)
        out = [m for m in msgs if m.direction == "out"]
        return len(out) == 2 and all(m.status == "delivered" for m in out)

    await eventually(all_delivered, 15)
    # Nothing sent twice, nothing left on the SIM.
    assert system.received_by(PHONE2).count(GSM_LONG) == 1
    modem = system.emulator.phone(PHONE1).modem
    assert sum(m.used for m in modem.memories.values()) == 0
