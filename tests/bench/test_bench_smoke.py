"""Smoke test of ``python -m bench``: it runs end to end and reports the promised shape.

Only the shape is checked; speed and memory are measured by the benchmark itself, never
asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
