"""Load from Python: client threads sending one kind of request for a while, each over a
keep-alive connection, and the latencies they saw."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

Request = Callable[[httpx.Client, random.Random], httpx.Response]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def run(
    base_url: str,
    request: Request,
    *,
    headers: dict[str, str],
    seconds: float,
    threads: int,
) -> Result:
    """`request` sent again and again from `threads` threads for `seconds`."""
    result = Result()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed_value: int) -> None:
        rng = random.Random(seed_value)  # noqa: S311 (load shape, not security)  # nosec B311
        latencies: list[float] = []
        errors = 0
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = request(client, rng)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= httpx.codes.BAD_REQUEST
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return result
