"""Ferry on PostgreSQL: durable ingest against bare asyncpg, and latency.

PostgreSQL is the local server (``127.0.0.1:5432``, trust auth; the administration
database ``test``). Every run gets a database of its own, ``ferry_bench_<random>``,
created before and dropped (``WITH (FORCE)``) after; nothing else is touched.

* ``pg_ingest``: the ingest of :mod:`bench.ingest` with ``FERRY_DATABASE_URL`` on that
  database, after ``pg_history`` messages stored and ``ANALYZE`` (a database in use has
  its statistics; a fresh one is planned blind: see the README), against bare asyncpg
  inserting the same rows (after the same history) into a table with the columns
  and indexes of Ferry's ``messages`` table, one transaction per group of exactly the
  sizes Ferry's groups had in the run just before (equal batching), ``executemany`` per
  group. Both commit with PostgreSQL's defaults (``synchronous_commit`` on: durable).
* ``pg_latency_p50``/``pg_latency_p99``: :mod:`bench.latency` with the server on
  PostgreSQL, against the same echo round trip as the SQLite figures.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench import ingest, latency, sms
from bench.baselines import commit_plan
from bench.report import Figure, at_least
from bench.target import Context

#: The administration database (asyncpg DSN); only a loopback host is accepted.
ADMIN_DSN = os.environ.get("FERRY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TARGET = 0.5

_DDL = """
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    account_id INTEGER NOT NULL,
    thread_id INTEGER NOT NULL,
    line_id INTEGER NOT NULL,
    direction VARCHAR(3) NOT NULL,
    peer VARCHAR(32) NOT NULL,
    body TEXT,
    body_sealed BYTEA,
    deleted BOOLEAN NOT NULL DEFAULT false,
    status VARCHAR(16) NOT NULL,
    error VARCHAR(200),
    timestamp TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    incomplete BOOLEAN NOT NULL,
    device_id INTEGER,
    device_key VARCHAR(100),
    client_msg_id VARCHAR(64),
    seq BIGINT NOT NULL,
    refused VARCHAR(32),
    error_detail VARCHAR(500),
    UNIQUE (account_id, device_key, line_id),
    UNIQUE (account_id, client_msg_id)
);
CREATE INDEX ix_messages_account_seq ON messages (account_id, seq);
CREATE INDEX ix_messages_thread_id ON messages (thread_id, id);
"""
_INSERT = (
    "INSERT INTO messages (account_id, thread_id, line_id, direction, peer, body_sealed,"
    " status, timestamp, created_at, incomplete, device_id, device_key, seq)"
    " VALUES ($1, $2, $3, 'in', $4, $5, 'received', $6, $7, false, 1, $8, $9)"
)


def _loopback_only(dsn: str) -> None:
    host = urlsplit(dsn).hostname or ""
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise RuntimeError(f"the benchmark talks to loopback only, not {host!r}")


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A new, empty database; yields its asyncpg DSN. Dropped afterwards."""
    _loopback_only(ADMIN_DSN)
    name = f"ferry_bench_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def _rows(count: int) -> list[tuple[Any, ...]]:
    """The ingest's rows (:func:`bench.sms.baseline_rows`) with times as asyncpg wants."""
    out = []
    for row in sms.baseline_rows([sms.item(n) for n in range(1, count + 1)]):
        *head, stamp, created, key, seq = row
        out.append(
            (
                *head,
                datetime.fromisoformat(stamp).replace(tzinfo=UTC),
                datetime.fromisoformat(created).replace(tzinfo=UTC),
                key,
                seq,
            )
        )
    return out


async def asyncpg_ingest(
    rows: Sequence[tuple[Any, ...]],
    commits: Sequence[int],
    history: Sequence[tuple[Any, ...]] = (),
) -> float:
    """Bare asyncpg: ``rows`` into a fresh table (holding ``history`` first, analyzed),
    one transaction per group of ``commits``; returns the seconds it took."""
    async with scratch_database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(_DDL)
            if history:
                await conn.executemany(_INSERT, history)
                await conn.execute("ANALYZE")
            start, at = time.perf_counter(), 0
            for size in commit_plan(len(rows), commits):
                async with conn.transaction():
                    await conn.executemany(_INSERT, rows[at : at + size])
                at += size
            return time.perf_counter() - start
        finally:
            await conn.close()


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    all_rows = _rows(size.pg_history + size.ingest_messages)
    ferry_runs: list[ingest.Run] = []
    base: list[float] = []
    # A database in use: it holds a history and has its statistics. On a fresh one the
    # planner knows no sizes and looks stored keys up by sequential scan until
    # autovacuum analyzes the table (README, "Benchmark").
    warm = size.pg_history
    rows, old = all_rows[warm:], all_rows[:warm]
    for _ in range(size.ingest_runs):
        async with scratch_database() as dsn:

            async def analyze(dsn: str = dsn) -> None:
                conn = await asyncpg.connect(dsn)
                try:
                    await conn.execute("ANALYZE")
                finally:
                    await conn.close()

            done = await ingest.ingest_once(
                ctx,
                0,
                "pg-ingest",
                database_url=sqlalchemy_url(dsn),
                history=warm,
                settle=analyze,
            )
        ingest.check(done)
        ferry_runs.append(done)
        base.append(await asyncpg_ingest(rows, done.groups, old))
    n = size.ingest_messages
    ferry_s, base_s = statistics.median(r.seconds for r in ferry_runs), statistics.median(base)
    groups = [g for r in ferry_runs for g in r.groups]
    figures = [
        at_least(
            "pg_ingest",
            "messages/s",
            n / ferry_s,
            n / base_s,
            TARGET,
            of_baseline="bare asyncpg, the same group sizes, executemany per group",
            messages=n,
            history_before=warm,
            runs=size.ingest_runs,
            ferry_seconds_all=[round(r.seconds, 4) for r in ferry_runs],
            baseline_seconds_all=[round(s, 4) for s in base],
            group_commits_per_run=[len(r.groups) for r in ferry_runs],
            group_items_mean=statistics.fmean(groups),
            group_size_distribution=ingest.distribution(groups),
            ferry_server_cpu_seconds=statistics.median(r.server_cpu for r in ferry_runs),
        )
    ]
    async with scratch_database() as dsn:
        lat = await latency.measure(ctx, database_url=sqlalchemy_url(dsn), name="pg-latency")
    figures += [_rename(f, "pg_" + f.name, database="postgresql") for f in lat]
    return figures


def _rename(figure: Figure, name: str, **detail: Any) -> Figure:
    return Figure(
        name,
        figure.unit,
        figure.ferry,
        figure.baseline,
        figure.ratio,
        figure.target,
        figure.passed,
        {**figure.detail, **detail},
    )
