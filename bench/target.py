"""What a benchmark runs against: a seeded Ferry server with its signed-in user and bridge,
or the bare baseline server; both in processes of their own, stopped on exit."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import sms
from bench.bridge import BridgeCredentials, SyntheticBridge, register_device
from bench.browsers import DEVICES, BrowserPool
from bench.procs import ServerProcess, free_port, spawn
from protocol.link import public_key
from server.auth.passwords import Passwords
from server.auth.web import DEV_COOKIE
from server.clock import SystemClock
from server.config import Config
from server.keys import load_server_key
from server.storage.accounts import AccountStore
from server.storage.engine import create_engine, migrate

PHONE = "+15550100001"
PASSWORD = "bench-password-not-secret"


@dataclass(frozen=True)
class Sizes:
    """How much load each benchmark applies."""

    ingest_messages: int = 20_000
    upload_batch: int = 100  # as device_bridge.bridge.UPLOAD_BATCH
    uploads_in_flight: int = 8  # as device_bridge.bridge.UPLOADS_IN_FLIGHT
    #: Tabs following the account during the ingest's extra runs (none: no extra runs).
    ingest_tabs: tuple[int, ...] = (1, 100)
    #: Rounds of the ingest (each side, alternating); figures compare the medians.
    ingest_runs: int = 3
    #: PostgreSQL: messages stored (and analyzed) before the measured ingest.
    pg_history: int = 20_000
    fanout_sockets: int = 1_000
    fanout_rounds: int = 31
    latency_browsers: int = 100
    latency_rounds: int = 300
    latency_interval: float = 0.02
    idle_connections: int = 5_000
    connect_concurrency: int = 256
    history: int = 200
    android_messages: int = 100_000
    #: The searched account's messages and the clients signing in meanwhile (loaded).
    search_messages: int = 100_000
    signin_clients: int = 20
    #: Several nodes (bench/nodes.py): tabs in all, of them through HAProxy, messages
    #: per bridge, latency probes and their spacing, soak (0: none).
    nodes_tabs: int = 10_000
    nodes_balanced_tabs: int = 2_000
    nodes_messages: int = 500
    nodes_probes: int = 40
    nodes_probe_interval: float = 0.25
    soak_seconds: float = 0.0


FULL = Sizes()
QUICK = Sizes(
    ingest_messages=3_000,
    android_messages=5_000,
    search_messages=5_000,
    fanout_rounds=3,
    latency_rounds=100,
    idle_connections=1_000,
    nodes_tabs=1_000,
    nodes_balanced_tabs=200,
    nodes_messages=20,
    nodes_probes=10,
    pg_history=1_000,
)


@dataclass(frozen=True)
class Context:
    sizes: Sizes
    work_dir: Path
    uvloop: bool = False

    def server_args(self) -> list[str]:
        return ["--uvloop"] if self.uvloop else []


@dataclass
class Ferry:
    """A running, seeded Ferry server; the user is signed in, the bridge connected."""

    server: ServerProcess
    bridge: SyntheticBridge
    cookie: str
    #: The bridge journal's next position.
    next_n: int = 1

    @property
    def ws_url(self) -> str:
        return self.server.base_url.replace("http://", "ws://", 1) + "/api/v1/ws"

    def take(self, count: int) -> list[int]:
        """Reserve ``count`` journal positions for new uploads."""
        first = self.next_n
        self.next_n += count
        return list(range(first, first + count))

    async def upload_history(self, count: int, batch: int = 100) -> None:
        for start in range(0, count, batch):
            await self.bridge.upload([sms.item(n) for n in self.take(min(batch, count - start))])

    async def browsers(self, http: aiohttp.ClientSession) -> BrowserPool:
        """A pool of signed-in tabs that resume from the account's current cursor."""
        headers = {"Cookie": f"{DEV_COOKIE}={self.cookie}", "Origin": self.server.base_url}
        async with http.get(f"{self.server.base_url}/api/v1/threads", headers=headers) as resp:
            resp.raise_for_status()
            seq = int((await resp.json())["seq"])
        hello = json.dumps({"t": "subscribe", "since": seq}, separators=(",", ":"))
        return BrowserPool(self.ws_url, hello=hello, ready_prefix=DEVICES, headers=headers)


async def seed(data_dir: Path, database_url: str | None = None) -> tuple[int, BridgeCredentials]:
    """Create the verified account and its bridge through the server's own stores."""
    config = Config(data_dir=data_dir, database_url=database_url)
    engine = create_engine(config.db_url)
    try:
        await migrate(engine)
        now = SystemClock().now()
        account_id = await AccountStore(engine).create(
            PHONE, Passwords(config.password_params).hash(PASSWORD), now, verified_at=now
        )
        server_public = public_key(load_server_key(config))
        return account_id, await register_device(engine, account_id, now, server_public)
    finally:
        await engine.dispose()


async def sign_in(http: aiohttp.ClientSession, base_url: str) -> str:
    """Sign in once (argon2 is slow on purpose); every synthetic tab reuses the cookie."""
    async with http.post(
        f"{base_url}/api/v1/session",
        json={"phone": PHONE, "password": PASSWORD},
        headers={"Origin": base_url},
    ) as resp:
        resp.raise_for_status()
        return resp.cookies[DEV_COOKIE].value


@contextlib.asynccontextmanager
async def running_ferry(
    ctx: Context,
    name: str,
    http: aiohttp.ClientSession,
    *,
    history: int = 0,
    database_url: str | None = None,
) -> AsyncIterator[Ferry]:
    """Seed a fresh data directory (and the empty database ``database_url``, if given:
    else SQLite in the directory), start the server, sign in, connect the bridge."""
    data_dir = _fresh_dir(ctx.work_dir / name)
    _, creds = await seed(data_dir, database_url)
    port = free_port()
    args = ["--port", str(port), "--data-dir", str(data_dir), *ctx.server_args()]
    if database_url is not None:
        args += ["--database-url", database_url]
    server = await spawn("bench.serve_ferry", args, ctx.work_dir / f"{name}.log", port)
    try:
        cookie = await sign_in(http, server.base_url)
        bridge = SyntheticBridge(server.base_url, creds, http)
        await bridge.connect()
        ferry = Ferry(server, bridge, cookie)
        try:
            await ferry.upload_history(history)
            yield ferry
        finally:
            await bridge.close()
    finally:
        await server.stop()


def _fresh_dir(path: Path) -> Path:
    """An empty, owner-only directory (the server keeps its master key there)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    return path


@dataclass
class Baseline:
    """The running bare aiohttp websocket server."""

    server: ServerProcess

    @property
    def ws_url(self) -> str:
        return self.server.base_url.replace("http://", "ws://", 1) + "/ws"

    def browsers(self) -> BrowserPool:
        # The same opening frame as a Ferry tab; the baseline echoes it back.
        hello = '{"t":"subscribe","since":0}'
        return BrowserPool(self.ws_url, hello=hello, ready_prefix=hello)


@contextlib.asynccontextmanager
async def running_baseline(ctx: Context, name: str) -> AsyncIterator[Baseline]:
    port = free_port()
    args = ["--port", str(port), *ctx.server_args()]
    server = await spawn("bench.baselines", args, ctx.work_dir / f"{name}.log", port)
    try:
        yield Baseline(server)
    finally:
        await server.stop()
