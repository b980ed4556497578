"""Smoke test of ``python -m bench``: it runs end to end and reports the promised shape.

Only the shape is checked; speed and memory are measured by the benchmark itself, never
asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_ingest_reports_a_figure_beside_its_baseline(tmp_path: Path) -> None:
    saved = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "ingest",
            "--ingest-messages",
            "200",
            "--ingest-runs",
            "1",
            "--ingest-tabs",
            "2",
            "--work-dir",
            str(tmp_path / "work"),
            "--report",
            str(saved),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert json.loads(saved.read_text()) == report
    assert {"command", "machine", "sizes", "figures", "all_pass"} <= report.keys()
    assert {"cpu_count", "python", "date"} <= report["machine"].keys()
    figure = report["figures"]["ingest"]
    assert {"ferry", "baseline", "ratio", "target", "pass"} <= figure.keys()
    assert figure["ferry"] > 0 and figure["baseline"] > 0
    assert isinstance(figure["pass"], bool)
    assert "ingest" in done.stderr  # the one-line summary
    # The baseline replayed Ferry's own group sizes, which the report gives.
    groups = figure["group_size_distribution"]
    assert sum(int(size) * n for size, n in groups.items()) == 200
    assert sum(figure["group_metrics_buckets"].values()) == sum(groups.values())
    with_tabs = report["figures"]["ingest_2_tabs"]
    assert with_tabs["tabs"] == 2 and with_tabs["ferry"] > 0 and with_tabs["baseline"] > 0


def test_quick_android_import_reports_speed_and_memory(tmp_path: Path) -> None:
    """The phone-import benchmark runs end to end at a small size (the suite's own import
    tests run in tests/e2e; the 100,000 belong to ``python -m bench android``)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "android", "--android-messages", "300",
         "--work-dir", str(tmp_path / "work"), "--report", str(tmp_path / "report.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)["figures"]
    speed, memory = figures["android"], figures["android_memory"]
    assert speed["messages"] == 300 and speed["pictures"] == 9 and speed["texts"] == 291
    assert speed["ferry"] > 0 and speed["baseline"] > 0 and speed["bridge_peak_rss_mb"] > 0
    assert memory["ferry"] >= memory["baseline"] > 0
    assert isinstance(speed["pass"], bool) and isinstance(memory["pass"], bool)


def test_quick_postgres_ingest_and_latency_report_their_figures(tmp_path: Path) -> None:
    """Ferry on a scratch PostgreSQL database against bare asyncpg, at a tiny size."""
    import asyncio

    from bench.postgres import ADMIN_DSN
    from tests.server.postgres import reachable

    why = asyncio.run(reachable(ADMIN_DSN))
    if why is not None:
        pytest.skip(f"PostgreSQL at {ADMIN_DSN} does not answer: {why}")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "postgres", "--ingest-messages", "200",
         "--ingest-runs", "1", "--pg-history", "100", "--latency-rounds", "5",
         "--latency-browsers", "2",
         "--work-dir", str(tmp_path / "work"), "--report", str(tmp_path / "report.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)["figures"]
    ingest = figures["pg_ingest"]
    assert ingest["ferry"] > 0 and ingest["baseline"] > 0
    assert sum(int(k) * v for k, v in ingest["group_size_distribution"].items()) == 200
    assert figures["pg_latency_p50"]["database"] == "postgresql"
    assert figures["pg_latency_p99"]["ferry"] >= figures["pg_latency_p50"]["ferry"] > 0
