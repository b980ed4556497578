"""An SMS gateway that keeps what it was asked to send (the real edge is the phone network)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    to: str
    text: str
    kind: str


class FakeSms:
    name = "fake"

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, to: str, text: str, kind: str) -> None:
        self.sent.append(Sent(to, text, kind))

    async def close(self) -> None:
        pass

    def to(self, number: str) -> list[Sent]:
        return [s for s in self.sent if s.to == number]

    def last_code(self, number: str) -> str:
        """The code in the WebOTP line of the last message to ``number``."""
        match = re.search(r"#(\d{6})\s*$", self.to(number)[-1].text)
        assert match, self.to(number)[-1].text
        return match.group(1)
