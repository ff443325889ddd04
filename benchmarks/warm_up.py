"""Reads before a figure, so that it measures a warm cache as a running service has one, not
the first read of each configuration from PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from benchmarks.seeding import in_threads
from benchmarks.server import Server


def warm_up(server: Server, paths: list[str], *, passes: int) -> float:
    """Each path read `passes` times, each pass on new connections (which of several workers
    serves a connection is the kernel's choice, so more passes than workers make it likely
    that every worker has read every path). Returns the seconds it took."""
    started = time.monotonic()
    failed: list[str] = []

    def read(client: httpx.Client, path: str) -> None:
        response = client.get(path)
        if response.status_code != httpx.codes.OK:
            failed.append(f"{path}: {response.status_code}")

    make_client: Callable[[], httpx.Client] = server.client
    for _ in range(passes):
        in_threads(paths, read, make_client)
    if failed:
        raise RuntimeError(f"warm-up reads failed: {failed[:5]}")
    return time.monotonic() - started
