"""Server processes for the benchmark: spawn, wait until healthy, read RSS, stop.

Servers run in processes of their own so that their RSS and CPU are theirs alone and the
load generator never shares their event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

HOST = "127.0.0.1"


def raise_nofile() -> int:
    """Lift this process's open-file soft limit to the hard limit (5,000+ sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    """A port free right now on loopback (the server binds it moments later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` from ``/proc/<pid>/status`` (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (all threads), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    """A running server child process listening on ``port``."""

    proc: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def spawn(
    module: str,
    args: list[str],
    log_path: Path,
    port: int,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """Start ``python -m module args`` (environment: ours plus ``env``) and wait until
    ``/healthz`` answers."""
    return await spawn_argv([sys.executable, "-m", module, *args], log_path, port, env)


async def spawn_argv(
    argv: list[str], log_path: Path, port: int, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start ``argv`` and wait until ``/healthz`` answers on ``port``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=os.getcwd(),
            env={**os.environ, **(env or {})},
        )
    server = ServerProcess(proc, port, log_path)
    try:
        await _wait_healthy(server)
    except BaseException:
        await server.stop(grace=2)
        raise
    return server


async def _wait_healthy(server: ServerProcess, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if server.proc.returncode is not None:
                tail = server.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"server exited with {server.proc.returncode}:\n{tail}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{server.base_url}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server on port {server.port} did not become healthy")
