"""Does a node's memory level off under steady traffic? ``python -m bench.plateau``.

One node (SQLite), ``--tabs`` signed-in tabs following the account, the bridge uploading
``--messages`` messages one at a time (each its own group commit, each a frame the change
feed keeps until its bound, 4,096 frames or 32 MB). Prints the server's RSS every
``--every`` messages as JSON lines ``{"messages": n, "rss_mb": x}``. Complements the
nodes soak, whose pace (a few messages a second to 10,000 tabs) does not reach the
feed's bound within ten minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import aiohttp

from bench import sms
from bench.procs import raise_nofile
from bench.target import FULL, Context, running_ferry


async def _run(ctx: Context, tabs: int, messages: int, every: int) -> None:
    async with aiohttp.ClientSession() as http, running_ferry(ctx, "plateau", http) as ferry:
        pool = await ferry.browsers(http)
        await pool.open(tabs)
        try:
            for i in range(messages + 1):
                if i % every == 0:
                    rss = round(ferry.server.rss() / 2**20, 1)
                    print(json.dumps({"messages": i, "rss_mb": rss}), flush=True)
                if i < messages:
                    await ferry.bridge.upload([sms.item(ferry.take(1)[0])])
        finally:
            await pool.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.plateau", description=__doc__)
    p.add_argument("--tabs", type=int, default=100)
    p.add_argument("--messages", type=int, default=12_000)
    p.add_argument("--every", type=int, default=1_000)
    p.add_argument("--work-dir", type=Path, default=Path("var/bench"))
    ns = p.parse_args()
    raise_nofile()
    ns.work_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(FULL, ns.work_dir.resolve())
    asyncio.run(_run(ctx, ns.tabs, ns.messages, ns.every))


if __name__ == "__main__":
    main()
