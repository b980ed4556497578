"""The device socket: a paired bridge uploads inbound SMS and sends outgoing ones.

Every connection is a Noise session (:mod:`protocol.link`); each websocket frame is one
binary Noise message. Per connection::

    address over its limit of unauthenticated sockets ─▶ 429 before the upgrade
    connect ─▶ handshake, all within handshake_timeout:
        message 1 (≤ 1024 bytes, checked before any crypto) ─▶ the bridge's static key +
            DeviceHello ─▶ known key: that device
                         ─▶ unknown key + valid pairing code: register it, use the code up
                         ─▶ otherwise: close with a LinkClose code, no detail
        message 2 carries Welcome
        first transport frame from the bridge ─▶ only now is the connection live (a
            replayed message 1 proves nothing about freshness; see protocol.link)
      ├─ reader: Upload ─▶ checked ─▶ ingester (server.ws.ingest): group commit ─▶
      │            Ack(upto) ─▶ hub hint
      │          SendStatus ─▶ commit ─▶ StatusAck ─▶ hub hint
      │          ModemInfo ─▶ remembered in memory ─▶ devices hint
      └─ outbox pump: woken by new sends; offers every unfinished outbox row once per
         connection (the bridge journals by outbox id, so a repeat never sends twice)

Acknowledge only after commit. A tampered, replayed, reordered or truncated frame fails
decryption and closes the socket (1002); a malformed message inside a good frame gets an
encrypted Error first. Nothing internal reaches the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import unicodedata
from collections import Counter
from datetime import datetime
from typing import NoReturn

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from protocol.codec import Codec
from protocol.errors import MalformedMessage, ProtocolError
from protocol.link import DEFAULT_MAX_HANDSHAKE, LinkResponder, LinkState
from protocol.messages import (
    MAX_CONTACTS,
    MAX_UPLOAD_BATCH,
    Contacts,
    ContactsAck,
    DeviceHello,
    DeviceToServer,
    Error,
    InboundSms,
    LinkClose,
    ModemInfo,
    Ping,
    Pong,
    SendSms,
    SendStatus,
    StatusAck,
    Upload,
    Welcome,
    check_attachments,
    negotiate_version,
)
from protocol.noise import TAGLEN
from protocol.pairing import InvalidPairingCode, normalize_code
from server.api.common import require_websocket, services
from server.auth.web import client_ip
from server.errors import RateLimited
from server.hub import ChangesHint
from server.log import device_logger
from server.services import Services
from server.storage.conversations import Inbound
from server.storage.devices import MAX_NAME, Device
from server.storage.pairing import Paired, Refusal
from server.ws.ingest import Ingester, Pending
from server.ws.registry import DeviceConnection

routes = web.RouteTableDef()

#: Seconds between outbox re-scans of a connected bridge (besides wake-ups on new sends).
_RESCAN = 30.0

# Replaced connections being closed in the background (referenced until done).
_closing: set[asyncio.Task[None]] = set()


class _Closed(Exception):
    """The peer went away or must be dropped."""


class _Unauthenticated:
    """Counts one socket against its address's limit until :meth:`release` (idempotent)."""

    def __init__(self, counter: Counter[str], remote: str) -> None:
        self._counter = counter
        self._remote = remote
        counter[remote] += 1
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._counter[self._remote] -= 1
            if self._counter[self._remote] <= 0:
                del self._counter[self._remote]


class _Channel:
    """Typed messages in and out of one established Noise session."""

    def __init__(
        self, ws: web.WebSocketResponse, session: LinkResponder, codec: Codec[DeviceToServer]
    ) -> None:
        self.ws = ws
        self.session = session
        self._codec = codec
        self._lock = asyncio.Lock()

    async def receive(self) -> DeviceToServer:
        return self._codec.decode(self.session.decrypt(await _binary(self.ws)))

    async def send(self, message: msgspec.Struct) -> None:
        # Encrypt under the lock: frames must leave in nonce order.
        async with self._lock:
            await self.ws.send_bytes(self.session.encrypt(Codec.encode(message)))


