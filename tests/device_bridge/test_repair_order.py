"""A repair goes out whole before any live upload: a live upload between its frames
would raise the server's acknowledged mark past the rest of the repair, and a reconnect
then would never send that rest again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import msgspec

from device_bridge.bridge import UPLOAD_BATCH, UPLOADS_IN_FLIGHT, Bridge
from device_bridge.journal import Journal
from protocol.messages import Upload, Welcome

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class RecordingLink:
    """The bridge's link as far as the uploader sees it: connected, taking every frame."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.frames: list[tuple[str, int, int]] = []

    async def send(self, message: msgspec.Struct) -> bool:
        await asyncio.sleep(0)  # a real send yields to the loop
        if isinstance(message, Upload):
            kind = "repair" if message.repair else "live"
            self.frames.append((kind, message.items[0].n, message.items[-1].n))
        return True


async def test_the_repair_is_sent_whole_before_any_live_upload(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    for i in range(250):
        journal.add_inbound(f"old{i}", "+15550100002", "old", T0)
    journal.ack_inbound(250, datetime.now(UTC))  # the server acknowledged 1…250 lately
    for i in range(900):
        journal.add_inbound(f"new{i}", "+15550100002", "new", T0)  # a backlog 251…1150
    with mock.patch("device_bridge.bridge.Link"):
        bridge = Bridge(mock.Mock(), journal, mock.Mock())
    link = RecordingLink()
    bridge.link = link  # type: ignore[assignment]
    link.connected.set()
    # The link dropped with a full window of uploads in flight: the uploader waits.
    bridge._sent_upto, bridge._acked_upto = 250 + UPLOAD_BATCH * UPLOADS_IN_FLIGHT, 250
    bridge._upload_wakeup.set()
    uploader = asyncio.create_task(bridge._uploader())
    try:
        await asyncio.sleep(0.05)
        # It reconnects to a server restored from a backup that remembers no acks.
        await bridge._on_connect(Welcome(version=1, device_id=1, lines=[], acked_upto=0))
        for _ in range(200):
            if link.frames and link.frames[-1][0] == "live":
                break
            await asyncio.sleep(0.01)
    finally:
        uploader.cancel()
    kinds = [kind for kind, _, _ in link.frames]
    first_live = kinds.index("live")
    assert set(kinds[:first_live]) == {"repair"} and "repair" not in kinds[first_live:]
    repaired = [(a, b) for kind, a, b in link.frames if kind == "repair"]
    assert repaired[0][0] == 1 and repaired[-1][1] == 250  # all of it
    journal.close()
