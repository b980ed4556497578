"""Ports another program already uses: listening sockets on 127.0.0.1 that a test holds.

Tests never occupy fixed ports (other test runs share the machine); a held port stands in
for a taken default and is handed to the code under test through the environment.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def held_ports(count: int = 1) -> Iterator[list[int]]:
    """``count`` ports on 127.0.0.1 that accept connections until the block ends."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            ports.append(int(sock.getsockname()[1]))
        yield ports


def dead_pid() -> int:
    """The id of a process that has ended (a child that ran ``true``)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
