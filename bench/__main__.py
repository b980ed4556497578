"""``python -m bench [--quick] [ingest fanout latency memory storm android postgres nodes
loaded]``: run, report.

Prints one JSON object on stdout (also written to ``bench/last-report.json``) and a
one-line summary per figure on stderr. A missed target is a measurement, not a failure:
the exit status is 0 unless a benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import android, connections, fanout, ingest, latency, loaded, nodes, postgres, report
from bench.procs import raise_nofile
from bench.report import Figure
from bench.target import FULL, QUICK, Context

NAMES = (
    "ingest",
    "fanout",
    "latency",
    "memory",
    "storm",
    "android",
    "postgres",
    "nodes",
    "loaded",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "benchmarks",
        nargs="*",
        choices=[*NAMES, []],
        metavar="BENCHMARK",
        help=f"any of {', '.join(NAMES)} (default: all)",
    )
    p.add_argument("--quick", action="store_true", help="smaller counts (~30 s)")
    p.add_argument("--uvloop", action="store_true", help="run the servers on uvloop")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path("var/bench"),
        help="databases and server logs (default: var/bench)",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=report.REPORT_PATH,
        help="where to save the JSON report (default: bench/last-report.json)",
    )
    p.add_argument("--ingest-messages", type=int)
    p.add_argument(
        "--ingest-tabs",
        type=lambda text: tuple(int(t) for t in text.split(",") if t),
        help="comma-separated tab counts to ingest with (default 1,100; '' for none)",
    )
    p.add_argument("--ingest-runs", type=int, help="rounds of the ingest (default 3)")
    p.add_argument("--pg-history", type=int, help="postgres: messages stored before (20000)")
    p.add_argument("--fanout-sockets", type=int)
    p.add_argument("--fanout-rounds", type=int)
    p.add_argument("--latency-rounds", type=int)
    p.add_argument("--latency-browsers", type=int, help="tabs receiving the probes (100)")
    p.add_argument(
        "--connections", type=int, dest="idle_connections", help="tabs in the memory/storm wave"
    )
    p.add_argument("--android-messages", type=int, help="the phone's history (android)")
    p.add_argument("--search-messages", type=int, help="the searched account's (loaded)")
    p.add_argument("--signin-clients", type=int, help="clients signing in (loaded)")
    p.add_argument("--nodes-tabs", type=int, help="browser sockets over the nodes (nodes)")
    p.add_argument("--nodes-balanced-tabs", type=int, help="of them through HAProxy (nodes)")
    p.add_argument("--nodes-messages", type=int, help="messages per bridge (nodes)")
    p.add_argument(
        "--soak-seconds", type=float, help="nodes: keep traffic flowing this long (e.g. 600)"
    )
    return p


def _context(ns: argparse.Namespace) -> Context:
    sizes = QUICK if ns.quick else FULL
    overrides = {
        f.name: getattr(ns, f.name)
        for f in dataclasses.fields(sizes)
        if getattr(ns, f.name, None) is not None
    }
    ns.work_dir.mkdir(parents=True, exist_ok=True)
    return Context(dataclasses.replace(sizes, **overrides), ns.work_dir.resolve(), ns.uvloop)


def _plan(
    selected: set[str], ctx: Context
) -> list[tuple[str, Callable[[], Awaitable[list[Figure]]]]]:
    plan: list[tuple[str, Callable[[], Awaitable[list[Figure]]]]] = []
    if "ingest" in selected:
        plan.append(("ingest", lambda: ingest.run(ctx)))
    if "fanout" in selected:
        plan.append(("fanout", lambda: fanout.run(ctx)))
    if "latency" in selected:
        plan.append(("latency", lambda: latency.run(ctx)))
    # One wave of connections serves both figures.
    if wanted := selected & {"memory", "storm"}:
        plan.append(("+".join(sorted(wanted)), lambda: connections.run(ctx, wanted)))
    if "postgres" in selected:
        plan.append(("postgres", lambda: postgres.run(ctx)))
    if "nodes" in selected:
        plan.append(("nodes", lambda: nodes.run(ctx)))
    if "android" in selected:
        plan.append(("android", lambda: android.run(ctx)))
    if "loaded" in selected:
        plan.append(("loaded", lambda: loaded.run(ctx)))
    return plan


async def _run(selected: set[str], ctx: Context) -> tuple[list[Figure], dict[str, str]]:
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    for name, bench in _plan(selected, ctx):
        # Each benchmark starts from a settled machine: the previous one's files written
        # back to disk (the ingest leaves tens of MB dirty, whose writeback made later
        # commits wait) and this process's garbage collected.
        os.sync()
        gc.collect()
        started = time.monotonic()
        # Other work on a shared machine skews one side of a ratio: record how busy it was.
        load_before = os.getloadavg()[0]
        print(f"bench: {name} ... (load {load_before:.2f})", file=sys.stderr, flush=True)
        try:
            done = await bench()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        load_after = os.getloadavg()[0]
        for figure in done:
            figure.detail.update(loadavg_1m_before=load_before, loadavg_1m_after=load_after)
            print(f"bench: {figure.summary()}", file=sys.stderr, flush=True)
        print(f"bench: {name} took {time.monotonic() - started:.1f}s", file=sys.stderr)
        figures.extend(done)
    return figures, errors


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ns = _parser().parse_args(argv)
    raise_nofile()
    ctx = _context(ns)
    selected = set(ns.benchmarks or NAMES)
    figures, errors = asyncio.run(_run(selected, ctx))
    result = report.build(
        figures,
        machine=report.machine_info("uvloop" if ns.uvloop else "asyncio"),
        command=" ".join(["python -m bench", *argv]),
        sizes=dataclasses.asdict(ctx.sizes),
    )
    if errors:
        result["errors"] = errors
    report.write(result, ns.report)
    print(json.dumps(result, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
