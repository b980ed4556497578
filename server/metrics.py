"""Prometheus metrics of one server process, served at ``/metrics``.

Two kinds of figures::

    counted as it happens (hot paths: ingest, fan-out, every transaction)
        ─▶ plain numbers in METRICS, changed on the event loop's thread only: no lock,
           no label per message, account or device; a histogram observation is one
           bisect and two additions
    counted when scraped (cheap to count, costly to track)
        ─▶ sockets by kind, uploads queued, accounts with a fan-out round pending,
           outbox rows by state (one grouped count, at most every OUTBOX_EVERY seconds)

prometheus_client renders both at scrape time through a collector of this module (its
own metric objects take a lock per update, which the hot paths do not need: everything
that changes them runs on the loop). One process is one scrape target, as Prometheus
expects; ``ferry_*`` names, base units (seconds).

Who may scrape: with ``FERRY_METRICS_TOKEN`` set, anyone presenting it as a bearer token;
without it, only a loopback peer whose request came through no proxy (no forwarding
header), so a node behind a reverse proxy never publishes its figures by accident.
"""

from __future__ import annotations

import hmac
import ipaddress
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from server.errors import Forbidden, Unauthenticated
from server.storage.runner import runner
from server.storage.schema import outbox

if TYPE_CHECKING:  # the services import the hot paths, which import this module
    from server.services import Services

#: Bounds (seconds) of the latency histograms: ack and fan-out.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Bounds (seconds) of the database transaction histogram.
DB_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: Bounds (items) of the group-commit size histogram: a bridge uploads up to 100 items at
#: a time and the ingester stores up to ``MAX_GROUP`` (2,000) together.
_GROUP_BOUNDS = (1, 2, 5, 10, 25, 50, 100, 200, 300, 400, 500, 600, 700, 800, 1000, 1500, 2000)
GROUP_BUCKETS = tuple(float(n) for n in _GROUP_BOUNDS)
#: What a bridge's upload items become (``ferry_uploaded_items_total{outcome}``).
OUTCOMES = ("accepted", "refused", "conflict")
#: Statuses an outgoing message reaches (``ferry_sends_total{status}``).
SEND_STATUSES = ("sending", "sent", "delivered", "failed", "unknown")
#: Outbox states (``server/storage/outbox.py``).
OUTBOX_STATES = ("pending", "dispatched", "accepted", "done")
#: Seconds an outbox count is reused: scraping often never costs more than this.
OUTBOX_EVERY = 30.0
#: Headers a reverse proxy sets; their presence means the request was forwarded.
FORWARDING = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


