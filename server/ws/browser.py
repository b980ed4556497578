"""The browser socket: a signed-in browser follows its account's changes live.

Per connection::

    upgrade (session cookie + Origin checked; unverified number: close 4403, no data)
      ─▶ wait for Subscribe(since, epoch)
      ─▶ send Changes pages until caught up ─▶ send Devices
      ─▶ followed by the account's fan-out (server.ws.fanout), which pushes what is newer
         than the cursor; a socket with too much unsent is closed (1013, try again
         later) and its browser resumes from its cursor, so nothing is lost.

A cursor that cannot be resumed (another epoch, older than the kept tombstones, from the
future) gets ``Resync`` instead, here or later from the fan-out; the socket is then not
followed until the browser, having refetched, sends ``Subscribe`` again. A read that
fails while catching up closes the socket with 1013: the browser retries with backoff.
"""

from __future__ import annotations

import contextlib
import functools

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from protocol.codec import Codec, encode_text
from protocol.errors import ProtocolError
from protocol.messages import BrowserToServer, Devices, Error, Ping, Pong, Subscribe
from server.api.common import services
from server.auth.web import authenticate, origin_allowed, require_verified
from server.errors import ApiError
from server.log import browser_logger
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
    except ConnectionError:
        pass  # closed under us (sign-out, revocation, the peer left) while we wrote
    except Exception:
        # Once upgraded, nothing may escape to the HTTP error middleware: its response
        # would be written into the websocket stream as garbage ("invalid frame header").
        browser_logger.exception("browser socket of account %d failed", account.id)
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error")
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
            elif isinstance(incoming, Subscribe) and (follower is None or not follower.following):
                if follower is not None:
                    svc.fanout.unfollow(account_id, follower)
                follower = await _subscribe(svc, request, ws, account_id, incoming)
                if follower is None:
                    return
    finally:
        if follower is not None:
            svc.fanout.unfollow(account_id, follower)


@functools.cache
def _codec(max_size: int) -> Codec[BrowserToServer]:
    # Shared by every socket: building a decoder per connection showed in reconnect storms.
    return Codec(BrowserToServer, max_size=max_size)


async def _subscribe(
    svc: Services,
    request: web.Request,
    ws: web.WebSocketResponse,
    account_id: int,
    subscribe: Subscribe,
) -> Follower | None:
    """Catch the socket up from the browser's cursor, then have the fan-out follow it
    (or not, after a ``Resync``). None: the socket was closed."""
    # Sockets subscribing together (a reconnect storm) share one read of the changes, as
    # long as it covers everything announced so far.
    frames = svc.feed.catch_up(
        account_id, subscribe.since, subscribe.epoch, svc.hub.latest(account_id), fresh=True
    )
    try:
        async for frame in frames:
            await ws.send_str(frame)
    except SQLAlchemyError as exc:
        browser_logger.warning("catching up account %d failed: %s", account_id, type(exc).__name__)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"try again later")
        return None
    follower = Follower(ws, request.transport, frames.cursor, frames.epoch)
    if frames.resync:
        follower.following = False  # until it subscribes again
        return follower
    svc.fanout.follow(account_id, follower)
    await ws.send_str(encode_text(Devices(devices=await device_views(svc, account_id))))
    return follower
