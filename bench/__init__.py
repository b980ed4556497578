"""Ferry's benchmark: the real server against raw baselines, measured in the same run.

``python -m bench [--quick] [ingest fanout latency memory storm android postgres nodes]``
starts the server under test and the baseline servers in their own processes, drives them
from this process over
loopback (a synthetic bridge, synthetic browsers) and prints one JSON report. Every figure
is a ratio to a baseline measured moments before or after it, because absolute figures
drift on shared machines.

Layout::

    __main__.py    command line, runs the selected benchmarks, writes the report
    report.py      Figure (ferry, baseline, ratio, target, pass) and machine info
    procs.py       server processes: spawn, wait until healthy, RSS, CPU, stop; RLIMIT_NOFILE
    serve_ferry.py the server under test as its own process (``ferry serve``'s code path)
    baselines.py   bare aiohttp websocket server; bare sqlite3 ingest
    target.py      a seeded, running Ferry server plus its signed-in user and bridge
    bridge.py      the synthetic bridge: every device-link specific lives here
    browsers.py    pools of synthetic browser websockets
    sms.py         synthetic inbound SMS (and the same rows for bare sqlite3)
    scrape.py      reads a server's /metrics (the ingest's group sizes)
    ingest.py fanout.py latency.py   one benchmark each (ingest: also with tabs open)
    connections.py memory and storm: one wave of idle tabs serves both figures
    postgres.py    ingest against bare asyncpg, latency, on a scratch PostgreSQL database
    cluster.py     several ferry serve nodes: scratch PostgreSQL, Redis prefix, HAProxy
    nodes.py       10,000 tabs over two nodes (PostgreSQL, Redis, HAProxy) against one
    plateau.py     one node's RSS under steady single-message traffic (python -m bench.plateau)
"""
