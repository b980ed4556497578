"""Logger names of the server, declared in one place.

Never log message bodies, passwords, session ids, device secrets or codes (the one
exception: the ``log`` SMS gateway, development on loopback only).
"""

from __future__ import annotations

import logging

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


def setup_logging(level: str = "INFO") -> None:
    """Plain, one-line-per-event logging to stderr."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Alembic announces every migration context at INFO; keep start-up quiet.
    logging.getLogger("alembic").setLevel(logging.WARNING)
