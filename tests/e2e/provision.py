"""Set up an account and a bridge for tests that run the real processes."""

from __future__ import annotations

from pathlib import Path

from server.admin import add_device, create_account
from server.config import Config


async def provision(data: Path, url: str, phone: str, password: str, bridge_dir: Path) -> list[str]:
    """Create a verified account and register a bridge; returns the bridge's CLI arguments."""
    config = Config(data_dir=data)
    await create_account(config, phone, password, verified=True)
    creds = bridge_dir / "device.json"
    await add_device(config, phone, "crash-test bridge", creds, url)
    return ["--credentials", str(creds)]
