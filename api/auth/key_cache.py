"""The keys this process checked lately, so that a request whose key was checked within
API_KEY_CACHE_SECONDS costs no database round trip. A revocation anywhere empties it in every
process of every instance (api/auth/credentials_listener.py)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from models.api_key import ApiKey

MAX_CACHED_KEYS = 10_000


class KeyCache:
    """Keys by the hash of what the client sent (never the key itself). Revoked and expired
    keys are kept too: they never become usable again. Unknown keys are not kept, so a new key
    works at once."""

    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        self._keys: OrderedDict[bytes, tuple[ApiKey, float]] = OrderedDict()
        # Bumped by every revocation heard of (here or elsewhere), so that a key read from
        # PostgreSQL before a revocation committed is not kept after the cache was emptied
        # for it (a lookup in flight while the notification arrived).
        self._generation = 0
        # The event loop reads and fills it; a revoke (a threadpool route) empties entries.
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> ApiKey | None:
        with self._lock:
            found = self._keys.get(digest)
        if found is None or time.monotonic() - found[1] >= self.seconds:
            return None
        return found[0]

    def generation(self) -> int:
        """Take it before reading the key from PostgreSQL; give it to `put`."""
        with self._lock:
            return self._generation

    def put(self, digest: bytes, key: ApiKey, *, generation: int) -> None:
        """Kept unless a revocation came in since the key was read."""
        with self._lock:
            if self._generation != generation:
                return
            self._keys[digest] = (key, time.monotonic())
            self._keys.move_to_end(digest)
            while len(self._keys) > MAX_CACHED_KEYS:
                self._keys.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """This instance revoked it: no request here may use it from now on."""
        with self._lock:
            self._generation += 1
            for digest, (key, _) in list(self._keys.items()):
                if key.id == key_id:
                    del self._keys[digest]

    def clear(self) -> None:
        """A key was revoked somewhere: check every key in PostgreSQL again."""
        with self._lock:
            self._generation += 1
            self._keys.clear()
