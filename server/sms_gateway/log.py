"""The ``log`` gateway: development only. The whole message, code included, goes to the
server log (the one place this project logs a code, and only on loopback development)."""

from __future__ import annotations

from server.log import sms_logger


class LogGateway:
    name = "log"

    async def send(self, to: str, text: str, kind: str) -> None:
        sms_logger.warning("DEVELOPMENT SMS (%s) to %s: %s", kind, to, text.replace("\n", " | "))

    async def close(self) -> None:
        pass
