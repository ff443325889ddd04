"""New resource ids: ULIDs that sort in creation order, even within one millisecond."""

from __future__ import annotations

import threading
import time

from ulid import ULID

_RANDOM_BITS = 80


class UlidGenerator:
    """Monotonic ULIDs: within a millisecond (or if the clock steps back) the random part
    of the previous id is incremented, so ids made by this process never go backwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_milliseconds = -1
        self._last_random = 0

    def new(self) -> str:
        with self._lock:
            milliseconds = time.time_ns() // 1_000_000
            if milliseconds <= self._last_milliseconds:
                milliseconds = self._last_milliseconds
                random_part = self._last_random + 1
                if random_part >= 1 << _RANDOM_BITS:
                    milliseconds += 1
                    random_part = int.from_bytes(ULID().bytes[6:], "big")
            else:
                random_part = int.from_bytes(ULID().bytes[6:], "big")
            self._last_milliseconds = milliseconds
            self._last_random = random_part
        raw = milliseconds.to_bytes(6, "big") + random_part.to_bytes(10, "big")
        return str(ULID.from_bytes(raw))


_generator = UlidGenerator()


def new_id() -> str:
    return _generator.new()
