"""Many concurrent long polls on one instance, for `pipenv run bench`: the memory each costs
and how fast one write answers them all. Each waiter is a raw socket (an HTTP client per
waiter would measure the client)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.server import Server


def raise_open_files_limit() -> int:
    """Each waiter is a socket: lift the soft limit of open files to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _hold_waiters(
    server: Server, path: str, count: int, on_waiting: Callable[[], None]
) -> list[int]:
    """`count` long polls on raw sockets; `on_waiting` runs once all are sent; returns each
    one's status code."""
    parts = urlsplit(server.url)
    request = (
        f'GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nIf-None-Match: "1"\r\n'
        f"Authorization: {server.key_headers['Authorization']}\r\nPrefer: wait=60\r\n\r\n"
    ).encode()
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, count, 500):
        batch = [
            asyncio.open_connection(parts.hostname, parts.port)
            for _ in range(min(500, count - start))
        ]
        for reader, writer in await asyncio.gather(*batch):
            writer.write(request)
            streams.append((reader, writer))
    await asyncio.sleep(2)  # let the server read them all
    await asyncio.to_thread(on_waiting)

    async def status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        line = await reader.readline()
        writer.close()
        return int(line.split()[1]) if line else 0

    return await asyncio.gather(*(status(reader, writer) for reader, writer in streams))


def many_waiters(
    waiter: Server, writer: Server, configuration_id: str, *, count: int
) -> tuple[float, float, int]:
    """`count` long polls on `waiter`, then one write on `writer`: (RSS bytes per waiter,
    seconds until all answered after the write, how many got 200)."""
    path = f"/api/v1/configurations/{configuration_id}"
    before = rss_bytes(waiter.pid)
    measured: dict[str, float] = {}

    def write_while_waiting() -> None:
        measured["rss"] = rss_bytes(waiter.pid)
        with writer.client() as client:
            client.put(path, json={"config": {"wake": "everyone"}})
        measured["written"] = time.perf_counter()

    statuses = asyncio.run(_hold_waiters(waiter, path, count, write_while_waiting))
    answered = time.perf_counter() - measured["written"]
    per_waiter = (measured["rss"] - before) / count
    return per_waiter, answered, statuses.count(200)
