"""How long to pause before the next attempt: capped exponential backoff with full jitter
(a random pause up to base x 2^attempt, at most `cap`), so that many clients cut off at once
do not come back at once; never shorter than the service's `Retry-After`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BASE_SECONDS = 0.5
CAP_SECONDS = 30.0
# The longest Retry-After honoured: a longer one is a service (or proxy) gone wrong, and a
# watcher that slept for a day would be worse than one that asks again.
MAX_RETRY_AFTER_SECONDS = 600.0


@dataclass
class Backoff:
    base: float = BASE_SECONDS
    cap: float = CAP_SECONDS
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def reset(self) -> None:
        self.attempts = 0

    def next_pause(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.attempts, 32))
        self.attempts += 1
        pause = self._random.uniform(0, ceiling)
        if retry_after is not None:
            pause = max(pause, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return pause
