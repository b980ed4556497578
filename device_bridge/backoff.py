"""Reconnect backoff: exponential with full jitter, capped (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of ``base * 2**attempt`` seconds, capped at ``cap``, scaled by a random factor.

    Full jitter spreads a crowd of bridges reconnecting after a server restart.
    """

    base: float = 0.5
    cap: float = 30.0
    rand: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return ceiling * (0.5 + self.rand() / 2)

    def reset(self) -> None:
        self.attempt = 0
