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
      ├─ reader: Upload ─▶ each item judged (server.ws.judge) ─▶ ingester
      │            (server.ws.ingest): group commit ─▶ Ack(upto, rejected) ─▶ hub hint
      │          SendStatus ─▶ commit (only from the row's sender) ─▶ StatusAck ─▶ hint
      │          ModemInfo ─▶ remembered in memory ─▶ devices hint
      │          ImportProgress ─▶ remembered while the import runs ─▶ devices hint
      └─ outbox pump: renews the leases of the bridge's lines (server.storage.outbox);
         offers the rows of the lines it holds, woken by new sends and every _RESCAN
         seconds (the bridge journals by outbox id, so a repeat never sends twice)

Acknowledge only after commit. One bad upload item never stops the others: it is stored
as a placeholder and refused in the Ack, and the bridge quarantines it. A tampered,
replayed, reordered or truncated frame fails decryption and closes the socket (1002); a
malformed message inside a good frame gets an encrypted Error first. The socket closes
before anything that touches the database is cleaned up, so a busy database never holds
a dead connection open. Nothing internal reaches the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import unicodedata
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
    ImportProgress,
    LinkClose,
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
from protocol.noise import TAGLEN
from protocol.pairing import InvalidPairingCode, normalize_code
from server.api.common import require_websocket, services
from server.auth.throttle import Slot
from server.auth.web import client_ip
from server.errors import RateLimited
from server.hub import ChangesHint
from server.log import device_logger
from server.metrics import METRICS
from server.services import Services
from server.storage.devices import MAX_NAME, Device
from server.storage.outbox import LEASE_GRACE
from server.storage.pairing import Paired, Refusal
from server.ws.ingest import Ingester, Pending
from server.ws.judge import Salvaged, judge, judge_salvaged, salvage_upload
from server.ws.registry import DeviceConnection

routes = web.RouteTableDef()

#: Seconds between outbox re-scans of a connected bridge (besides wake-ups on new sends);
#: each round renews the bridge's line leases (``server.storage.outbox.LEASE_TTL``).
_RESCAN = 30.0
#: Seconds between attempts to take over a line another bridge holds.
_LEASE_RETRY = 5.0
#: Seconds the tasks of a closed connection get to end.
_CLEANUP = 5.0

# Replaced connections being closed in the background (referenced until done).
_closing: set[asyncio.Task[None]] = set()


class _Closed(Exception):
    """The peer went away or must be dropped."""


class _Channel:
    """Typed messages in and out of one established Noise session."""

    def __init__(
        self, ws: web.WebSocketResponse, session: LinkResponder, codec: Codec[DeviceToServer]
    ) -> None:
        self.ws = ws
        self.session = session
        self._codec = codec
        self._lock = asyncio.Lock()

    async def receive(self) -> DeviceToServer | Salvaged:
        plaintext = self.session.decrypt(await _binary(self.ws))
        try:
            return self._codec.decode(plaintext)
        except MalformedMessage as exc:
            if type(exc) is not MalformedMessage:
                raise  # a more specific refusal (too deep, …): nothing to salvage
            # An upload whose items are not all of the protocol's types: judge the items
            # one by one, so only the broken ones are refused.
            try:
                return salvage_upload(plaintext)
            except MalformedMessage:
                raise exc from None

    async def send(self, message: msgspec.Struct) -> None:
        # Encrypt under the lock: frames must leave in nonce order.
        async with self._lock:
            await self.ws.send_bytes(self.session.encrypt(Codec.encode(message)))


@routes.get("/api/v1/device")
async def device_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    require_websocket(request)
    remote = client_ip(request)
    gate = await svc.handshakes.take(remote)  # counted on every node
    if gate is None:
        device_logger.info("too many unauthenticated device sockets from %s", remote)
        raise RateLimited(5, "Too many connections from this address.")
    ws = web.WebSocketResponse(
        max_msg_size=svc.config.device_ws_max_bytes + TAGLEN, heartbeat=30, compress=False
    )
    try:
        await ws.prepare(request)
        svc.sockets.add(ws)
        await _serve(svc, ws, remote, gate)
    except (_Closed, ConnectionError):
        pass  # the peer went away (a send on a closing socket raises ConnectionResetError)
    except Exception:
        # Once upgraded, nothing may reach the HTTP error middleware: its response would be
        # written into the websocket stream. The bridge reconnects and sends again.
        device_logger.exception("device socket from %s failed", remote)
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error")
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


async def _serve(svc: Services, ws: web.WebSocketResponse, remote: str, gate: Slot) -> None:
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
    if await svc.pairing_throttle.retry_after(throttle_key):
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
        await svc.pairing_throttle.reset(throttle_key)
        svc.devices_changed(result.account_id)
        device = await svc.devices.by_public_key(key)
        assert device is not None
        return device
    device_logger.info("refused pairing from %s: %s", remote, result.value)
    if result is Refusal.BAD_CODE:
        await svc.pairing_throttle.hit(throttle_key)
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
    first: DeviceToServer | Salvaged,
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
    tasks: list[asyncio.Task[None]] = []
    ingester = Ingester(svc, conn, ws)
    conn.finish = ingester.finish
    tasks.append(asyncio.create_task(ingester.run(), name=f"ingest-{device.id}"))
    try:
        # Revoked between message 1 and now: the revocation found no live socket to close.
        if await svc.devices.is_revoked(device.id):
            await close(LinkClose.REVOKED)
            raise _Closed()
        await _touch(svc, device.id)
        svc.devices_changed(device.account_id)
        log.info("< connected from %s (protocol v%d)", remote, version)
        tasks.append(asyncio.create_task(_outbox_pump(svc, conn), name=f"outbox-{device.id}"))
        await _handle(svc, conn, ingester, first)
        while True:
            await _handle(svc, conn, ingester, await channel.receive())
    finally:
        conn.live = False
        svc.registry.remove(conn)
        for task in tasks:
            task.cancel()
        # Cleanup that touches the database runs aside: the socket closes now even when
        # the database is busy, and nothing this connection owns outlives it.
        ended = svc.clock.now()
        svc.background.spawn(_cleanup(svc, conn, tasks, ended), name=f"cleanup-{device.id}")


async def _cleanup(
    svc: Services, conn: DeviceConnection, tasks: list[asyncio.Task[None]], ended: datetime
) -> None:
    device = conn.device
    done, stuck = await asyncio.wait(tasks, timeout=_CLEANUP)
    for task in stuck:
        conn.log.error("task %s did not end after the connection closed", task.get_name())
    for task in done:
        # A task that failed before the end says so once (its exception is never
        # retrieved elsewhere); a cancelled one ended as it should.
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            conn.log.error("task %s failed: %s", task.get_name(), type(failure).__name__)
    # Not replaced by a newer connection (here, or on another node).
    if svc.registry.get(device.id) is None and not conn.replaced:
        try:
            await svc.outbox.let_go(device.id, ended, grace=LEASE_GRACE)
        except SQLAlchemyError as exc:
            conn.log.warning("could not shorten the line leases (%s)", type(exc).__name__)
        # Another bridge of the account may take the lines over once the grace is over.
        asyncio.get_running_loop().call_later(
            LEASE_GRACE.total_seconds() + 0.5, svc.registry.wake_outbox, device.account_id
        )
    await _touch(svc, device.id)
    svc.devices_changed(device.account_id)
    conn.log.info("> disconnected")


async def _handle(
    svc: Services,
    conn: DeviceConnection,
    ingester: Ingester,
    message: DeviceToServer | Salvaged,
) -> None:
    account_id = conn.device.account_id
    match message:
        case Upload(items=items, repair=repair):
            if not items:
                return
            lines, first_line = _lines(conn, len(items))
            verdicts = judge(items, lines, first_line, svc.clock.now())
            await ingester.put(Pending([i.n for i in items], verdicts, repair))
        case Salvaged(repair=repair):
            lines, first_line = _lines(conn, len(message.items) + len(message.broken))
            positions, verdicts = judge_salvaged(message, lines, first_line, svc.clock.now())
            if positions:
                await ingester.put(Pending(positions, verdicts, repair))
        case SendStatus(outbox_id=oid, status=status, error=error, error_detail=detail):
            # A phone without delivery reports: "sent" is all there will ever be.
            stored = "sent_no_report" if status == "sent" and message.no_report else status
            changed = await svc.outbox.apply_status(
                account_id, conn.device.id, oid, stored, error, detail
            )
            conn.log.debug("< outbox %d %s%s", oid, status, "" if changed else " (no change)")
            if changed:
                METRICS.send_status("sending" if status == "accepted" else status)
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
            if svc.registry.report_modem(conn, message):
                svc.devices_changed(account_id)
        case ImportProgress(total=total, done=done):
            # Shown while it runs; a finished import is no longer news.
            shown = message if done < total else None
            if svc.registry.report_import(conn, shown):
                svc.devices_changed(account_id)
        case Ping():
            await conn.send(Pong())
        case DeviceHello():
            raise MalformedMessage("hello sent twice")


def _lines(conn: DeviceConnection, count: int) -> tuple[dict[str, int], int]:
    """The bridge's lines and the one an item without a (known) line lands on: the SMS
    was received by this bridge, and keeping it beats refusing it forever."""
    if count > MAX_UPLOAD_BATCH:
        raise MalformedMessage("upload batch too large")
    lines = conn.device.lines
    if not lines:
        raise MalformedMessage("this device serves no line")
    return lines, next(iter(lines.values()))


async def _touch(svc: Services, device_id: int) -> None:
    """Record when a bridge was last seen: informative only, so a busy database must not
    cost the connection (SQLite may refuse a write outright under contention)."""
    try:
        await svc.devices.touch(device_id, svc.clock.now())
    except SQLAlchemyError as exc:
        device_logger.warning("could not record last-seen of device %d: %s", device_id, exc)


async def _outbox_pump(svc: Services, conn: DeviceConnection) -> None:
    """Offer the bridge the outbox of the lines it holds: on connect, on every new send,
    and every ``_RESCAN`` seconds (which renews its leases), so a failed round (a busy
    database) only delays, never strands. Ends with its connection."""
    offered: set[int] = set()
    while conn.live:
        conn.outbox_wakeup.clear()
        wait = _RESCAN
        try:
            if not await _offer_pending(svc, conn, offered):
                wait = _LEASE_RETRY  # another bridge holds a line: try again soon
        except SQLAlchemyError as exc:
            conn.log.warning("outbox round failed (%s); retrying", type(exc).__name__)
            wait = 1.0
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
        # cancellation that ends the connection, leaving the pump to claim rows for a
        # bridge that is gone.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await conn.outbox_wakeup.wait()


async def _offer_pending(svc: Services, conn: DeviceConnection, offered: set[int]) -> bool:
    """One round; False when some of the bridge's lines are held by another bridge."""
    device = conn.device
    leases = await svc.outbox.renew(
        device.account_id, device.id, device.lines.values(), svc.clock.now()
    )
    if leases.seq is not None:
        conn.log.warning("took over a line: %d message(s) now unknown", len(leases.orphaned))
        METRICS.send_status("unknown", len(leases.orphaned))
        svc.hub.publish(device.account_id, ChangesHint(leases.seq))
    pending = await svc.outbox.for_dispatch(device.account_id, device.id, leases.held)
    for item in pending:
        if item.id in offered:
            continue
        # No lock held across the send: the reader must never wait on the pump, or a
        # bridge busy sending its reports and a pump busy sending orders deadlock on full
        # socket buffers. An order re-offered after the bridge finished it is answered
        # from the bridge's journal tombstone, never sent again.
        if not conn.live:
            return False
        if not await svc.outbox.claim(device.account_id, item.id, device.id, svc.clock.now()):
            continue
        await conn.send(
            SendSms(outbox_id=item.id, to=item.recipient, body=item.body, line=item.line)
        )
        conn.log.debug("> offer outbox %d", item.id)
        offered.add(item.id)
    return len(leases.held) == len(device.lines)
