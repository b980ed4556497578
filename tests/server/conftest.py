from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from protocol.link import generate_keypair
from server.api.common import SERVICES
from server.app import create_app
from server.auth.passwords import hash_password
from server.config import Config
from server.services import Services
from tests.device_link import DeviceClient, connect
from tests.fakes.clock import FakeClock

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

    async def device(self, key: bytes | None = None, **kw: object) -> DeviceClient:
        """A bridge connected over the encrypted link (handshake done)."""
        return await connect(self.client, key or self.device_key, self.svc.server_public, **kw)  # type: ignore[arg-type]

    async def login(self, phone: str = PHONE, password: str = PASSWORD) -> None:
        resp = await self.client.post(
            "/api/v1/session", json={"phone": phone, "password": password}
        )
        assert resp.status == 200, await resp.text()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path / "var", handshake_timeout=2.0)


@pytest.fixture
async def env(aiohttp_client, config: Config, clock: FakeClock) -> AsyncIterator[Env]:
    client = await aiohttp_client(create_app(config, clock=clock))
    svc = client.app[SERVICES]
    account_id = await svc.accounts.create(
        PHONE, hash_password(PASSWORD), clock.now(), verified_at=clock.now()
    )
    private, public = generate_keypair()
    device_id = await svc.devices.create(account_id, "test bridge", public, clock.now())
    yield Env(client, svc, clock, account_id, device_id, private)
