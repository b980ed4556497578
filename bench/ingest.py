"""Durable ingest: bridge ─▶ commit ─▶ ack, messages/s; alone and with tabs following.

Ferry: the synthetic bridge uploads N messages in batches of 100 with 8 uploads in flight
(as the real bridge does) and the clock stops at the last ``Ack`` (every item committed).
The server acknowledges each group commit once, so the differences between successive
``Ack.upto`` are the sizes of its groups; ``/metrics`` (``ferry_ingest_group_items``)
is read before and after as a cross-check, and the distribution goes in the report.

Baseline: bare sqlite3 inserting the same rows, WAL, ``synchronous=FULL``, committing
groups of exactly the sizes Ferry's groups had in the run just before (equal commit size:
a baseline of fixed 100-row commits would commit more often than Ferry and flatter it).
The old fixed-100 figure is kept in the detail for comparison.

With tabs (``ingest_1_tab``, ``ingest_100_tabs``): the same ingest while 1 or 100
signed-in tabs follow the account, against the no-tab figure of the same rounds; the
detail also gives the seconds until every tab held everything.

Rounds alternate Ferry (no tabs), baseline, Ferry with each tab count, on fresh
databases; medians are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from bench import scrape, sms
from bench.baselines import sqlite_ingest
from bench.bridge import SyntheticBridge
from bench.browsers import CHANGES
from bench.report import Figure, at_least
from bench.target import Context, Ferry, running_ferry
from protocol.messages import Ack, InboundSms
from server.auth.web import DEV_COOKIE

TARGET = 0.5
TARGET_TABS = 0.8
_GROUPS = "ferry_ingest_group_items"
_DELIVERY_TIMEOUT = 120.0


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


@dataclass
class Run:
    """One ingest into a fresh server."""

    messages: int
    seconds: float
    server_cpu: float
    #: Items per group commit, in order (from the Acks).
    groups: list[int]
    #: The same groups as ``/metrics`` counted them: count, items, per bucket.
    metric_groups: int = 0
    metric_items: int = 0
    metric_buckets: dict[str, int] = field(default_factory=dict)
    #: Upload start to the moment the last tab held everything (tabs only).
    delivered_seconds: float | None = None


def group_sizes(first: int, acked: Sequence[int]) -> list[int]:
    """Sizes of the groups acknowledged by ``acked`` (``Ack.upto`` in order), the
    first item of the run being ``first``."""
    sizes, previous = [], first - 1
    for upto in acked:
        if upto > previous:
            sizes.append(upto - previous)
            previous = upto
    return sizes


class _Uptos:
    """A tab sink that keeps when each ``changes`` frame arrived and the seq it reaches."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, int]] = []

    def __call__(self, arrived: float, text: str) -> None:
        if text.startswith(CHANGES):
            at = text.rfind('"upto":') + 7
            end = at
            while text[end].isdigit():
                end += 1
            self.frames.append((arrived, int(text[at:end])))

    def reached(self, seq: int) -> list[float]:
        return [t for t, upto in self.frames if upto >= seq]


async def _account_seq(http: aiohttp.ClientSession, ferry: Ferry) -> int:
    headers = {"Cookie": f"{DEV_COOKIE}={ferry.cookie}", "Origin": ferry.server.base_url}
    async with http.get(f"{ferry.server.base_url}/api/v1/threads", headers=headers) as resp:
        resp.raise_for_status()
        return int((await resp.json())["seq"])


async def ingest_once(
    ctx: Context,
    tabs: int = 0,
    name: str = "ingest",
    *,
    database_url: str | None = None,
    history: int = 0,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Run:
    """One upload of the whole batch to a fresh server, ``tabs`` tabs following (on a
    fresh SQLite file, or on the empty database ``database_url``). ``history``: messages
    uploaded first, not measured; then ``settle()`` runs (e.g. the statistics a database
    in use would have)."""
    size = ctx.sizes
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, name, http, database_url=database_url) as ferry,
    ):
        pool, sink = None, _Uptos()
        if tabs:
            pool = await ferry.browsers(http)
            await pool.open(tabs, size.connect_concurrency)
            if len(pool.sockets) != tabs:
                raise RuntimeError(f"{pool.failures} of {tabs} tabs failed: {pool.first_error}")
            pool.sink = sink
        try:
            if history:
                old = [sms.item(n) for n in ferry.take(history)]
                await pipelined_upload(ferry.bridge, old, size.upload_batch, size.uploads_in_flight)
            if settle is not None:
                await settle()
            batch = [sms.item(n) for n in ferry.take(size.ingest_messages)]
            before = await scrape.scrape(http, ferry.server.base_url)
            acks_before = len(ferry.bridge.acked)
            start, cpu = time.perf_counter(), ferry.server.cpu()
            await pipelined_upload(ferry.bridge, batch, size.upload_batch, size.uploads_in_flight)
            seconds = time.perf_counter() - start
            delivered = None
            if pool is not None:
                delivered = await _delivered(http, ferry, sink, tabs) - start
            server_cpu = ferry.server.cpu() - cpu
            after = await scrape.scrape(http, ferry.server.base_url)
        finally:
            if pool is not None:
                await pool.close()
        return Run(
            len(batch),
            seconds,
            server_cpu,
            group_sizes(batch[0].n, ferry.bridge.acked[acks_before:]),
            int(scrape.delta(before, after, f"{_GROUPS}_count")),
            int(scrape.delta(before, after, f"{_GROUPS}_sum")),
            scrape.buckets(before, after, _GROUPS),
            delivered,
        )


