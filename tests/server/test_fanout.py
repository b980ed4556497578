"""Live fan-out to browser tabs: frames written straight to the transports."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime

import aiohttp

from server.hub import ChangesHint
from server.storage.conversations import Inbound
from server.ws.fanout import text_frame
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_text_frame_uses_each_length_encoding_of_rfc_6455() -> None:
    # FIN + text opcode, no mask; 7-bit length up to 125, then 16-bit, then 64-bit.
    assert text_frame(b"x" * 125)[:2] == bytes([0x81, 125])
    assert text_frame(b"x" * 126)[:4] == bytes([0x81, 126]) + struct.pack("!H", 126)
    assert text_frame(b"x" * 65535)[:4] == bytes([0x81, 126]) + struct.pack("!H", 65535)
    assert text_frame(b"x" * 65536)[:10] == bytes([0x81, 127]) + struct.pack("!Q", 65536)
    assert text_frame(b"abc")[2:] == b"abc"


async def _subscribed_tab(env: Env) -> aiohttp.ClientWebSocketResponse:
    ws = await env.client.ws_connect("/api/v1/ws", max_msg_size=4 << 20)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await ws.receive()).data)["t"] != "device":
        pass
    return ws


async def test_tabs_get_small_and_large_frames_whole_and_in_order(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.login()
    tabs = [await _subscribed_tab(env) for _ in range(3)]
    sent: list[str] = []
    # One short message, then a batch whose change frame needs the 64-bit length.
    batches = [["hello"], [f"{n} " + "y" * 9_000 for n in range(10)], ["after the big one"]]
    for k, bodies in enumerate(batches):
        items = [
            Inbound(f"k{k}.{n}", line, "+15550100002", body, T) for n, body in enumerate(bodies)
        ]
        result = await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
        env.svc.hub.publish(env.account_id, ChangesHint(result.seq))
        sent += bodies
    sizes = []
    for ws in tabs:
        got: list[str] = []
        while len(got) < len(sent):
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            sizes.append(len(msg.data))
            frame = json.loads(msg.data)
            got += [m["body"] for m in frame.get("messages", [])]
        assert got == sent
        await ws.close()
    assert max(sizes) > 65535  # the 64-bit length was exercised
