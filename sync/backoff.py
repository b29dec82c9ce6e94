"""Capped exponential backoff with full jitter, so that many branches coming back
at once do not knock on the broker in step."""
from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float, cap: float, rng: random.Random | None = None):
        self.initial, self.cap = initial, cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The next wait: uniform in [initial/2, min(cap, initial * 2**attempt)]."""
        ceiling = min(self.cap, self.initial * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(min(self.initial / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempt = 0
