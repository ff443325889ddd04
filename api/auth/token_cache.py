"""Identity tokens this instance verified lately, so that a workload sending the same token on
every request pays for its signature check (and its JSON) once per API_KEY_CACHE_SECONDS, not
on every request.

Kept by a SHA-256 of the token (never the token itself). Only tokens that verified are kept;
the same bytes always verify the same way, except that time passes (expiry is checked again on
every request) and that an issuer may withdraw the key that signed it (noticed within
API_KEY_CACHE_SECONDS, as a revoked API key is)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from identity.token_verifier import VerifiedToken

MAX_CACHED_TOKENS = 10_000


def token_digest(token: str) -> bytes:
    # surrogatepass: a header decoded as latin-1 never holds one, but never fail on it.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class VerifiedTokens:
    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        self._tokens: OrderedDict[bytes, tuple[VerifiedToken, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> VerifiedToken | None:
        with self._lock:
            found = self._tokens.get(digest)
        if found is None or time.monotonic() - found[1] >= self.seconds:
            return None
        return found[0]

    def put(self, digest: bytes, verified: VerifiedToken) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._tokens[digest] = (verified, time.monotonic())
            self._tokens.move_to_end(digest)
            while len(self._tokens) > MAX_CACHED_TOKENS:
                self._tokens.popitem(last=False)
