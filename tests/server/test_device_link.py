"""The encrypted device link over real loopback websockets: bad frames, replays, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest

from protocol.codec import Codec
from protocol.link import generate_keypair
from protocol.messages import Ack, DeviceHello, Ping, Upload, Welcome
from tests.device_link import DeviceClient, Refused, connect, start
from tests.server.conftest import Env
from tests.server.test_sockets import sms


async def until(check: Callable[[], bool]) -> None:
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def stored(env: Env) -> list[str]:
    threads, _ = await env.svc.conversations.threads(env.account_id)
    return [t.last_message.body for t in threads if t.last_message is not None]


async def close_frame(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            return int(msg.data), msg.extra or ""
        assert msg.type == aiohttp.WSMsgType.BINARY, msg


async def upload(dev: DeviceClient, n: int, body: str) -> bytes:
    return dev.noise.encrypt(Codec.encode(Upload(items=[sms(n, body)])))


async def test_a_good_frame_goes_through(env: Env) -> None:
    dev = await env.device()
    await dev.ws.send_bytes(await upload(dev, 1, "fine"))
    assert await dev.recv() == Ack(upto=1)
    assert await stored(env) == ["fine"]


@pytest.mark.parametrize("mangle", ["flip", "truncate", "tag_only"])
async def test_tampered_or_truncated_frame_closes_the_link(env: Env, mangle: str) -> None:
    dev = await env.device()
    frame = bytearray(await upload(dev, 1, "evil"))
    if mangle == "flip":
        frame[5] ^= 0x01
    elif mangle == "truncate":
        frame = frame[:-1]
    else:
        frame = frame[-16:]
    await dev.ws.send_bytes(bytes(frame))
    assert await close_frame(dev.ws) == (1002, "decryption_failed")
    assert await stored(env) == []


async def test_replayed_frame_closes_the_link(env: Env) -> None:
    dev = await env.device()
    frame = await upload(dev, 1, "once")
    await dev.ws.send_bytes(frame)
    assert await dev.recv() == Ack(upto=1)
    await dev.ws.send_bytes(frame)
    assert await close_frame(dev.ws) == (1002, "decryption_failed")


async def test_reordered_frames_close_the_link(env: Env) -> None:
    dev = await env.device()
    first, second = await upload(dev, 1, "first"), await upload(dev, 2, "second")
    await dev.ws.send_bytes(second)
    assert await close_frame(dev.ws) == (1002, "decryption_failed")
    assert await stored(env) == []
    assert first != second


async def test_plaintext_after_the_handshake_closes_the_link(env: Env) -> None:
    dev = await env.device()
    await dev.ws.send_bytes(Codec.encode(Upload(items=[sms(1, "clear")])))
    assert await close_frame(dev.ws) == (1002, "decryption_failed")
    dev = await env.device()
    await dev.ws.send_str('{"t":"ping"}')
    assert (await close_frame(dev.ws))[0] == 1002


async def test_replayed_hello_cannot_take_over_the_live_connection(env: Env) -> None:
    ws, noise, hello = await start(
        env.client, "/api/v1/device", env.device_key, env.svc.server_public
    )
    msg = await ws.receive()
    Codec(Welcome).decode(noise.receive_handshake(msg.data))
    await ws.send_bytes(noise.encrypt(Codec.encode(Ping())))
    await until(lambda: env.svc.registry.get(env.device_id) is not None)
    live = env.svc.registry.get(env.device_id)
    assert live is not None
    # An eavesdropper replays message 1: the server answers (it cannot tell yet) ...
    replay = await env.client.ws_connect("/api/v1/device")
    await replay.send_bytes(hello)
    answer = await replay.receive()
    assert answer.type == aiohttp.WSMsgType.BINARY
    # ... but without a first transport frame the connection never becomes live, and
    # the handshake timeout ends it.
    assert env.svc.registry.get(env.device_id) is live
    assert (await close_frame(replay))[0] == 1008
    assert env.svc.registry.get(env.device_id) is live
    await ws.send_bytes(noise.encrypt(Codec.encode(Upload(items=[sms(1, "still here")]))))
    reply = await ws.receive()
    assert reply.type == aiohttp.WSMsgType.BINARY
    await ws.close()


async def test_oversize_or_garbage_handshake_is_refused(env: Env) -> None:
    ws = await env.client.ws_connect("/api/v1/device")
    await ws.send_bytes(b"\0" * 1025)
    assert await close_frame(ws) == (1002, "message_too_large")
    ws = await env.client.ws_connect("/api/v1/device")
    await ws.send_bytes(b"\1" * 200)
    assert await close_frame(ws) == (1002, "handshake_failed")


async def test_bridge_with_another_server_key_is_refused(env: Env) -> None:
    _, not_ours = generate_keypair()
    with pytest.raises(Refused) as info:
        await connect(env.client, env.device_key, not_ours)
    assert info.value.code == 1002


async def test_unauthenticated_sockets_per_address_are_capped(env: Env) -> None:
    limit = env.svc.config.max_unauthenticated_per_ip
    idle = [await env.client.ws_connect("/api/v1/device") for _ in range(limit)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await env.client.ws_connect("/api/v1/device")
    assert info.value.status == 429
    # A socket that goes away frees its slot; authenticated sockets hold none.
    await idle.pop().close()
    await until(lambda: sum(env.svc.unauthenticated.values()) == limit - 1)
    dev = await env.device()
    assert dev.welcome.device_id == env.device_id
    await until(lambda: env.svc.registry.get(env.device_id) is not None)
    assert sum(env.svc.unauthenticated.values()) == limit - 1
    for ws in idle:
        await ws.close()


async def test_hello_must_offer_a_version_we_speak(env: Env) -> None:
    with pytest.raises(Refused) as info:
        await env.device(hello=DeviceHello(versions=[99]))
    assert info.value.code == 1002
