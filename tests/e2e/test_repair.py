"""A server restored from an old backup is repaired by its bridge: nothing acknowledged is lost."""

from __future__ import annotations

import shutil

from tests.e2e.conftest import PHONE1, PHONE2, System, eventually, start_server


async def _bodies(system: System) -> list[str]:
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None
    threads, _ = await system.svc.conversations.threads(account.id)
    if not threads:
        return []
    msgs, _ = await system.svc.conversations.thread_messages(
        account.id, threads[0].id, before=None, limit=50
    )
    return sorted(m.body for m in msgs)


async def test_bridge_repairs_a_server_restored_from_backup(system: System) -> None:
    db = system.config.data_dir / "ferry.db"
    backup = system.config.data_dir / "backup.db"
    system.emulator.network.send_text(PHONE2, PHONE1, "before the backup")
    await eventually(lambda: system.bridge.journal.acked_n() >= 1)
    await system.runner.cleanup()  # a clean stop checkpoints the WAL into ferry.db
    shutil.copy(db, backup)
    system.runner = await start_server(system.config)
    for n in range(3):
        system.emulator.network.send_text(PHONE2, PHONE1, f"after the backup {n}")

    async def all_four() -> bool:
        return len(await _bodies(system)) == 4

    await eventually(all_four)
    await eventually(lambda: system.bridge.journal.inbound_count() == 0)
    # Disaster: the server is restored from the old backup.
    await system.runner.cleanup()
    for suffix in ("", "-wal", "-shm"):
        (db.parent / (db.name + suffix)).unlink(missing_ok=True)
    shutil.copy(backup, db)
    system.runner = await start_server(system.config)
    # The restored server knows one message; the bridge notices and repairs the rest.
    await eventually(all_four)
    assert await _bodies(system) == [
        "after the backup 0",
        "after the backup 1",
        "after the backup 2",
        "before the backup",
    ]
