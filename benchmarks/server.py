"""The processes a benchmark measures: the real `main.py serve` (with `WORKERS` and whatever
else the run sets) and a bare FastAPI app, each in a process group of its own on a free port,
stopped at the end of their block, also on Ctrl-C or failure."""

from __future__ import annotations

import os
import signal
import subprocess  # starts this project's own programs, never a shell  # nosec B404
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from config.settings import load_settings
from testing.api_keys import create_api_key
from testing.ports import free_port

READY_WITHIN_SECONDS = 120
STOP_WITHIN_SECONDS = 30


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    # `Authorization: Bearer <an admin key on the server's database>`.
    key_headers: dict[str, str]
    # From the start of the process until /health/ready first answered 200.
    start_up_seconds: float

    def client(self, *, timeout: float = 60) -> httpx.Client:
        """A client of this server that sends the key."""
        return httpx.Client(base_url=self.url, headers=self.key_headers, timeout=timeout)


def admin_key(database_url: str, *, name: str = "benchmark") -> str:
    """A new admin key on `database_url` (migrated), made as create-key makes one."""
    settings = load_settings().model_copy(update={"database_url": SecretStr(database_url)})
    return create_api_key(settings, name=name).key


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (the server and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_WITHIN_SECONDS)
    except ProcessLookupError:
        process.wait(timeout=STOP_WITHIN_SECONDS)


@contextmanager
def _process(
    arguments: list[str], environment: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    # A group of its own: Ctrl-C reaches the benchmark, which stops the group itself.
    process = subprocess.Popen(  # noqa: S603 (sys.executable, our arguments)  # nosec B603
        [sys.executable, *arguments], env=dict(environment), start_new_session=True
    )
    try:
        yield process
    finally:
        _stop(process)


def _wait_until(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    deadline = started + READY_WITHIN_SECONDS
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == httpx.codes.OK:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped with exit code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {READY_WITHIN_SECONDS} s")
        time.sleep(0.05)


@contextmanager
def running_server(
    database_url: str, *, key: str, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """`main.py serve` on `database_url` (migrated) with `settings` in its environment, once
    /health/ready says it is ready; `key` is sent by its client."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        # The benchmark is one caller sending as fast as it can: measure the service, not 429s.
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_ADDRESS_PER_SECOND": "0",
        "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "0",
        **(settings or {}),
    }
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with _process(["main.py", "serve"], environment) as process:
        start_up = _wait_until(f"{url}/health/ready", process, started)
        yield Server(
            url=url,
            pid=process.pid,
            key_headers={"Authorization": f"Bearer {key}"},
            start_up_seconds=start_up,
        )


@contextmanager
def running_bare_app() -> Iterator[str]:
    """benchmarks/bare_app.py under uvicorn, one process; yields its URL."""
    port = free_port()
    arguments = [
        "-m",
        "uvicorn",
        "benchmarks.bare_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with _process(arguments, os.environ) as process:
        _wait_until(f"{url}/bare", process, time.monotonic())
        yield url
