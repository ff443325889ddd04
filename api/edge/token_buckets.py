"""Token buckets, one per caller, in a table of bounded size: the arithmetic of the rate limits
(api/edge/rate_limit.py applies them to requests).

Why not the `limits` library: its strategies are fixed, moving and sliding windows (no token
bucket with a burst apart from the rate), and its memory storage keeps every key until its
window expires, with no cap, so a flood of distinct callers grows it without bound. A bucket is
two floats and a few lines here, O(1) a request, in a table capped at `MAX_TRACKED` callers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

# Callers tracked per table; beyond it the least recently seen leaves (see BucketTable).
MAX_TRACKED = 65_536


@dataclass(frozen=True)
class Policy:
    name: str
    rate: float  # tokens a second
    burst: int
    settings: str  # the settings that set it, for the 429 detail

    @property
    def window_seconds(self) -> int:
        return max(1, math.ceil(self.burst / self.rate))


class Bucket:
    """A token bucket, filled lazily: `tokens` as of `updated` (the clock's seconds)."""

    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated

    def refill(self, policy: Policy, now: float) -> None:
        self.tokens = min(policy.burst, self.tokens + (now - self.updated) * policy.rate)
        self.updated = now


class BucketTable:
    """Buckets by caller, at most `capacity` of them, least recently used first out.

    The least recently used bucket has had the longest to refill, so it is the one most likely
    full, and dropping a full bucket loses nothing (a new one starts full). A caller evicted
    before its bucket refilled starts afresh: only a flood of `capacity` other callers within a
    refill time does that.
    """

    def __init__(self, policy: Policy, capacity: int = MAX_TRACKED) -> None:
        self.policy = policy
        self.capacity = capacity
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._quota_policy = f'"{policy.name}";q={policy.burst};w={policy.window_seconds}'

    def __len__(self) -> int:
        return len(self._buckets)

    def peek(self, caller: str, now: float) -> float:
        """The caller's tokens now, without taking one or tracking a new caller."""
        bucket = self._buckets.get(caller)
        if bucket is None:
            return float(self.policy.burst)
        bucket.refill(self.policy, now)
        return bucket.tokens

    def take(self, caller: str, now: float) -> bool:
        """Take one token if there is one; tracks the caller. False: the bucket is empty."""
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = Bucket(float(self.policy.burst), now)
            self._buckets[caller] = bucket
            if len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            bucket.refill(self.policy, now)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def give_back(self, caller: str, now: float) -> None:
        """Return a token taken for a request that turned out not to need it."""
        bucket = self._buckets.get(caller)
        if bucket is not None:
            bucket.refill(self.policy, now)
            bucket.tokens = min(float(self.policy.burst), bucket.tokens + 1)

    def service_limit(self, tokens: float) -> str:
        """This policy's `RateLimit` item for a bucket holding `tokens`."""
        available = math.floor(tokens)
        missing = (1 - tokens) if available == 0 else (self.policy.burst - tokens)
        seconds = max(0, math.ceil(missing / self.policy.rate))
        return f'"{self.policy.name}";r={available};t={seconds}'

    def quota_policy(self) -> str:
        """This policy's `RateLimit-Policy` item."""
        return self._quota_policy
