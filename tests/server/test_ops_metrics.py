"""``/metrics``: what the hot paths count, what is counted at scrape time, and who may read
it. Figures are process-wide (one process is one Prometheus target), so each test reads
them before and after and checks the difference."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from protocol.messages import Ack, InboundSms, SendSms, SendStatus, StatusAck, Upload
from server.app import create_app
from server.config import Config, ConfigError
from server.metrics import Histogram
from server.storage.conversations import Inbound
from server.storage.runner import runner
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
TOKEN = "scrape-token-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(env: Env, **headers: str) -> Samples:
    resp = await env.client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[s.name, tuple(sorted(s.labels.items()))] = s.value
    return samples


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return get(after, name, **labels) - get(before, name, **labels)


def sms(n: int, key: str, body: str, sender: str = "+15550100002") -> InboundSms:
    return InboundSms(n=n, key=key, sender=sender, body=body, sent_at=T.isoformat())


async def _subscribed_tab(env: Env) -> Any:
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await asyncio.wait_for(ws.receive(), 10)).data)["t"] != "device":
        pass
    return ws


async def test_uploads_sends_sockets_latencies_and_database_time_are_counted(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.svc.conversations.ingest_inbound(
        env.account_id, env.device_id, [Inbound("k1", line, "+15550100002", "original", T)], T
    )
    await env.login()
    before = await scrape(env)
    tab = await _subscribed_tab(env)
    dev = await env.device()
    await dev.send(
        Upload(
            items=[
                sms(1, "k1", "tampered"),  # same key, other content: a conflict
                sms(2, "k2", "new one"),
                sms(3, "k3", "another"),
                sms(4, "k4", "refused", sender="bad\nsender"),
            ]
        )
    )
    ack = await dev.recv()
    assert isinstance(ack, Ack) and ack.upto == 4 and ack.conflicts == [1]
    assert [r.reason for r in ack.rejected] == ["bad_sender"]
    # The tab hears of it: the fan-out round that wrote it was timed.
    while json.loads((await asyncio.wait_for(tab.receive(), 10)).data)["t"] != "changes":
        pass
    resp = await env.client.post(
        "/api/v1/messages", json={"to": "+15550100002", "body": "hi", "client_msg_id": "m1"}
    )
    assert resp.status == 201
    order = await dev.recv()
    assert isinstance(order, SendSms)
    await dev.send(SendStatus(outbox_id=order.outbox_id, status="sent"))
    assert await dev.recv() == StatusAck(outbox_id=order.outbox_id, status="sent")

    env.clock.advance(60)  # the outbox count is at most 30 s old
    after = await scrape(env)
    assert delta(before, after, "ferry_uploaded_items_total", outcome="accepted") == 2
    assert delta(before, after, "ferry_uploaded_items_total", outcome="refused") == 1
    assert delta(before, after, "ferry_uploaded_items_total", outcome="conflict") == 1
    assert delta(before, after, "ferry_sends_total", status="sent") == 1
    assert delta(before, after, "ferry_ack_latency_seconds_count") == 1
    assert delta(before, after, "ferry_ack_latency_seconds_bucket", le="+Inf") == 1
    assert delta(before, after, "ferry_ack_latency_seconds_sum") > 0
    # The four items were stored by one group commit.
    assert delta(before, after, "ferry_ingest_group_items_count") == 1
    assert delta(before, after, "ferry_ingest_group_items_sum") == 4
    assert delta(before, after, "ferry_ingest_group_items_bucket", le="2.0") == 0
    assert delta(before, after, "ferry_ingest_group_items_bucket", le="5.0") == 1
    assert delta(before, after, "ferry_fanout_latency_seconds_count") >= 1
    assert delta(before, after, "ferry_db_transaction_seconds_count", kind="write") >= 2
    assert delta(before, after, "ferry_db_transaction_seconds_count", kind="read") >= 1
    assert get(after, "ferry_sockets", kind="bridge") == 1
    assert get(after, "ferry_sockets", kind="browser") == 1
    # "sent" is not final (a delivery report may follow): the bridge holds the row.
    assert get(after, "ferry_outbox_rows", state="accepted") == 1
    assert get(after, "ferry_outbox_rows", state="pending") == 0
    assert get(after, "ferry_ingest_queued_uploads") == 0
    assert get(after, "process_resident_memory_bytes") > 0
    await dev.close()
    await tab.close()


async def test_every_transaction_is_timed_once_by_kind(env: Env) -> None:
    before = await scrape(env)
    db = runner(env.svc.engine)
    for _ in range(3):
        await db.read(lambda conn: None)
    await db.write(lambda conn: None)
    after = await scrape(env)
    # The scrape itself reads the outbox count once (the first time).
    assert delta(before, after, "ferry_db_transaction_seconds_count", kind="read") == 3
    assert delta(before, after, "ferry_db_transaction_seconds_count", kind="write") == 1


def test_histogram_buckets_are_cumulative_and_less_or_equal() -> None:
    h = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(value)
    assert h.cumulative() == [("0.1", 2), ("1.0", 4), ("+Inf", 5)]
    assert (h.count, h.sum) == (5, pytest.approx(8.65))


async def test_without_a_token_only_direct_local_requests_may_scrape(env: Env) -> None:
    await scrape(env)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        resp = await env.client.get("/metrics", headers={header: "203.0.113.9"})
        assert resp.status == 403, header
        assert (await resp.json())["error"]["code"] == "metrics_local_only"


async def test_with_a_token_every_scraper_must_show_it(aiohttp_client: Any, config: Config) -> None:
    client = await aiohttp_client(create_app(replace(config, metrics_token=TOKEN)))
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "ferry_" not in await resp.text()
    # A token also admits forwarded requests: the proxy may pass the scrape on.
    for headers in (
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"bearer {TOKEN}", "X-Forwarded-For": "203.0.113.9"},
    ):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 200, headers
        assert "ferry_sockets" in await resp.text()


def test_metrics_token_is_checked_in_the_configuration() -> None:
    with pytest.raises(ConfigError, match="FERRY_METRICS_TOKEN"):
        Config.from_env({"FERRY_METRICS_TOKEN": "short"})
    assert Config.from_env({"FERRY_METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
