"""Operator commands around accounts and security events."""

from __future__ import annotations

from pathlib import Path

import argon2
import pytest

from server import cli
from server.admin import AdminError, add_device, create_account
from server.config import Config


async def test_admin_refuses_common_passwords_and_lists_security_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(data_dir=tmp_path, password_params=argon2.profiles.CHEAPEST)
    with pytest.raises(AdminError, match="common"):
        await create_account(config, "+15550100001", "password123", verified=True)
    await create_account(config, "+1 555 010 0001", "a fine password", verified=True)
    await add_device(config, "+15550100001", "modem", tmp_path / "dev.json", "http://x")
    monkeypatch.setenv("FERRY_DATA_DIR", str(tmp_path))
    # The CLI runs its own event loop; run it in a worker thread from this test's loop.
    import asyncio

    code = await asyncio.to_thread(
        cli.main, ["admin", "security-events", "--phone", "+15550100001"]
    )
    assert code == 0
    assert "device_added" in capsys.readouterr().out
