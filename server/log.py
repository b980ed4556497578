"""Logger names of the server, declared in one place, and how log lines are written.

Never log message bodies, passwords, session ids, device secrets or codes (the one
exception: the ``log`` SMS gateway, development on loopback only), nor cookies or query
strings. ``FERRY_LOG_FORMAT=json`` writes the same events as one JSON object per line:
it changes the shape, never what is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

server_logger = logging.getLogger("ferry.server")
access_logger = logging.getLogger("ferry.server.access")
device_logger = logging.getLogger("ferry.server.device")
browser_logger = logging.getLogger("ferry.server.browser")
storage_logger = logging.getLogger("ferry.server.storage")
security_logger = logging.getLogger("ferry.server.security")
#: aiohttp's own messages about connections and malformed requests (``server.net``).
http_logger = logging.getLogger("ferry.server.http")
#: Outbound SMS. Only the development ``log`` gateway writes a code here.
sms_logger = logging.getLogger("ferry.server.sms")

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else came with ``extra=`` and is structured.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# A connection's child logger (``ferry.server.device.42``) names its device.
_DEVICE_CHILD = re.compile(r"ferry\.server\.device\.(\d+)")
#: Longest message kept in a JSON line (a runaway repr must not fill the log).
MAX_MESSAGE = 4000


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, then the record's structured extras (``device_id``, ``account_id``, …)
    and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage()[:MAX_MESSAGE],
        }
        if found := _DEVICE_CHILD.fullmatch(record.name):
            out["device_id"] = int(found[1])
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log every logger (aiohttp's included) to stderr, as readable lines (``text``) or
    JSON objects (``json``), one per event."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    quiet_libraries()


def quiet_libraries() -> None:
    """Loggers of libraries that say too much, whatever the level asked for."""
    # Alembic announces every migration context at INFO; keep start-up quiet.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its bound values at DEBUG: password hashes,
    # sealed bodies, addresses. FERRY_LOG_LEVEL=DEBUG must not write them.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
