"""The raw baselines every Ferry figure is divided by.

* A bare aiohttp websocket server (``python -m bench.baselines --port P``), in its own
  process like the server under test. One route, ``/ws``: a text frame ``go:<size>``
  broadcasts one pre-encoded frame of ``size`` bytes to every other socket (fan-out);
  any other text frame is echoed back (latency, and the one round trip that the storm and
  memory baselines make to mirror a browser's subscribe). No heartbeat, no compression.
* :func:`sqlite_ingest`: the stdlib ``sqlite3`` inserting rows with the columns and
  indexes of Ferry's ``messages`` table, WAL, ``synchronous=FULL``, committing groups of
  the sizes it is given: the ingest benchmark replays the sizes Ferry's own group commits
  reached in the run beside it (:func:`commit_plan`), so both sides commit as often.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bench.procs import HOST, raise_nofile

SOCKETS = web.AppKey("sockets", dict[web.WebSocketResponse, asyncio.Transport | None])

#: Text every broadcast frame starts with, so clients count it as Ferry's ``changes``.
FRAME_PREFIX = '{"t":"changes","pad":"'


def broadcast_frame(size: int) -> str:
    """A JSON text frame of exactly ``size`` bytes (at least the prefix and closing)."""
    pad = max(0, size - len(FRAME_PREFIX) - 2)
    return FRAME_PREFIX + "x" * pad + '"}'


# ------------------------------------------------------------------ websocket server


async def _socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets[ws] = request.transport
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            if msg.data.startswith("go:"):
                _broadcast(sockets, ws, broadcast_frame(int(msg.data[3:])))
            else:
                await ws.send_str(msg.data)
    finally:
        sockets.pop(ws, None)
    return ws


def _broadcast(
    sockets: dict[web.WebSocketResponse, asyncio.Transport | None],
    sender: web.WebSocketResponse,
    frame: str,
) -> None:
    data = _text_frame(frame.encode())
    for ws, transport in sockets.items():
        if ws is not sender and transport is not None and not transport.is_closing():
            transport.write(data)


def _text_frame(payload: bytes) -> bytes:
    """One unmasked websocket text frame (RFC 6455 §5.2): header, then ``payload``."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def baseline_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = {}
    app.router.add_get("/ws", _socket)
    app.router.add_get("/healthz", _healthz)
    return app


async def _serve(port: int) -> None:
    # Nothing to flush at shutdown: do not wait for open sockets.
    runner = web.AppRunner(
        baseline_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.baselines")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--uvloop", action="store_true", help="run on uvloop (must be installed)")
    ns = p.parse_args()
    raise_nofile()
    if ns.uvloop:
        import uvloop

        uvloop.run(_serve(ns.port))
    else:
        asyncio.run(_serve(ns.port))


# ------------------------------------------------------------------------- sqlite

# The columns and indexes of server/storage/schema.py's ``messages`` table.
_DDL = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    thread_id INTEGER NOT NULL,
    line_id INTEGER NOT NULL,
    direction VARCHAR(3) NOT NULL,
    peer VARCHAR(32) NOT NULL,
    body TEXT,
    body_sealed BLOB,
    deleted BOOLEAN NOT NULL DEFAULT 0,
    status VARCHAR(16) NOT NULL,
    error VARCHAR(200),
    timestamp DATETIME NOT NULL,
    created_at DATETIME NOT NULL,
    incomplete BOOLEAN NOT NULL,
    device_id INTEGER,
    device_key VARCHAR(100),
    client_msg_id VARCHAR(64),
    seq BIGINT NOT NULL,
    UNIQUE (device_id, device_key),
    UNIQUE (account_id, client_msg_id)
);
CREATE INDEX ix_messages_account_seq ON messages (account_id, seq);
CREATE INDEX ix_messages_thread_id ON messages (thread_id, id);
"""

_INSERT = (
    "INSERT INTO messages (account_id, thread_id, line_id, direction, peer, body_sealed,"
    " status, timestamp, created_at, incomplete, device_id, device_key, seq)"
    " VALUES (?, ?, ?, 'in', ?, ?, 'received', ?, ?, 0, 1, ?, ?)"
)

#: One row's values in ``_INSERT`` order after the literals.
Row = tuple[int, int, int, str, bytes, str, str, str, int]


def commit_plan(total: int, commits: int | Sequence[int]) -> list[int]:
    """Rows per transaction for ``total`` rows: ``commits`` rows each (an int), or the
    given sizes in order (a sequence), the last one cut or extended to reach ``total``."""
    sizes = [commits] * -(-total // commits) if isinstance(commits, int) else list(commits)
    plan, left = [], total
    for size in sizes:
        if left <= 0:
            break
        plan.append(min(size, left))
        left -= plan[-1]
    if left > 0:
        plan.append(left)
    return [n for n in plan if n > 0]


def sqlite_ingest(path: Path, rows: Sequence[Row], commits: int | Sequence[int] = 100) -> float:
    """Insert ``rows``, one transaction per group of :func:`commit_plan`; returns the
    seconds it took."""
    path.unlink(missing_ok=True)
    plan = commit_plan(len(rows), commits)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_DDL)
        start, at = time.perf_counter(), 0
        for size in plan:
            db.execute("BEGIN")
            db.executemany(_INSERT, rows[at : at + size])
            db.execute("COMMIT")
            at += size
        return time.perf_counter() - start
    finally:
        db.close()


def row_values(*values: Any) -> Row:
    """Typed helper so callers build rows in ``_INSERT`` order."""
    return tuple(values)  # type: ignore[return-value]


if __name__ == "__main__":
    main()
