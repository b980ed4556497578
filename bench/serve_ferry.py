"""The server under test, as its own process: ``python -m bench.serve_ferry --port P --data-dir D``.

It runs ``ferry serve``'s own code path (``server.cli.run_server``), so what is measured is
what is deployed; only the open-file limit is raised for thousands of sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
from pathlib import Path

from bench.procs import HOST, raise_nofile
from server.cli import run_server
from server.config import Config
from server.log import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.serve_ferry")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in --data-dir)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop (must be installed)")
    ns = p.parse_args()
    raise_nofile()
    # Thousands of synthetic tabs connect from one loopback address: no per-address cap.
    config = Config(
        host=HOST,
        port=ns.port,
        data_dir=ns.data_dir,
        database_url=ns.database_url,
        log_level=ns.log_level,
        max_connections_per_ip=0,
    )
    setup_logging(config.validate().log_level)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_server(config, stop)

    # FERRY_BENCH_PROFILE=out.prof: profile the server (cProfile) to find where time goes.
    profile_to = os.environ.get("FERRY_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    if profiler is not None:
        profiler.enable()
    try:
        if ns.uvloop:
            import uvloop

            uvloop.run(serve())
        else:
            asyncio.run(serve())
    finally:
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
