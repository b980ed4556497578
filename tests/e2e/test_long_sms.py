"""The longest SMS the network delivers (255 parts, GSM-7 and UCS-2) crosses the whole
system: emulator ─▶ real AT driver ─▶ journal ─▶ device link ─▶ server, byte for byte.
Before, anything over 10,000 characters made the server refuse the whole upload and the
bridge send it again forever, so nothing newer ever arrived."""

from __future__ import annotations

import pytest

from tests.device_bridge.test_long_messages import GSM_PATTERN, UCS2_PATTERN, inject, longest
from tests.e2e.conftest import PHONE1, PHONE2, System, eventually
from tests.e2e.test_bridge_faults import server_messages

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.mark.parametrize(
    ("pattern", "ref_bits"), [(GSM_PATTERN, 8), (UCS2_PATTERN, 16)], ids=["gsm7", "ucs2"]
)
async def test_a_255_part_sms_is_stored_whole_and_the_next_one_follows(
    system: System, pattern: str, ref_bits: int
) -> None:
    text = longest(pattern, ref_bits)
    await inject(system.emulator.control_url, text, ref_bits)
    system.emulator.network.send_text(PHONE2, PHONE1, "next")

    async def both() -> bool:
        return len(await server_messages(system)) == 2

    await eventually(both, timeout=120)
    stored = {m.body: m for m in await server_messages(system)}
    assert set(stored) == {text, "next"}
    assert stored[text].incomplete is False and stored[text].refused is None
