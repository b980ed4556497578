"""Where a running server listens, recorded in its data directory.

``ferry serve`` (and ``ferry demo``) write ``listening.json`` into the data directory once
their socket is bound, and remove it when they stop cleanly. ``ferry admin pairing-code``
reads it to put the address the server actually serves into a code. A file left behind
by a process that died is not trusted: its process must still exist and something must
still accept connections on its port.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from server.config import ConfigError

FILE_NAME = "listening.json"
_MAX_FILE = 4096  # bytes; the file holds four short fields


class ListenError(ConfigError):
    """The server cannot listen where it was told to (port taken, address not local, …)."""


def listen_error(host: str, port: int, exc: OSError) -> ListenError:
    """One plain sentence for a failed bind: which port, and which setting changes it."""
    if exc.errno == errno.EADDRINUSE:
        return ListenError(
            f"port {port} on {host} is already in use (another program listens there); "
            "choose another with --port or FERRY_PORT"
        )
    if exc.errno == errno.EACCES:
        return ListenError(
            f"not allowed to listen on port {port}; choose one above 1023 with --port or FERRY_PORT"
        )
    # asyncio puts the whole bind message into strerror; the errno's own text is shorter.
    reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
    return ListenError(
        f"cannot listen on {host} port {port} ({reason}); check --host/--port or "
        "FERRY_HOST/FERRY_PORT"
    )


def url_for(scheme: str, host: str, port: int) -> str:
    """The URL others reach a server bound to ``host``: a wildcard becomes this host's name."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class Listening:
    """A server process and the address it bound."""

    scheme: str
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return url_for(self.scheme, self.host, self.port)


def record(data_dir: Path, listening: Listening) -> Path:
    """Write ``listening.json`` (atomically) and return its path."""
    path = data_dir / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{FILE_NAME}.{listening.pid}.tmp")
    body = {
        "scheme": listening.scheme,
        "host": listening.host,
        "port": listening.port,
        "pid": listening.pid,
    }
    temporary.write_text(json.dumps(body) + "\n")
    os.replace(temporary, path)
    return path


def forget(path: Path, pid: int) -> None:
    """Remove the file written by process ``pid``; a newer server's file stays."""
    found = read(path.parent)
    if found is not None and found.pid == pid:
        path.unlink(missing_ok=True)


def read(data_dir: Path) -> Listening | None:
    """The recorded address, or None when there is no readable file (not checked)."""
    try:
        with (data_dir / FILE_NAME).open("rb") as f:
            raw = json.loads(f.read(_MAX_FILE))
        found = Listening(str(raw["scheme"]), str(raw["host"]), int(raw["port"]), int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if found.scheme not in ("http", "https") or not 0 < found.port < 65536 or found.pid <= 0:
        return None
    return found


def running(data_dir: Path) -> Listening | None:
    """The address of the server that runs from ``data_dir`` now, else None.

    The file is trusted only while its process exists and its port accepts connections;
    a file left by a process that was killed names neither.
    """
    found = read(data_dir)
    if found is None or not process_exists(found.pid):
        return None
    return found if _accepts(found.host, found.port) else None


def process_exists(pid: int) -> bool:
    """Does process ``pid`` exist (under any user)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _accepts(host: str, port: int) -> bool:
    # A wildcard bind accepts on loopback too; ask there rather than on the network.
    if host in ("0.0.0.0", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False
