"""The server a benchmark measures: the real `main.py serve`, in a process of its own on a free
port, and the admin key every API request of the benchmark sends."""

from __future__ import annotations

import os
import socket
import subprocess  # starts this service's own main.py, never a shell  # nosec B404
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from config.settings import load_settings
from testing.api_keys import create_api_key

READY_WITHIN_SECONDS = 60


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    # `Authorization: Bearer <an admin key on the server's database>`.
    key_headers: dict[str, str]

    def client(self, *, timeout: float = 30) -> httpx.Client:
        """A client of this server that sends the key."""
        return httpx.Client(base_url=self.url, headers=self.key_headers, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(database_url: str) -> Iterator[Server]:
    """The server on `database_url` (migrated), once it is ready; stopped afterwards."""
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        # The benchmark is one caller sending as fast as it can: measure the service, not 429s.
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_ADDRESS_PER_SECOND": "0",
        "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "0",
    }
    process = subprocess.Popen(  # sys.executable and a fixed argument list  # nosec B603
        [sys.executable, "main.py", "serve"], env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == httpx.codes.OK:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.1)
        # An admin key on this database, made as create-key makes one, for every request.
        settings = load_settings().model_copy(update={"database_url": SecretStr(database_url)})
        key = create_api_key(settings, name="bench").key
        yield Server(url=url, pid=process.pid, key_headers={"Authorization": f"Bearer {key}"})
    finally:
        process.terminate()
        process.wait(timeout=30)
