from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import argon2
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from protocol.link import generate_keypair
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from server.services import Services
from server.storage.schema import metadata
from tests.device_link import DeviceClient, connect
from tests.fakes.clock import FakeClock
from tests.fakes.sms import FakeSms
from tests.server.postgres import ENV, Postgres, admin_url, dsn, reachable, run, shown

PHONE = "+15550100001"
#: The terms version a sign-up accepts (the shipped default).
TERMS = Config.terms_version
PASSWORD = "correct horse battery"


@dataclass
class Env:
    client: TestClient
    svc: Services
    clock: FakeClock
    account_id: int
    device_id: int
    #: The bridge's static private key; the device row holds its public half.
    device_key: bytes
    sms: FakeSms
    _others: list[aiohttp.ClientSession] = field(default_factory=list)

    async def device(self, key: bytes | None = None, **kw: object) -> DeviceClient:
        """A bridge connected over the encrypted link (handshake done)."""
        return await connect(self.client, key or self.device_key, self.svc.server_public, **kw)  # type: ignore[arg-type]

    async def login(self, phone: str = PHONE, password: str = PASSWORD) -> None:
        resp = await self.client.post(
            "/api/v1/session", json={"phone": phone, "password": password}
        )
        assert resp.status == 200, await resp.text()

    async def code_for(self, number: str) -> str:
        """The code of the last SMS sent to ``number`` (sends run in the background)."""
        await self.svc.background.drain()
        return self.sms.last_code(number)

    async def signup(self, phone: str, password: str = PASSWORD, **extra: object) -> str:
        """Sign up and sign in (unverified); returns the code sent by SMS."""
        resp = await self.client.post(
            "/api/v1/accounts",
            json={"accept_terms": TERMS, "phone": phone, "password": password, **extra},
        )
        assert resp.status == 202, await resp.text()
        await self.login(phone, password)
        return await self.code_for(phone)

    def session_cookie(self, http: aiohttp.ClientSession | None = None) -> str:
        jar = (http or self.client.session).cookie_jar
        return jar.filter_cookies(self.client.make_url("/"))["ferry_session"].value

    def browser(self) -> aiohttp.ClientSession:
        """Another browser (its own cookie jar) on the same server; relative URLs."""
        other = aiohttp.ClientSession(
            base_url=str(self.client.make_url("/")),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": origin_of(self.client)},
        )
        self._others.append(other)
        return other

    async def close(self) -> None:
        for other in self._others:
            await other.close()


async def stored_bytes(config: Config) -> bytes:
    """Everything the database holds, as bytes: SQLite's file and its WAL; on PostgreSQL
    every value of every table (text encoded, binary as it is)."""
    if config.database_url is None:
        db = config.data_dir / "ferry.db"
        wal = config.data_dir / "ferry.db-wal"
        return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    conn = await asyncpg.connect(dsn(config.database_url))
    try:
        found = bytearray()
        for table in metadata.sorted_tables:
            for row in await conn.fetch(f"SELECT * FROM {table.name}"):
                for value in row.values():
                    if isinstance(value, bytes | str):
                        found += value if isinstance(value, bytes) else value.encode()
        return bytes(found)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def write_lock(config: Config) -> AsyncIterator[None]:
    """Another process holds the database's write lock meanwhile (a long ingest, a
    backup): on SQLite ``BEGIN IMMEDIATE``; on PostgreSQL every table in EXCLUSIVE mode
    (every write waits, reads go on, as with SQLite's lock)."""
    if config.database_url is None:
        db = sqlite3.connect(config.data_dir / "ferry.db", isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()
        return
    conn = await asyncpg.connect(dsn(config.database_url))
    try:
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        await conn.execute(f"BEGIN; LOCK TABLE {tables} IN EXCLUSIVE MODE")
        yield
    finally:
        await conn.close()  # ends the transaction (rolled back)


def origin_of(client: TestClient) -> str:
    """The origin of the test server's pages (``http://127.0.0.1:<port>``)."""
    return str(client.make_url("/")).rstrip("/")


# ------------------------------------------------------------------ backends
#
# Every test that uses ``config`` (so ``env``), ``database_url`` or ``backend`` runs twice:
# on SQLite (a file in the test's data directory) and on PostgreSQL (the run's database,
# emptied before the test; see tests/server/postgres.py). The PostgreSQL leg skips, saying
# why, when no server answers; it fails when FERRY_TEST_POSTGRES_URL names one that does
# not. These modules run on SQLite only: they test the network, TLS, the device link's
# encryption, throttles, number formats, the command line or SQLite itself (its backups),
# and a second database would only double their time.
SQLITE_ONLY_MODULES = frozenset(
    {
        "test_cli",
        "test_code_sends",
        "test_device_link",
        "test_fuzz",  # 30 s of schemathesis (run on PostgreSQL once: no 5xx there either)
        "test_keys_tls",
        "test_net",
        "test_ops_backup",  # SQLite's online backup (PostgreSQL's is pg_dump)
        "test_peer_numbers",
        "test_proxies",
        "test_runner",  # SQLite's writer thread and raw sqlite3 statements
        "test_signin_throttle",
        "test_socket_closed_under_us",
        "test_sockets",
        "test_web_security",
    }
)
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test reaches into SQLite itself; no PostgreSQL leg"
    )
    config.addinivalue_line(
        "markers", "postgresql_only(reason): what it tests exists only with PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in SQLITE_ONLY_MODULES or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    if metafunc.definition.get_closest_marker("postgresql_only"):
        metafunc.parametrize("backend", BACKENDS[1:], indirect=True)
        return
    metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The run's PostgreSQL databases (skips when no server answers)."""
    url, explicit = admin_url()
    why = run(lambda: reachable(url))
    if why is not None:
        message = f"PostgreSQL leg: no server at {shown(url)} ({why})"
        if explicit:  # named on purpose: a broken setup must not pass as a skip
            pytest.fail(f"{message}, which {ENV} names")
        pytest.skip(f"{message}; set {ENV} to name one")
    pg = Postgres(url)
    pg.create()
    try:
        yield pg
    finally:
        pg.drop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (then the run's database is emptied first)."""
    name = str(getattr(request, "param", "sqlite"))
    if name == "postgresql":
        request.getfixturevalue("postgres").reset()
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The test's database; ``None`` for SQLite in the data directory (the default)."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres").url)
    return None


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database (no tables): for tests of migrations."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres").empty())
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path, database_url: str | None) -> Config:
    # The cheapest argon2 parameters keep the suite fast; production cost is in Config.
    return Config(
        data_dir=tmp_path / "var",
        database_url=database_url,
        handshake_timeout=2.0,
        password_params=argon2.profiles.CHEAPEST,
    )


@pytest.fixture
async def env(aiohttp_client, config: Config, clock: FakeClock) -> AsyncIterator[Env]:
    client = await aiohttp_client(create_app(config, clock=clock))
    # Like a browser, which sends its page's origin on every websocket (the browser socket
    # refuses an upgrade without one).
    client.session.headers["Origin"] = origin_of(client)
    svc = client.app[SERVICES]
    sms = FakeSms()
    svc.verification.gateway = sms
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), clock.now(), verified_at=clock.now()
    )
    private, public = generate_keypair()
    device_id = await svc.devices.create(account_id, "test bridge", public, clock.now())
    env = Env(client, svc, clock, account_id, device_id, private, sms)
    yield env
    await env.close()
