"""The device socket: a paired bridge uploads inbound SMS and sends outgoing ones.

Per connection::

    connect ─▶ DeviceHello (within handshake_timeout) ─▶ authenticate ─▶ Welcome
      ├─ reader: Upload ─▶ commit ─▶ Ack(upto) ─▶ hub hint
      │          SendStatus ─▶ commit ─▶ StatusAck ─▶ hub hint
      │          ModemInfo ─▶ remembered in memory ─▶ devices hint
      └─ outbox pump: woken by new sends; offers every unfinished outbox row once per
         connection (the bridge journals by outbox id, so a repeat never sends twice)

Acknowledge only after commit. A protocol violation closes the socket with a stable code;
nothing internal reaches the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from protocol.codec import Codec
from protocol.errors import MalformedMessage, ProtocolError
from protocol.messages import (
    MAX_UPLOAD_BATCH,
    Ack,
    DeviceHello,
    DeviceToServer,
    Error,
    InboundSms,
    ModemInfo,
    Ping,
    Pong,
    SendSms,
    SendStatus,
    StatusAck,
    Upload,
    Welcome,
    negotiate_version,
)
from server.api.common import services
from server.hub import ChangesHint
from server.log import device_logger
from server.services import Services
from server.storage.conversations import Inbound
from server.ws.registry import DeviceConnection

routes = web.RouteTableDef()


class _Closed(Exception):
    """The peer went away or must be dropped."""


@routes.get("/api/v1/device")
async def device_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    ws = web.WebSocketResponse(
        max_msg_size=svc.config.device_ws_max_bytes, heartbeat=30, compress=False
    )
    await ws.prepare(request)
    svc.sockets.add(ws)
    codec: Codec[DeviceToServer] = Codec(DeviceToServer, max_size=svc.config.device_ws_max_bytes)
    try:
        await _serve(svc, ws, codec, request.remote or "?")
    except _Closed:
        pass
    except ProtocolError as exc:
        device_logger.info("device from %s violated the protocol: %s", request.remote, exc.code)
        with contextlib.suppress(Exception):
            await ws.send_bytes(Codec.encode(Error(code=exc.code, message=str(exc)[:200])))
        await ws.close(code=WSCloseCode.PROTOCOL_ERROR)
    finally:
        if not ws.closed:
            await ws.close()
    return ws


async def _receive(ws: web.WebSocketResponse, codec: Codec[DeviceToServer]) -> DeviceToServer:
    msg = await ws.receive()
    if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
        return codec.decode(msg.data)
    if msg.type == WSMsgType.ERROR and ws.close_code == WSCloseCode.MESSAGE_TOO_BIG:
        raise _Closed()
    raise _Closed()


async def _serve(
    svc: Services, ws: web.WebSocketResponse, codec: Codec[DeviceToServer], remote: str
) -> None:
    try:
        hello = await asyncio.wait_for(_receive(ws, codec), svc.config.handshake_timeout)
    except TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"handshake timeout")
        raise _Closed() from None
    if not isinstance(hello, DeviceHello):
        raise MalformedMessage("expected hello")
    version = negotiate_version(hello.versions)
    device = await svc.devices.authenticate(hello.device_id, hello.secret)
    if device is None:
        device_logger.info("refused device credential from %s", remote)
        await ws.send_bytes(Codec.encode(Error(code="unauthorized", message="unknown device")))
        await ws.close(code=4401, message=b"unauthorized")
        raise _Closed()

    log = device_logger.getChild(str(device.id))
    send_lock = asyncio.Lock()

    async def send(message: msgspec.Struct) -> None:
        async with send_lock:
            await ws.send_bytes(Codec.encode(message))

    async def close() -> None:
        await ws.close(code=4409, message=b"replaced")

    conn = DeviceConnection(device=device, send=send, close=close, log=log)
    replaced = svc.registry.add(conn)
    if replaced is not None:
        await replaced.close()
    await svc.devices.touch(device.id, svc.clock.now())
    acked = await svc.conversations.acknowledged(device.id)
    await send(
        Welcome(version=version, device_id=device.id, lines=list(device.lines), acked_upto=acked)
    )
    svc.devices_changed(device.account_id)
    log.info("< connected from %s (protocol v%d)", remote, version)
    pump = asyncio.create_task(_outbox_pump(svc, conn), name=f"outbox-{device.id}")
    try:
        while True:
            await _handle(svc, conn, await _receive(ws, codec))
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        svc.registry.remove(conn)
        await svc.devices.touch(device.id, svc.clock.now())
        svc.devices_changed(device.account_id)
        log.info("> disconnected")


async def _handle(svc: Services, conn: DeviceConnection, message: DeviceToServer) -> None:
    account_id = conn.device.account_id
    match message:
        case Upload(items=items, repair=repair):
            if not items:
                return
            if len(items) > MAX_UPLOAD_BATCH:
                raise MalformedMessage("upload batch too large")
            batch = [_inbound(i, conn.device.lines) for i in items]
            result = await svc.conversations.ingest_inbound(
                account_id,
                conn.device.id,
                batch,
                svc.clock.now(),
                repair=repair,
                upto=max(i.n for i in items),
            )
            # A code SMS reaching this account's own SIM proves the number (see
            # server.auth.verification); done before the acknowledgement.
            await svc.verification.auto_verify(account_id, (i.body for i in batch))
            if result.conflicts:
                conn.log.warning(
                    "%d upload item(s) conflict with stored messages", len(result.conflicts)
                )
            clashing = set(result.conflicts)
            await conn.send(
                Ack(
                    upto=max(i.n for i in items),
                    conflicts=[i.n for i in items if i.key in clashing],
                )
            )
            if result.added or result.completed:
                svc.hub.publish(
                    account_id, ChangesHint(await svc.conversations.current_seq(account_id))
                )
        case SendStatus(outbox_id=oid, status=status, error=error):
            async with conn.outbox_lock:
                changed = await svc.conversations.apply_send_status(account_id, oid, status, error)
                conn.log.debug("< outbox %d %s%s", oid, status, "" if changed else " (no change)")
                await conn.send(StatusAck(outbox_id=oid, status=status))
            if changed:
                seq = await svc.conversations.current_seq(account_id)
                svc.hub.publish(account_id, ChangesHint(seq))
        case ModemInfo():
            conn.modem = message
            svc.devices_changed(account_id)
        case Ping():
            await conn.send(Pong())
        case DeviceHello():
            raise MalformedMessage("hello sent twice")


def _inbound(item: InboundSms, lines: dict[str, int]) -> Inbound:
    if len(item.sender) > 32 or len(item.key) > 100 or len(item.body) > 10_000:
        raise MalformedMessage("upload item field too long")
    try:
        sent_at = datetime.fromisoformat(item.sent_at)
    except ValueError:
        raise MalformedMessage("sent_at is not an ISO 8601 time") from None
    if sent_at.tzinfo is None:
        raise MalformedMessage("sent_at has no time zone")
    if not lines:
        raise MalformedMessage("this device serves no line")
    # An unknown or absent line number lands on the bridge's first line: the SMS was
    # received by this bridge, and keeping it beats refusing it forever.
    line_id = lines.get(item.line or "", next(iter(lines.values())))
    return Inbound(
        key=item.key,
        line_id=line_id,
        sender=item.sender,
        body=item.body,
        sent_at=sent_at,
        incomplete=item.incomplete,
    )


async def _outbox_pump(svc: Services, conn: DeviceConnection) -> None:
    offered: set[int] = set()
    conn.outbox_wakeup.set()
    while True:
        await conn.outbox_wakeup.wait()
        conn.outbox_wakeup.clear()
        pending = await svc.conversations.outbox_for_dispatch(
            conn.device.account_id, conn.device.lines.values()
        )
        for item in pending:
            if item.id in offered:
                continue
            async with conn.outbox_lock:
                if not await svc.conversations.claim_for_dispatch(
                    item.id, conn.device.id, svc.clock.now()
                ):
                    continue  # confirmed by the bridge since the list was read
                await conn.send(
                    SendSms(outbox_id=item.id, to=item.recipient, body=item.body, line=item.line)
                )
            conn.log.debug("> offer outbox %d", item.id)
            offered.add(item.id)
