"""The reveals of secret values this instance has seen audited, so that a caller reading the
same revision again and again costs no database round trip (api/v1/representations.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

MAX_REMEMBERED_REVEALS = 100_000

Reveal = tuple[str, str, int]  # (reader, configuration id, revision)


class RevealMemory:
    """(reader, configuration, revision) reveals this instance has seen audited, the newest
    MAX_REMEMBERED_REVEALS of them: a repeat needs no database round trip."""

    def __init__(self, limit: int = MAX_REMEMBERED_REVEALS) -> None:
        self._limit = limit
        self._seen: OrderedDict[Reveal, None] = OrderedDict()
        self._lock = threading.Lock()  # the event loop and threadpool routes both use it

    def unseen(self, keys: Iterable[Reveal]) -> list[Reveal]:
        with self._lock:
            return [key for key in keys if key not in self._seen]

    def remember(self, keys: Iterable[Reveal]) -> None:
        with self._lock:
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