async def _delivered(http: aiohttp.ClientSession, ferry: Ferry, sink: _Uptos, tabs: int) -> float:
    """When the last of ``tabs`` tabs got the frame reaching the account's seq."""
    seq = await _account_seq(http, ferry)
    deadline = time.monotonic() + _DELIVERY_TIMEOUT
    while len(reached := sink.reached(seq)) < tabs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(reached)} of {tabs} tabs reached seq {seq}")
        await asyncio.sleep(0.005)
    return max(reached)


def distribution(groups: Sequence[int]) -> dict[str, int]:
    """Group size -> how many groups had it, smallest first."""
    return {str(k): v for k, v in sorted(Counter(groups).items())}


def check(run: Run) -> None:
    """The Acks and ``/metrics`` must tell the same story (one Ack per group)."""
    if sum(run.groups) != run.messages or (run.metric_groups, run.metric_items) != (
        len(run.groups),
        run.messages,
    ):
        raise RuntimeError(
            f"group sizes disagree: acks {len(run.groups)} groups of {sum(run.groups)} items, "
            f"/metrics {run.metric_groups} groups of {run.metric_items} items"
        )


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    rows = sms.baseline_rows([sms.item(n) for n in range(1, size.ingest_messages + 1)])
    path = ctx.work_dir / "baseline-ingest.db"
    # One run takes about a second, so a hiccup of the machine would swing it: the sides
    # alternate, ``ingest_runs`` times each, and the medians are compared.
    alone: list[Run] = []
    base: list[float] = []
    fixed: list[float] = []
    with_tabs: dict[int, list[Run]] = {n: [] for n in size.ingest_tabs}
    for _ in range(size.ingest_runs):
        ferry = await ingest_once(ctx)
        check(ferry)
        alone.append(ferry)
        base.append(await asyncio.to_thread(sqlite_ingest, path, rows, ferry.groups))
        fixed.append(await asyncio.to_thread(sqlite_ingest, path, rows, size.upload_batch))
        for tabs in size.ingest_tabs:
            done = await ingest_once(ctx, tabs, f"ingest-{tabs}-tabs")
            check(done)
            with_tabs[tabs].append(done)
    n = size.ingest_messages
    ferry_s = statistics.median(r.seconds for r in alone)
    base_s = statistics.median(base)
    groups = [g for r in alone for g in r.groups]
    figures = [
        at_least(
            "ingest",
            "messages/s",
            n / ferry_s,
            n / base_s,
            TARGET,
            messages=n,
            runs=size.ingest_runs,
            ferry_seconds=ferry_s,
            ferry_seconds_all=[round(r.seconds, 4) for r in alone],
            baseline_seconds=base_s,
            baseline_seconds_all=[round(s, 4) for s in base],
            baseline_commits="the sizes of Ferry's group commits in the run before",
            group_commits_per_run=[len(r.groups) for r in alone],
            group_items_mean=statistics.fmean(groups),
            group_size_distribution=distribution(groups),
            group_metrics_buckets=_sum_buckets(alone),
            baseline_fixed_100_messages_per_s=n / statistics.median(fixed),
            ratio_to_fixed_100=(n / ferry_s) / (n / statistics.median(fixed)),
            ferry_server_cpu_seconds=statistics.median(r.server_cpu for r in alone),
        )
    ]
    for tabs, runs in with_tabs.items():
        seconds = statistics.median(r.seconds for r in runs)
        tab_groups = [g for r in runs for g in r.groups]
        figures.append(
            at_least(
                f"ingest_{tabs}_tab{'s' if tabs != 1 else ''}",
                "messages/s",
                n / seconds,
                n / ferry_s,
                TARGET_TABS,
                of_baseline="ferry ingest with no tab, same rounds",
                tabs=tabs,
                messages=n,
                ferry_seconds_all=[round(r.seconds, 4) for r in runs],
                every_tab_had_all_seconds=statistics.median(
                    r.delivered_seconds or 0.0 for r in runs
                ),
                group_commits_per_run=[len(r.groups) for r in runs],
                group_items_mean=statistics.fmean(tab_groups),
                group_size_distribution=distribution(tab_groups),
                ferry_server_cpu_seconds=statistics.median(r.server_cpu for r in runs),
                # On a loaded machine the wall-clock ratio swings with the neighbours;
                # the server's own CPU per run does not (an idle machine's ratio).
                server_cpu_ratio=statistics.median(r.server_cpu for r in alone)
                / max(1e-9, statistics.median(r.server_cpu for r in runs)),
            )
        )
    return figures


def _sum_buckets(runs: Sequence[Run]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for r in runs:
        total.update(r.metric_buckets)
    return dict(sorted(total.items(), key=lambda kv: float(kv[0])))
