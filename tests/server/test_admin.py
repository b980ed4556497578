"""Operator commands around accounts and security events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import argon2
import pytest

from server import cli
from server.admin import AdminError, create_account
from server.config import Config
from server.storage.engine import create_engine
from server.storage.security import SecurityEventStore


async def test_admin_refuses_common_passwords_and_lists_security_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(data_dir=tmp_path, password_params=argon2.profiles.CHEAPEST)
    with pytest.raises(AdminError, match="common"):
        await create_account(config, "+15550100001", "password123", verified=True)
    account_id = await create_account(config, "+1 555 010 0001", "a fine password", verified=True)
    engine = create_engine(config.db_url)
    try:
        when = datetime(2026, 11, 1, tzinfo=UTC)
        await SecurityEventStore(engine).record(account_id, "device_added", when, ip="127.0.0.9")
    finally:
        await engine.dispose()
    monkeypatch.setenv("FERRY_DATA_DIR", str(tmp_path))
    # The CLI runs its own event loop; run it in a worker thread from this test's loop.
    code = await asyncio.to_thread(
        cli.main,
        [
            "admin",
            "security-events",
            "--phone",
            "+15550100001",
            "--reason",
            "ticket 4711: user asks about a sign-in",
        ],
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "device_added" in out and "127.0.0.9" in out and "2026-11-01" in out