@routes.get("/api/v1/device")
async def device_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    require_websocket(request)
    remote = client_ip(request)
    if svc.unauthenticated[remote] >= svc.config.max_unauthenticated_per_ip:
        device_logger.info("too many unauthenticated device sockets from %s", remote)
        raise RateLimited(5, "Too many connections from this address.")
    gate = _Unauthenticated(svc.unauthenticated, remote)
    ws = web.WebSocketResponse(
        max_msg_size=svc.config.device_ws_max_bytes + TAGLEN, heartbeat=30, compress=False
    )
    try:
        await ws.prepare(request)
        svc.sockets.add(ws)
        await _serve(svc, ws, remote, gate)
    except (_Closed, ConnectionError):
        pass  # the peer went away (a send on a closing socket raises ConnectionResetError)
    finally:
        gate.release()
        if not ws.closed:
            await ws.close()
    return ws


async def _binary(ws: web.WebSocketResponse) -> bytes:
    msg = await ws.receive()
    if msg.type == WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type == WSMsgType.TEXT:
        raise MalformedMessage("text frame on the encrypted device link")
    raise _Closed()


async def _serve(
    svc: Services, ws: web.WebSocketResponse, remote: str, gate: _Unauthenticated
) -> None:
    codec: Codec[DeviceToServer] = Codec(DeviceToServer, max_size=svc.config.device_ws_max_bytes)
    session = LinkResponder(
        svc.server_key,
        max_handshake=DEFAULT_MAX_HANDSHAKE,
        max_frame=svc.config.device_ws_max_bytes + TAGLEN,
    )
    channel = _Channel(ws, session, codec)
    try:
        try:
            async with asyncio.timeout(svc.config.handshake_timeout):
                device, version = await _handshake(svc, channel, remote)
                first = await channel.receive()
        except TimeoutError:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"handshake timeout")
            raise _Closed() from None
        gate.release()
        await _run(svc, channel, device, version, remote, first)
    except ProtocolError as exc:
        device_logger.info("device link from %s violated the protocol: %s", remote, exc.code)
        if session.state is LinkState.ESTABLISHED:
            with contextlib.suppress(Exception):
                await channel.send(Error(code=exc.code))
        await ws.close(code=WSCloseCode.PROTOCOL_ERROR, message=exc.code.encode())


async def _handshake(svc: Services, channel: _Channel, remote: str) -> tuple[Device, int]:
    """Read message 1, decide who the bridge is, answer with message 2 (Welcome)."""
    key, payload = channel.session.receive_hello(await _binary(channel.ws))
    hello: DeviceHello = Codec(DeviceHello, max_size=DEFAULT_MAX_HANDSHAKE).decode(payload)
    version = negotiate_version(hello.versions)
    device = await svc.devices.by_public_key(key)
    if device is None:
        device = await _pair(svc, channel.ws, key, hello, remote)
    acked = await svc.conversations.acknowledged(device.id)
    welcome = Welcome(
        version=version, device_id=device.id, lines=list(device.lines), acked_upto=acked
    )
    await channel.ws.send_bytes(channel.session.accept(Codec.encode(welcome)))
    return device, version


