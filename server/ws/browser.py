"""The browser socket: a signed-in browser follows its account's changes live.

Per connection::

    upgrade (session cookie + Origin checked; unverified number: close 4403, no data)
      ─▶ wait for Subscribe(since)
      ─▶ send Changes pages until caught up ─▶ send Devices
      ─▶ followed by the account's fan-out (server.ws.fanout), which pushes what is newer
         than the cursor; a socket with too much unsent is closed (1013, try again
         later) and its browser resumes from its cursor, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import functools

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.codec import Codec, encode_text
from protocol.errors import ProtocolError
from protocol.messages import BrowserToServer, Devices, Error, Ping, Pong, Subscribe
from server.api.common import services
from server.auth.web import authenticate, origin_allowed, require_verified
from server.errors import ApiError
from server.services import Services
from server.ws.device_views import device_views
from server.ws.fanout import Follower

routes = web.RouteTableDef()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


@routes.get("/api/v1/ws")
async def browser_socket(request: web.Request) -> web.WebSocketResponse:
    svc = services(request)
    if not origin_allowed(request, svc, required=True):
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
    try:
        await _serve(svc, request, ws, account.id)
    except ProtocolError as exc:
        with contextlib.suppress(Exception):
            await ws.send_str(encode_text(Error(code=exc.code, message="bad message")))
        await ws.close(code=WSCloseCode.UNSUPPORTED_DATA)
    finally:
        svc.browsers.discard(principal.session, ws)
        if not ws.closed:
            await ws.close()
    return ws


async def _serve(
    svc: Services, request: web.Request, ws: web.WebSocketResponse, account_id: int
) -> None:
    """Read the browser's messages; live changes are pushed by ``svc.fanout``."""
    codec = _codec(svc.config.browser_ws_max_bytes)
    follower: Follower | None = None
    try:
        while True:
            msg = await ws.receive()
            if msg.type != WSMsgType.TEXT:
                return  # closed, error, or binary (not part of this protocol)
            incoming = codec.decode(msg.data)
            if isinstance(incoming, Ping):
                await ws.send_str(encode_text(Pong()))
            elif isinstance(incoming, Subscribe) and follower is None:
                # Sockets subscribing together (a reconnect storm) share one read of the
                # changes, as long as it covers everything announced so far.
                cursor = await _catch_up(
                    svc, ws, account_id, incoming.since, svc.hub.latest(account_id), True
                )
                follower = Follower(ws, request.transport, cursor)
                svc.fanout.follow(account_id, follower)
                await ws.send_str(encode_text(Devices(devices=await device_views(svc, account_id))))
    finally:
        if follower is not None:
            svc.fanout.unfollow(account_id, follower)


@functools.cache
def _codec(max_size: int) -> Codec[BrowserToServer]:
    # Shared by every socket: building a decoder per connection showed in reconnect storms.
    return Codec(BrowserToServer, max_size=max_size)


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
    async for frame, upto in svc.feed.frames(account_id, since, at_least, fresh=fresh):
        await ws.send_str(frame)
        cursor = upto
    return cursor
