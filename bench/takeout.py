"""``python -m bench.takeout [--messages N]``: export and import of a large account, and
the memory they take.

An account of N messages (default 100,000; one in 100 an MMS with a 100 KiB picture) is
stored through the ingest path; then its export is written (the sealed ZIP) and its
``sms-backup.xml`` imported into a fresh account, each timed, with the Python heap's peak
(``tracemalloc``) during each. The baseline is the data itself: the export's size and the
bytes of all attachments. A streamed export and import stay far below both; one that
held the account in memory would exceed them. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import tempfile
import time
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import argon2

from protocol.messages import Attachment
from server.privacy.takeout import sealedfile
from server.privacy.takeout.export import XML_NAME, write_export
from server.privacy.takeout.importer import import_backup
from server.storage.accounts import AccountStore
from server.storage.conversations import ConversationStore, Inbound
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine, migrate
from server.storage.keys import KeyRing
from server.storage.lines import LineStore
from server.storage.takeout import TakeoutStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PICTURE = 100 * 1024


async def _populate(
    convs: ConversationStore, account_id: int, device_id: int, line_id: int, n: int
) -> int:
    """Store ``n`` messages in batches, as bridges upload them; returns attachment bytes."""
    picture = os.urandom(PICTURE)
    attached = 0
    for start in range(0, n, 500):
        batch = []
        for i in range(start, min(n, start + 500)):
            parts = ()
            if i % 100 == 0:
                parts = (Attachment("image/jpeg", picture[:-8] + i.to_bytes(8, "big"), "p.jpg"),)
                attached += PICTURE
            batch.append(
                Inbound(
                    f"k{i}",
                    line_id,
                    f"+1555010{i % 500:04d}",
                    f"message {i}: " + "lorem ipsum dolor sit amet " * 3,
                    T0 + timedelta(seconds=i),
                    attachments=parts,
                    direction="in" if i % 3 else "out",
                    status="received" if i % 3 else "delivered",
                )
            )
        await convs.ingest_inbound(account_id, device_id, batch, T0)
    return attached


async def _noop(*_: Any) -> None:
    return None


async def run(messages: int, work: Path) -> dict[str, Any]:
    engine = create_engine(f"sqlite+aiosqlite:///{work / 'bench.db'}")
    await migrate(engine)
    keys = KeyRing(engine, secrets.token_bytes(32))
    accounts, lines = AccountStore(engine), LineStore(engine)
    convs, store = ConversationStore(engine, keys), TakeoutStore(engine, keys)
    hasher = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
    owner = await accounts.create("+15550100001", hasher.hash("x"), T0, verified_at=T0)
    other = await accounts.create("+15550100099", hasher.hash("x"), T0, verified_at=T0)
    line = (await lines.for_account(owner))[0]
    target = (await lines.for_account(other))[0]
    started = time.perf_counter()
    device = await DeviceStore(engine).create(owner, "bench", os.urandom(32), T0)
    attached = await _populate(convs, owner, device, line.id, messages)
    populate_s = time.perf_counter() - started

    key = os.urandom(32)
    zpath = work / "export.zip"
    tracemalloc.start()
    started = time.perf_counter()
    size = await write_export(store, owner, zpath, key, T0, _noop)
    export_s = time.perf_counter() - started
    _, export_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The XML out of the sealed ZIP, streamed to a file of its own.
    xml = work / "sms-backup.xml"
    with (
        sealedfile.open_sealed(zpath, key, zpath.name.encode()) as f,
        tempfile.SpooledTemporaryFile(max_size=1 << 20, dir=work) as spooled,
    ):
        while chunk := f.read(1 << 20):
            spooled.write(chunk)
        spooled.seek(0)
        with zipfile.ZipFile(spooled) as zf, zf.open(XML_NAME) as src, xml.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    xml_size = xml.stat().st_size

    tracemalloc.start()
    started = time.perf_counter()
    summary = await import_backup(
        store,
        other,
        target,
        lambda: io.BufferedReader(xml.open("rb")),  # type: ignore[arg-type]
        xml_size,
        lambda: T0,
        _noop,
        _noop,
    )
    import_s = time.perf_counter() - started
    _, import_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await engine.dispose()
    mib = 1024 * 1024
    return {
        "messages": messages,
        "attachment_mib": round(attached / mib, 1),
        "populate_s": round(populate_s, 1),
        "export": {
            "seconds": round(export_s, 1),
            "zip_mib": round(size / mib, 1),
            "peak_heap_mib": round(export_peak / mib, 1),
        },
        "import": {
            "seconds": round(import_s, 1),
            "xml_mib": round(xml_size / mib, 1),
            "peak_heap_mib": round(import_peak / mib, 1),
            "added": summary.added,
            "refused": summary.refused,
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.takeout", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=100_000)
    ns = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferry-takeout-") as tmp:
        print(json.dumps(asyncio.run(run(ns.messages, Path(tmp))), indent=1))


if __name__ == "__main__":
    main()
