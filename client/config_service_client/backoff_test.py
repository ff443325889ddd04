"""Backoff: jittered, growing, capped, never below Retry-After (itself capped)."""

from __future__ import annotations

import random

from config_service_client.backoff import MAX_RETRY_AFTER_SECONDS, Backoff


def test_pauses_grow_to_the_cap_with_jitter_and_reset() -> None:
    backoff = Backoff(base=1.0, cap=8.0, _random=random.Random(7))  # noqa: S311 (jitter, not a secret)
    pauses = [backoff.next_pause() for _ in range(40)]
    ceilings = [min(8.0, 2.0**attempt) for attempt in range(40)]
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(pauses, ceilings, strict=True))
    assert max(pauses[10:]) > 4.0  # it does grow: some late pause is above the early ceilings
    assert len(set(pauses)) == 40  # and is jittered
    backoff.reset()
    assert backoff.next_pause() <= 1.0


def test_retry_after_is_the_least_pause_and_is_capped() -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    assert backoff.next_pause(retry_after=3.0) >= 3.0
    assert backoff.next_pause(retry_after=10**9) == MAX_RETRY_AFTER_SECONDS