async def _pair(
    svc: Services, ws: web.WebSocketResponse, key: bytes, hello: DeviceHello, remote: str
) -> Device:
    """Register an unknown key with the hello's pairing code, or close the socket."""
    if hello.pairing_code is None:
        device_logger.info("refused an unknown device key from %s", remote)
        await _refuse(ws, LinkClose.UNAUTHORIZED)
    throttle_key = f"ip:{remote}"
    if svc.pairing_throttle.retry_after(throttle_key):
        await _refuse(ws, LinkClose.RATE_LIMITED)
    try:
        code = normalize_code(hello.pairing_code or "")
    except InvalidPairingCode:
        code = "?"
    result = await svc.pairing.redeem(
        code, key, _clean_name(hello.name), svc.clock.now(), max_devices=svc.config.max_devices
    )
    if isinstance(result, Paired):
        device_logger.info("device %d paired from %s", result.device_id, remote)
        await svc.events.record(result.account_id, "device_added", svc.clock.now(), ip=remote)
        svc.pairing_throttle.reset(throttle_key)
        svc.devices_changed(result.account_id)
        device = await svc.devices.by_public_key(key)
        assert device is not None
        return device
    device_logger.info("refused pairing from %s: %s", remote, result.value)
    if result is Refusal.BAD_CODE:
        svc.pairing_throttle.failure(throttle_key)
        await _refuse(ws, LinkClose.PAIRING_FAILED)
    if result is Refusal.DEVICE_LIMIT:
        await _refuse(ws, LinkClose.DEVICE_LIMIT)
    await _refuse(ws, LinkClose.UNAUTHORIZED)  # a revoked key, never registered again


async def _refuse(ws: web.WebSocketResponse, code: LinkClose) -> NoReturn:
    await ws.close(code=int(code), message=code.name.lower().encode())
    raise _Closed()


def _clean_name(name: str) -> str:
    printable = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ")
    return " ".join(printable.split())[:MAX_NAME] or "bridge"


async def _run(
    svc: Services,
    channel: _Channel,
    device: Device,
    version: int,
    remote: str,
    first: DeviceToServer,
) -> None:
    ws = channel.ws
    log = device_logger.getChild(str(device.id))

    async def close(code: LinkClose) -> None:
        await ws.close(code=int(code), message=code.name.lower().encode())

    conn = DeviceConnection(device=device, send=channel.send, close=close, log=log)
    replaced = svc.registry.add(conn)
    if replaced is not None:
        # Closing waits for the old peer's close frame, which a dead bridge never sends:
        # do it aside so the new connection is served at once.
        _closing.add(task := asyncio.create_task(replaced.close(LinkClose.REPLACED)))
        task.add_done_callback(_closing.discard)
    pump: asyncio.Task[None] | None = None
    ingester = Ingester(svc, conn, ws)
    storing = asyncio.create_task(ingester.run(), name=f"ingest-{device.id}")
    try:
        # Revoked between message 1 and now: the revocation found no live socket to close.
        if await svc.devices.is_revoked(device.id):
            await close(LinkClose.REVOKED)
            raise _Closed()
        await _touch(svc, device.id)
        svc.devices_changed(device.account_id)
        log.info("< connected from %s (protocol v%d)", remote, version)
        pump = asyncio.create_task(_outbox_pump(svc, conn), name=f"outbox-{device.id}")
        await _handle(svc, conn, ingester, first)
        while True:
            await _handle(svc, conn, ingester, await channel.receive())
    finally:
        svc.registry.remove(conn)
        tasks = [storing] if pump is None else [storing, pump]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _touch(svc, device.id)
        svc.devices_changed(device.account_id)
        log.info("> disconnected")


