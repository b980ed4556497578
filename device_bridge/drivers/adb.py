"""Running ``adb``: one subprocess per call, with an output limit.

The only I/O of the Android driver; it is injected (:class:`AdbRunner`) so the driver's
tests can use the real subprocess path against a fake ``adb`` on ``PATH``. The caller
bounds the time (``asyncio.timeout``): a cancelled call kills its process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from device_bridge.android.errors import AdbError, AdbOutputTooLarge

_STDERR_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class AdbResult:
    stdout: bytes
    stderr: bytes
    code: int


class AdbRunner(Protocol):
    async def __call__(self, args: Sequence[str], *, limit: int) -> AdbResult:
        """Run ``adb *args``.

        Raises:
            AdbError: adb cannot be started.
            AdbOutputTooLarge: it printed more than ``limit`` bytes.
        """


def subprocess_runner(adb: str = "adb") -> AdbRunner:
    """The real runner: ``adb`` (a name looked up on ``PATH``, or a path)."""

    async def run(args: Sequence[str], *, limit: int) -> AdbResult:
        command = " ".join(args[:3])[:60]
        try:
            proc = await asyncio.create_subprocess_exec(
                adb,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise AdbError(
                f"'{adb}' was not found: install Android platform-tools", command=command
            ) from None
        except OSError as exc:
            raise AdbError(f"cannot run '{adb}': {exc.strerror}", command=command) from None
        try:
            assert proc.stdout is not None and proc.stderr is not None
            out, err = await asyncio.gather(
                _read(proc.stdout, limit, command), _read(proc.stderr, _STDERR_LIMIT, command)
            )
            code = await proc.wait()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return AdbResult(out, err, code)

    return run


async def _read(stream: asyncio.StreamReader, limit: int, command: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise AdbOutputTooLarge(f"adb printed more than {limit} bytes", command=command)
        chunks.append(chunk)
    return b"".join(chunks)
