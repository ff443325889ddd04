"""The benchmark's data set, as documents of a given serialised size: what a real service keeps
in its configuration (connection settings, feature flags, limits), padded to the size asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SMALL_BYTES = 1_000
LARGE_BYTES = 100_000
# Under MAX_BODY_BYTES (1 MiB) with the request's other fields around it.
HUGE_BYTES = 1_000_000
SECRET_PASSWORD = "bench-pa55w0rd"  # noqa: S105 (a fixed value the benchmark marks secret)  # nosec B105


@dataclass(frozen=True)
class DataSet:
    """How much to seed. The defaults are the issue's realistic data set."""

    applications: int = 1_000
    configurations: int = 10_000  # of about SMALL_BYTES, spread over the applications
    secret_configurations: int = 100  # of those, with a secret password (masked reads)
    large: int = 5  # of LARGE_BYTES
    huge: int = 2  # of HUGE_BYTES
    listed: int = 10_100  # in one application of their own, for the first and the deep page
    deep_after: int = 10_000  # the deep page starts after this many
    extra: int = 90_000  # added before the 100,000-configuration measurements

    @property
    def total_after_extra(self) -> int:
        return self.configurations + self.large + self.huge + self.listed + self.extra


QUICK = DataSet(
    applications=20,
    configurations=60,
    secret_configurations=5,
    large=1,
    huge=1,
    listed=200,
    deep_after=100,
    extra=240,
)


def document(index: int, size: int, *, secret: bool = False) -> dict[str, Any]:
    """A configuration document whose compact JSON is `size` bytes (at least its fixed part,
    about 400 bytes), different for each `index`."""
    base: dict[str, Any] = {
        "database": {
            "host": f"db-{index % 7}.internal",
            "port": 5432,
            "pool_size": 10 + index % 20,
            "timeout_seconds": 2.5,
            "password": SECRET_PASSWORD if secret else "not-a-secret",
        },
        "features": {f"flag_{flag}": (index + flag) % 3 == 0 for flag in range(8)},
        "limits": [{"tier": f"tier-{tier}", "rps": (tier + 1) * 100} for tier in range(4)],
        "region": ["eu-west-1", "us-east-1", "ap-south-1"][index % 3],
        "release": f"2026.{index % 12 + 1}.{index}",
        "notes": "",
    }
    missing = size - len(json.dumps(base, separators=(",", ":")))
    base["notes"] = "x" * max(0, missing)
    return base


def serialised_size(value: dict[str, Any]) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())
