"""What the pool reports about itself, for metrics, without depending on a metrics library.

`Database` calls a `PoolListener`; the default one ignores everything. `api/edge/metrics.py` plugs
in one that records Prometheus samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PoolUsage:
    """A snapshot of the pool: connections lent out, connections idle, borrowers waiting."""

    in_use: int
    idle: int
    waiting: int


class PoolListener(Protocol):
    def connection_wait_finished(self, seconds: float) -> None:
        """A borrower got a connection slot (or gave up) after waiting `seconds`."""

    def database_error(self, kind: str) -> None:
        """A unit of work failed; `kind` is one of ERROR_KINDS (see database/pool.py)."""


class IgnoringListener:
    def connection_wait_finished(self, seconds: float) -> None:
        pass

    def database_error(self, kind: str) -> None:
        pass


ERROR_KINDS = (
    "connection",
    "pool_exhausted",
    "statement_timeout",
    "lock_timeout",
    "serialization",
    "integrity",
    "data",
    "other",
)
