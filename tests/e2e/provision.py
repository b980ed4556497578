"""Set up an account and a paired bridge for tests that run the real processes."""

from __future__ import annotations

from pathlib import Path

from device_bridge.pairing import pair
from server.admin import create_account, create_pairing_code
from server.config import Config


async def prepare(data: Path, url: str, phone: str, password: str) -> str:
    """Create a verified account and a pairing code; returns the pairing URI."""
    config = Config(data_dir=data)
    await create_account(config, phone, password, verified=True)
    return (await create_pairing_code(config, phone, url)).uri


async def pair_bridge(bridge_dir: Path, uri: str) -> list[str]:
    """Pair through the real flow (the server must be up); returns ``bridge run`` arguments."""
    await pair(bridge_dir, uri, name="crash-test bridge")
    return ["--data-dir", str(bridge_dir)]
