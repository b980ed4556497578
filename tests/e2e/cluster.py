"""Several real ``ferry serve`` nodes behind HAProxy, on one database and one Redis.

For the multi-node tests (``tests/e2e/test_nodes*.py``). Each cluster gets its own
database (a PostgreSQL database created and dropped around it; or, with
``FERRY_NODES_DATABASE=sqlite``, one SQLite file the nodes share), its own
key prefix in Redis (so parallel runs never meet), its own keys (the nodes share them
through ``FERRY_SERVER_KEY``, ``FERRY_MASTER_KEY`` and ``FERRY_CODE_KEY``, as a deployment
must) and an HAProxy in front (round robin, health checks on ``/healthz``, websocket
timeouts, ``option forwardfor`` with the nodes trusting it). A missing HAProxy, Redis or
database skips the test with the reason; nothing passes silently.

:class:`Tab` is a browser tab's socket speaking the browser protocol: it resumes from its
cursor whenever the socket closes, and counts every message it is sent, so a test can
tell a message lost from one delivered twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import ClientSession, WSMsgType

from protocol.codec import Codec, encode_text
from protocol.link import generate_keypair, public_key
from protocol.messages import (
    Changes,
    Devices,
    DeviceView,
    MessageView,
    Resync,
    ServerToBrowser,
    Subscribe,
)
from server.admin import create_account, create_pairing_code
from server.config import Config
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine
from tests.e2e.conftest import eventually, free_port
from tests.e2e.procs import Proc, healthy
from tests.shared_redis import REDIS_URL, forget, redis_answers

#: The database the nodes share: ``postgresql`` (a database of the cluster's own on the
#: server ``FERRY_TEST_POSTGRES_URL`` names) or ``sqlite`` (one file, one machine).
DATABASE = os.environ.get("FERRY_NODES_DATABASE", "postgresql")


def haproxy() -> str:
    """HAProxy's path, or skip."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip("HAProxy is not installed (Debian: apt-get install haproxy; .ci/run does)")
    return found


@asynccontextmanager
async def shared_database(directory: Path) -> AsyncIterator[str]:
    """A database of its own for one cluster; its SQLAlchemy URL. Without a PostgreSQL
    server the test skips, saying why; it fails if ``FERRY_TEST_POSTGRES_URL`` names one
    that does not answer (as the storage tests do, ``tests/server/postgres.py``)."""
    if DATABASE == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'shared.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    from tests.server.postgres import ENV, admin_url, dsn, reachable, shown

    url, explicit = admin_url()
    why = await reachable(url)
    if why is not None:
        message = f"PostgreSQL for the nodes: no server at {shown(url)} ({why})"
        if explicit:
            pytest.fail(f"{message}, which {ENV} names")
        pytest.skip(f"{message}; set {ENV} to name one")
    name = f"ferry_nodes_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(dsn(url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            ours = make_url(url).set(drivername="postgresql+asyncpg", database=name)
            yield ours.render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Node:
    name: str
    port: int
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    dir: Path
    nodes: list[Node]
    balancer: Proc
    balancer_port: int
    #: What every node is started with (database, Redis, prefix, keys, proxies).
    env: dict[str, str]

    @property
    def url(self) -> str:
        """The load balancer's address."""
        return f"http://127.0.0.1:{self.balancer_port}"

    @property
    def server_public(self) -> bytes:
        return public_key(base64.b64decode(self.env["FERRY_SERVER_KEY"]))

    def config(self) -> Config:
        """The deployment's configuration, as an operator's tool would see it."""
        return Config(
            data_dir=self.dir / "admin",
            database_url=self.env["FERRY_DATABASE_URL"],
            server_key=self.env["FERRY_SERVER_KEY"],
        )

    async def start(self, node: Node) -> None:
        await node.proc.start()
        async with ClientSession() as http:
            await eventually(lambda: healthy(http, node.url), timeout=60)

    async def account(self, phone: str, password: str) -> int:
        return await create_account(self.config(), phone, password, verified=True)

    async def pairing_uri(self, phone: str, url: str) -> str:
        return (await create_pairing_code(self.config(), phone, url)).uri

    async def device(self, account_id: int, name: str) -> tuple[int, bytes]:
        """A bridge registered straight in the database; its id and private key."""
        private, public = generate_keypair()
        engine = create_engine(self.env["FERRY_DATABASE_URL"])
        try:
            device_id = await DeviceStore(engine).create(
                account_id, name, public, datetime.now(UTC)
            )
        finally:
            await engine.dispose()
        return device_id, private


def _haproxy_config(port: int, nodes: list[Node]) -> str:
    servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.port} check" for n in nodes)
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    # Websockets: the bridge and the tabs keep theirs open for as long as they run.
    timeout tunnel 1h
    option forwardfor
    # A connection to a node that just died is tried once more on another.
    option redispatch
    retries 2