class Histogram:
    """Counts of observations per bucket, for one thread (the event loop's)."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": the first bound >= value.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        """Buckets as Prometheus wants them: cumulative, ending with ``+Inf``."""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class Queued(Protocol):
    """Something holding uploads not stored yet (an ingester)."""

    def queued(self) -> int: ...


@dataclass
class Metrics:
    """The figures counted as they happen (module docstring); one per process."""

    uploaded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    sends: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEND_STATUSES, 0))
    ack_latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    fanout_latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    #: Items stored by one group commit of a bridge's uploads (``server/ws/ingest.py``).
    group_items: Histogram = field(default_factory=lambda: Histogram(GROUP_BUCKETS))
    db_time: dict[str, Histogram] = field(
        default_factory=lambda: {k: Histogram(DB_BUCKETS) for k in ("read", "write")}
    )
    #: Live ingesters, for the queue depth at scrape time.
    ingesters: weakref.WeakSet[Queued] = field(default_factory=weakref.WeakSet)

    def acked(
        self, received: Iterable[float], now: float, items: int, refused: int, conflicts: int
    ) -> None:
        """An Ack went out for uploads received at ``received`` (``perf_counter``),
        stored together in one transaction of ``items`` items."""
        self.group_items.observe(items)
        for at in received:
            self.ack_latency.observe(now - at)
        self.uploaded["accepted"] += items - refused - conflicts
        self.uploaded["refused"] += refused
        self.uploaded["conflict"] += conflicts

    def send_status(self, status: str, count: int = 1) -> None:
        """Outgoing messages reached ``status`` (a bridge's report, or a takeover)."""
        if status in self.sends:
            self.sends[status] += count

    def transaction(self, kind: str, seconds: float) -> None:
        """The storage runner's hook: one transaction of ``kind`` took ``seconds``."""
        histogram = self.db_time.get(kind)
        if histogram is not None:
            histogram.observe(seconds)


METRICS = Metrics()


@dataclass
class OutboxCount:
    """Outbox rows by state, counted at most every ``OUTBOX_EVERY`` seconds."""

    states: dict[str, int] = field(default_factory=dict)
    at: float | None = None

    async def refresh(self, svc: Services) -> None:
        now = svc.clock.monotonic()
        if self.at is not None and now - self.at < OUTBOX_EVERY:
            return
        self.at = now
        self.states = await runner(svc.engine).read(_count_outbox)


def _count_outbox(conn: Connection) -> dict[str, int]:
    # One pass over the (account, state) index; read at most every OUTBOX_EVERY seconds.
    rows = conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
    return {str(state): int(n) for state, n in rows}


class FerryCollector(Collector):
    """Renders METRICS and the app's live state for prometheus_client."""

    def __init__(
        self, svc: Callable[[], Services], outbox_count: OutboxCount, metrics: Metrics = METRICS
    ) -> None:
        self._svc = svc
        self._outbox = outbox_count
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m, svc = self._m, self._svc()
        uploaded = CounterMetricFamily(
            "ferry_uploaded_items",
            "Items bridges uploaded, by what became of them (accepted: stored, now or before)",
            labels=["outcome"],
        )
        for outcome, n in m.uploaded.items():
            uploaded.add_metric([outcome], n)
        yield uploaded
        sends = CounterMetricFamily(
            "ferry_sends",
            "Outgoing messages reaching a status (a message counts once per status it reaches)",
            labels=["status"],
        )
        for status, n in m.sends.items():
            sends.add_metric([status], n)
        yield sends
        yield _histogram(
            "ferry_ack_latency_seconds",
            "From an upload's arrival to the Ack that covers it",
            m.ack_latency,
        )
        yield _histogram(
            "ferry_fanout_latency_seconds",
            "From a change hint to its frames written to every tab of the account",
            m.fanout_latency,
        )
        yield _histogram(
            "ferry_ingest_group_items",
            "Items one group commit of a bridge's uploads stored in one transaction",
            m.group_items,
        )
        db = HistogramMetricFamily(
            "ferry_db_transaction_seconds", "Time of one database transaction", labels=["kind"]
        )
        for kind, histogram in m.db_time.items():
            db.add_metric([kind], histogram.cumulative(), histogram.sum)
        yield db
        yield from self._live(svc)

    def _live(self, svc: Services) -> Iterator[Metric]:
        sockets = GaugeMetricFamily("ferry_sockets", "Open websockets by kind", labels=["kind"])
        sockets.add_metric(["bridge"], len(svc.registry.all()))
        sockets.add_metric(["bridge_handshake"], sum(svc.unauthenticated.values()))
        sockets.add_metric(["browser"], sum(svc.browsers.count(h) for h in svc.browsers.handles()))
        yield sockets
        yield GaugeMetricFamily(
            "ferry_ingest_queued_uploads",
            "Uploads received and waiting to be stored",
            value=sum(i.queued() for i in list(self._m.ingesters)),
        )
        yield GaugeMetricFamily(
            "ferry_fanout_pending_accounts",
            "Accounts whose tabs have a push round running or due",
            value=svc.fanout.pending(),
        )
        states = GaugeMetricFamily("ferry_outbox_rows", "Outbox rows by state", labels=["state"])
        for state in sorted({*OUTBOX_STATES, *self._outbox.states}):
            states.add_metric([state], self._outbox.states.get(state, 0))
        yield states


def _histogram(name: str, doc: str, histogram: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, buckets=histogram.cumulative(), sum_value=histogram.sum)


def registry_for(svc: Callable[[], Services], outbox_count: OutboxCount) -> CollectorRegistry:
    """A registry of the app's figures and the process's own (CPU, memory, files)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FerryCollector(svc, outbox_count))
    ProcessCollector(registry=registry)
    return registry


def refusal(request: web.Request, token: str | None) -> web.Response | None:
    """Why this request may not read the metrics (module docstring), or None: it may.
    With a token: 401 unless it carries it; without: 403 unless local and direct."""
    if token is not None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return None
        resp = Unauthenticated(
            "Send the metrics token as a bearer token.", code="metrics_token_required"
        ).response()
        resp.headers["WWW-Authenticate"] = 'Bearer realm="ferry-metrics"'
        return resp
    if _loopback(request.remote) and not any(h in request.headers for h in FORWARDING):
        return None
    return Forbidden(
        "Metrics are served to this host only; set FERRY_METRICS_TOKEN to scrape them "
        "from elsewhere.",
        code="metrics_local_only",
    ).response()


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def exposition(registry: CollectorRegistry, accept: str) -> web.Response:
    """The registry in the format the scraper asks for (``Accept``): Prometheus's text
    format by default, OpenMetrics on request."""
    encode, content_type = choose_encoder(accept)
    resp = web.Response(body=encode(registry))
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = "no-store"
    return resp
