"""Each trusted issuer's bindings, compiled for matching and kept for API_KEY_CACHE_SECONDS, so
that a request with an identity token costs no database round trip; a binding created or
deleted counts at once here, and in every other process of every instance as soon as its
notification arrives (api/auth/credentials_listener.py), as a key's revocation does."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from identity.claim_matching import ClaimRule
from models.identity_binding import Binding


@dataclass(frozen=True)
class CompiledBinding:
    binding: Binding
    rule: ClaimRule

    @classmethod
    def of(cls, binding: Binding) -> CompiledBinding:
        return cls(binding=binding, rule=ClaimRule.compile(binding.claims))


def matching(bindings: Sequence[CompiledBinding], claims: Mapping[str, Any]) -> list[Binding]:
    """The bindings whose every named claim the token's claims match."""
    return [compiled.binding for compiled in bindings if compiled.rule.matches(claims)]


class BindingCache:
    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        self._issuers: dict[str, tuple[list[CompiledBinding], float]] = {}
        # Bumped by every change on this instance, so that bindings read before a change are
        # not kept after it (a read that raced a create or a delete); `_cleared` likewise for
        # every issuer at once (a change heard of from another process).
        self._generations: dict[str, int] = {}
        self._cleared = 0
        # The event loop reads and fills it; a binding route (in the threadpool) empties it.
        self._lock = threading.Lock()

    def get(self, issuer: str) -> list[CompiledBinding] | None:
        with self._lock:
            found = self._issuers.get(issuer)
        if found is None or time.monotonic() - found[1] >= self.seconds:
            return None
        return found[0]

    def generation(self, issuer: str) -> int:
        """Take it before reading the bindings from the database; give it to `put`."""
        with self._lock:
            return self._generation(issuer)

    def _generation(self, issuer: str) -> int:
        return self._cleared + self._generations.get(issuer, 0)

    def put(
        self, issuer: str, bindings: Sequence[Binding], *, generation: int
    ) -> list[CompiledBinding]:
        """The bindings compiled; kept unless a change came in since they were read."""
        compiled = [CompiledBinding.of(binding) for binding in bindings]
        with self._lock:
            # Only trusted issuers get here (tokens are verified first): a bounded set.
            if self._generation(issuer) == generation:
                self._issuers[issuer] = (compiled, time.monotonic())
        return compiled

    def forget(self, issuer: str) -> None:
        """A binding of `issuer` changed on this instance: read them again at the next token."""
        with self._lock:
            self._issuers.pop(issuer, None)
            self._generations[issuer] = self._generations.get(issuer, 0) + 1

    def clear(self) -> None:
        """A binding changed somewhere: read every issuer's bindings again."""
        with self._lock:
            self._issuers.clear()
            self._cleared += 1
