"""The browser socket: a signed-in browser follows its account's changes live.

Per connection::

    upgrade (session cookie + Origin checked; unverified number: close 4403, no data)
      ─▶ wait for Subscribe(since)
      ─▶ send Changes pages until caught up ─▶ send Devices
      ─▶ on each hub hint: send what is newer than the cursor
    A bounded hint queue that overflows closes the socket (1013, try again later); the
    browser reconnects and resumes from its cursor, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.codec import Codec, encode_text
from protocol.errors import ProtocolError
from protocol.messages import BrowserToServer, Devices, Error, Ping, Pong, Resync, Subscribe
from server.api.common import services
from server.auth.web import authenticate, origin_allowed, require_verified
from server.errors import ApiError
from server.hub import ChangesHint, DevicesHint, Subscription
from server.log import browser_logger
from server.services import Services
from server.ws.device_views import device_views

routes = web.RouteTableDef()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


@routes.get("/api/v1/ws")
async def browser_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    if not origin_allowed(request, svc):
        raise web.HTTPForbidden(text="origin not allowed")
    ws = web.WebSocketResponse(
        max_msg_size=svc.config.browser_ws_max_bytes, heartbeat=55, compress=False
    )
    try:
        principal = await authenticate(request, svc)
        account = require_verified(principal.account)
    except ApiError as exc:
        # Upgrade first so the browser sees a close code it can act on (4401: sign in).
        await ws.prepare(request)
        await ws.send_str(encode_text(Error(code=exc.code, message=exc.message)))
        code = CLOSE_UNAUTHORIZED if exc.status == 401 else CLOSE_FORBIDDEN
        await ws.close(code=code, message=exc.code.encode())
        return ws
    await ws.prepare(request)
    svc.sockets.add(ws)
    # Ending the session (sign-out, revocation, reset, expiry) closes this socket.
    svc.browsers.add(principal.session, account.id, ws)
    sub = svc.hub.subscribe(account.id)
    try:
        await _serve(svc, ws, sub, account.id)
    except ProtocolError as exc:
        with contextlib.suppress(Exception):
            await ws.send_str(encode_text(Error(code=exc.code, message="bad message")))
        await ws.close(code=WSCloseCode.UNSUPPORTED_DATA)
    finally:
        sub.close()
        svc.browsers.discard(principal.session, ws)
        if not ws.closed:
            await ws.close()
    return ws


async def _serve(
    svc: Services, ws: web.WebSocketResponse, sub: Subscription, account_id: int
) -> None:
    codec: Codec[BrowserToServer] = Codec(BrowserToServer, max_size=svc.config.browser_ws_max_bytes)
    cursor: int | None = None
    reader = asyncio.ensure_future(ws.receive())
    hints = asyncio.ensure_future(sub.queue.get())
    overflow = asyncio.ensure_future(sub.overflowed.wait())
    try:
        while True:
            done, _ = await asyncio.wait(
                {reader, hints, overflow}, return_when=asyncio.FIRST_COMPLETED
            )
            if overflow in done:
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
                return
            if reader in done:
                msg = reader.result()
                if msg.type != WSMsgType.TEXT:
                    return  # closed, error, or binary (not part of this protocol)
                incoming = codec.decode(msg.data)
                if isinstance(incoming, Ping):
                    await ws.send_str(encode_text(Pong()))
                elif isinstance(incoming, Subscribe):
                    # Sockets subscribing together (a reconnect storm) share one read of
                    # the changes, as long as it covers everything announced so far.
                    cursor = await _catch_up(
                        svc, ws, account_id, incoming.since, svc.hub.latest(account_id), True
                    )
                    await _send_devices(svc, ws, account_id)
                reader = asyncio.ensure_future(ws.receive())
            if hints in done:
                hint = hints.result()
                if cursor is not None:
                    if isinstance(hint, ChangesHint) and hint.upto > cursor:
                        cursor = await _catch_up(svc, ws, account_id, cursor, hint.upto)
                    elif isinstance(hint, DevicesHint):
                        await _send_devices(svc, ws, account_id)
                hints = asyncio.ensure_future(sub.queue.get())
    finally:
        for fut in (reader, hints, overflow):
            fut.cancel()


async def _catch_up(
    svc: Services,
    ws: web.WebSocketResponse,
    account_id: int,
    since: int,
    at_least: int | None,
    fresh: bool = False,
) -> int:
    """Send change pages after ``since`` until caught up; returns the new cursor."""
    cursor = max(0, since)
    while True:
        cs, frame = await svc.feed.frame(account_id, cursor, at_least, fresh=fresh)
        if cs.resync:
            # Older than what the server keeps, or from the future (a restored database):
            # the client refetches its state and follows from the current seq.
            browser_logger.info("cursor %d cannot be resumed (seq %d); resync", cursor, cs.upto)
            await ws.send_str(encode_text(Resync()))
            return cs.upto
        if not cs.empty or cs.upto != cursor:
            await ws.send_str(frame)
        if cs.upto == cursor or len(cs.messages) < 500:
            return cs.upto
        cursor = cs.upto


async def _send_devices(svc: Services, ws: web.WebSocketResponse, account_id: int) -> None:
    await ws.send_str(encode_text(Devices(devices=await device_views(svc, account_id))))
