"""Several nodes: 10,000 browser sockets over two ``ferry serve`` nodes against one node.

The deployment of ``tests/e2e/cluster.py`` at benchmark size (``bench/cluster.py``), on
loopback: real
``ferry serve`` nodes (``python -m server serve``) on a scratch PostgreSQL database of
their own (dropped after), Redis (``127.0.0.1:6379``, a key prefix of the run's own,
forgotten after) carrying hints between them, HAProxy in front (round robin, health
checks, ``option forwardfor`` trusted by the nodes). Two accounts, each with a bridge;
with two nodes, bridge *i* is connected to node *i*, so every message reaches half of
its account's tabs on the node it was uploaded to and half across (hint through Redis,
read from PostgreSQL by the other node). With one node, everything is on it.

Tabs: ``nodes_tabs`` signed-in sockets, half per account; ``nodes_balanced_tabs`` of them
through HAProxy, the rest straight to the nodes, evenly. Why not all through HAProxy:
this machine's open-file hard limit is 20,000 a process, and a proxy holds two sockets a
connection (``raise_nofile`` lifts the soft limit; the nodes inherit it).

Figures (two nodes against one, the same load, the same run):

* ``nodes_throughput``: both bridges upload ``nodes_messages`` each (uploads of 10, 8 in
  flight); deliveries/s = messages x tabs of the account, until every tab holds every
  message. The detail gives each node's CPU per 1,000 deliveries, which is what predicts
  more cores (one node is one process, one core at most).
* ``nodes_latency_p50``/``p99``: paced single-message probes from alternating bridges,
  upload to each tab's arrival; the detail splits same-node and cross-node tabs.
* ``nodes_memory``: each node's RSS growth over its tabs, per tab, against the bare
  aiohttp server holding as many (target 1.5x).
* ``nodes_soak`` (``--soak-seconds``, 0 = skipped): traffic keeps flowing through the
  two-node cluster; node RSS sampled; the last minute's mean against the second
  minute's (flat: at most 1.05x).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from bench import sms
from bench.browsers import CHANGES, DEVICES, BrowserPool
from bench.cluster import Cluster, running_cluster
from bench.ingest import pipelined_upload
from bench.latency import percentile
from bench.report import Figure, at_least, at_most
from bench.target import Context, running_baseline
from server.auth.web import DEV_COOKIE

TARGET_THROUGHPUT = 0.9
TARGET_LATENCY = 2.0
TARGET_MEMORY = 1.5
TARGET_SOAK = 1.05
_UPLOAD = 10
_SETTLE = 2.0
_TIMEOUT = 180.0
_SOAK_SAMPLE = 15.0


# ------------------------------------------------------------------------ tabs


@dataclass
class Tabs:
    """One pool of one account's tabs to one address (a node, or the balancer)."""

    account: int
    #: The node index it connects to, or None (through HAProxy).
    node: int | None
    pool: BrowserPool
    #: (arrival, text) of every ``changes`` frame while recording.
    frames: list[tuple[float, str]] = field(default_factory=list)
    #: Highest seq reached, per socket (throughput), kept as a count by seq.
    reached: dict[int, int] = field(default_factory=dict)
    last_arrival: float = 0.0
    recording: bool = False

    def sink(self, arrived: float, text: str) -> None:
        if not text.startswith(CHANGES):
            return
        if self.recording:
            self.frames.append((arrived, text))
        at = text.rfind('"upto":') + 7
        end = at
        while text[end].isdigit():
            end += 1
        upto = int(text[at:end])
        self.reached[upto] = self.reached.get(upto, 0) + 1
        self.last_arrival = arrived

    def holding(self, seq: int) -> int:
        return sum(n for upto, n in self.reached.items() if upto >= seq)


async def _account_seq(http: aiohttp.ClientSession, url: str, cookie: str) -> int:
    headers = {"Cookie": f"{DEV_COOKIE}={cookie}", "Origin": url}
    async with http.get(f"{url}/api/v1/threads", headers=headers) as resp:
        resp.raise_for_status()
        return int((await resp.json())["seq"])


