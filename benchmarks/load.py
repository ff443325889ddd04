"""Load from Python, for machines without wrk: client threads over keep-alive connections.
It runs on the same cores as the server and saturates before it does, so its figures measure
the client as much as the service; the benchmark says so when it uses it."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable

import httpx

from benchmarks.wrk import Throughput

# One request on a thread's client; `slot` is the thread's number, `rng` its random source.
Request = Callable[[httpx.Client, int, random.Random], httpx.Response]


def summarise(
    latencies: list[float], errors: int, seconds: float, conflicts: int = 0
) -> Throughput:
    """Rate, median and 99th percentile (ms) of `latencies` (seconds) over `seconds`."""
    ordered = sorted(latencies)
    if len(ordered) < 2:  # noqa: PLR2004
        only = ordered[0] * 1000 if ordered else 0.0
        return Throughput(len(ordered) / seconds, only, only, errors, conflicts)
    cuts = statistics.quantiles(ordered, n=100)
    return Throughput(len(ordered) / seconds, cuts[49] * 1000, cuts[98] * 1000, errors, conflicts)


def run(base_url: str, request: Request, *, seconds: float, threads: int) -> Throughput:
    """`request` again and again from `threads` threads for `seconds`."""
    latencies: list[float] = []
    errors = [0, 0]  # all, and 412s
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(slot: int) -> None:
        rng = random.Random(slot)  # noqa: S311 (load shape, not security)  # nosec B311
        mine: list[float] = []
        failed = conflicts = 0
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = request(client, slot, rng)
                mine.append(time.perf_counter() - started)
                failed += response.status_code >= httpx.codes.BAD_REQUEST
                conflicts += response.status_code == httpx.codes.PRECONDITION_FAILED
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            errors[1] += conflicts

    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return summarise(latencies, errors[0], seconds, errors[1])


def gets(paths: list[str], headers: dict[str, str]) -> Request:
    def request(client: httpx.Client, _slot: int, rng: random.Random) -> httpx.Response:
        return client.get(rng.choice(paths), headers=headers)

    return request


def puts(paths: list[str], etags: list[str], headers: dict[str, str], padding: int) -> Request:
    """Thread `slot` writes `paths[slot]` with If-Match, carrying each answer's ETag (or a
    412's current revision) to its next write, as the wrk script does."""
    current = list(etags)
    counters = [0] * len(paths)

    def request(client: httpx.Client, slot: int, _rng: random.Random) -> httpx.Response:
        counters[slot] += 1
        body = {"config": {"counter": counters[slot], "padding": "p" * padding}}
        response = client.put(
            paths[slot], json=body, headers={**headers, "If-Match": current[slot]}
        )
        if response.status_code == httpx.codes.PRECONDITION_FAILED:
            current[slot] = f'"{response.json()["current_revision"]}"'
        elif "etag" in response.headers:
            current[slot] = response.headers["etag"]
        return response

    return request
