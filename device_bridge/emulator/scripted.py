"""A scripted contact: someone who keeps texting a virtual phone, for demos."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence

from .network import Network

__all__ = ["FRIENDLY_LINES", "ScriptedContact"]

logger = logging.getLogger("ferry.emulator")

FRIENDLY_LINES = (
    "Hey! Are we still on for lunch tomorrow?",
    "Running 10 minutes late, sorry 🙏",
    "Did you see the match last night?",
    "Can you pick up milk on the way home?",
    "Happy Friday! Any plans for the weekend?",
    "The package arrived, thanks 😊",
    "Call me when you get a sec.",
    "Ça va ? On se voit à 19h devant le café.",
)


class ScriptedContact:
    """``sender`` texts ``recipient`` a friendly line every ``interval`` seconds.

    Args:
        network: Routes the messages (the sender may be a virtual phone or outsider).
        sender: Who texts.
        recipient: Who receives.
        interval: Seconds between messages.
        lines: What to say, in turn, forever.
        sleep: Waits between messages; tests pass a fake.
    """

    def __init__(
        self,
        network: Network,
        sender: str,
        recipient: str,
        *,
        interval: float,
        lines: Sequence[str] = FRIENDLY_LINES,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.network = network
        self.sender = sender
        self.recipient = recipient
        self.interval = interval
        self.sent = 0
        self._lines = lines
        self._sleep = sleep

    async def run(self, count: int | None = None) -> None:
        """Send ``count`` messages (forever when None), sleeping ``interval`` before each."""
        for line in itertools.islice(itertools.cycle(self._lines), count):
            await self._sleep(self.interval)
            self.network.send_text(self.sender, self.recipient, line)
            self.sent += 1
            logger.debug("scripted contact %s -> %s (#%d)", self.sender, self.recipient, self.sent)