async def _handle(
    svc: Services, conn: DeviceConnection, ingester: Ingester, message: DeviceToServer
) -> None:
    account_id = conn.device.account_id
    match message:
        case Upload(items=items, repair=repair):
            if not items:
                return
            if len(items) > MAX_UPLOAD_BATCH:
                raise MalformedMessage("upload batch too large")
            lines = conn.device.lines
            if not lines:
                raise MalformedMessage("this device serves no line")
            # An unknown or absent line number lands on the bridge's first line: the SMS
            # was received by this bridge, and keeping it beats refusing it forever.
            first_line = next(iter(lines.values()))
            batch = [_inbound(i, lines, first_line) for i in items]
            await ingester.put(Pending(items, batch, repair))
        case SendStatus(outbox_id=oid, status=status, error=error):
            changed = await svc.conversations.apply_send_status(account_id, oid, status, error)
            conn.log.debug("< outbox %d %s%s", oid, status, "" if changed else " (no change)")
            await conn.send(StatusAck(outbox_id=oid, status=status))
            if changed:
                seq = await svc.conversations.current_seq(account_id)
                svc.hub.publish(account_id, ChangesHint(seq))
        case Contacts(entries=entries, line=line):
            if len(entries) > MAX_CONTACTS:
                raise MalformedMessage("phonebook too large")
            clean = [
                (e.name.strip()[:100] or e.number, e.number.strip()[:32])
                for e in entries
                if e.number.strip()
            ]
            line_id = conn.device.lines.get(line or "", next(iter(conn.device.lines.values())))
            renamed = await svc.contacts.replace(account_id, line_id, clean)
            await conn.send(ContactsAck(count=len(clean)))
            if renamed:
                seq = await svc.conversations.current_seq(account_id)
                svc.hub.publish(account_id, ChangesHint(seq))
        case ModemInfo():
            # Bridges report on every poll; browsers hear only of a change.
            if message != conn.modem:
                conn.modem = message
                svc.devices_changed(account_id)
        case Ping():
            await conn.send(Pong())
        case DeviceHello():
            raise MalformedMessage("hello sent twice")


def _inbound(item: InboundSms, lines: dict[str, int], first_line: int) -> Inbound:
    if len(item.sender) > 32 or len(item.key) > 100 or len(item.body) > 10_000:
        raise MalformedMessage("upload item field too long")
    try:
        sent_at = datetime.fromisoformat(item.sent_at)
    except ValueError:
        raise MalformedMessage("sent_at is not an ISO 8601 time") from None
    if sent_at.tzinfo is None:
        raise MalformedMessage("sent_at has no time zone")
    return Inbound(
        item.key,
        lines.get(item.line, first_line) if item.line else first_line,
        item.sender,
        item.body,
        sent_at,
        item.incomplete,
        # MMS: limits and media types checked, file names sanitised (a bad one refuses
        # the whole upload, like any other bad item; earlier uploads stay committed).
        tuple(check_attachments(item.attachments)) if item.attachments else (),
    )


async def _touch(svc: Services, device_id: int) -> None:
    """Record when a bridge was last seen: informative only, so a busy database must not
    cost the connection (SQLite may refuse a write outright under contention)."""
    try:
        await svc.devices.touch(device_id, svc.clock.now())
    except SQLAlchemyError as exc:
        device_logger.warning("could not record last-seen of device %d: %s", device_id, exc)


async def _outbox_pump(svc: Services, conn: DeviceConnection) -> None:
    """Offer the outbox to the bridge: on connect, on every new send, and every
    ``_RESCAN`` seconds, so a failed round (a busy database) only delays, never strands."""
    offered: set[int] = set()
    conn.outbox_wakeup.set()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.outbox_wakeup.wait(), _RESCAN)
        conn.outbox_wakeup.clear()
        try:
            await _offer_pending(svc, conn, offered)
        except SQLAlchemyError as exc:
            conn.log.warning("outbox round failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1.0)
            conn.outbox_wakeup.set()


async def _offer_pending(svc: Services, conn: DeviceConnection, offered: set[int]) -> None:
    pending = await svc.conversations.outbox_for_dispatch(
        conn.device.account_id, conn.device.lines.values()
    )
    for item in pending:
        if item.id in offered:
            continue
        # No lock held across the send: the reader must never wait on the pump, or a
        # bridge busy sending its reports and a pump busy sending orders deadlock on full
        # socket buffers. An order re-offered after the bridge finished it is answered
        # from the bridge's journal tombstone, never sent again.
        if not await svc.conversations.claim_for_dispatch(item.id, conn.device.id, svc.clock.now()):
            continue  # confirmed by the bridge since the list was read
        await conn.send(
            SendSms(outbox_id=item.id, to=item.recipient, body=item.body, line=item.line)
        )
        conn.log.debug("> offer outbox %d", item.id)
        offered.add(item.id)
