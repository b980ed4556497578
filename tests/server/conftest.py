from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import argon2
import pytest
from aiohttp.test_utils import TestClient

from protocol.link import generate_keypair
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from server.services import Services
from tests.device_link import DeviceClient, connect
from tests.fakes.clock import FakeClock
from tests.fakes.sms import FakeSms

PHONE = "+15550100001"
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
            "/api/v1/accounts", json={"phone": phone, "password": password, **extra}
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


def origin_of(client: TestClient) -> str:
    """The origin of the test server's pages (``http://127.0.0.1:<port>``)."""
    return str(client.make_url("/")).rstrip("/")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    # The cheapest argon2 parameters keep the suite fast; production cost is in Config.
    return Config(
        data_dir=tmp_path / "var", handshake_timeout=2.0, password_params=argon2.profiles.CHEAPEST
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
