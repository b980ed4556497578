"""Durable ingest: bridge ─▶ commit ─▶ ack, messages/s.

Ferry: the synthetic bridge uploads N messages in batches of 100 with 4 uploads in flight
(as the real bridge does) and the clock stops at the last ``Ack`` (every item committed).
Baseline: bare sqlite3 inserting the same rows, 100 per commit, WAL, ``synchronous=FULL``.
Each side runs three times, alternating, on a fresh database; medians are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Sequence

import aiohttp

from bench import sms
from bench.baselines import sqlite_ingest
from bench.bridge import SyntheticBridge
from bench.report import Figure, at_least
from bench.target import Context, running_ferry
from protocol.messages import Ack, InboundSms

TARGET = 0.35
#: Runs of each side; the figure is the ratio of the medians.
RUNS = 3


async def pipelined_upload(
    bridge: SyntheticBridge, items: Sequence[InboundSms], batch: int, window: int
) -> None:
    """Upload ``items`` in order, keeping at most ``window`` batches unacknowledged."""
    in_flight: deque[asyncio.Future[Ack]] = deque()
    for start in range(0, len(items), batch):
        if len(in_flight) >= window:
            await in_flight.popleft()
        in_flight.append(await bridge.send_upload(items[start : start + batch]))
    for ack in in_flight:
        await ack


async def _ferry_once(ctx: Context) -> tuple[int, float, float]:
    """One upload of the whole batch to a fresh server: (messages, seconds, server CPU)."""
    size = ctx.sizes
    async with aiohttp.ClientSession() as http, running_ferry(ctx, "ingest", http) as ferry:
        batch = [sms.item(n) for n in ferry.take(size.ingest_messages)]
        start, cpu = time.perf_counter(), ferry.server.cpu()
        await pipelined_upload(ferry.bridge, batch, size.upload_batch, size.uploads_in_flight)
        seconds = time.perf_counter() - start
        return len(batch), seconds, ferry.server.cpu() - cpu


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    rows = sms.baseline_rows([sms.item(n) for n in range(1, size.ingest_messages + 1)])
    # One run takes about a second, so a hiccup of the machine would swing it: Ferry and
    # the baseline alternate, RUNS times each, and the medians are compared.
    ferry_runs, base_runs = [], []
    for _ in range(RUNS):
        ferry_runs.append(await _ferry_once(ctx))
        base_runs.append(
            await asyncio.to_thread(
                sqlite_ingest, ctx.work_dir / "baseline-ingest.db", rows, size.upload_batch
            )
        )
    n = size.ingest_messages
    ferry_s = statistics.median(s for _, s, _ in ferry_runs)
    base_s = statistics.median(base_runs)
    return [
        at_least(
            "ingest",
            "messages/s",
            n / ferry_s,
            n / base_s,
            TARGET,
            messages=n,
            runs=RUNS,
            ferry_seconds=ferry_s,
            ferry_seconds_all=[round(s, 4) for _, s, _ in ferry_runs],
            baseline_seconds=base_s,
            baseline_seconds_all=[round(s, 4) for s in base_runs],
            ferry_server_cpu_seconds=statistics.median(c for _, _, c in ferry_runs),
        )
    ]
