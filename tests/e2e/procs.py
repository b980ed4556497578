"""A real child process of an end-to-end test (the server, a bridge): started with its
output in a log file, stopped with a signal, killed when it does not go."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientError, ClientSession


@dataclass
class Proc:
    argv: list[str]
    log: Path
    #: ``FERRY_LOG_LEVEL`` of the child.
    log_level: str = "INFO"
    proc: asyncio.subprocess.Process | None = None
    #: How many times :meth:`kill` ended it.
    kills: int = 0
    #: Environment variables set for the child, besides the test's own.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the process, unless it runs already (two copies of one bridge would share
        its serial port and identity, and the first would be left running untracked)."""
        if self.running:
            return
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdout=out,
                stderr=out,
                env={**os.environ, "FERRY_LOG_LEVEL": self.log_level, **self.env},
            )

    async def kill(self) -> None:
        if self.proc is not None and self.running:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.kills += 1

    async def stop(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` and wait up to 15 s for the process to end, else kill it."""
        if self.proc is None or not self.running:
            return
        self.proc.send_signal(signum)
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            await self.kill()


async def healthy(http: ClientSession, url: str) -> bool:
    """Does the Ferry server at ``url`` answer its health check?"""
    try:
        async with http.get(f"{url}/healthz") as resp:
            return resp.status == 200
    except (OSError, ClientError):
        return False
