"""The one way a write is retried.

A write runs as `attempt(unit)` in a unit of work of its own. It runs again, in a new one, when
 - it raises StaleRead: its compare-and-set found the row changed since it was read (another
   writer won the race), so it rolls back and starts over from the new state; or
 - PostgreSQL aborted it as a serialization failure or deadlock (TransactionConflict,
   SQLSTATE 40001/40P01), which asks for exactly that.
Attempts are bounded and spaced by a short, jittered, growing pause, so that writers that
collided do not collide again in step. `attempt` must do nothing but database work, since it
may run more than once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from database.errors import TransactionConflict
from services.errors import ConcurrentModification

logger = logging.getLogger(__name__)

MAX_WRITE_ATTEMPTS = 5
FIRST_PAUSE_SECONDS = 0.005
LONGEST_PAUSE_SECONDS = 0.1

Unit = TypeVar("Unit")
Result = TypeVar("Result")


class StaleRead(Exception):
    """A compare-and-set found `resource` changed since this attempt read it."""

    def __init__(self, *, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {resource_id} changed since it was read")
        self.resource = resource
        self.resource_id = resource_id


def pause_before_attempt(attempt: int) -> float:
    """Seconds to wait before attempt number `attempt` (2, 3, ...): half to all of a step that
    doubles each time, up to LONGEST_PAUSE_SECONDS."""
    step = min(FIRST_PAUSE_SECONDS * 2 ** (attempt - 2), LONGEST_PAUSE_SECONDS)
    return random.uniform(step / 2, step)  # noqa: S311 (jitter, not crypto)  # nosec B311


def retry_write(
    unit_of_work: Callable[[], AbstractContextManager[Unit]],
    attempt: Callable[[Unit], Result],
    *,
    attempts: int = MAX_WRITE_ATTEMPTS,
) -> Result:
    """The result of the first attempt that commits. After `attempts` attempts a lost race is
    ConcurrentModification and a transaction conflict is re-raised (the caller may retry later)."""
    for number in range(1, attempts + 1):
        if number > 1:
            time.sleep(pause_before_attempt(number))
        try:
            with unit_of_work() as unit:
                return attempt(unit)
        except StaleRead as stale:
            if number == attempts:
                raise ConcurrentModification(
                    resource=stale.resource, resource_id=stale.resource_id
                ) from stale
        except TransactionConflict:
            if number == attempts:
                raise
            logger.info("transaction conflict on attempt %d of %d; retrying", number, attempts)
    raise ValueError(f"attempts must be at least 1 (got {attempts})")
