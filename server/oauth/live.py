"""Live updates for an app: ``GET /api/v1/oauth/socket``.

The app opens the socket with a one-time ticket (``POST /api/v1/oauth/socket-ticket``,
30 s) in ``Sec-WebSocket-Protocol`` next to ``ferry.v1`` — never a token in the URL::

    new WebSocket("wss://ferry.example/api/v1/oauth/socket", ["ferry.v1", "ticket." + t])

Per connection::

    ticket taken (once) ─▶ grant live, Origin one of the client's ─▶ upgrade
      ─▶ cursor = the account's seq now (or the app's Subscribe(since, epoch))
      ─▶ on each hint of the account: changes after the cursor, cut to the granted
         conversations; sent as Changes only when something in them changed
      ─▶ the grant revoked or expired: closed with 4401 within seconds

Pings (``{"type": "ping"}``) are answered. The socket never reads cookies.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, hdrs, web
from sqlalchemy.exc import SQLAlchemyError

from protocol.codec import Codec, encode_text
from protocol.errors import ProtocolError
from protocol.messages import BrowserToServer, Changes, Ping, Pong, Resync, Subscribe
from server.api.common import services
from server.errors import BadRequest, Forbidden, Unauthenticated
from server.log import browser_logger
from server.services import Services
from server.storage.oauth_grants import Grant

routes = web.RouteTableDef()

PROTOCOL = "ferry.v1"
_TICKET_PREFIX = "ticket."
MAX_MESSAGE = 4096
_NO_TICKET = "Open the socket with a fresh ticket: protocols ferry.v1 and ticket.<ticket>."
_codec: Codec[BrowserToServer] = Codec(BrowserToServer, max_size=MAX_MESSAGE)


def _ticket(request: web.Request) -> str | None:
    offered = [p.strip() for p in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(",")]
    if PROTOCOL not in offered:
        return None
    tickets = [p[len(_TICKET_PREFIX) :] for p in offered if p.startswith(_TICKET_PREFIX)]
    return tickets[0] if len(tickets) == 1 else None


@routes.get("/api/v1/oauth/socket")
async def app_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    not_a_socket = BadRequest(
        "This address takes websocket connections only.", code="websocket_required"
    )
    if request.headers.get(hdrs.UPGRADE, "").lower() != "websocket":
        raise not_a_socket
    ticket = _ticket(request)
    if ticket is None:
        raise Unauthenticated(_NO_TICKET, code="invalid_ticket")
    # Only now: aiohttp logs the offered subprotocols (the ticket among them) when none
    # of them is ours.
    if not web.WebSocketResponse(protocols=(PROTOCOL,)).can_prepare(request).ok:
        raise not_a_socket
    grant = await svc.oauth.use_ticket(ticket)
    if grant is None:
        raise Unauthenticated(_NO_TICKET, code="invalid_ticket")
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and origin not in await svc.oauth.clients.origins_of(grant.client_id):
        raise Forbidden("This page is not one of the app's.", code="origin_rejected")
    ws = web.WebSocketResponse(protocols=(PROTOCOL,), max_msg_size=MAX_MESSAGE, heartbeat=55)
    await ws.prepare(request)
    svc.sockets.add(ws)
    svc.oauth.sockets.add(grant.id, ws)
    try:
        await _serve(svc, ws, grant)
    except ConnectionError:
        pass
    except Exception:
        browser_logger.exception("app socket of grant %d failed", grant.id)
    finally:
        svc.oauth.sockets.discard(grant.id, ws)
        if not ws.closed:
            await ws.close()
    return ws


async def _serve(svc: Services, ws: web.WebSocketResponse, grant: Grant) -> None:
    wake = asyncio.Event()
    svc.oauth.wakeups.add(grant.account_id, wake)
    state = _Cursor(await svc.conversations.current_seq(grant.account_id), None)
    pusher = asyncio.create_task(_push(svc, ws, grant, wake, state))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                incoming = _codec.decode(msg.data)
            except ProtocolError:
                await ws.close(code=1003, message=b"bad message")
                break
            if isinstance(incoming, Ping):
                await ws.send_str(encode_text(Pong()))
            elif isinstance(incoming, Subscribe):
                state.seq, state.epoch = incoming.since, incoming.epoch
                wake.set()
    finally:
        svc.oauth.wakeups.discard(grant.account_id, wake)
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher


class _Cursor:
    def __init__(self, seq: int, epoch: str | None) -> None:
        self.seq = seq
        self.epoch = epoch


async def _push(
    svc: Services, ws: web.WebSocketResponse, grant: Grant, wake: asyncio.Event, at: _Cursor
) -> None:
    allowed = None if grant.threads is None else frozenset(grant.threads)
    while not ws.closed:
        await wake.wait()
        wake.clear()
        more = True
        while more and not ws.closed:
            try:
                changes = await svc.conversations.changes_since(grant.account_id, at.seq)
            except SQLAlchemyError:
                await asyncio.sleep(1.0)
                wake.set()
                break
            if changes.resync or (at.epoch is not None and changes.epoch != at.epoch):
                await ws.send_str(encode_text(Resync(epoch=changes.epoch)))
                at.seq, at.epoch = changes.upto, changes.epoch
                break
            msgs = [m for m in changes.messages if allowed is None or m.thread_id in allowed]
            threads = [t for t in changes.threads if allowed is None or t.id in allowed]
            at.seq, at.epoch, more = changes.upto, changes.epoch, changes.more
            if msgs or threads:
                await ws.send_str(
                    encode_text(
                        Changes(messages=msgs, threads=threads, upto=at.seq, epoch=at.epoch)
                    )
                )
