"""A real pseudo-terminal for an emulated modem: the host opens ``path`` like a tty.

The slave end stays open here, so a client can close the path and open it again (the
line survives, as a USB modem's tty does); the master is read with ``loop.add_reader``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import Callable

__all__ = ["PtyPort"]

logger = logging.getLogger("ferry.emulator")

_MAX_PENDING = 64 * 1024  # output kept while nobody reads the tty; older bytes go first


class PtyPort:
    """A pty whose master side hands bytes to ``on_data`` and accepts :meth:`write`.

    Args:
        on_data: Called with each chunk the client writes to the tty.
    """

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self._on_data = on_data
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._pending = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Begin reading the master on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO would mean no slave is open; we hold one, so rare
            logger.warning("pty %s read failed: %s", self.path, exc)
            return
        if data:
            self._on_data(data)

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the client; never blocks."""
        if self._loop is None or self._master < 0:
            return
        self._pending += data
        if len(self._pending) > _MAX_PENDING:
            del self._pending[: len(self._pending) - _MAX_PENDING]
        self._writable()

    def _writable(self) -> None:
        assert self._loop is not None
        try:
            while self._pending:
                written = os.write(self._master, self._pending)
                del self._pending[:written]
        except (BlockingIOError, InterruptedError):
            self._loop.add_writer(self._master, self._writable)
            return
        except OSError as exc:
            logger.warning("pty %s write failed: %s", self.path, exc)
            self._pending.clear()
        self._loop.remove_writer(self._master)

    def close(self) -> None:
        """Stop reading and release both ends."""
        if self._loop is not None:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
            self._loop = None
        # -1 marks a closed end: closing a number twice could close someone else's file
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
