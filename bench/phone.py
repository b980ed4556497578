"""A phone with a long history, and the real bridge importing it (the ``android`` figure).

:func:`build_phone` writes an Android phone's message stores as a SQLite file (the
tables the fake ``adb`` of ``tests/fakes/adb.py`` answers from): texts, a fifth of them
in the sent box, and picture messages (a text part and a small JPEG each).

``python -m bench.phone --phone-db F --data-dir D`` runs the real bridge (ADB driver,
journal with fsync, Noise link) on that phone until the server acknowledged the whole
history, then prints ``{"seconds", "messages", "rss_before", "peak_rss"}`` as JSON (the
resident size when the bridge starts, and the peak since the process started). The fake ``adb``
answers in this process: the edge without a process per call, which would cost more
than everything measured here. The clock starts when the bridge starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

#: The phone's serial; the fake answers only to it.
SERIAL = "BENCH0001"
_T0_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC
# A tiny but real JPEG header and payload (~2 KB), as a phone keeps a thumbnail-sized photo.
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
_TEXT = "Running late, the train is stuck outside the station. Order for me? #{n}"


def build_phone(path: Path, messages: int, mms_share: float = 0.03) -> tuple[int, int]:
    """Write a phone of ``messages`` messages to ``path``; returns (texts, picture messages)."""
    import base64

    from tests.fakes.adb import create_tables

    pictures = int(messages * mms_share)
    texts = messages - pictures
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        create_tables(db)
        db.executemany(
            "INSERT INTO sms VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (n, f"+1555020{n % 50:04d}", _TEXT.format(n=n), _T0_MS + n * 60_000, 0,
                 2 if n % 5 == 0 else 1, -1)
                for n in range(1, texts + 1)
            ),
        )  # fmt: skip
        photo = base64.b64encode(_JPEG).decode()
        db.executemany(
            "INSERT INTO mms VALUES (?, ?, ?, ?, ?)",
            ((m, _T0_MS // 1000 + m * 600, 0, 132, 1) for m in range(1, pictures + 1)),
        )
        db.executemany(
            "INSERT INTO addr VALUES (?, ?, ?, ?)",
            ((m, m, f"+1555030{m % 50:04d}", 137) for m in range(1, pictures + 1)),
        )
        db.executemany(
            "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row
                for m in range(1, pictures + 1)
                for row in (
                    (2 * m - 1, m, "text/plain", None, None, f"picture {m}", None),
                    (2 * m, m, "image/jpeg", f"IMG_{m}.jpg", None, None, photo),
                )
            ),
        )
        db.commit()
    finally:
        db.close()
    return texts, pictures


async def _import(phone_db: Path, data_dir: Path) -> dict[str, float]:
    from device_bridge.bridge import Bridge
    from device_bridge.credentials import load_identity
    from device_bridge.drivers.android import MMS, SMS, AdbPhone
    from device_bridge.journal import Journal
    from tests.fakes.adb import FakeAdbPhone, in_process_runner

    fake = FakeAdbPhone({"serial": SERIAL, "state": "device"}, sqlite3.connect(phone_db))
    journal = Journal(data_dir / "journal.db")
    bridge = Bridge(
        AdbPhone(SERIAL, runner=in_process_runner(fake)),
        journal,
        load_identity(data_dir),
        poll_interval=0.05,
    )
    before = _status_bytes("VmRSS")
    start = time.perf_counter()
    task = asyncio.create_task(bridge.run())
    try:
        while not (
            journal.flag(f"imported:{SMS}")
            and journal.flag(f"imported:{MMS}")
            and journal.inbound_count() == 0
        ):
            if task.done():
                task.result()  # the bridge failed: say why
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    messages = journal.seen_count()
    journal.close()
    return {
        "seconds": seconds,
        "messages": messages,
        "rss_before": before,
        "peak_rss": _status_bytes("VmHWM"),
    }


def _status_bytes(field: str) -> int:
    """A size from ``/proc/self/status`` (``VmRSS``, or ``VmHWM``: the peak), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.phone")
    p.add_argument("--phone-db", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    ns = p.parse_args(argv)
    print(json.dumps(asyncio.run(_import(ns.phone_db, ns.data_dir))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
