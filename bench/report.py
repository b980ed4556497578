"""The report: each figure beside its baseline, as a ratio with a target; machine info."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPORT_PATH = Path(__file__).parent / "last-report.json"


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``ratio`` = ferry / baseline."""

    name: str
    unit: str
    ferry: float
    baseline: float
    ratio: float
    target: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "ferry": _round(self.ferry),
            "baseline": _round(self.baseline),
            "ratio": _round(self.ratio),
            "target": self.target,
            "pass": self.passed,
            "unit": self.unit,
            **{k: _round(v) for k, v in self.detail.items()},
        }

    def summary(self) -> str:
        verdict = "pass" if self.passed else "MISS"
        return (
            f"{self.name:12} ferry {self.ferry:>12,.3f} {self.unit:<14} baseline "
            f"{self.baseline:>12,.3f}  ratio {self.ratio:7.3f}  target {self.target:<14} {verdict}"
        )


def at_least(
    name: str, unit: str, ferry: float, baseline: float, target: float, **detail: Any
) -> Figure:
    """Higher is better: pass when ferry / baseline >= target."""
    ratio = ferry / baseline if baseline else 0.0
    return Figure(name, unit, ferry, baseline, ratio, f">= {target}x", ratio >= target, detail)


def at_most(
    name: str, unit: str, ferry: float, baseline: float, target: float, of: str = "", **detail: Any
) -> Figure:
    """Lower is better: pass when ferry / baseline <= target (``of`` names the baseline)."""
    ratio = ferry / baseline if baseline else float("inf")
    return Figure(
        name, unit, ferry, baseline, ratio, f"<= {target}x {of}".strip(), ratio <= target, detail
    )


def machine_info(loop: str) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "aiohttp": version("aiohttp"),
        "sqlalchemy": version("sqlalchemy"),
        "sqlite": sqlite3.sqlite_version,
        "event_loop": loop,
    }


def build(
    figures: list[Figure], *, machine: dict[str, Any], command: str, sizes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "command": command,
        "machine": machine,
        "sizes": sizes,
        "figures": {f.name: f.as_json() for f in figures},
        "all_pass": all(f.passed for f in figures),
    }


def write(report: dict[str, Any], path: Path = REPORT_PATH) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if abs(value) < 100 else round(value, 1)
    return value
