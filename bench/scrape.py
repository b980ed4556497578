"""Read a server's ``/metrics`` (Prometheus text format) from the benchmark process.

The bench scrapes over loopback with no forwarding header, which a node without
``FERRY_METRICS_TOKEN`` allows (``server/metrics.py``).
"""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

#: (sample name, sorted label pairs) -> value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: aiohttp.ClientSession, base_url: str) -> Samples:
    """Every sample the server at ``base_url`` publishes."""
    async with http.get(f"{base_url}/metrics") as resp:
        resp.raise_for_status()
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[s.name, tuple(sorted(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def buckets(before: Samples, after: Samples, name: str) -> dict[str, int]:
    """A histogram's growth between two scrapes, per bucket (not cumulative): upper
    bound -> observations in (previous bound, bound]."""
    bounds = sorted(
        {dict(labels)["le"] for n, labels in after if n == f"{name}_bucket"},
        key=float,
    )
    out, previous = {}, 0.0
    for le in bounds:
        running = delta(before, after, f"{name}_bucket", le=le)
        if running - previous:
            out[le] = int(running - previous)
        previous = running
    return out
