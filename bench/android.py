"""The first import of a phone's history: messages/s, and the memory it takes.

Ferry: a phone of ``android_messages`` messages (3% of them MMS with a picture, a fifth
of the texts in the sent box; :mod:`bench.phone`) imported by the real bridge (ADB
driver, journal with fsync, Noise link) in a process of its own, into the real server in
another; the clock runs from the bridge's start until the server acknowledged the whole
history. Memory: the peak RSS of the bridge process and of the server, reported beside
the figure (the journal and the server stream the history; neither should hold it).
Baseline: bare sqlite3 storing the same number of messages the way the ingest baseline
does (100 per commit, WAL, ``synchronous=FULL``).

The ratio is far below the ingest figure's by nature: each message is read from the
phone (ids, then whole rows; each MMS part on its own) and committed to the bridge's
journal before it is uploaded. The target, 0.03x, is 100,000 messages in about half a
minute on the VM of the report: a first sync the user waits for once.

``android_memory``: the bridge process's peak resident size during the import against
the same process just before it started (modules loaded, journal and phone open). At
most 2x: the history streams through, it is never held.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bench import sms
from bench.baselines import sqlite_ingest
from bench.phone import build_phone
from bench.procs import free_port, spawn
from bench.report import Figure, at_least, at_most
from bench.target import Context, _fresh_dir, seed
from device_bridge.credentials import Credentials, Identity, save_identity
from protocol.pairing import encode_key

TARGET = 0.03
MEMORY_TARGET = 2.0


async def _ferry(ctx: Context) -> dict[str, float]:
    n = ctx.sizes.android_messages
    work = _fresh_dir(ctx.work_dir / "android")
    texts, pictures = build_phone(work / "phone.db", n)
    _, creds = await seed(_fresh_dir(work / "server"))
    port = free_port()
    args = ["--port", str(port), "--data-dir", str(work / "server"), *ctx.server_args()]
    server = await spawn("bench.serve_ferry", args, ctx.work_dir / "android.log", port)
    try:
        identity = Identity(
            Credentials(server.base_url, encode_key(creds.server_public)), creds.private
        )
        save_identity(work / "bridge", identity)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.phone", "--phone-db", str(work / "phone.db"),
            "--data-dir", str(work / "bridge"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        server_peak = server.rss()
        reading = asyncio.create_task(proc.communicate())
        while not reading.done():
            server_peak = max(server_peak, server.rss())
            await asyncio.wait([reading], timeout=0.5)
        out, _ = reading.result()
        if proc.returncode != 0:
            raise RuntimeError(f"the bridge process exited with {proc.returncode}")
        result = dict(json.loads(out))
    finally:
        await server.stop()
    if result["messages"] != n:
        raise RuntimeError(f"the bridge imported {result['messages']} of {n} messages")
    return {**result, "texts": texts, "pictures": pictures, "server_peak_rss": server_peak}


async def run(ctx: Context) -> list[Figure]:
    n = ctx.sizes.android_messages
    ferry = await _ferry(ctx)
    rows = sms.baseline_rows([sms.item(i) for i in range(1, n + 1)])
    base_s = await asyncio.to_thread(
        sqlite_ingest, ctx.work_dir / "baseline-android.db", rows, ctx.sizes.upload_batch
    )
    mb = 1024 * 1024
    return [
        at_least(
            "android",
            "messages/s",
            n / ferry["seconds"],
            n / base_s,
            TARGET,
            messages=n,
            texts=ferry["texts"],
            pictures=ferry["pictures"],
            ferry_seconds=ferry["seconds"],
            baseline_seconds=base_s,
            bridge_peak_rss_mb=ferry["peak_rss"] / mb,
            server_peak_rss_mb=ferry["server_peak_rss"] / mb,
        ),
        at_most(
            "android_memory",
            "MB",
            ferry["peak_rss"] / mb,
            ferry["rss_before"] / mb,
            MEMORY_TARGET,
            of="the bridge before the import",
            messages=n,
            server_peak_rss_mb=ferry["server_peak_rss"] / mb,
        ),
    ]