async def _open_tabs(ctx: Context, cluster: Cluster, http: aiohttp.ClientSession) -> list[Tabs]:
    size = ctx.sizes
    count = len(cluster.nodes)
    direct = size.nodes_tabs - size.nodes_balanced_tabs
    plans: list[tuple[int, int | None, int]] = []
    for a in range(len(cluster.accounts)):
        plans.append((a, None, size.nodes_balanced_tabs // len(cluster.accounts)))
        for n in range(count):
            plans.append((a, n, direct // len(cluster.accounts) // count))
    out = []
    for a, n, tabs in plans:
        account = cluster.accounts[a]
        url = cluster.url if n is None else cluster.nodes[n].base_url
        seq = await _account_seq(http, url, account.cookie)
        headers = {"Cookie": f"{DEV_COOKIE}={account.cookie}", "Origin": url}
        hello = json.dumps({"t": "subscribe", "since": seq}, separators=(",", ":"))
        ws_url = url.replace("http://", "ws://", 1) + "/api/v1/ws"
        pool = BrowserPool(ws_url, hello=hello, ready_prefix=DEVICES, headers=headers)
        group = Tabs(a, n, pool)
        pool.sink = group.sink
        await pool.open(tabs, size.connect_concurrency)
        if pool.failures:
            raise RuntimeError(f"{pool.failures} of {tabs} tabs failed: {pool.first_error}")
        out.append(group)
    return out


# ----------------------------------------------------------------- measurements


@dataclass
class Result:
    nodes: int
    tabs: int
    tabs_per_node: list[int]
    throughput_seconds: float
    deliveries: int
    frames: int
    node_cpu: list[float]
    client_cpu: float
    latency: Latency
    rss_per_tab: list[float]
    soak: dict[str, Any] = field(default_factory=dict)
    #: "Redis unreachable" lines in the nodes' logs (a node then polls the database).
    redis_outages: int = 0


async def _throughput(
    ctx: Context, cluster: Cluster, groups: list[Tabs], http: aiohttp.ClientSession
) -> tuple[float, int, int, list[float], float]:
    size = ctx.sizes
    for g in groups:
        g.reached.clear()
    cpu = [n.cpu() for n in cluster.nodes]
    client = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(
        *(
            pipelined_upload(
                a.bridge,  # type: ignore[arg-type]
                [sms.item(n) for n in a.take(size.nodes_messages)],
                _UPLOAD,
                8,
            )
            for a in cluster.accounts
        )
    )
    finals = [await _account_seq(http, cluster.url, a.cookie) for a in cluster.accounts]
    deadline = time.monotonic() + _TIMEOUT
    while any(g.holding(finals[g.account]) < len(g.pool.sockets) for g in groups):
        if time.monotonic() > deadline:
            raise RuntimeError("some tabs never got every message")
        await asyncio.sleep(0.01)
    seconds = max(g.last_arrival for g in groups) - start
    frames = sum(sum(g.reached.values()) for g in groups)
    deliveries = sum(len(g.pool.sockets) for g in groups) * size.nodes_messages
    node_cpu = [n.cpu() - c for n, c in zip(cluster.nodes, cpu, strict=True)]
    return seconds, deliveries, frames, node_cpu, time.process_time() - client


class _Body(msgspec.Struct):
    body: str


class _Frame(msgspec.Struct):
    messages: list[_Body]


@dataclass
class Latency:
    """Upload to arrival (seconds), by where the tab is: on the uploading bridge's node,
    on the other node, or through HAProxy; and per probe, its first tab of each kind
    (the server's path, without the client reading thousands of sockets)."""

    local: list[float] = field(default_factory=list)
    cross: list[float] = field(default_factory=list)
    balanced: list[float] = field(default_factory=list)
    first_local: list[float] = field(default_factory=list)
    first_cross: list[float] = field(default_factory=list)

    @property
    def all(self) -> list[float]:
        return self.local + self.cross + self.balanced


async def _latency(ctx: Context, cluster: Cluster, groups: list[Tabs]) -> Latency:
    size = ctx.sizes
    sent: dict[str, tuple[float, int]] = {}  # body -> (sent at, account)
    for g in groups:
        g.frames.clear()
        g.recording = True
    bridges = cluster.accounts
    acks: list[asyncio.Future[Any]] = []
    start = time.perf_counter()
    for i in range(size.nodes_probes):
        delay = start + i * size.nodes_probe_interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        a = i % len(bridges)
        body = f"probe {i}"
        item = sms.item(bridges[a].take(1)[0], body)
        sent[body] = (time.perf_counter(), a)
        acks.append(await bridges[a].bridge.send_upload([item]))  # type: ignore[union-attr]
    await asyncio.wait_for(asyncio.gather(*acks), _TIMEOUT)
    await asyncio.sleep(_SETTLE)
    for g in groups:
        g.recording = False
    decoded: dict[str, list[str]] = {}  # the same text reaches every tab: decode it once
    out = Latency()
    first: dict[tuple[str, bool], float] = {}
    count = len(cluster.nodes)
    for g in groups:
        for arrived, text in g.frames:
            bodies = decoded.get(text)
            if bodies is None:
                bodies = decoded[text] = [
                    m.body for m in msgspec.json.decode(text, type=_Frame).messages
                ]
            for body in bodies:
                if body not in sent:
                    continue
                at, a = sent[body]
                sample = arrived - at
                if g.node is None:
                    out.balanced.append(sample)
                    continue
                same = g.node == a % count
                (out.local if same else out.cross).append(sample)
                first[body, same] = min(sample, first.get((body, same), sample))
        g.frames.clear()
    out.first_local = [v for (_, same), v in first.items() if same]
    out.first_cross = [v for (_, same), v in first.items() if not same]
    return out


async def _soak(ctx: Context, cluster: Cluster, seconds: float) -> dict[str, Any]:
    """Traffic for ``seconds``: each bridge one message every ``nodes_probe_interval``;
    every node's RSS sampled every ``_SOAK_SAMPLE`` seconds."""
    samples: list[tuple[float, list[int]]] = []
    start = time.perf_counter()
    stop = start + seconds
    acks: list[asyncio.Future[Any]] = []
    every = min(_SOAK_SAMPLE, seconds / 10)
    next_sample = start
    while (now := time.perf_counter()) < stop:
        if now >= next_sample:
            samples.append((now - start, [n.rss() for n in cluster.nodes]))
            next_sample += every
        for a in cluster.accounts:
            item = sms.item(a.take(1)[0])
            acks.append(await a.bridge.send_upload([item]))  # type: ignore[union-attr]
        await asyncio.sleep(ctx.sizes.nodes_probe_interval)
    # Every message of the soak stored: a link that failed would say so here.
    await asyncio.wait_for(asyncio.gather(*acks), _TIMEOUT)
    samples.append((time.perf_counter() - start, [n.rss() for n in cluster.nodes]))
    sent = len(acks)

    def mean_between(lo: float, hi: float) -> float:
        window = [sum(r) for t, r in samples if lo <= t <= hi]
        return statistics.fmean(window) if window else float("nan")

    # The second minute against the last (a shorter soak: its thirds), all nodes' RSS.
    window = min(60.0, seconds / 3)
    return {
        "seconds": seconds,
        "messages": sent,
        "rss_second_minute": mean_between(window, 2 * window),
        "rss_last_minute": mean_between(seconds - window, seconds + 1),
        "rss_samples_mb": [[round(t), *(round(r / 2**20, 1) for r in rss)] for t, rss in samples],
    }


async def measure(ctx: Context, count: int, soak: float = 0.0) -> Result:
    async with (
        running_cluster(ctx, count, f"nodes-{count}") as cluster,
        aiohttp.ClientSession() as http,
    ):
        # First-use allocations (imports, caches, pools) before the "before" reading.
        warm = await _warm(cluster, http)
        await asyncio.sleep(_SETTLE)
        before = [n.rss() for n in cluster.nodes]
        groups = await _open_tabs(ctx, cluster, http)
        try:
            await asyncio.sleep(_SETTLE)
            after = [n.rss() for n in cluster.nodes]
            per_node = [0] * count
            for g in groups:
                if g.node is not None:
                    per_node[g.node] += len(g.pool.sockets)
            balanced = await _balanced_counts(http, cluster, per_node)
            seconds, deliveries, frames, node_cpu, client_cpu = await _throughput(
                ctx, cluster, groups, http
            )
            latency = await _latency(ctx, cluster, groups)
            soaked = await _soak(ctx, cluster, soak) if soak else {}
            tabs = sum(len(g.pool.sockets) for g in groups)
        finally:
            for pool in [*(g.pool for g in groups), *warm]:
                await pool.close()
    logs = [ctx.work_dir / f"nodes-{count}" / f"node{i}.log" for i in range(count)]
    outages = sum(p.read_text(errors="replace").count("Redis unreachable") for p in logs)
    return Result(
        count,
        tabs,
        balanced,
        seconds,
        deliveries,
        frames,
        node_cpu,
        client_cpu,
        latency,
        [(a - b) / max(1, n) for a, b, n in zip(after, before, balanced, strict=True)],
        soaked,
        outages,
    )


async def _warm(cluster: Cluster, http: aiohttp.ClientSession) -> list[BrowserPool]:
    """50 tabs on each node, open throughout."""
    account = cluster.accounts[0]
    pools = []
    for node in cluster.nodes:
        seq = await _account_seq(http, node.base_url, account.cookie)
        headers = {"Cookie": f"{DEV_COOKIE}={account.cookie}", "Origin": node.base_url}
        hello = json.dumps({"t": "subscribe", "since": seq}, separators=(",", ":"))
        url = node.base_url.replace("http://", "ws://", 1) + "/api/v1/ws"
        pool = BrowserPool(url, hello=hello, ready_prefix=DEVICES, headers=headers)
        await pool.open(50)
        pools.append(pool)
    return pools


async def _balanced_counts(
    http: aiohttp.ClientSession, cluster: Cluster, direct: list[int]
) -> list[int]:
    """Browser sockets per node as each node counts them (``/metrics``), minus the
    warm-up tabs: the direct ones plus what HAProxy sent there."""
    from bench import scrape

    out = []
    for node in cluster.nodes:
        samples = await scrape.scrape(http, node.base_url)
        out.append(int(scrape.value(samples, "ferry_sockets", kind="browser")) - 50)
    return out


async def _bare_rss_per_socket(ctx: Context, sockets: int) -> float:
    async with running_baseline(ctx, "baseline-nodes") as base:
        warm, pool = base.browsers(), base.browsers()
        try:
            await warm.open(50)
            await asyncio.sleep(_SETTLE)
            before = base.server.rss()
            await pool.open(sockets, ctx.sizes.connect_concurrency)
            if pool.failures:
                raise RuntimeError(f"baseline: {pool.failures} sockets failed")
            await asyncio.sleep(_SETTLE)
            return (base.server.rss() - before) / sockets
        finally:
            await pool.close()
            await warm.close()


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    one = await measure(ctx, 1)
    two = await measure(ctx, 2, size.soak_seconds)
    bare = await _bare_rss_per_socket(ctx, size.nodes_tabs // 2)
    return figures(one, two, bare, size.soak_seconds)


def _ms(samples: list[float], q: float) -> float:
    return percentile(samples, q) * 1e3 if samples else float("nan")


def _detail(r: Result) -> dict[str, Any]:
    return {
        "tabs_per_node": r.tabs_per_node,
        "throughput_seconds": r.throughput_seconds,
        "deliveries": r.deliveries,
        "frames": r.frames,
        "node_cpu_seconds": [round(c, 2) for c in r.node_cpu],
        "node_cpu_ms_per_1000_deliveries": [round(c / r.deliveries * 1e6, 2) for c in r.node_cpu],
        "client_cpu_seconds": r.client_cpu,
        "latency_p50_ms": _ms(r.latency.all, 50),
        "latency_p99_ms": _ms(r.latency.all, 99),
        "latency_same_node_p50_ms": _ms(r.latency.local, 50),
        "latency_same_node_p99_ms": _ms(r.latency.local, 99),
        "latency_cross_node_p50_ms": _ms(r.latency.cross, 50),
        "latency_cross_node_p99_ms": _ms(r.latency.cross, 99),
        "latency_via_haproxy_p50_ms": _ms(r.latency.balanced, 50),
        "first_tab_same_node_p50_ms": _ms(r.latency.first_local, 50),
        "first_tab_cross_node_p50_ms": _ms(r.latency.first_cross, 50),
        "latency_samples": len(r.latency.all),
        "redis_outages_logged": r.redis_outages,
        "rss_per_tab": [round(x) for x in r.rss_per_tab],
    }


def figures(one: Result, two: Result, bare: float, soak: float) -> list[Figure]:
    one_rate = one.deliveries / one.throughput_seconds
    two_rate = two.deliveries / two.throughput_seconds
    detail = {
        "tabs": two.tabs,
        "one_node": _detail(one),
        "two_nodes": _detail(two),
        # One node is one process: CPU per delivery is what more cores would divide.
        "deliveries_per_node_cpu_second_one_node": one.deliveries / sum(one.node_cpu),
        "deliveries_per_node_cpu_second_two_nodes": two.deliveries / sum(two.node_cpu),
    }
    out = [
        at_least(
            "nodes_throughput", "deliveries/s", two_rate, one_rate, TARGET_THROUGHPUT,
            of_baseline="the same load on one node", **detail,
        ),
        at_most(
            "nodes_latency_p50", "ms", _ms(two.latency.all, 50), _ms(one.latency.all, 50),
            TARGET_LATENCY, "one node p50",
        ),
        at_most(
            "nodes_latency_p99", "ms", _ms(two.latency.all, 99), _ms(one.latency.all, 99),
            TARGET_LATENCY, "one node p99",
        ),
        at_most(
            "nodes_memory", "bytes/socket", statistics.fmean(two.rss_per_tab), bare,
            TARGET_MEMORY, "bare websocket", per_node=[round(x) for x in two.rss_per_tab],
            one_node=round(one.rss_per_tab[0]),
        ),
    ]  # fmt: skip
    if soak:
        s = two.soak
        out.append(
            at_most(
                "nodes_soak", "bytes RSS", s["rss_last_minute"], s["rss_second_minute"],
                TARGET_SOAK, "second minute", **s,
            )
        )  # fmt: skip
    return out
