"""A message's identity survives the device row: pairing again, replacing a bridge and
restoring the server from a backup never store an SMS twice, and lose none."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.android import AdbPhone
from device_bridge.drivers.base import InboxView, Received
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from server.api.common import SERVICES
from server.services import Services
from server.storage.schema import attachments, devices, messages
from tests.device_link import new_pairing_code
from tests.e2e.conftest import PHONE1, PHONE2, System, eventually, start_server
from tests.e2e.test_android_to_server import AndroidSystem
from tests.e2e.test_android_to_server import android as android  # the fixture
from tests.fakes.android import JPEG, SERIAL


async def inbound(svc: Services) -> Counter[str]:
    """Bodies of the inbound messages a user sees, with how often each is stored."""
    account = await svc.accounts.by_phone(PHONE1)
    assert account is not None
    found: Counter[str] = Counter()
    threads, _ = await svc.conversations.threads(account.id)
    for thread in threads:
        msgs, _ = await svc.conversations.thread_messages(
            account.id, thread.id, before=None, limit=500
        )
        found.update(m.body for m in msgs if m.direction == "in")
    return found


async def repair_done(system: System) -> bool:
    """The newest device row acknowledged everything the bridge ever had acknowledged."""
    async with system.svc.engine.connect() as conn:
        acked = (
            await conn.execute(
                select(func.max(devices.c.acked_n)).where(devices.c.revoked_at.is_(None))
            )
        ).scalar_one()
    return int(acked or 0) >= system.bridge.journal.acked_n()


async def pair_again(system: System, tmp_path: Path) -> None:
    """The user pairs the same bridge again (same data directory, journal kept)."""
    await system.stop_bridge()
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None
    offer = await new_pairing_code(system.svc, account.id, system.url)
    await pair(tmp_path / "bridge", offer.uri, name="paired again", force=True)
    bridge = Bridge(
        system.bridge.modem,
        system.bridge.journal,
        load_identity(tmp_path / "bridge"),
        link_backoff=Backoff(base=0.05, cap=0.5),
        modem_backoff=Backoff(base=0.05, cap=0.5),
    )
    system.bridge = bridge
    system.bridge_task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.link.connected.wait(), 10)


async def texts(system: System, *bodies: str) -> None:
    for body in bodies:
        system.emulator.network.send_text(PHONE2, PHONE1, body)

    async def arrived() -> bool:
        return set(bodies) <= set(await inbound(system.svc))

    await eventually(arrived)
    await eventually(lambda: system.bridge.journal.inbound_count() == 0)


async def test_pairing_again_keeps_one_copy_of_every_message(
    system: System, tmp_path: Path
) -> None:
    await texts(system, "one", "two", "three")
    await pair_again(system, tmp_path)
    await texts(system, "four")
    # The journal's history went up again as a repair against the new device row.
    await eventually(lambda: repair_done(system))
    assert await inbound(system.svc) == Counter(["one", "two", "three", "four"])


async def test_pairing_again_after_a_revoke_keeps_one_copy(system: System, tmp_path: Path) -> None:
    await texts(system, "one", "two")
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None
    (old,) = await system.svc.devices.for_account(account.id)
    await system.svc.devices.revoke(account.id, old.id, system.svc.clock.now())
    await pair_again(system, tmp_path)
    await texts(system, "three")
    await eventually(lambda: repair_done(system))
    assert await inbound(system.svc) == Counter(["one", "two", "three"])


async def test_a_restore_from_before_the_pairing_is_repaired_complete_and_single(
    system: System, tmp_path: Path
) -> None:
    db = system.config.data_dir / "ferry.db"
    backup = tmp_path / "yesterday.db"
    await texts(system, "before the backup")
    await system.runner.cleanup()  # a clean stop checkpoints the WAL into ferry.db
    shutil.copy(db, backup)
    system.runner = await start_server(system.config)
    # Since the backup: the bridge was paired again (an upgrade) and more arrived.
    await pair_again(system, tmp_path)
    await texts(system, "after 1", "after 2")
    # Disaster: the server comes back from yesterday's backup, which knows neither the
    # new pairing nor the two messages. The user pairs the bridge once more.
    await system.stop_bridge()
    await system.runner.cleanup()
    for suffix in ("", "-wal", "-shm"):
        (db.parent / (db.name + suffix)).unlink(missing_ok=True)
    shutil.copy(backup, db)
    system.runner = await start_server(system.config)
    await pair_again(system, tmp_path)
    await eventually(lambda: repair_done(system))

    async def complete() -> bool:
        return set(await inbound(system.svc)) == {"before the backup", "after 1", "after 2"}

    await eventually(complete)
    assert await inbound(system.svc) == Counter(["before the backup", "after 1", "after 2"])


async def test_a_replaced_android_bridge_reads_the_phone_again_without_doubles(
    android: AndroidSystem, tmp_path: Path
) -> None:
    android.phone.add_sms("one")
    android.phone.add_sms("two")
    android.phone.add_mms("photo", [("image/jpeg", "a.jpg", JPEG)])
    first = await android.start_bridge()

    async def three() -> bool:
        return len(await android.messages()) == 3

    await eventually(three)
    await eventually(lambda: first.journal.inbound_count() == 0)
    await android.stop_bridge()
    # A new computer: a new data directory, a new pairing, an empty journal that reads
    # the phone's whole inbox again.
    from server.api.common import SERVICES

    svc = android.runner.app[SERVICES]
    account = await svc.accounts.by_phone(PHONE1)
    offer = await new_pairing_code(svc, account.id, android.url)
    android.bridge_dir = tmp_path / "new computer"
    await pair(android.bridge_dir, offer.uri, name="replacement")
    android.phone.add_sms("three")
    second = await android.start_bridge()
    await eventually(lambda: second.journal.cursors().get("android:sms", 0) >= 3)
    await eventually(lambda: second.journal.inbound_count() == 0)
    assert await android.bodies() == ["one", "photo", "three", "two"]
    async with svc.engine.connect() as conn:
        parts = (await conn.execute(select(func.count()).select_from(attachments))).scalar_one()
    assert parts == 1
    with contextlib.suppress(Exception):
        await android.stop_bridge()


class _FirstKeysPhone(AdbPhone):
    """The ADB driver as first released: a row keyed by its id alone (``android:sms:1``)."""

    async def poll_new(self, view: InboxView, limit: int) -> list[Received]:
        found = await super().poll_new(view, limit)
        return [dataclasses.replace(r, key=r.key.rsplit(":", 1)[0]) for r in found]


async def test_messages_stored_under_the_first_adb_keys_are_not_stored_again(
    android: AndroidSystem, tmp_path: Path
) -> None:
    """A bridge of the first release stored the inbox under ``android:sms:<_id>``; its
    replacement (an empty journal, today's keys ``…:<_id>:<date>``) reads the phone
    again: nothing twice, and a reused id with another message is still stored."""
    android.phone.add_sms("one")
    android.phone.add_sms("two")
    android.phone.add_mms("photo", [("image/jpeg", "a.jpg", JPEG)])
    old = Bridge(
        _FirstKeysPhone(SERIAL),
        Journal(android.bridge_dir / "journal.db"),
        load_identity(android.bridge_dir),
        poll_interval=0.1,
        link_backoff=Backoff(base=0.05, cap=0.5),
        modem_backoff=Backoff(base=0.05, cap=0.5),
    )
    android.bridge, android.task = old, asyncio.create_task(old.run())
    await eventually(lambda: old.journal.acked_n() >= 3)
    await android.stop_bridge()
    svc = android.runner.app[SERVICES]
    async with svc.engine.connect() as conn:
        keys = set((await conn.execute(select(messages.c.device_key))).scalars())
    assert keys == {"android:sms:1", "android:sms:2", "android:mms:1"}
    # On the phone: "two" deleted, and its id reused by a newer message.
    android.phone.state["sms"] = [r for r in android.phone.state["sms"] if r["_id"] != 2]
    android.phone.add_sms("three")
    android.phone.state["sms"][-1]["date"] += 3_600_000
    android.phone.save()
    account = await svc.accounts.by_phone(PHONE1)
    assert account is not None
    offer = await new_pairing_code(svc, account.id, android.url)
    android.bridge_dir = tmp_path / "new computer"
    await pair(android.bridge_dir, offer.uri, name="replacement")
    second = await android.start_bridge()
    await eventually(lambda: second.journal.acked_n() >= 3)
    assert await inbound(svc) == Counter(["one", "two", "photo", "three"])
    async with svc.engine.connect() as conn:
        parts = (await conn.execute(select(func.count()).select_from(attachments))).scalar_one()
        keys = set((await conn.execute(select(messages.c.device_key))).scalars())
    assert parts == 1
    # Rewritten to today's form as they were recognised; "two" was not read again.
    sms, mms = android.phone.state["sms"], android.phone.state["mms"]
    assert keys == {
        f"android:sms:1:{sms[0]['date']}",
        "android:sms:2",
        f"android:mms:1:{mms[0]['date']}",
        f"android:sms:2:{sms[1]['date']}",
    }
    await android.stop_bridge()
