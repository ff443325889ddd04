"""Change-to-client latency: a write on one instance, and the moment a client waiting on
another instance (a long poll) gets the new revision."""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from benchmarks.server import Server

# Time for the long poll to reach the other instance and wait before the write is sent.
SETTLE_SECONDS = 0.02


def change_to_client(
    writer_server: Server, waiter_server: Server, configuration_id: str, *, samples: int
) -> list[float]:
    """Seconds from a write's response on one instance to a waiting client's response on the
    other, `samples` times."""
    path = f"/api/v1/configurations/{configuration_id}"
    with writer_server.client() as writer, waiter_server.client() as reader:
        etag = reader.get(path).headers["etag"]
        delays = []
        for sample in range(samples):
            delay, etag = _one_change(writer, reader, path, etag, sample)
            delays.append(delay)
    return delays


def _one_change(
    writer: httpx.Client, reader: httpx.Client, path: str, etag: str, sample: int
) -> tuple[float, str]:
    answered: list[float] = []
    failures: list[str] = []

    def wait() -> None:
        response = reader.get(path, headers={"If-None-Match": etag, "Prefer": "wait=30"})
        answered.append(time.perf_counter())
        if response.status_code != httpx.codes.OK:
            failures.append(f"the long poll got {response.status_code}")

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(SETTLE_SECONDS)
    response = writer.put(path, json={"config": {"sample": sample}}, headers={"If-Match": etag})
    written = time.perf_counter()
    thread.join()
    if response.status_code != httpx.codes.OK or failures:
        raise RuntimeError(f"change-to-client: write {response.status_code}, {failures}")
    return max(0.0, answered[0] - written), response.headers["etag"]


def p50_p99_ms(delays: list[float]) -> tuple[float, float]:
    if len(delays) < 2:  # noqa: PLR2004
        only = (delays or [0.0])[0] * 1000
        return only, only
    cuts = statistics.quantiles(sorted(delays), n=100)
    return cuts[49] * 1000, cuts[98] * 1000