frontend ferry
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
{servers}
"""


@asynccontextmanager
async def open_cluster(
    directory: Path,
    *,
    count: int = 2,
    redis_url: str = REDIS_URL,
    log_level: str = "INFO",
    env: dict[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    """``count`` nodes and HAProxy in front, started; everything stopped afterwards."""
    balancer_bin = haproxy()
    if not await redis_answers(redis_url):
        pytest.skip(f"Redis at {redis_url} does not answer")
    directory.mkdir(parents=True, exist_ok=True)
    async with shared_database(directory) as database_url:
        private, _ = generate_keypair()
        prefix = f"ferry-test-{secrets.token_hex(6)}:"
        env = {
            **(env or {}),
            "FERRY_DATABASE_URL": database_url,
            "FERRY_REDIS_URL": redis_url,
            "FERRY_REDIS_PREFIX": prefix,
            "FERRY_SERVER_KEY": base64.b64encode(private).decode(),
            "FERRY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "FERRY_CODE_KEY": secrets.token_hex(32),
            "FERRY_TRUSTED_PROXIES": "127.0.0.1",
        }
        nodes = []
        for i in range(count):
            port, data = free_port(), directory / f"node{i}"
            argv = [sys.executable, "-m", "server", "serve", "--port", str(port)]
            argv += ["--data-dir", str(data)]
            proc = Proc(argv, directory / f"node{i}.log", log_level, env=env)
            nodes.append(Node(f"node{i}", port, proc))
        port = free_port()
        config_file = directory / "haproxy.cfg"
        config_file.write_text(_haproxy_config(port, nodes))
        balancer = Proc([balancer_bin, "-db", "-f", str(config_file)], directory / "haproxy.log")
        cluster = Cluster(directory, nodes, balancer, port, env)
        # Migrated once before the nodes start (they would otherwise race to do it).
        await create_account(cluster.config(), "+15550109999", "cluster admin!", verified=False)
        try:
            await asyncio.gather(*(cluster.start(n) for n in nodes))
            await balancer.start()
            async with ClientSession() as http:
                await eventually(lambda: healthy(http, cluster.url), timeout=30)
            yield cluster
        finally:
            for node in nodes:
                await node.proc.stop()
            await balancer.stop()
            await forget(redis_url, prefix)


async def sign_in(http: ClientSession, url: str, phone: str, password: str) -> None:
    async with http.post(
        f"{url}/api/v1/session", json={"phone": phone, "password": password}
    ) as resp:
        assert resp.status == 200, await resp.text()


_codec: Codec[ServerToBrowser] = Codec(ServerToBrowser, max_size=16 << 20)


@dataclass
class Tab:
    """A signed-in browser tab's socket to ``url`` (see the module docstring)."""

    http: ClientSession
    url: str
    #: Every (message id, seq) received, counted: more than 1 is a message sent twice.
    received: Counter[tuple[int, int]] = field(default_factory=Counter)
    messages: dict[int, MessageView] = field(default_factory=dict)
    devices: list[DeviceView] = field(default_factory=list)
    cursor: int = 0
    epoch: str | None = None
    resyncs: int = 0
    #: Close codes of the sockets it had, in order (None: the connection failed).
    closes: list[int | None] = field(default_factory=list)
    connections: int = 0
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> Tab:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def ended(self) -> bool:
        """Its session ended (closed with 4401): it no longer reconnects."""
        return self._task is not None and self._task.done()

    def bodies(self) -> Counter[str]:
        return Counter(m.body for m in self.messages.values() if not m.deleted)

    async def _run(self) -> None:
        pause = 0.05
        while True:
            code = await self._connect_once()
            self.closes.append(code)
            if code == 4401:
                return
            await asyncio.sleep(pause)
            pause = min(1.0, pause * 2)

    async def _connect_once(self) -> int | None:
        self.subscribed.clear()
        try:
            ws = await self.http.ws_connect(
                f"{self.url}/api/v1/ws", headers={"Origin": self.url}, heartbeat=None
            )
        except (TimeoutError, OSError, aiohttp.ClientError):
            return None
        self.connections += 1
        try:
            await ws.send_str(encode_text(Subscribe(since=self.cursor, epoch=self.epoch)))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and self._frame(_codec.decode(msg.data)):
                    # Refetch (here: from the start) and subscribe again, as the page does.
                    await ws.send_str(encode_text(Subscribe(since=0)))
            return ws.close_code
        except (OSError, aiohttp.ClientError):
            return None
        finally:
            await ws.close()

    def _frame(self, frame: object) -> bool:
        """Take in one frame; True if the tab must subscribe again (after a resync)."""
        if isinstance(frame, Changes):
            for m in frame.messages:
                self.received[(m.id, m.seq)] += 1
                self.messages[m.id] = m
            self.cursor, self.epoch = frame.upto, frame.epoch
        elif isinstance(frame, Devices):
            self.devices = frame.devices
            self.subscribed.set()  # sent once the socket is caught up and followed
        elif isinstance(frame, Resync):
            # Another history: the page drops what it holds and refetches (a database
            # rewound, or a node killed while renewing its mark: server/continuity.py).
            self.resyncs += 1
            self.cursor, self.epoch = 0, None
            self.received.clear()
            self.messages.clear()
            return True
        return False
