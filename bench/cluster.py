"""Several ``ferry serve`` nodes for the benchmark: PostgreSQL, Redis, HAProxy in front.

:func:`running_cluster` starts ``count`` real nodes (``python -m server serve``, the
deployed code path) on a scratch PostgreSQL database of their own (dropped after), with
Redis (``127.0.0.1:6379``, a key prefix of the run's own, deleted after) carrying hints
between them, and HAProxy in front (round robin, health checks, ``option forwardfor``
trusted by the nodes), as ``tests/e2e/cluster.py`` does for the tests. Two accounts are
seeded and signed in, each with a bridge connected straight to node *i mod count*.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import postgres
from bench.bridge import BridgeCredentials, SyntheticBridge, register_device
from bench.procs import ServerProcess, free_port, spawn, spawn_argv
from bench.target import PASSWORD, Context
from protocol.link import generate_keypair, public_key
from server.auth.passwords import Passwords
from server.auth.web import DEV_COOKIE
from server.clock import SystemClock
from server.config import Config
from server.storage.accounts import AccountStore
from server.storage.engine import create_engine, migrate

REDIS_URL = "redis://127.0.0.1:6379/0"
PHONES = ("+15550100011", "+15550100012")


def haproxy_path() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError("HAProxy is not installed (Debian: apt-get install haproxy)")
    return found


def _haproxy_config(port: int, node_ports: list[int], maxconn: int) -> str:
    servers = "\n".join(f"    server node{i} 127.0.0.1:{p} check" for i, p in enumerate(node_ports))
    return f"""global
    maxconn {maxconn}

defaults
    mode http
    maxconn {maxconn}
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    timeout tunnel 1h
    # A node busy accepting thousands of sockets answers its health check late; a
    # benchmark must not take it out of rotation for that.
    timeout check 5s
    option forwardfor

frontend ferry
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 2s fall 5 rise 1
{servers}
"""


@dataclass
class Account:
    account_id: int
    phone: str
    creds: BridgeCredentials
    cookie: str = ""
    bridge: SyntheticBridge | None = None
    next_n: int = 1

    def take(self, count: int) -> list[int]:
        first = self.next_n
        self.next_n += count
        return list(range(first, first + count))


@dataclass
class Cluster:
    nodes: list[ServerProcess]
    balancer: ServerProcess
    accounts: list[Account]

    @property
    def url(self) -> str:
        return self.balancer.base_url


async def _seed(database_url: str, server_public: bytes, data_dir: Path) -> list[Account]:
    config = Config(data_dir=data_dir, database_url=database_url)
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        now = SystemClock().now()
        hashed = Passwords(config.password_params).hash(PASSWORD)
        out = []
        for phone in PHONES:
            account_id = await AccountStore(engine).create(phone, hashed, now, verified_at=now)
            creds = await register_device(engine, account_id, now, server_public)
            out.append(Account(account_id, phone, creds))
        return out
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_cluster(ctx: Context, count: int, name: str) -> AsyncIterator[Cluster]:
    """``count`` nodes on a fresh database, HAProxy in front; accounts seeded, signed in,
    bridge *i* connected straight to node *i mod count*."""
    work = ctx.work_dir / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, mode=0o700)
    private, _ = generate_keypair()
    prefix = f"ferry-bench-{secrets.token_hex(5)}:"
    async with postgres.scratch_database() as dsn:
        database_url = postgres.sqlalchemy_url(dsn)
        accounts = await _seed(database_url, public_key(private), work / "admin")
        env = {
            "FERRY_DATABASE_URL": database_url,
            "FERRY_REDIS_URL": REDIS_URL,
            "FERRY_REDIS_PREFIX": prefix,
            "FERRY_SERVER_KEY": base64.b64encode(private).decode(),
            "FERRY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "FERRY_CODE_KEY": secrets.token_hex(32),
            "FERRY_TRUSTED_PROXIES": "127.0.0.1",
            # Thousands of synthetic tabs come from one loopback address.
            "FERRY_MAX_CONNECTIONS_PER_IP": "0",
            "FERRY_LOG_LEVEL": "INFO",
        }
        nodes: list[ServerProcess] = []
        balancer: ServerProcess | None = None
        try:
            for i in range(count):
                port = free_port()
                args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
                args += ["--data-dir", str(work / f"node{i}")]
                nodes.append(await spawn("server", args, work / f"node{i}.log", port, env))
            port = free_port()
            config = work / "haproxy.cfg"
            config.write_text(_haproxy_config(port, [n.port for n in nodes], 8_000))
            balancer = await spawn_argv(
                [haproxy_path(), "-db", "-f", str(config)], work / "haproxy.log", port
            )
            cluster = Cluster(nodes, balancer, accounts)
            async with aiohttp.ClientSession() as http:
                for i, account in enumerate(accounts):
                    account.cookie = await _sign_in(http, cluster.url, account.phone)
                    node = nodes[i % count]
                    account.bridge = SyntheticBridge(node.base_url, account.creds, http)
                    await account.bridge.connect()
                try:
                    yield cluster
                finally:
                    for account in accounts:
                        if account.bridge is not None:
                            await account.bridge.close()
        finally:
            for node in nodes:
                await node.stop()
            if balancer is not None:
                await balancer.stop()
            await _forget(prefix)


async def _sign_in(http: aiohttp.ClientSession, url: str, phone: str) -> str:
    async with http.post(
        f"{url}/api/v1/session",
        json={"phone": phone, "password": PASSWORD},
        headers={"Origin": url},
    ) as resp:
        resp.raise_for_status()
        return resp.cookies[DEV_COOKIE].value


async def _forget(prefix: str) -> None:
    """Delete the run's keys from Redis."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
